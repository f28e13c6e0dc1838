"""Per-codec data for the E2E suite. Adding a codec = adding an entry here (and streams in
tests/streams/manifest.tsv, made by scripts/make-streams).

visl_fourcc    OUTPUT (coded) pixel format that visl lists for the codec.
va_profiles    VA profiles the driver must list when the device has that coded format
               (8-bit).
tenbit         VA profile that needs a 10-bit CAPTURE format (expected only if the device
               lists P010, as the test kernel's patched visl does): streams of that profile
               are negative tests otherwise.
gst_v4l2       GStreamer v4l2codecs element for the baseline, None where there is none that
               works (GStreamer 1.22: v4l2slh265dec crashes on start, no AV1 element); the
               trace comparison then uses `ffmpeg -bsf:v trace_headers` as the oracle.
gst_va         GStreamer va plugin element (GST_VA_ALL_DRIVERS=1).
ffmpeg_decoder ffmpeg decoder to force (-c:v) where ffmpeg's default decoder has no hwaccel
               (AV1: ffmpeg prefers libdav1d, which never uses VA-API).
"""

CODECS = {
    'h264': dict(visl_fourcc='S264',
                 va_profiles={'VAProfileH264ConstrainedBaseline', 'VAProfileH264Main', 'VAProfileH264High'},
                 tenbit=None, gst_v4l2='v4l2slh264dec', gst_va='vah264dec', required=True),
    'mpeg2': dict(visl_fourcc='MG2S', va_profiles={'VAProfileMPEG2Simple', 'VAProfileMPEG2Main'},
                  tenbit=None, gst_v4l2='v4l2slmpeg2dec', gst_va='vampeg2dec'),
    'vp8': dict(visl_fourcc='VP8F', va_profiles={'VAProfileVP8Version0_3'},
                tenbit=None, gst_v4l2='v4l2slvp8dec', gst_va='vavp8dec'),
    'vp9': dict(visl_fourcc='VP9F', va_profiles={'VAProfileVP9Profile0'},
                tenbit='VAProfileVP9Profile2', gst_v4l2='v4l2slvp9dec', gst_va='vavp9dec'),
    'hevc': dict(visl_fourcc='S265', va_profiles={'VAProfileHEVCMain'},
                 tenbit='VAProfileHEVCMain10', gst_v4l2=None, gst_va='vah265dec'),
    'av1': dict(visl_fourcc='AV1F', va_profiles={'VAProfileAV1Profile0'},
                tenbit=None, gst_v4l2=None, gst_va='vaav1dec', ffmpeg_decoder='av1'),
}

# Streams that no VA profile covers or that need 10-bit output: the suite checks that the
# client fails cleanly (no hang, no crash) and that nothing reached the device, unless the
# driver advertises the profile they need (and, for 10-bit streams, the device has P010).
# name -> VA profile that would be needed (None: VA has no such profile).
NEGATIVE = {
    'h264-high10': None,
    'hevc-main10': 'VAProfileHEVCMain10',
    'vp9-p2': 'VAProfileVP9Profile2',
    'av1-10bit': 'VAProfileAV1Profile0',
}

# Streams with 10-bit samples: positive only where the device offers linear P010 CAPTURE
# (AV1Profile0 covers 8- and 10-bit, so the profile alone does not tell); downloaded as P010.
TENBIT = {'h264-high10', 'hevc-main10', 'vp9-p2', 'av1-10bit'}


def read_manifest(path):
    streams = []
    with open(path) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            name, file, codec, frames, size, notes = line.rstrip('\n').split('\t')
            streams.append(dict(name=name, file=file, codec=codec, frames=int(frames), size=size, notes=notes))
    return streams

# AV1 streams whose frames are smaller than the surface (frame_size_override): gst-va
# exports (and crops) every such frame right after decoding it, before the next picture
# could tell its refresh_frame_flags, so the A1 check for gst-va is that of ffmpeg there.
AV1_EXPORTED = {'av1-resize'}

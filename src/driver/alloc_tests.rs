//! Heap allocations per frame in steady state: none.
//!
//! The library's test binary runs over a counting global allocator
//! ([`crate::test_alloc`]), switched on only around the measured calls. Each codec decodes the same recorded
//! picture again and again, as new frames into rotating surfaces, over the
//! fake device ([`super::fake_device`]), as a client does: vaBeginPicture,
//! vaRenderPicture, vaEndPicture, vaSyncSurface. Frames 10..N are measured,
//! vaCreateBuffer and vaDestroyBuffer of the picture's buffers included
//! (the driver recycles destroyed buffers); the client's own data is
//! prepared outside the count. `V4L2RVA_ALLOC_TRACE=1` prints the call stack of
//! each allocation of the first measured frame.
//!
//! A unit test rather than a test of its own under `tests/`: the fake device
//! and the recorded pictures are `cfg(test)` items of the library, and the
//! counter, being per thread, is not disturbed by the other unit tests
//! running in parallel.

use super::context::Context;
use super::fake_device::{FakeHandle, Script};
use super::*;
use crate::codec::{av1, h264, hevc, mpeg2, vp8, vp9};
use crate::test_alloc::{count, count_traced};
use crate::v4l2::{
    V4L2_PIX_FMT_AV1_FRAME, V4L2_PIX_FMT_H264_SLICE, V4L2_PIX_FMT_HEVC_SLICE, V4L2_PIX_FMT_MPEG2_SLICE, V4L2_PIX_FMT_VP8_FRAME,
    V4L2_PIX_FMT_VP9_FRAME,
};
use crate::va_sys::abi::pod_bytes;
use std::time::Duration;

const W: u32 = 176;
const H: u32 = 144;
const SURFACES: usize = 4;
const WARM_UP: usize = 10;
const FRAMES: usize = 60;
/// Room in the fake's call and request logs for every frame's entries.
const LOG: usize = 64 * FRAMES;

/// A picture's buffers as a client renders them: (type, bytes).
type Buffers = Vec<(ffi::VABufferType, Vec<u8>)>;

fn driver(name: &str, script: Script, profile: ffi::VAProfile) -> (Driver, FakeHandle, u32, Vec<u32>) {
    let coded = [
        V4L2_PIX_FMT_MPEG2_SLICE,
        V4L2_PIX_FMT_H264_SLICE,
        V4L2_PIX_FMT_HEVC_SLICE,
        V4L2_PIX_FMT_VP8_FRAME,
        V4L2_PIX_FMT_VP9_FRAME,
        V4L2_PIX_FMT_AV1_FRAME,
    ];
    // A tiled CAPTURE format in the script is the node's only one for every codec.
    let tiled = script.capture_formats.iter().copied().find(|&f| crate::tiling::TiledFormat::from_v4l2_fourcc(f).is_some());
    let node = DecoderNode {
        video_path: format!("/fake/{name}").into(),
        media_path: None,
        driver: "fake".into(),
        card: "fake".into(),
        coded_formats: coded.to_vec(),
        multiplanar: true,
        ten_bit_formats: vec![],
        tiled_capture: tiled.map(|t| coded.iter().map(|&c| (c, t)).collect()).unwrap_or_default(),
    };
    let fake = FakeHandle::new(script);
    let d = Driver::with_opener(vec![node], fake.opener());
    let cfg = d.create_config(profile, ffi::VAEntrypointVLD, &[]).unwrap();
    let s = d.create_surfaces(W, H, ffi::VA_RT_FORMAT_YUV420, None, SURFACES).unwrap();
    let ctx = d.create_context(cfg, W, H, &s).map_err(|e| e.msg).unwrap();
    let c: Arc<Mutex<Context>> = d.context(ctx).unwrap();
    lock(&c).set_timeouts(Duration::from_millis(40), Duration::from_millis(20));
    (d, fake, ctx, s)
}

/// How the client reads each decoded picture back after syncing it.
#[derive(Clone, Copy, PartialEq)]
enum Readback {
    /// Not at all (a decode-only client).
    None,
    /// vaDeriveImage, vaMapBuffer, vaUnmapBuffer, vaDestroyImage (gst-va's
    /// system-memory output).
    Derive,
    /// vaGetImage into an image created once (ffmpeg's and mpv's copy-back).
    GetImage,
}

/// Decode `FRAMES` frames (the buffers `picture` gives for each target
/// surface and the previous frame's surface), syncing each and reading it
/// back as `readback` says; returns the allocations of each measured frame.
fn per_frame(name: &str, script: Script, profile: ffi::VAProfile, readback: Readback, picture: impl Fn(u32, u32) -> Buffers) -> Vec<u64> {
    let (d, _fake, ctx, s) = driver(name, script, profile);
    let nv12 = ffi::VAImageFormat { fourcc: ffi::VA_FOURCC_NV12, ..Default::default() };
    let image = (readback == Readback::GetImage).then(|| d.create_image(&nv12, W, H).unwrap().image_id);
    let mut counts = Vec::with_capacity(FRAMES);
    let trace = std::env::var_os("V4L2RVA_ALLOC_TRACE").is_some();
    for n in 0..FRAMES {
        let target = s[n % s.len()];
        let previous = s[(n + s.len() - 1) % s.len()];
        // The client's own data, prepared outside the count.
        let bufs = picture(target, previous);
        let mut ids = Vec::with_capacity(bufs.len());
        let frame = || {
            for (t, bytes) in &bufs {
                ids.push(d.create_buffer(*t, bytes.len() as u32, 1, Some(bytes)).unwrap());
            }
            d.begin_picture(ctx, target).unwrap();
            d.render_picture(ctx, &ids).unwrap();
            d.end_picture(ctx).unwrap();
            d.sync_surface(target).unwrap();
            match readback {
                Readback::None => {}
                Readback::Derive => {
                    let derived = d.derive_image(target).unwrap();
                    assert!(!d.map_buffer(derived.buf).unwrap().is_null());
                    d.unmap_buffer(derived.buf).unwrap();
                    d.destroy_image(derived.image_id).unwrap();
                }
                Readback::GetImage => d.get_image(target, 0, 0, W, H, image.unwrap()).unwrap(),
            }
            for &id in &ids {
                d.destroy_buffer(id).unwrap();
            }
        };
        // V4L2RVA_ALLOC_TRACE=1: the call stack of each allocation of the first measured frame.
        let ((), allocs) = if n == WARM_UP && trace { count_traced(frame) } else { count(frame) };
        if n >= WARM_UP {
            counts.push(allocs);
        }
    }
    // A kept VA buffer holds no reference to the context: a derived image's
    // view lets go of it when destroyed.
    let c = d.context(ctx).unwrap();
    let before = Arc::strong_count(&c);
    let derived = d.derive_image(s[0]).unwrap();
    // (A tiled picture's derived image is a copy, not a view.)
    if matches!(lock(&d.buffer(derived.buf).unwrap()).store, BufferStore::Derived { .. }) {
        assert_eq!(Arc::strong_count(&c), before + 1, "{name}: the view holds the context");
    }
    d.destroy_image(derived.image_id).unwrap();
    assert_eq!(Arc::strong_count(&c), before, "{name}: a kept view still holds the context");
    counts
}

/// `header` buffers, then a slice parameter and slice data buffer per slice.
fn with_slices<P: crate::va_sys::abi::VaPod>(mut bufs: Buffers, slices: &[(P, &[u8])]) -> Buffers {
    for (param, data) in slices {
        bufs.push((ffi::VASliceParameterBufferType, pod_bytes(param)));
        bufs.push((ffi::VASliceDataBufferType, data.to_vec()));
    }
    bufs
}

/// Decode `picture` over the fake device scripted as `script` and assert that frames
/// `WARM_UP..FRAMES` allocate nothing.
fn assert_no_allocations(what: &str, name: &str, script: Script, profile: ffi::VAProfile, picture: impl Fn(u32, u32) -> Buffers) {
    assert_no_allocations_reading(what, name, script, profile, Readback::None, picture)
}

/// [`assert_no_allocations`] with each picture read back as `readback` says.
fn assert_no_allocations_reading(
    what: &str,
    name: &str,
    script: Script,
    profile: ffi::VAProfile,
    readback: Readback,
    picture: impl Fn(u32, u32) -> Buffers,
) {
    let counts = per_frame(name, Script { log_capacity: LOG, ..script }, profile, readback, picture);
    println!("{what}: allocations per frame over frames {WARM_UP}..{FRAMES}: {counts:?}");
    assert!(counts.iter().all(|&n| n == 0), "{what} frames allocate: {counts:?}");
}

fn mpeg2_i_frame(_target: u32, _previous: u32) -> Buffers {
    let p = mpeg2::tests::progressive_i_frame();
    with_slices(vec![(ffi::VAPictureParameterBufferType, pod_bytes(&p.pic)), (ffi::VAIQMatrixBufferType, pod_bytes(&p.iq))], &p.slices)
}

fn h264_four_slice_idr(target: u32, _previous: u32) -> Buffers {
    let (pic, iq, slices) = h264::tests::cavlc_idr_four_slices(target);
    with_slices(vec![(ffi::VAPictureParameterBufferType, pod_bytes(&pic)), (ffi::VAIQMatrixBufferType, pod_bytes(&iq))], &slices)
}

#[test]
fn mpeg2_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations("MPEG-2", "alloc-mpeg2", Script::default(), ffi::VAProfileMPEG2Main, mpeg2_i_frame);
}

#[test]
fn reading_pictures_back_allocates_nothing_in_steady_state() {
    let script = || Script::default();
    assert_no_allocations_reading(
        "MPEG-2, vaDeriveImage per frame",
        "alloc-derive",
        script(),
        ffi::VAProfileMPEG2Main,
        Readback::Derive,
        mpeg2_i_frame,
    );
    assert_no_allocations_reading(
        "MPEG-2, vaGetImage per frame",
        "alloc-getimage",
        script(),
        ffi::VAProfileMPEG2Main,
        Readback::GetImage,
        mpeg2_i_frame,
    );
}

#[test]
fn mm21_frames_allocate_nothing_in_steady_state() {
    // MediaTek's two-buffer CAPTURE format on frames (DMABUF): each QBUF
    // passes two dma-bufs, from the frame's inline planes.
    let script = Script { capture_formats: vec![crate::v4l2::V4L2_PIX_FMT_MM21], ..Script::default() };
    assert_no_allocations("MPEG-2 into MM21 frames", "alloc-mm21", script, ffi::VAProfileMPEG2Main, mpeg2_i_frame);
}

#[test]
fn h264_slice_based_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations(
        "H.264 (four slice requests)",
        "alloc-h264",
        Script { slice_based: true, frame_based_offered: false, ..Script::default() },
        ffi::VAProfileH264High,
        h264_four_slice_idr,
    );
}

/// The two-slice P picture of slices.hevc, referencing the previous frame.
fn hevc_two_slice_p(target: u32, previous: u32) -> Buffers {
    let (pic, slices) = hevc::tests::two_slice_p_picture(target, previous);
    with_slices(vec![(ffi::VAPictureParameterBufferType, pod_bytes(&pic))], &slices)
}

fn vp8_key_frame(_target: u32, _previous: u32) -> Buffers {
    let (pic, iq, slice, data) = vp8::tests::key_frame();
    vec![
        (ffi::VAPictureParameterBufferType, pod_bytes(&pic)),
        (ffi::VAIQMatrixBufferType, pod_bytes(&iq)),
        (ffi::VAProbabilityBufferType, pod_bytes(&ffi::VAProbabilityDataBufferVP8::default())),
        (ffi::VASliceParameterBufferType, pod_bytes(&slice)),
        (ffi::VASliceDataBufferType, data.to_vec()),
    ]
}

fn vp9_key_frame(_target: u32, _previous: u32) -> Buffers {
    let (pic, slice, data) = vp9::tests::p0_key_frame();
    vec![
        (ffi::VAPictureParameterBufferType, pod_bytes(&pic)),
        (ffi::VASliceParameterBufferType, pod_bytes(&slice)),
        (ffi::VASliceDataBufferType, data),
    ]
}

fn av1_key_frame(target: u32, _previous: u32) -> Buffers {
    let (pic, tiles) = av1::tests::key_frame(target);
    with_slices(vec![(ffi::VAPictureParameterBufferType, pod_bytes(&pic))], &tiles)
}

#[test]
fn hevc_frame_based_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations("HEVC (two slices, one request)", "alloc-hevc", Script::default(), ffi::VAProfileHEVCMain, hevc_two_slice_p);
}

#[test]
fn hevc_slice_based_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations(
        "HEVC (two slice requests)",
        "alloc-hevc-slices",
        Script { slice_based: true, frame_based_offered: false, ..Script::default() },
        ffi::VAProfileHEVCMain,
        hevc_two_slice_p,
    );
}

#[test]
fn vp8_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations("VP8", "alloc-vp8", Script::default(), ffi::VAProfileVP8Version0_3, vp8_key_frame);
}

#[test]
fn vp9_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations("VP9", "alloc-vp9", Script::default(), ffi::VAProfileVP9Profile0, vp9_key_frame);
}

#[test]
fn av1_frames_allocate_nothing_in_steady_state() {
    assert_no_allocations("AV1 (two tiles)", "alloc-av1", Script::default(), ffi::VAProfileAV1Profile0, av1_key_frame);
}

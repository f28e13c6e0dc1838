#!/usr/bin/env python3
"""Parse visl's ftrace output into per-request control records and compare two traces.

    vtrace.py show TRACE                     # print the normalised records
    vtrace.py compare CODEC TRACE BASELINE   # driver trace vs v4l2codecs trace
    vtrace.py oracle CODEC TRACE STREAM      # driver trace vs `ffmpeg -bsf:v trace_headers`

A trace is the text of /sys/kernel/tracing/trace with the visl_<codec>_controls events
and the v4l2 qbuf events enabled. visl prints every control of a request in device_run
(visl_trace_ctrls), always starting with the same control (the "lead" event below), so a
new record starts at each lead event. Indexed events ("[3]: ...") and repeated events
(HEVC DPB entries carry no index) are numbered in order of appearance within the record.

Every normalisation is listed in normalise() and documented there.
"""
import gzip
import re
import subprocess
import sys
from collections import OrderedDict

EVENT_RE = re.compile(r'^\s*(?P<task>.+?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<flags>\S+\s+)?'
                      r'(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s?(?P<rest>.*)$')
# First control that visl traces for each codec in a request (visl-dec.c, visl_trace_ctrls).
LEAD_EVENT = {
    'h264': 'v4l2_ctrl_h264_sps', 'hevc': 'v4l2_ctrl_hevc_sps',
    'mpeg2': 'v4l2_ctrl_mpeg2_sequence', 'vp8': 'v4l2_ctrl_vp8_frame',
    'vp9': 'v4l2_ctrl_vp9_frame', 'av1': 'v4l2_ctrl_av1_sequence',
    'fwht': 'v4l2_ctrl_fwht_params',
}
NON_CONTROL = {'v4l2_qbuf', 'v4l2_dqbuf'}
KEY_RE = re.compile(r'^[a-z_][a-z0-9_.\[\]]*$')


class Trace:
    def __init__(self):
        self.events = []          # (event, payload text)
        self.output_qbuf_ts = []  # timestamps of OUTPUT QBUFs in order
        self.capture_qbufs = 0
        self.capture_indices = set()  # CAPTURE buffer indices queued: the buffers used


def read_trace(path):
    t = Trace()
    cur = None
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            if line.startswith('#'):
                continue
            m = EVENT_RE.match(line)
            if m:
                ev, rest = m.group('event'), m.group('rest')
                if ev == 'v4l2_qbuf':
                    tm = re.search(r'index = (\d+), type = (\w+),.*?timestamp = (\d+)', rest)
                    if tm and tm.group(2).startswith('VIDEO_OUTPUT'):
                        t.output_qbuf_ts.append(int(tm.group(3)))
                    elif tm:
                        t.capture_qbufs += 1
                        t.capture_indices.add(int(tm.group(1)))
                cur = [ev, rest]
                t.events.append(cur)
            elif cur is not None:
                cur[1] += '\n' + line
    return t


def parse_payload(text):
    """Field name -> value string. Handles both visl layouts: one 'name value' per line
    (values may be '{...}' blocks spanning lines) and one-line 'name value, name value'."""
    fields = OrderedDict()
    text = text.strip()
    idx = None
    m = re.match(r'^\[(\d+)\]:\s*', text)
    if m:
        idx = int(m.group(1))
        text = text[m.end():]
    if '\n' in text or text == '':
        lines = text.split('\n')
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if not line:
                continue
            name, _, value = line.partition(' ')
            if value.count('{') > value.count('}') or name.endswith('{'):
                if name.endswith('{'):
                    name, value = name[:-1], '{'
                block = [value]
                while i < len(lines) and block[-1].count('}') == 0:
                    block.append(lines[i].strip())
                    i += 1
                value = ' '.join(block)
            fields[name.rstrip(':')] = ' '.join(value.replace(',', ' ').split())
    else:
        # one-line layout: tokens alternate key value, a key directly followed by a key
        # has an empty value (e.g. "fields  top_field_order_cnt 0")
        toks = text.replace(',', ' ').split()
        i = 0
        while i < len(toks):
            key = toks[i]
            i += 1
            val = []
            while i < len(toks) and not (KEY_RE.match(toks[i]) and not toks[i].isdigit()):
                val.append(toks[i])
                i += 1
            fields[key] = ' '.join(val)
    return idx, fields


def records(trace, codec):
    """List of requests, each an OrderedDict 'event[i]' -> fields."""
    lead = LEAD_EVENT[codec]
    recs = []
    counts = {}
    for ev, text in trace.events:
        if ev in NON_CONTROL or not ev.startswith('v4l2_'):
            continue
        if ev == lead or not recs:
            recs.append(OrderedDict())
            counts = {}
        idx, fields = parse_payload(text)
        if idx is None:
            idx = counts.get(ev, 0)
            counts[ev] = idx + 1
            key = ev if idx == 0 and not ev.endswith('dpb_entry') else '%s[%d]' % (ev, idx)
        else:
            key = '%s[%d]' % (ev, idx)
        recs[-1][key] = fields
    return recs


def ts_labeller(trace):
    """Buffer timestamps -> 'f<N>', N = decode order of the request whose OUTPUT buffer
    carried the timestamp (first OUTPUT QBUF with it). Unknown timestamps stay visible."""
    order = {}
    for ts in trace.output_qbuf_ts:
        order.setdefault(ts, len(order))

    def label(v):
        try:
            ts = int(v)
        except ValueError:
            return v
        return 'f%d' % order[ts] if ts in order else 'ts?%d' % ts
    return label


def _rel(v, base):
    return str(int(v) - base) if re.match(r'^-?\d+$', v) else v


def _flags(v):
    return set(x for x in v.split('|') if x)


def normalise(codec, recs, label):
    """Apply the documented normalisations; returns list of flat dicts 'event.field' -> value.

    Common:
      N1  Reference timestamps (*_ts fields, H.264/HEVC DPB timestamps, AV1
          reference_frame_ts) are opaque names chosen by the client: they are replaced by
          the decode-order number of the frame whose OUTPUT buffer carried them (ts_labeller).
    H.264:
      H1  DPB entries without the VALID flag are dropped (unused slots; content is don't-care).
      H2  DPB slot positions are the client's choice: valid entries are keyed by their
          reference frame label instead of their slot index.
      H3  ref_pic_list0/1 entries name a DPB slot by index: the index is replaced by the label
          of that slot's frame. Only the first num_ref_idx_lX_active_minus1+1 entries are
          compared, list0 only for P/SP/B slices and list1 only for B slices (the rest is unused).
      H4  num_ref_idx_l0/l1_active_minus1 are compared only where the list is used (H3).
      H5  pred_weights are compared only when explicit weighted prediction applies
          (P/SP with WEIGHTED_PRED, B with weighted_bipred_idc == 1).
      H6  Picture order counts (decode_params and DPB top/bottom_field_order_cnt) are made
          relative to the POC of the latest IDR picture (of an IDR field: that field's POC):
          only POC differences enter the decoding process, and clients offset them
          differently (libavcodec starts each IDR period at 65536, GStreamer at 0), values
          that reach the driver through VA-API. The count of a parity that is absent (the
          other field of a first field picture, of a DPB entry holding one field) is not a
          POC but 0 on both sides, and stays as sent. (A second field carries its first
          field's count there: that one is a POC and is made relative.)
      H7  sps.level_idc and sps.constraint_set_flags are not compared: VA-API does not carry
          them, and no decoding process uses them.
      H8  pps.num_ref_idx_l0/l1_default_active_minus1 are not compared: VA-API does not carry
          them. The driver recovers them from any slice header that does not override them;
          when every slice overrides them (x264 streams with B-frames) the defaults take no
          part in decoding, and the per-slice num_ref_idx_lX_active_minus1 (compared, H4)
          carry the values actually used.
    HEVC:
      E1  DPB entries are keyed by their label (as H2); entries beyond num_active_dpb_entries
          are dropped.
    MPEG-2 / VP8 / VP9 / AV1:
      M1  MPEG-2 chroma_(non_)intra_quantiser_matrix are dropped for 4:2:0 streams
          (chroma_format 1): the decoding process uses the luma matrices for 4:2:0 chroma,
          and clients fill the chroma copies differently (GStreamer leaves zeros).
      M2  MPEG-2 sequence.vbv_buffer_size and sequence.profile_and_level_indication are not
          compared: VA-API never passes the sequence header, and no decoding process uses
          them (the driver sends 0 and a profile/level built from the VA profile and size).
      R1  Reference timestamps of intra / key frames are don't-care and dropped (MPEG-2: both
          refs for I pictures, backward_ref_ts for P pictures; VP8/VP9: key or intra-only
          frames; AV1: KEY_FRAME / INTRA_ONLY frames).
    """
    out = []
    poc_base = 0
    for rec in recs:
        flat = OrderedDict()
        if codec == 'h264':
            dp = rec.get('v4l2_ctrl_h264_decode_params', {})
            dflags = _flags(dp.get('flags', ''))
            if 'IDR_PIC' in dflags:
                keys = ('top_field_order_cnt', 'bottom_field_order_cnt')
                if 'FIELD_PIC' in dflags:   # an IDR field: only its own parity's count is set
                    keys = ('bottom_field_order_cnt',) if 'BOTTOM_FIELD' in dflags else ('top_field_order_cnt',)
                pocs = [int(dp[k]) for k in keys if re.match(r'^-?\d+$', dp.get(k, ''))]
                poc_base = min(pocs) if pocs else 0
            sp = rec.get('v4l2_ctrl_h264_slice_params', {})
            pps = rec.get('v4l2_ctrl_h264_pps', {})
            stype = sp.get('slice_type', '')
            dpb = {}
            for key, f in rec.items():
                if key.startswith('v4l2_h264_dpb_entry['):
                    slot = int(key[key.index('[') + 1:-1])
                    if 'VALID' not in _flags(f.get('flags', '')):
                        continue                                        # H1
                    lab = label(f.get('reference_ts', ''))              # N1
                    dpb[slot] = lab
                    absent = {'TOP_FIELD_REF': 'bottom', 'BOTTOM_FIELD_REF': 'top'}.get(f.get('fields', '').strip())
                    for name, v in f.items():
                        if name != 'reference_ts':
                            if name.endswith('field_order_cnt') and not name.startswith(str(absent)):
                                v = _rel(v, poc_base)                   # H6
                            flat['dpb[%s].%s' % (lab, name)] = v        # H2
            lists = {'0': stype in ('P', 'SP', 'B'), '1': stype == 'B'}
            for key, f in rec.items():
                if key.startswith('v4l2_h264_dpb_entry['):
                    continue
                m = re.match(r'v4l2_h264_ref_pic_list([01])\[(\d+)\]$', key)
                if m:
                    l, i = m.group(1), int(m.group(2))
                    n = int(sp.get('num_ref_idx_l%s_active_minus1' % l, '0') or 0) + 1
                    if not lists[l] or i >= n:
                        continue                                        # H3
                    idx = int(f.get('index', '255') or 255)
                    flat['list%s[%d]' % (l, i)] = '%s %s' % (dpb.get(idx, 'slot%d' % idx), f.get('fields', ''))
                    continue
                if key == 'v4l2_ctrl_h264_pred_weights':
                    explicit = (stype in ('P', 'SP') and 'WEIGHTED_PRED' in _flags(pps.get('flags', ''))) or \
                               (stype == 'B' and pps.get('weighted_bipred_idc') == '1')
                    if not explicit:
                        continue                                        # H5
                for name, v in f.items():
                    if key == 'v4l2_ctrl_h264_slice_params' and name.startswith('num_ref_idx_l'):
                        if not lists[name[len('num_ref_idx_l')]]:
                            continue                                    # H4
                    if key == 'v4l2_ctrl_h264_sps' and name in ('level_idc', 'constraint_set_flags'):
                        continue                                        # H7
                    if key == 'v4l2_ctrl_h264_pps' and name.startswith('num_ref_idx_l') and name.endswith('_default_active_minus1'):
                        continue                                        # H8
                    if key == 'v4l2_ctrl_h264_decode_params' and name.endswith('field_order_cnt') and not (
                            'FIELD_PIC' in dflags and name.startswith('top' if 'BOTTOM_FIELD' in dflags else 'bottom')
                            and v == '0'):
                        v = _rel(v, poc_base)                           # H6
                    flat['%s.%s' % (key.replace('v4l2_ctrl_h264_', ''), name)] = v
        elif codec == 'hevc':
            dp = rec.get('v4l2_ctrl_hevc_decode_params', {})
            nact = int(dp.get('num_active_dpb_entries', '16') or 16)
            for key, f in rec.items():
                m = re.match(r'v4l2_hevc_dpb_entry\[(\d+)\]$', key)
                if m:
                    if int(m.group(1)) >= nact:
                        continue                                        # E1
                    lab = label(f.get('timestamp', ''))                 # N1
                    for name, v in f.items():
                        if name != 'timestamp':
                            flat['dpb[%s].%s' % (lab, name)] = v
                    continue
                for name, v in f.items():
                    flat['%s.%s' % (key.replace('v4l2_ctrl_hevc_', ''), name)] = v
        else:
            intra = False
            pic = rec.get('v4l2_ctrl_mpeg2_picture', {})
            if codec == 'mpeg2':
                ptype = pic.get('picture_coding_type', '')
            for key, f in rec.items():
                for name, v in f.items():
                    flat['%s.%s' % (re.sub(r'^v4l2_(ctrl_)?%s_' % codec, '', key), name)] = v
            if codec == 'mpeg2' and rec.get('v4l2_ctrl_mpeg2_sequence', {}).get('chroma_format') == '1':
                for k in list(flat):
                    if k.startswith('quantisation.chroma_'):
                        del flat[k]                                     # M1
            if codec == 'mpeg2':
                flat.pop('sequence.vbv_buffer_size', None)              # M2
                flat.pop('sequence.profile_and_level_indication', None)  # M2
            fl = ' '.join(v for k, v in flat.items() if k.endswith('.flags'))
            if codec in ('vp8', 'vp9'):
                intra = 'KEY_FRAME' in fl or 'INTRA_ONLY' in fl
            if codec == 'av1':
                ftype = flat.get('frame.frame_type', '')
                intra = ftype in ('0', '2', 'KEY_FRAME', 'INTRA_ONLY_FRAME')
            for k in list(flat):
                if k.endswith('_ts') or 'reference_frame_ts' in k:
                    drop = intra
                    if codec == 'mpeg2':
                        drop = ptype in ('1', 'I') or (ptype in ('2', 'P') and 'backward' in k)
                    if drop:
                        del flat[k]                                     # R1
                    else:
                        flat[k] = ' '.join(label(x) for x in flat[k].strip('{}').split())  # N1
        out.append(flat)
    return out


FIRST_SLICE = {'h264': ('v4l2_ctrl_h264_slice_params', 'first_mb_in_slice'),
               'hevc': ('v4l2_ctrl_hevc_slice_params', 'slice_segment_addr')}


def frames_only(codec, recs):
    """S1: a slice-based client sends one request per slice, a frame-based one one request
    per frame (whose slice_params are the first slice's). When the two traces differ in
    this respect, requests that continue a frame (first_mb_in_slice / slice_segment_addr
    != 0) are dropped from both, so frames are compared with frames."""
    if codec not in FIRST_SLICE:
        return recs
    ev, field = FIRST_SLICE[codec]
    return [r for r in recs if r.get(ev, {}).get(field, '0') == '0']


# S2: a frame-based H.264 request carries no SLICE_PARAMS / PRED_WEIGHTS (the device parses
# the slice headers itself); visl still traces those controls' stale default values for each
# request. When the driver ran frame-based, those fields (and the reference lists, which
# live in SLICE_PARAMS) are dropped from both sides.
FRAME_BASED_ABSENT = {'h264': ('slice_params.', 'pred_weights.', 'list0[', 'list1[')}


def compare(codec, trace_path, base_path, max_diffs=8, frame_based=False):
    """Returns (ok, nframes, nfields, messages). frame_based: the driver ran in frame-based
    mode (S2)."""
    t, b = read_trace(trace_path), read_trace(base_path)
    ra, rb = records(t, codec), records(b, codec)
    if len(ra) != len(rb):
        ra, rb = frames_only(codec, ra), frames_only(codec, rb)                # S1
    a = normalise(codec, ra, ts_labeller(t))
    e = normalise(codec, rb, ts_labeller(b))
    if frame_based and codec in FRAME_BASED_ABSENT:
        drop = FRAME_BASED_ABSENT[codec]
        a = [OrderedDict((k, v) for k, v in r.items() if not k.startswith(drop)) for r in a]  # S2
        e = [OrderedDict((k, v) for k, v in r.items() if not k.startswith(drop)) for r in e]  # S2
    msgs = []
    if len(a) != len(e):
        msgs.append('requests: driver %d, baseline %d' % (len(a), len(e)))
    nfields = 0
    for i, (x, y) in enumerate(zip(a, e)):
        for k in sorted(set(x) | set(y)):
            nfields += 1
            if x.get(k) != y.get(k):
                if len(msgs) < max_diffs:
                    msgs.append('frame %d %s: driver %r, baseline %r' % (i, k, x.get(k, '<absent>'), y.get(k, '<absent>')))
                else:
                    msgs.append('...')
                    return False, len(a), nfields, msgs
    return not msgs, len(a), nfields, msgs


# ---------------------------------------------------------------------------------------
# trace_headers oracle: where no v4l2codecs element works (HEVC, AV1), the control fields
# whose names equal a syntax element name of the active parameter sets / slice or frame
# header are compared with ffmpeg's `-bsf:v trace_headers` values, picture by picture in
# decode order. visl prints flag bits as a FLAGS|LIST, so only numeric fields take part.
TH_RE = re.compile(r'^\[trace_headers @ \w+\] (?:(\d+)\s+(\S+)\s+[01]*\s*= (-?\d+)|([A-Z].*))$')
PICTURE_UNITS = {'hevc': ('Slice Segment Header',), 'av1': ('Frame Header', 'Frame'), 'h264': ('Slice Header',)}
PARAM_UNITS = {'hevc': ('Video Parameter Set', 'Sequence Parameter Set', 'Picture Parameter Set'),
               'av1': ('Sequence Header',), 'h264': ('Sequence Parameter Set', 'Picture Parameter Set')}


def trace_headers(codec, stream):
    out = subprocess.run(['ffmpeg', '-hide_banner', '-nostdin', '-i', stream, '-c', 'copy',
                          '-bsf:v', 'trace_headers', '-f', 'null', '-'],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, timeout=60).stderr
    pictures, params, unit, cur = [], {}, None, None
    for line in out.splitlines():
        line = line[line.find('[trace_headers'):] if '[trace_headers' in line else line
        m = TH_RE.match(line)
        if not m:
            continue
        if m.group(4):
            unit = m.group(4).strip()
            if unit in PARAM_UNITS[codec]:
                params[unit] = cur = {}
            elif unit in PICTURE_UNITS[codec]:
                cur = {}
                pictures.append((dict((k, dict(v)) for k, v in params.items()), cur))
            else:
                cur = None
            continue
        if cur is not None:
            cur.setdefault(m.group(2), m.group(3))   # first occurrence within the unit
    pics = []
    for p, hdr in pictures:
        if codec == 'hevc' and hdr.get('first_slice_segment_in_pic_flag') != '1':
            continue
        if codec == 'h264' and hdr.get('first_mb_in_slice') != '0':
            continue
        if codec == 'av1' and hdr.get('show_existing_frame') == '1':
            continue
        merged = {}
        for u in p.values():
            merged.update(u)
        merged.update(hdr)
        pics.append(merged)
    if codec == 'av1':
        av1_derive_sizes(pics)
    return pics


# O1: AV1 frame sizes. trace_headers shows frame_width_minus_1 / frame_height_minus_1 only
# where the frame header codes them (frame_size_override_flag); otherwise the size is the
# sequence's maximum, or that of the reference slot named by the first found_ref
# (frame_size_with_refs). The oracle computes these values (and upscaled_width) for
# every picture, tracking each slot's size through refresh_frame_flags, so that frames
# smaller than the sequence and frames that take their size from a scaled reference are
# checked too. Left out where superres is used (the frame width then differs from the
# coded one) and on show_existing_frame pictures (dropped above).
def av1_derive_sizes(pics):
    slots = [None] * 8          # (upscaled width, height)
    for pic in pics:
        num = lambda k, d=0: int(pic.get(k, d))  # noqa: E731
        if 'max_frame_width_minus_1' not in pic or 'frame_type' not in pic:
            continue
        ftype = num('frame_type')
        intra = ftype in (0, 2)
        size = None
        if not intra and num('frame_size_override_flag') and not num('error_resilient_mode'):
            for i in range(7):
                if num('found_ref[%d]' % i):
                    size = slots[num('ref_frame_idx[%d]' % i)]
                    break
        if size is None:
            w = num('frame_width_minus_1', -1) + 1 if num('frame_size_override_flag') else num('max_frame_width_minus_1') + 1
            h = num('frame_height_minus_1', -1) + 1 if num('frame_size_override_flag') else num('max_frame_height_minus_1') + 1
            size = (w, h)
        if None in size or min(size) <= 0:
            continue
        if not num('use_superres'):
            for k, v in (('upscaled_width', size[0]), ('frame_width_minus_1', size[0] - 1),
                         ('frame_height_minus_1', size[1] - 1)):
                pic.setdefault(k, str(v))
        refresh = 0xff if ftype == 0 and num('show_frame', 1) else num('refresh_frame_flags')
        for i in range(8):
            if refresh >> i & 1:
                slots[i] = size


# A1: AV1 refresh_frame_flags. VA-API does not carry it (the application keeps the
# reference map itself; VADecPictureParameterBufferAV1 has no such field) and FFmpeg passes
# tile data without the frame header. The driver therefore holds each AV1 picture back until
# the next picture's ref_frame_map shows which slots it refreshed, and queues it then
# (src/driver/context.rs, submit_av1). A picture the client waits for before submitting the
# next one (ffmpeg's CLI syncs every frame as soon as it is decoded) must be queued with a
# guess, and so must a picture with no successor that tells: the stream's last one, and one
# followed by a key frame (FFmpeg sends an empty ref_frame_map with a shown key frame, and a
# resolution change starts a new VA context). So: with `refresh_exact_but_last` (clients that
# decode ahead: GStreamer, mpv) the flags are compared on every picture but those; otherwise
# on key frames only, where they are 0xff and exact.
def _skip_refresh(exact_but_last):
    def skip(name, pic, i, pics):
        if name != 'refresh_frame_flags':
            return False
        if exact_but_last:
            return i + 1 >= len(pics) or pics[i + 1].get('frame_type') == '0'
        return pic.get('frame_type') not in (None, '0')
    return skip


# A2: AV1 render_width/height_minus_1 are not compared: VA-API does not carry the render
# size (VADecPictureParameterBufferAV1 has the frame size only) and FFmpeg passes no frame
# header, so the driver sends the upscaled frame size; no decoding process uses the render
# size (it only tells the application how to display the frame).
AV1_NOT_IN_VA = {'render_width_minus_1', 'render_height_minus_1'}


def oracle(codec, trace_path, stream, max_diffs=8, refresh_exact_but_last=False):
    refresh_skip = _skip_refresh(refresh_exact_but_last) if codec == 'av1' else (lambda name, pic, i, pics: False)

    def skip(name, pic, i, pics):
        return refresh_skip(name, pic, i, pics) or (codec == 'av1' and name in AV1_NOT_IN_VA)  # A1, A2
    t = read_trace(trace_path)
    recs = frames_only(codec, records(t, codec))
    pics = trace_headers(codec, stream)
    msgs = []
    if len(recs) != len(pics):
        msgs.append('requests: driver %d, trace_headers pictures %d' % (len(recs), len(pics)))
    nfields = 0
    for i, (rec, pic) in enumerate(zip(recs, pics)):
        for key, f in rec.items():
            if '[' in key:
                continue
            for name, v in f.items():
                if name in pic and re.match(r'^-?\d+$', v) and not skip(name, pic, i, pics):  # A1, A2
                    nfields += 1
                    if v != pic[name] and len(msgs) < max_diffs:
                        msgs.append('frame %d %s.%s: driver %s, trace_headers %s' % (i, key, name, v, pic[name]))
    return not msgs and nfields > 0, len(recs), nfields, msgs


def main(argv):
    if len(argv) >= 3 and argv[1] == 'show':
        codec = argv[3] if len(argv) > 3 else 'h264'
        t = read_trace(argv[2])
        for i, r in enumerate(normalise(codec, records(t, codec), ts_labeller(t))):
            print('--- request %d' % i)
            for k, v in r.items():
                print('%s = %s' % (k, v))
        return 0
    if len(argv) == 5 and argv[1] in ('compare', 'oracle'):
        fn = compare if argv[1] == 'compare' else oracle
        ok, n, nf, msgs = fn(argv[2], argv[3], argv[4])
        print('%s frames=%d fields=%d' % ('PASS' if ok else 'FAIL', n, nf))
        for m in msgs:
            print('  ' + m)
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Proof cases (issue 5, item 4): reader fences are respected and sessions do not leak.

Called from suite.py (inside the visl guest):  proof.cases(s, env, outdir, built, only)
where `s` has report(status, case, detail, lines). Standalone (in the guest):

    scripts/vm/run -- tests/e2e/proof.py [--out DIR]

Cases, with tools/va-client (a Rust client of the real libva on /dev/dri/renderD128):

- `proof record h264-long`: ffmpeg decodes tests/streams/requeue/h264-long.h264 through the
  driver with LIBVA_V4L2_REQUEST_RECORD set; the record must hold every picture.
- `proof fences <setup> h264-long`: `va-client replay` of that record under
  `strace -f -ttt -e trace=ioctl,fcntl -X verbose`, exporting every decoded frame (DRM PRIME,
  composed layers, read-only) and attaching a sw_sync fence to each export as a reader
  (DMA_BUF_IOCTL_IMPORT_SYNC_FILE), signalled later. From the strace (exports attributed
  as scripts/strace-requeue does: a buffer's first export is a CAPTURE VIDIOC_QUERYBUF
  followed by EXPBUF or fcntl F_DUPFD_CLOEXEC in the same thread, later ones the
  F_DUPFD_CLOEXEC of the same dma-buf fd; the k-th export is the client's frame k): no CAPTURE
  QBUF of an index may fall between the attach and the signal of a fence on that index's
  export. From the driver's teardown pool summary (LIBVA_V4L2_REQUEST_LOG=info): fence waits.
    * `lru`: the default LRU pool (LIBVA_V4L2_REQUEST_PIN=never, so the client's repeated
      composed exports do not pin surfaces), fences signalled FENCE_HOLD frames later
      (< slots - surfaces): LRU keeps held buffers out of the device, 0 fence waits.
    * `1:1`: LIBVA_V4L2_REQUEST_POOL=1:1, fences signalled by a second thread FENCE_DELAY_MS
      after attaching: the driver re-queues slots whose fence is pending, so it must wait
      (fence waits > 0) and every such QBUF comes after the signal.
- `proof shrink h264-long-x8`: a replay with 16 buffers up front (twice what it needs)
  and no exports for 576 frames, then every frame exported: every frame decoded, and the
  pool gave surplus buffers back (VIDIOC_REMOVE_BUFS; driver's teardown summary).
- `proof churn`: CHURN_SESSIONS decode sessions in one process (a few decode the first
  pictures of the record), one export each; fds, mappings and V4L2 buffer mappings must not grow.
- Surface memory (`--only surface-memory`, or `early-export`, `put-image`, `import`, runs the
  record and these alone):
    * `proof early-export h264-long`: `va-client early-export`: mpv's probe (128x128 NV12 /
      P010 surfaces without context exported with separate and composed layers: descriptor
      checked, fd mmapped), GStreamer's pattern (context without render targets, surfaces
      exported before any decode) and adoption (surfaces exported before any context): after
      each decoded picture the early export's bytes equal vaGetImage's, not uniform.
    * `proof put-image`: `va-client put-image`: vaPutImage full frame and a sub-rectangle into
      a surface without context, a decoded render target and a P010 surface (where listed),
      read back through vaGetImage and an export's mmap; wrong sizes and formats refused.
    * `proof import h264-long`: `va-client import`: surfaces imported (vaCreateSurfaces,
      DRM PRIME 2 descriptors) from exports of a first context and from udmabufs laid out
      like them; after each decoded picture the caller's own mmap equals vaGetImage; bad
      layouts (pitch too small, wrong fourcc, object too small) refused with an error status.
"""
import argparse
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLIENT = os.environ.get('V4L2RVA_VA_CLIENT', os.path.join(ROOT, 'tools', 'va-client', 'target', 'release', 'va-client'))
STREAM = os.path.join(ROOT, 'tests', 'streams', 'requeue', 'h264-long.h264')
FRAMEMD5 = os.path.join(ROOT, 'tests', 'streams', 'requeue', 'h264-long.framemd5')
RENDER = '/dev/dri/renderD128'
FENCE_HOLD = int(os.environ.get('V4L2RVA_PROOF_FENCE_HOLD', '4'))
FENCE_DELAY_MS = int(os.environ.get('V4L2RVA_PROOF_FENCE_DELAY_MS', '1000'))
ONE_TO_ONE_FRAMES = int(os.environ.get('V4L2RVA_PROOF_1TO1_FRAMES', '32'))
CHURN_SESSIONS = int(os.environ.get('V4L2RVA_PROOF_CHURN', '1000'))
TIMEOUT = int(os.environ.get('V4L2RVA_CLIENT_TIMEOUT', '60'))
MEMORY_FRAMES = int(os.environ.get('V4L2RVA_PROOF_MEMORY_FRAMES', '16'))
IMPORT_FRAMES = int(os.environ.get('V4L2RVA_PROOF_IMPORT_FRAMES', '8'))
# --only names that run the record and the surface-memory cases alone.
MEMORY_CASES = {'surface-memory', 'early-export', 'put-image', 'import'}


def _load_strace_requeue():
    path = os.path.join(ROOT, 'scripts', 'strace-requeue')
    loader = importlib.machinery.SourceFileLoader('strace_requeue', path)
    spec = importlib.util.spec_from_loader('strace_requeue', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


SR = _load_strace_requeue()


# One runner for every client run (no stdin, own process group, bounded, logs to LOG.*).
sys.path.insert(0, HERE)
import profiles as P  # noqa: E402
from suite import CAPTURE_PEAK_RE as PEAK_RE, run  # noqa: E402


# ------------------------------------------------------------------------- parsing
def record_pictures(path):
    """Number of END records in a LIBVA_V4L2_REQUEST_RECORD file (first driver instance),
    read by `va-client record-info` (the format has one parser: crates/va-record)."""
    out = subprocess.run([CLIENT, 'record-info', path], capture_output=True, text=True, timeout=60)
    m = re.search(r'^record-info pictures=(\d+) ', out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise ValueError('va-client record-info %s: exit %d %s' % (path, out.returncode, out.stderr.strip()[-200:]))
    return int(m.group(1))


FRAME_RE = re.compile(r'^frame (\d+) surface (0x[0-9a-f]+) exported fd=(\d+) '
                      r'fence_attached_at=([\d.]+|-) signalled_at=([\d.]+|-)(?: .*)?$')


def client_frames(out):
    frames = []
    for line in out.splitlines():
        m = FRAME_RE.match(line)
        if m:
            ta = None if m.group(4) == '-' else float(m.group(4))
            ts = None if m.group(5) == '-' else float(m.group(5))
            frames.append(dict(i=int(m.group(1)), surface=m.group(2), fd=int(m.group(3)), attached=ta, signalled=ts))
    m = re.search(r'^frames decoded (\d+)$', out, re.M)
    return frames, (int(m.group(1)) if m else None)


def pool_stats(err):
    """Sums the driver's teardown summaries: fence waits, their total ms, contexts."""
    waits = total = 0.0
    n = 0
    for m in re.finditer(r'fence waits (\d+) \(total ([\d.]+) ms, max ([\d.]+) ms\)', err):
        waits += int(m.group(1))
        total += float(m.group(2))
        n += 1
    pool = re.search(r'pool: slots=(\d+) surfaces=(\d+) policy=(\S+)', err)
    return dict(summaries=n, fence_waits=int(waits), fence_wait_ms=round(total, 1),
                slots=int(pool.group(1)) if pool else None, surfaces=int(pool.group(2)) if pool else None,
                policy=pool.group(3) if pool else None)


def strace_events(path):
    """CAPTURE exports [(t, index, decodes)] and CAPTURE QBUFs {index: [(t, decodes)]} from an
    strace log, attributing exports as scripts/strace-requeue does (its Exports: a buffer's
    first export is a CAPTURE QUERYBUF followed by EXPBUF or F_DUPFD in the same thread,
    which binds the dma-buf fd duplicated to the index; later exports are F_DUPFDs of that
    fd). A QUERYBUF + EXPBUF on a handle that never queues a CAPTURE buffer is the driver
    allocating frames (DMABUF mode), not an export."""
    candidates, qbufs, decodes = [], {}, 0
    capture_fds = set()
    driver = SR.Exports()
    with open(path, errors='replace') as f:
        for ev in SR.parse(f):
            att = driver.see(ev)
            op = ev['op']
            if att is not None and att[0] == 'export':
                candidates.append((ev['t'], att[2], decodes, att[1]))
            elif op == 'QBUF':
                if ev['type'] in SR.OUTPUT_TYPES:
                    decodes += 1
                elif ev['type'] in SR.CAPTURE_TYPES and ev['index'] is not None:
                    capture_fds.add(ev['fd'])
                    qbufs.setdefault(ev['index'], []).append((ev['t'], decodes))
    exports = [(t, i, d) for t, i, d, fd in candidates if fd in capture_fds]
    return exports, qbufs


def check_fences(frames, exports, qbufs):
    """Matches the k-th export with frame k. Returns a dict of counts and violation lines:
    a violation is a CAPTURE QBUF of the export's index after the fence was attached and
    before it was signalled."""
    res = dict(exports=len(exports), frames=len(frames), violations=0, requeued=0, min_gap_s=None,
               min_export_distance=None, lines=[])
    if len(exports) != len(frames):
        res['lines'].append('%d exports in the strace, %d exported frames from the client' % (len(exports), len(frames)))
        return res
    gaps, dists = [], []
    for fr, (te, idx, dec) in zip(frames, exports):
        ta, ts = fr['attached'], fr['signalled']
        if ta is None or ts is None:
            res['lines'].append('frame %d: no fence times' % fr['i'])
            res['violations'] += 1
            continue
        if ta < te:
            res['lines'].append('frame %d: fence attached (%.6f) before its export (%.6f)?' % (fr['i'], ta, te))
        for tq, dq in qbufs.get(idx, []):
            if ta < tq < ts:
                res['violations'] += 1
                if len(res['lines']) < 8:
                    res['lines'].append('frame %d: CAPTURE %d queued at %.6f, fence attached %.6f, signalled %.6f'
                                        % (fr['i'], idx, tq, ta, ts))
        nxt = [(tq, dq) for tq, dq in qbufs.get(idx, []) if tq > te]
        if nxt:
            res['requeued'] += 1
            gaps.append(nxt[0][0] - ts)
            dists.append(nxt[0][1] - dec)
    if gaps:
        res['min_gap_s'] = round(min(gaps), 6)
        res['min_export_distance'] = min(dists)
    return res


# --------------------------------------------------------------------------- cases
MOD_LINEAR = 0
MOD_INVALID = 0x00ffffffffffffff
FOURCC_NV12 = 0x3231564e
FOURCC_P010 = 0x30313050
LAYOUT_RE = re.compile(r'^frame \d+ .* fourcc=(0x[0-9a-f]+) (\d+)x(\d+) planes=(\d+) pitch=(\d+),(\d+) '
                       r'offset=(\d+),(\d+) size=(\d+) modifier=(0x[0-9a-f]+)$', re.M)


def record_stream(env, pdir, stream, sw_format):
    """Decode tests/streams/STREAM with ffmpeg through the driver, recording its VA calls;
    returns the record path (the replay fails visibly if the record is missing)."""
    rec = os.path.join(pdir, stream.split('.')[0] + '.rec')
    if os.path.exists(rec):
        os.unlink(rec)
    cmd = ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error', '-hwaccel', 'vaapi', '-hwaccel_device', RENDER,
           '-hwaccel_output_format', 'vaapi', '-i', os.path.join(ROOT, 'tests', 'streams', stream),
           '-vf', 'hwdownload,format=' + sw_format, '-f', 'null', '-']
    run(cmd, os.path.join(pdir, 'record-%s.ffmpeg' % stream.split('.')[0]), dict(env, LIBVA_V4L2_REQUEST_RECORD=rec))
    return rec


def check_export_layout(s, case, rec, env, log, fourcc, size, pitch, modifier, frames=5):
    """Replay REC exporting every frame; every export must be two planes of `pitch` bytes,
    chroma at pitch * height, at least 1.5 * pitch * height bytes, with `fourcc` and
    `modifier`."""
    rc, out, err, secs = run([CLIENT, 'replay', rec, '--export-every-frame'], log, env)
    lays = LAYOUT_RE.findall(out)
    w, h = size
    bad = [l for l in lays if not (int(l[0], 16) == fourcc and l[1:3] == (str(w), str(h)) and l[3] == '2'
                                   and l[4] == l[5] == str(pitch) and l[6] == '0' and int(l[7]) == pitch * h
                                   and int(l[8]) >= pitch * h * 3 // 2 and int(l[9], 16) == modifier)]
    ok = rc == 0 and len(lays) == frames and not bad
    s.report('PASS' if ok else 'FAIL', case, 'exports=%d fourcc=%s pitch=%s modifier=%s (want %#x) rc=%d' % (
        len(lays), lays[0][0] if lays else '-', lays[0][4] if lays else '-', lays[0][9] if lays else '-', modifier, rc),
        [] if ok else ['layout: %s' % ' '.join(b) for b in bad[:3]] + [l for l in err.splitlines() if l.strip()][-4:])


def cases(s, env, outdir, built, only=()):
    """Runs the proof cases, reporting through s.report(status, case, detail, lines)."""
    only = set(only or ())
    everything = not only or bool({'h264', 'requeue', 'proof'} & only)
    if not everything and not (MEMORY_CASES & only) and 'shrink' not in only:
        return
    pdir = os.path.join(outdir, 'proof')
    os.makedirs(pdir, exist_ok=True)
    with open(FRAMEMD5) as f:
        nframes = sum(1 for l in f if l.strip() and not l.startswith('#'))
    if not built:
        s.report('FAIL', 'proof h264-long', 'driver not built')
        return
    if not os.access(CLIENT, os.X_OK):
        s.report('FAIL', 'proof h264-long', 'va-client not built: %s (cargo build --release in tools/va-client)' % CLIENT)
        return

    # --- record
    rec = os.path.join(pdir, 'h264-long.rec')
    if os.path.exists(rec):
        os.unlink(rec)
    cmd = ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error', '-hwaccel', 'vaapi', '-hwaccel_device', RENDER,
           '-hwaccel_output_format', 'vaapi', '-i', STREAM, '-vf', 'hwdownload,format=nv12', '-f', 'null', '-']
    rc, out, err, secs = run(cmd, os.path.join(pdir, 'record.ffmpeg'), dict(env, LIBVA_V4L2_REQUEST_RECORD=rec))
    try:
        pics = record_pictures(rec)
    except (OSError, ValueError) as e:
        pics, err = 0, err + '\nrecord: %s' % e
    ok = rc == 0 and pics == nframes
    s.report('PASS' if ok else 'FAIL', 'proof record h264-long', 'pictures=%d expected=%d bytes=%d rc=%d %.1fs' % (
        pics, nframes, os.path.getsize(rec) if os.path.exists(rec) else 0, rc, secs),
        [l for l in err.splitlines() if l.strip()][:6])
    if not ok:
        return

    memory_cases(s, env, pdir, rec, MEMORY_CASES if everything or 'surface-memory' in only else MEMORY_CASES & only)
    if not everything:
        if 'shrink' in only:
            shrink_case(s, env, pdir, nframes)
        return

    # --- replays with reader fences
    setups = [
        ('lru', dict(LIBVA_V4L2_REQUEST_PIN='never'), ['--fence-hold', str(FENCE_HOLD)], nframes),
        ('1:1', dict(LIBVA_V4L2_REQUEST_POOL='1:1'), ['--fence-delay-ms', str(FENCE_DELAY_MS),
                                                      '--frames', str(ONE_TO_ONE_FRAMES)], min(nframes, ONE_TO_ONE_FRAMES)),
    ]
    for name, extra_env, opts, want in setups:
        case = 'proof fences %s h264-long' % name
        log = os.path.join(pdir, 'replay-%s' % name.replace(':', 'to'))
        straced = log + '.strace'
        renv = dict(env, LIBVA_V4L2_REQUEST_LOG='info', **extra_env)
        cmd = ['strace', '-f', '-ttt', '-e', 'trace=ioctl,fcntl', '-X', 'verbose', '-o', straced,
               CLIENT, 'replay', rec, '--export-every-frame'] + opts
        rc, out, err, secs = run(cmd, log, renv, timeout=max(TIMEOUT, 120))
        frames, decoded = client_frames(out)
        st = pool_stats(err)
        try:
            exports, qbufs = strace_events(straced)
            chk = check_fences(frames, exports, qbufs)
            with open(straced, errors='replace') as f:
                rq = SR.analyse(f)
        except OSError as e:
            chk = dict(exports=0, frames=len(frames), violations=-1, requeued=0, min_gap_s=None,
                       min_export_distance=None, lines=['strace: %s' % e])
            rq = {}
        errs = [l for l in err.splitlines() if re.search(r'\b(WARN|ERROR)\b|FAILED|panick', l)]
        detail = ('frames=%s/%d exports=%d fences=%d violations=%d requeued_exports=%d min_signal_to_qbuf_s=%s '
                  'min_export_distance=%s min_requeue_decodes=%s median_requeue_decodes=%s fence_waits=%d '
                  'fence_wait_ms=%s slots=%s surfaces=%s policy=%s rc=%d %.1fs') % (
            decoded, want, chk['exports'], sum(1 for f in frames if f['signalled'] is not None), chk['violations'],
            chk['requeued'], chk['min_gap_s'], chk['min_export_distance'], rq.get('min_requeue_decodes'),
            rq.get('median_requeue_decodes'), st['fence_waits'], st['fence_wait_ms'], st['slots'], st['surfaces'],
            st['policy'], rc, secs)
        ok = (rc == 0 and decoded == want and len(frames) == want and chk['exports'] == want
              and chk['violations'] == 0 and st['summaries'] > 0 and not chk['lines'])
        if name == 'lru':
            ok = ok and st['fence_waits'] == 0
        else:
            # The driver had to wait, and each re-queue of an exported slot came after the signal.
            ok = ok and st['fence_waits'] > 0 and chk['requeued'] > 0 and (chk['min_gap_s'] or 0) >= 0
        s.report('PASS' if ok else 'FAIL', case, detail, chk['lines'] + errs[:6])

    # --- pinning rule: a consumer that exports the same surfaces with composed layers again
    # and again (as mpv's dmabuf-wayland output and Chromium do) gets those surfaces pinned
    # to their slots (LIBVA_V4L2_REQUEST_PIN=auto, the default); `never` pins none. The
    # driver's info log names each pin and its reason.
    for mode, want_pins in (('auto', True), ('never', False)):
        case = 'proof pin %s h264-long' % mode
        penv = dict(env, LIBVA_V4L2_REQUEST_LOG='info', LIBVA_V4L2_REQUEST_PIN=mode)
        rc, out, err, secs = run([CLIENT, 'replay', rec, '--export-every-frame', '--frames', '48'],
                                 os.path.join(pdir, 'pin-%s' % mode), penv)
        pins = re.findall(r'surface (0x[0-9a-f]+) pinned to slot \d+ \(repeated composed exports\)', err)
        frames, decoded = client_frames(out)
        ok = rc == 0 and decoded == 48 and (len(set(pins)) > 0) == want_pins
        s.report('PASS' if ok else 'FAIL', case, 'frames=%s/48 pinned_surfaces=%d rc=%d %.1fs' % (
            decoded, len(set(pins)), rc, secs), [l for l in err.splitlines() if 'FAILED' in l][:4])

    # --- abuse and damage through the real libva: exact status codes for wrong call order
    # and unknown IDs, then damaged replays (flipped/truncated parameter buffers, dropped or
    # damaged slice data, abandoned pictures). Every call must return: no crash, no hang
    # (the driver's waits are bounded; LIBVA_V4L2_REQUEST_SYNC_TIMEOUT_MS shortens them),
    # no panic in the driver's log.
    case = 'proof fuzz h264-long'
    fenv = dict(env, LIBVA_V4L2_REQUEST_LOG='warn', LIBVA_V4L2_REQUEST_SYNC_TIMEOUT_MS='2000')
    rc, out, err, secs = run([CLIENT, 'fuzz', rec, '--rounds', '40', '--frames', '8'], os.path.join(pdir, 'fuzz'),
                             fenv, timeout=max(TIMEOUT, 240))
    m = re.search(r'^fuzz rounds=\d+ pictures=\d+ abuse_failures=\d+$', out, re.M)
    abuse = len(re.findall(r'^abuse .*\(as expected\)$', out, re.M))
    statuses = len(re.findall(r'^fuzz status ', out, re.M))
    panics = [l for l in err.splitlines() if 'panic' in l.lower()]
    ok = rc == 0 and m is not None and abuse == 10 and not panics
    s.report('PASS' if ok else 'FAIL', case, '%s abuse_checks=%d status_kinds=%d rc=%d %.1fs' % (
        m.group(0) if m else 'no result', abuse, statuses, rc, secs),
        panics[:4] + [l for l in err.splitlines() if 'FAILED' in l][:4])

    # --- export layout and the modifier rule on an 864-wide stream (864 % 64 = 32): by
    # default every export says DRM_FORMAT_MOD_LINEAR (the buffers are linear), with
    # LIBVA_V4L2_REQUEST_EXPORT_ALIGN=64 an unaligned pitch says DRM_FORMAT_MOD_INVALID;
    # NV12, pitch 864, chroma at pitch * height, one object.
    rec864 = record_stream(env, pdir, 'h264-864.h264', 'nv12')
    for align, want_mod in ((None, MOD_LINEAR), ('64', MOD_INVALID)):
        renv = dict(env, **({'LIBVA_V4L2_REQUEST_EXPORT_ALIGN': align} if align else {}))
        check_export_layout(s, 'proof export-layout h264-864 align=%s' % (align or 'default'), rec864, renv,
                            os.path.join(pdir, 'export-864-%s' % (align or 'default')),
                            fourcc=FOURCC_NV12, size=(864, 480), pitch=864, modifier=want_mod)

    # --- the same for a P010 surface (HEVC Main10, where the driver advertises it): DRM
    # fourcc P010, pitch 2 * 176 = 352 for both planes, chroma at 352 * 144, and
    # DRM_FORMAT_MOD_LINEAR (the default, although 352 % 64 = 32).
    try:
        with open(os.path.join(outdir, 'vainfo.out')) as f:
            main10 = 'VAProfileHEVCMain10' in f.read()
    except OSError:
        main10 = False
    if main10:
        rec10 = record_stream(env, pdir, 'hevc-main10.hevc', 'p010le')
        check_export_layout(s, 'proof export-layout hevc-main10 (P010)', rec10, env, os.path.join(pdir, 'export-main10'),
                            fourcc=FOURCC_P010, size=(176, 144), pitch=352, modifier=MOD_LINEAR)

    shrink_case(s, env, pdir, nframes)

    # --- churn
    case = 'proof churn'
    every = max(1, CHURN_SESSIONS // 4)
    cmd = [CLIENT, 'churn', str(CHURN_SESSIONS), '--record', rec, '--decode-every', str(every), '--pictures', '2']
    rc, out, err, secs = run(cmd, os.path.join(pdir, 'churn'), env, timeout=max(TIMEOUT, 180))
    m = re.search(r'^churn sessions=.*$', out, re.M)
    # The counters must see a live session's buffers (else "no growth" proves nothing).
    live = re.search(r'in_session: fds=(\d+) .*video_maps=(\d+)', out)
    seen = bool(live) and int(live.group(1)) > 4 and int(live.group(2)) > 0
    s.report('PASS' if rc == 0 and m and seen else 'FAIL', case, '%s rc=%d %.1fs' % (m.group(0) if m else 'no result', rc, secs),
             [l for l in err.splitlines() if 'FAILED' in l or 'ERROR' in l][:6])


SHRINK_COPIES = 8
SHRINK_INITIAL = 16   # LIBVA_V4L2_REQUEST_POOL_SIZE: buffers allocated up front (a surplus)
SUMMARY_RE = re.compile(r'CAPTURE pool \(lru\): (\d+) slots, (\d+) with a buffer \(max \d+, (\d+) added by growth, (\d+) given back\)')


def shrink_case(s, env, pdir, nframes):
    """The pool gives surplus buffers back (VIDIOC_REMOVE_BUFS) and refills those holes
    first: ffmpeg's decode of h264-long x8 recorded, then replayed with 16 buffers up front
    (LIBVA_V4L2_REQUEST_POOL_SIZE), twice what the stream needs: no exports for 576 frames
    (the surplus is given back, one buffer per 64-decode window, down to the stream's
    need plus one idle buffer), then every frame exported (decoding goes on in the pool
    left). Refilling a hole (CREATE_BUFS into a removed index) is checked by the device
    test `decodes_into_frames_from_a_second_handle` and the pool's unit tests."""
    case = 'proof shrink h264-long-x%d' % SHRINK_COPIES
    with open(STREAM, 'rb') as f:
        data = f.read()
    stream = os.path.join(pdir, 'h264-long-x%d.h264' % SHRINK_COPIES)
    with open(stream, 'wb') as f:
        f.write(data * SHRINK_COPIES)
    want = nframes * SHRINK_COPIES
    rec = os.path.join(pdir, 'h264-long-x%d.rec' % SHRINK_COPIES)
    if os.path.exists(rec):
        os.unlink(rec)
    cmd = ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error', '-hwaccel', 'vaapi', '-hwaccel_device', RENDER,
           '-hwaccel_output_format', 'vaapi', '-i', stream, '-vf', 'hwdownload,format=nv12', '-f', 'null', '-']
    run(cmd, os.path.join(pdir, 'record-shrink.ffmpeg'), dict(env, LIBVA_V4L2_REQUEST_RECORD=rec), timeout=max(TIMEOUT, 180))
    first_export = want * 3 // 4
    cmd = [CLIENT, 'replay', rec, '--export-frames', '%d-%d' % (first_export, want - 1)]
    renv = dict(env, LIBVA_V4L2_REQUEST_LOG='info', LIBVA_V4L2_REQUEST_POOL_SIZE=str(SHRINK_INITIAL))
    rc, out, err, secs = run(cmd, os.path.join(pdir, 'shrink'), renv, timeout=max(TIMEOUT, 180))
    _, decoded = client_frames(out)
    m = SUMMARY_RE.search(err)
    peak = PEAK_RE.search(err)
    slots, live, grown, removed = (int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    ok = rc == 0 and decoded == want and m is not None and slots == SHRINK_INITIAL and removed >= 1 and live == slots - removed + grown
    s.report('PASS' if ok else 'FAIL', case, 'frames=%s expected=%d peak=%s indices=%d given_back=%d grown=%d live_at_end=%d rc=%d %.1fs' % (
        decoded, want, peak.group(1) if peak else '-', slots, removed, grown, live, rc, secs),
        [] if ok else [l for l in err.splitlines() if 'WARN' in l or 'ERROR' in l or 'REMOVE' in l][:6])


def _check_lines(out):
    """The client's check lines: (total, failed lines)."""
    lines = [l for l in out.splitlines() if re.match(r'^[a-z-]+ .*: (ok|FAIL)\b', l)]
    return len(lines), [l for l in lines if re.search(r': FAIL\b', l)]


def memory_cases(s, env, pdir, rec, which):
    """Surface memory through va-client: early export, vaPutImage, import (one case each)."""
    frames = str(MEMORY_FRAMES)
    # On a tiled-only profile visl writes one fixed pattern into every picture: early-export
    # then checks the exported memory against that pattern instead of pictures differing.
    tiled = P.current().tiled('h264') is not None
    runs = [
        ('early-export', 'proof early-export h264-long',
         [CLIENT, 'early-export', rec, '--frames', frames] + (['--visl-tiled-pattern'] if tiled else []),
         r'^early-export ok (\d+) frames'),
        ('put-image', 'proof put-image', [CLIENT, 'put-image', '--record', rec], r'^put-image ok (\d+) surfaces'),
        ('import', 'proof import h264-long', [CLIENT, 'import', rec, '--frames', str(IMPORT_FRAMES)], r'^import ok (\d+) frames'),
    ]
    for name, case, cmd, done in runs:
        if name not in which:
            continue
        menv = dict(env, LIBVA_V4L2_REQUEST_LOG='info')
        rc, out, err, secs = run(cmd, os.path.join(pdir, name), menv)
        total, failed = _check_lines(out)
        m = re.search(done, out, re.M)
        panics = [l for l in err.splitlines() if 'panic' in l.lower()]
        # Something was checked, nothing failed, the client said so and exited 0.
        ok = rc == 0 and m is not None and total > 0 and not failed and not panics
        s.report('PASS' if ok else 'FAIL', case, 'checks=%d failed=%d %s rc=%d %.1fs' % (
            total, len(failed), m.group(0) if m else 'no result', rc, secs),
            [] if ok else failed[:8] + panics[:2] + [l for l in err.splitlines() if 'FAILED' in l or 'WARN' in l][:4])


class _Stdout:
    def __init__(self):
        self.passed = self.failed = 0

    def report(self, status, case, detail='', lines=()):
        print(('%s %s %s' % (status, case, detail)).rstrip(), flush=True)
        for line in list(lines)[:12]:
            print('    ' + line, flush=True)
        self.passed += status == 'PASS'
        self.failed += status == 'FAIL'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(ROOT, 'out', 'proof'))
    ap.add_argument('--driver-dir', default=os.path.join(ROOT, 'build', 'driver'))
    ap.add_argument('--only', default='', help='comma-separated: surface-memory, early-export, put-image, import '
                                              '(the record and those cases only)')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    env = {'LIBVA_DRIVER_NAME': 'v4l2_request', 'LIBVA_DRIVERS_PATH': args.driver_dir}
    s = _Stdout()
    cases(s, env, args.out, os.path.exists(os.path.join(args.driver_dir, 'v4l2_request_drv_video.so')),
          [x for x in args.only.split(',') if x])
    print('%d passed, %d failed' % (s.passed, s.failed), flush=True)
    return 0 if s.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Real display consumers (issue 9, item 4): mpv and GStreamer show the driver's exported
dma-bufs through real software GL/Vulkan (Mesa 25 from bookworm-backports, unpacked by
scripts/consumers/fetch-mesa and selected per process by scripts/consumers/run-consumer).

Called from suite.py (inside the visl guest):  consumers.cases(s, env, outdir, built, only, tracer)
Standalone (in the guest):  scripts/vm/run -- tests/e2e/consumers.py [--out DIR] [--only mpv-egl,...]

Stream: tests/streams/requeue/h264-long.h264 four times in a row (each copy starts with an
IDR picture: 384 frames, 176x144), written into the output directory: longer than any
CAPTURE pool, so every buffer is queued many times.

Cases (each with the default pool, `lru`, and with LIBVA_V4L2_REQUEST_POOL=1:1, reported
as `(comparison)`), every client under
`strace -f -ttt -e trace=ioctl,fcntl,mmap,munmap,close,dup,dup2,dup3 -X verbose`
analysed by scripts/strace-hold, with the visl trace on:
- `consumer mpv-egl`: `mpv --hwdec=vaapi --vo=gpu --gpu-context=wayland` on weston 10
  headless (GL renderer): mpv's EGL (llvmpipe, drisw) imports every frame's dma-buf.
- `consumer mpv-vulkan`: `mpv --hwdec=vaapi --vo=gpu --gpu-api=vulkan` on Xvfb: lavapipe
  imports every frame's dma-buf (VK_EXT_external_memory_dma_buf).
- `consumer gst-waylandsink`: `vah264dec ! video/x-raw(memory:DMABuf) ! waylandsink` on weston:
  gst-va exports each surface once and caches it; weston's GL renderer (llvmpipe) imports
  them (zwp_linux_dmabuf_v1). The display holds are the wl_surface.attach+commit ..
  wl_buffer.release windows of the client's WAYLAND_DEBUG log.
Each must: exit 0; show the hardware path (mpv: "Using hardware decoding (vaapi)", no
software decoding or fallback line, no "Loading failed"; gst: no ERROR/WARNING line);
decode every frame through the driver to visl (at least one visl request per frame and one
CAPTURE QBUF per frame); have every frame exported by the driver (mpv: each decoded frame's
buffer exported after that decode; gst: each decoded frame lands in an exported buffer);
attribute every export. The default pool must show 0 re-queues of a buffer while the
consumer held it (mpv: its fds and mappings of the export; gst: the compositor's
attach..release windows); the 1:1 runs report their figure next to it.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RENDER = '/dev/dri/renderD128'
RUN_CONSUMER = os.path.join(ROOT, 'scripts', 'consumers', 'run-consumer')
STRACE_HOLD = os.path.join(ROOT, 'scripts', 'strace-hold')
LONG = os.path.join(ROOT, 'tests', 'streams', 'requeue', 'h264-long.h264')
LONG_MD5 = os.path.join(ROOT, 'tests', 'streams', 'requeue', 'h264-long.framemd5')
COPIES = 4
TIMEOUT = int(os.environ.get('V4L2RVA_CONSUMER_TIMEOUT', '900'))
STRACE = ['strace', '-f', '--seccomp-bpf', '-ttt', '-e', 'trace=ioctl,fcntl,mmap,munmap,close,dup,dup2,dup3', '-X', 'verbose']
CLIENTS = ('mpv-egl', 'mpv-vulkan', 'gst-waylandsink')
# Inside the suite (CI) every consumer runs with the default pool; standalone runs (--only)
# run what is named, with both pools.
# V4L2RVA_CONSUMER_CLIENTS / V4L2RVA_CONSUMER_POLICIES override. In the suite mpv-vulkan
# (lavapipe, several times slower than mpv-egl under TCG) decodes h264-long once.
SUITE_CLIENTS = [c for c in os.environ.get('V4L2RVA_CONSUMER_CLIENTS', 'mpv-egl,mpv-vulkan,gst-waylandsink').split(',') if c]
SUITE_SHORT = {'mpv-vulkan'}
POLICIES = [p for p in os.environ.get('V4L2RVA_CONSUMER_POLICIES', 'lru,1:1').split(',') if p]
SUITE_POLICIES = [p for p in os.environ.get('V4L2RVA_CONSUMER_POLICIES', 'lru').split(',') if p]


def make_stream(outdir, copies):
    """h264-long x copies (an Annex-B stream may be concatenated at IDR pictures)."""
    with open(LONG, 'rb') as f:
        data = f.read()
    with open(LONG_MD5) as f:
        frames = sum(1 for l in f if l.strip() and not l.startswith('#'))
    path = os.path.join(outdir, 'h264-long-x%d.h264' % copies)
    with open(path, 'wb') as f:
        f.write(data * copies)
    return path, frames * copies


def mpv_cmd(kind, path):
    # weston headless under TCG sends frame callbacks far too late for mpv to wait for them
    # (it then shows 2 frames of 60): mpv presents without waiting (--wayland-disable-vsync),
    # and on X11 with an immediate swapchain. --gpu-dumb-mode keeps llvmpipe's per-frame work
    # small (no extra scaling passes); the frame is still imported from the export.
    if kind == 'mpv-egl':
        gpu = ['--gpu-context=wayland', '--wayland-disable-vsync=yes']
    else:
        gpu = ['--gpu-api=vulkan', '--gpu-context=x11vk', '--vulkan-swap-mode=immediate']
    return ['mpv', '--no-config', '--msg-level=all=warn,vd=info,vo=info', '--hwdec=vaapi', '--hwdec-codecs=all',
            '--vaapi-device=' + RENDER, '--vo=gpu', '--gpu-dumb-mode=yes'] + gpu + [
            '--untimed', '--framedrop=no', '--no-audio', '--no-input-terminal',
            '--term-osd=no', '--keep-open=no', path]


def gst_cmd(path):
    # identity -v: one last-message line per buffer reaching the sink (frames shown)
    return ['gst-launch-1.0', '--no-fault', '-v', 'filesrc', 'location=' + path, '!', 'h264parse', '!', 'vah264dec',
            '!', 'video/x-raw(memory:DMABuf)', '!', 'identity', 'silent=false', '!', 'waylandsink', 'sync=false']


def hw_path_errors(kind, text):
    """Lines that show the client did not use the hardware path through the export."""
    errs = []
    if kind.startswith('mpv'):
        if 'Using hardware decoding (vaapi)' not in text:
            errs.append('mpv did not report "Using hardware decoding (vaapi)"')
        errs += [l for l in text.splitlines() if re.search(
            r'Loading failed|[Ff]alling back to software|Using software decoding|Could not create|'
            r'not supported|error|failed|cannot', l, re.I)]
    else:
        errs += [l for l in text.splitlines() if re.match(r'^(ERROR|WARNING|\(gst-launch|.*CRITICAL)', l)]
    return errs


def run_case(kind, policy, path, want, env, outdir, tracer, requests_in):
    tag = '%s-%s' % (kind, policy.replace(':', 'to'))
    log = os.path.join(outdir, 'consumer-' + tag)
    straced = log + '.strace'
    for ext in ('.strace', '.err', '.out'):
        if os.path.exists(log + ext):
            os.unlink(log + ext)
    penv = dict(os.environ, **env)
    penv.update(LIBVA_V4L2_REQUEST_LOG='info', LIBVA_V4L2_REQUEST_POOL=policy, AV_LOG_FORCE_NOCOLOR='1')
    if kind == 'gst-waylandsink':
        # the plugin registry is (re)built outside strace: its scanner is another process
        subprocess.run(['gst-inspect-1.0', 'vah264dec'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=penv, timeout=TIMEOUT)
        penv['WAYLAND_DEBUG'] = 'client'
        client = gst_cmd(path)
    else:
        client = mpv_cmd(kind, path)
    wrap = []
    if kind == 'mpv-vulkan':
        # libplacebo skips software Vulkan devices unless one is named: name lavapipe's
        # (its name carries the LLVM version and vector width) as mpv lists it.
        wrap = ['sh', '-c', 'dev="$(mpv --no-config --vulkan-device=help | sed -n "s/^ *\'\\(llvmpipe[^\']*\\)\'.*/\\1/p" | head -n 1)"; '
                'exec "$@" "--vulkan-device=$dev"', 'sh']
    cmd = [RUN_CONSUMER, '--wayland' if kind != 'mpv-vulkan' else '--x11', '--logs', log + '.display', '--'] + \
        wrap + STRACE + ['-o', straced] + client
    t0 = time.time()
    tracer.start()
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=penv,
                           timeout=TIMEOUT, text=True, errors='replace')
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = 124, e.stdout or '', e.stderr or ''
        out = out.decode(errors='replace') if isinstance(out, bytes) else out
        err = err.decode(errors='replace') if isinstance(err, bytes) else err
    finally:
        tracer.stop(log + '.trace')
    secs = time.time() - t0
    with open(log + '.cmd', 'w') as f:
        f.write(' '.join(cmd) + '\n')
    with open(log + '.out', 'w') as f:
        f.write(out)
    with open(log + '.err', 'w') as f:
        f.write(err)
    reqs = requests_in(log + '.trace', 'h264')
    rep = {}
    if os.path.exists(straced):
        args = [sys.executable, STRACE_HOLD, '--json', straced]
        if kind == 'gst-waylandsink':
            args[3:3] = ['--wayland-log', log + '.err']
        rr = subprocess.run(args, stdout=subprocess.PIPE, text=True, timeout=120)
        rep = json.loads(rr.stdout or '{}')
        with open(log + '.hold.txt', 'w') as f:
            subprocess.run([a for a in args if a != '--json'], stdout=f, timeout=120)
    # the client's own lines: without the driver's info log, the Wayland protocol log and strace noise
    # (the driver's WARN/ERROR lines stay: they count as errors)
    client_text = '\n'.join(l for l in (out + '\n' + err).splitlines()
                            if not re.match(r'^\s*\[\s*\d+\.\d+\]|^\[\S+Z\s+(INFO|DEBUG|TRACE)\s|^\s', l))
    errs = hw_path_errors(kind, client_text)
    pool = re.search(r'pool: slots=(\d+) surfaces=(\d+)', err)
    shown = sum(1 for l in out.splitlines() if 'last-message' in l and 'chain' in l) if kind == 'gst-waylandsink' else None
    return dict(rc=rc, secs=secs, reqs=reqs, rep=rep, errs=errs, want=want, log=log,
                pool=('%s/%s' % pool.groups()) if pool else '-', shown=shown)


def judge(kind, policy, r):
    rep, want = r['rep'], r['want']
    frames = rep.get('frames', 0)
    if kind == 'gst-waylandsink':
        every_export = rep.get('frames_in_exported_buffers') == frames
        held = rep.get('display_requeues')
        held_what = 'display_windows=%s requeued_in_display_window=%s fd_hold_requeues=%s' % (
            rep.get('display_windows'), held, rep.get('requeue_qbufs_while_held'))
        consumer_ok = (rep.get('display_windows') or 0) > 0
    else:
        every_export = rep.get('frames_exported_after_decode') == frames
        held = rep.get('requeued_while_held')
        held_what = 'requeued_while_held=%s (qbufs %s) median_hold_decodes=%s max_hold_decodes=%s ' \
                    'min_release_to_requeue=%s mapped=%s' % (
                        held, rep.get('requeue_qbufs_while_held'), rep.get('median_hold_decodes'),
                        rep.get('max_hold_decodes'), rep.get('min_release_to_requeue_decodes'), rep.get('exports_mapped'))
        consumer_ok = (rep.get('exports_mapped') or 0) > 0
    ok = (r['rc'] == 0 and not r['errs'] and r['reqs'] >= want and frames >= want and every_export
          and rep.get('unattributed_exports') == 0 and consumer_ok and (rep.get('exports') or 0) > 0)
    if policy == 'lru':
        ok = ok and held == 0
    detail = 'frames=%d/%d requests=%d exports=%s every_frame_exported=%s %s pool=%s%s %s %.1fs' % (
        frames, want, r['reqs'], rep.get('exports'), every_export, held_what, r['pool'],
        '' if r['shown'] is None else ' shown=%d' % r['shown'],
        'exit %d' % r['rc'] if r['rc'] != 124 else 'timeout after %ds' % TIMEOUT, r['secs'])
    return ok, detail


ORDER = []     # standalone --only order


def cases(s, env, outdir, built, only=(), tracer=None, requests_in=None):
    only = set(only or ())
    if only and not ({'h264', 'consumers'} & only) and not (set(CLIENTS) & only):
        return
    named = set(CLIENTS) & only
    kinds = [k for k in CLIENTS if k in only] if named else [k for k in CLIENTS if k in SUITE_CLIENTS]
    policies = POLICIES if named else SUITE_POLICIES
    if named and ORDER:
        kinds = [k for k in ORDER if k in kinds]
    if not built:
        for k in kinds:
            s.report('FAIL', 'consumer %s h264-long-x%d' % (k, COPIES), 'driver not built')
        return
    mesa = os.environ.get('V4L2RVA_MESA', '')
    if not mesa or not os.path.exists(os.path.join(mesa, '.done')):
        for k in kinds:
            s.report('FAIL', 'consumer %s h264-long-x%d' % (k, COPIES),
                     'no Mesa 25 unpack (V4L2RVA_MESA=%r): run scripts/consumers/fetch-mesa on the host and pass '
                     'V4L2RVA_MESA (scripts/test-all does)' % mesa)
        return
    path, want = make_stream(outdir, COPIES)
    short, short_want = make_stream(outdir, 1)
    for kind in kinds:
        for policy in policies:
            # the 1:1 comparison decodes h264-long once (96 frames): a reported figure, and
            # TCG time matters (about 1 s per shown frame with strace on a loaded machine)
            # (and so does mpv-vulkan inside the suite).
            long_run = policy == 'lru' and (named or kind not in SUITE_SHORT)
            p, w = (path, want) if long_run else (short, short_want)
            r = run_case(kind, policy, p, w, env, outdir, tracer, requests_in)
            ok, detail = judge(kind, policy, r)
            name = 'consumer %s %s %s' % (kind, os.path.basename(p)[:-5], policy if policy == 'lru' else '1:1 (comparison)')
            s.report('PASS' if ok else 'FAIL', name, detail, r['errs'])


def main():
    import suite  # tests/e2e/suite.py: Suite, Tracer, requests_in
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(ROOT, 'out', 'e2e', 'consumers'))
    ap.add_argument('--only', default='', help='comma-separated: ' + ','.join(CLIENTS))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    s = suite.Suite(args.out)
    ddir = os.path.join(ROOT, 'build', 'driver')
    env = {'LIBVA_DRIVER_NAME': 'v4l2_request', 'LIBVA_DRIVERS_PATH': ddir, 'GST_VA_ALL_DRIVERS': '1',
           'GST_REGISTRY': os.path.join(os.environ.get('TMPDIR', '/tmp'), 'v4l2rva-gst-registry-driver.bin')}
    built = os.path.exists(os.path.join(ddir, 'v4l2_request_drv_video.so'))
    ORDER[:] = [x for x in args.only.split(',') if x]
    cases(s, env, args.out, built, ORDER or list(CLIENTS), suite.Tracer(), suite.requests_in)
    print('%d passed, %d failed' % (s.passed, s.failed))
    return 0 if s.failed == 0 else 1


if __name__ == '__main__':
    sys.path.insert(0, HERE)
    sys.exit(main())

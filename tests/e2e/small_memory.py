#!/usr/bin/env python3
"""4K decoding in a guest with little memory (issue 11: a memory-bounded pool).

Boards have a few hundred MiB for video. This boots nothing itself: run it in a guest
booted with 512 MiB (scripts/test-all does):

    scripts/vm/run --mem 512 -- tests/e2e/small_memory.py [--out DIR]

Cases, one per client and 3840x2160 stream (tests/streams/big, made by scripts/make-streams):
  small-memory <client> <stream>   ffmpeg (hwdownload) and mpv (vaapi-copy) decode every frame
                                   through the driver and the device (requests counted in the
                                   visl trace); the line shows the driver's CAPTURE peak (its
                                   teardown summary, LIBVA_V4L2_REQUEST_LOG=info) and the
                                   guest's MemTotal.
"""
import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
os.environ.setdefault('V4L2RVA_CLIENT_TIMEOUT', '300')   # 4K under TCG
import suite as S  # noqa: E402

BIG = os.path.join(ROOT, 'tests', 'streams', 'big')
STREAMS = (('h264-4k', 'h264-4k.h264', 'h264'), ('hevc-4k', 'hevc-4k.hevc', 'hevc'))
PEAK_RE = S.CAPTURE_PEAK_RE


def frames_in(name):
    with open(os.path.join(BIG, name + '.framemd5')) as f:
        return sum(1 for line in f if line.strip() and not line.startswith('#'))


def mem_total_mib():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                return int(line.split()[1]) // 1024
    return 0


def client_mpv(path, log, env):
    """mpv --hwdec=vaapi-copy (every frame downloaded to system memory) without writing
    images (a 4K PNG takes tens of seconds under TCG): frames counted by lavfi's showinfo."""
    cmd = ['mpv', '--no-config', '--msg-level=all=warn,vd=info,ffmpeg=v', '--hwdec=vaapi-copy', '--hwdec-codecs=all',
           '--vaapi-device=' + S.RENDER, '--vf=lavfi=[showinfo]', '--vo=null', '--untimed', '--no-audio',
           '--no-input-terminal', '--term-osd=no', path]
    rc, out, err, secs = S.run(cmd, log, env)
    text = out + err
    frames = len(re.findall(r'Parsed_showinfo_\d+: n: *\d+ ', text))
    errors = [l for l in text.splitlines() if re.search(r'error|fail|could not|cannot', l, re.I)]
    if 'Using hardware decoding (vaapi-copy)' not in text:
        errors.insert(0, 'mpv did not report "Using hardware decoding (vaapi-copy)"')
    return rc, frames, errors, secs


def peak_of(log):
    """The largest CAPTURE peak in the driver's teardown summaries of one client run."""
    try:
        with open(log + '.err', errors='replace') as f:
            peaks = [(int(b), float(m)) for b, m in PEAK_RE.findall(f.read())]
    except OSError:
        peaks = []
    return max(peaks) if peaks else None


def cases(s, env, outdir, tracer):
    env = dict(env, LIBVA_V4L2_REQUEST_LOG='info')
    mem = mem_total_mib()
    for name, file, codec in STREAMS:
        path = os.path.join(BIG, file)
        want = frames_in(name)
        for client in ('ffmpeg', 'mpv'):
            log = os.path.join(outdir, 'small-memory-%s.%s' % (name, client))
            if client == 'ffmpeg':
                fn = lambda: S.client_ffmpeg(path, log, env, codec=codec)  # noqa: E731
            else:
                fn = lambda: client_mpv(path, log, env)  # noqa: E731
            rc, n, errs, secs = S.traced(tracer, log + '.trace', fn)
            errs = [e for e in S.without_driver_info(errs) if not PEAK_RE.search(e)]
            reqs = S.requests_in(log + '.trace', codec)
            peak = peak_of(log)
            ok = rc == 0 and n == want and reqs >= want and not errs and peak is not None
            s.report('PASS' if ok else 'FAIL', 'small-memory %s %s' % (client, name),
                     'frames=%d expected=%d requests=%d CAPTURE peak %s MemTotal=%dMiB %s %.1fs' % (
                         n, want, reqs, '%d buffers, %.1f MiB' % peak if peak else '-', mem, S.rc_text(rc), secs), errs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(ROOT, 'out', 'e2e', 'small-memory'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    s = S.Suite(args.out)
    ddir = os.path.join(ROOT, 'build', 'driver')
    env = {'LIBVA_DRIVER_NAME': 'v4l2_request', 'LIBVA_DRIVERS_PATH': ddir}
    if not os.path.exists(os.path.join(ddir, 'v4l2_request_drv_video.so')):
        s.report('FAIL', 'small-memory', 'driver not built: %s missing' % ddir)
    else:
        cases(s, env, args.out, S.Tracer())
    print('%d passed, %d failed' % (s.passed, s.failed))
    return 0 if s.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

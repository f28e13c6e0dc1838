#!/usr/bin/env python3
"""Firefox cases (issue 9, item 5): Firefox's own VA-API probe accepts the driver.

Called from suite.py (inside the visl guest):  firefox.cases(s, env, outdir, built, only)
where `s` has report(status, case, detail, lines). Standalone (in the guest):

    scripts/vm/run -- tests/e2e/firefox.py [--out DIR]

Firefox (widget/gtk/GfxInfo.cpp) runs `vaapitest -d <render node>` in a child process and
reads its stdout: `VAAPI_SUPPORTED` then `TRUE`/`FALSE`, `VAAPI_HWCODECS` then a decimal
bit mask; `WARNING`/`ERROR` lines make it give up. vaapitest creates a VA config for every
(profile, entrypoint) the driver lists, restricted to its own profile table, and sets one
bit per codec and direction. With MOZ_GFX_DEBUG=1 it also logs `Profile: <name>` to stderr
for every config it could create. Table and bits as in Firefox ESR 153
(widget/gtk/vaapitest/vaapitest.cpp; the bits checked against Debian's binary: decode bit
= 1 << 4, 6, 8, 10, 12 for H.264, VP8, VP9, AV1, HEVC, the encode bit the next one up).

- `firefox vaapitest`: vaapitest against the driver (LIBVA_DRIVER_NAME=v4l2_request,
  LIBVA_DRIVERS_PATH=build/driver): exit 0, `VAAPI_SUPPORTED TRUE`, no WARNING/ERROR, libva
  loaded this driver, the `Profile:` lines are exactly the profiles vainfo lists for the
  driver that vaapitest knows, and `VAAPI_HWCODECS` is exactly the decode bits of their
  codecs (no encode bits: the driver decodes only). The run time is reported; Firefox
  waits 2 s for the probe (VAAPI_TEST_TIMEOUT), which says nothing about a TCG guest on a
  busy machine, so it is not a condition here.
- `firefox vaapitest-negative`: the same with LIBVA_DRIVER_NAME naming a driver that has no
  .so in LIBVA_DRIVERS_PATH: vaInitialize must fail and nothing must be reported as
  supported, so the positive case is not something vaapitest says about any setup.
"""
import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VAAPITEST = os.environ.get('V4L2RVA_VAAPITEST', '/usr/lib/firefox-esr/vaapitest')
RENDER = '/dev/dri/renderD128'
MISSING_DRIVER = 'v4l2_request_absent'

# vaapitest's profile table (names without the VAProfile prefix) -> codec
PROFILE_CODEC = {
    'H264ConstrainedBaseline': 'H264', 'H264Main': 'H264', 'H264High': 'H264',
    'VP8Version0_3': 'VP8',
    'VP9Profile0': 'VP9', 'VP9Profile2': 'VP9',
    'AV1Profile0': 'AV1', 'AV1Profile1': 'AV1',
    'HEVCMain': 'HEVC', 'HEVCMain10': 'HEVC', 'HEVCMain12': 'HEVC',
}
DECODE_BIT = {'H264': 1 << 4, 'VP8': 1 << 6, 'VP9': 1 << 8, 'AV1': 1 << 10, 'HEVC': 1 << 12}
ENCODE_BIT = {c: b << 1 for c, b in DECODE_BIT.items()}

sys.path.insert(0, HERE)
from suite import run  # noqa: E402


def parse_report(out):
    """vaapitest's stdout as GfxInfo reads it: {'VAAPI_SUPPORTED': 'TRUE', 'VAAPI_HWCODECS':
    '4432', ...}, plus a list of (WARNING|ERROR, text)."""
    values, problems = {}, []
    lines = out.split('\n')
    i = 0
    while i < len(lines):
        key = lines[i]
        val = lines[i + 1] if i + 1 < len(lines) else None
        if key in ('VAAPI_SUPPORTED', 'VAAPI_HWCODECS'):
            values[key] = val
            i += 2
        elif key in ('WARNING', 'ERROR'):
            problems.append((key, val))
            i += 2
        else:
            i += 1
    return values, problems


def codec_names(mask):
    names = [c + '-dec' for c, b in DECODE_BIT.items() if mask & b]
    names += [c + '-enc' for c, b in ENCODE_BIT.items() if mask & b]
    rest = mask & ~sum(list(DECODE_BIT.values()) + list(ENCODE_BIT.values()))
    return names + (['0x%x?' % rest] if rest else [])


def vainfo_profiles(env, outdir):
    """The VLD profiles vainfo lists for the driver (the suite's vainfo.out when present)."""
    path = os.path.join(outdir, 'vainfo.out')
    if not os.path.exists(path):
        run(['vainfo', '--display', 'drm', '--device', RENDER], os.path.join(outdir, 'vainfo'), env)
    try:
        text = open(path).read()
    except OSError:
        return None
    return set(re.findall(r'^\s*VAProfile(\w+)\s*:\s*VAEntrypointVLD', text, re.M)) - {'None'}


def cases(s, env, outdir, built, only=()):
    only = set(only or ())
    if only and not ({'firefox', 'vaapitest'} & only):
        return
    fdir = os.path.join(outdir, 'firefox')
    os.makedirs(fdir, exist_ok=True)
    if not os.access(VAAPITEST, os.X_OK):
        s.report('FAIL', 'firefox vaapitest', '%s missing (apt-get install firefox-esr)' % VAAPITEST)
        return
    if not built:
        s.report('FAIL', 'firefox vaapitest', 'driver not built')
        return
    ddir = env['LIBVA_DRIVERS_PATH']

    # --- positive: the driver
    profiles = vainfo_profiles(env, outdir)
    if not profiles:
        s.report('FAIL', 'firefox vaapitest', 'vainfo listed no VLD profile for the driver')
        return
    want_profiles = {p for p in profiles if p in PROFILE_CODEC}
    want_mask = 0
    for p in want_profiles:
        want_mask |= DECODE_BIT[PROFILE_CODEC[p]]
    penv = dict(env, MOZ_GFX_DEBUG='1', LIBVA_MESSAGING_LEVEL='2')
    rc, out, err, secs = run([VAAPITEST, '-d', RENDER], os.path.join(fdir, 'vaapitest'), penv)
    values, problems = parse_report(out)
    logged = set(re.findall(r'^Profile: (\w+)$', err, re.M))
    try:
        mask = int(values.get('VAAPI_HWCODECS') or '')
    except ValueError:
        mask = None
    ours = os.path.join(ddir, 'v4l2_request_drv_video.so')
    loaded = ours in err and re.search(r'va_openDriver\(\) returns 0', err) is not None
    errs = ['%s: %s' % p for p in problems]
    if logged != want_profiles:
        errs.append('profiles vaapitest created configs for: %s; vainfo (within vaapitest\'s table): %s' % (
            ','.join(sorted(logged)) or '-', ','.join(sorted(want_profiles)) or '-'))
    if mask != want_mask:
        errs.append('VAAPI_HWCODECS %s (%s), expected %d (%s)' % (
            mask, ','.join(codec_names(mask or 0)), want_mask, ','.join(codec_names(want_mask))))
    if not loaded:
        errs.append('libva did not report loading %s' % ours)
    ok = rc == 0 and values.get('VAAPI_SUPPORTED') == 'TRUE' and not errs
    s.report('PASS' if ok else 'FAIL', 'firefox vaapitest',
             'VAAPI_SUPPORTED=%s VAAPI_HWCODECS=%s (%s) profiles=%s not_in_vaapitest=%s %s %.2fs' % (
                 values.get('VAAPI_SUPPORTED'), values.get('VAAPI_HWCODECS'), ','.join(codec_names(mask or 0)),
                 ','.join(sorted(logged)) or '-', ','.join(sorted(profiles - want_profiles)) or '-',
                 'exit %d' % rc if rc != 124 else 'timeout', secs),
             errs + ([l for l in err.splitlines() if 'error' in l.lower()][:4] if not ok else []))

    # --- negative: a driver name without a .so
    absent = os.path.join(ddir, MISSING_DRIVER + '_drv_video.so')
    if os.path.exists(absent):
        s.report('FAIL', 'firefox vaapitest-negative', '%s exists: cannot test a missing driver' % absent)
        return
    nenv = dict(penv, LIBVA_DRIVER_NAME=MISSING_DRIVER)
    rc, out, err, secs = run([VAAPITEST, '-d', RENDER], os.path.join(fdir, 'vaapitest-negative'), nenv)
    values, problems = parse_report(out)
    init_failed = re.search(r'^vaInitialize failed', err, re.M) is not None
    ok = rc == 0 and values.get('VAAPI_SUPPORTED') != 'TRUE' and 'VAAPI_HWCODECS' not in values and init_failed
    s.report('PASS' if ok else 'FAIL', 'firefox vaapitest-negative',
             'LIBVA_DRIVER_NAME=%s: VAAPI_SUPPORTED=%s vaInitialize_failed=%s stdout=%r %s %.2fs' % (
                 MISSING_DRIVER, values.get('VAAPI_SUPPORTED'), init_failed, out[:60],
                 'exit %d' % rc if rc != 124 else 'timeout', secs),
             [l for l in err.splitlines() if l.strip()][:4] if not ok else [])


class _Suite:
    def __init__(self):
        self.failed = 0

    def report(self, status, case, detail='', lines=()):
        print(('%s %s %s' % (status, case, detail)).rstrip(), flush=True)
        for line in list(lines)[:12]:
            print('    ' + line, flush=True)
        self.failed += status == 'FAIL'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.path.join(ROOT, 'out', 'e2e', 'firefox-' + time.strftime('%Y%m%d-%H%M%S')))
    ap.add_argument('--driver-dir', default=os.path.join(ROOT, 'build', 'driver'))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    env = {'LIBVA_DRIVER_NAME': 'v4l2_request', 'LIBVA_DRIVERS_PATH': args.driver_dir}
    s = _Suite()
    t0 = time.time()
    cases(s, env, args.out, os.path.exists(os.path.join(args.driver_dir, 'v4l2_request_drv_video.so')))
    print('firefox: %d failed in %.1fs; logs in %s' % (s.failed, time.time() - t0, args.out))
    return 1 if s.failed else 0


if __name__ == '__main__':
    sys.exit(main())

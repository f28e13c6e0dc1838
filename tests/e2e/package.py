"""Packaging cases (issue 13), called from suite.py inside the visl guest (also `--only package`):

    package.cases(s, run, env, outdir, only, node, fmts, tenbit_out, vainfo_profiles, codecs, tracer, requests_in)

What they install is built on the host by scripts/package (a step of scripts/test-all) into
V4L2RVA_PACKAGE_DIR (default out/package): deb/va-driver-v4l2-request_<version>_<arch>.deb
and meson-destdir/ (meson install --destdir, default prefix).

The guest's root is the host's, read-only, and nothing may be installed on the host, so:
- dpkg installs the .deb for real (`dpkg --root=R -i`: unpacks, records it in its database,
  configures it) into R, a directory on the guest's /tmp (tmpfs), whose admin directory holds
  the system's status entries of the package's dependencies (dpkg checks them: libc6 and
  libgcc-s1 at the versions the package needs);
- each client then runs in its own mount namespace (`unshare --mount`, private propagation:
  nothing changes outside that process), where R's libva driver directory is bind-mounted
  over the system's (pkg-config libva driverdir), and without LIBVA_DRIVERS_PATH
  (LIBVA_DRIVER_NAME=v4l2_request only): libva finds the driver on its normal path.

- `package deb`: dpkg installs it (exit 0, `Status: install ok installed`, the driver in R at
  driverdir and the command at R/usr/bin); vainfo through it must report opening
  <driverdir>/v4l2_request_drv_video.so (libva's "Trying to open" line), `va_openDriver()
  returns 0`, and list exactly the profiles of the suite's `vainfo` case.
- `package deb-info`: the packaged v4l2-request-va-info (--json, same namespace) passes the
  checks of `info root` (tests/e2e/info.py), its libva check finding the driver in driverdir
  through pkg-config (not LIBVA_DRIVERS_PATH).
- `package meson-ffmpeg`: the meson-installed driver (meson-destdir/<driverdir>) the same way,
  ffmpeg `-v verbose -hwaccel vaapi` decoding tests/streams/h264-baseline.h264: every frame
  (framemd5), libva opened the installed file, no software fallback line, and at least one
  visl request per frame.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

import info

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PACKAGE_DIR = os.environ.get('V4L2RVA_PACKAGE_DIR', os.path.join(ROOT, 'out', 'package'))
PACKAGE = 'va-driver-v4l2-request'
DRIVER_FILE = 'v4l2_request_drv_video.so'
RENDER = '/dev/dri/renderD128'
STREAM = ('h264-baseline', 10)   # tests/streams/manifest.tsv: name, frames
FALLBACK = re.compile(r'Failed setup for format vaapi|falling back|software decoding|hwaccel initialisation returned error', re.I)


def libva_driverdir():
    return subprocess.run(['pkg-config', '--variable=driverdir', 'libva'], stdout=subprocess.PIPE,
                          text=True, check=True).stdout.strip()


def depends_names(depends):
    """Package names of a Depends field ("libc6 (>= 2.34), a | b:any" -> libc6, a, b)."""
    names = []
    for alt in re.split(r'[,|]', depends):
        m = re.match(r'\s*([a-z0-9][a-z0-9+.-]*)', alt)
        if m:
            names.append(m.group(1))
    return names


def in_namespace(src, dst):
    """Command prefix: a private mount namespace with src bind-mounted over dst, without
    LIBVA_DRIVERS_PATH."""
    return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
            'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', src, dst, 'env', '-u', 'LIBVA_DRIVERS_PATH']


def dpkg_install(run, deb, root, log):
    """dpkg --root=root -i deb, with an admin dir holding the system's status entries of the
    package's dependencies. Returns (problems, seconds)."""
    admin = os.path.join(root, 'var', 'lib', 'dpkg')
    for d in ('info', 'updates', 'triggers'):
        os.makedirs(os.path.join(admin, d))
    deps = subprocess.run(['dpkg-deb', '-f', deb, 'Depends'], stdout=subprocess.PIPE, text=True, check=True).stdout
    names = depends_names(deps)
    q = subprocess.run(['dpkg-query', '-s'] + names, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(os.path.join(admin, 'status'), 'w') as f:
        f.write(q.stdout)
    # Their (empty) file lists: dpkg reads the list of every installed package.
    q2 = subprocess.run(['dpkg-query', '-W', '-f', '${binary:Package}\\n'] + names, stdout=subprocess.PIPE, text=True)
    for pkg in q2.stdout.split():
        open(os.path.join(admin, 'info', pkg + '.list'), 'w').close()
    rc, out, err, secs = run(['dpkg', '--root=' + root, '-i', deb], log + '-dpkg-i')
    bad = [] if rc == 0 else ['dpkg -i: exit %d' % rc] + [l for l in (out + err).splitlines() if l.strip()][-4:]
    rc2, out2, _, secs2 = run(['dpkg', '--root=' + root, '-s', PACKAGE], log + '-dpkg-s')
    if 'Status: install ok installed' not in out2:
        bad.append('dpkg -s: exit %d, %s' % (rc2, [l for l in out2.splitlines() if l.startswith('Status:')] or 'no status'))
    return bad, secs + secs2


def cases(s, run, env, outdir, only, node, fmts, tenbit_out, vainfo_profiles, codecs, tracer, requests_in):
    if only and 'package' not in only:
        return
    pdir = os.path.join(outdir, 'package')
    os.makedirs(pdir, exist_ok=True)
    driverdir = libva_driverdir()
    debs = sorted(glob.glob(os.path.join(PACKAGE_DIR, 'deb', PACKAGE + '_*.deb')))
    cenv = {k: v for k, v in env.items() if k != 'LIBVA_DRIVERS_PATH'}

    # --- the .deb: dpkg installs it into R; vainfo and the info command through it
    root = tempfile.mkdtemp(prefix='v4l2rva-deb-root.')
    try:
        if len(debs) != 1:
            s.report('FAIL', 'package deb', '%d %s_*.deb in %s (scripts/package builds it)' % (len(debs), PACKAGE, os.path.join(PACKAGE_DIR, 'deb')))
            s.report('FAIL', 'package deb-info', 'no .deb')
        else:
            bad, secs = dpkg_install(run, debs[0], root, os.path.join(pdir, 'deb'))
            so = os.path.join(root, driverdir.lstrip('/'), DRIVER_FILE)
            tool = os.path.join(root, 'usr', 'bin', 'v4l2-request-va-info')
            if not os.path.isfile(so) or not os.access(tool, os.X_OK):
                bad.append('installed: %s %s, %s %s' % (so, os.path.isfile(so), tool, os.access(tool, os.X_OK)))
            ns = in_namespace(os.path.dirname(so), driverdir)
            rc, out, err, vsecs = run(ns + ['vainfo', '--display', 'drm', '--device', RENDER], os.path.join(pdir, 'deb-vainfo'), cenv)
            bad += vainfo_problems(rc, out, err, driverdir, vainfo_profiles)
            s.report('PASS' if not bad else 'FAIL', 'package deb', '%s: dpkg --root -i, vainfo %s profiles=%d %.1fs' % (
                os.path.basename(debs[0]), 'exit %d' % rc, len(profiles_of(out)), secs + vsecs), bad)

            rc, out, err, isecs = run(ns + [tool, '--json'], os.path.join(pdir, 'deb-info'), cenv)
            try:
                report = json.loads(out)
                bad = info.check_root(report, node, fmts, tenbit_out, vainfo_profiles, driverdir, codecs)
                if report['libva'].get('driver_dirs_from') != 'pkg-config libva driverdir':
                    bad.append('libva driver dirs from %r, expected pkg-config libva driverdir' % report['libva'].get('driver_dirs_from'))
            except (ValueError, KeyError, TypeError) as e:
                report, bad = None, ['invalid JSON: %r' % e] + err.splitlines()[-3:]
            if rc != 0:
                bad.insert(0, 'exit %d' % rc)
            s.report('PASS' if not bad else 'FAIL', 'package deb-info', '/usr/bin/v4l2-request-va-info of the package: exit %d decoders=%d driver=%s %.1fs' % (
                rc, len(report['decoders']) if report else 0, (report or {}).get('libva', {}).get('driver'), isecs), bad)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    # --- the meson-installed driver: ffmpeg decodes through it
    mso = os.path.join(PACKAGE_DIR, 'meson-destdir', driverdir.lstrip('/'), DRIVER_FILE)
    if not os.path.isfile(mso):
        s.report('FAIL', 'package meson-ffmpeg', '%s missing (scripts/package installs it)' % mso)
        return
    name, frames = STREAM
    stream = os.path.join(ROOT, 'tests', 'streams', name + '.h264')
    log = os.path.join(pdir, 'meson-ffmpeg')
    cmd = in_namespace(os.path.dirname(mso), driverdir) + [
        'ffmpeg', '-nostdin', '-hide_banner', '-v', 'verbose', '-hwaccel_device', RENDER, '-hwaccel', 'vaapi',
        '-hwaccel_output_format', 'vaapi', '-i', stream, '-vf', 'hwdownload,format=nv12', '-f', 'framemd5', '-']
    tracer.start()
    try:
        rc, out, err, secs = run(cmd, log, cenv)
    finally:
        tracer.stop(log + '.trace')
    n = sum(1 for l in out.splitlines() if l and not l.startswith('#'))
    reqs = requests_in(log + '.trace', 'h264')
    opened = 'Trying to open %s/%s' % (driverdir, DRIVER_FILE) in err
    fallback = [l for l in err.splitlines() if FALLBACK.search(l)]
    bad = fallback[:3]
    if not opened:
        bad.append('no "Trying to open %s/%s" line' % (driverdir, DRIVER_FILE))
    ok = rc == 0 and n == frames and reqs >= frames and opened and not fallback
    s.report('PASS' if ok else 'FAIL', 'package meson-ffmpeg %s' % name, 'frames=%d expected=%d requests=%d exit %d %.1fs' % (
        n, frames, reqs, rc, secs), bad + ([] if ok else [l for l in err.splitlines() if 'error' in l.lower()][:3]))


def profiles_of(out):
    return set(re.findall(r'^\s*(VAProfile\w+)\s*:\s*VAEntrypointVLD', out, re.M)) - {'VAProfileNone'}


def vainfo_problems(rc, out, err, driverdir, want):
    bad = []
    text = out + err
    path = '%s/%s' % (driverdir, DRIVER_FILE)
    if rc != 0:
        bad.append('vainfo exit %d' % rc)
    if 'Trying to open %s' % path not in text:
        bad.append('vainfo: no "Trying to open %s" line' % path)
    if 'va_openDriver() returns 0' not in text:
        bad.append('vainfo: no "va_openDriver() returns 0"')
    got = profiles_of(out)
    if not want or got != set(want):
        bad.append('vainfo profiles %s, the vainfo case lists %s' % (sorted(got), sorted(want)))
    return bad

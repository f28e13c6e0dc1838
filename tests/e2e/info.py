"""v4l2-request-va-info cases (issue 13), called from suite.py inside the visl guest:

    info.cases(s, run, env, outdir, only, node, fmts, tenbit_out, vainfo_profiles)

- `info root`: the tool as root (with the suite's LIBVA_DRIVER_NAME / LIBVA_DRIVERS_PATH),
  `--json` and text. It must exit 0 with no problem, list visl's node (driver visl, used by
  the driver, requests yes) with every OUTPUT format v4l2-ctl lists, for each codec's coded
  format the CAPTURE formats v4l2-ctl lists, frame-size limits, the VA profiles the codec
  table expects (10-bit ones where visl offers P010) and, for S264/S265, the decode mode and
  start code with both values offered; its VA profiles must be exactly vainfo's (per coded
  format: the codec table's profiles that vainfo lists); libva's
  check must find the driver in LIBVA_DRIVERS_PATH and its __vaDriverInit_1_* symbol.
- `info unprivileged`: the tool as nobody (`setpriv --reuid=65534 --regid=65534
  --clear-groups`; devtmpfs nodes are root:root 0600 in the guest): exit 1, no decoder, a
  `problem:` line naming /dev/media0 and visl's video node with its `-- fix:` on the same
  line; the JSON has the same problem.
- `info driver-warning`: vainfo as nobody (the render node opened up for the run): the
  driver, its logging off, prints exactly one warning about /dev/media0 with the remedy.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INFO = os.environ.get('V4L2RVA_INFO_BIN', os.path.join(ROOT, 'target', 'release', 'v4l2-request-va-info'))
RENDER = '/dev/dri/renderD128'
NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
DRIVER_WARNING = 'v4l2-request-va: warning: '


def _json(out):
    try:
        return json.loads(out), None
    except ValueError as e:
        return None, 'invalid JSON: %s' % e


def check_root(report, node, fmts, tenbit_out, vainfo_profiles, ddir, codecs):
    """Problems with the root run's JSON report (empty list: all good)."""
    bad = []
    if report['problems']:
        bad += ['problem reported: %s -- %s' % (p['problem'], p['fix']) for p in report['problems']]
    decs = [d for d in report['decoders'] if d['video'] == node]
    if not decs:
        return bad + ['%s not among the decoders %s' % (node, [d['video'] for d in report['decoders']])]
    d = decs[0]
    if d['driver'] != 'visl' or not d['used'] or not d['requests']:
        bad.append('decoder %s: driver=%s used=%s requests=%s' % (node, d['driver'], d['used'], d['requests']))
    coded = {c['fourcc']: c for c in d['coded_formats']}
    if sorted(coded) != sorted(fmts['out']):
        bad.append('coded formats %s, v4l2-ctl lists %s' % (sorted(coded), sorted(fmts['out'])))
    for name, codec in codecs.items():
        c = coded.get(codec['visl_fourcc'])
        if c is None:
            continue
        # The codec table's profiles that vainfo lists (the driver may drop a coded format,
        # e.g. under a device profile whose CAPTURE formats it cannot describe).
        want = (set(codec['va_profiles']) | ({codec['tenbit']} if codec['tenbit'] and tenbit_out else set())) & set(vainfo_profiles)
        got = {'VAProfile' + p for p in c['va_profiles']}
        if got != want:
            bad.append('%s: VA profiles %s, expected %s' % (c['fourcc'], sorted(got), sorted(want)))
        cap = c['capture_formats']
        if not isinstance(cap, list) or sorted(cap) != sorted(fmts['cap']):
            bad.append('%s: CAPTURE formats %s, v4l2-ctl lists %s' % (c['fourcc'], cap, fmts['cap']))
        fs = c['frame_sizes']
        if not (isinstance(fs, dict) and 'max' in fs or isinstance(fs, list) and fs):
            bad.append('%s: no frame sizes: %s' % (c['fourcc'], fs))
        if c['controls'] != 'ok':
            bad.append('%s: controls %s' % (c['fourcc'], c['controls']))
        if c['fourcc'] in ('S264', 'S265'):
            for what in ('decode_mode', 'start_code'):
                m = c['modes'].get(what)
                if not m or not m['current'] or len(m['offered']) != 2:
                    bad.append('%s: %s %s (visl offers two values)' % (c['fourcc'], what, m))
        if codec['tenbit']:
            tb = c['ten_bit'] or ''
            if tb.startswith('yes') != tenbit_out:
                bad.append('%s: 10-bit %r, visl P010 on CAPTURE: %s' % (c['fourcc'], tb, tenbit_out))
    if set('VAProfile' + p for p in report['va_profiles']) != set(vainfo_profiles):
        bad.append('VA profiles %s, vainfo lists %s' % (sorted(report['va_profiles']), sorted(vainfo_profiles)))
    lv = report['libva']
    if lv['driver'] != os.path.join(ddir, 'v4l2_request_drv_video.so') or not (lv['init_symbol'] or '').startswith('__vaDriverInit_1_'):
        bad.append('libva: driver=%s init_symbol=%s load_error=%s' % (lv['driver'], lv['init_symbol'], lv['load_error']))
    return bad


def cases(s, run, env, outdir, only, node, fmts, tenbit_out, vainfo_profiles, codecs):
    if only and not ({'info', 'h264'} & set(only)):
        return
    idir = os.path.join(outdir, 'info')
    os.makedirs(idir, exist_ok=True)
    if not os.access(INFO, os.X_OK):
        s.report('FAIL', 'info', '%s not built (cargo build --release)' % INFO)
        return
    ddir = env['LIBVA_DRIVERS_PATH']

    # --- as root
    rc, out, err, secs = run([INFO, '--json'], os.path.join(idir, 'root.json'), env)
    report, why = _json(out)
    bad = [why] if why else check_root(report, node, fmts, tenbit_out, vainfo_profiles, ddir, codecs)
    trc, tout, terr, tsecs = run([INFO], os.path.join(idir, 'root.text'), env)
    if trc != 0 or 'no problems found' not in tout or not any(l.strip().startswith(node + ' visl ') for l in tout.splitlines()):
        bad.append('text output: exit %d, "no problems found" %s, "%s visl" line %s' % (
            trc, 'no problems found' in tout, node, any(l.strip().startswith(node + ' visl ') for l in tout.splitlines())))
    if rc != 0:
        bad.insert(0, 'exit %d' % rc)
    profiles = report['va_profiles'] if report else []
    s.report('PASS' if not bad else 'FAIL', 'info root', 'exit %d decoders=%d profiles=%s %.1fs' % (
        rc, len(report['decoders']) if report else 0, ','.join(profiles) or '-', secs + tsecs), bad)

    # --- as nobody, without access to the device nodes
    rc, out, err, secs = run(NOBODY + [INFO], os.path.join(idir, 'nobody.text'), env)
    lines = out.splitlines()
    problems = [l for l in lines if l.startswith('problem: ')]
    perm = [l for l in problems if '/dev/media0' in l and node in l and ' has no read/write access to ' in l and ' -- fix: ' in l]
    bad = []
    if rc != 1:
        bad.append('exit %d (expected 1: problems)' % rc)
    if not perm:
        bad.append('no permission problem naming /dev/media0 and %s with its fix' % node)
    jrc, jout, jerr, jsecs = run(NOBODY + [INFO, '--json'], os.path.join(idir, 'nobody.json'), env)
    report, why = _json(jout)
    if why or report['decoders'] or not any('/dev/media0' in p['problem'] and p['fix'] for p in report['problems']):
        bad.append('JSON: %s' % (why or 'decoders=%d problems=%s' % (len(report['decoders']), report['problems'])))
    s.report('PASS' if not bad else 'FAIL', 'info unprivileged', 'exit %d problems=%d %.1fs' % (rc, len(problems), secs + jsecs),
             bad + perm[:1] + [l for l in err.splitlines() if l.strip()][:3])

    # --- the driver's own warning, once, with logging off
    mode = os.stat(RENDER).st_mode & 0o777
    try:
        os.chmod(RENDER, 0o666)   # libva must open the render node to load the driver
        rc, out, err, secs = run(['env', '-u', 'LIBVA_V4L2_REQUEST_LOG'] + NOBODY + ['vainfo', '--display', 'drm', '--device', RENDER],
                                 os.path.join(idir, 'nobody.vainfo'), env)
    finally:
        os.chmod(RENDER, mode)
    warnings = [l for l in err.splitlines() if l.startswith(DRIVER_WARNING)]
    ok = (len(warnings) == 1 and '/dev/media0' in warnings[0]
          and ('usermod' in warnings[0] or 'udev rule' in warnings[0]))
    s.report('PASS' if ok else 'FAIL', 'info driver-warning', 'vainfo as nobody: %s, %d driver warning(s) %.1fs' % (
        'exit %d' % rc, len(warnings), secs), warnings[:2] + ([] if ok else err.splitlines()[-4:]))

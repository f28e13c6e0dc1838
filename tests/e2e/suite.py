#!/usr/bin/env python3
"""End-to-end suite, run inside the visl guest (tests/e2e/run-suite; see README "Test bed").

One line per case: PASS|FAIL|TODO <case> <details>, then `N passed, N failed`.

Which driver cases run: the suite asks vainfo which profiles the driver advertises. A codec
with an advertised profile gets all driver cases (ffmpeg, gst-va, mpv, trace comparison);
H.264 is always required (its cases FAIL when the driver does not advertise it); a codec
visl supports but the driver does not advertise yields one visible `TODO` line per stream
(counted, printed in the summary, never silently dropped).

Device profiles (tests/e2e/profiles.py, scripts/vm/profiles): the guest may boot visl as a
profile (V4L2RVA_VM_PROFILE, set by scripts/vm/run --profile). The `profile` cases check that
the device really is that profile (kernel command line, CAPTURE formats and frame sizes per
codec, HOLD_CAPTURE_BUF); the expectations follow it: a codec whose CAPTURE formats are all
tiled (ST12, VT12, MM21) is decoded into the tiled format and its streams get the same driver
cases (the `tiled-capture` cases check the driver's info line, the `tiled-export` case the
export layout or its refusal, `tiled-pixels` and `tiled-put-image` the detiled pixels against
the pattern the test kernel's visl writes into tiled pictures, and vaPutImage into them),
10-bit profiles only with linear P010, and the `limits` cases compare the driver's size
limits with the device's frame sizes.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import codec_table as C  # noqa: E402
import profiles as P  # noqa: E402
import vtrace  # noqa: E402
import info  # noqa: E402
import package  # noqa: E402

TRACING = '/sys/kernel/tracing'
RENDER = '/dev/dri/renderD128'
CLIENT_TIMEOUT = int(os.environ.get('V4L2RVA_CLIENT_TIMEOUT', '60'))
# GStreamer registries (baseline: without the driver; driver: with it) in the checkout, so
# that later guest boots (the device profiles) reuse them; GStreamer rescans what changed.
GST_REGISTRY_DIR = os.path.join(ROOT, 'out', 'gst-registry')
# The driver's teardown summary (LIBVA_V4L2_REQUEST_LOG=info): its CAPTURE peak in buffers
# and MiB. Read by the requeue cases here, tests/e2e/proof.py and small_memory.py.
CAPTURE_PEAK_RE = re.compile(r'CAPTURE peak (\d+) buffers, ([\d.]+) MiB')


class Suite:
    def __init__(self, out):
        self.out = out
        self.passed = self.failed = self.todo = 0

    def report(self, status, case, detail='', lines=()):
        print(('%s %s %s' % (status, case, detail)).rstrip(), flush=True)
        for line in list(lines)[:12]:
            print('    ' + line, flush=True)
        if status == 'PASS':
            self.passed += 1
        elif status == 'FAIL':
            self.failed += 1
        else:
            self.todo += 1


def run(cmd, log, env=None, timeout=CLIENT_TIMEOUT, stdout_file=None):
    """Runs cmd (no stdin, own process group), writes stdout/stderr to log.*.
    Returns (rc, stdout, stderr, seconds); rc 124 on timeout."""
    e = dict(os.environ)
    e['AV_LOG_FORCE_NOCOLOR'] = '1'
    e.update(env or {})
    t0 = time.time()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=e, start_new_session=True, text=True, errors='replace')
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        rc = 124
    with open(log + '.cmd', 'w') as f:
        f.write(' '.join(cmd) + '\n')
    with open(log + '.out', 'w') as f:
        f.write(out)
    with open(log + '.err', 'w') as f:
        f.write(err)
    return rc, out, err, time.time() - t0


def without_driver_info(lines):
    """A client's stderr lines from a run with LIBVA_V4L2_REQUEST_LOG=info: the driver's own
    warnings and errors and the client's lines stay, its info/debug log (and the indented
    lines of its pool summary) go."""
    return [l for l in lines if re.search(r'\b(WARN|ERROR)\b', l) or not re.search(r'\b(INFO|DEBUG)\b|^\s', l)]


def rc_text(rc):
    if rc == 124:
        return 'timeout after %ds' % CLIENT_TIMEOUT
    if rc < 0:
        return 'killed by signal %d' % -rc
    return 'exit %d' % rc


class Tracer:
    """visl control events + v4l2 qbuf/dqbuf events, cleared before and saved after a run."""

    def __init__(self):
        self.ok = os.path.isdir(os.path.join(TRACING, 'events'))

    def _w(self, rel, val):
        with open(os.path.join(TRACING, rel), 'w') as f:
            f.write(val)

    def start(self):
        if not self.ok:
            return
        self._w('tracing_on', '0')
        self._w('buffer_size_kb', '16384')
        for d in glob.glob(os.path.join(TRACING, 'events', 'visl_*')):
            self._w(os.path.relpath(os.path.join(d, 'enable'), TRACING), '1')
        for ev in ('v4l2_qbuf', 'v4l2_dqbuf'):
            self._w('events/v4l2/%s/enable' % ev, '1')
        self._w('trace', '')
        self._w('tracing_on', '1')

    def stop(self, path):
        if not self.ok:
            open(path, 'w').close()
            return
        self._w('tracing_on', '0')
        shutil.copyfile(os.path.join(TRACING, 'trace'), path)


def traced(tracer, trace_path, fn):
    tracer.start()
    try:
        return fn()
    finally:
        tracer.stop(trace_path)


def requests_in(trace_path, codec):
    return len(vtrace.records(vtrace.read_trace(trace_path), codec))


def find_visl():
    for d in sorted(glob.glob('/sys/class/video4linux/video*')):
        try:
            if open(os.path.join(d, 'name')).read().strip() == 'visl':
                return '/dev/' + os.path.basename(d)
        except OSError:
            pass
    return None


def list_formats(node, s):
    rc, out, err, _ = run(['v4l2-ctl', '-d', node, '--list-formats-out', '--list-formats'],
                          os.path.join(s.out, 'v4l2-formats'))
    fmts = {'out': [], 'cap': []}
    cur = None
    for line in out.splitlines():
        if 'Type:' in line:
            cur = 'out' if 'Output' in line else 'cap'
        m = re.search(r"\[\d+\]: '(\w+)'", line)
        if m and cur:
            fmts[cur].append(m.group(1))
    return rc, fmts


def stream_path(st):
    return os.path.join(ROOT, 'tests', 'streams', st['file'])


# ---------------------------------------------------------------------------- clients
def gst_count(out):
    return sum(1 for l in out.splitlines() if 'chain' in l and 'last-message' in l)


def gst_errors(out, err):
    return [l for l in (out + err).splitlines() if re.match(r'^(ERROR|WARNING|\(gst-launch|.*CRITICAL)', l)]


def gst_registry_warmup(log, env=None):
    """Scan GStreamer's registry once, with a generous timeout, before the timed clients: a
    fresh guest has none, and the scan (longer than CLIENT_TIMEOUT on a loaded TCG host)
    would otherwise be charged to the first gst-launch, which its timeout kills before the
    registry is written, so that every later one scans again."""
    rc, _, _, secs = run(['gst-inspect-1.0', 'fakesink'], log, env, timeout=max(300, CLIENT_TIMEOUT))
    print('suite: GStreamer registry%s scanned in %.0fs (%s)' % (' (driver)' if env else '', secs, rc_text(rc)), flush=True)


def client_gst(element, path, log, env=None):
    cmd = ['gst-launch-1.0', '--no-fault', '-v', 'filesrc', 'location=' + path, '!', 'parsebin', '!',
           element, '!', 'fakesink', 'silent=false']
    rc, out, err, secs = run(cmd, log, env)
    return rc, gst_count(out), gst_errors(out, err), secs


def client_ffmpeg(path, log, env, export=False, wrap=(), codec=None, sw_format='nv12'):
    if export:
        # Every frame exported (vaExportSurfaceHandle) as DRM PRIME and read back by mmap.
        # ffmpeg 5.1 cannot derive a DRM device from a VAAPI one, so the VAAPI device is
        # derived from a DRM device and hwmap finds that one.
        dev = ['-init_hw_device', 'drm=dr:' + RENDER, '-init_hw_device', 'vaapi=va@dr', '-hwaccel_device', 'va']
        vf = 'hwmap=derive_device=drm,format=drm_prime,hwdownload,format=' + sw_format
    else:
        dev = ['-hwaccel_device', RENDER]
        vf = 'hwdownload,format=' + sw_format
    dec = C.CODECS.get(codec, {}).get('ffmpeg_decoder')
    cmd = list(wrap) + ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error'] + dev + [
        '-hwaccel', 'vaapi', '-hwaccel_output_format', 'vaapi'] + (['-c:v', dec] if dec else []) + ['-i', path, '-vf', vf, '-f', 'framemd5', '-']
    rc, out, err, secs = run(cmd, log, env)
    frames = sum(1 for l in out.splitlines() if l and not l.startswith('#'))
    errors = [l for l in err.splitlines() if l.strip()]
    return rc, frames, errors, secs


def client_mpv(path, log, env):
    outdir = log + '.frames'
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    cmd = ['mpv', '--no-config', '--msg-level=all=warn,vd=info', '--hwdec=vaapi-copy', '--hwdec-codecs=all',
           '--vaapi-device=' + RENDER, '--vo=image', '--vo-image-format=png', '--vo-image-outdir=' + outdir,
           '--untimed', '--no-audio', '--no-input-terminal', '--term-osd=no', path]
    rc, out, err, secs = run(cmd, log, env)
    frames = len(os.listdir(outdir))
    text = out + err
    errors = [l for l in text.splitlines() if re.search(r'error|fail|could not|cannot', l, re.I)]
    if 'Using hardware decoding (vaapi-copy)' not in text:
        errors.insert(0, 'mpv did not report "Using hardware decoding (vaapi-copy)"')
    shutil.rmtree(outdir, ignore_errors=True)
    return rc, frames, errors, secs


# ------------------------------------------------------------------------------ cases
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--only', default='', help='comma-separated codecs or stream names')
    ap.add_argument('--clients', default='', help='comma-separated driver clients of the stream cases '
                    '(ffmpeg, gst-va, mpv, ffmpeg-frame; default: all)')
    ap.add_argument('--out', default=None,
                    help='output dir (default: a fresh out/e2e/run-<time>-<pid>, linked as out/e2e/latest)')
    ap.add_argument('--driver-dir', default=os.path.join(ROOT, 'build', 'driver'))
    ap.add_argument('--driver-so', default=os.path.join(ROOT, 'target', 'release', 'libv4l2_request_va.so'))
    args = ap.parse_args()
    t_start = time.time()
    if args.out is None:
        # a fresh directory per run: several people/runs may share the checkout
        base = os.path.join(ROOT, 'out', 'e2e')
        args.out = os.path.join(base, time.strftime('run-%Y%m%d-%H%M%S-') + str(os.getpid()))
        os.makedirs(args.out)
        latest = os.path.join(base, 'latest')
        try:
            if os.path.islink(latest):
                os.unlink(latest)
            os.symlink(os.path.basename(args.out), latest)
        except OSError:
            pass
    else:
        for sub in ('baseline', 'driver'):   # no stale logs/traces from an earlier run
            shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
        os.makedirs(args.out, exist_ok=True)
    s = Suite(args.out)
    prof = P.current()
    os.makedirs(GST_REGISTRY_DIR, exist_ok=True)
    os.environ['GST_REGISTRY'] = os.path.join(GST_REGISTRY_DIR, 'baseline.bin')
    only = set(x for x in args.only.split(',') if x)
    streams = [st for st in C.read_manifest(os.path.join(ROOT, 'tests', 'streams', 'manifest.tsv'))
               if not only or st['codec'] in only or st['name'] in only]
    tracer = Tracer()

    # --- environment and visl formats
    node = find_visl()
    if not node or not os.path.exists(RENDER) or not tracer.ok:
        s.report('FAIL', 'environment', 'visl=%s %s=%s tracefs=%s' % (node, RENDER, os.path.exists(RENDER), tracer.ok))
        return finish(s, t_start)
    rc, fmts = list_formats(node, s)
    if rc == 0 and 'S264' in fmts['out'] and fmts['cap']:
        s.report('PASS', 'v4l2-formats', '%s output=%s capture=%s' % (node, ','.join(fmts['out']), ','.join(fmts['cap'])))
    else:
        s.report('FAIL', 'v4l2-formats', '%s rc=%d output=%s capture=%s' % (node, rc, fmts['out'], fmts['cap']))
    device_profile_cases(s, node, prof)
    # The driver offers 10-bit profiles only with linear P010 output (NV15 and tiled 10-bit
    # formats cannot be exported as P010; docs/design.md), so expect them only then; codecs
    # whose CAPTURE formats are all tiled get their 8-bit profiles (decoded tiled, detiled
    # for images).
    tenbit_out = {c: prof.tenbit(c) for c in C.CODECS}

    # --- baseline: GStreamer v4l2codecs (or the trace_headers oracle)
    bdir = os.path.join(args.out, 'baseline')
    os.makedirs(bdir, exist_ok=True)
    baseline_ok = {}
    if any(C.CODECS[st['codec']]['gst_v4l2'] and prof.describable(st['codec']) for st in streams):
        gst_registry_warmup(os.path.join(bdir, 'gst-registry'))
    for st in streams:
        codec = C.CODECS[st['codec']]
        path = stream_path(st)
        el = codec['gst_v4l2']
        if not prof.describable(st['codec']):
            continue            # no driver case to compare with (TODO below)
        if el is None:
            try:
                pics = vtrace.trace_headers(st['codec'], path)
            except Exception as e:  # noqa: BLE001
                pics = []
                print('    trace_headers: %s' % e)
            ok = len(pics) == st['frames']
            baseline_ok[st['name']] = ok
            s.report('PASS' if ok else 'FAIL', 'baseline trace_headers %s' % st['name'],
                     'pictures=%d expected=%d' % (len(pics), st['frames']))
            continue
        trace = os.path.join(bdir, st['name'] + '.trace')
        rc, n, errs, secs = traced(tracer, trace, lambda: client_gst(el, path, os.path.join(bdir, st['name'] + '.gst')))
        reqs = requests_in(trace, st['codec'])
        ok = rc == 0 and n == st['frames'] and reqs >= st['frames'] and not errs
        baseline_ok[st['name']] = ok
        if not ok and no_hold_multislice(prof, st, errs):
            s.report('TODO', 'baseline %s %s' % (el, st['name']), 'profile %s: GStreamer %s cannot decode multi-slice pictures without '
                     'HOLD_CAPTURE_BUF (%s); the driver clients\' traces are compared with each other' % (prof.name, el, errs[0] if errs else rc_text(rc)))
            continue
        s.report('PASS' if ok else 'FAIL', 'baseline %s %s' % (el, st['name']),
                 'frames=%d expected=%d requests=%d %s %.1fs' % (n, st['frames'], reqs, rc_text(rc), secs), errs)

    # --- the crate's own device tests (tests/*.rs gated on V4L2RVA_DEVICE_TESTS=1): they
    # expect visl as patched, so they run on the default profile only.
    if prof.name != 'default':
        print('suite: profile %s: the crate device tests run on the default profile only' % prof.name, flush=True)
    for name, binary in device_test_binaries() if prof.name == 'default' else ():
        if binary is None:
            s.report('FAIL', 'cargo-device-test %s' % name, 'test binary not built (cargo test --release --no-run)')
            continue
        rc, out, err, secs = run([binary, '--test-threads=1'], os.path.join(args.out, 'cargo-' + name),
                                 {'V4L2RVA_DEVICE_TESTS': '1'}, timeout=300)
        m = re.findall(r'test result: \w+\. (\d+) passed; (\d+) failed', out)
        fails = [l for l in out.splitlines() if l.endswith('FAILED')]
        s.report('PASS' if rc == 0 and m else 'FAIL', 'cargo-device-test %s' % name,
                 '%s %s %.1fs' % (('passed=%s failed=%s' % m[-1]) if m else 'no result', rc_text(rc), secs), fails)

    # --- the driver
    ddir = args.driver_dir
    so = os.path.join(ddir, 'v4l2_request_drv_video.so')
    # GStreamer caches which va elements exist in its registry: the driver runs get their own
    # registry, scanned with the driver visible (the baseline's registry was scanned without it).
    env = {'LIBVA_DRIVER_NAME': 'v4l2_request', 'LIBVA_DRIVERS_PATH': ddir, 'GST_VA_ALL_DRIVERS': '1',
           'GST_REGISTRY': os.path.join(GST_REGISTRY_DIR, 'driver.bin')}
    if os.path.exists(args.driver_so):
        os.makedirs(ddir, exist_ok=True)
        if os.path.realpath(so) != os.path.realpath(args.driver_so):
            if os.path.lexists(so):
                os.unlink(so)
            os.symlink(os.path.abspath(args.driver_so), so)
    built = os.path.exists(so)
    outdir = os.path.join(args.out, 'driver')
    os.makedirs(outdir, exist_ok=True)

    claimed = set()
    expected = set()
    for name, codec in C.CODECS.items():
        if codec['visl_fourcc'] in fmts['out'] and prof.describable(name):
            expected |= codec['va_profiles']
            if codec['tenbit'] and tenbit_out[name]:
                expected.add(codec['tenbit'])
    if not built:
        s.report('FAIL', 'vainfo', 'driver not built: %s missing (cargo build --release)' % args.driver_so)
    else:
        rc, out, err, secs = run(['vainfo', '--display', 'drm', '--device', RENDER], os.path.join(outdir, 'vainfo'), env)
        profiles = set(re.findall(r'^\s*(VAProfile\w+)\s*:\s*VAEntrypointVLD', out, re.M)) - {'VAProfileNone'}
        for name, codec in C.CODECS.items():
            if profiles & (codec['va_profiles'] | ({codec['tenbit']} if codec['tenbit'] else set())):
                claimed.add(name)
        # Exactly the device's profiles: nothing extra, every profile of each advertised codec
        # and of the required codecs; codecs not advertised at all are TODO (visible, counted).
        must = set()
        for name, codec in C.CODECS.items():
            if codec['visl_fourcc'] in fmts['out'] and (name in claimed or codec.get('required')):
                must |= codec['va_profiles'] & expected
        missing, extra = sorted(must - profiles), sorted(profiles - expected)
        todo = sorted(expected - must - profiles)
        ok = rc == 0 and not missing and not extra
        errs = [l for l in err.splitlines() if 'error' in l.lower()][:5]
        s.report('PASS' if ok else 'FAIL', 'vainfo', '%s profiles=%s %s' % (
            rc_text(rc), ','.join(sorted(profiles)) or '-',
            ('' if ok else 'missing=%s extra=%s' % (','.join(missing) or '-', ','.join(extra) or '-'))), errs)
        # --- the diagnostic command, as root and unprivileged (tests/e2e/info.py)
        info.cases(s, run, env, outdir, only, node, fmts, 'P010' in fmts['cap'], profiles, C.CODECS)
        # --- the .deb and the meson install, loaded from libva's driver directory (tests/e2e/package.py)
        package.cases(s, run, env, outdir, only, node, fmts, 'P010' in fmts['cap'], profiles, C.CODECS, tracer, requests_in)
        if todo:
            s.report('TODO', 'vainfo', 'device profiles the driver does not advertise yet: %s' % ','.join(todo))
        not_advertised_cases(s, outdir, env, prof, fmts)
        tiled_cases(s, outdir, env, prof, fmts, streams)
        limits_cases(s, outdir, env, prof, claimed, only)

    if built and any(prof.describable(st['codec']) for st in streams):
        gst_registry_warmup(os.path.join(outdir, 'gst-registry'), env)
    for st in streams:
        name, cname = st['name'], st['codec']
        codec = C.CODECS[cname]
        path = stream_path(st)
        if not prof.describable(cname):
            s.report('TODO', 'driver %s' % name, 'profile %s: %s CAPTURE (%s) has no format the driver decodes into'
                     % (prof.name, cname, prof.tiled_only(cname)))
            continue
        if cname not in claimed and not codec.get('required'):
            s.report('TODO', 'driver %s' % name, 'codec %s not advertised by the driver (ffmpeg, gst-va, mpv, trace cases pending)' % cname)
            continue
        negative = name in C.NEGATIVE and not (C.NEGATIVE[name] and C.NEGATIVE[name] in claimed_profiles(outdir)
                                               and (name not in C.TENBIT or tenbit_out[cname]))
        if not built:
            for client in (('ffmpeg-negative',) if negative else ('ffmpeg', 'gst-va', 'mpv', 'trace')):
                s.report('FAIL', '%s %s' % (client, name), 'driver not built')
            continue
        if negative:
            trace = os.path.join(outdir, name + '.ffmpeg.trace')
            rc, n, errs, secs = traced(tracer, trace, lambda: client_ffmpeg(path, os.path.join(outdir, name + '.ffmpeg'), env, codec=cname))
            reqs = requests_in(trace, cname)
            ok = rc not in (124,) and rc >= 0 and reqs == 0
            s.report('PASS' if ok else 'FAIL', 'ffmpeg-negative %s' % name,
                     'not offloaded: requests=%d %s (needs %s)' % (reqs, rc_text(rc), C.NEGATIVE[name] or 'a profile VA lacks'))
            continue
        traces = {}
        # 10-bit streams (decoded only where the device offers P010) download as P010.
        sw_format = 'p010le' if name in C.TENBIT else 'nv12'
        # H.264 and HEVC also run through the driver's other device modes (visl offers both;
        # by default the driver follows the device's current values, slice-based raw NALs):
        # ffmpeg-frame = frame-based decoding with Annex-B start codes.
        clients = ('ffmpeg', 'gst-va', 'mpv') + (('ffmpeg-frame',) if cname in ('h264', 'hevc') else ())
        if args.clients:
            clients = tuple(c for c in clients if c in args.clients.split(','))
        for client in clients:
            log = os.path.join(outdir, '%s.%s' % (name, client))
            trace = log + '.trace'
            if client == 'ffmpeg':
                fn = lambda: client_ffmpeg(path, log, env, codec=cname, sw_format=sw_format)  # noqa: E731
            elif client == 'ffmpeg-frame':
                fenv = dict(env, LIBVA_V4L2_REQUEST_DECODE_MODE='frame', LIBVA_V4L2_REQUEST_START_CODE='annexb')
                fn = lambda: client_ffmpeg(path, log, fenv, codec=cname, sw_format=sw_format)  # noqa: E731
            elif client == 'gst-va':
                fn = lambda: client_gst(codec['gst_va'], path, log, env)  # noqa: E731
            else:
                fn = lambda: client_mpv(path, log, env)  # noqa: E731
            rc, n, errs, secs = traced(tracer, trace, fn)
            reqs = requests_in(trace, cname)
            ok = rc == 0 and n == st['frames'] and reqs >= st['frames'] and not errs
            if reqs:
                traces[client] = trace
            s.report('PASS' if ok else 'FAIL', '%s %s' % (client, name),
                     'frames=%d expected=%d requests=%d %s %.1fs' % (n, st['frames'], reqs, rc_text(rc), secs), errs)
        # trace comparison, per client that reached the device
        base = os.path.join(bdir, name + '.trace')
        for client in clients:
            if client not in traces:
                s.report('FAIL', 'trace %s %s' % (client, name), 'no requests reached visl')
                continue
            try:
                if codec['gst_v4l2'] is None:
                    # A1: clients that decode ahead get exact AV1 refresh_frame_flags (see vtrace).
                    # (gst-va exports and crops each AV1 frame smaller than its surface as
                    # soon as it is decoded; the export waits for the decode, so those
                    # pictures go out before their successor, with guessed flags: C.AV1_EXPORTED.)
                    ahead = client == 'mpv' or (client == 'gst-va' and name not in C.AV1_EXPORTED)
                    ok, n, nf, msgs = vtrace.oracle(cname, traces[client], path, refresh_exact_but_last=ahead)
                    what = 'vs trace_headers'
                elif not baseline_ok.get(name) and no_hold_multislice(prof, st, ['Driver did not accept']):
                    # No v4l2codecs baseline without HOLD: gst-va's requests against ffmpeg's
                    # (both frame-based here, from two independent H.264 parsers).
                    if client == 'ffmpeg':
                        s.report('TODO', 'trace ffmpeg %s' % name, 'no baseline without HOLD_CAPTURE_BUF: compared as the reference of the other clients')
                        continue
                    if 'ffmpeg' not in traces:
                        s.report('FAIL', 'trace %s %s' % (client, name), 'no ffmpeg trace to compare with')
                        continue
                    ok, n, nf, msgs = vtrace.compare(cname, traces[client], traces['ffmpeg'])
                    what = 'vs ffmpeg (no v4l2codecs baseline without HOLD)'
                elif baseline_ok.get(name):
                    # Without HOLD_CAPTURE_BUF the driver decodes H.264 frame-based (one
                    # request per picture) on devices that offer it, as visl does.
                    frame_based = client == 'ffmpeg-frame' or (not prof.hold and cname == 'h264')
                    ok, n, nf, msgs = vtrace.compare(cname, traces[client], base, frame_based=frame_based)
                    what = 'vs %s' % codec['gst_v4l2']
                else:
                    s.report('FAIL', 'trace %s %s' % (client, name), 'no baseline trace')
                    continue
            except Exception as e:  # noqa: BLE001 -- a broken trace is a failed case, not a crash
                s.report('FAIL', 'trace %s %s' % (client, name), 'comparison error: %r' % e)
                continue
            s.report('PASS' if ok else 'FAIL', 'trace %s %s' % (client, name), 'frames=%d fields=%d %s' % (n, nf, what), msgs)
        memory_case(s, name, codec, base if baseline_ok.get(name) else None, traces)

    # --- concurrency: one GStreamer process decoding three streams at once (three va
    # decoders, each in its own streaming thread, on one VA display: one driver instance
    # whose object tables, contexts and V4L2 sessions are used from several threads).
    if (not only or 'concurrent' in only or 'h264' in only) and built:
        manifest = {st['name']: st for st in C.read_manifest(os.path.join(ROOT, 'tests', 'streams', 'manifest.tsv'))}
        parts = [manifest['h264-bframes'], manifest['h264-slices']]
        if 'vp9' in claimed:
            parts.append(manifest['vp9-p0'])
        # Frames are counted as files written by one multifilesink per stream (gst-launch's
        # -v last-message notifications are not reliable with several sinks in threads);
        # the caps filter makes each decoder download to system memory (vaGetImage/derive).
        fdir = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'v4l2rva-concurrent')
        shutil.rmtree(fdir, ignore_errors=True)
        cmd = ['gst-launch-1.0', '--no-fault']
        for i, st in enumerate(parts):
            os.makedirs(os.path.join(fdir, str(i)))
            cmd += ['filesrc', 'location=' + stream_path(st), '!', 'parsebin', '!', C.CODECS[st['codec']]['gst_va'],
                    '!', 'video/x-raw,format=NV12', '!', 'multifilesink', 'location=' + os.path.join(fdir, str(i), 'f%05d')]
        log = os.path.join(outdir, 'concurrent.gst-va')
        rc, out, err, secs = run(cmd, log, env)
        counts = [len(os.listdir(os.path.join(fdir, str(i)))) for i in range(len(parts))]
        sizes_ok = all(os.path.getsize(os.path.join(fdir, str(i), f)) >= 176 * 144 * 3 // 2
                       for i in range(len(parts)) for f in os.listdir(os.path.join(fdir, str(i))))
        shutil.rmtree(fdir, ignore_errors=True)
        want = [st['frames'] for st in parts]
        errs = gst_errors(out, err)
        ok = rc == 0 and counts == want and sizes_ok and not errs
        s.report('PASS' if ok else 'FAIL', 'concurrent gst-va %s' % '+'.join(st['name'] for st in parts),
                 'frames=%s expected=%s %s %.1fs' % (counts, want, rc_text(rc), secs), errs)

    # --- a frame larger than the OUTPUT buffers: 1280x720 noise coded at QP 1 gives
    # ~1.4 MB per frame, past the initial 1 MB bitstream buffers, so the driver must grow
    # them (finish what is in flight, re-allocate) and decode every frame.
    if (not only or 'h264' in only or 'big' in only) and built:
        big = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'v4l2rva-big.h264')
        enc = ['ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
               "nullsrc=s=1280x720:r=25,geq=lum='random(1)*255':cb=128:cr=128", '-frames:v', '3',
               '-c:v', 'libx264', '-threads', '1', '-preset', 'ultrafast', '-qp', '1', '-profile:v', 'high', '-pix_fmt', 'yuv420p', big]
        rc0, _, err0, _ = run(enc, os.path.join(outdir, 'big.encode'))
        size = os.path.getsize(big) if os.path.exists(big) else 0
        log = os.path.join(outdir, 'big.ffmpeg')
        rc, n, errs, secs = client_ffmpeg(big, log, dict(env, LIBVA_V4L2_REQUEST_LOG='info'), codec='h264')
        grew = any('growing the OUTPUT buffers' in l for l in errs)
        errs = without_driver_info(errs)
        ok = rc0 == 0 and rc == 0 and n == 3 and grew and not errs
        s.report('PASS' if ok else 'FAIL', 'ffmpeg h264-big-frames',
                 'frames=%d expected=3 bytes=%d output_grew=%s %s %.1fs' % (n, size, grew, rc_text(rc), secs), errs + err0.splitlines()[:3])
        if os.path.exists(big):
            os.unlink(big)

    # --- robustness: damaged bitstreams through the driver. Bytes of every slice NAL are
    # overwritten (deterministically) so the driver's slice-header re-parser and the device
    # see garbage. The client may reject frames, but nothing may crash or hang: pass when the
    # client ends by itself (no timeout, no signal) and the driver printed no panic.
    if (not only or 'h264' in only or 'robust' in only) and built:
        src = os.path.join(ROOT, 'tests', 'streams', 'h264-bframes.h264')
        with open(src, 'rb') as f:
            data = bytearray(f.read())
        seed = 12345
        starts = [m.start() for m in re.finditer(b'\x00\x00\x01', bytes(data))]
        for st in starts:
            nal_type = data[st + 3] & 0x1f if st + 3 < len(data) else 0
            if nal_type in (1, 5):            # slices only: keep SPS/PPS so the client decodes on
                for k in range(st + 5, min(st + 40, len(data)), 3):
                    seed = (seed * 1103515245 + 12345) & 0x7fffffff
                    data[k] = seed & 0xff
        bad = os.path.join(outdir, 'h264-damaged.h264')
        with open(bad, 'wb') as f:
            f.write(bytes(data))
        log = os.path.join(outdir, 'robust-h264-damaged.ffmpeg')
        renv = dict(env, LIBVA_V4L2_REQUEST_LOG='warn')
        rc, n, errs, secs = client_ffmpeg(bad, log, renv)
        panics = [l for l in errs if 'panic' in l.lower()]
        ok = rc not in (124,) and rc >= 0 and not panics
        s.report('PASS' if ok else 'FAIL', 'robust ffmpeg h264-damaged',
                 'frames=%d %s %.1fs (no crash, no hang, no panic)' % (n, rc_text(rc), secs), panics)

    # --- a lone first field: h264-paff without its last NAL unit (the bottom field of the
    # last frame in decode order), so the stream ends on a top field whose pair never comes.
    # The device holds that CAPTURE buffer for the second field; when the client waits for
    # the frame, the driver must release it (V4L2_DEC_CMD_FLUSH) instead of timing out.
    if (not only or 'h264' in only or 'h264-paff' in only or 'lone-field' in only) and built:
        with open(os.path.join(ROOT, 'tests', 'streams', 'h264-paff.h264'), 'rb') as f:
            data = f.read()
        lone = os.path.join(outdir, 'h264-paff-lone-field.h264')
        with open(lone, 'wb') as f:
            f.write(data[:data.rfind(b'\x00\x00\x00\x01')])
        sw = subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-threads', '1', '-i', lone, '-f', 'framemd5', '-'],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
        want = sum(1 for l in sw.stdout.splitlines() if l and not l.startswith('#'))
        log = os.path.join(outdir, 'lone-field-h264-paff.ffmpeg')
        rc, n, errs, secs = client_ffmpeg(lone, log, dict(env, LIBVA_V4L2_REQUEST_LOG='warn'), codec='h264')
        released = any('first field without a second field' in l for l in errs)
        errs = [l for l in errs if 'first field without a second field' not in l]
        ok = rc == 0 and n == want and want > 0 and released and not errs
        s.report('PASS' if ok else 'FAIL', 'ffmpeg h264-paff-lone-field',
                 'frames=%d expected=%d (software decode) held_buffer_released=%s %s %.1fs' % (n, want, released, rc_text(rc), secs), errs)

    # --- field pictures without HOLD_CAPTURE_BUF (profiles nohold, mediatek-like): the two
    # fields of a frame decode into one CAPTURE buffer, which only HOLD keeps out of the
    # client's hands between them, so the driver refuses field pictures with one log line
    # each. Pass when the client ends by itself (no hang, no crash, no panic), the driver
    # logged refusals, and no field picture reached the device (the trace: no H.264 request
    # with FIELD_PIC, no MPEG-2 request with a picture_structure other than frame), so none
    # decoded into a buffer it does not own; frame pictures of the same stream still do.
    if not prof.hold and built and (not only or 'nohold-fields' in only):
        renv = dict(env, LIBVA_V4L2_REQUEST_LOG='warn')
        for sname, cname in (('h264-paff', 'h264'), ('mpeg2-fields', 'mpeg2')):
            if cname not in claimed:
                continue
            fpath = os.path.join(ROOT, 'tests', 'streams', '%s.%s' % (sname, 'h264' if cname == 'h264' else 'm2v'))
            for client in [c for c in ('ffmpeg', 'gst-va') if not args.clients or c in args.clients.split(',')]:
                log = os.path.join(outdir, 'nohold-fields-%s.%s' % (sname, client))
                if client == 'ffmpeg':
                    fn = lambda: client_ffmpeg(fpath, log, renv, codec=cname)  # noqa: E731
                else:
                    fn = lambda: client_gst(C.CODECS[cname]['gst_va'], fpath, log, renv)  # noqa: E731
                rc, n, errs, secs = traced(tracer, log + '.trace', fn)
                with open(log + '.err') as f1, open(log + '.out') as f2:
                    text = f1.read() + f2.read()
                panics = [l for l in text.splitlines() if 'panic' in l.lower()]
                refused = len(re.findall(r'a field picture pair needs V4L2_BUF_FLAG_M2M_HOLD_CAPTURE_BUF', text))
                fields, frames = field_requests(log + '.trace', cname)
                # ffmpeg goes on after a failed picture, so the stream's frame pictures must still
                # reach the device; gst-va stops at the first failed picture (its policy).
                ok = (rc not in (124,) and rc >= 0 and not panics and refused > 0 and fields == 0
                      and (frames > 0 or client != 'ffmpeg'))
                s.report('PASS' if ok else 'FAIL', 'nohold-fields %s %s' % (client, sname),
                         'profile %s: refusals=%d field requests at the device=%d frame requests=%d frames out=%d %s %.1fs'
                         % (prof.name, refused, fields, frames, n, rc_text(rc), secs), panics)

    # --- reference scaling (tests/streams/vp9-refscale.ivf, not in the manifest): frames 0-4
    # are 176x144, frame 5 is an INTER frame of 128x96 predicted from 176x144 references, 6-9
    # still use 176x144 golden/altref slots, frame 10 is a 128x96 key frame, 11-13 inter.
    # The driver refuses frames that need reference scaling (V4L2 stateless cannot say
    # whether a device scales; after a client's new VA context the references are in another
    # V4L2 session). Pass when the client ends by itself, the driver did not panic, frames
    # 0-4 decoded, the driver logged a refusal, no request that reached visl names a buffer
    # it never got or a reference of another size, and decoding resumed at the key frame.
    if (not only or 'vp9' in only or 'refscale' in only) and built and 'vp9' in claimed:
        rs_path = os.path.join(ROOT, 'tests', 'streams', 'vp9-refscale.ivf')
        renv = dict(env, LIBVA_V4L2_REQUEST_LOG='warn')
        for client in ('ffmpeg', 'gst-va', 'mpv'):
            log = os.path.join(outdir, 'refscale-vp9-refscale.%s' % client)
            if client == 'ffmpeg':
                fn = lambda: client_ffmpeg(rs_path, log, renv, codec='vp9')  # noqa: E731
            elif client == 'gst-va':
                fn = lambda: client_gst('vavp9dec', rs_path, log, renv)  # noqa: E731
            else:
                fn = lambda: client_mpv(rs_path, log, renv)  # noqa: E731
            rc, n, errs, secs = traced(tracer, log + '.trace', fn)
            with open(log + '.err') as f1, open(log + '.out') as f2:
                text = f1.read() + f2.read()
            panics = [l for l in text.splitlines() if 'panic' in l.lower()]
            refused = len(re.findall(r'needs reference scaling|references? of another context', text))
            v = refscale_requests(log + '.trace')
            resumed = v['key_after'] and v['after'] == 3
            # mpv gives up hardware decoding after 3 failed frames and decodes the rest in
            # software (its own policy): then nothing after the refusals reaches the driver.
            fallback = client == 'mpv' and 'Falling back to software decoding' in text
            ok = (rc not in (124,) and rc >= 0 and not panics and v['before'] == 5 and refused > 0
                  and not v['bad'] and (resumed or (fallback and v['requests'] == 5)) and n >= 5)
            s.report('PASS' if ok else 'FAIL', 'refscale %s vp9-refscale' % client,
                     'frames=%d requests=%d (before change %d/5, after key frame %s+%d/3%s) refusals=%d %s %.1fs'
                     % (n, v['requests'], v['before'], 'key' if v['key_after'] else 'no-key', v['after'],
                        ', mpv fell back to software' if fallback else '', refused, rc_text(rc), secs), panics + v['bad'])

    # --- re-queue analysis: strace of an ffmpeg decode that exports every frame.
    # The stream (tests/streams/requeue/h264-long.h264, 96 frames) is longer than the default
    # CAPTURE pool, so every slot is queued again. The bound comes from the driver's own log
    # line "pool: ... margin=M": an LRU pool must keep an exported buffer out of the device
    # for at least M decodes after its export (a 1:1 surface/buffer binding gives 0-1), and
    # the pool's peak ("CAPTURE peak B buffers") is reported. The same decode with
    # LIBVA_V4L2_REQUEST_POOL=1:1 is reported next to it for comparison.
    long_dir = os.path.join(ROOT, 'tests', 'streams', 'requeue')
    long_path = os.path.join(long_dir, 'h264-long.h264')
    with open(os.path.join(long_dir, 'h264-long.framemd5')) as f:
        long_frames = sum(1 for l in f if l.strip() and not l.startswith('#'))
    if not only or 'h264' in only or 'requeue' in only:
        # GStreamer's CAPTURE buffers on the same stream, next to the driver's peak.
        gtrace = os.path.join(outdir, 'requeue-gst.trace')
        traced(tracer, gtrace, lambda: client_gst('v4l2slh264dec', long_path, os.path.join(outdir, 'requeue-gst'),
                                                  {'GST_REGISTRY': os.path.join(GST_REGISTRY_DIR, 'baseline.bin')}))
        gst_buffers = len(vtrace.read_trace(gtrace).capture_indices)
        for policy in ('lru', '1:1'):
            tag = policy.replace(':', 'to')
            log = os.path.join(outdir, 'requeue-%s.ffmpeg' % tag)
            straced = log + '.strace'
            if not built:
                s.report('FAIL', 'requeue h264-long %s' % policy, 'driver not built')
                continue
            penv = dict(env, LIBVA_V4L2_REQUEST_LOG='info', LIBVA_V4L2_REQUEST_POOL=policy)
            wrap = ['strace', '-f', '-ttt', '-e', 'trace=ioctl,fcntl', '-X', 'verbose', '-o', straced]
            rc, n, errs, secs = client_ffmpeg(long_path, log, penv, True, wrap)
            rep = {}
            if os.path.exists(straced):
                rr = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'strace-requeue'), '--json', straced],
                                    stdout=subprocess.PIPE, text=True, timeout=60)
                rep = json.loads(rr.stdout or '{}')
                with open(log + '.requeue.txt', 'w') as f:
                    subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'strace-requeue'), straced], stdout=f, timeout=60)
            pool = re.search(r'pool: slots=(\d+) surfaces=(\d+)', '\n'.join(errs))
            slots, surfaces = (int(pool.group(1)), int(pool.group(2))) if pool else (None, None)
            mm = re.search(r'pool: .* margin=(\d+)', '\n'.join(errs))
            margin = int(mm.group(1)) if mm else None
            pk = CAPTURE_PEAK_RE.search('\n'.join(errs))
            peak = '%s buffers %s MiB' % (pk.group(1), pk.group(2)) if pk else None
            # Keep the driver's warnings and errors and the client's own lines, not its info log.
            errs = without_driver_info(errs)
            dist = rep.get('min_export_distance')
            detail = 'frames=%d/%d surfaces=%s peak=%s (v4l2slh264dec: %d buffers) min_export_distance=%s exports=%s unattributed=%s ' \
                     'min_requeue_decodes=%s median_requeue_decodes=%s %s' % (
                         n, long_frames, surfaces, peak, gst_buffers, dist, rep.get('exports'), rep.get('unattributed_exports'),
                         rep.get('min_requeue_decodes'), rep.get('median_requeue_decodes'), rc_text(rc))
            if policy == 'lru':
                need = margin
                ok = (rc == 0 and n == long_frames and dist is not None and need is not None and dist >= need
                      and peak is not None
                      and not rep.get('unattributed_exports') and (rep.get('exports') or 0) >= long_frames)
                s.report('PASS' if ok else 'FAIL', 'requeue h264-long lru',
                         detail + ' (>= margin = %s required)' % need, errs)
            else:
                # Reference run: it must decode; it shows what a naive 1:1 driver does.
                ok = rc == 0 and n == long_frames and dist is not None
                s.report('PASS' if ok else 'FAIL', 'requeue h264-long 1:1 (comparison)', detail, errs)
    import proof  # tests/e2e/proof.py: reader fences (strace + pool stats), 1000-session churn
    proof.cases(s, env, outdir, built, only)
    import firefox  # tests/e2e/firefox.py: Firefox's own VA-API probe (vaapitest) accepts the driver
    firefox.cases(s, env, outdir, built, only)
    import consumers  # tests/e2e/consumers.py: mpv and GStreamer showing the exports on weston/Xvfb
    consumers.cases(s, env, outdir, built, only, tracer, requests_in)
    return finish(s, t_start)


def device_profile_cases(s, node, prof):
    """The booted device is the profile: its parameters are on the kernel command line, and
    per codec the CAPTURE formats (after S_FMT OUTPUT of the coded format) and the frame sizes
    are the profile's; the OUTPUT queue's HOLD_CAPTURE_BUF capability follows hold_capture."""
    log = os.path.join(s.out, 'profile')
    try:
        cmdline = open('/proc/cmdline').read().split()
    except OSError:
        cmdline = []
    missing = [p for p in prof.params if p not in cmdline]
    s.report('FAIL' if missing else 'PASS', 'profile %s' % prof.name,
             'kernel command line: %s' % ('missing %s' % ' '.join(missing) if missing else ' '.join(prof.params) or 'no visl parameters'))
    try:
        caps = P.output_capabilities(node)
        hold = bool(caps & P.V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF)
        s.report('PASS' if hold == prof.hold else 'FAIL', 'profile-hold %s' % prof.name,
                 'OUTPUT REQBUFS capabilities=%#x HOLD_CAPTURE_BUF=%s expected=%s' % (caps, hold, prof.hold))
    except OSError as e:
        s.report('FAIL', 'profile-hold %s' % prof.name, 'VIDIOC_REQBUFS: %s' % e)
    for codec, (fourcc, _) in P.CODED.items():
        rc1, out1, _, _ = run(['v4l2-ctl', '-d', node, '--set-fmt-video-out=pixelformat=%s' % fourcc, '--list-formats'],
                              '%s-%s-formats' % (log, codec))
        rc2, out2, _, _ = run(['v4l2-ctl', '-d', node, '--list-framesizes=%s' % fourcc], '%s-%s-framesizes' % (log, codec))
        cap, sizes = P.parse_capture_formats(out1), P.parse_framesizes(out2)
        ok = rc1 == 0 and rc2 == 0 and cap == prof.fmts[codec] and sizes == prof.sizes[codec]
        s.report('PASS' if ok else 'FAIL', 'profile-device %s %s' % (prof.name, codec),
                 'capture=%s sizes=%s%s' % (','.join(cap) or '-', '%dx%d-%dx%d' % sizes if sizes else '-',
                                            '' if ok else ' expected capture=%s sizes=%s' % (','.join(prof.fmts[codec]), prof.sizes[codec])))


def no_hold_multislice(prof, st, errs):
    """GStreamer v4l2slh264dec (1.22) decodes slice by slice and needs HOLD_CAPTURE_BUF for
    pictures of several slices: on a profile without it, its baseline of such a stream is
    refused by the device ("Driver did not accept the decode request")."""
    return not prof.hold and st['codec'] == 'h264' and any('Driver did not accept' in e for e in errs)


def not_advertised_cases(s, outdir, env, prof, fmts):
    """A codec whose CAPTURE formats are all tiled: the driver logs one info line naming it
    (and advertises none of its profiles: the vainfo case)."""
    tiled = [c for c in C.CODECS if C.CODECS[c]['visl_fourcc'] in fmts['out'] and not prof.describable(c)]
    if not tiled:
        return
    rc, out, err, _ = run(['vainfo', '--display', 'drm', '--device', RENDER], os.path.join(outdir, 'vainfo-info-log'),
                          dict(env, LIBVA_V4L2_REQUEST_LOG='info'))
    for c in tiled:
        fourcc = C.CODECS[c]['visl_fourcc']
        lines = [l for l in err.splitlines() if '%s not advertised: no CAPTURE format' % fourcc in l]
        s.report('PASS' if rc == 0 and len(lines) == 1 else 'FAIL', 'not-advertised %s %s' % (prof.name, c),
                 'info lines=%d %s' % (len(lines), rc_text(rc)), lines)


DRM_FORMAT_MOD_ALLWINNER_TILED = 0x0900000000000001


def visl_tiled_pattern(width, height):
    """The linear NV12 picture of what the test kernel's visl writes into every tiled CAPTURE
    buffer (scripts/vm/patches/0003-visl-tiled-pattern.patch): byte x of row y of plane p
    (0 luma, 1 interleaved CbCr) is (x*3 + y*5 + (x>>4)*29 + (y>>3)*41 + p*101) & 0xff.
    Returns the bytes of one width x height frame, rows packed."""
    out = bytearray()
    row_bytes = -(-width // 2) * 2
    for p, rows, cols in ((0, height, width), (1, -(-height // 2), row_bytes)):
        for y in range(rows):
            out += bytes((x * 3 + y * 5 + (x >> 4) * 29 + (y >> 3) * 41 + p * 101) & 0xff for x in range(cols))
    return bytes(out)


def tiled_pixel_cases(s, outdir, env, prof, tiled, streams):
    """`tiled-pixels`: the first plain stream of each codec decoded tiled here, through
    ffmpeg (vaDeriveImage + map, the driver's detiling copy) into raw NV12; every frame must
    equal visl's tiled test pattern (visl_tiled_pattern) byte for byte, so a tile, row or
    plane the driver misplaces shows. The vaGetImage copy is checked by `tiled-put-image`."""
    pdir = os.path.join(outdir, 'tiled')
    os.makedirs(pdir, exist_ok=True)
    for c in tiled:
        st = next((st for st in streams if st['codec'] == c and st['name'] not in C.NEGATIVE
                   and not re.search(r'reschange|resize', st['name'])), None)
        if st is None:
            continue
        case = 'tiled-pixels %s %s' % (prof.name, st['name'])
        w, h = (int(v) for v in st['size'].split('x'))
        raw = os.path.join(pdir, 'pixels-%s.nv12' % st['name'])
        dec = C.CODECS.get(c, {}).get('ffmpeg_decoder')
        cmd = ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error', '-y', '-hwaccel_device', RENDER, '-hwaccel', 'vaapi',
               '-hwaccel_output_format', 'vaapi'] + (['-c:v', dec] if dec else []) + [
            '-i', stream_path(st), '-vf', 'hwdownload,format=nv12', '-f', 'rawvideo', '-pix_fmt', 'nv12', raw]
        rc, out, err, secs = run(cmd, os.path.join(pdir, 'pixels-' + st['name']), env)
        frame = visl_tiled_pattern(w, h)
        data = b''
        if os.path.exists(raw):
            with open(raw, 'rb') as f:
                data = f.read()
        frames = [data[i:i + len(frame)] for i in range(0, len(data), len(frame))]
        bad = [i for i, f in enumerate(frames) if f != frame]
        detail = []
        if bad:
            f = frames[bad[0]]
            k = next((i for i in range(min(len(f), len(frame))) if f[i] != frame[i]), min(len(f), len(frame)))
            plane, off = (0, k) if k < w * h else (1, k - w * h)
            rb = w if plane == 0 else -(-w // 2) * 2
            detail.append('frame %d: %d bytes differ, first at plane %d row %d byte %d (%d, expected %d)' % (
                bad[0], sum(1 for a, b in zip(f, frame) if a != b) + abs(len(f) - len(frame)), plane, off // rb, off % rb,
                f[k] if k < len(f) else -1, frame[k] if k < len(frame) else -1))
        ok = rc == 0 and len(frames) == st['frames'] and not bad
        s.report('PASS' if ok else 'FAIL', case, '%s %dx%d frames=%d/%d equal to the pattern=%d %s %.1fs' % (
            prof.tiled(c), w, h, len(frames), st['frames'], len(frames) - len(bad), rc_text(rc), secs),
            detail + ([] if ok else [l for l in err.splitlines() if l.strip()][-4:]))
DRM_FORMAT_MOD_MTK_16L_32S_TILE = 0x0b00000000000001


def tiled_cases(s, outdir, env, prof, fmts, streams):
    """A codec whose CAPTURE formats are all tiled is decoded into the tiled format: the
    driver logs one info line naming it (`tiled-capture`). `tiled-export`: the first stream
    of such a codec, recorded through ffmpeg and replayed exporting every frame
    (va-client replay --export-every-frame): NV12_32L32 (ST12) exports as NV12 with
    DRM_FORMAT_MOD_ALLWINNER_TILED, pitch ALIGN(w, 32), chroma at pitch * ALIGN(h, 32)
    (cedrus' layout); MM21 as NV12 in two objects (luma, chroma at offset 0 of each) with
    DRM_FORMAT_MOD_MTK_16L_32S_TILE; NV12_4L4 (no DRM modifier) is refused with
    VA_STATUS_ERROR_UNSUPPORTED_MEMORY_TYPE and one driver warning."""
    import proof
    tiled = [c for c in C.CODECS if C.CODECS[c]['visl_fourcc'] in fmts['out'] and prof.tiled(c)]
    if not tiled:
        return
    rc, out, err, _ = run(['vainfo', '--display', 'drm', '--device', RENDER], os.path.join(outdir, 'vainfo-tiled-log'),
                          dict(env, LIBVA_V4L2_REQUEST_LOG='info'))
    for c in tiled:
        fourcc, t = C.CODECS[c]['visl_fourcc'], prof.tiled(c)
        lines = [l for l in err.splitlines() if '%s: CAPTURE is tiled only' % fourcc in l and 'decoding into %s' % t in l]
        s.report('PASS' if rc == 0 and len(lines) == 1 else 'FAIL', 'tiled-capture %s %s' % (prof.name, c),
                 '%s info lines=%d %s' % (t, len(lines), rc_text(rc)), lines)
    tiled_pixel_cases(s, outdir, env, prof, tiled, streams)
    st = next((st for st in streams if st['codec'] in tiled and st['name'] not in C.NEGATIVE), None)
    if st is None:
        return
    case = 'tiled-export %s %s' % (prof.name, st['name'])
    if not os.path.exists(proof.CLIENT):
        s.report('FAIL', case, 'va-client not built: %s' % proof.CLIENT)
        return
    t = prof.tiled(st['codec'])
    pdir = os.path.join(outdir, 'tiled')
    os.makedirs(pdir, exist_ok=True)
    rec = proof.record_stream(env, pdir, st['file'], 'nv12')
    pics = proof.record_pictures(rec) if os.path.exists(rec) else 0
    rc, out, err, secs = run([proof.CLIENT, 'replay', rec, '--export-every-frame'], os.path.join(pdir, 'replay-' + st['name']),
                             dict(env, LIBVA_V4L2_REQUEST_LOG='warn'))
    lays = proof.LAYOUT_RE.findall(out)
    if t == 'ST12':
        def good(l):
            w, h = int(l[1]), int(l[2])
            pitch, off = -(-w // 32) * 32, -(-w // 32) * 32 * (-(-h // 32) * 32)
            return (int(l[0], 16) == proof.FOURCC_NV12 and l[3] == '2' and l[4] == l[5] == str(pitch) and l[6] == '0'
                    and int(l[7]) == off and int(l[8]) >= off + pitch * ((h + 1) // 2) and int(l[9], 16) == DRM_FORMAT_MOD_ALLWINNER_TILED)
        bad = [l for l in lays if not good(l)]
        ok = rc == 0 and pics > 0 and len(lays) == pics and not bad
        s.report('PASS' if ok else 'FAIL', case, '%s exports=%d pictures=%d layout=%s %s %.1fs' % (
            t, len(lays), pics, ' '.join(lays[0]) if lays else '-', rc_text(rc), secs),
            ['layout: %s' % ' '.join(b) for b in bad[:3]] + ([] if ok else [l for l in err.splitlines() if l.strip()][-4:]))
    elif t == 'MM21':
        mm = re.findall(r'^frame \d+ .* fourcc=(0x[0-9a-f]+) (\d+)x(\d+) planes=2 pitch=(\d+),(\d+) offset=(\d+),(\d+) '
                        r'size=(\d+) modifier=(0x[0-9a-f]+) objects=2 object_index=0,1 size1=(\d+) modifier1=(0x[0-9a-f]+)$', out, re.M)

        def good(l):
            w, pitch = int(l[1]), int(l[3])
            return (int(l[0], 16) == proof.FOURCC_NV12 and l[3] == l[4] and pitch % 16 == 0 and pitch >= w and l[5] == l[6] == '0'
                    and int(l[9]) * 2 >= int(l[7]) > 0 and int(l[8], 16) == int(l[10], 16) == DRM_FORMAT_MOD_MTK_16L_32S_TILE)
        bad = [l for l in mm if not good(l)]
        ok = rc == 0 and pics > 0 and len(mm) == pics and not bad
        s.report('PASS' if ok else 'FAIL', case, '%s exports=%d pictures=%d layout=%s %s %.1fs' % (
            t, len(mm), pics, ' '.join(mm[0]) if mm else '-', rc_text(rc), secs),
            ['layout: %s' % ' '.join(b) for b in bad[:3]] + ([] if ok else [l for l in err.splitlines() if l.strip()][-4:]))
    else:
        name = P.TILED[t]
        lines = [l for l in err.splitlines() if 'export of a %s picture refused' % name in l]
        status = any('vaExportSurfaceHandle failed' in l and '(0x24)' in l for l in err.splitlines())  # UNSUPPORTED_MEMORY_TYPE
        ok = rc != 0 and pics > 0 and not lays and len(lines) == 1 and status
        s.report('PASS' if ok else 'FAIL', case, '%s refused: exports=%d pictures=%d driver lines=%d %s %.1fs' % (
            t, len(lays), pics, len(lines), rc_text(rc), secs), lines + ([] if ok else [l for l in err.splitlines() if l.strip()][-4:]))
    # `tiled-put-image`: the record's first picture decoded into the tiled layout, read
    # with vaGetImage (the driver's detiling copy) and compared with visl's pattern, then
    # vaPutImage into it (the driver's tiling copy) read back through vaGetImage and
    # through the export (modifier layouts, addressed by va-client's own reference; the
    # export is refused where the layout has no modifier).
    case = 'tiled-put-image %s %s' % (prof.name, st['name'])
    # A surface without a context has its own frame in every layout (MM21: one dma-buf
    # per plane), so the lone-surface checks run everywhere.
    cmd = [proof.CLIENT, 'put-image', '--record', rec, '--visl-tiled-pattern'] + (
        ['--export-refused'] if t == 'VT12' else [])
    rc, out, err, secs = run(cmd, os.path.join(pdir, 'put-image-' + st['name']), dict(env, LIBVA_V4L2_REQUEST_LOG='warn'))
    fails = [l for l in out.splitlines() if ': FAIL' in l]
    pattern = [l for l in out.splitlines() if l.startswith('put-image decoded tiled picture vaGetImage: ok')]
    decoded = [l for l in out.splitlines() if l.startswith('put-image decoded NV12 ') and ': ok' in l]
    m = re.search(r'^put-image ok (\d+) surfaces (\d+) checks', out, re.M)
    ok = rc == 0 and m is not None and not fails and len(pattern) == 1 and len(decoded) >= 3
    s.report('PASS' if ok else 'FAIL', case, '%s pattern=%s decoded-surface checks ok=%d %s %s %.1fs' % (
        t, 'equal' if pattern else 'no', len(decoded), m.group(0) if m else 'no summary', rc_text(rc), secs),
        fails + ([] if ok else [l for l in err.splitlines() if l.strip()][-4:]))


# VA profile number (va.h) per codec, for va-client limits.
LIMITS_PROFILE = {'h264': 6, 'mpeg2': 1, 'vp8': 14, 'vp9': 19, 'hevc': 17, 'av1': 32}
# vmalloc growth allowed for a context before its first picture: visl itself allocates its
# test-pattern line buffers at S_FMT (tpg_alloc: about 224 bytes per pixel of width), the
# driver nothing. Any buffer of the driver's is more: a bitstream buffer is at least 1 MiB
# (512 bytes per pixel of width at 8192), a picture 1.5 * width * height bytes.
EMPTY_CONTEXT_BYTES_PER_WIDTH = 256
DRIVER_MAX = 8192   # the driver's surface bound (src/driver/mod.rs MAX_WIDTH/MAX_HEIGHT)


def limits_cases(s, outdir, env, prof, claimed, only):
    """The driver's size limits are the device's: VAConfigAttribMaxPictureWidth/Height and the
    surface attributes' min/max equal VIDIOC_ENUM_FRAMESIZES (maxima capped at the driver's
    surface bound); a context at the maximum succeeds, one beyond it or below the minimum
    fails with VA_STATUS_ERROR_RESOLUTION_NOT_SUPPORTED."""
    import proof
    for codec in sorted(claimed):
        if only and codec not in only and 'limits' not in only and not any(
                st.startswith(codec + '-') or st == codec for st in only):
            continue
        min_w, min_h, max_w, max_h = prof.sizes[codec]
        max_w, max_h = min(max_w, DRIVER_MAX), min(max_h, DRIVER_MAX)
        if not os.path.exists(proof.CLIENT):
            s.report('FAIL', 'limits %s' % codec, 'va-client not built: %s' % proof.CLIENT)
            continue
        rc, out, err, secs = run([proof.CLIENT, 'limits', str(LIMITS_PROFILE[codec]), '--device', RENDER],
                                 os.path.join(outdir, 'limits-' + codec), env)
        m = re.search(r'max_attrib=(\d+)x(\d+) surface_min=(-?\d+)x(-?\d+) surface_max=(-?\d+)x(-?\d+)', out)
        got = tuple(int(x) for x in m.groups()) if m else None
        want = (max_w, max_h, min_w, min_h, max_w, max_h)
        ctx = dict(re.findall(r'^limits context (\d+x\d+): (.*)$', out, re.M))
        inside = '%dx%d' % (min(max_w, 4096), min(max_h, 2304))
        beyond = ['%dx%d' % (max_w + 16, max_h), '%dx%d' % (max_w, max_h + 16)] + (
            ['%dx%d' % (min_w - 1, min_h)] if min_w > 1 and min_h > 1 else [])
        bad = []
        if got != want:
            bad.append('sizes %s, device %s' % (got, want))
        if ctx.get(inside) != 'ok':
            bad.append('context %s: %s' % (inside, ctx.get(inside)))
        bad += ['context %s: %s' % (b, ctx.get(b)) for b in beyond if '(0x13)' not in (ctx.get(b) or '')]
        # The largest context with no render targets allocates nothing before its first
        # picture (visl's buffers are vmalloc'ed: VmallocUsed around vaCreateContext, less
        # what visl allocates for itself at S_FMT).
        big = '%dx%d' % (max_w, max_h)
        em = re.search(r'^limits empty-context (\d+x\d+): ok vmalloc_delta_kib=(-?\d+)$', out, re.M)
        # MMAP CAPTURE queues (MM21: two buffers per picture) are set up empty too.
        allowed = EMPTY_CONTEXT_BYTES_PER_WIDTH * max_w
        if not em or em.group(1) != big or int(em.group(2)) * 1024 > allowed:
            bad.append('empty context %s: %s' % (big, em.group(0) if em else 'no result'))
        s.report('PASS' if rc == 0 and not bad else 'FAIL', 'limits %s %s' % (prof.name, codec),
                 'max=%dx%d min=%dx%d context %s ok, %s RESOLUTION_NOT_SUPPORTED, empty %s vmalloc +%sKiB %s %.1fs' % (
                     max_w, max_h, min_w, min_h, inside, ','.join(beyond), big, em.group(2) if em else '?', rc_text(rc), secs),
                 bad + [l for l in err.splitlines() if l.strip() and not l.startswith('libva info:')][:3])


# Clients in the stream loop that never export: their CAPTURE buffers must stay near GStreamer's.
NON_EXPORTING = ('ffmpeg', 'ffmpeg-frame', 'gst-va', 'mpv')
MEMORY_SLACK = 2


def memory_case(s, name, codec, base, traces):
    """CAPTURE buffers of each non-exporting client next to GStreamer v4l2codecs' on the same
    stream (issue 11): buffers = distinct CAPTURE indices queued, from the kernel's v4l2_qbuf
    events. The driver creates a buffer only for a decode that queues it, so for the driver
    this is what it allocated; GStreamer may allocate buffers it never queues, so its figure
    is a lower bound of its memory. Same CAPTURE format on both sides: bytes scale alike.
    Each client must stay within GStreamer's count + MEMORY_SLACK."""
    if codec['gst_v4l2'] is None or base is None:
        return
    gst = len(vtrace.read_trace(base).capture_indices)
    got = {c: len(vtrace.read_trace(t).capture_indices) for c, t in traces.items() if c in NON_EXPORTING}
    if not gst or not got:
        s.report('FAIL', 'memory %s' % name, 'no CAPTURE buffers in the traces (gst=%d, clients=%s)' % (gst, ','.join(got) or '-'))
        return
    over = [c for c, n in got.items() if n > gst + MEMORY_SLACK]
    s.report('FAIL' if over else 'PASS', 'memory %s' % name, 'CAPTURE buffers: %s=%d %s (limit %s+%d)' % (
        codec['gst_v4l2'], gst, ' '.join('%s=%d' % kv for kv in sorted(got.items())), codec['gst_v4l2'], MEMORY_SLACK))


def device_test_binaries():
    """(name, path) of the crate's integration tests that talk to the device: the files in
    tests/*.rs mentioning V4L2RVA_DEVICE_TESTS. Paths come from V4L2RVA_DEVICE_TEST_BINS
    (colon-separated, set by scripts/test-all from cargo's JSON output), else the newest
    target/release/deps/<name>-<hash> executable."""
    given = [p for p in os.environ.get('V4L2RVA_DEVICE_TEST_BINS', '').split(':') if p]
    out = []
    for src in sorted(glob.glob(os.path.join(ROOT, 'tests', '*.rs'))):
        if 'V4L2RVA_DEVICE_TESTS' not in open(src, errors='replace').read():
            continue
        name = os.path.basename(src)[:-3]
        cands = [p for p in given if re.match(re.escape(name) + r'-[0-9a-f]+$', os.path.basename(p))]
        if not cands:
            cands = sorted((p for p in glob.glob(os.path.join(ROOT, 'target', 'release', 'deps', name + '-*'))
                            if re.search(r'-[0-9a-f]+$', p) and os.access(p, os.X_OK)), key=os.path.getmtime)
        out.append((name, cands[-1] if cands else None))
    return out


def field_requests(trace_path, codec):
    """(field-picture requests, frame-picture requests) that reached visl in a trace: H.264
    decode parameters with FIELD_PIC, MPEG-2 pictures whose picture_structure is not 3
    (frame)."""
    fields = frames = 0
    for rec in vtrace.records(vtrace.read_trace(trace_path), codec):
        if codec == 'h264':
            field = 'FIELD_PIC' in rec.get('v4l2_ctrl_h264_decode_params', {}).get('flags', '')
        else:
            field = rec.get('v4l2_ctrl_mpeg2_picture', {}).get('picture_structure', '3') != '3'
        fields, frames = fields + field, frames + (not field)
    return fields, frames


def refscale_requests(trace_path):
    """The VP9 requests of a refscale run: 'before' = 176x144 frames before any 128x96 one,
    'key_after' = a 128x96 key frame reached visl, 'after' = 128x96 inter frames after it,
    'bad' = requests naming a reference timestamp no earlier OUTPUT buffer carried, or a
    reference of another size (a request the device would have to scale for)."""
    t = vtrace.read_trace(trace_path)
    recs = vtrace.records(t, 'vp9')
    qbuf = list(t.output_qbuf_ts)
    size_of = {}
    v = dict(requests=len(recs), before=0, key_after=False, after=0, bad=[])
    for i, rec in enumerate(recs):
        f = rec.get('v4l2_ctrl_vp9_frame', {})
        size = (f.get('frame_width_minus_1'), f.get('frame_height_minus_1'))
        ts = qbuf[i] if i < len(qbuf) else None
        flags = set(f.get('flags', '').split('|'))
        if 'KEY_FRAME' not in flags and 'INTRA_ONLY' not in flags:
            for ref in ('last_frame_ts', 'golden_frame_ts', 'alt_frame_ts'):
                r = int(f.get(ref, '0') or 0)
                if r not in size_of:
                    v['bad'].append('request %d %s=%d: no earlier OUTPUT buffer had it' % (i, ref, r))
                elif size_of[r] != size:
                    v['bad'].append('request %d %s: reference %s, frame %s (needs scaling)' % (i, ref, size_of[r], size))
        if size == ('175', '143') and not v['key_after'] and v['after'] == 0:
            v['before'] += 1
        elif size == ('127', '95'):
            if 'KEY_FRAME' in flags:
                v['key_after'] = True
            elif v['key_after']:
                v['after'] += 1
        if ts is not None:
            size_of[ts] = size
    return v


_claimed_profiles = None


def claimed_profiles(outdir):
    global _claimed_profiles
    if _claimed_profiles is None:
        try:
            _claimed_profiles = set(re.findall(r'(VAProfile\w+)\s*:\s*VAEntrypointVLD', open(os.path.join(outdir, 'vainfo.out')).read()))
        except OSError:
            _claimed_profiles = set()
    return _claimed_profiles


def finish(s, t_start):
    print('suite: %d passed, %d failed, %d todo in %.0fs; logs and traces in %s' % (
        s.passed, s.failed, s.todo, time.time() - t_start, s.out), flush=True)
    print('%d passed, %d failed' % (s.passed, s.failed), flush=True)
    return 0 if s.failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

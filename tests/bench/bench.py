#!/usr/bin/env python3
"""The guest half of scripts/bench: per-frame cost of the driver next to GStreamer's
v4l2codecs (the anchor), on visl, in one guest run.

Every figure is marginal: each client decodes the first N and then all 2N frames of a
stream, and a figure per frame is (value(2N) - value(N)) / N, so start-up, probing and
teardown cancel out. Clients per stream:

  anchor    gst-launch-1.0 ... ! v4l2sl<codec>dec ! fakesink (GStreamer v4l2codecs)
  ffmpeg    ffmpeg -hwaccel vaapi -hwaccel_output_format vaapi ... -f null (no download)
  gst-va    gst-launch-1.0 ... ! va<codec>dec ! fakesink
  replay    tools/va-client replay of the ffmpeg decode recorded through the driver
            (LIBVA_V4L2_REQUEST_RECORD): the driver alone, no demuxer or parser
  export    the same replay exporting every frame (vaExportSurfaceHandle, fds closed at
            once): a zero-copy client's extra cost

Measured per client and length:
  - CPU time (user+sys of the client and its children, from wait4), --reps repetitions,
    interleaved (every client once per round), median; absolute times are the guest's
    (TCG: slow, only ratios between clients of one run mean anything); also user time
    alone: visl draws its pattern in device_run, which the mem2mem core runs in the
    context of the ioctl that made the job ready when the device is idle, so a client
    queueing one picture at a time pays visl's drawing as its sys time;
  - ioctls from `strace -f -ttt -e trace=ioctl` (one run): request path (QBUF, DQBUF,
    S_EXT_CTRLS, MEDIA_REQUEST_IOC_QUEUE/REINIT, MEDIA_IOC_REQUEST_ALLOC) and the rest;
  - heap allocations from tests/bench/alloc-count.c (LD_PRELOAD, one run, the started
    process only); for the clients through the driver also their call sites
    (V4L2RVA_ALLOC_SITES=1), printed per owner object under the table (replay and export
    also per allocating function, tests/bench/alloc_sites.py; full lists in the out dir);
  - CAPTURE buffers: the driver's teardown summary (LIBVA_V4L2_REQUEST_LOG=info, buffers and
    MiB); for the anchor the distinct CAPTURE indices it queued (scripts/strace-requeue).
  - with --instructions, user-space instructions (valgrind --tool=cachegrind
    --cache-sim=no, "I refs", the started process and its threads, one run each): unlike
    CPU time under TCG, a count that does not depend on the emulator's speed or the
    host's load, so the one CPU comparison with the anchor this guest can make (the
    kernel's share, visl's drawing included, is not in it).
Then vaInitialize time (median of --reps runs through libva, ctypes), and per stream the
download throughput of its first picture: vaGetImage and vaDeriveImage + map + copy as
ratios to a memcpy of the same bytes (va-client image-bench).

Exit status 1 when a single-slice H.264 stream costs the driver (replay) more than 7
request-path ioctls per frame, the request API's floor (issue 12), or when exporting every
frame costs ioctls per frame beyond the replay's (an export needs a QUERYBUF and an EXPBUF
only the first time for each buffer; later ones are an fcntl F_DUPFD_CLOEXEC), so a change
that adds one shows.
"""
import argparse
import ctypes
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import alloc_sites

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RENDER = '/dev/dri/renderD128'
TIMEOUT = 900

# name, codec, anchor element, gst-va element, single-slice H.264 (the 7-ioctl check)
CODECS = {
    'h264': ('v4l2slh264dec', 'vah264dec'),
    'hevc': ('v4l2slh265dec', 'vah265dec'),
    'vp9': ('v4l2slvp9dec', 'vavp9dec'),
}
REQUEST_PATH = re.compile(r'VIDIOC_QBUF|VIDIOC_DQBUF|VIDIOC_S_EXT_CTRLS|MEDIA_REQUEST_IOC_QUEUE|MEDIA_REQUEST_IOC_REINIT|'
                          r'MEDIA_IOC_REQUEST_ALLOC|_IOC\(_IOC_NONE, 0x7c, 0x8[01]|_IOC\(_IOC_READ, 0x7c, 0x5')
IOCTL_LINE = re.compile(r'ioctl\(\d+, ([^,)]+)')
SINGLE_SLICE_IOCTL_FLOOR = 7.0


def driver_env(driver_dir, log=None):
    env = dict(os.environ, LIBVA_DRIVER_NAME='v4l2_request', LIBVA_DRIVERS_PATH=driver_dir, GST_VA_ALL_DRIVERS='1')
    if log:
        env['LIBVA_V4L2_REQUEST_LOG'] = log
    else:
        env.pop('LIBVA_V4L2_REQUEST_LOG', None)
    return env


def command(client, stream, codec, frames, record_path, va_client):
    anchor, va = CODECS[codec]
    if client == 'anchor':
        return ['gst-launch-1.0', '-q', '--no-fault', 'filesrc', 'location=' + stream, '!', 'parsebin', '!', anchor, '!', 'fakesink']
    if client == 'gst-va':
        # --no-fault: a crashing element exits instead of waiting for a debugger.
        return ['gst-launch-1.0', '-q', '--no-fault', 'filesrc', 'location=' + stream, '!', 'parsebin', '!', va, '!', 'fakesink']
    if client == 'ffmpeg':
        return ['ffmpeg', '-nostdin', '-hide_banner', '-v', 'error', '-hwaccel', 'vaapi', '-hwaccel_device', RENDER,
                '-hwaccel_output_format', 'vaapi', '-i', stream, '-f', 'null', '-']
    if client in ('replay', 'export'):
        return [va_client, 'replay', record_path, '--frames', str(frames), '--device', RENDER] + (
            ['--export-every-frame'] if client == 'export' else [])
    raise ValueError(client)


# User CPU seconds of the last run() (the CPU figures are user+sys; user alone leaves out
# the kernel, where visl draws its test pattern: see the module doc).
LAST_USER = [0.0]


def run(cmd, env, log, wrap=()):
    """Run `cmd` (bounded); returns (exit status, CPU seconds of it and its children, pid)."""
    with open(log + '.out', 'wb') as out, open(log + '.err', 'wb') as err:
        p = subprocess.Popen(list(wrap) + cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                             start_new_session=True)
        deadline = time.monotonic() + TIMEOUT
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(p.pid, 9)
                pid, status, ru = os.wait4(p.pid, 0)
                LAST_USER[0] = 0.0
                return 124, 0.0, p.pid
            time.sleep(0.02)
    rc = os.waitstatus_to_exitcode(status)
    LAST_USER[0] = ru.ru_utime
    return rc, ru.ru_utime + ru.ru_stime, p.pid


def ioctl_counts(strace_log):
    req = other = 0
    with open(strace_log, errors='replace') as f:
        for line in f:
            m = IOCTL_LINE.search(line)
            if not m or 'resumed>' in line:
                continue
            if REQUEST_PATH.search(m.group(1)):
                req += 1
            else:
                other += 1
    return req, other


def alloc_count(path, pid):
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r'pid (\d+) allocations (\d+)', line)
                if m and int(m.group(1)) == pid:
                    return int(m.group(2))
    except OSError:
        pass
    return None


def site_report(client, alloc_pids, n, sdir, va_client):
    """Per-owner allocations per frame (one line, for the table's footer); the full report with
    the allocating functions goes to CLIENT-alloc-sites.txt, and for the driver-only clients
    (replay, export) is printed too."""
    (counts_n, pid_n), (counts_2n, pid_2n) = alloc_pids[n], alloc_pids[2 * n]
    if pid_n is None or pid_2n is None:
        return None
    try:
        per_chain = alloc_sites.marginal(counts_n, pid_n, counts_2n, pid_2n, n)
    except OSError:
        return None
    path = os.path.join(sdir, '%s-alloc-sites.txt' % client)
    with open(path, 'w') as f:
        alloc_sites.report(per_chain, {'va-client': va_client}, out=f)
    text = open(path).read()
    if client in ('replay', 'export'):
        return text.rstrip()
    return text.splitlines()[0] if text else None


def capture_peak(err_path):
    try:
        text = open(err_path, errors='replace').read()
    except OSError:
        return None
    peaks = [(int(b), float(m)) for b, m in re.findall(r'CAPTURE peak (\d+) buffers, ([\d.]+) MiB', text)]
    return max(peaks) if peaks else None


def anchor_buffers(strace_log):
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'strace-requeue'), '--json', strace_log],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=120)
    m = re.search(r'"capture_buffers":\s*(\d+)', out.stdout)
    return int(m.group(1)) if m else None


def va_initialize_ms(driver_dir, reps):
    """Median wall time of vaGetDisplayDRM + vaInitialize through libva (ms, the guest's)."""
    os.environ.update(driver_env(driver_dir))
    va = ctypes.CDLL('libva.so.2')
    va_drm = ctypes.CDLL('libva-drm.so.2')
    va_drm.vaGetDisplayDRM.restype = ctypes.c_void_p
    va_drm.vaGetDisplayDRM.argtypes = [ctypes.c_int]
    va.vaInitialize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    va.vaTerminate.argtypes = [ctypes.c_void_p]
    times = []
    for _ in range(reps):
        fd = os.open(RENDER, os.O_RDWR)
        try:
            t0 = time.perf_counter()
            dpy = va_drm.vaGetDisplayDRM(fd)
            major, minor = ctypes.c_int(), ctypes.c_int()
            st = va.vaInitialize(dpy, ctypes.byref(major), ctypes.byref(minor))
            times.append((time.perf_counter() - t0) * 1000)
            if st != 0:
                raise SystemExit('bench: vaInitialize failed with status %d' % st)
            va.vaTerminate(dpy)
        finally:
            os.close(fd)
    return statistics.median(times)


def instructions(cmd, env, log):
    """User-space instructions of one run of `cmd` under cachegrind (None if it failed)."""
    rc, _, _ = run(cmd, env, log, wrap=['valgrind', '--tool=cachegrind', '--cache-sim=no', '--cachegrind-out-file=/dev/null'])
    try:
        m = re.search(r'I\s+refs:\s+([\d,]+)', open(log + '.err', errors='replace').read())
    except OSError:
        m = None
    return int(m.group(1).replace(',', '')) if rc == 0 and m else None


def per_frame(v2, v1, n):
    return None if v2 is None or v1 is None else (v2 - v1) / n


def fmt(v, spec='%.1f'):
    return '-' if v is None else spec % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--streams', required=True, help='dir of NAME-N.EXT / NAME-2N.EXT files (scripts/bench makes them)')
    ap.add_argument('--list', required=True, help='comma-separated NAME:CODEC:N entries')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--clients', default='anchor,ffmpeg,gst-va,replay,export')
    ap.add_argument('--out', default=None)
    ap.add_argument('--driver-dir', default=os.path.join(ROOT, 'build', 'driver'))
    ap.add_argument('--instructions', action='store_true', help='also count user-space instructions under valgrind')
    ap.add_argument('--alloc-count', required=True, help='alloc-count.so (tests/bench/alloc-count.c)')
    ap.add_argument('--va-client', default=os.environ.get('V4L2RVA_VA_CLIENT',
                                                          os.path.join(ROOT, 'tools', 'va-client', 'target', 'release', 'va-client')))
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix='bench-', dir=os.path.join(ROOT, 'out'))
    os.makedirs(out, exist_ok=True)
    clients = [c for c in args.clients.split(',') if c]
    failed = []
    print('bench: logs in %s; CPU times are the guest\'s (TCG), compare ratios only' % out, flush=True)

    init_ms = va_initialize_ms(args.driver_dir, max(args.reps, 5))
    for entry in args.list.split(','):
        name, codec, n = entry.split(':')
        n = int(n)
        ext = {'h264': 'h264', 'hevc': 'hevc', 'vp9': 'ivf'}[codec]
        paths = {k: os.path.join(args.streams, '%s-%d.%s' % (name, k, ext)) for k in (n, 2 * n)}
        sdir = os.path.join(out, name)
        os.makedirs(sdir, exist_ok=True)
        # The replay's record: ffmpeg's decode of all 2N frames through the driver.
        rec = os.path.join(sdir, 'record')
        rc, _, _ = run(command('ffmpeg', paths[2 * n], codec, 2 * n, None, None),
                       dict(driver_env(args.driver_dir), LIBVA_V4L2_REQUEST_RECORD=rec), os.path.join(sdir, 'record'))
        if rc != 0:
            failed.append('%s: recording through ffmpeg failed (%d)' % (name, rc))
            continue

        def cmd_env(client, k, log=None):
            env = dict(os.environ) if client == 'anchor' else driver_env(args.driver_dir, log)
            return command(client, paths[k], codec, k, rec, args.va_client), env

        # Warm-up (page cache, GStreamer registry; not measured). A client that cannot decode
        # the stream at all (GStreamer 1.22's v4l2slh265dec crashes on visl) is left out of
        # this stream's table, and said so, rather than timed failing.
        dropped = []
        for c in clients:
            cmd, env = cmd_env(c, n)
            rc, _, _ = run(cmd, env, os.path.join(sdir, '%s-warmup' % c))
            if rc != 0:
                dropped.append('%s (%s exit %d, %s-warmup.err)' % (c, CODECS[codec][0] if c == 'anchor' else c, rc, c))
                if c != 'anchor':
                    failed.append('%s %s: warm-up exit %d' % (name, c, rc))
        live = [c for c in clients if not any(d.startswith(c + ' ') for d in dropped)]
        cpu = {(c, k): [] for c in live for k in (n, 2 * n)}
        user = {(c, k): [] for c in live for k in (n, 2 * n)}
        for r in range(args.reps):
            for c in live:
                for k in (n, 2 * n):
                    cmd, env = cmd_env(c, k)
                    rc, secs, _ = run(cmd, env, os.path.join(sdir, '%s-%d-cpu%d' % (c, k, r)))
                    if rc != 0:
                        failed.append('%s %s %d frames: exit %d' % (name, c, k, rc))
                    cpu[(c, k)].append(secs)
                    user[(c, k)].append(LAST_USER[0])
        rows = []
        for c in live:
            row = {'client': c}
            med = {k: statistics.median(cpu[(c, k)]) for k in (n, 2 * n)}
            row['cpu_ms'] = per_frame(med[2 * n] * 1000, med[n] * 1000, n)
            umed = {k: statistics.median(user[(c, k)]) for k in (n, 2 * n)}
            row['user_ms'] = per_frame(umed[2 * n] * 1000, umed[n] * 1000, n)
            ioc, allocs, alloc_pids = {}, {}, {}
            for k in (n, 2 * n):
                cmd, env = cmd_env(c, k)
                slog = os.path.join(sdir, '%s-%d-strace' % (c, k))
                run(cmd, env, slog, wrap=['strace', '-f', '-ttt', '-e', 'trace=ioctl', '-o', slog + '.txt'])
                ioc[k] = ioctl_counts(slog + '.txt')
                alog = os.path.join(sdir, '%s-%d-alloc' % (c, k))
                counts = alog + '.counts'
                if os.path.exists(counts):
                    os.unlink(counts)
                cmd, env = cmd_env(c, k, log=None if c == 'anchor' else 'info')
                env = dict(env, LD_PRELOAD=args.alloc_count, V4L2RVA_ALLOC_COUNT_OUT=counts)
                if c != 'anchor':
                    env['V4L2RVA_ALLOC_SITES'] = '1'
                _, _, pid = run(cmd, env, alog)
                allocs[k] = alloc_count(counts, pid)
                alloc_pids[k] = (counts, pid)
                if k == 2 * n:
                    if c == 'anchor':
                        row['capture'] = anchor_buffers(slog + '.txt')
                        row['capture_mib'] = None
                    else:
                        pk = capture_peak(alog + '.err')
                        row['capture'], row['capture_mib'] = pk if pk else (None, None)
            row['req'] = per_frame(ioc[2 * n][0], ioc[n][0], n)
            row['other'] = per_frame(ioc[2 * n][1], ioc[n][1], n)
            row['allocs'] = per_frame(allocs[2 * n], allocs[n], n)
            if c != 'anchor':
                row['sites'] = site_report(c, alloc_pids, n, sdir, args.va_client)
            if args.instructions:
                ins = {k: instructions(*cmd_env(c, k), os.path.join(sdir, '%s-%d-instructions' % (c, k))) for k in (n, 2 * n)}
                row['instructions'] = per_frame(ins[2 * n], ins[n], n)
                if row['instructions'] is None:
                    failed.append('%s %s: no instruction count under valgrind' % (name, c))
            rows.append(row)
        rc, _, _ = run([args.va_client, 'image-bench', rec, '--reps', '30', '--device', RENDER], driver_env(args.driver_dir),
                       os.path.join(sdir, 'image-bench'))
        image_line = open(os.path.join(sdir, 'image-bench.out')).read().strip()
        if rc != 0 or not image_line:
            failed.append('%s: va-client image-bench failed (%d)' % (name, rc))
        anchor_cpu = next((r['cpu_ms'] for r in rows if r['client'] == 'anchor'), None)
        anchor_user = next((r['user_ms'] for r in rows if r['client'] == 'anchor'), None)
        print('\n%s (%s, %d vs %d frames, CPU median of %d interleaved runs)' % (name, codec, n, 2 * n, args.reps))
        print('| client | ioctls/frame request path | other ioctls/frame | CPU ms/frame (guest) | CPU vs anchor | '
              'user CPU ms/frame | user CPU vs anchor | allocations/frame | CAPTURE buffers (MiB) |')
        print('|---|---|---|---|---|---|---|---|---|')
        for d in dropped:
            print('| %s | not measured: could not decode this stream |  |  |  |  |  |  |  |' % d)
        for r in rows:
            ratio = r['cpu_ms'] / anchor_cpu if anchor_cpu and r['cpu_ms'] is not None else None
            uratio = r['user_ms'] / anchor_user if anchor_user and r['user_ms'] is not None else None
            print('| %s | %s | %s | %s | %s | %s | %s | %s | %s%s |' % (
                'v4l2codecs (anchor)' if r['client'] == 'anchor' else r['client'], fmt(r['req']), fmt(r['other']),
                fmt(r['cpu_ms'], '%.2f'), fmt(ratio, '%.2fx'), fmt(r['user_ms'], '%.2f'), fmt(uratio, '%.2fx'),
                fmt(r['allocs']), fmt(r.get('capture'), '%d'),
                '' if r.get('capture_mib') is None else ' (%.1f)' % r['capture_mib']))
            if r['client'] == 'replay' and name.startswith('h264') and r['req'] is not None and r['req'] > SINGLE_SLICE_IOCTL_FLOOR + 0.05:
                failed.append('%s: the driver makes %.2f request-path ioctls per single-slice frame (floor %.0f)'
                              % (name, r['req'], SINGLE_SLICE_IOCTL_FLOOR))
        by = {r['client']: r for r in rows}
        if 'replay' in by and 'export' in by and None not in (by['replay']['req'], by['export']['req']):
            extra = (by['export']['req'] + by['export']['other']) - (by['replay']['req'] + by['replay']['other'])
            if extra > 0.05:
                failed.append('%s: exporting every frame adds %.2f ioctls per frame' % (name, extra))
        if args.instructions:
            anchor_ins = next((r['instructions'] for r in rows if r['client'] == 'anchor'), None)
            print('user-space instructions per frame (valgrind): ' + ', '.join(
                '%s %s%s' % (r['client'], fmt(None if r['instructions'] is None else r['instructions'] / 1e6, '%.2fM'),
                             '' if not anchor_ins or r['instructions'] is None or r['client'] == 'anchor'
                             else ' (%.2fx)' % (r['instructions'] / anchor_ins)) for r in rows))
        for r in rows:
            if r.get('sites'):
                print('%s %s' % (r['client'], r['sites']))
        print(image_line)
        sys.stdout.flush()
    print('\nvaInitialize (vaGetDisplayDRM + vaInitialize, median): %.1f ms (guest)' % init_ms)
    for f in failed:
        print('bench: FAILED: %s' % f)
    print('bench: %s' % ('FAILED' if failed else 'done'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

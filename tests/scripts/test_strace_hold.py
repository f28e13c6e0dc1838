"""Unit tests of scripts/strace-hold.   python3 -m unittest discover -s tests/scripts"""
import gzip
import importlib.machinery
import importlib.util
import os
import unittest

from driver_exports import without_repeat_querybufs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_loader = importlib.machinery.SourceFileLoader('strace_hold', os.path.join(ROOT, 'scripts', 'strace-hold'))
_spec = importlib.util.spec_from_loader('strace_hold', _loader)
sh = importlib.util.module_from_spec(_spec)
_loader.exec_module(sh)


def data(name):
    path = os.path.join(HERE, 'data', name)
    if name.endswith('.gz'):
        with gzip.open(path, 'rt') as f:
            return f.readlines()
    with open(path) as f:
        return f.readlines()


class Synthetic(unittest.TestCase):
    """Three exports: the first held by a dup and a mapping after its fds are closed (a
    re-queue while only the mapping remains counts), the second held through dup/dup3
    copies, the third (no EXPBUF: a later export of the same buffer) held at exit; a DQBUF
    split by another thread; a failed close."""

    def setUp(self):
        self.r = sh.analyse(data('strace-hold-synthetic.txt'))

    def test_summary(self):
        r = self.r
        self.assertEqual(r['decodes'], 5)
        self.assertEqual(r['frames'], 5)
        self.assertEqual(r['exports'], 3)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual(r['frames_exported_after_decode'], 3)
        self.assertEqual(r['frames_in_exported_buffers'], 5)
        self.assertEqual(r['exports_mapped'], 1)
        self.assertEqual(r['held_at_exit'], 1)
        self.assertEqual(r['requeued_while_held'], 2)
        self.assertEqual(r['requeue_qbufs_while_held'], 2)
        self.assertEqual(r['median_hold_decodes'], 2)
        self.assertEqual(r['min_release_to_requeue_decodes'], 1)

    def test_rows(self):
        e0, e1, e2 = self.r['rows']
        self.assertEqual((e0['index'], e0['consumer_fds'], e0['mmaps']), (0, [21, 22], 1))
        self.assertAlmostEqual(e0['hold_s'], 0.4, places=6)          # until the munmap
        self.assertEqual(e0['requeued_while_held'], 1)
        self.assertIsNone(e0['release_to_requeue_decodes'])
        self.assertEqual((e1['index'], e1['consumer_fds']), (1, [24, 25, 30]))
        self.assertAlmostEqual(e1['hold_s'], 0.4, places=6)          # until close(30)
        self.assertEqual(e1['requeued_while_held'], 1)
        self.assertEqual(e1['release_to_requeue_decodes'], 1)
        self.assertEqual((e2['index'], e2['consumer_fds'], e2['held_at_exit']), (1, [26], True))

    def test_later_export_without_querybuf(self):
        # The driver now queries a buffer on its first export only: the third export is the
        # dup of the buffer's dma-buf (fd 23, bound by the second export) alone.
        trace = without_repeat_querybufs(data('strace-hold-synthetic.txt'))
        self.assertEqual(len(trace), len(data('strace-hold-synthetic.txt')) - 1)
        r = sh.analyse(trace)
        self.assertEqual(r['exports'], 3)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual([(e['index'], e['consumer_fds']) for e in r['rows']], [(0, [21, 22]), (1, [24, 25, 30]), (1, [26])])
        self.assertEqual(r['requeued_while_held'], self.r['requeued_while_held'])

    def test_dup_of_a_closed_driver_fd_is_no_export(self):
        trace = data('strace-hold-synthetic.txt')[:-1] + [
            '11    1000.910000 close(23) = 0\n',
            '11    1000.920000 fcntl(23, 0x406 /* F_DUPFD_CLOEXEC */, 3) = 27\n']
        self.assertEqual(sh.analyse(trace)['exports'], 3)

    def test_wayland_display_window(self):
        r = sh.analyse(data('strace-hold-synthetic.txt'), data('wayland-debug-synthetic.txt'))
        self.assertEqual(r['display_windows'], 1)
        self.assertEqual(r['display_requeues'], 1)                   # CAPTURE 1 queued at .61 < release .65
        self.assertEqual(r['rows'][1]['display_windows'], 1)

    def test_wayland_fd_numbers_are_reused(self):
        # Two exports (CAPTURE 0 and 1) whose fds 40 and 41 stay open; the client dups each
        # into the same temporary number 49 to create its wl_buffer, then closes it. The
        # window of the wl_buffer made while 49 was a copy of export 0 belongs to export 0:
        # a QBUF of CAPTURE 1 inside it is no re-queue of a displayed buffer.
        q = '{type=0x9 /* V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE */, index=%d, memory=0x4 /* V4L2_MEMORY_DMABUF */, ...}'
        lines = [
            '1 10.000 ioctl(5, VIDIOC_QUERYBUF, %s) = 0\n' % (q % 0),
            '1 10.001 fcntl(20, F_DUPFD_CLOEXEC, 3) = 40\n',
            '1 10.010 ioctl(5, VIDIOC_QUERYBUF, %s) = 0\n' % (q % 1),
            '1 10.011 fcntl(21, F_DUPFD_CLOEXEC, 3) = 41\n',
            '1 10.100 fcntl(40, F_DUPFD_CLOEXEC, 0) = 49\n',
            '1 10.102 close(49) = 0\n',
            '1 10.200 fcntl(41, F_DUPFD_CLOEXEC, 0) = 49\n',
            '1 10.202 close(49) = 0\n',
            '1 10.300 ioctl(5, VIDIOC_QBUF, %s) = 0\n' % (q % 1),
            '1 10.500 ioctl(5, VIDIOC_QBUF, %s) = 0\n' % (q % 0),
            '1 10.600 +++ exited with 0 +++\n',
        ]
        us = lambda t: '[%7u.%03u]' % (int(t * 1e6) // 1000, int(t * 1e6) % 1000)  # noqa: E731
        wl = ['%s  -> zwp_linux_buffer_params_v1@7.add(fd 49, 0, 0, 176, 0, 0)\n' % us(10.101),
              '%s zwp_linux_buffer_params_v1@7.created(new id wl_buffer@8)\n' % us(10.150),
              '%s  -> wl_surface@3.attach(wl_buffer@8, 0, 0)\n' % us(10.250),
              '%s  -> wl_surface@3.commit()\n' % us(10.251),
              '%s wl_buffer@8.release()\n' % us(10.400)]
        r = sh.analyse(lines, wl)
        self.assertEqual(r['display_windows'], 1)
        self.assertEqual((r['rows'][0]['display_windows'], r['rows'][1]['display_windows']), (1, 0))
        self.assertEqual(r['display_requeues'], 0)

    def test_wayland_time_unwrap(self):
        # 32-bit microsecond wrap: 1764640000.5 s -> printed modulo 2**32 us
        t = 1764640000.5
        us = int(t * 1e6) % 2 ** 32
        line = '[%7u.%03u]  -> wl_surface@3.commit()' % (us // 1000, us % 1000)
        (ev,) = list(sh.wayland_events([line], t + 3.0))
        self.assertAlmostEqual(ev[0], t, places=3)
        self.assertTrue(ev[1])

    def test_failed_calls_and_plain_fd(self):
        lines = ['1 1.0 ioctl(3, VIDIOC_QUERYBUF, {type=V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, index=2, memory=V4L2_MEMORY_MMAP}) = 0\n',
                 '1 1.1 fcntl(7, F_DUPFD_CLOEXEC, 0) = 8\n',
                 '1 1.2 mmap(NULL, 4096, PROT_READ, MAP_SHARED, 8, 0) = -1 ENODEV (No such device)\n',
                 '1 1.3 close(8) = 0\n']
        r = sh.analyse(lines)
        self.assertEqual(r['exports'], 1)
        self.assertEqual(r['exports_mapped'], 0)
        self.assertAlmostEqual(r['rows'][0]['hold_s'], 0.3, places=6)


class FrameAllocation(unittest.TestCase):
    """The DMABUF CAPTURE path (tests/scripts/data/strace-frame-allocation.txt, written for
    scripts/strace-requeue): frames allocated on a second handle (QUERYBUF + EXPBUF kept by
    the driver), queued with their dma-buf on the context's fd; an export is QUERYBUF of the
    context's CAPTURE index + F_DUPFD_CLOEXEC of that frame."""

    def test_allocation_is_not_an_export(self):
        r = sh.analyse(data('strace-frame-allocation.txt'))
        self.assertEqual(r['driver_kept_exports'], 2)
        self.assertEqual(r['exports'], 1)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual(r['frames'], 3)
        e = r['rows'][0]
        self.assertEqual((e['video_fd'], e['index'], e['consumer_fds']), (5, 0, [12]))
        self.assertTrue(e['held_at_exit'])
        self.assertEqual(e['requeued_while_held'], 1)     # index 0 queued again at 200.041


class RecordedMpvEgl(unittest.TestCase):
    """strace 6.1 (--seccomp-bpf; filtered: no anonymous mappings, no F_GETFL/F_SETFD, no
    control or request ioctls) of `mpv --hwdec=vaapi --vo=gpu --gpu-context=wayland
    --wayland-disable-vsync=yes --frames=60` on h264-long through this driver (DMABUF CAPTURE
    frames, default pool of 30 slots for 22 surfaces) under run-consumer on weston, Mesa 25:
    per export Mesa dups the fd twice (one EGLImage per plane) and maps the dma-buf twice;
    mpv releases it when it maps a later frame."""

    def test_mpv_holds(self):
        r = sh.analyse(data('strace-hold-mpv-egl.txt.gz'))
        self.assertEqual(r['decodes'], 63)
        self.assertEqual(r['frames'], 63)
        self.assertEqual(r['exports'], 60)
        self.assertEqual(r['frames_exported_after_decode'], 60)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual(r['driver_kept_exports'], 32)      # frames the driver allocated and kept
        self.assertEqual(r['exports_mapped'], 60)
        self.assertEqual(r['held_at_exit'], 0)
        self.assertEqual(r['requeued_while_held'], 0)
        self.assertEqual(r['max_hold_decodes'], 3)
        self.assertEqual(r['min_release_to_requeue_decodes'], 22)
        e = r['rows'][1]
        self.assertEqual((e['video_fd'], e['index'], e['consumer_fds'], e['mmaps']), (14, 3, [56, 57, 60], 2))

    def test_mpv_holds_one_querybuf_per_buffer(self):
        # As the driver exports now: QUERYBUF + dup for a buffer's first export, the dup alone after.
        trace = without_repeat_querybufs(data('strace-hold-mpv-egl.txt.gz'))
        self.assertEqual(len(data('strace-hold-mpv-egl.txt.gz')) - len(trace), 43)   # 30 QUERYBUFs (13 split in two lines)
        r = sh.analyse(trace)
        full = sh.analyse(data('strace-hold-mpv-egl.txt.gz'))
        self.assertEqual(r['exports'], 60)
        self.assertEqual(r['unattributed_exports'], 0)
        # Seconds differ: a later export's time is its dup's now (the QUERYBUF is gone).
        strip = lambda rep: {k: v for k, v in rep.items() if k not in ('rows', 'median_hold_s')}  # noqa: E731
        self.assertEqual(strip(r), strip(full))
        self.assertEqual([(x['index'], x['consumer_fds'], x['hold_decodes']) for x in r['rows']],
                         [(x['index'], x['consumer_fds'], x['hold_decodes']) for x in full['rows']])


if __name__ == '__main__':
    unittest.main()

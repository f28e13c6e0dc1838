"""Unit test of scripts/strace-requeue.   python3 -m unittest discover -s tests/scripts"""
import gzip
import importlib.machinery
import importlib.util
import os
import unittest

from driver_exports import without_repeat_querybufs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_loader = importlib.machinery.SourceFileLoader('strace_requeue', os.path.join(ROOT, 'scripts', 'strace-requeue'))
_spec = importlib.util.spec_from_loader('strace_requeue', _loader)
sr = importlib.util.module_from_spec(_spec)
_loader.exec_module(sr)


def lines(name):
    path = os.path.join(HERE, 'data', name)
    if name.endswith('.gz'):
        with gzip.open(path, 'rt') as f:
            return f.readlines()
    with open(path) as f:
        return f.readlines()


def analyse(name):
    return sr.analyse(lines(name))


class RecordedGstreamer(unittest.TestCase):
    """strace 6.1 of GStreamer v4l2slh264dec on h264-bframes in the visl guest (first 110
    V4L2 buffer ioctls): EXPBUF structs are not decoded, exports are the allocation batch."""

    def test_counts(self):
        r = analyse('strace-v4l2slh264dec.txt')
        self.assertEqual(r['decodes'], 21)
        self.assertEqual(len(r['buffers']), 11)
        self.assertEqual(r['exports'], 11)              # one per CAPTURE buffer, index 0..10
        self.assertEqual(r['unattributed_exports'], 0)  # the 2 OUTPUT exports are recognised
        self.assertEqual([r['buffers'][i]['exports'] for i in range(11)], [1] * 11)
        self.assertEqual(r['buffers'][3]['qbufs'], 3)
        self.assertEqual(r['buffers'][3]['intervals_decodes'], [8, 8])
        self.assertEqual(r['min_requeue_decodes'], 8)
        # exported before any decode: index k is first queued after k decodes
        self.assertEqual([r['buffers'][i]['export_to_qbuf_decodes'] for i in range(11)], [[i + 1] for i in range(11)])
        self.assertEqual(r['min_export_distance'], 1)


class Synthetic(unittest.TestCase):
    """[pid N] prefixes, unfinished/resumed calls, failed DQBUF, raw ioctl numbers, a decoded
    EXPBUF struct (newer strace) and an undecoded EXPBUF outside the allocation batch."""

    def test_synthetic(self):
        r = analyse('strace-synthetic.txt')
        self.assertEqual(r['decodes'], 5)
        b0, b1 = r['buffers'][0], r['buffers'][1]
        self.assertEqual(b0['qbufs'], 2)
        self.assertEqual(b0['intervals_decodes'], [4])      # QBUF after 1 and after 5 decodes
        self.assertAlmostEqual(b0['intervals_s'][0], 0.29, places=6)
        self.assertEqual(b0['exports'], 1)
        self.assertEqual(b0['export_to_qbuf_decodes'], [3])  # exported at 2 decodes, queued at 5
        self.assertEqual(b1['qbufs'], 2)
        self.assertEqual(b1['intervals_decodes'], [3])
        self.assertEqual(r['unattributed_exports'], 1)
        self.assertEqual(r['min_export_distance'], 3)
        self.assertEqual(r['min_requeue_decodes'], 3)


class RecordedDriverExports(unittest.TestCase):
    """strace 6.1 (ioctl + fcntl, filtered to buffer ioctls and fd duplications) of ffmpeg
    decoding tests/streams/requeue/h264-long.h264 through this driver in the visl guest,
    exporting every frame (hwmap to DRM PRIME), default LRU pool of 31 slots for 23
    surfaces. Each export is a CAPTURE QUERYBUF followed by EXPBUF (first export of a
    buffer) or F_DUPFD_CLOEXEC (later exports of the same dma-buf)."""

    def test_every_export_attributed(self):
        r = analyse('strace-driver-lru.txt.gz')
        self.assertEqual(r['decodes'], 96)
        self.assertEqual(len(r['buffers']), 31)
        self.assertEqual(r['exports'], 96)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual(r['min_export_distance'], 25)   # >= 31 slots - 23 surfaces
        self.assertEqual(r['min_requeue_decodes'], 27)


class RecordedDriverExportsOneQuerybufPerBuffer(unittest.TestCase):
    """The same recording as the driver exports now: a CAPTURE QUERYBUF for the first
    export of each buffer only (with its EXPBUF and F_DUPFD_CLOEXEC); later exports are the
    F_DUPFD_CLOEXEC of the buffer's dma-buf alone, attributed by that fd."""

    def test_every_export_attributed_by_fd(self):
        trace = without_repeat_querybufs(lines('strace-driver-lru.txt.gz'))
        self.assertEqual(sum('QUERYBUF' in l and 'CAPTURE' in l for l in trace), 31 + 31)  # mapping + first exports
        r = sr.analyse(trace)
        self.assertEqual(r, analyse('strace-driver-lru.txt.gz'))
        self.assertEqual(r['exports'], 96)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual(r['min_export_distance'], 25)


class DmaBufFdAttribution(unittest.TestCase):
    """Bindings of dma-buf fds to CAPTURE indices: a later export is a dup of the bound fd;
    the application's dups of what it was handed are not exports; a CAPTURE REQBUFS on the
    video fd forgets its bindings (the fd number may then be anything)."""

    def test_bindings(self):
        q = 'ioctl(5, VIDIOC_QUERYBUF, {type=V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, index=%d, memory=V4L2_MEMORY_MMAP, ...}) = 0'
        qbuf = 'ioctl(5, VIDIOC_QBUF, {type=V4L2_BUF_TYPE_VIDEO_%s_MPLANE, index=%d, memory=V4L2_MEMORY_MMAP, ...}) = 0'
        trace = ['1 1.00 ioctl(5, VIDIOC_REQBUFS, {type=V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, memory=V4L2_MEMORY_MMAP, count=2 => 2}) = 0',
                 '1 1.01 ' + qbuf % ('OUTPUT', 0), '1 1.02 ' + qbuf % ('CAPTURE', 0),
                 '2 1.10 ' + q % 0, '2 1.11 ioctl(5, VIDIOC_EXPBUF, 0x7ffd0000) = 0',
                 '2 1.12 fcntl(20, F_DUPFD_CLOEXEC, 3) = 21',
                 '2 1.13 fcntl(21, F_DUPFD_CLOEXEC, 0) = 22',          # the application's copy
                 '1 1.20 ' + qbuf % ('OUTPUT', 1), '1 1.21 ' + qbuf % ('CAPTURE', 1),
                 '2 1.30 fcntl(20, F_DUPFD_CLOEXEC, 3) = 23',          # a later export of index 0
                 '2 1.31 fcntl(23, F_DUPFD_CLOEXEC, 0) = 24',          # the application's copy
                 '1 1.40 ' + qbuf % ('OUTPUT', 0), '1 1.41 ' + qbuf % ('CAPTURE', 0),
                 '1 1.50 ioctl(5, VIDIOC_REQBUFS, {type=V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE, memory=V4L2_MEMORY_MMAP, count=0 => 0}) = 0',
                 '2 1.60 fcntl(20, F_DUPFD_CLOEXEC, 3) = 25']          # fd 20 is no driver dma-buf any more
        r = sr.analyse(trace)
        self.assertEqual(r['exports'], 2)
        self.assertEqual(r['buffers'][0]['exports'], 2)
        self.assertEqual(r['buffers'][0]['export_to_qbuf_decodes'], [2, 1])
        self.assertEqual(r['unattributed_exports'], 0)


class FrameAllocation(unittest.TestCase):
    """The driver's DMABUF CAPTURE frames: REQBUFS n, QUERYBUF + EXPBUF each and REQBUFS 0
    on an allocation handle (fd 7), then the context's handle (fd 5) queues those dma-bufs.
    The allocation batch is no export of fd 5's indices; the later QUERYBUF + F_DUPFD_CLOEXEC
    is (index 0 exported after 1 decode, queued again after 3)."""

    def test_allocation_is_not_an_export(self):
        r = analyse('strace-frame-allocation.txt')
        self.assertEqual(r['decodes'], 3)
        self.assertEqual(r['allocation_exports'], 2)
        self.assertEqual(r['exports'], 1)
        self.assertEqual(r['unattributed_exports'], 0)
        self.assertEqual(r['buffers'][0]['export_to_qbuf_decodes'], [2])
        self.assertEqual(r['buffers'][1]['exports'], 0)
        self.assertEqual(r['min_export_distance'], 2)


if __name__ == '__main__':
    unittest.main()

"""Unit tests of tests/e2e/profiles.py against scripts/vm/profiles (run by scripts/test-all:
python3 -m unittest discover -s tests/e2e)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import profiles as P  # noqa: E402


class ProfilesTest(unittest.TestCase):
    def setUp(self):
        self.table = P.read_table()

    def profile(self, name):
        return P.Profile(name, self.table[name])

    def test_table(self):
        for name in ('default', 'mediatek-like', 'nohold', 'cedrus-a20-like', 'hantro-g2-like', 'slow'):
            self.assertIn(name, self.table)
        self.assertEqual(self.table['default'], [])
        for params in self.table.values():
            for p in params:
                self.assertTrue(p.startswith('visl.'), p)

    def test_default_is_visl_as_patched(self):
        d = self.profile('default')
        self.assertTrue(d.hold)
        for c in P.CODED:
            self.assertEqual(d.fmts[c], ['NV12', 'YU12', 'P010'])
            self.assertTrue(d.describable(c) and d.tenbit(c))
        self.assertEqual(d.sizes['mpeg2'], (16, 16, 1920, 1152))

    def test_device_profiles(self):
        m = self.profile('mediatek-like')
        self.assertFalse(m.hold)
        self.assertTrue(all(m.describable(c) and m.tiled(c) == 'MM21' and not m.tenbit(c) for c in P.CODED))
        self.assertEqual(m.sizes['h264'], (64, 64, 4096, 2176))
        self.assertEqual(m.tiled_only('h264'), 'MM21')
        c = self.profile('cedrus-a20-like')
        self.assertTrue(c.hold)
        self.assertEqual(c.fmts['mpeg2'], ['ST12'])
        self.assertEqual(c.sizes['mpeg2'], (16, 16, 4096, 2304))
        h = self.profile('hantro-g2-like')
        self.assertEqual(h.fmts['h264'], ['NV12'])
        self.assertEqual(h.fmts['hevc'], ['VT12'])
        self.assertTrue(h.describable('h264') and not h.tenbit('h264'))
        self.assertTrue(h.describable('hevc') and h.describable('vp9') and not h.tenbit('hevc'))
        self.assertEqual((h.tiled('h264'), h.tiled('hevc'), h.tiled('av1')), (None, 'VT12', 'VT12'))
        self.assertEqual(c.tiled('h264'), 'ST12')
        self.assertIsNone(self.profile('default').tiled('h264'))
        self.assertEqual(h.sizes['mpeg2'], (16, 16, 1920, 1088))
        n = self.profile('nohold')
        self.assertFalse(n.hold)
        self.assertTrue(all(n.describable(c) for c in P.CODED))
        self.assertEqual(self.profile('slow').transtime_ms, 20)

    def test_capture_fmts_semantics(self):
        # A generic entry applies to every codec; the first entry for a codec replaces its
        # default list (as in the kernel patch).
        p = P.Profile('x', ['visl.capture_fmts=hevc:VT12,NV12', 'visl.max_size=h264:100x50,bogus'])
        self.assertEqual(p.fmts['hevc'], ['VT12', 'NV12'])
        self.assertEqual(p.fmts['h264'], ['NV12'])
        self.assertIsNone(p.tiled('hevc'))      # linear NV12 offered too: preferred
        self.assertEqual(p.sizes['h264'], (64, 64, 100, 64))   # clamped to the minimum

    def test_v4l2_ctl_parsing(self):
        self.assertEqual(P.parse_framesizes('ioctl: VIDIOC_ENUM_FRAMESIZES\n\tSize: Stepwise 64x64 - 4096x2304 with step 1/1\n'),
                         (64, 64, 4096, 2304))
        self.assertIsNone(P.parse_framesizes(''))
        out = "ioctl: VIDIOC_ENUM_FMT\n\tType: Video Capture Multiplanar\n\n\t[0]: 'MM21' (Mediatek 8-bit Block Format)\n"
        self.assertEqual(P.parse_capture_formats(out), ['MM21'])


if __name__ == '__main__':
    unittest.main()

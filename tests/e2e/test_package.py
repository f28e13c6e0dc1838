"""Unit tests of tests/e2e/package.py's parsing (host-side: python3 -m unittest discover -s tests/e2e)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import package  # noqa: E402

DIR = '/usr/lib/x86_64-linux-gnu/dri'
VAINFO_OUT = """vainfo: VA-API version: 1.17 (libva 2.12.0)
vainfo: Driver version: v4l2-request-va 0.1.0
vainfo: Supported profile and entrypoints
      VAProfileNone                   :	VAEntrypointVideoProc
      VAProfileH264Main               :	VAEntrypointVLD
      VAProfileH264High               :	VAEntrypointVLD
"""
VAINFO_ERR = """libva info: VA-API version 1.17.0
libva info: User environment variable requested driver 'v4l2_request'
libva info: Trying to open /usr/lib/x86_64-linux-gnu/dri/v4l2_request_drv_video.so
libva info: Found init function __vaDriverInit_1_17
libva info: va_openDriver() returns 0
"""


class DependsNames(unittest.TestCase):
    def test_versions_alternatives_and_arch_qualifiers(self):
        self.assertEqual(package.depends_names('libc6 (>= 2.34), libgcc-s1 (>= 4.2) | gcc-12-base, python3:any'),
                         ['libc6', 'libgcc-s1', 'gcc-12-base', 'python3'])

    def test_empty(self):
        self.assertEqual(package.depends_names(''), [])


class VainfoProblems(unittest.TestCase):
    WANT = {'VAProfileH264Main', 'VAProfileH264High'}

    def test_packaged_driver_with_the_suite_profiles(self):
        self.assertEqual(package.vainfo_problems(0, VAINFO_OUT, VAINFO_ERR, DIR, self.WANT), [])

    def test_driver_from_another_directory(self):
        err = VAINFO_ERR.replace(DIR, '/work/build/driver')
        bad = package.vainfo_problems(0, VAINFO_OUT, err, DIR, self.WANT)
        self.assertEqual(len(bad), 1)
        self.assertIn('Trying to open %s/v4l2_request_drv_video.so' % DIR, bad[0])

    def test_profiles_differ_or_none_expected(self):
        bad = package.vainfo_problems(0, VAINFO_OUT, VAINFO_ERR, DIR, self.WANT | {'VAProfileVP8Version0_3'})
        self.assertEqual(len(bad), 1)
        self.assertIn('VAProfileVP8Version0_3', bad[0])
        self.assertTrue(package.vainfo_problems(0, '', VAINFO_ERR, DIR, set()))

    def test_driver_not_opened(self):
        err = VAINFO_ERR.replace('va_openDriver() returns 0', 'va_openDriver() returns -1')
        self.assertEqual(package.vainfo_problems(1, '', err, DIR, self.WANT)[:2],
                         ['vainfo exit 1', 'vainfo: no "va_openDriver() returns 0"'])


if __name__ == '__main__':
    unittest.main()

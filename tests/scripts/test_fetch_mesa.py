"""Unit tests of scripts/consumers/fetch-mesa (sources and apt output parsing; no network).
python3 -m unittest discover -s tests/scripts"""
import importlib.machinery
import importlib.util
import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
_loader = importlib.machinery.SourceFileLoader('fetch_mesa', os.path.join(ROOT, 'scripts', 'consumers', 'fetch-mesa'))
_spec = importlib.util.spec_from_loader('fetch_mesa', _loader)
fm = importlib.util.module_from_spec(_spec)
_loader.exec_module(fm)

DEB822 = """Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
"""

ONE_LINE = """# comment
deb-src http://src.example/debian bookworm main
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/etc/apt/keyrings/x.gpg] https://mirror2.example/debian/ bookworm main contrib # trailing
"""

UNMET = """The following packages have unmet dependencies:
 libegl-mesa0 : Depends: libdrm2 (>= 2.4.121) but 2.4.114-1+b1 is to be installed
                Depends: mesa-libgallium (= 25.0.7-2~bpo12+1) but it is not going to be installed
 mesa-vulkan-drivers : Depends: libdrm-amdgpu1 (>= 2.4.121) but 2.4.114-1+b1 is to be installed
                       Depends: libdrm2 (>= 2.4.121) but 2.4.114-1+b1 is to be installed
E: Unable to correct problems, you have held broken packages.
"""

PLAN = """Inst libdrm-common (2.4.123-1~bpo12+1 Debian Backports:oldstable-backports [all])
Inst libdrm2 (2.4.123-1~bpo12+1 Debian Backports:oldstable-backports [amd64])
Inst libc6 (2.36-9+deb12u10 Debian:12.11/oldstable [amd64])
Inst libegl-mesa0 [22.3.6-1+deb12u1] (25.0.7-2~bpo12+1 Debian Backports:oldstable-backports [amd64]) []
Conf libdrm2 (2.4.123-1~bpo12+1 Debian Backports:oldstable-backports [amd64])
"""


class Sources(unittest.TestCase):
    def test_deb822(self):
        e = fm.parse_deb822_sources(DEB822)
        self.assertEqual([x['uri'] for x in e], ['http://mirror.example/debian', 'http://mirror.example/debian-security'])
        self.assertEqual(fm.debian_uri(e), ('http://mirror.example/debian', '/usr/share/keyrings/debian-archive-keyring.gpg'))

    def test_one_line(self):
        e = fm.parse_one_line_sources(ONE_LINE)
        self.assertEqual(len(e), 2)
        self.assertEqual(fm.debian_uri(e), ('https://mirror2.example/debian', '/etc/apt/keyrings/x.gpg'))

    def test_machine_sources_reads_both_styles(self):
        with tempfile.TemporaryDirectory() as etc:
            os.makedirs(os.path.join(etc, 'sources.list.d'))
            open(os.path.join(etc, 'sources.list'), 'w').write('')
            open(os.path.join(etc, 'sources.list.d', 'debian.sources'), 'w').write(DEB822)
            open(os.path.join(etc, 'sources.list.d', 'x.list.disabled'), 'w').write(ONE_LINE)
            self.assertEqual(fm.debian_uri(fm.machine_sources(etc))[0], 'http://mirror.example/debian')

    def test_no_source(self):
        self.assertEqual(fm.debian_uri(fm.parse_one_line_sources('deb http://x/ubuntu jammy main\n')), (None, None))


class AptOutput(unittest.TestCase):
    def test_unmet(self):
        self.assertEqual(fm.unmet_dependencies(UNMET), ['libdrm2', 'mesa-libgallium', 'libdrm-amdgpu1'])

    def test_plan(self):
        plan = fm.planned_installs(PLAN)
        self.assertEqual([p[0] for p in plan], ['libdrm-common', 'libdrm2', 'libc6', 'libegl-mesa0'])
        self.assertEqual(plan[3][1], '25.0.7-2~bpo12+1')
        self.assertIn('Backports', plan[3][2])

    def test_cache_key(self):
        a = fm.cache_key([('mesa-libgallium', '25.0.7-2~bpo12+1'), ('libdrm2', '2.4.123-1~bpo12+1')])
        b = fm.cache_key([('libdrm2', '2.4.123-1~bpo12+1'), ('mesa-libgallium', '25.0.7-2~bpo12+1')])
        c = fm.cache_key([('libdrm2', '2.4.124-1~bpo12+1'), ('mesa-libgallium', '25.0.7-2~bpo12+1')])
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertTrue(a.startswith('mesa-25.0.7_2_bpo12_1-'))


if __name__ == '__main__':
    unittest.main()

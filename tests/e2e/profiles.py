"""Device profiles of the test guest (scripts/vm/profiles, booted with scripts/vm/run --profile
NAME) and what the E2E suite expects under each.

A profile is a set of visl module parameters (scripts/vm/patches/0002-visl-device-profiles.patch):
hold_capture, capture_fmts ([codec:]FOURCC entries: one without a codec applies to every codec,
the first entry for a codec replaces its default NV12,YU12,P010 list), max_size (codec:WxH) and
visl_transtime_ms. The suite learns its profile from V4L2RVA_VM_PROFILE (set by vm/run) and
checks that the booted kernel really has it (/proc/cmdline, v4l2-ctl, REQBUFS capabilities).
"""
import fcntl
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROFILES = os.path.join(ROOT, 'scripts', 'vm', 'profiles')

# visl's coded formats (codec name in the parameters = the suite's codec name) with its own
# frame-size ranges (drivers/media/test-drivers/visl/visl-video.c): (min_w, min_h, max_w, max_h).
CODED = {
    'mpeg2': ('MG2S', (16, 16, 1920, 1152)),
    'vp8': ('VP8F', (64, 64, 16383, 16383)),
    'vp9': ('VP9F', (64, 64, 8192, 4352)),
    'h264': ('S264', (64, 64, 4096, 2304)),
    'hevc': ('S265', (64, 64, 4096, 2304)),
    'av1': ('AV1F', (64, 64, 4096, 2304)),
}
DEFAULT_FMTS = ['NV12', 'YU12', 'P010']
# What each tiled fourcc is, for messages.
TILED = {'ST12': 'NV12_32L32', 'VT12': 'NV12_4L4', 'MM21': 'MM21'}


def read_table(path=PROFILES):
    """name -> [parameter, ...] in file order."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if line:
                out[line[0]] = line[1:]
    return out


class Profile:
    def __init__(self, name, params):
        self.name = name
        self.params = list(params)
        kv = {}
        for p in params:
            k, _, v = p.partition('=')
            kv[k] = v
        self.hold = kv.get('visl.hold_capture', '1') not in ('0', 'N', 'n')
        self.transtime_ms = int(kv.get('visl.visl_transtime_ms', '0') or 0)
        self.fmts = {c: list(DEFAULT_FMTS) for c in CODED}
        replaced = set()
        for entry in filter(None, kv.get('visl.capture_fmts', '').split(',')):
            codec, _, fcc = entry.rpartition(':')
            for c in CODED:
                if codec and codec != c:
                    continue
                if c not in replaced:
                    self.fmts[c], replaced = [], replaced | {c}
                self.fmts[c].append(fcc)
        self.sizes = {c: rng for c, (_, rng) in CODED.items()}
        for entry in filter(None, kv.get('visl.max_size', '').split(',')):
            m = re.match(r'(\w+):(\d+)x(\d+)$', entry)
            if m and m.group(1) in CODED:
                mw, mh, _, _ = self.sizes[m.group(1)]
                self.sizes[m.group(1)] = (mw, mh, max(int(m.group(2)), mw), max(int(m.group(3)), mh))

    def describable(self, codec):
        """Whether the driver can decode the codec here: linear NV12 or P010 on CAPTURE, or a
        tiled NV12 layout it detiles (ST12, VT12, MM21)."""
        return bool({'NV12', 'P010'} & set(self.fmts[codec])) or self.tiled(codec) is not None

    def tiled(self, codec):
        """The tiled CAPTURE fourcc the driver decodes the codec into here (no linear NV12
        offered: the first tiled one listed), else None."""
        if 'NV12' in self.fmts[codec]:
            return None
        return next((f for f in self.fmts[codec] if f in TILED), None)

    def tenbit(self, codec):
        return 'P010' in self.fmts[codec]

    def tiled_only(self, codec):
        return ','.join(TILED.get(f, f) for f in self.fmts[codec])


def current():
    name = os.environ.get('V4L2RVA_VM_PROFILE') or 'default'
    table = read_table()
    if name not in table:
        raise SystemExit('profiles: unknown profile %r (V4L2RVA_VM_PROFILE; see %s)' % (name, PROFILES))
    return Profile(name, table[name])


# --- what the device says

VIDIOC_REQBUFS = 0xC0145608          # _IOWR('V', 8, struct v4l2_requestbuffers), 20 bytes
V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE = 10
V4L2_MEMORY_MMAP = 1
V4L2_BUF_CAP_SUPPORTS_REQUESTS = 1 << 3
V4L2_BUF_CAP_SUPPORTS_M2M_HOLD_CAPTURE_BUF = 1 << 5


def output_capabilities(node):
    """REQBUFS(count 0) capabilities of the OUTPUT queue."""
    fd = os.open(node, os.O_RDWR)
    try:
        buf = bytearray(struct.pack('<IIII4x', 0, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, V4L2_MEMORY_MMAP, 0))
        fcntl.ioctl(fd, VIDIOC_REQBUFS, buf)
        return struct.unpack_from('<IIII', buf)[3]
    finally:
        os.close(fd)


def parse_capture_formats(out):
    """fourccs of `v4l2-ctl --list-formats` output."""
    return re.findall(r"\[\d+\]: '(\w+)'", out)


def parse_framesizes(out):
    """(min_w, min_h, max_w, max_h) of `v4l2-ctl --list-framesizes` (stepwise or continuous)."""
    m = re.search(r'Size: \w+ (\d+)x(\d+) - (\d+)x(\d+)', out)
    return tuple(int(x) for x in m.groups()) if m else None

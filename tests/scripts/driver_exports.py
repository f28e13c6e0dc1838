"""Test helper: a recorded strace of this driver's exports as the driver makes them now.

Until the driver remembered each CAPTURE buffer's size, every export was a VIDIOC_QUERYBUF
of the index followed by (first export of a buffer, MMAP) VIDIOC_EXPBUF and an
fcntl(F_DUPFD_CLOEXEC) of the buffer's dma-buf. Now only the first export of a buffer
queries it; later ones are the duplicate alone. without_repeat_querybufs() drops, from such
a recording, each CAPTURE QUERYBUF whose next call in its thread is an F_DUPFD of an index
already exported on that video fd since its last CAPTURE REQBUFS."""
import re

LINE_RE = re.compile(r'^(?:\[pid\s+(?P<pid1>\d+)\]\s+|(?P<pid2>\d+)\s+)?\d+\.\d+\s+(?P<rest>.*)$')
QUERY_RE = re.compile(r'^ioctl\((\d+),[^{]*QUERYBUF[^{]*\{type=[^,]*CAPTURE[^,]*, index=(\d+)')
REQBUFS_RE = re.compile(r'^ioctl\((\d+),[^{]*REQBUFS[^{]*\{type=[^,]*CAPTURE')
DUPFD_RE = re.compile(r'^fcntl\(\d+, [^,]*F_DUPFD')
EXPBUF_RE = re.compile(r'^ioctl\(\d+, [^,]*EXPBUF')


def without_repeat_querybufs(lines):
    lines = list(lines)
    drop = set()
    exported = set()          # (video fd, index)
    query = {}                # pid -> (line numbers, video fd, index): a QUERYBUF awaiting its next call
    split = {}                # pid -> (line number, head) of an unfinished call
    for n, line in enumerate(lines):
        m = LINE_RE.match(line.rstrip('\n'))
        if not m:
            continue
        pid = m.group('pid1') or m.group('pid2') or '0'
        rest, numbers = m.group('rest'), [n]
        if rest.endswith('<unfinished ...>'):
            split[pid] = (n, rest[:-len('<unfinished ...>')].rstrip())
            continue
        r = re.match(r'<\.\.\. \w+ resumed>\s?(.*)$', rest)
        if r and pid in split:
            first, head = split.pop(pid)
            rest, numbers = head + r.group(1), [first, n]
        q = query.pop(pid, None)
        if q and EXPBUF_RE.match(rest):
            exported.add((q[1], q[2]))           # a first export (MMAP)
        elif q and DUPFD_RE.match(rest):
            key = (q[1], q[2])
            if key in exported:
                drop.update(q[0])
            exported.add(key)
        r = REQBUFS_RE.match(rest)
        if r:
            exported = {k for k in exported if k[0] != r.group(1)}
        qm = QUERY_RE.match(rest)
        if qm:
            query[pid] = (numbers, qm.group(1), qm.group(2))
    return [l for n, l in enumerate(lines) if n not in drop]

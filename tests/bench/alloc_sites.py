#!/usr/bin/env python3
"""Where a client's allocations per frame come from: the marginal call sites of two
tests/bench/alloc-count.c runs (V4L2RVA_ALLOC_SITES=1), one on N frames and one on 2N.

Each allocation's call chain (return addresses as OBJECT+0xOFFSET) was counted per distinct
chain. A chain's figure per frame is (count in the 2N run - count in the N run) / N, so
start-up and teardown cancel out, as for the totals. A chain is charged to its *owner*: the
first object in it that is not the C library, the dynamic loader or the counter itself (a
Rust program calls malloc from its own code; libva from libva.so; a `strdup` in libc is
charged to its caller). The report prints the figure per owner object and the chains that
allocate at least --min per frame, each named by the owner's functions (addr2line on the
object, which needs its debug information: the driver and va-client are built with
`debug = 1`; allocator plumbing such as `alloc::raw_vec` is skipped).

    alloc_sites.py COUNTS_N PID_N COUNTS_2N PID_2N N [--binary NAME=PATH ...] [--min 0.05]

--binary maps an object named without a path (the main program, as dladdr names it) to its
file, for addr2line. Used by tests/bench/bench.py; runnable by hand on its output files.
"""
import argparse
import collections
import os
import re
import subprocess
import sys

SITE = re.compile(r'pid (\d+) site (\d+) (.*)')
NOT_OWNERS = ('libc.so', 'ld-linux', 'alloc-count', 'libgcc_s')
PLUMBING = ('alloc::', '<alloc::', '__rust', '__rdl', '__rg_', 'core::', '<core::', 'std::alloc', 'hashbrown::raw',
            '<hashbrown::', 'hashbrown::', '_$LT$alloc', 'alloc..', 'malloc', 'realloc', 'calloc', '??')


def read_sites(path, pid):
    chains = collections.Counter()
    with open(path, errors='replace') as f:
        for line in f:
            m = SITE.match(line)
            if m and int(m.group(1)) == pid:
                chains[tuple(m.group(3).split())] += int(m.group(2))
    return chains


def split_frame(frame):
    obj, _, off = frame.rpartition('+')
    return obj, int(off, 16)


def owner_index(chain):
    for i, frame in enumerate(chain):
        obj = os.path.basename(split_frame(frame)[0])
        if not any(x in obj for x in NOT_OWNERS):
            return i
    return None


class Symbols:
    """addr2line per object, one call per object for all its offsets."""

    def __init__(self, binaries):
        self.binaries = binaries
        self.names = {}

    def path(self, obj):
        return self.binaries.get(obj, obj)

    def resolve(self, wanted):
        by_obj = collections.defaultdict(set)
        for obj, off in wanted:
            by_obj[obj].add(off)
        for obj, offs in by_obj.items():
            offs = sorted(offs)
            path = self.path(obj)
            names = ['??'] * len(offs)
            if os.path.exists(path):
                try:
                    # A return address points after the call: look up the byte before it.
                    out = subprocess.run(['addr2line', '-f', '-C', '-e', path] + ['0x%x' % (o - 1) for o in offs],
                                         capture_output=True, text=True, timeout=120).stdout.splitlines()
                    names = out[0::2][:len(offs)] or names
                except (OSError, subprocess.SubprocessError):
                    pass
            for off, name in zip(offs, names):
                self.names[(obj, off)] = name

    def name(self, obj, off):
        return self.names.get((obj, off), '??')


def describe(chain, start, symbols, depth=3):
    """The owner's first `depth` non-plumbing functions, innermost first."""
    owner = split_frame(chain[start])[0]
    names = []
    for frame in chain[start:]:
        obj, off = split_frame(frame)
        if obj != owner:
            break
        name = symbols.name(obj, off)
        if name.startswith(PLUMBING) or any(p in name for p in ('raw_vec', 'RawVec', 'alloc::alloc')):
            continue
        short = re.sub(r'::h[0-9a-f]{16}$', '', name)
        if not names or names[-1] != short:
            names.append(short)
        if len(names) == depth:
            break
    return ' <- '.join(names) if names else '%s+0x%x' % (os.path.basename(owner), split_frame(chain[start])[1])


def marginal(counts_n, pid_n, counts_2n, pid_2n, n):
    a, b = read_sites(counts_n, pid_n), read_sites(counts_2n, pid_2n)
    return {chain: (b.get(chain, 0) - a.get(chain, 0)) / n for chain in set(a) | set(b)}


def report(per_chain, binaries, min_per_frame=0.05, out=sys.stdout):
    """Print per-owner totals and the chains above min_per_frame; returns {owner: per frame}."""
    owners = collections.Counter()
    grouped = collections.Counter()
    for chain, per in per_chain.items():
        i = owner_index(chain)
        owner = os.path.basename(split_frame(chain[i])[0]) if i is not None else '(C library only)'
        owners[owner] += per
        if i is not None:
            grouped[(chain, i)] += per
    symbols = Symbols(binaries)
    big = [(per, chain, i) for (chain, i), per in grouped.items() if abs(per) >= min_per_frame]
    symbols.resolve({split_frame(f) for _, chain, i in big for f in chain[i:]})
    print('allocations per frame by owner: ' + ', '.join('%s %.1f' % (o, v) for o, v in owners.most_common() if abs(v) >= 0.05),
          file=out)
    # Chains that differ only below the owner's functions read the same: merge by description.
    lines = collections.Counter()
    for per, chain, i in big:
        lines['%s: %s' % (os.path.basename(split_frame(chain[i])[0]), describe(chain, i, symbols))] += per
    for text, per in sorted(lines.items(), key=lambda kv: -kv[1]):
        print('  %6.2f/frame  %s' % (per, text), file=out)
    return dict(owners)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('counts_n')
    ap.add_argument('pid_n', type=int)
    ap.add_argument('counts_2n')
    ap.add_argument('pid_2n', type=int)
    ap.add_argument('n', type=int)
    ap.add_argument('--binary', action='append', default=[], help='NAME=PATH for objects dladdr names without a path')
    ap.add_argument('--min', type=float, default=0.05)
    args = ap.parse_args()
    binaries = dict(b.split('=', 1) for b in args.binary)
    report(marginal(args.counts_n, args.pid_n, args.counts_2n, args.pid_2n, args.n), binaries, args.min)
    return 0


if __name__ == '__main__':
    sys.exit(main())

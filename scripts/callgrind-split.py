#!/usr/bin/env python3
"""Splits the instructions of one bench iteration between the driver and
everything else (ndis-emu, its allocator and formatting, the bench harness).

Give it two callgrind profiles of `covmini-lab bench --callgrind-path PATH`
that differ only in --iterations (LOW and HIGH) and the difference of the
counts: it prints, per iteration, the whole process's instructions, the
driver's own and the rest.

The driver's own instructions are the self cost of its functions (covmini::*,
or empty_mcm::* for the baseline; the host build is compiled into the lab),
plus what they spend in library helpers they call that are not NDIS DDIs
(memcpy, formatting). A call from the driver into a DDI (Ndis*, Ke*, Ex*,
Dbg*, or any ndis_emu function) is NDIS's time, not the driver's.

Usage: scripts/callgrind-split.py LOW.out HIGH.out ITERATIONS
  e.g. (BENCHMARKS.md, "The emulator's own cost per NBL")
    valgrind --tool=callgrind --callgrind-out-file=low.out \\
      target/release/covmini-lab bench --callgrind-path nbl64 --iterations 200
    valgrind --tool=callgrind --callgrind-out-file=high.out \\
      target/release/covmini-lab bench --callgrind-path nbl64 --iterations 1200
    scripts/callgrind-split.py low.out high.out 1000
"""
import re
import sys
from collections import defaultdict

DRIVER = ("covmini::", "<covmini::", "empty_mcm::", "<empty_mcm::")
DDI = re.compile(r"^(Ndis|Ke|Kf|Ex|Dbg|Io|Rtl|Mm|Ps|Ob|Zw)")


def parse(path):
    """(total, self cost by function, inclusive cost by (caller, callee))."""
    names = {}
    self_cost = defaultdict(int)
    calls = defaultdict(int)
    fn = cfn = None
    pending_call = False
    total = None

    def name(rest):
        m = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not m:
            return rest
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), rest)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                cfn = name(line[4:])
            elif line.startswith("calls="):
                pending_call = True
            elif line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
            elif line[0].isdigit() or line[0] in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if pending_call:
                    calls[(fn, cfn)] += cost
                    pending_call = False
                else:
                    self_cost[fn] += cost
    return total, self_cost, calls


def is_driver(f):
    return f is not None and f.startswith(DRIVER)


def is_ndis(f):
    return f is not None and (bool(DDI.match(f)) or "ndis_emu::" in f)


def split(path):
    total, self_cost, calls = parse(path)
    driver = sum(c for f, c in self_cost.items() if is_driver(f))
    driver += sum(c for (a, b), c in calls.items() if is_driver(a) and not is_driver(b) and not is_ndis(b))
    return total, driver


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    low, high, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    (t0, d0), (t1, d1) = split(low), split(high)
    total, driver = (t1 - t0) / n, (d1 - d0) / n
    print(f"per iteration: {total:.0f} instructions, driver's own {driver:.0f}, the rest (NDIS, harness) {total - driver:.0f}")


if __name__ == "__main__":
    main()

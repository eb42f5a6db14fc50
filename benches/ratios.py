#!/usr/bin/env python3
"""Prints, per criterion group of the `core`, `forkjoin` and `futures` benches,
each pool's median time per element and our pool's ratio to it (ours / peer:
below 1 means we are faster).

Usage: python3 benches/ratios.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion)
"""
import json
import os
import sys
from pathlib import Path

OURS = "executor_core"
GROUPS = [
    # benches/core.rs
    "spawn_outside", "spawn_inside", "chained_spawn", "ping_pong", "round_trip",
    # benches/forkjoin.rs
    "fib_coarse", "fib_fine", "sum", "quicksort",
    # benches/futures.rs
    "submit_collect", "fib_submit",
]


def main():
    default = Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    for group in GROUPS:
        rows = {}
        for est in sorted((root / group).glob("*/*/new/estimates.json")):
            pool, threads = est.parts[-4], est.parts[-3]
            bench = json.loads((est.parent / "benchmark.json").read_text())
            elements = (bench.get("throughput") or {}).get("Elements", 1)
            median = json.loads(est.read_text())["median"]["point_estimate"]
            rows[pool] = (threads, median / elements)
        if not rows:
            continue
        ours = rows.get(OURS, (None, None))[1]
        print(f"{group} (threads: {sorted({t for t, _ in rows.values()})})")
        for pool, (_, ns) in sorted(rows.items(), key=lambda r: r[0] != OURS):
            ratio = f"{ours / ns:6.2f}" if ours else "   n/a"
            print(f"  {pool:<20} {ns:12.1f} ns/elem   ours/this = {ratio}")


if __name__ == "__main__":
    main()

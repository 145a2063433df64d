#!/usr/bin/env python3
"""Fuzz xrayinspect.io.read_frame with mutated valid frames and random bytes.

Usage: python scripts/fuzz_readers.py [--cases 10000] [--seed 0]

Prints the number of cases run and every outcome that was neither a 2-D
frame nor a FrameReadError (exit status 1 if there was any).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="folder to copy crashing inputs into")
    args = ap.parse_args(argv)

    from xrayinspect.testing.fuzz import check_one, mutate, seed_files

    warnings.simplefilter("ignore")
    seeds = seed_files()
    names = sorted(seeds)
    suffixes = [".tif", ".png", ".jpg", ".bmp", ".dcm", ".dat"]
    rng = np.random.default_rng(args.seed)
    crashes = []
    ok = refused = 0
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cases):
            if rng.random() < 0.1:
                data = rng.bytes(int(rng.integers(0, 2048)))
                origin = "random"
            else:
                origin = names[int(rng.integers(0, len(names)))]
                data = seeds[origin]
                for _ in range(int(rng.integers(1, 5))):
                    data = mutate(data, rng)
            p = Path(tmp) / f"case{suffixes[int(rng.integers(0, len(suffixes)))]}"
            p.write_bytes(data)
            outcome, exc = check_one(p)
            if outcome == "read":
                ok += 1
                continue
            if outcome == "refused":
                refused += 1
                continue
            crashes.append((i, origin, f"{type(exc).__name__}: {exc}"))
            print(f"CRASH case {i} (from {origin}): {type(exc).__name__}: {exc}", flush=True)
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"crash_{i}_{origin}{p.suffix}").write_bytes(data)
    dt = time.perf_counter() - t0
    print(f"{args.cases} cases in {dt:.1f} s: {ok} read, {refused} refused with FrameReadError, "
          f"{len(crashes)} other exceptions")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())

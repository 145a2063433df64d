#!/usr/bin/env python3
"""Kill -9 trials: SIGKILL `xrayinspect score` (2 workers, ~15 small frames) and a review save
at random (seeded) moments, then check that nothing was lost or duplicated.

Usage: python scripts/kill_resume_trials.py [--trials 10] [--seed 0] [--only batch|review] [--frames 15]

See xrayinspect/testing/kill_trials.py for what each trial checks. Prints one line per
trial and the totals; exit status 1 if any trial failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["batch", "review"])
    ap.add_argument("--frames", type=int, default=15)
    args = ap.parse_args(argv)

    from xrayinspect.testing.kill_trials import batch_trial, make_batch_inputs, review_trial

    totals = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.only in (None, "batch"):
            inputs = tmp / "frames"
            t0 = time.perf_counter()
            names = make_batch_inputs(inputs, n=args.frames)
            print(f"batch: {len(names)} frames written in {time.perf_counter() - t0:.1f} s", flush=True)
            passed = 0
            for i in range(args.trials):
                t0 = time.perf_counter()
                ok, detail = batch_trial(inputs, tmp / f"batch{i}", args.seed * 1000 + i)
                passed += ok
                print(f"batch trial {i}: {'PASS' if ok else 'FAIL'} ({time.perf_counter() - t0:.1f} s) {detail}",
                      flush=True)
            totals["batch"] = (passed, args.trials)
        if args.only in (None, "review"):
            passed = 0
            for i in range(args.trials):
                ok, detail = review_trial(tmp / f"review{i}", args.seed * 1000 + i)
                passed += ok
                print(f"review trial {i}: {'PASS' if ok else 'FAIL'} {detail}", flush=True)
            totals["review"] = (passed, args.trials)
    print("kill-and-resume: " + ", ".join(f"{k} {p}/{n} passed" for k, (p, n) in totals.items()))
    return 0 if all(p == n for p, n in totals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

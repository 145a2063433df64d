#!/usr/bin/env python3
"""Fuzz xrayinspect.recipe.parse_recipe with random TOML-ish text, random dicts and mutated recipes.

Usage: python scripts/fuzz_recipes.py [--cases 10000] [--seed 0]

Each case must give a Recipe or a RecipeError with one line naming the file;
prints the counts and every other outcome (exit status 1 if there was any).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from xrayinspect.testing.recipe_fuzz import check_recipe, random_case

    rng = random.Random(args.seed)
    counts = Counter()
    crashes = []
    t0 = time.perf_counter()
    for i in range(args.cases):
        kind, x = random_case(rng)
        outcome, detail = check_recipe(x)
        counts[outcome] += 1
        counts[(kind, outcome)] += 1
        if outcome == "crash":
            crashes.append(i)
            print(f"CRASH case {i} ({kind}): {detail}\n  input: {repr(x)[:300]}", flush=True)
    dt = time.perf_counter() - t0
    kinds = ", ".join(f"{k} {sum(counts[(k, o)] for o in ('ok', 'refused', 'crash'))}"
                      for k in ("text", "dict", "mutated", "bytes"))
    print(f"{args.cases} cases in {dt:.1f} s ({kinds}): {counts['ok']} parsed, "
          f"{counts['refused']} refused with RecipeError, {len(crashes)} other outcomes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Smallest void the scorer reliably finds: detection rate against void size.

Builds clean BGA scenes with the simulator where every ball carries exactly
one void of a chosen radius (a fraction of the ball radius, at mid-height,
away from the rim) in one ball of three (the others void-free), renders and exposes them at normal difficulty, scores
them, and counts the balls whose measured void count is at least one.
Prints a table: void radius (px and fraction of the ball radius), void area
as % of the ball, detection rate, mean measured void % against truth.

Usage: python scripts/void_sensitivity.py [--frames 3] [--export tiff16]
Seeds 6_000_000+ (used for nothing else).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrayinspect.evaluation import match  # noqa: E402
from xrayinspect.pipeline import score_frame  # noqa: E402
from xrayinspect.recipe import parse_recipe  # noqa: E402
from xrayinspect.synth.detector import expose, to_8bit  # noqa: E402
from xrayinspect.synth.geometry import Ellipsoid  # noqa: E402
from xrayinspect.synth.render import render_scene  # noqa: E402
from xrayinspect.synth.scene import bga_scene  # noqa: E402

FRACTIONS = (0.06, 0.09, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4)


def one_frame(seed, frac, export):
    rng = np.random.default_rng(seed)
    scene = bga_scene(rng, shape=(768, 768), rows=12, cols=12, tilt_deg=0.5, defects=False)
    for g in scene.groups:
        if g.role != "ball" or not g.joint_solids:
            continue
        ball = g.solids[g.joint_solids[0]]
        keep = [s for i, s in enumerate(g.solids) if i not in g.void_solids]
        g.solids = keep
        g.joint_solids = [keep.index(ball)]
        g.void_solids = []
        if (g.truth["grid_row"] + g.truth["grid_col"]) % 3:
            continue        # most balls of a real board barely void: two in three stay clean
        a, _, c = ball.axes
        rv = min(frac * a, 0.9 * c)
        th = rng.uniform(0, 2 * np.pi)
        rad = 0.3 * a * rng.uniform(0, 1)
        x, y, z = ball.center
        g.void_solids = [len(g.solids)]
        g.solids.append(Ellipsoid((x + rad * np.cos(th), y + rad * np.sin(th), z), (rv, rv, rv), 0.0, "solder", -1))
    t, joints = render_scene(scene)
    img, _ = expose(t, rng, difficulty="normal", polarity="dark")
    if export == "png8":
        img = to_8bit(img, rng)
    return img, {"joints": joints, "scene": scene.frame}, scene.recipe


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--export", default="tiff16", choices=["tiff16", "png8"])
    args = ap.parse_args(argv)
    print(f"| void radius / ball radius | void radius px (median) | void area % of ball | found | mean measured % | mean truth % |")
    print("|---|---|---|---|---|---|")
    for i, frac in enumerate(FRACTIONS):
        found, total, meas, tru, rpx = 0, 0, [], [], []
        for k in range(args.frames):
            img, truth, recipe = one_frame(6_000_000 + 100 * i + k, frac, args.export)
            r = score_frame(img, recipe=parse_recipe(recipe))
            pairs, _, _ = match(truth["joints"], r.joints)
            for a, b in pairs:
                t, j = truth["joints"][a], r.joints[b]
                if t.get("partial") or t["kind"] != "ball" or t["void_pct"] <= 0:
                    continue
                total += 1
                found += j.void_count >= 1
                meas.append(j.void_pct)
                tru.append(t["void_pct"])
                rpx.append(frac * t["diameter_px"] / 2 / 1.0)
        print(f"| {frac:.2f} | {np.median(rpx):.1f} | {np.mean(tru):.1f} | {found}/{total} ({found / max(total, 1):.0%}) "
              f"| {np.mean(meas):.1f} | {np.mean(tru):.1f} |")


if __name__ == "__main__":
    main()

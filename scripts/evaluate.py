#!/usr/bin/env python
"""Held-out accuracy of xrayinspect against simulator truth, and against a Fiji-style baseline.

Generates synthetic BGA and QFN sets from seeds that are **evaluation-only**
(never used while developing or calibrating: BGA frames use base seed
:data:`SEED_BGA` = 7_000_000 and up, QFN frames :data:`SEED_QFN` = 7_100_000
and up; do not tune anything on them), writes them with
:func:`xrayinspect.synth.write_set`, scores them

* through the real command line, ``python -m xrayinspect score DIR --out OUT``
  with no recipe (package, pitch and size inferred per frame; DIR holds the
  images alone, since the CLI would pick up ``NAME.recipe.toml`` beside a frame);
* in process with each frame's own recipe (``score_frame(image, recipe=...)``;
  the CLI takes one recipe per batch);
* with the Fiji-style baseline :func:`xrayinspect.baseline.score_baseline`;

and prints a markdown table of the headline figures against their targets,
with a 95% interval of each no-recipe figure from resampling the frames,
plus the head-in-pillow ROC (with ``--write-docs`` into ``docs/hip_roc.csv`` and
``docs/images/hip_roc.png``; with ``--keep`` into that folder; or where ``--roc-csv`` /
``--roc-png`` say; a plain run writes no file).

Usage::

    python scripts/evaluate.py --size 1024 --n-bga 16 --n-qfn 8 --workers 2
    python scripts/evaluate.py --keep /tmp/evalset --write-docs

Which frames feed which row: ball rows (detection, centroid, void error, hip
ROC) use the BGA frames; pad/pin/via rows the QFN frames; the defect-code F1s
and the frame verdict accuracy all frames. The baseline has no QFN model, so
the QFN-only rows are ``n/a`` for it.
"""

import argparse
import datetime as _dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from xrayinspect import io as xio
from xrayinspect.baseline import score_baseline
from xrayinspect.evaluation import Tally, bootstrap_intervals, match
from xrayinspect.pipeline import score_frame
from xrayinspect.recipe import load_recipe
from xrayinspect.results import FrameResult
from xrayinspect.rules import HIP_THRESHOLD
from xrayinspect.synth import write_set

#: Base seeds reserved for evaluation. Never develop, tune or calibrate on them.
SEED_BGA = 7_000_000
SEED_QFN = 7_100_000

REPO = Path(__file__).resolve().parents[1]
METHODS = ("cli", "recipe", "baseline")
HEADERS = {"cli": "xrayinspect (no recipe)", "recipe": "xrayinspect (with recipe)", "baseline": "baseline"}

# (key, label, target text, comparison, target value, source tally)
ROWS = [
    ("detection_f1", "ball detection F1", ">=0.999", ">=", 0.999, "bga"),
    ("centroid_median_px", "centroid median error px", "<=0.25", "<=", 0.25, "bga"),
    ("void_abs_err_mean_pp", "void abs err mean pp", "<=1.0", "<=", 1.0, "bga"),
    ("void_abs_err_p95_pp", "void abs err p95 pp", "<=3.0", "<=", 3.0, "bga"),
    ("f1_missing", "F1 missing", ">=0.99", ">=", 0.99, "all"),
    ("f1_bridge", "F1 bridge", ">=0.98", ">=", 0.98, "all"),
    ("f1_extra", "F1 extra", ">=0.95", ">=", 0.95, "all"),
    ("f1_misaligned", "F1 misaligned", ">=0.95", ">=", 0.95, "all"),
    ("f1_void", "F1 void", ">=0.95", ">=", 0.95, "all"),
    ("f1_hip", "F1 hip", ">=0.80", ">=", 0.80, "all"),
    ("frame_verdict_acc", "frame verdict accuracy", ">=0.98", ">=", 0.98, "all"),
    ("pad_void_abs_err_mean_pp", "QFN pad void MAE pp", "<=1.5", "<=", 1.5, "qfn"),
    ("pad_void_abs_err_p95_pp", "QFN pad void p95 pp", "<=4", "<=", 4.0, "qfn"),
    ("vias_never_void", "QFN vias-never-void rate", "1.00", ">=", 1.0, "qfn"),
    ("pin_f1", "QFN pin detection F1", ">=0.995", ">=", 0.995, "qfn"),
    ("pin_bridge_f1", "QFN pin bridge F1", ">=0.98", ">=", 0.98, "qfn"),
    ("pin_missing_f1", "QFN pin missing F1", "-", None, None, "qfn"),
]
#: Rows whose figures come from the QFN extras (_Extra), not from a Tally: no interval.
_EXTRA_KEYS = ("vias_never_void", "pin_f1", "pin_bridge_f1", "pin_missing_f1")
#: Last column: where the no-recipe figure would fall on another set of as many frames.
INTERVAL_HEADER = "no recipe, 95% interval"
#: Metric labels every table has (the smoke test checks them).
ROW_LABELS = [r[1] for r in ROWS]


def _fmt(v, key):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if key.endswith("_px") or key.endswith("_pp"):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.2f}"
    return f"{v:.4f}"


def _frames(folder):
    """``(name, image path, truth path, recipe path)`` of every frame in a write_set folder."""
    out = []
    for truth in sorted(Path(folder).rglob("*.truth.json")):
        stem = truth.name[: -len(".truth.json")]
        imgs = [p for p in truth.parent.glob(stem + ".*") if p.suffix.lower() in (".tif", ".png", ".jpg")]
        if imgs:
            out.append((stem, imgs[0], truth, truth.parent / (stem + ".recipe.toml")))
    return out


def run_cli(folder, out, workers):
    """Score ``folder`` through ``python -m xrayinspect score``; results by frame stem."""
    cmd = [sys.executable, "-m", "xrayinspect", "score", str(folder), "--out", str(out),
           "--workers", str(workers), "--quiet", "--no-report", "--force"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    # exit 3: some frames are error rows (no sidecar); they are tallied as
    # frames nothing was found in, as a line would take them
    if p.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    res = {}
    for sc in sorted((Path(out) / "sidecars").glob("*.json")):
        d = json.loads(sc.read_text(encoding="utf-8"))
        r = FrameResult.from_sidecar(d)
        stem = Path(d["frame"].replace("\\", "/").rsplit("/", 1)[-1]).stem
        res[stem] = r
    return res


class _Extra:
    """QFN figures the Tally does not keep: pin detection, pin bridges and via recognition."""

    def __init__(self):
        self.pin = [0, 0, 0]          # tp, fp, fn
        self.pin_bridge = [0, 0, 0]   # tp, fp, fn of pin bridge calls
        self.via = [0, 0]             # truth vias recognised as vias (not voids), truth vias
        self.pin_missing = [0, 0, 0]  # tp, fp, fn of missing pin calls (bare lands and gaps)

    def add(self, truth, result):
        tj = truth["joints"]
        rj = result.joints if result.status == "ok" else []
        tpins = [t for t in tj if t["kind"] == "pin"]
        rpins = [j for j in rj if j.kind == "pin"]
        pairs, ti, ri = match(tpins, rpins)
        mt, mr = {a for a, _ in pairs}, {b for _, b in pairs}
        self.pin[0] += sum(1 for a, b in pairs if not (tpins[a].get("partial") or rpins[b].partial))
        self.pin[2] += sum(1 for a in ti if a not in mt and not tpins[a].get("partial"))
        self.pin[1] += sum(1 for b in ri if b not in mr and not rpins[b].partial)
        pb = self.pin_bridge
        for a, b in pairs:
            if tpins[a].get("partial") or rpins[b].partial:
                continue
            t_b, r_b = "bridge" in tpins[a]["defects"], "bridge" in rpins[b].defects
            pb[0] += t_b and r_b
            pb[1] += r_b and not t_b
            pb[2] += t_b and not r_b
        pb[2] += sum(1 for a in ti if a not in mt and not tpins[a].get("partial") and "bridge" in tpins[a]["defects"])
        pb[1] += sum(1 for b in ri if b not in mr and not rpins[b].partial and "bridge" in rpins[b].defects)
        # missing pins have no segment to match by: matched by place, within 0.4 pin pitch
        tm = [t for t in tj if t["kind"] == "pin" and "missing" in t["defects"] and not t.get("partial")]
        rm = [j for j in rj if j.kind == "pin" and "missing" in j.defects and not j.partial]
        lim = 0.4 * float(truth.get("scene", {}).get("pitch_px") or 10.0)
        used = set()
        for t in tm:
            d = [(np.hypot(t["x_px"] - j.x_px, t["y_px"] - j.y_px), i) for i, j in enumerate(rm) if i not in used]
            best = min(d, default=None)
            if best is not None and best[0] <= lim:
                used.add(best[1])
                self.pin_missing[0] += 1
            else:
                self.pin_missing[2] += 1
        self.pin_missing[1] += len(rm) - len(used)
        tv = sum(int(t.get("via_count") or 0) for t in tj if t["kind"] == "pad")
        if tv:
            rv = sum(int(j.via_count or 0) for j in rj if j.kind == "pad")
            self.via[0] += min(rv, tv)
            self.via[1] += tv

    def summary(self):
        return {"pin_f1": Tally.f1(*self.pin), "pin_bridge_f1": Tally.f1(*self.pin_bridge),
                "pin_missing_f1": Tally.f1(*self.pin_missing),
                "n_pin_bridge": self.pin_bridge[0] + self.pin_bridge[2],
                "n_pin_missing": self.pin_missing[0] + self.pin_missing[2],
                "vias_never_void": self.via[0] / self.via[1] if self.via[1] else float("nan"),
                "n_vias": self.via[1]}


def hip_roc(hip_scores):
    """ROC of the head-in-pillow score.

    Parameters
    ----------
    hip_scores : list of (float, bool)
        ``Tally.hip_scores``: score and whether the truth is a HiP ball.

    Returns
    -------
    rows : list of dict
        ``threshold, tpr, fpr, precision, f1`` for every distinct score (and
        +inf), highest threshold first.
    auc : float
        Area under the ROC (trapezoids); NaN without both classes.
    """
    if not hip_scores:
        return [], float("nan")
    s = np.array([x for x, _ in hip_scores], float)
    y = np.array([bool(h) for _, h in hip_scores])
    P, N = int(y.sum()), int((~y).sum())
    rows = []
    for t in np.concatenate([[np.inf], np.unique(s)[::-1]]):
        pred = s >= t
        tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
        fn = P - tp
        rows.append({"threshold": float(t), "tpr": tp / P if P else float("nan"),
                     "fpr": fp / N if N else float("nan"),
                     "precision": tp / (tp + fp) if tp + fp else float("nan"),
                     "f1": Tally.f1(tp, fp, fn) if P else float("nan")})
    if not P or not N:
        return rows, float("nan")
    fpr = np.array([r["fpr"] for r in rows] + [1.0])
    tpr = np.array([r["tpr"] for r in rows] + [1.0])
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return rows, auc


def hip_f1_at(hip_scores, threshold=HIP_THRESHOLD):
    """F1 of ``score >= threshold`` over matched balls."""
    tp = sum(1 for s, h in hip_scores if h and s >= threshold)
    fp = sum(1 for s, h in hip_scores if not h and s >= threshold)
    fn = sum(1 for s, h in hip_scores if h and s < threshold)
    return Tally.f1(tp, fp, fn)


def write_roc(rows, auc, csv_path, png_path, threshold=HIP_THRESHOLD):
    """Write the ROC as CSV and as a PNG drawn with OpenCV (no matplotlib)."""
    csv_path, png_path = Path(csv_path), Path(png_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["threshold,tpr,fpr,precision,f1"]
    for r in rows:
        lines.append(",".join("inf" if (k == "threshold" and math.isinf(r[k])) else
                              ("" if not math.isfinite(r[k]) else f"{r[k]:.6g}")
                              for k in ("threshold", "tpr", "fpr", "precision", "f1")))
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    S, m = 600, 70
    img = np.full((S, S, 3), 255, np.uint8)
    x0, y0, x1, y1 = m, S - m, S - 30, 40
    def px(f, t):
        return int(round(x0 + f * (x1 - x0))), int(round(y0 + t * (y1 - y0)))
    for g in np.linspace(0, 1, 6):
        cv2.line(img, px(g, 0), px(g, 1), (230, 230, 230), 1)
        cv2.line(img, px(0, g), px(1, g), (230, 230, 230), 1)
        cv2.putText(img, f"{g:.1f}", (px(g, 0)[0] - 12, y0 + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, f"{g:.1f}", (x0 - 35, px(0, g)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(img, px(0, 1), px(1, 0), (0, 0, 0), 1)
    cv2.line(img, px(0, 0), px(1, 1), (160, 160, 160), 1, cv2.LINE_AA)
    pts = [(r["fpr"], r["tpr"]) for r in rows if math.isfinite(r["fpr"]) and math.isfinite(r["tpr"])]
    if pts:
        poly = np.array([px(f, t) for f, t in pts + [(1.0, 1.0)]], np.int32)
        cv2.polylines(img, [poly], False, (200, 80, 0), 2, cv2.LINE_AA)
        at = [r for r in rows if r["threshold"] >= threshold]
        if at and math.isfinite(at[-1]["fpr"]):
            c = px(at[-1]["fpr"], at[-1]["tpr"])
            cv2.circle(img, c, 6, (0, 0, 220), 2, cv2.LINE_AA)
            cv2.putText(img, f"shipped threshold {threshold:g}", (c[0] + 10, c[1] + 18),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 220), 1, cv2.LINE_AA)
    cv2.putText(img, "head-in-pillow ROC (held-out synthetic BGA)", (x0, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"AUC = {auc:.3f}" if math.isfinite(auc) else "AUC = n/a", (px(0.55, 0.1)),
                cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 80, 0), 2, cv2.LINE_AA)
    cv2.putText(img, "false positive rate", (S // 2 - 70, S - 25), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ylab = np.full((20, 200, 3), 255, np.uint8)
    cv2.putText(ylab, "true positive rate", (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    ylab = cv2.rotate(ylab, cv2.ROTATE_90_COUNTERCLOCKWISE)
    yy = S // 2 - 100
    img[yy:yy + 200, 8:28] = ylab
    if not cv2.imwrite(str(png_path), img):
        raise OSError(f"could not write {png_path}")


def evaluate(n_bga=20, n_qfn=10, size=1024, workers=2, keep=None, seed_bga=SEED_BGA, seed_qfn=SEED_QFN,
             progress=True, modality="radiograph", n_boot=1000):
    """Generate, score and tally a held-out set.

    Parameters
    ----------
    n_bga, n_qfn : int
        Frames per package.
    size : int
        Frame side, px.
    workers : int
        ``--workers`` of the CLI run.
    keep : path, optional
        Folder to write the frames and results into (kept); a temporary one otherwise.
    seed_bga, seed_qfn : int
        Base seeds (evaluation-only ranges by default).
    modality : {"radiograph", "ct"}
        What the BGA frames are: projections, or reconstructed slices through
        the balls' mid-height (head-in-pillow judged there by a head's narrowing alone).
    n_boot : int
        Resamples of the frames for the no-recipe figures' 95% intervals
        (:func:`xrayinspect.evaluation.bootstrap_intervals`).

    Returns
    -------
    dict
        ``table`` (markdown text), ``values`` ({method: {key: value}}),
        ``counts`` ({key: n cases}), ``intervals`` ({key: (low, high)}, no recipe), ``hip_rows``, ``hip_auc``, ``hip_f1_at_threshold``,
        ``frames``, ``seconds``.
    """
    t_start = time.perf_counter()
    tmp = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="xrayinspect-eval-")
        root = Path(tmp.name)
    else:
        root = Path(keep)
        root.mkdir(parents=True, exist_ok=True)
    try:
        data = root / "frames"
        shape = (size, size)
        say = (lambda *a: print(*a, file=sys.stderr, flush=True)) if progress else (lambda *a: None)
        say(f"generating {n_bga} BGA + {n_qfn} QFN frames of {size}x{size} px in {data}")
        if n_bga:
            write_set(data / "bga", n_bga, seed_bga, package="bga", shape=shape, modality=modality)
        if n_qfn:
            write_set(data / "qfn", n_qfn, seed_qfn, package="qfn", shape=shape)
        say("scoring through the CLI (no recipe)")
        # the CLI uses NAME.recipe.toml beside a frame when there is one: give it the images alone
        cli_in = root / "cli_input"
        for _stem, img_path, _t, _r in _frames(data):
            dst = cli_in / img_path.relative_to(data)
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                try:
                    os.link(img_path, dst)
                except OSError:
                    shutil.copy2(img_path, dst)
        cli = run_cli(cli_in, root / "out", workers)
        frames = _frames(data)
        tallies = {m: {"bga": Tally(), "qfn": Tally(), "all": Tally()} for m in METHODS}
        extra = {m: _Extra() for m in METHODS}
        per_frame = {"bga": [], "qfn": []}      # the CLI's tally of each frame, for the intervals
        for i, (stem, img_path, truth_path, recipe_path) in enumerate(frames):
            say(f"  [{i + 1}/{len(frames)}] {stem}: recipe pass + baseline")
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            pkg = truth["package"]
            image, meta = xio.read_frame(img_path)
            res = {
                "cli": cli.get(stem) or FrameResult(frame=stem, status="error", error="no CLI result"),
                "recipe": score_frame(image, recipe=load_recipe(recipe_path), frame=stem, meta=meta),
                "baseline": score_baseline(image, frame=stem),
            }
            for m, r in res.items():
                if m == "cli":
                    # one tally per frame (the intervals resample them), pooled below
                    one = Tally()
                    one.add(truth, r)
                    per_frame[pkg].append(one)
                else:
                    tallies[m][pkg].add(truth, r)
                    tallies[m]["all"].add(truth, r)
                if pkg == "qfn":
                    extra[m].add(truth, r)
        tallies["cli"] = {"bga": Tally.combined(per_frame["bga"]), "qfn": Tally.combined(per_frame["qfn"]),
                          "all": Tally.combined(per_frame["bga"] + per_frame["qfn"])}
        values, counts = {}, {}
        for m in METHODS:
            s = {src: tallies[m][src].summary() for src in ("bga", "qfn", "all")}
            v = {}
            for key, *_rest, src in ROWS:
                if key in _EXTRA_KEYS:
                    v[key] = extra[m].summary()[key] if n_qfn else float("nan")
                else:
                    v[key] = s[src].get(key, float("nan"))
            if m == "baseline":
                for key, *_rest, src in ROWS:
                    if src == "qfn":
                        v[key] = float("nan")      # no QFN model
            values[m] = v
            if m == "cli":
                for c in ("missing", "bridge", "extra", "misaligned", "void", "hip"):
                    counts[f"f1_{c}"] = s["all"][f"n_{c}"]
                tp, _fp, fn = tallies[m]["bga"].det
                counts["detection_f1"] = tp + fn          # the truth's balls, found or not
                counts["frame_verdict_acc"] = s["all"]["frames"]
                counts["vias_never_void"] = extra[m].summary()["n_vias"]
                counts["pin_bridge_f1"] = extra[m].summary()["n_pin_bridge"]
                counts["pin_missing_f1"] = extra[m].summary()["n_pin_missing"]
        intervals = {}
        for src, pool in (("bga", per_frame["bga"]), ("qfn", per_frame["qfn"]),
                          ("all", per_frame["bga"] + per_frame["qfn"])):
            keys = [key for key, *_r, s_ in ROWS if s_ == src and key not in _EXTRA_KEYS]
            intervals.update(bootstrap_intervals(pool, keys, n_boot=n_boot))
        hip_scores = tallies["cli"]["bga"].hip_scores
        roc_rows, auc = hip_roc(hip_scores)
        f1_thr = hip_f1_at(hip_scores)
        lines = ["| metric | target | " + " | ".join(HEADERS[m] for m in METHODS) + f" | {INTERVAL_HEADER} |",
                 "|---|---|" + "---|" * (len(METHODS) + 1)]
        misses = []
        for key, label, ttxt, op, tval, src in ROWS:
            lab = label + (f" (n={counts[key]})" if key in counts else "")
            cells = [_fmt(values[m][key], key) for m in METHODS]
            lo, hi = intervals.get(key, (float("nan"), float("nan")))
            span = f"{_fmt(lo, key)} - {_fmt(hi, key)}" if math.isfinite(lo) else "n/a"
            lines.append(f"| {lab} | {ttxt} | " + " | ".join(cells) + f" | {span} |")
            if op is not None:
                for m in ("cli", "recipe"):
                    x = values[m][key]
                    if not (isinstance(x, float) and math.isnan(x)):
                        ok = x >= tval if op == ">=" else x <= tval
                        if not ok:
                            note = ""
                            if m == "cli" and math.isfinite(lo):
                                inside = lo <= tval <= hi
                                note = (f" (95% interval {_fmt(lo, key)} - {_fmt(hi, key)}: the target is "
                                        + ("inside it, the set cannot tell" if inside else "outside it") + ")")
                            misses.append(f"{label}: {HEADERS[m]} {_fmt(x, key)} vs target {ttxt}{note}")
        table = "\n".join(lines)
        return {"table": table, "values": values, "counts": counts, "intervals": intervals, "hip_rows": roc_rows, "hip_auc": auc,
                "hip_f1_at_threshold": f1_thr, "hip_n": (sum(h for _, h in hip_scores), len(hip_scores)),
                "misses": misses, "frames": len(frames), "seconds": time.perf_counter() - t_start}
    finally:
        if tmp is not None:
            tmp.cleanup()


def _roc_paths(a):
    """Where the ROC table and plot go, ``(csv, png)``, or ``(None, None)``: not written."""
    if a.roc_csv or a.roc_png:
        csv_path = a.roc_csv or str(Path(a.roc_png).with_suffix(".csv"))
        return csv_path, a.roc_png or str(Path(csv_path).with_suffix(".png"))
    if a.write_docs:
        return str(REPO / "docs" / "hip_roc.csv"), str(REPO / "docs" / "images" / "hip_roc.png")
    if a.keep:
        return str(Path(a.keep) / "hip_roc.csv"), str(Path(a.keep) / "hip_roc.png")
    return None, None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-bga", type=int, default=20)
    ap.add_argument("--n-qfn", type=int, default=10)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    ap.add_argument("--keep", metavar="DIR", help="write frames and results here and keep them")
    ap.add_argument("--modality", choices=("radiograph", "ct"), default="radiograph",
                    help="BGA frames as projections (default) or as CT slices")
    ap.add_argument("--roc-csv", help="write the head-in-pillow ROC here (default: docs/hip_roc.csv with "
                    "--write-docs, KEEP/hip_roc.csv with --keep, else not written)")
    ap.add_argument("--roc-png", help="and its plot here (docs/images/hip_roc.png, KEEP/hip_roc.png)")
    ap.add_argument("--write-docs", metavar="MD", nargs="?", const=str(REPO / "docs" / "accuracy.md"),
                    help="also write the report to this markdown file (default docs/accuracy.md)")
    a = ap.parse_args(argv)
    # a quick run must not rewrite the tracked docs: the ROC goes where it is asked for, beside the
    # docs it belongs to, or into the kept folder
    roc_csv, roc_png = _roc_paths(a)
    r = evaluate(a.n_bga, a.n_qfn, a.size, a.workers, keep=a.keep, modality=a.modality)
    if roc_csv:
        write_roc(r["hip_rows"], r["hip_auc"], roc_csv, roc_png)
    npos, ntot = r["hip_n"]
    cmd = "python scripts/evaluate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = [r["table"], "",
            f"Head-in-pillow ROC (CLI, no recipe; {npos} HiP of {ntot} matched balls): AUC = "
            + (f"{r['hip_auc']:.3f}" if math.isfinite(r["hip_auc"]) else "n/a")
            + f"; F1 at the shipped threshold HIP_THRESHOLD={HIP_THRESHOLD:g}: {_fmt(r['hip_f1_at_threshold'], 'f1')}"
            + (f" (ROC in {Path(roc_csv).name}, plot in images/{Path(roc_png).name})" if roc_csv
               else " (ROC not written: --roc-csv, --keep or --write-docs)"), "",
            f"{r['frames']} frames, {r['seconds']:.0f} s; command: `{cmd.strip()}`; "
            f"date {_dt.date.today().isoformat()}"]
    if r["misses"]:
        text += ["", "Targets missed:"] + [f"- {m}" for m in r["misses"]]
    out = "\n".join(text)
    print(out)
    if a.write_docs:
        md = ["# Accuracy on held-out synthetic frames", "",
              "Produced by `scripts/evaluate.py` (seeds 7_000_000+ BGA, 7_100_000+ QFN: evaluation-only, "
              "never used in development). Ball rows: BGA frames; defect F1s and frame verdict: all frames; "
              "QFN rows: QFN frames. `vias-never-void rate`: share of the truth's thermal vias that were "
              "recognised as vias (so not counted as voids). The baseline (`xrayinspect.baseline`, a Fiji-style "
              "Otsu + Analyze Particles macro) has no lattice and no QFN model; n/a where it has no figure. "
              "`n=` is the number of truth cases of each row. The last column is where the no-recipe "
              "figure falls on 95% of resamples of these frames (whole frames drawn with replacement, "
              "1000 times): how far another set of as many frames could move it.", "", out, ""]
        Path(a.write_docs).write_text("\n".join(md), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Single-core timing of one large BGA (or QFN) frame, against the floor of any scorer.

The frame: 2048 x 2048 px, 16-bit TIFF, a 30 x 30 BGA (~900 balls), simulated
with a fixed seed and written to a temporary file; with ``--package qfn`` a
2048 x 2048 QFN frame (thermal pad, vias, perimeter pins) of the same seed.
Timed, median of ``--runs``:

* **xrayinspect**: :func:`xrayinspect.io.read_frame` + :func:`xrayinspect.pipeline.score_frame`;
* **floor**: the same read + one ``cv2.GaussianBlur`` + one ``cv2.threshold``
  + one ``cv2.connectedComponents`` (what the cheapest blob counter costs);

and a stage breakdown (median of ``--stage-runs``) over the public functions
:func:`xrayinspect.preprocess.prepare`, :func:`xrayinspect.joints.segment_joints`,
:func:`xrayinspect.voids.ball_voids`; *grid + rules* is the whole
``score_frame`` minus those three (it also holds package detection, contours
and the void contours). For a QFN frame the stages are the contrast check
and stitching bands, :func:`~xrayinspect.preprocess.frame_polarity`, the
package check (:func:`~xrayinspect.qfn.coarse_pad_side`, which also sizes the
pad), binning to the pad's scoring scale plus ``prepare`` (background wider
than the pad) and :func:`xrayinspect.qfn.score_qfn`. The simulator's
generation time of the frame is printed as well.

One core: the thread pools of OpenMP/OpenBLAS/MKL/numexpr are set to one
thread *before* numpy is imported, ``cv2.setNumThreads(1)``, and the process
is pinned to one CPU (``os.sched_setaffinity``, the in-process ``taskset -c``;
``--cpu -1`` leaves the affinity alone). Timed as the CLI and the batch
workers run: freed frame-sized buffers kept for reuse
(:func:`xrayinspect._malloc.keep_freed_memory`); ``--default-malloc`` times
glibc's defaults instead (each large temporary page-faulted afresh).

Usage::

    python scripts/bench.py                 # 5 runs
    python scripts/bench.py --runs 3 --write-docs
    python scripts/bench.py --package qfn   # the QFN frame
"""

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
           "VECLIB_MAXIMUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

from xrayinspect import io as xio  # noqa: E402
from xrayinspect.joints import segment_joints  # noqa: E402
from xrayinspect.measure import equivalent_diameter  # noqa: E402
from xrayinspect.pipeline import score_frame  # noqa: E402
from xrayinspect.preprocess import prepare  # noqa: E402
from xrayinspect.synth import generate_frame  # noqa: E402
from xrayinspect.voids import ball_voids  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEED = 4242


def _median_time(fn, runs):
    ts = []
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def floor_once(path):
    """Read + one blur + one Otsu threshold + one connected-components pass; returns the label count."""
    img, _ = xio.read_frame(path)
    f = img.astype(np.float32) if img.dtype != np.uint8 else img
    b = cv2.GaussianBlur(f, (0, 0), 1.5)
    if b.dtype != np.uint8:
        b = cv2.normalize(b, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    _, m = cv2.threshold(b, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _ = cv2.connectedComponents(m, connectivity=8)
    return n


def score_once(path):
    img, meta = xio.read_frame(path)
    return score_frame(img, frame=Path(path).name, meta=meta)


def stages_once(path):
    """Seconds of prepare, segment_joints, ball_voids and the whole score_frame on the read frame."""
    img, meta = xio.read_frame(path)
    t = {}
    t0 = time.perf_counter()
    prep = prepare(img, bits_used=meta.bits_used)
    t["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=prep.blob_diameter_px)
    if masks.n >= 3:        # the refinement score_bga does when the first size guess is off
        d = float(np.median(equivalent_diameter(masks.area_px[1:])))
        if abs(d / max(prep.blob_diameter_px, 1e-6) - 1) > 0.3:
            masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=d)
    t["segment"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ball_voids(prep.att_smooth, masks.labels, masks.n)
    t["voids"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_frame(img, meta=meta)
    t["score_frame"] = time.perf_counter() - t0
    # residual: package detection, lattice fit, contours, rules (negative only through timing noise)
    t["grid+rules"] = t["score_frame"] - t["prepare"] - t["segment"] - t["voids"]
    return {k: t[k] for k in ("prepare", "segment", "voids", "grid+rules", "score_frame")}


def qfn_stages_once(path):
    """Seconds of the QFN path's stages (as :func:`score_frame` runs them) and the whole score_frame."""
    from xrayinspect.pipeline import structure_contrast
    from xrayinspect.preprocess import _full_scale, bin_frame, frame_polarity, invalid_bands
    from xrayinspect.qfn import coarse_pad_side, pad_binning, score_qfn
    from xrayinspect.recipe import default_recipe

    img, meta = xio.read_frame(path)
    limits = default_recipe("qfn").limits
    t = {}
    t0 = time.perf_counter()
    structure_contrast(img)
    valid = invalid_bands(img)
    t["contrast check + bands"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pol, _ = frame_polarity(img, valid=valid)
    t["polarity"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    side = coarse_pad_side(img, pol, valid=valid)
    t["package check (pad size)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = pad_binning(side, img.shape)
    work, top = (bin_frame(img, b), _full_scale(img, meta.bits_used)) if b > 1 else (img, None)
    prep = prepare(work, solder=pol, bits_used=meta.bits_used, feature_diameter_px=0.6 * min(work.shape),
                   full_scale=top)
    t[f"bin {b}x{b} + prepare (pad scale)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_qfn(prep, recipe=None, limits=limits, pixel_size_um=meta.pixel_size_um)
    t["score_qfn"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    score_frame(img, meta=meta)
    t["score_frame"] = time.perf_counter() - t0
    return t


def bench(runs=5, stage_runs=5, cpu=0, seed=SEED, package="bga", default_malloc=False):
    """Run the benchmark on a ``package`` ("bga" or "qfn") frame; returns ``(markdown text, figures dict)``."""
    from xrayinspect._malloc import keep_freed_memory

    malloc = "glibc malloc defaults" if default_malloc else (
        "freed buffers kept for reuse, as the CLI runs" if keep_freed_memory() else "allocator defaults")
    pinned = "not pinned"
    if cpu is not None and cpu >= 0 and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        c = cpu if cpu in allowed else allowed[0]
        os.sched_setaffinity(0, {c})
        pinned = f"pinned to CPU {c} (like `taskset -c {c}`)"
    t0 = time.perf_counter()
    if package == "qfn":
        f = generate_frame(seed, package="qfn", export="tiff16", shape=(2048, 2048))
        what = "2048x2048, QFN, tiff16"
    else:
        f = generate_frame(seed, package="bga", rows=30, cols=30, export="tiff16", shape=(2048, 2048))
        what = "2048x2048, 30x30 BGA, tiff16"
    t_gen = time.perf_counter() - t0
    kind = "pin" if package == "qfn" else "ball"
    n_balls = sum(1 for j in f.truth["joints"] if j["kind"] in (kind, "pad") and "missing" not in j["defects"])
    with tempfile.TemporaryDirectory(prefix="xrayinspect-bench-") as d:
        path = Path(d) / ("qfn_2048.tif" if package == "qfn" else "bga_2048_30x30.tif")
        xio.write_frame(path, f.image, pixel_size_um=f.truth["pixel_size_um"],
                        bits_used=f.truth["detector"]["bits_used"])
        score_once(path)            # warm-up: imports, caches, page cache
        floor_once(path)
        t_read, _ = _median_time(lambda: xio.read_frame(path), runs)
        t_score, res = _median_time(lambda: score_once(path), runs)
        t_floor, n_cc = _median_time(lambda: floor_once(path), runs)
        st = [(qfn_stages_once if package == "qfn" else stages_once)(path) for _ in range(stage_runs)]
    stages = {k: statistics.median(s[k] for s in st) for k in st[0]}
    n_found = sum(1 for j in res.joints if "missing" not in j.defects and j.area_px > 0)
    rows = [
        "| step | seconds (median) | x floor |",
        "|---|---|---|",
        f"| floor: read + GaussianBlur + threshold + connectedComponents (runs={runs}) | {t_floor:.3f} | 1.00 |",
        f"| read_frame alone | {t_read:.3f} | {t_read / t_floor:.2f} |",
        f"| xrayinspect: read_frame + score_frame (runs={runs}) | {t_score:.3f} | {t_score / t_floor:.2f} |",
        "",
        f"| stage (runs={stage_runs}) | seconds (median) | share of score_frame |",
        "|---|---|---|",
    ]
    for k in st[0]:
        rows.append(f"| {k} | {stages[k]:.3f} | {100 * stages[k] / stages['score_frame']:.0f} % |")
    rows += ["", f"| simulator | seconds |", "|---|---|",
             f"| generate_frame ({what}, once) | {t_gen:.2f} |"]
    noun = "pad and pins" if package == "qfn" else "balls"
    info = (f"Frame: {package.upper()}, seed {seed}, {n_balls} {noun} in the truth, {n_found} joints found by xrayinspect, "
            f"{n_cc - 1} components in the floor's pass. One thread (OMP/OPENBLAS/MKL=1, cv2.setNumThreads(1)), "
            f"{pinned}; {malloc}. {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
            f"numpy {np.__version__}, OpenCV {cv2.__version__}; load average at the end "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other jobs share the machine: the stages are "
            "timed separately from the whole score_frame, so grid+rules, the residual, carries their noise).")
    figs = {"floor": t_floor, "read": t_read, "score": t_score, "gen": t_gen, "stages": stages,
            "n_balls": n_balls, "n_found": n_found}
    return "\n".join(rows) + "\n\n" + info, figs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="timed runs of score and floor (median)")
    ap.add_argument("--stage-runs", type=int, default=5, help="timed runs of the stage breakdown (median)")
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: do not pin)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--package", choices=("bga", "qfn"), default="bga",
                    help="frame to time: the 30x30 BGA (default) or a QFN of the same size")
    ap.add_argument("--write-docs", metavar="MD", nargs="?", const=str(REPO / "docs" / "benchmarks.md"),
                    help="also write the table to this markdown file (default docs/benchmarks.md)")
    ap.add_argument("--default-malloc", action="store_true",
                    help="time with glibc's default allocator settings, not the CLI's")
    a = ap.parse_args(argv)
    text, _ = bench(a.runs, a.stage_runs, a.cpu, a.seed, a.package, a.default_malloc)
    cmd = "python scripts/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text += f"\n\nCommand: `{cmd.strip()}`; date {_dt.date.today().isoformat()}."
    print(text)
    if a.write_docs:
        frame = "QFN frame" if a.package == "qfn" else "BGA frame with ~900 balls"
        Path(a.write_docs).write_text(f"# Benchmarks\n\nProduced by `scripts/bench.py`: one 2048x2048 16-bit {frame}, "
                                      "one core.\n\n" + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

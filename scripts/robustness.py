#!/usr/bin/env python
"""How BGA scoring holds up when an export is processed on its way out of the machine.

Real exports are not the simulator's: a viewer may sharpen, equalise, gamma
encode or rescale a frame, a script may hand over floats, a frame may be
rotated or cropped. Each *treatment* below is applied to the same simulated
BGA frames (development seeds, :data:`SEED` and up; not the evaluation-only
seeds of ``evaluate.py``), the treated frame is scored with no recipe, and
the defect F1s against the simulator's truth (moved with the frame where the
treatment moves it) are printed beside the untreated frames' figures.

Treatments (grey levels are the stored frame's; ``full`` its container's full scale):

========== ==============================================================
none       the frame as exported
float      ``g / full`` as float32 (a script's normalised array)
float_off  ``g / full - 0.5``: float with the zero lost
rot90      rotated by 90 degrees (truth rotated)
crop       cropped from (7, 3) to 27 / 14 px short of the far edges: 994 x 1003 px at 1024 (truth shifted)
ramp       times a left-to-right ramp 1.0 -> 0.55 (uncorrected heel effect)
gamma      windowed to 8 bits with gamma 0.5
minmax8    min-max scaled to 8 bits, no gamma
blur       Gaussian blur of 1.2 px more (a larger focal spot)
noise      Gaussian noise of 3 % of the 1-99 % grey range added
scale0.7   resampled to 0.7 x (area averaging; truth scaled)
scale1.5   resampled to 1.5 x (cubic; truth scaled)
sharpen    unsharp mask ``g + 1.0 (g - G_1.5 g)``, clipped to the container
sharpen3   unsharp mask ``g + 1.0 (g - G_3 g)``, clipped
clahe      OpenCV CLAHE, clip limit 3, 8 x 8 tiles (a viewer's "local contrast")
invert     ``2**bits - 1 - g`` (the other display polarity of the same detector)
jet        ``minmax8``, shown through OpenCV's rainbow palette (COLORMAP_JET), saved as
           a PNG and read back with ``read_frame``: a false-colour export
jet_jpeg   the same saved as a JPEG (quality 90, chroma subsampled)
badpix     uncorrected defective detector pixels: 0.05 % stuck dark, 0.05 % stuck bright
           (isolated pixels at the container's floor and full scale), seed fixed
badlines   uncorrected line defects: 2 dead columns and 1 dead row at the floor, 1 hot
           column at full scale, 1 column at half gain (a flat panel's readout lines)
tilegain   a tiled detector whose four quadrants' gains were calibrated apart: x 1.00,
           0.92, 1.06, 0.97 (steps across the frame, through balls)
gridlines  an anti-scatter grid's shadow left in: x (1 + 0.04 sin(2 pi x / 3.3 px))
pincushion an image intensifier's pincushion distortion: r' = r (1 + 0.04 r^2), r over the
           half diagonal (truth moved)
keystone   a detector tilted to the beam: a perspective warp that makes the top edge 6 %
           shorter than the bottom one (truth moved)
underside  not a treatment of the frame but the same scene on a double-sided board:
           decoupling capacitors on the board's far side under the balls, rendered
           by the simulator (``generate_frame(..., underside_parts=True)``; BGA only)
========== ==============================================================

Usage::

    python scripts/robustness.py                       # 30 frames at 1024 px, every treatment
    python scripts/robustness.py --n 10 --only none,float,clahe
    python scripts/robustness.py --write-docs          # docs/robustness.md
"""

import argparse
import copy
import datetime as _dt
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: Development seeds (the frames the rules were built on); the held-out seeds stay unseen.
SEED = 6_700_000
SEED_QFN = 5_950_000
TREATMENTS = ("none", "float", "float_off", "rot90", "crop", "ramp", "gamma", "minmax8", "blur", "noise",
              "scale0.7", "scale1.5", "sharpen", "sharpen3", "clahe", "invert", "jet", "jet_jpeg",
              "badpix", "badlines", "tilegain", "gridlines", "pincushion", "keystone",
              "underside")
#: Treatments that are another rendering of the scene, not a change to the exported frame.
RENDERED = {"underside": {"underside_parts": True}}
#: Treatments that are colour frames, scored as read back from a file of this kind.
SAVED_AS = {"jet": ".png", "jet_jpeg": ".jpg"}
CODES = ("missing", "bridge", "extra", "misaligned", "void", "hip")


def treat(image, name, bits=None):
    """The treated frame and how truth positions move.

    ``bits``: the detector's ADC bits (the truth's); the inversion uses its
    full scale, ``2**bits - 1``, as the machine's own would.

    Returns
    -------
    out : ndarray
    move : callable
        ``move(x, y) -> (x, y)``, px.
    size_scale : float
        Factor on lengths (diameters, offsets), px per px.
    """
    import cv2

    f = image.astype(np.float32)
    full = 255.0 if image.dtype == np.uint8 else 65535.0
    adc_full = full if image.dtype == np.uint8 or not bits else float(2 ** int(bits) - 1)
    h, w = image.shape

    def same(x, y):
        return x, y

    def clip(a):
        return np.clip(np.rint(a), 0, full).astype(image.dtype)

    if name == "none":
        return image, same, 1.0
    if name == "float":
        return f / np.float32(full), same, 1.0
    if name == "float_off":
        return f / np.float32(full) - np.float32(0.5), same, 1.0
    if name == "rot90":
        # np.rot90: new[i, j] = old[j, w - 1 - i]
        return np.ascontiguousarray(np.rot90(image)), lambda x, y: (y, (w - 1) - x), 1.0
    if name == "crop":
        return np.ascontiguousarray(image[3:h - 27, 7:w - 14]), lambda x, y: (x - 7, y - 3), 1.0
    if name == "ramp":
        return clip(f * np.linspace(1.0, 0.55, w, dtype=np.float32)[None, :]), same, 1.0
    if name in ("gamma", "minmax8"):
        lo, hi = (np.percentile(f, [0.1, 99.9]) if name == "gamma" else (f.min(), f.max()))
        g = np.clip((f - lo) / max(hi - lo, 1e-6), 0, 1)
        if name == "gamma":
            g = g ** 0.5
        return np.rint(g * 255).astype(np.uint8), same, 1.0
    if name == "blur":
        return clip(cv2.GaussianBlur(f, (0, 0), 1.2)), same, 1.0
    if name == "noise":
        sd = 0.03 * float(np.percentile(f, 99) - np.percentile(f, 1))
        return clip(f + np.random.default_rng(0).normal(0, sd, f.shape).astype(np.float32)), same, 1.0
    if name.startswith("scale"):
        s = float(name[5:])
        out = cv2.resize(f, (int(round(w * s)), int(round(h * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        return clip(out), lambda x, y: ((x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5), s
    if name in ("sharpen", "sharpen3"):
        sigma = 1.5 if name == "sharpen" else 3.0
        return clip(f + 1.0 * (f - cv2.GaussianBlur(f, (0, 0), sigma))), same, 1.0
    if name == "clahe":
        return cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(image), same, 1.0
    if name == "invert":
        return (np.asarray(adc_full, image.dtype) - image).astype(image.dtype), same, 1.0
    if name == "badpix":
        rng = np.random.default_rng(1)
        out = image.copy()
        k = max(1, int(round(0.0005 * h * w)))
        out.flat[rng.choice(h * w, k, replace=False)] = 0
        out.flat[rng.choice(h * w, k, replace=False)] = np.asarray(full, image.dtype)
        return out, same, 1.0
    if name == "badlines":
        out = image.copy()
        out[:, int(0.31 * w)] = 0
        out[:, int(0.62 * w)] = 0
        out[int(0.47 * h), :] = 0
        out[:, int(0.55 * w)] = np.asarray(full, image.dtype)
        out[:, int(0.4 * w)] = clip(f[:, int(0.4 * w)] * 0.5)
        return out, same, 1.0
    if name == "tilegain":
        gain = np.ones((h, w), np.float32)
        gain[:h // 2, w // 2:] = 0.92
        gain[h // 2:, :w // 2] = 1.06
        gain[h // 2:, w // 2:] = 0.97
        return clip(f * gain), same, 1.0
    if name == "gridlines":
        x = np.arange(w, dtype=np.float32)
        return clip(f * (1 + 0.04 * np.sin(2 * np.pi * x / 3.3))[None, :]), same, 1.0
    if name == "pincushion":
        # an image intensifier's geometry: r' = r (1 + k r^2), r over the half diagonal
        k = float(os.environ.get("XRI_PINCUSHION_K", "0.04"))
        cx, cy, rn = (w - 1) / 2.0, (h - 1) / 2.0, float(np.hypot(w, h)) / 2.0
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        rd = np.hypot(xx - cx, yy - cy) / rn
        r = rd.copy()
        for _ in range(6):                  # the undistorted radius of each output pixel
            r = rd / (1 + k * r * r)
        s_ = np.where(rd > 0, r / np.maximum(rd, 1e-9), 1.0).astype(np.float32)
        out = cv2.remap(f, cx + (xx - cx) * s_, cy + (yy - cy) * s_, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

        def pin(x, y):
            q = 1 + k * ((x - cx) ** 2 + (y - cy) ** 2) / rn ** 2
            return cx + (x - cx) * q, cy + (y - cy) * q
        return clip(out), pin, 1.0
    if name == "keystone":
        # a detector tilted to the beam: the top edge 6 % shorter than the bottom one
        src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
        dst = np.float32([[0.03 * (w - 1), 0], [0.97 * (w - 1), 0], [w - 1, h - 1], [0, h - 1]])
        H = cv2.getPerspectiveTransform(src, dst)
        out = cv2.warpPerspective(f, H, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

        def key(x, y):
            p_ = H @ np.array([x, y, 1.0])
            return float(p_[0] / p_[2]), float(p_[1] / p_[2])
        return clip(out), key, 1.0
    if name in SAVED_AS:
        grey8, _, _ = treat(image, "minmax8")
        return cv2.applyColorMap(grey8, cv2.COLORMAP_JET), same, 1.0   # B, G, R as cv2.imwrite takes it
    raise ValueError(f"unknown treatment {name!r}")


def moved_truth(truth, move, size_scale, shape=None):
    """The truth with every joint's position (and size) moved as the frame was.

    With ``shape`` (the treated frame's, px), joints whose centre left the
    frame are dropped and those within their radius of its edge marked
    ``partial`` (left out of every figure, as the simulator does).
    """
    t = copy.deepcopy(truth)
    for j in t["joints"]:
        for kx, ky in (("x_px", "y_px"), ("site_x_px", "site_y_px")):
            if j.get(kx) is not None:
                j[kx], j[ky] = move(j[kx], j[ky])
        for k in ("diameter_px", "offset_px"):
            if j.get(k) is not None:
                j[k] *= size_scale
        if j.get("area_px") is not None:
            j["area_px"] *= size_scale ** 2
    if shape is not None:
        h, w = shape
        keep = []
        for j in t["joints"]:
            x, y, r = j["x_px"], j["y_px"], 0.5 * (j.get("diameter_px") or 0.0)
            if not (0 <= x < w and 0 <= y < h):
                continue
            if min(x, y, w - 1 - x, h - 1 - y) < r:
                j["partial"] = True
            keep.append(j)
        t["joints"] = keep
    return t


def _frame(i, size, package="bga", **scene):
    from xrayinspect.synth import generate_frame

    f = generate_frame((SEED if package == "bga" else SEED_QFN, i), package=package, shape=(size, size), **scene)
    return f.image, f.truth


def _read_back(colour_bgr, suffix):
    """A colour frame as ``read_frame`` reads it once saved as ``suffix`` (JPEG at quality 90)."""
    import tempfile

    import cv2
    from xrayinspect.io import read_frame

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "frame" + suffix)
        cv2.imwrite(p, colour_bgr, [cv2.IMWRITE_JPEG_QUALITY, 90] if suffix == ".jpg" else [])
        return read_frame(p)[0]


def _score(job):
    i, size, names, package = job
    import cv2

    cv2.setNumThreads(1)
    from xrayinspect.errors import XrayInspectError
    from xrayinspect.pipeline import score_frame

    image, truth = _frame(i, size, package)
    out = []
    for name in names:
        if name in RENDERED:
            if package != "bga":
                continue
            img, t_own = _frame(i, size, package, **RENDERED[name])
            try:
                res = score_frame(img, frame=f"{i}")
            except XrayInspectError as e:
                res, err = None, str(e)
            else:
                err = res.error
            out.append((name, t_own, res, err))
            continue
        img, move, s = treat(image, name, truth["detector"].get("bits_used"))
        try:
            if name in SAVED_AS:
                img = _read_back(img, SAVED_AS[name])
            res = score_frame(img, frame=f"{i}")
        except XrayInspectError as e:
            res = None
            err = str(e)
        else:
            err = res.error
        out.append((name, moved_truth(truth, move, s, img.shape[:2]), res, err))
    return out


def run(n=30, size=1024, workers=2, names=TREATMENTS, package="bga"):
    """Tallies of every treatment over ``n`` development frames of ``package`` ("bga" or "qfn").

    Returns
    -------
    dict
        ``{treatment: (summary dict, error rows)}``.
    """
    from xrayinspect.evaluation import Tally

    tallies = {nm: Tally() for nm in names}
    errors = {nm: 0 for nm in names}
    jobs = [(i, size, tuple(names), package) for i in range(n)]
    def tally(all_rows):
        for rows in all_rows:
            for name, truth, res, err in rows:
                if res is None or res.status != "ok":
                    errors[name] += 1
                    continue
                tallies[name].add(truth, res)

    if workers <= 1:
        tally(map(_score, jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            tally(ex.map(_score, jobs))
    return {nm: (tallies[nm].summary(), errors[nm]) for nm in names}


def table(results):
    """Markdown table: detection, void error and defect F1s per treatment."""
    qfn = any("pad_void_abs_err_mean_pp" in s for s, _ in results.values())
    head = ["treatment", "error rows", "detection F1", "void MAE pp"] + (["pad void MAE pp"] if qfn else []) \
        + [f"F1 {c}" for c in CODES] + ["verdict"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, (s, err) in results.items():
        def g(k, fmt="{:.3f}"):
            v = s.get(k)
            return fmt.format(v) if isinstance(v, float) and np.isfinite(v) else "n/a"
        scored = g("detection_f1") != "n/a"          # every frame an error row: no void was measured
        cells = [name, str(err), g("detection_f1", "{:.4f}"), g("void_abs_err_mean_pp", "{:.2f}") if scored else "n/a"] \
            + ([g("pad_void_abs_err_mean_pp", "{:.2f}") if scored else "n/a"] if qfn else [])
        cells += [g(f"f1_{c}") for c in CODES] + [g("frame_verdict_acc")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30, help="development frames (seeds (6_700_000, i); QFN (5_950_000, i))")
    ap.add_argument("--package", choices=("bga", "qfn"), default="bga")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--only", default=",".join(TREATMENTS), help="comma-separated treatments")
    ap.add_argument("--write-docs", action="store_true", help="write docs/robustness.md")
    a = ap.parse_args(argv)
    names = [s for s in a.only.split(",") if s and not (a.package != "bga" and s in RENDERED)]
    t0 = time.time()
    res = run(a.n, a.size, a.workers, names, a.package)
    cmd = "python scripts/robustness.py" + "".join(f" {x}" for x in (argv if argv is not None else sys.argv[1:]))
    seed = SEED if a.package == "bga" else SEED_QFN
    text = (f"{table(res)}\n\n{a.n} development {a.package.upper()} frames (seeds ({seed:_}, 0..{a.n - 1})) at {a.size} px, "
            f"no recipe, {time.time() - t0:.0f} s; command: `{cmd}`; date {_dt.date.today().isoformat()}\n")
    print(text)
    if a.write_docs:
        doc = REPO / "docs" / ("robustness.md" if a.package == "bga" else "robustness_qfn.md")
        body = doc.read_text().split("<!-- table -->")[0] if doc.exists() else ""
        doc.write_text(body + "<!-- table -->\n\n" + text)
        print(f"wrote {doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

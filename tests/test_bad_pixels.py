"""Stuck detector pixels and dead, hot or low-gain lines left in an export.

Found with ``scripts/robustness.py`` (treatments ``badpix`` and ``badlines``):
0.05 % of the pixels stuck at each end of the container turned 30 development
frames into 4 error rows and 1,000 false stray balls (extra F1 0.011, bridge
0.361); four dead or hot columns and a dead row cost void and stray calls.
"""

import numpy as np
import pytest

from xrayinspect.bad_pixels import line_defects, noise_sigma, repair_bad_pixels, stuck_pixel_mask
from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.synth import generate_frame

#: Development frames (robustness.py's seeds): a 16-bit TIFF, a JPEG-8 and a tiled JPEG-8.
FRAMES = [(6_700_000, 0), (6_700_000, 4), (6_700_000, 10)]


@pytest.fixture(scope="module")
def frames():
    return {k: generate_frame(k, package="bga", shape=(1024, 1024)) for k in FRAMES}


def _stuck(image, seed=1, share=0.0005):
    """``share`` of the pixels at the container's floor and as many at its full scale."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    k = int(round(share * image.size))
    full = np.iinfo(image.dtype).max
    dark = rng.choice(image.size, k, replace=False)
    bright = rng.choice(image.size, k, replace=False)
    out.flat[dark] = 0
    out.flat[bright] = full
    return out, dark, bright


def test_a_clean_frame_is_left_alone(frames):
    # every structure of a real frame is blurred over more than one pixel
    for k, f in frames.items():
        fixed, n = repair_bad_pixels(f.image)
        assert n == 0 and fixed is f.image, (k, n)


def test_stuck_pixels_are_found_and_filled(frames):
    f = frames[(6_700_000, 0)]
    bad, dark, bright = _stuck(f.image)
    ys, xs, _ = stuck_pixel_mask(bad)
    found = set((ys * bad.shape[1] + xs).tolist())
    planted = set(dark.tolist()) | set(bright.tolist())
    # a dead pixel where the frame is itself near the floor is not a defect one can see
    assert len(found & planted) >= 0.95 * len(planted), (len(found & planted), len(planted))
    assert len(found - planted) <= 2, len(found - planted)
    fixed, n = repair_bad_pixels(bad)
    err = np.abs(fixed.astype(float) - f.image.astype(float)).ravel()[sorted(planted)]
    # filled from the neighbours' median: within a few noise sigmas where the scene is smooth
    assert np.median(err) < 3 * noise_sigma(f.image), np.median(err)


def test_dead_hot_and_low_gain_lines_are_found_and_filled(frames):
    f = frames[(6_700_000, 0)]
    g = f.image
    h, w = g.shape
    bad = g.copy()
    bad[:, 300] = 0                                   # dead column
    bad[:, 500:502] = 0                               # two-pixel dead column
    bad[700, :] = np.iinfo(g.dtype).max               # hot row
    bad[512:, 820] = (g[512:, 820] * 0.5).astype(g.dtype)   # low-gain half column
    cols, rows = line_defects(bad)
    col_px = {(x, wd): sum(y1 - y0 for y0, y1, x_, wd_ in cols if (x_, wd_) == (x, wd)) for x, wd in
              ((300, 1), (500, 2), (820, 1))}
    assert col_px[(300, 1)] == h and col_px[(500, 2)] == h, col_px
    assert col_px[(820, 1)] >= 0.7 * (h - 512), col_px        # not where half the level is little
    assert sum(y1 - y0 for y0, y1, y, _ in rows if y == 700) == w
    assert {x for _, _, x, _ in cols} <= {300, 500, 820}
    fixed, _ = repair_bad_pixels(bad)
    sig = noise_sigma(g)
    for sl in (np.s_[:, 300], np.s_[:, 500], np.s_[700, :]):
        err = np.abs(fixed[sl].astype(float) - g[sl].astype(float))
        assert np.median(err) < 3 * sig, (sl, np.median(err), sig)


def test_steps_ringing_and_blurred_bands_are_not_lines():
    """Lines of the scene that look like line defects at first sight: the ringing a cubic
    resampling leaves beside a step (a one-pixel overshoot), the floor of a blurred black
    stitching band (two pixels below both flanks) and a blurred trace."""
    import cv2

    rng = np.random.default_rng(0)
    g = np.full((256, 256), 20000.0) + rng.normal(0, 100, (256, 256))
    g[:, 100:106] = 0                                  # a 6 px stitching band
    g[:, 180:184] = 9000                               # a 4 px trace
    g = cv2.GaussianBlur(g.astype(np.float32), (0, 0), 1.2)
    blurred = np.clip(g, 0, 65535).astype(np.uint16)
    assert line_defects(blurred) == ([], [])
    up = cv2.resize(blurred.astype(np.float32), (384, 384), interpolation=cv2.INTER_CUBIC)
    step = np.zeros((256, 256), np.float32)
    step[:, 128:] = 200
    step = cv2.resize(step, (384, 384), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 1, (384, 384)).astype(np.float32)
    for img in (up, step):
        assert repair_bad_pixels(img)[1] == 0


def test_a_frame_with_stuck_pixels_is_scored_as_the_clean_one(frames):
    """The JPEG-8 frame with stuck pixels read 251 stray balls before the repair; the 16-bit
    frame (6,700,000, 1) was an error row ("pad grid does not fit")."""
    for k in ((6_700_000, 4), (6_700_000, 1)):
        f = frames[k] if k in frames else generate_frame(k, package="bga", shape=(1024, 1024))
        clean = Tally()
        clean.add(f.truth, score_frame(f.image, frame="clean"))
        bad, _, _ = _stuck(f.image)
        r = score_frame(bad, frame="stuck")
        assert r.status == "ok", r.error
        assert r.repaired_px >= 0.5 * 2 * 0.0005 * bad.size, r.repaired_px
        t = Tally()
        t.add(f.truth, r)
        assert t.det[1] <= clean.det[1] + 1 and t.det[2] <= clean.det[2] + 1, (t.det, clean.det)
        for code in ("extra", "bridge", "missing", "misaligned"):
            assert t.fp[code] <= clean.fp[code] + 1 and t.fn[code] <= clean.fn[code] + 1, (k, code, t.fp, t.fn)
        assert r.frame_row()["repaired_px"] == r.repaired_px


def test_the_cli_reports_the_repaired_pixels(tmp_path, frames):
    """frames.csv says how many pixels were filled in (a column added to the interface)."""
    import csv

    from test_batch import check_interface
    from xrayinspect.cli import main
    from xrayinspect.io import write_frame

    f = frames[(6_700_000, 0)]
    bad, _, _ = _stuck(f.image)
    bad[:, 300] = 0
    src = tmp_path / "in"
    src.mkdir()
    for name, img in (("clean.tif", f.image), ("stuck.tif", bad)):
        # (a hot pixel is at the container's full scale, beyond the detector's 12 bits)
        write_frame(src / name, img, pixel_size_um=f.truth["pixel_size_um"])
    assert main(["score", str(src), "--out", str(tmp_path / "out"), "--quiet", "--workers", "1"]) == 0
    rows = {r["frame"]: r for r in csv.DictReader(open(tmp_path / "out" / "frames.csv"))}
    assert rows["clean.tif"]["repaired_px"] == "0"
    assert int(rows["stuck.tif"]["repaired_px"]) >= 1000 + 1024 - 10, rows["stuck.tif"]["repaired_px"]
    for code in ("n_extra", "n_bridge", "n_missing", "n_misaligned"):
        assert rows["stuck.tif"][code] == rows["clean.tif"][code], code
    check_interface(tmp_path / "out")
    import json

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["detector_defects"]["frames"] == 1
    assert summary["detector_defects"]["pixels_filled"] == int(rows["stuck.tif"]["repaired_px"])
    assert 'id="detector-defects"' in (tmp_path / "out" / "report.html").read_text()


@pytest.mark.parametrize("index", [0, 5])
def test_a_qfn_frame_with_stuck_pixels_is_scored_as_the_clean_one(index):
    """Without the repair, QFN frame (5,950,000, 0) with 0.1 % of its pixels stuck found 6 of its 29
    pins among 240 false ones (245 false bridges), and frame 5 was an error row (a ball lattice
    fitted to the stuck pixels)."""
    f = generate_frame((5_950_000, index), package="qfn", shape=(1024, 1024))
    clean = Tally()
    clean.add(f.truth, score_frame(f.image))
    bad, _, _ = _stuck(f.image)
    r = score_frame(bad)
    assert r.status == "ok" and r.package == "qfn", r.error
    t = Tally()
    t.add(f.truth, r)
    assert t.det == clean.det, (t.det, clean.det)
    assert t.fp["bridge"] <= clean.fp["bridge"] and t.fn["bridge"] <= clean.fn["bridge"]
    assert abs(r.pad_void_pct - score_frame(f.image).pad_void_pct) < 1.0

"""Scoring accuracy against the simulator's ground truth, on fixed seeds.

Tolerances are honest: looser than the issue's targets where the scorer does
not meet them yet (the evaluation script reports the real figures), but
every one fails on a stub that finds nothing or calls everything.
"""

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame, score_file
from xrayinspect.recipe import parse_recipe
from xrayinspect.synth import generate_frame

SEEDS = (9001, 9002, 9003, 9004)


@pytest.fixture(scope="module")
def bga_tally():
    tal = Tally()
    for s in SEEDS:
        f = generate_frame(s, shape=(640, 640), rows=14, cols=14)
        tal.add(f.truth, score_frame(f.image, recipe=parse_recipe(f.recipe)))
    return tal.summary()


def test_balls_found_and_located(bga_tally):
    assert bga_tally["joints"] > 500
    assert bga_tally["detection_f1"] > 0.98
    assert bga_tally["centroid_median_px"] < 0.25


def test_void_percent_close_to_truth(bga_tally):
    assert bga_tally["void_abs_err_mean_pp"] < 3.5
    assert abs(bga_tally["void_bias_pp"]) < 3.0


def test_frame_verdicts(bga_tally):
    assert bga_tally["frame_verdict_acc"] >= 0.75


@pytest.mark.parametrize("polarity", ["dark", "bright"])
def test_polarity_is_detected_and_results_agree(polarity):
    f = generate_frame(9010, shape=(512, 512), rows=10, cols=10, polarity=polarity, export="tiff16")
    r = score_frame(f.image)
    assert r.polarity == polarity
    found = [j for j in r.joints if "missing" not in j.defects and not j.partial]
    truth = [t for t in f.truth["joints"] if "missing" not in t["defects"] and not t.get("partial")]
    assert abs(len(found) - len(truth)) <= 2


def test_grid_pitch_and_angle_match_scene():
    f = generate_frame(9020, shape=(640, 640), rows=12, cols=12, tilt_deg=0.5)
    r = score_frame(f.image, recipe=parse_recipe(f.recipe))
    assert r.pitch_px == pytest.approx(f.truth["scene"]["pitch_px"], rel=0.01)
    assert r.angle_deg == pytest.approx(f.truth["scene"]["angle_deg"], abs=0.3)
    rows = {j.grid_row for j in r.joints if j.grid_row >= 0}
    assert max(rows) < 12


def test_missing_ball_is_reported_at_its_site():
    for s in range(9030, 9060):
        f = generate_frame(s, shape=(512, 512), rows=10, cols=10, tilt_deg=0.5)
        miss = [t for t in f.truth["joints"] if "missing" in t["defects"]]
        if miss:
            break
    r = score_frame(f.image, recipe=parse_recipe(f.recipe))
    got = [j for j in r.joints if "missing" in j.defects]
    for t in miss:
        assert any(np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 3 for j in got)


def test_site_under_dense_part_is_not_called_missing():
    """A site covered by something denser than a ball cannot be seen: no missing call there."""
    for s in range(9030, 9060):
        f = generate_frame(s, shape=(512, 512), rows=10, cols=10, tilt_deg=0.5, polarity="dark",
                           export="tiff16")
        miss = [t for t in f.truth["joints"] if "missing" in t["defects"]]
        if miss:
            break
    rows = sorted({t["grid_row"] for t in f.truth["joints"] if t["grid_row"] >= 0})
    free = [r for r in rows[2:-2] if all(t["grid_row"] != r for t in miss)]
    row = free[0]
    ys = [t["y_px"] for t in f.truth["joints"] if t["grid_row"] == row]
    pitch = f.truth["scene"]["pitch_px"]
    img = f.image.astype(np.float64)
    # a part seen through the board: a block a pitch tall over four sites of a row,
    # 1.5 times as attenuating as a ball's centre (dark polarity: dimmer)
    y0, y1 = int(min(ys) - 0.5 * pitch), int(max(ys) + 0.5 * pitch)
    centres = [img[int(t["y_px"]), int(t["x_px"])] for t in f.truth["joints"] if t["grid_row"] == row
               and "missing" not in t["defects"]]
    bg = np.median(img)
    xs = sorted(t["x_px"] for t in f.truth["joints"] if t["grid_row"] == row)
    x0, x1 = int(xs[2] - 0.5 * pitch), int(xs[5] + 0.5 * pitch)
    img[y0:y1, x0:x1] = bg * (np.median(centres) / bg) ** 1.5
    r = score_frame(img.astype(np.uint16), recipe=parse_recipe(f.recipe))
    got = [j for j in r.joints if "missing" in j.defects]
    assert not [j for j in got if j.grid_row == row]
    # the real missing balls elsewhere are still called
    for t in miss:
        if not y0 - pitch < t["y_px"] < y1 + pitch:
            assert any(np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 3 for j in got)


def test_bad_file_becomes_error_result(tmp_path):
    p = tmp_path / "broken.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    r = score_file(p)
    assert r.status == "error" and r.verdict == "error" and "broken.png" in r.error and "\n" not in r.error


def test_flat_frame_is_an_error_not_a_pass(tmp_path):
    from xrayinspect.io import write_frame

    p = tmp_path / "flat.tif"
    write_frame(p, np.full((64, 64), 1000, np.uint16))
    r = score_file(p)
    assert r.status == "error" and "flat" in r.error


def test_qfn_pad_and_pins_found():
    f = generate_frame(9100, package="qfn", shape=(640, 640))
    r = score_frame(f.image, recipe=parse_recipe(f.recipe))
    pads = [j for j in r.joints if j.kind == "pad"]
    pins = [j for j in r.joints if j.kind == "pin" and "missing" not in j.defects]
    truth_pins = [t for t in f.truth["joints"] if t["kind"] == "pin" and "missing" not in t["defects"]]
    assert len(pads) == 1
    assert abs(len(pins) - len(truth_pins)) <= 0.25 * len(truth_pins)


def test_qfn_pad_void_pct_close_to_truth():
    f = generate_frame(9100, package="qfn", shape=(640, 640))
    r = score_frame(f.image, recipe=parse_recipe(f.recipe))
    pad = [j for j in r.joints if j.kind == "pad"][0]
    tp = [t for t in f.truth["joints"] if t["kind"] == "pad"][0]
    assert abs(pad.void_pct - tp["void_pct"]) < 4.0


def test_typical_area_is_not_pulled_down_by_small_clutter():
    from xrayinspect.bga import typical_area

    areas = [30.0] * 40 + [9000.0, 9200.0, 8800.0, 9100.0] * 3
    assert np.median(areas) == 30.0          # what the plain median would say
    assert 8800 <= typical_area(areas) <= 9200
    assert typical_area([]) == 0.0


def test_stray_ball_rules_reject_rings_dense_parts_and_far_blobs():
    """Off-site blobs: a solid small sphere inside the footprint is stray solder; a ring, a
    blob denser than any ball, or one far outside the array is not."""
    from types import SimpleNamespace

    from xrayinspect.bga import _stray_solder

    h = w = 200
    yy, xx = np.mgrid[0:h, 0:w].astype(float)

    def dome(x, y, r, a0):
        q = 1 - ((xx - x) ** 2 + (yy - y) ** 2) / r ** 2
        return a0 * np.sqrt(np.clip(q, 0, None))

    att = dome(50, 50, 8, 1.0) + dome(70, 50, 8, 1.0) + dome(60, 60, 3, 0.4)      # two balls + a stray
    att += dome(60, 100, 3, 3.0)                                                    # denser than solder
    ring = np.hypot(xx - 100, yy - 60)
    att += np.where(np.abs(ring - 3.5) < 1.2, 0.6, 0.0)                              # a via ring
    att += dome(190, 190, 3, 0.4)                                                    # far outside
    cx = np.array([0, 50, 70, 60, 60, 100, 190.0])
    cy = np.array([0, 50, 50, 60, 100, 60, 190.0])
    reach = [0, 8, 8, 3, 3, 5, 3]
    labels = np.zeros((h, w), np.int32)
    for k in range(1, 7):
        labels[(np.hypot(xx - cx[k], yy - cy[k]) <= reach[k]) & (att > 0)] = k
    bbox = np.zeros((7, 4), int)
    for k in range(1, 7):
        ys, xs = np.nonzero(labels == k)
        bbox[k] = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    peak = np.array([0, 1.0, 1.0, 0.4, 3.0, 0.6, 0.4])
    masks = SimpleNamespace(n=6, cx=cx, cy=cy, peak=peak, labels=labels, bbox=bbox)
    fit = SimpleNamespace(u=np.array([20.0, 0]), v=np.array([0, 20.0]), origin=np.array([50.0, 50.0]),
                          rows=3, cols=3)
    rc = np.array([[-1, -1], [0, 0], [0, 1], [-1, -1], [-1, -1], [-1, -1], [-1, -1]])
    out, centre, radius = _stray_solder(masks, att, fit, np.stack([cx, cy], 1), rc)
    # only joints off every site are judged
    assert out.tolist() == [False, False, False, True, False, False, False]
    assert np.hypot(*(centre[3] - [60, 60])) < 0.5
    assert abs(radius[3] - 3.0) < 1.0           # the sphere's radius, from its top


def test_small_stray_balls_are_found_as_extra():
    """Stray balls a quarter of a ball across sit under the joint cores; the faint pass finds
    most of them (simulator truth), and calls nothing extra where the truth has none."""
    found = total = false = 0
    for s in (9210, 9216, 9219, 9221, 9223):
        f = generate_frame(s, shape=(512, 512), rows=10, cols=10, export="tiff16")
        ex = [t for t in f.truth["joints"] if "extra" in t["defects"] and not t.get("partial")]
        r = score_frame(f.image, recipe=parse_recipe(f.recipe))
        got = [j for j in r.joints if "extra" in j.defects]
        hit = [any(np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 3 for j in got) for t in ex]
        found += sum(hit)
        total += len(ex)
        false += len(got) - sum(hit)
    assert total >= 10
    assert found >= 0.8 * total
    assert false <= 1


def test_dense_ring_over_four_balls_is_not_a_bridge():
    """A via barrel seen through the board whose thin rim runs over four balls joins them above
    the bridge level, but no solder neck crosses any gap: no bridge calls."""
    f = generate_frame(9301, shape=(512, 512), rows=10, cols=10, defects=False, polarity="dark",
                       export="tiff16", tilt_deg=0.5)
    balls = {(t["grid_row"], t["grid_col"]): t for t in f.truth["joints"] if t["kind"] == "ball"}
    a, b = balls[(4, 4)], balls[(4, 5)]
    pitch = f.truth["scene"]["pitch_px"]
    img = f.image.astype(np.float64)
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    cx, cy = (a["x_px"] + b["x_px"]) / 2, (a["y_px"] + b["y_px"]) / 2 - 0.5 * pitch
    img[np.abs(np.hypot(xx - cx, yy - cy) - 0.62 * pitch) < 1.5] *= 0.35
    r = score_frame(img.astype(np.uint16), recipe=parse_recipe(f.recipe))
    found = {(j.grid_row, j.grid_col) for j in r.joints if "missing" not in j.defects}
    assert {(3, 4), (3, 5), (4, 4), (4, 5)} <= found
    assert not [j for j in r.joints if "bridge" in j.defects]


@pytest.mark.parametrize("hole_rule", [0.12, None])
def test_via_barrels_touching_two_balls_in_an_oblique_frame_are_not_bridges(hole_rule, monkeypatch):
    """Development frame (6,870,000, 148), tilted 34 degrees: six via barrels, each a ring as dense
    as the balls' peak with a 3 px hole, lie in gaps and touch both balls; the centre line reads
    0.29-0.44 of the peak across them (the bridge level 0.13). Their holes are walled in 0.18-0.30
    of the peak deep, a neck's never (`bga.GAP_HOLE_DEPTH`); off, the rings are bridges."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "GAP_HOLE_DEPTH", hole_rule)
    f = generate_frame((6870000, 148), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.tp["bridge"] + t.fn["bridge"] == 0          # no solder bridge in the frame
    if hole_rule is None:
        assert t.fp["bridge"] >= 8
    else:
        assert t.fp["bridge"] == 0
        assert t.summary()["detection_f1"] > 0.999


def test_gap_hole_depth_tells_a_ring_from_a_bulging_neck():
    """Drawn attenuation: two balls joined by a neck thicker in its middle than at its ends (a
    second hump on the centre line, as true necks at 2048 px show) have no walled-in hole; the same
    balls with a ring in the gap have one as deep as the ring's wall stands over its hole."""
    from xrayinspect.bga import _gap_hole_depth

    yy, xx = np.mgrid[0:60, 0:100].astype(float)
    balls = sum(np.sqrt(np.clip(1 - ((xx - x) ** 2 + (yy - 30) ** 2) / 100.0, 0, None)) for x in (30, 70))
    labels = np.zeros(balls.shape, np.int32)
    labels[np.hypot(xx - 30, yy - 30) < 9] = 1
    labels[np.hypot(xx - 70, yy - 30) < 9] = 2
    along = np.abs(xx - 50) <= 12
    neck = along * np.clip(1 - (yy - 30) ** 2 / (9.0 + 8 * np.exp(-((xx - 50) / 5) ** 2)), 0, None) \
        * (0.35 + 0.12 * np.exp(-((xx - 50) / 5) ** 2))
    ring = 0.9 * (np.abs(np.hypot(xx - 50, yy - 30) - 4.0) < 1.5)
    args = (labels, (1, 2), np.array([30.0, 70.0]), np.array([30.0, 30.0]), 18.0)
    assert _gap_hole_depth(np.maximum(balls, neck), *args) < 0.02
    assert _gap_hole_depth(np.maximum(balls, ring), *args) > 0.5


def test_grey_hole_filling_is_reconstruction_by_erosion():
    """`bga._filled_holes` (cv2 erosions, to keep scikit-image's morphology off the scoring path)
    fills every walled-in low spot of blurred noise to its lowest wall, as scikit-image does."""
    from skimage.morphology import reconstruction

    from xrayinspect.bga import _filled_holes

    rng = np.random.default_rng(7)
    for shape in ((40, 70), (61, 33), (5, 5)):
        img = cv2.GaussianBlur(rng.random(shape).astype(np.float32), (0, 0), 2)
        seed = img.astype(np.float64)
        seed[1:-1, 1:-1] = img.max()
        want = reconstruction(seed, img.astype(np.float64), method="erosion")
        got = _filled_holes(img)
        assert np.allclose(got, want, atol=1e-6)
        assert (got > img + 1e-4).any() or shape == (5, 5)


NOISE_FRAMES = {
    "gaussian_512_u16": lambda: np.random.default_rng(0).normal(1000, 30, (512, 512)).astype(np.uint16),
    "gaussian_96_u16": lambda: np.random.default_rng(1).normal(1000, 30, (96, 96)).astype(np.uint16),
    "uniform_256_u8": lambda: np.random.default_rng(2).integers(0, 256, (256, 256), dtype=np.uint8),
    "poisson_300x500": lambda: np.random.default_rng(3).poisson(40, (300, 500)).astype(np.uint16),
    "gaussian_float": lambda: np.random.default_rng(4).normal(0.5, 0.01, (200, 200)).astype(np.float32),
}


@pytest.mark.parametrize("kind", sorted(NOISE_FRAMES))
def test_frame_of_noise_is_an_error_not_a_pass(kind):
    r = score_frame(NOISE_FRAMES[kind](), frame="noise.tif")
    assert r.status == "error" and r.verdict == "error", (r.package, r.verdict, len(r.joints))
    assert "no solder-like structure" in r.error and "noise.tif" in r.error and "\n" not in r.error
    assert not r.joints
    row = r.frame_row()
    assert row["status"] == "error" and row["verdict"] == "error" and row["n_fail"] == ""


def test_noise_frame_with_a_recipe_is_an_error_of_that_package(tmp_path):
    from xrayinspect.io import write_frame

    p = tmp_path / "noise.tif"
    write_frame(p, NOISE_FRAMES["gaussian_512_u16"]())
    r = score_file(p, recipe=parse_recipe({"package": {"type": "qfn"}}))
    assert (r.status, r.verdict, r.package) == ("error", "error", "qfn") and "noise.tif" in r.error


@pytest.mark.parametrize("package,shape,export", [("bga", (96, 96), "png8"), ("qfn", (96, 96), "jpeg8"),
                                                  ("bga", (128, 128), "tiff16"), ("bga", (384, 384), "jpeg8"),
                                                  ("qfn", (256, 256), "png8")])
def test_small_low_contrast_frames_are_still_scored(package, shape, export):
    """The rule is relative to each frame's noise, not a pixel count: small, hard frames score."""
    from xrayinspect.pipeline import MIN_STRUCTURE_CONTRAST, structure_contrast

    f = generate_frame(9201, package=package, shape=shape, export=export, difficulty="hard")
    assert structure_contrast(f.image) > 2 * MIN_STRUCTURE_CONTRAST
    r = score_frame(f.image, frame="small.tif")
    assert r.status == "ok" and r.joints, r.error


def test_structure_contrast_does_not_depend_on_size_or_level():
    from xrayinspect.pipeline import MIN_STRUCTURE_CONTRAST, structure_contrast

    rng = np.random.default_rng(5)
    for side in (16, 64, 1024):
        for level, sigma in ((100, 2), (30000, 300)):
            c = structure_contrast(rng.normal(level, sigma, (side, side)))
            assert c < MIN_STRUCTURE_CONTRAST / 2, (side, level, c)
    # one dark disc in the same noise stands out, whatever the frame's size
    for side in (64, 1024):
        img = rng.normal(1000, 30, (side, side))
        yy, xx = np.mgrid[:side, :side]
        img[(yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 8) ** 2] -= 300
        assert structure_contrast(img) > 2 * MIN_STRUCTURE_CONTRAST


@pytest.mark.parametrize("seed", [(5650000, 9), (5050000, 0), (5050000, 7)])
def test_qfn_polarity_without_a_noise_cue_follows_the_grey_level_bulk(seed):
    """8-bit and JPEG QFN frames without a noise cue: the rows of pin gaps outvoted the pins, and
    the frame was read in the wrong polarity (44 pins lost, the pad read up to 31 pp off). The board
    is the bulk of the frame and lets more through than solder: the median grey level sits near the
    bright end when solder is dark."""
    from xrayinspect.preprocess import detect_polarity, histogram_polarity, noise_polarity

    f = generate_frame(seed, package="qfn", shape=(1024, 1024))
    assert noise_polarity(f.image) is None
    assert histogram_polarity(f.image) == f.truth["polarity"]
    assert detect_polarity(f.image)[0] == f.truth["polarity"]
    r = score_frame(f.image)
    assert r.package == "qfn" and r.polarity == f.truth["polarity"]
    pad = next(j for j in r.joints if j.kind == "pad")
    truth = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    assert abs(pad.void_pct - truth["void_pct"]) < 4.0


def test_histogram_polarity_reads_the_bulk_and_abstains_when_it_is_balanced():
    """A dark minority on a bright bulk is dark solder, its inverse bright solder; a frame half
    solder, half board gives no call."""
    from xrayinspect.preprocess import histogram_polarity

    rng = np.random.default_rng(0)
    img = rng.normal(200, 3, (200, 200))
    img[50:90, 50:90] = rng.normal(40, 3, (40, 40))        # 4 % solder, dark
    assert histogram_polarity(img.astype(np.float32)) == "dark"
    assert histogram_polarity((255 - img).astype(np.float32)) == "bright"
    half = img.copy()
    half[:, :100] = rng.normal(40, 3, (200, 100))
    assert histogram_polarity(half.astype(np.float32)) is None


def test_polarity_of_a_dark_jpeg_whose_noise_cue_is_reversed():
    """A bright-solder 8-bit JPEG on a near-black board: compression flattens the noise of the
    dark board, so the noise cue reads "dark"; 400+ like-sized bright blobs against ~10 dark
    ones overrule it (before: read as one QFN pad, every ball lost)."""
    from xrayinspect.preprocess import detect_polarity, noise_polarity

    f = generate_frame((5000002, 4), package="bga", shape=(1024, 1024))
    assert (f.truth["polarity"], f.truth["export"]) == ("bright", "jpeg8")
    assert noise_polarity(f.image) == "dark"          # the cue this test is about is still reversed
    assert detect_polarity(f.image)[0] == "bright"
    r = score_frame(f.image)
    assert r.package == "bga" and r.polarity == "bright"
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.summary()["detection_f1"] > 0.98


def test_saturated_head_in_pillow_balls_keep_a_peak_and_a_score():
    """8-bit export whose densest balls (head-in-pillow: taller, uncollapsed) clip at 255: their
    dome peak is at least the clipped level, never 0, and their dense centre does not mark them
    obstructed (before: peak 0, hip score about -60, none of the 15 found). Since windowed frames
    are made linear again (2026-12-03) the clipped level is no longer an outsized attenuation: the
    width of each ball's clipped core gives its height (14 of 15 found; 4 before linearising, 0
    linearised without the core rule)."""
    from xrayinspect.evaluation import match

    f = generate_frame((5000000, 1), package="bga", shape=(1024, 1024))
    assert f.truth["export"] == "png8"
    r = score_frame(f.image)
    tj = f.truth["joints"]
    pairs, _, _ = match(tj, r.joints)
    hip = [(tj[a], r.joints[b]) for a, b in pairs if "hip" in tj[a]["defects"]]
    assert len(hip) >= 12
    assert all(j.peak_att > 0 for _, j in hip)
    assert np.median([j.hip_score for _, j in hip]) > 2.0
    assert sum("hip" in j.defects for _, j in hip) >= 10
    others = [j for (t, j) in ((tj[a], r.joints[b]) for a, b in pairs) if not t["defects"]]
    assert sum("hip" in j.defects for j in others) <= 2


@pytest.mark.parametrize("index, tilt", [(8, 43.88544), (28, 31.09904)])
def test_oblique_8bit_via_rings_over_balls_are_not_head_in_pillow(index, tilt):
    """Oblique 8-bit TIFF frames (development seeds 6,980,000+): dense via rings seen across the
    rims of balls clip at the export's black level, and each such ball read as tall as its
    clipped pixels said - a head-in-pillow call (5 false calls in frame 8, 6 in frame 28, every
    one with its clipped patch 0.3-0.9 radii off the ball's centre; bridged balls, whose necks
    lie across them in these views, made up 4 of the first 5). The true head-in-pillow balls,
    whose clipped cores are centred, are still found."""
    from xrayinspect.evaluation import match

    f = generate_frame((6980000, index), package="bga", shape=(1024, 1024), tilt_deg=tilt, export="tiff8")
    r = score_frame(f.image)
    tj = f.truth["joints"]
    pairs, _, _ = match(tj, r.joints)
    true_hip = [r.joints[b] for a, b in pairs if "hip" in tj[a]["defects"]]
    false_hip = [r.joints[b] for a, b in pairs if "hip" not in tj[a]["defects"] and "hip" in r.joints[b].defects]
    assert len(true_hip) >= 5
    assert sum("hip" in j.defects for j in true_hip) >= len(true_hip) - 1
    assert len(false_hip) <= 2, [(round(j.x_px), round(j.y_px), j.defects) for j in false_hip]


def test_via_ring_over_a_ball_centre_is_not_its_clipped_core():
    """Oblique PNG-8 stitched frame at 2048 px (development frame (6,990,000, 4), 32 degrees): a
    dense via ring lies over the upper half of each ball in a band of rows; with the ball's
    centre it clips into one patch, centred enough, so each of those balls read 1.4-1.6 x as tall
    as the others: 28 false head-in-pillow calls. A taller ball's own clipped core is a filled
    disc; those patches fill 0.19-0.30 of the disc they span."""
    f = generate_frame((6990000, 4), package="bga", shape=(2048, 2048), tilt_deg=31.8034, export="png8")
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.det[0] > 700 and t.det[2] <= 2
    assert t.fp["hip"] <= 2, t.fp["hip"]


def test_ball_merged_with_a_dense_via_ring_keeps_its_mask():
    """Oblique 8-bit TIFF (development frame (6,980,000, 18), 27 degrees): three balls each touch
    a via ring far denser than solder, and the cap clip kept the larger bright piece - the ring,
    swollen by blur - and cut the ball away: 4 balls lost, 3 rings reported as misaligned
    head-in-pillow balls at 8-9 x the typical peak. The cap is now the piece with the most pixels
    at solder level."""
    f = generate_frame((6980000, 18), package="bga", shape=(1024, 1024), tilt_deg=27.49224, export="tiff8")
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    tp, fp, fn = t.det
    assert fn <= 1 and fp <= 1, t.det
    assert t.fp["misaligned"] == 0 and t.fp["hip"] == 0
    whole = [j for j in r.joints if j.peak_att > 0 and not j.partial]
    typical = np.median([j.peak_att for j in whole])
    assert max(j.peak_att for j in whole) < 3 * typical


def test_qfn_pad_is_not_a_denser_part_beside_it():
    """A QFN whose frame also holds a part denser than solder (a black block beside the package):
    the densest area has no pins around it, so the pad is looked for again without it (before:
    the block was scored as the pad and no pin was found)."""
    from xrayinspect.evaluation import match

    f = generate_frame((5050000, 1), package="qfn", shape=(1024, 1024))
    r = score_frame(f.image, recipe=parse_recipe(f.recipe))
    tpad = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    pad = next(j for j in r.joints if j.kind == "pad")
    assert np.hypot(pad.x_px - tpad["x_px"], pad.y_px - tpad["y_px"]) < 0.1 * np.sqrt(tpad["area_px"])
    tpins = [t for t in f.truth["joints"] if t["kind"] == "pin"]
    pins = [j for j in r.joints if j.kind == "pin"]
    pairs, _, _ = match(tpins, pins)
    assert len(pairs) >= 0.9 * len(tpins)


def test_missing_ball_beside_a_depopulated_block_is_found_by_its_bare_pad():
    """Without a recipe, an empty site next to the designed-out centre is ambiguous by
    neighbours alone; the bare pad it shows (a faint disc) makes it a missing ball, while the
    pad-less designed-out sites stay uncalled."""
    f = generate_frame((5000002, 4), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    pitch = f.truth["scene"]["pitch_px"]
    truth_missing = [(t["x_px"], t["y_px"]) for t in f.truth["joints"] if "missing" in t["defects"]]
    called = [(j.x_px, j.y_px) for j in r.joints if "missing" in j.defects]

    def near(p, qs):
        return any(np.hypot(p[0] - q[0], p[1] - q[1]) < 0.35 * pitch for q in qs)

    lone = min(truth_missing, key=lambda p: np.hypot(p[0] - 615, p[1] - 582))
    assert np.hypot(lone[0] - 615, lone[1] - 582) < 5
    assert near(lone, called)
    assert sum(near(p, called) for p in truth_missing) == len(truth_missing)
    assert all(near(q, truth_missing) for q in called)        # no designed-out site called missing


def test_bridged_pair_merged_into_one_mask_is_split_and_flagged_without_a_recipe():
    """Two balls and their neck in one mask, between two sites no ball's centre sits on: without a
    recipe the mask is cut on the lattice and both halves are bridges (before: the pair vanished,
    neither reported nor called missing)."""
    from xrayinspect.evaluation import match

    f = generate_frame((5000001, 5), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tj = f.truth["joints"]
    pairs, _, _ = match(tj, r.joints)
    got = {a: r.joints[b] for a, b in pairs}
    for x, y in ((622, 707), (651, 705)):
        a = min(range(len(tj)), key=lambda i: np.hypot(tj[i]["x_px"] - x, tj[i]["y_px"] - y))
        assert "bridge" in tj[a]["defects"] and np.hypot(tj[a]["x_px"] - x, tj[a]["y_px"] - y) < 3
        assert a in got and "bridge" in got[a].defects
    tb = sum("bridge" in tj[a]["defects"] for a in got)
    fb = sum("bridge" in j.defects and "bridge" not in tj[a]["defects"] for a, j in got.items())
    assert tb >= 8 and fb <= 2


def test_misaligned_balls_pushed_against_a_neighbour_are_not_bridges():
    """A fine-pitch JPEG with many misaligned balls, some touching a neighbour in projection: the
    pair sits closer than its pitch less half the nominal gap, so the contact is the displacement
    (called misaligned), not solder between two seated balls (before: 18 false bridges)."""
    from xrayinspect.evaluation import match

    f = generate_frame((5200003, 6), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tj = f.truth["joints"]
    pairs, _, _ = match(tj, r.joints)
    fp = [a for a, b in pairs if "bridge" in r.joints[b].defects and "bridge" not in tj[a]["defects"]]
    mis = [a for a, b in pairs if "misaligned" in tj[a]["defects"]]
    assert len(mis) >= 10
    assert sum("misaligned" in r.joints[b].defects for a, b in pairs if a in mis) >= 0.8 * len(mis)
    assert len(fp) <= 2, [(tj[a]["x_px"], tj[a]["y_px"]) for a in fp]


@pytest.mark.parametrize("off", [False, True])
def test_a_ball_pushed_off_its_site_into_two_neighbours_is_found_on_its_site(off, monkeypatch):
    """Simulator frame (6,700,000, 155), PNG-8: ball (20, 29) sits 6.5 px off its site on a 21.7 px
    pitch, touching ball (19, 29) and, past a via ring, ball (20, 28): one mask of three balls whose
    centre pixels cover only the two neighbours' sites. Its own site's centre lies 1.4 px outside
    the mask (`bga.SPLIT_REACH`): the mask is cut on three sites, the ball reported misaligned
    (before: cut in two, the ball shared out and clipped away, its site called missing)."""
    from xrayinspect import bga

    if off:
        monkeypatch.setattr(bga, "SPLIT_REACH", None)
    f = generate_frame((6700000, 155), package="bga", shape=(1024, 1024))
    t = next(t for t in f.truth["joints"] if (t["grid_row"], t["grid_col"]) == (20, 29))
    assert t["defects"] == ["misaligned"] and np.hypot(t["x_px"] - 805.9, t["y_px"] - 575.1) < 1
    r = score_frame(f.image)
    near = [j for j in r.joints if np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 4]
    missing = [j for j in r.joints if "missing" in j.defects
               and np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 10]
    if off:
        assert not near and missing
        return
    assert len(near) == 1 and near[0].kind == "ball" and not missing
    assert near[0].defects == ["misaligned"] and 120 <= near[0].area_px <= 200
    for rc in ((19, 29), (20, 28)):
        nb = [j for j in r.joints if (j.grid_row, j.grid_col) == rc]
        assert len(nb) == 1 and not nb[0].defects and 110 <= nb[0].area_px <= 160


@pytest.mark.parametrize("seed,where", [((5200000, 4), (206, 282)), ((5000000, 1), (581, 858)),
                                        ((6950000, 267), (764, 200)), ((6950000, 279), (412, 282)),
                                        ((6700000, 86), (599, 845))])
def test_faint_tiny_stray_ball_is_extra(seed, where):
    """A stray ball of 3-4 px at 0.07-0.14 of a ball's peak, between four balls: above the noise by
    far, under the 0.1 level alone (before: missed). In the third and fourth frames the ball, 3 px
    across at 0.08-0.09 of a ball's peak, is cut at 0.05 (above half its own peak): its rim stands at
    0.5-0.52 of its peak but falls to 0.74-0.80 of the level it was cut at (FAINT_FALL; before:
    missed by the half-peak test alone). In the last, a 4 px stray between four 13 px balls lies 2 px
    from the generous masks of two of them (FAINT_CLEARANCE_PX; before: missed at 2 px, the skirt's
    clearance)."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = min((t for t in f.truth["joints"] if "extra" in t["defects"]),
            key=lambda t: np.hypot(t["x_px"] - where[0], t["y_px"] - where[1]))
    assert np.hypot(t["x_px"] - where[0], t["y_px"] - where[1]) < 3
    assert any("extra" in j.defects and np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 3 for j in r.joints)


def test_a_sliver_of_a_ball_cut_by_a_stitching_band_is_not_stray_solder(monkeypatch):
    """A tiled oblique PNG-8 frame (development (6,980,000, 10)): two balls on sites are cut by a
    stitching band, their larger pieces take the sites, and the 7 px slivers on the other side,
    whose black cores run into the black band, lay 2 px from where the band was found. They were
    called stray solder; within STRAY_BAND_CLEARANCE_PX of a band an off-site joint is partial."""
    from xrayinspect import bga

    f = generate_frame((6980000, 10), package="bga", shape=(1024, 1024), tilt_deg=30, export="png8")
    assert f.truth["bands"]

    def extras():
        r = score_frame(f.image)
        t = Tally()
        t.add(f.truth, r)
        return t.fp["extra"], [j for j in r.joints if j.partial and j.grid_row < 0]

    fp, cut = extras()
    assert fp == 0 and len(cut) >= 2
    monkeypatch.setattr(bga, "STRAY_BAND_CLEARANCE_PX", None)
    assert extras()[0] == 2


@pytest.fixture(scope="module")
def bridge_beside_band():
    """2048 px development frame (6,720,000, 65), JPEG-8, and its bridged pair cut by a band."""
    return generate_frame((6720000, 65), package="bga", shape=(2048, 2048))


@pytest.mark.parametrize("off", [None, "SADDLE_ACROSS_BANDS", "SADDLE_CUT_AT_SITE"])
def test_a_bridge_to_a_ball_a_stitching_band_cuts_is_called(bridge_beside_band, off, monkeypatch):
    """Balls (1, 2) and (1, 3) are bridged, the neck seen whole; a stitching band cuts ball (1, 3)'s
    near flank off its mask. The gap line crossed the band (read 0) and, drawn from the cut ball's
    centroid 11 px off its centre, put the gap's middle on the ball (read as copper denser than a
    ball): no bridge. Read across the band and from the cut ball's site, the pair is bridged; with
    either rule off it is not. The other bridged pair of the frame is called either way."""
    from xrayinspect import bga

    f = bridge_beside_band
    if off:
        monkeypatch.setattr(bga, off, False)
    r = score_frame(f.image)
    bridged = {(j.grid_row, j.grid_col) for j in r.joints if "bridge" in j.defects}
    truth = {(t["grid_row"], t["grid_col"]) for t in f.truth["joints"] if "bridge" in t["defects"]}
    assert truth == {(1, 2), (1, 3), (2, 2), (3, 2)}
    assert {(2, 2), (3, 2)} <= bridged
    assert ((1, 2) in bridged) == (off is None)
    assert bridged <= truth


@pytest.mark.parametrize("share", [None, 1.0])
def test_a_gap_a_stitching_band_runs_along_is_not_read_as_a_bridge(share, monkeypatch):
    """2048 px development frame (6,720,000, 26), JPEG-8: a band runs along the gap between two
    balls on either side of its length. Read across the band, the hidden gap took the balls' level
    and the pair was bridged; a line whose gap the band hides for more than
    `bga.BAND_GAP_SHARE` of it is not judged. No bridge in the truth, none called."""
    from xrayinspect import bga

    f = generate_frame((6720000, 26), package="bga", shape=(2048, 2048))
    if share:
        monkeypatch.setattr(bga, "BAND_GAP_SHARE", share)
    r = score_frame(f.image)
    near_band = [j for j in r.joints if "bridge" in j.defects and abs(j.y_px - 999) < 40
                 and abs(j.x_px - 550) < 60]
    assert len(near_band) == (2 if share else 0)


@pytest.mark.parametrize("reach", [None, 1.0])
@pytest.mark.parametrize("seed, pair", [((6950000, 40), (609, 332)), ((6950000, 112), (750, 91))])
def test_a_trace_along_two_balls_line_is_not_a_bridge(seed, pair, reach, monkeypatch):
    """Development frames (6,950,000, 40) and (6,950,000, 112), 16-bit: a thin trace down a column
    of balls and a wide one along a row pass under two neighbouring balls and lift the gap between
    them like a neck; both run on past the balls. The line beyond each ball's outer side carries
    the trace's level, which is taken off the gap's saddle (`bga.AXIS_REACH`): no bridge there
    (without it, both balls were called bridged). The truth has no bridge at either pair, and
    every true bridge of the frame is still called."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "AXIS_REACH", reach)
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    pitch = f.truth["scene"]["pitch_px"]
    at_pair = [j for j in _near(r.joints, *pair, 0.75 * pitch) if "bridge" in j.defects]
    assert len(at_pair) == (0 if reach else 2)
    true = [t for t in f.truth["joints"] if "bridge" in t["defects"] and not t.get("partial")]
    called = [j for j in r.joints if "bridge" in j.defects]
    assert all(_near(called, t["x_px"], t["y_px"], 0.3 * pitch) for t in true)


@pytest.mark.parametrize("small_flank", [None, 2])
def test_a_stray_ball_filling_a_small_ring_hole_is_extra(small_flank, monkeypatch):
    """2048 px development frame (6,720,000, 35), 35 px balls: three stray balls of 9 px lie in via
    rings whose holes are hardly wider. Read 3 px in from the ring's wall, the hole left 4-8 px,
    under the 12 the ring test asks; read 2 px in (`bga.RING_FLANK_SMALL_PX`), all three are found
    (before: missed). The higher readings of `bga.RING_ISLAND_LEVELS`, added since, find them too:
    they are off here, so the test reads this rule alone."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "RING_FLANK_SMALL_PX", small_flank)
    monkeypatch.setattr(bga, "RING_ISLAND_LEVELS", None)
    f = generate_frame((6720000, 35), package="bga", shape=(2048, 2048))
    strays = [t for t in f.truth["joints"] if "extra" in t["defects"]]
    assert len(strays) == 3 and all(8 < t["diameter_px"] < 10 for t in strays)
    r = score_frame(f.image)
    called = [j for j in r.joints if "extra" in j.defects]
    found = [t for t in strays if any(np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 4 for j in called)]
    assert len(found) == (0 if small_flank is None else 3)
    assert len(called) == len(found)        # nothing else called stray


def _strays_found(seed, monkeypatch=None, **off):
    """Truth strays of a 1024 px development frame and which of them were called extra; the
    calls of extra solder no truth stray is near."""
    from xrayinspect import bga

    for name, value in off.items():
        monkeypatch.setattr(bga, name, value)
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    strays = [t for t in f.truth["joints"] if "extra" in t["defects"]]
    called = [j for j in score_frame(f.image).joints if "extra" in j.defects]
    found = [t for t in strays if _near(called, t["x_px"], t["y_px"], 0.5 * t["diameter_px"] + 2)]
    false = [j for j in called if not any(np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"])
                                          < 0.5 * t["diameter_px"] + 2 for t in strays)]
    return strays, found, false


@pytest.mark.parametrize("levels", [None, (0.6, 0.7)])
def test_a_stray_ball_as_dense_as_its_via_ring_is_extra(levels, monkeypatch):
    """Development frame (6,700,000, 121), TIFF-8: a 17 px stray lies in a via ring of 0.4 of a
    ball's peak, against its wall, as dense as the wall and joined to it up to 0.63 of the ring's
    top; at 0.3 and 0.5 of it the stray filled the hole. At 0.6 of the top it stands apart, an
    island in the hole (`bga.RING_ISLAND_LEVELS`), and is found; without those tries it is not."""
    strays, found, false = _strays_found((6700000, 121), monkeypatch, RING_ISLAND_LEVELS=levels)
    assert len(strays) == 1 and 15 < strays[0]["diameter_px"] < 20
    assert len(found) == (0 if levels is None else 1)
    assert not false


@pytest.mark.parametrize("retry", [None, 0.6])
def test_a_stray_ball_lying_on_a_trace_is_extra(retry, monkeypatch):
    """Development frame (6,700,000, 139), 16-bit: a 16 px stray lies on a board trace that stands
    at 0.5-0.6 of the stray's peak. Its top read above half its peak ran out along the trace, the
    top's centroid 10 px off the peak (centre at 0.21 of it): missed. Read again above 0.6 of its
    peak (`bga.STRAY_TOP_RETRY`) the top is the stray's (round 0.98, arms 0.57): found."""
    strays, found, false = _strays_found((6700000, 139), monkeypatch, STRAY_TOP_RETRY=retry)
    assert len(strays) == 1 and 14 < strays[0]["diameter_px"] < 18
    assert len(found) == (0 if retry is None else 1)
    assert not false


@pytest.mark.parametrize("share", [0.65, 1.0])
def test_two_overlapping_traces_are_not_a_stray_ball_lying_on_a_trace(share, monkeypatch):
    """Oblique PNG-8 development frame (6,980,000, 16): where two traces overlap, the overlap's top
    above 0.6 of its peak is round and its arms low, and the second reading of a stray's top
    (`bga.STRAY_TOP_RETRY`) took it for a stray ball. A sphere's top narrows on the way up (above
    0.8 of its peak 0.56 of its pixels above 0.6), a plateau's hardly (0.73): read as a dome
    (`bga.STRAY_DOME_SHARE` 0.65), no false extra; without that test, one."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "STRAY_DOME_SHARE", share)
    f = generate_frame((6980000, 16), package="bga", shape=(1024, 1024), tilt_deg=30, export="png8")
    r = score_frame(f.image)
    assert not [t for t in f.truth["joints"] if np.hypot(t["x_px"] - 554, t["y_px"] - 218) < 40]
    extras = [j for j in r.joints if "extra" in j.defects]
    assert len(_near(extras, 554, 218, 10)) == (1 if share == 1.0 else 0)


def test_a_stray_ball_crossed_by_a_trace_is_extra():
    """A stray ball a third of a ball across, crossed by board traces (development frame (6,950,000,
    85), balls 106 px): its densest pixel is where a trace crosses it, and its centre stands at 0.89
    of that (before: missed at STRAY_CENTRE 0.9; round 0.94, arms 0.47 of its peak). No false extra."""
    f = generate_frame((6950000, 85), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["extra"] == 0
    assert any("extra" in j.defects and np.hypot(j.x_px - 500, j.y_px - 622) < 6 for j in r.joints)


@pytest.mark.parametrize("seed,extras", [((6700000, 97), 3), ((6700000, 16), 0), ((6700000, 25), 0)])
def test_a_stray_ball_with_a_wide_flank_is_extra_and_a_trace_crossing_is_not(seed, extras):
    """In a zoomed JPEG frame (balls 100 px across) two strays of 20-26 px at 0.28 of a ball's
    peak were missed: cut well above half their own peak, their flank, widened by the blur and
    the smoothing, stood at 0.50-0.51 of the peak 1-2 px out (the faint pass's limit 0.5), and
    fell to 0.06-0.26 of it 3-4 px out. The ring 3-4 px out is read when the first fails (for a
    blob of 50 px or more at its cut: a via ring's 9 px top is not read so), and
    must fall under 0.3 of the peak: a crossing of two traces keeps its arms there (about half
    its peak) - frames 16 and 25, where a limit of 0.5 there took 3 crossings for strays."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["extra"] == 0 and t.fn["extra"] == 0, (t.tp["extra"], t.fp["extra"], t.fn["extra"])
    assert t.tp["extra"] == extras


@pytest.mark.parametrize("sphere", [True, False])
def test_a_stray_ball_cut_high_up_by_the_board_noise_is_extra(sphere, monkeypatch):
    """Development frame (6,850,000, 59): a 21 px stray among 98 px balls at 0.27 of their peak,
    where the board's noise set the faint level at 0.72 of the stray's own peak. Cut that high, the
    sphere reaches 1.4 x the blob's radius: its own flank stood at 0.34 of its peak 3-4 px out (the
    limit 0.3) and it was dropped as a trace crossing. The ring read is the one past the sphere's
    edge (`bga.FAINT_FAR_SPHERE`: 4-6 px out here, 0.25 of the peak); off, the stray is lost."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "FAINT_FAR_SPHERE", sphere)
    f = generate_frame((6850000, 59), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["extra"] == 0
    found = any("extra" in j.defects and np.hypot(j.x_px - 453, j.y_px - 634) < 4 for j in r.joints)
    assert found == sphere


@pytest.mark.parametrize("seed", [(5200001, 3), (5600000, 28)])
def test_small_via_rings_between_balls_are_not_extra(seed):
    """Dog-bone via rings at cell centres are round, small and faint like a stray ball, but dip at
    their hole: none of them is called extra. In the JPEG frame (5600000, 28) blur fills the holes
    of 9-10 px rings to 0.80-0.85 of their peak (before: 7 false extras)."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    truth_extra = [(t["x_px"], t["y_px"]) for t in f.truth["joints"] if "extra" in t["defects"]]
    called = [(j.x_px, j.y_px) for j in r.joints if "extra" in j.defects]
    false = [c for c in called if all(np.hypot(c[0] - x, c[1] - y) > 5 for x, y in truth_extra)]
    assert not false, false


def test_ct_slice_gets_no_false_head_in_pillow_calls():
    """A CT slice cuts every ball to a flat disc (profile still ~1.0 of the peak at 0.65 of the
    radius; projections fall to 0.76 or less): height and peak are not in the image (judged by
    them: 9 false calls on the sample slice, which has no head-in-pillow), only a head's narrowing
    (`bga.SLICE_HIP`): no ball of this slice scores near the limit, and the rest is still judged."""
    from pathlib import Path

    from xrayinspect.recipe import load_recipe
    from xrayinspect.rules import HIP_THRESHOLD

    root = Path(__file__).resolve().parents[1] / "sample_data"
    r = score_file(root / "bga_ct_slice.tif", recipe=load_recipe(root / "bga_ct_slice.recipe.toml"))
    assert r.status == "ok" and len(r.joints) > 100
    assert r.sliced and r.hip_judged
    assert not [j for j in r.joints if "hip" in j.defects]
    assert max(j.hip_score for j in r.joints) < 0.75 * HIP_THRESHOLD      # (2.34 at most)
    assert [j for j in r.joints if "missing" in j.defects]       # the slice is still scored


def test_balls_under_a_via_barrel_are_measured_not_judged():
    """The sample oblique frame: via barrels and large dense rings cover parts of 12 balls; the
    copper is cut out of each mask, and what is left is a crescent whose centroid is not the
    ball's centre (before: 1, then 3 balls called misaligned, the frame failed where its truth
    passes). A seated ball seen at under 0.6 of the typical area with copper over it is reported
    partial - measured, not judged - like a ball cut by the frame's edge."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "sample_data"
    truth = json.loads((root / "bga_oblique.truth.json").read_text())
    r = score_file(root / "bga_oblique.tif")
    t = Tally()
    t.add(truth, r)
    assert t.fp["misaligned"] == 0, t.fp["misaligned"]
    assert r.verdict == truth["frame_verdict"] == "pass"
    covered = [j for j in r.joints if j.partial]
    assert 5 <= len(covered) <= 20 and all(not j.defects for j in covered)


@pytest.mark.parametrize("seed, found, false", [((6960000, 2), 8, 0), ((6960000, 14), 6, 0), ((6960000, 25), 7, 0)])
def test_head_in_pillow_in_a_ct_slice_is_told_by_its_narrowing(monkeypatch, seed, found, false):
    """Cut at the balls' mid-height, a head that never collapsed onto its pillow is narrower than
    its collapsed neighbours (0.89-0.93 of the typical diameter on 30 development slices, whole
    balls 0.96 or more): `bga.SLICE_HIP` judges it by that narrowing alone. Development slices
    6,960,000+2, +14, +25: 8 of 8, 6 of 6 and 7 of 7 heads found, none false (4 of 8, 5 and 2
    with the narrowing weighed at 0.8 as in radiographs); without the rule, none called."""
    from xrayinspect import bga

    f = generate_frame(seed, package="bga", shape=(1024, 1024), modality="ct")
    r = score_frame(f.image)
    assert r.sliced and r.hip_judged
    t = Tally()
    t.add(f.truth, r)
    assert t.tp["hip"] >= found and t.fp["hip"] <= false
    monkeypatch.setattr(bga, "SLICE_HIP_WEIGHT", 0.8)
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.tp["hip"] < found
    monkeypatch.setattr(bga, "SLICE_HIP", False)
    r = score_frame(f.image)
    assert not r.hip_judged and r.count("hip") == 0


@pytest.mark.parametrize("seed, bridged, moved", [((6960000, 5), 6, 3), ((6960000, 11), 2, 1), ((6960000, 21), 2, 1)])
def test_bridged_pair_in_a_ct_slice_is_split_at_its_neck(monkeypatch, seed, bridged, moved):
    """A slice shows a bridged pair and its neck at one level, noise on it: cut at 0.6-0.9 of its
    peak, the pair's core fell into 4-7 pieces of noise, one of which was reported as each ball
    (2-23 px off its site: misaligned) or the pair was lost as a bridge. Split where its distance
    to its own edge narrows (`joints.SLICE_SPLIT_BY_SHAPE`), each ball is its disc: development
    slices 6,960,000+5, +11, +21: every bridged ball called, no false misaligned (3, 2 and 1
    without the rule, and 0 of 2, 0 of 2 bridged balls found on +11 and +21)."""
    from xrayinspect import joints

    f = generate_frame(seed, package="bga", shape=(1024, 1024), modality="ct")
    r = score_frame(f.image)
    assert r.sliced
    t = Tally()
    t.add(f.truth, r)
    assert t.tp["bridge"] == bridged and t.fn["bridge"] == 0 and t.fp["bridge"] == 0
    assert t.tp["misaligned"] == moved and t.fp["misaligned"] == 0
    monkeypatch.setattr(joints, "SLICE_SPLIT_BY_SHAPE", False)
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["misaligned"] > 0


def test_bridged_pair_in_a_ct_slice_with_a_void_is_split(monkeypatch):
    """A void is a hole in a slice's core: the distance to the core's edge round it hid its
    disc's middle and the pair of 111 px balls on development slice 6,967,000+4 (a 4 x 4 array)
    stayed one joint; its row left the lattice with the misaligned ball beside it (3 balls lost,
    the missing site beside them not called: 12 of 15 balls found, no bridge). Holes are filled
    before the distance is taken; without the split by shape the pair is not split at all."""
    from xrayinspect import joints

    f = generate_frame((6967000, 4), package="bga", shape=(1024, 1024), modality="ct")
    t = Tally()
    t.add(f.truth, score_frame(f.image))
    assert t.det == [15, 0, 0]
    assert (t.tp["bridge"], t.fp["bridge"], t.tp["misaligned"], t.tp["missing"]) == (2, 0, 1, 1)
    monkeypatch.setattr(joints, "SLICE_SPLIT_BY_SHAPE", False)
    t = Tally()
    t.add(f.truth, score_frame(f.image))
    assert t.fn["bridge"] == 2


@pytest.mark.parametrize("seed, strays, missed_without", [((6965000, 11), 2, 2), ((6960000, 14), 2, 2),
                                                            ((6967000, 92), 1, 1), ((6967000, 22), 2, 1)])
def test_stray_ball_in_a_ct_slice_is_read_as_a_flat_disc(monkeypatch, seed, strays, missed_without):
    """A slice cuts a stray ball to a disc level to its edge, noise on it: its centre pixel is no
    higher than the rest of its top (0.85 of the top's 90th percentile on 6,965,000+11), and the
    sphere's test (centre pixel at 0.9 of it) let 8 of 31 development strays go (6,960,000+ and
    6,965,000+; 1 now, a 4 px disc). Read as a flat
    disc (`bga.SLICE_FLAT_STRAYS`: the 3 x 3 middle at 0.7 of the top's median or more - a slice's
    disc is cupped, 0.89 on 6,967,000+92 - and a peak up to 1.6 x the typical ball's - edge
    overshoot lifts a small disc, 1.32 x on 6,967,000+22) every stray of these slices is called,
    none false."""
    from xrayinspect import bga

    f = generate_frame(seed, package="bga", shape=(1024, 1024), modality="ct")
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.tp["extra"] == strays and t.fp["extra"] == 0 and t.fn["extra"] == 0
    monkeypatch.setattr(bga, "SLICE_FLAT_STRAYS", False)
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fn["extra"] == missed_without


def test_small_blurred_ct_slices_are_read_as_slices():
    """Small blurred CT slices (development frames 6960007 and 6960002, balls 13-14 px) fall to 0.8
    of their peak at 0.65 of the radius, where a slice was looked for: they were read as
    projections, hip was judged on them and their voids sized as spheres. A slice's profile does
    not fall from its centre (at 0.4-0.6 of the radius: radiographs 0.85-0.95 of the centre,
    slices 0.99-1.23)."""
    for seed in (6960007, 6960002):
        f = generate_frame(seed, package="bga", shape=(1024, 1024), modality="ct")
        r = score_frame(f.image)
        assert r.sliced, seed


def test_ct_slice_voids_and_offsets_are_measured_as_a_slice():
    """In a slice a void is a hole through the solder: its area is the missing solder over the
    solder's level (not 1.5 x missing volume over depth, a sphere's projection), the joint's
    outline runs round a void at its rim (the opening for projections cut the ball there and its
    centroid moved: false misaligned calls), and the edge of a reconstructed disc stands higher
    than a dome's foot; each ball's solder level is its neighbours' (a large void pulled its own
    fit down). Development CT frames 6960005 and 6960007 (before: 15 and 7 false misaligned
    calls, 8 and 79 false void calls, void MAE 1.70 and 2.32 pp)."""
    for seed in (6960005, 6960007):
        f = generate_frame(seed, package="bga", shape=(1024, 1024), modality="ct")
        r = score_frame(f.image)
        t = Tally()
        t.add(f.truth, r)
        assert t.fp["misaligned"] <= 3, (seed, t.fp["misaligned"])
        # (the void calls left wrong are balls at the 25 % / 15 % limits, 1-9 either way)
        assert t.fp["void"] <= 10 and t.fn["void"] <= 6, (seed, t.fp["void"], t.fn["void"])
        assert np.mean(np.abs(t.void_err)) < 0.8, (seed, np.mean(np.abs(t.void_err)))
        assert t.det[2] <= 2 and t.det[1] == 0, t.det


def test_bga_beside_large_dense_parts_is_not_taken_for_a_qfn():
    """Two large dense blocks beside a BGA look like a lone QFN pad at the package check's coarse
    scale; with no pins around that "pad", the frame is scored as a BGA too and its lattice of
    ~700 balls wins (before: one QFN pad, every ball lost)."""
    f = generate_frame((5300001, 3), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    assert r.package == "bga" and r.n_sites > 500
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.summary()["detection_f1"] > 0.99


def test_small_bga_beside_dense_parts_is_not_a_pinless_qfn():
    """A 7 x 4 BGA of 68 px balls beside two large dense parts: the package check takes a part for
    a QFN pad, the QFN reading finds no pin, and the BGA lattice holds 28 sites, under the 30 a
    lattice needs beside a QFN reading with pins. A reading without any pin is no QFN: the small
    lattice wins (before: one "pad", all 27 balls lost, a failing board passed)."""
    f = generate_frame(6700066, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    assert r.package == "bga" and r.n_sites == 28
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.summary()["detection_f1"] > 0.95
    assert r.verdict == f.truth["frame_verdict"] == "fail"


@pytest.mark.parametrize("excess", [1.3, None])
def test_via_barrels_over_most_balls_do_not_set_the_ball_peak(excess, monkeypatch):
    """Development frame (6,770,000, 7), 2048 px: a 6 x 6 array of 110 px balls seen at 24.5
    degrees, the near-side via rings over the upper left of 24 of them. Those joints peak at
    2.3-2.7 (copper), the 10 clear balls at 1.1-1.2, so the median peak was copper's: the cap
    level was set by the rings, 22 balls were cut away for them and the frame was an error row
    (its lattice misfit). The typical ball peak is now read under the copper level where the
    median stands far above it (``bga.COPPER_MEDIAN_EXCESS``)."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "COPPER_MEDIAN_EXCESS", excess)
    f = generate_frame((6_770_000, 7), package="bga", shape=(2048, 2048))
    r = score_frame(f.image)
    if excess is None:
        assert r.status == "error"
        return
    assert r.status == "ok" and r.package == "bga"
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det[0] >= 35 and tal.det[1] == 0, tal.det
    assert tal.fp["misaligned"] == 0 and tal.fp["missing"] == 0


@pytest.mark.parametrize("one_sided_weak", [True, False])
def test_pins_on_one_side_of_a_cut_part_give_way_to_a_small_clean_lattice(one_sided_weak, monkeypatch):
    """Development frame (6,760,000, 56), 2048 px: a 4 x 4 BGA of 110 px balls (one missing, one
    bridged pair) beside a dense part cut by the frame's left edge. The package check took the part
    for a QFN pad and the QFN reading found eight "pins" along its inner side, none opposite; the
    clean 16-site lattice stood under the 30 sites needed beside a reading with pins, so the frame
    was a QFN (both bridges missed, 7 false). Pins on one side of the pad only now count as a
    doubtful reading (``pipeline.ONE_SIDED_PINS_WEAK``), as mostly missing ones did."""
    from xrayinspect import pipeline

    monkeypatch.setattr(pipeline, "ONE_SIDED_PINS_WEAK", one_sided_weak)
    f = generate_frame((6_760_000, 56), package="bga", shape=(2048, 2048))
    r = score_frame(f.image)
    if not one_sided_weak:
        assert r.package == "qfn"
        return
    assert r.package == "bga" and r.n_sites == 16
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det == [15, 0, 0], tal.det
    assert (tal.tp["bridge"], tal.fp["bridge"], tal.fn["bridge"]) == (2, 0, 0)
    assert (tal.tp["missing"], tal.fp["missing"], tal.fn["missing"]) == (1, 0, 0)


@pytest.mark.parametrize("index, n_balls", [(20, 20), (31, 124)])
def test_a_part_cut_by_the_frame_edge_does_not_make_a_bga_a_qfn(index, n_balls):
    """Zoomed 2048 px views (balls 70-100 px) beside a dense part cut by the frame's edge, which
    the coarse package check takes for a QFN pad. Frame 20: the QFN reading finds one "pin" and
    the 5 x 4 lattice (20 sites) stood under the 30 needed beside a reading with pins (before: 0
    of 20 balls found, a failing board passed). Frame 31: the QFN scorer settles on a "pad" in
    the middle of the balls, far from the cut part, and takes 18 balls round it for pins (before:
    18 of 127 balls judged)."""
    f = generate_frame((6990000, index), package="bga", shape=(2048, 2048), tilt_deg=0.0, export="png8")
    r = score_frame(f.image)
    assert r.package == "bga" and r.status == "ok"
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det[0] >= n_balls and tal.summary()["detection_f1"] > 0.95
    assert r.verdict == f.truth["frame_verdict"] == "fail"


def test_small_via_rings_between_balls_are_not_stray_solder():
    """An 8-bit frame whose dog-bone vias (dark rings with a 1-2 px hole) are as large as its balls:
    the smoothed map fills their holes, so they passed for round, solid stray balls (13 false
    "extra" calls); the unsmoothed map still shows each hole."""
    f = generate_frame(6700047, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.fp["extra"] <= 2
    assert tal.summary()["detection_f1"] > 0.995


def test_via_ring_on_a_ball_does_not_move_its_centre():
    """An oblique, tiled 8-bit frame (66 px pitch) where via barrels project onto 13 balls: each
    ring was cut out of its ball as a component of its own, and the ball's centroid moved 6-10 px
    away from it - 13 well-placed balls called misaligned. The ring lies on the ball and goes back
    to it; the truly misaligned balls stay called."""
    f = generate_frame(6700071, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.fp["misaligned"] <= 2
    assert tal.tp["misaligned"] >= 3 and tal.fn["misaligned"] == 0


def test_via_ring_at_a_ball_rim_is_cut_from_the_ball():
    """An oblique 8-bit frame (21 px pitch) where via rings sit at the rim of 11 balls: dense like
    the ball, each stayed in the ball's mask as a second lobe - the centroid moved 6 px towards it
    (misaligned) and its lighter hole read as a 27 % void. Cut to the typical ball's outline around
    the mask's largest inscribed circle, both false calls go."""
    f = generate_frame(6700070, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.fp["misaligned"] <= 2 and tal.tp["misaligned"] >= 4
    assert tal.fp["void"] <= 3


def test_grid_fit_of_degenerate_points_is_none_without_warnings():
    """Coincident centroids (a frame read in the wrong polarity found the same blob twice) have no
    lattice: the fit says so instead of casting NaN indices to int."""
    import warnings

    from xrayinspect.grid import fit_grid, lattice_orientation

    pts = np.array([[5.0, 5.0], [5.0, 5.0], [40.0, 5.0], [40.0, 5.0], [5.0, 5.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pitch, angle = lattice_orientation(pts)
        fit, idx = fit_grid(pts, shape=(64, 64))
    assert np.isfinite(pitch) and np.isfinite(angle)
    assert fit is None and (idx == -1).all()


@pytest.mark.parametrize("seed, what", [((5400000, 3), "3 x 3 windowed pad, one window lost to a void"),
                                        ((5400003, 1), "windowed pad"),
                                        ((5400002, 1), "8-bit export stitched from tiles with black bands")])
def test_auto_detection_finds_windowed_and_stitched_qfn(seed, what):
    """Without a recipe these development frames were read as BGAs: a windowed pad is several
    alike segments (no single blob dominates), and a stitching band, inverted, joined the pad to
    the frame's edge."""
    from xrayinspect.synth import generate_frame

    f = generate_frame(seed, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    assert r.package == "qfn", what
    assert sum(j.kind == "pad" for j in r.joints) == 1
    assert sum(j.kind == "pin" and "missing" not in j.defects for j in r.joints) >= 4


def _qfn_pad(seed):
    f = generate_frame(seed, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    truth = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    pads = [j for j in r.joints if j.kind == "pad"]
    assert r.package == "qfn" and len(pads) == 1
    return f, r, truth, pads[0]


def _qfn_with(monkeypatch, module, attr, value, seed):
    """A fresh 1024 px QFN development frame scored with ``module.attr`` set to ``value``:
    the frame, its result and its pad (None without one)."""
    monkeypatch.setattr(module, attr, value)
    f = generate_frame(seed, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    return f, r, next((j for j in r.joints if j.kind == "pad"), None)


def test_qfn_void_open_to_the_pad_edge_is_counted():
    """A void that reaches the pad's edge leaves a bay in the solder, not a hole; the pad's
    outline (its convex hull) still holds it (development frame: 21.3 % truth, read 1.4 % before)."""
    f, r, truth, pad = _qfn_pad((5050001, 4))
    assert truth["void_pct"] > 20
    assert abs(pad.void_pct - truth["void_pct"]) < 3.0


def test_qfn_channels_between_windows_are_not_voids():
    """A 2 x 2 windowed print whose windows a trace joins into one outline: the straight channels
    are not wettable area (development frame: read 18 pp high before)."""
    f, r, truth, pad = _qfn_pad((5400003, 6))
    assert truth.get("windowed")
    assert abs(pad.void_pct - truth["void_pct"]) < 4.0


def test_a_windowed_pad_is_outlined_whole():
    """The sidecar's pad outline (drawn by the overlay and the napari review) was the longest
    contour of the pad's solder: one window of a 2 x 2 print, a quarter of the pad. With several
    windows it is the hull round them all, which holds every window's solder."""
    r = score_file(Path(__file__).resolve().parents[1] / "sample_data" / "qfn_dark_16bit.tif")
    pad = next(j for j in r.joints if j.kind == "pad")
    outline = np.asarray(pad.contour, np.float32)
    assert len(outline) >= 4
    assert cv2.contourArea(outline) >= pad.area_px > 0


def test_qfn_windowed_pad_keeps_every_window():
    """A 3 x 3 print: the far corner windows are two windows from the largest; all nine belong to
    the pad (one was taken for a pin and called bridged before)."""
    f, r, truth, pad = _qfn_pad((5400000, 5))
    assert truth.get("windowed")
    assert 0.8 < pad.area_px / truth["area_px"] < 1.2
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["bridge"] == 0 and t.det[1] == 0 and t.det[2] == 0     # no window taken for a bridged pin


def test_zoomed_view_of_large_balls_is_scored():
    """A 6x6 BGA whose balls are about 90 px across in a 1024 px frame: the polarity vote's top-hats
    cut them into 34 px pieces, and at that size no whole ball passed as a joint (before: 0 joints,
    verdict pass). Every ball is found, the missing one is reported at its bare pad."""
    f = generate_frame((5600000, 13), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    s = tal.summary()
    assert s["detection_f1"] > 0.98, s
    missing = [t for t in f.truth["joints"] if "missing" in t["defects"]]
    assert missing
    for t in missing:
        assert any("missing" in j.defects and np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 10
                   for j in r.joints)
    assert r.verdict == f.truth["frame_verdict"]


@pytest.mark.parametrize("seed, before", [(6900156, "0 of 911, scored as a QFN that passed"),
                                          (6900198, "1 of 322")])
def test_typical_ball_peak_is_read_where_the_balls_are_most_numerous(seed, before):
    """Development frames where the 99.5th percentile is set by denser parts and the quarter of it
    that picks the typical ball peak missed the balls while looking sound: three large parts
    (compact blobs larger than a ball, taken for balls of a missed size) above 911 small balls; 60
    pieces of dense rings (joint-sized, compact) above the ball tops of a 20 x 20 array. A lower
    level holding far more compact joint-sized blobs now wins."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    tp, fp, fn = t.det
    assert r.package == "bga", (before, r.package)
    assert fn <= 0.01 * (tp + fn) and fp <= 2, (before, t.det)
    assert r.verdict == f.truth["frame_verdict"]


@pytest.mark.parametrize("seed", [6900034, 6950266])
def test_zoomed_balls_are_found_when_other_blobs_pass_for_joints(seed):
    """Zoomed BGAs whose balls are far larger than the size guess (development frames 6900034: a 6 x
    6 of 77 px balls, guess 20 px; 6950266: a 4 x 4 of 95 px balls, guess 26 px): three stray
    balls of about the guessed size, or 87 pieces of traces and wire bonds, passed as the joints,
    so the look at larger scales (made only when fewer than 3 joints were found) never ran; 3 of
    39 and 5 of 15 balls were found, on lattices of the wrong pitch. Solid discs too large for a
    joint that hold more solder than the joints found now send it there."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.det[2] == 0 and t.det[1] <= 1, t.det
    assert abs(r.pitch_px - f.truth["scene"]["pitch_px"]) < 0.02 * f.truth["scene"]["pitch_px"], r.pitch_px


def test_balls_under_a_via_barrel_are_balls():
    """An oblique view (33 degrees, development frame 6900160) where via barrels project across the
    tops of 38 balls: the barrel's copper set each ball's peak (2.4-2.8 x a ball's), the edge at a
    fraction of it cut the mask to half a ball, whose centre then stood under half that peak - a
    ring, not a ball. 215 of 253 balls were found."""
    f = generate_frame(6900160, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    tp, fp, fn = t.det
    assert fn <= 3 and fp <= 2, t.det


@pytest.mark.parametrize("seed", [5800098, 5800012])
def test_balls_beside_parts_far_denser_than_solder_are_found(seed):
    """Rings of a part five to six times denser than a ball (attenuation 5-6 against 0.9) set the
    99.5th percentile; the balls lay under the quarter of it that picks the typical ball peak,
    and the pieces of the rings became the "balls" (before: 0 of 63 and 4 of 75 balls found)."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    s = tal.summary()
    assert s["detection_f1"] > 0.95, s
    assert tal.fp["extra"] == 0 and tal.fp["bridge"] == 0
    assert r.verdict == f.truth["frame_verdict"]


def test_qfn_channels_through_rows_of_vias_are_not_voids():
    """A 3 x 3 print whose vias sit on the channels: a row of barrels is a third of a channel, which
    then fell short of the channel rule and was counted as void (development frame 5650000/8: read
    12.4 pp high before). The vias on the channels are still counted as vias."""
    f, r, truth, pad = _qfn_pad((5650000, 8))
    assert truth.get("windowed")
    assert abs(pad.void_pct - truth["void_pct"]) < 4.0
    assert pad.via_count >= 0.9 * truth["via_count"]


def test_qfn_pins_joined_to_the_pad_are_cut_off():
    """Pins printed up to the pad join it into one cross-shaped component: auto-detection read the
    frame as a BGA and, with a recipe, the pad swallowed all 16 pins (development frame 5650000/14)."""
    f = generate_frame((5650000, 14), package="qfn", shape=(1024, 1024))
    truth_pins = [t for t in f.truth["joints"] if t["kind"] == "pin"]
    truth_pad = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    for recipe in (None, parse_recipe(f.recipe)):
        r = score_frame(f.image, recipe=recipe)
        assert r.package == "qfn"
        pins = [j for j in r.joints if j.kind == "pin"]
        pad = next(j for j in r.joints if j.kind == "pad")
        assert len(pins) == len(truth_pins) == 16
        assert 0.85 < pad.area_px / truth_pad["area_px"] < 1.15
        assert abs(pad.void_pct - truth_pad["void_pct"]) < 2.0
        assert pad.via_count >= truth_pad["via_count"]


def test_qfn_pad_is_found_beside_darker_board_via_rings():
    """A JPEG frame whose darkest pixels are copper via barrels on the board: the solder level split
    them from everything else, and a pair of rings in a corner was taken for the pad (development
    frame 5400000/4: pad 47.7 % void, no pin, no via before)."""
    f, r, truth, pad = _qfn_pad((5400000, 4))
    assert abs(pad.void_pct - truth["void_pct"]) < 2.0
    assert 0.85 < pad.area_px / truth["area_px"] < 1.15
    assert pad.via_count >= truth["via_count"] == 25
    assert sum(j.kind == "pin" for j in r.joints) == sum(t["kind"] == "pin" for t in f.truth["joints"])


def test_hip_score_needs_a_taller_ball_not_only_a_smaller_one():
    """A ball that kept its solder but did not collapse is narrower and taller; a ball short of
    solder is narrower and no taller. Only the first scores above the hip threshold (the mean of
    the two z-scores had put the second at the threshold)."""
    from xrayinspect.bga import _hip_scores
    from xrayinspect.rules import HIP_THRESHOLD

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:12, 0:12]
    pts = np.column_stack([xx.ravel() * 20.0, yy.ravel() * 20.0])
    diam = 15.0 * (1 + rng.normal(0, 0.02, len(pts)))
    peak = 1.0 * (1 + rng.normal(0, 0.04, len(pts)))
    hip, short = 30, 100
    diam[hip], peak[hip] = 15.0 * 0.9, 1.22            # stood up: 10 % narrower, 22 % taller
    diam[short], peak[short] = 15.0 * 0.82, 1.04       # short of solder: 18 % narrower, no taller
    s = _hip_scores(diam, peak, pts, np.ones(len(pts), bool))
    assert s[hip] >= HIP_THRESHOLD
    assert s[short] < HIP_THRESHOLD
    assert 0.5 * (0.18 / 0.02 + 0.04 / 0.04) >= HIP_THRESHOLD      # the old mean would have called it
    others = np.delete(s, [hip, short])
    assert (others < HIP_THRESHOLD).all()


def _square_lattice(side, peak, peak_spread, *, seed):
    """A ``side`` x ``side`` lattice of 20 px balls at a 30 px pitch for ``_hip_scores``: the
    generator (for more draws), each ball's row, centres (px), diameters (0.5 % spread) and
    peaks (``peak`` with a relative spread of ``peak_spread``)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    pts = np.column_stack([xx.ravel() * 30.0, yy.ravel() * 30.0])
    diam = 20.0 * (1 + 0.005 * rng.standard_normal(len(pts)))
    peaks = peak * (1 + peak_spread * rng.standard_normal(len(pts)))
    return rng, yy.ravel(), pts, diam, peaks


def test_a_row_of_balls_a_faint_trace_lifts_is_not_head_in_pillow():
    """A trace too faint to take off (4 % of a ball's peak) lifts the dome fitted to the balls it
    crosses by 2-3 times its height, and no ball along it is narrower: in a clean frame that rise
    alone made a row of head-in-pillow calls (independent renderer, 8-bit). A ball the trace
    explains is judged by its narrowing alone; a head on the same trace, narrower and taller
    than the trace explains, is still called."""
    from xrayinspect.bga import HIP_TRACE_LIFT, _hip_scores
    from xrayinspect.rules import HIP_THRESHOLD

    rng, rows, pts, diam, peak = _square_lattice(10, 2.0, 0.005, seed=5)
    n = len(pts)
    row = np.flatnonzero(rows == 4)
    peak[row] *= 1.11                                # lifted 11 % by a trace of 4 %
    bump = np.zeros(n)
    bump[row] = 0.04
    head = row[6]
    diam[head] *= 0.92                               # a head on the trace: narrower, much taller
    peak[head] *= 1.25
    usable = np.ones(n, bool)
    before = _hip_scores(diam, peak, pts, usable)
    assert (before[np.setdiff1d(row, head)] >= HIP_THRESHOLD).all()
    after = _hip_scores(diam, peak, pts, usable, trace_bump=bump)
    assert (after[np.setdiff1d(row, head)] < HIP_THRESHOLD).all()
    assert after[head] >= HIP_THRESHOLD
    assert np.log(1.11) <= HIP_TRACE_LIFT * 0.04 < np.log(1.11 * 1.25)
    # with no trace reported the scores are as before
    assert np.array_equal(_hip_scores(diam, peak, pts, usable, trace_bump=np.zeros(n)), before)


def test_peaks_that_are_only_bounds_neither_speak_nor_serve_as_reference():
    """Where the window clipped most balls' tops, a ball fitted to the few pixels its clipped centre
    left reads far below the clipped level (a third of an independent-renderer frame's balls at
    0.7-1.4 against 2.05-2.09): as references they made their neighbours "taller", 11 false heads.
    Peaks marked as bounds are left out; a head among the known peaks is still called."""
    from xrayinspect.bga import _hip_scores
    from xrayinspect.rules import HIP_THRESHOLD

    rng, _, pts, diam, peak = _square_lattice(12, 2.07, 0.002, seed=7)
    n = len(pts)
    bound = rng.random(n) < 0.35
    peak[bound] = rng.uniform(0.7, 1.4, bound.sum())
    head = int(np.flatnonzero(~bound)[40])
    diam[head] *= 0.9
    peak[head] *= 1.3
    usable = np.ones(n, bool)
    before = _hip_scores(diam, peak, pts, usable, peaks_known=False)
    assert (before[~bound] >= HIP_THRESHOLD).sum() >= 10
    after = _hip_scores(diam, peak, pts, usable, peaks_known=False, peak_bound=bound)
    others = np.setdiff1d(np.arange(n), [head])
    assert (after[others] < HIP_THRESHOLD).all()
    assert after[head] >= HIP_THRESHOLD


@pytest.mark.parametrize("seed", [(5600000, 18), (6950000, 172)])
def test_bga_beside_a_dense_part_is_not_a_qfn_whose_pins_are_the_balls(seed):
    """(5600000, 18): an oblique BGA (34 degrees) beside a large dense part: the part looked like a
    pad and the 81 balls on its one side like pins, so the frame was scored as a QFN (173 balls
    lost). Pins stand on two opposite sides of their pad; these do not. (6950000, 172): a 29 x 30
    BGA (8-bit TIFF) whose upper rows merge into one dense area at the package check's coarse
    scale; that area was taken for a pad with 268 "pins" on one side, none opposite, and 11 and 2
    on the other two (394 of 671 balls lost). A QFN's pins flank its pad evenly. Both frames are
    scored as the BGAs they are."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    assert r.package == "bga"
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.summary()["detection_f1"] > 0.98


def test_pins_flank_pad_needs_two_opposite_sides():
    from xrayinspect.pipeline import pins_flank_pad
    from xrayinspect.results import JointResult

    pad = JointResult(joint_id=0, kind="pad", x_px=100.0, y_px=100.0)

    def pins(xy):
        return [JointResult(joint_id=i + 1, kind="pin", x_px=float(x), y_px=float(y)) for i, (x, y) in enumerate(xy)]

    four_sides = [(100 + dx, 100 + dy) for d in (-3, -1, 1, 3) for dx, dy in ((60, 10 * d), (-60, 10 * d),
                                                                            (10 * d, 60), (10 * d, -60))]
    son = [(100 + s * 60, 100 + 10 * d) for s in (-1, 1) for d in (-3, -1, 1, 3)]
    one_side = [(160 + 30 * i, 60 + 30 * k) for i in range(3) for k in range(3)]
    assert pins_flank_pad([pad] + pins(four_sides))
    assert pins_flank_pad([pad] + pins(son))
    assert pins_flank_pad([pad] + pins([(x - 100, y) for x, y in son]), angle_deg=0.0) is False
    assert not pins_flank_pad([pad] + pins(one_side))
    # a pad turned by 45 degrees: its sides are the diagonals
    turned = [(100 + s * 42 + 7 * d, 100 + s * 42 - 7 * d) for s in (-1, 1) for d in (-2, 2)]
    assert pins_flank_pad([pad] + pins(turned), angle_deg=45.0)
    assert not pins_flank_pad([pad])
    # as many on one side as on the other: a side half cut away still flanks, a
    # block of balls beside a "pad" with a few strays across it does not
    half = [(100 + 60, 100 + 10 * d) for d in (-3, -1, 1, 3)] + [(100 - 60, 100 + 10 * d) for d in (-3, 3)]
    assert pins_flank_pad([pad] + pins(half))
    lopsided = [(160 + 20 * i, 60 + 20 * k) for i in range(6) for k in range(5)] + [(40, 100), (40, 120)]
    assert not pins_flank_pad([pad] + pins(lopsided))
    assert pins_flank_pad([pad] + pins(lopsided), balance=0.0)


def test_a_qfn_reading_needs_its_pins_and_room_for_them():
    from xrayinspect.pipeline import box_edges_touched, pad_cut_by_frame, pins_mostly_missing
    from xrayinspect.results import JointResult

    pad = JointResult(joint_id=0, kind="pad", x_px=100.0, y_px=100.0)
    pins = [JointResult(joint_id=i + 1, kind="pin", x_px=40.0 + 10 * i, y_px=40.0,
                        defects=["missing"] if i < 3 else []) for i in range(8)]
    assert not pins_mostly_missing([pad] + pins)            # 3 of 8 missing: a QFN with lifted pins
    for j in pins[3:5]:
        j.defects = ["missing"]
    assert pins_mostly_missing([pad] + pins)                # 5 of 8: the pin model does not fit
    assert not pins_mostly_missing([pad])
    assert box_edges_touched((0.0, 0.0, 1024.0, 1024.0), (1024, 1024)) == 4
    assert box_edges_touched((0.0, 300.0, 400.0, 1024.0), (1024, 1024)) == 2
    assert box_edges_touched((300.0, 300.0, 600.0, 600.0), (1024, 1024)) == 0
    pad.contour = [[0.0, 350.0], [88.0, 350.0], [88.0, 1023.0], [0.0, 1023.0]]
    assert pad_cut_by_frame([pad], (1024, 1024))
    pad.contour = [[300.0, 300.0], [600.0, 300.0], [600.0, 600.0], [300.0, 600.0]]
    assert not pad_cut_by_frame([pad], (1024, 1024))


def test_local_contrast_exports_of_bgas_are_not_read_as_qfns():
    """A viewer's local contrast (CLAHE, 8 x 8 tiles) darkens a BGA's empty centre into a
    "pad" ringed by balls (the balls read as 405 pins and 16,846 missing ones), and turns a
    board strewn with dense rings into one frame-sized blob: both were scored as QFNs."""
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    f = generate_frame((6700000, 25), package="bga", shape=(1024, 1024))
    r = score_frame(clahe.apply(f.image))
    assert r.package == "bga"
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.summary()["detection_f1"] > 0.99, tal.det
    f = generate_frame((6700000, 1), package="bga", shape=(1024, 1024))
    r = score_frame(clahe.apply(f.image))
    assert r.package == "bga" and r.n_sites >= 16


def test_a_lattice_that_leaves_half_its_balls_off_their_sites_is_an_error_row():
    """CLAHE on a QFN frame whose package check saw no pad: the equalised board's noise fitted a
    lattice of 7.4 px pitch under 454 "balls", 97 of the 194 whole ones on its sites misaligned,
    and 135 false bridges were judged. Such a lattice is not the package's: an error row. A real
    array's misaligned balls are the odd few (the untreated BGA frame beside it scores)."""
    from xrayinspect.pipeline import lattice_misfits
    from xrayinspect.results import JointResult

    seated = [JointResult(0, kind="ball", grid_row=0, grid_col=c) for c in range(30)]
    for j in seated[:9]:
        j.defects = ["misaligned"]
    assert not lattice_misfits(seated)                    # 9 of 30: under 10 misaligned
    seated[9].defects = ["misaligned"]
    assert not lattice_misfits(seated)                    # 10 of 30: a third, not over it
    seated[10].defects = ["misaligned"]
    assert lattice_misfits(seated)
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    f = generate_frame((5950000, 28), package="qfn", shape=(1024, 1024))
    r = score_frame(clahe.apply(f.image))
    assert r.status == "error" and "pad grid does not fit" in r.error, (r.status, r.package, len(r.joints))
    f = generate_frame((6700000, 2), package="bga", shape=(1024, 1024))
    r, tal = _scored(f.truth, clahe.apply(f.image))
    assert r.status == "ok" and tal.summary()["detection_f1"] > 0.99


def test_a_qfn_reading_missing_most_of_its_pins_with_no_lattice_is_an_error_row():
    """3 % noise on a QFN frame: the pin model expected 271 pins and found 27 (the real ones
    among them 0), so its "pins" were called bridged; no ball lattice fits either. Neither
    reading is judged: the frame is an error row saying why. Untreated, it scores."""
    f = generate_frame((5950000, 18), package="qfn", shape=(1024, 1024))
    g = f.image.astype(np.float32)
    sd = 0.03 * float(np.percentile(g, 99) - np.percentile(g, 1))
    full = 255 if f.image.dtype == np.uint8 else 65535
    noisy = np.clip(np.rint(g + np.random.default_rng(0).normal(0, sd, g.shape)), 0, full).astype(f.image.dtype)
    r = score_frame(noisy)
    # (why: its pins mostly missing, or, since the noise inside the ring of pins counts with the
    # pad (qfn.PIN_RING_INTERIOR), its pad a speck of what the package check saw)
    assert r.status == "error" and "no package model fits" in r.error, r.error
    assert "pins its pin rows imply are missing" in r.error or "its pad covers" in r.error, r.error
    r = score_frame(f.image)
    assert r.status == "ok" and r.package == "qfn"
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.summary()["detection_f1"] > 0.98


def test_pin_bridges_are_read_above_the_floor_round_the_pins():
    """Under a viewer's local contrast (CLAHE) the package body round a QFN's pins stood above
    0.3 of the pad's level and joined every pin of a side: 16 false pin bridges in one frame.
    A sheet between pins must also stand 0.22 of the pad's level above that floor; the faint true
    bridge of an untreated frame (floor 0.10 of the level) is still found."""
    clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
    f = generate_frame((5950000, 16), package="qfn", shape=(1024, 1024))
    tal = Tally()
    tal.add(f.truth, score_frame(clahe.apply(f.image)))
    assert tal.fp["bridge"] == 0 and tal.summary()["detection_f1"] > 0.98, (tal.fp, tal.det)
    f = generate_frame((5950000, 20), package="qfn", shape=(1024, 1024))
    tal = Tally()
    tal.add(f.truth, score_frame(f.image))
    assert (tal.tp["bridge"], tal.fp["bridge"], tal.fn["bridge"]) == (2, 0, 0)


def _scored(truth, image):
    """``score_frame(image)`` and its tally against ``truth``."""
    r = score_frame(image)
    tal = Tally()
    tal.add(truth, r)
    return r, tal


def _unsharp(image, sigma):
    """A viewer's unsharp mask (amount 1) clipped to the frame's container."""
    f = image.astype(np.float32)
    full = np.iinfo(image.dtype).max
    return np.clip(np.rint(2 * f - cv2.GaussianBlur(f, (0, 0), sigma)), 0, full).astype(image.dtype)


@pytest.mark.parametrize("seed, sigma", [(25, 1.5), (1, 3.0), (28, 1.5)])
def test_a_sharpened_qfn_export_is_read_at_its_pad(seed, sigma):
    """Unsharp masks clip the cores of dense parts and via rings to the container's end. Left out
    as denser than solder, the rest of that dense end still set the level above the pad: (25) a
    part's box was the "pad" (1 joint of 45); (1, 3 px) the rings of many vias took it (read as a
    BGA); (28) the webs of a 3 x 3 print fell below the level and one window was the pad."""
    f = generate_frame((5950000, seed), package="qfn", shape=(1024, 1024))
    r, tal = _scored(f.truth, _unsharp(f.image, sigma))
    n_truth = sum(1 for j in f.truth["joints"] if j["kind"] in ("pad", "pin"))
    assert r.package == "qfn" and tal.det[0] >= n_truth - 1 and tal.det[1] == 0, (r.package, tal.det)
    assert abs(r.pad_void_pct - f.truth["pad_void_pct"]) < 3.0


def test_a_qfn_reading_on_a_speck_of_the_checked_pad_gives_way_to_the_lattice():
    """A 3 px unsharp mask on a tiled BGA export: the package check saw a pad, and the QFN scoring,
    once past the dense parts, settled on a bridge between two balls amid the array (0.004 of the
    checked square) with eleven balls round it for pins: 12 joints of 917. Such a pad is no reading."""
    from xrayinspect.pipeline import MIN_PAD_SHARE, pad_share_of_check
    from xrayinspect.results import JointResult

    assert pad_share_of_check([JointResult(0, kind="pad", area_px=40_000.0)], 250.0) == pytest.approx(0.64)
    assert pad_share_of_check([JointResult(0, kind="pin", area_px=900.0)], 250.0) == 0.0
    assert pad_share_of_check([JointResult(0, kind="pad", area_px=283.0)], 255.0) < MIN_PAD_SHARE
    f = generate_frame((6700000, 27), package="bga", shape=(1024, 1024))
    r, tal = _scored(f.truth, _unsharp(f.image, 3.0))
    assert r.package == "bga" and tal.det[0] > 700, (r.package, tal.det)   # 719 of 828 (a tile of 109 is lost)


def test_a_gamma_export_of_a_qfn_is_not_read_by_its_via_rings():
    """Windowed to 8 bits with gamma 0.5, the thermal vias' copper rings are the densest pixels, 1 %
    of the frame: the solder level split them from the rest, one ring was the "pad" and four specks
    its pins, and the pins read as a 25-site ball array. A level with under 1.5 % of the frame
    above it is chosen again below it, and that reading kept when its pins are pin-sized."""
    from xrayinspect.qfn import _pins_of_pin_size
    from xrayinspect.results import JointResult

    pad = JointResult(0, kind="pad", area_px=130_000.0)
    assert not _pins_of_pin_size([pad] + [JointResult(i, kind="pin", area_px=12.0) for i in range(1, 9)])
    assert _pins_of_pin_size([pad] + [JointResult(i, kind="pin", area_px=900.0) for i in range(1, 9)])
    f = generate_frame((5950000, 19), package="qfn", shape=(1024, 1024))
    g = f.image.astype(np.float32)
    lo, hi = np.percentile(g, [0.1, 99.9])
    img = np.rint(np.clip((g - lo) / (hi - lo), 0, 1) ** 0.5 * 255).astype(np.uint8)
    r, tal = _scored(f.truth, img)
    assert r.package == "qfn" and tal.det[1] == 0 and tal.det[2] <= 1, (r.package, tal.det)
    assert abs(r.pad_void_pct - f.truth["pad_void_pct"]) < 2.0


def test_balls_beside_dense_via_rings_are_found():
    """A JPEG frame where copper via barrels, 3.5x denser than a ball, sit against balls: blur joined
    each ring to its ball in one core whose peak (and so edge) was the ring's, and 28 balls were lost.
    Thin dense rings and lines are cut out of the cores; a ball's own dense top is not."""
    f = generate_frame((5600000, 0), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det[2] <= 2, tal.det
    assert tal.summary()["detection_f1"] > 0.995


def test_thin_lines_are_rings_and_lines_not_compact_tops():
    from xrayinspect.joints import _thin_lines

    m = np.zeros((80, 120), np.uint8)
    cv2.circle(m, (20, 20), 8, 1, 2)                 # a via barrel
    cv2.line(m, (40, 60), (110, 60), 1, 2)           # a trace
    cv2.circle(m, (80, 20), 2, 1, -1)                # the dense top of a ball: compact, 5 px across
    thin = _thin_lines(m).astype(bool)
    assert thin[12, 20] and thin[60, 75]
    assert not thin[20, 80]
    assert _thin_lines(np.zeros((10, 10), np.uint8)) is None


def test_bridge_between_balls_clipped_by_an_8_bit_window_is_found():
    """A windowed 8-bit TIFF clips the ball centres: their measured peaks stand at 1.5-1.7x the
    typical ball's, and the necks between them measured 0.085 of that (under the 0.12 rule). A
    clipped ball's peak counts no more than the typical ball's: the necks measure 0.13-0.18
    (before: 3 bridged pairs missed)."""
    f = generate_frame((5600000, 14), package="bga", shape=(1024, 1024))
    assert f.truth["export"] == "tiff8"
    r = score_frame(f.image)
    for x, y in ((223, 688), (308, 659), (788, 171)):
        near = [j for j in r.joints if np.hypot(j.x_px - x, j.y_px - y) < 15]
        assert len(near) == 2 and all("bridge" in j.defects for j in near), (x, y)


def test_bare_pad_of_a_missing_ball_in_a_clipped_8_bit_frame_is_found():
    """A JPEG export that clips ball centres inflates the typical ball peak (5.8 against 0.9-1.7
    unclipped), and the bare pad of a missing ball, 13 noise sigmas clear, measured 0.015 of it:
    under the 0.05 rule (before: not reported without a recipe). A trace's end on an empty site
    (development frame 5000005/3) lifts one side of the ring around it and is still no pad."""
    f = generate_frame((5600000, 10), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    assert any("missing" in j.defects and np.hypot(j.x_px - 601, j.y_px - 522) < 8 for j in r.joints)
    t = min((t for t in f.truth["joints"] if "missing" in t["defects"]),
            key=lambda t: np.hypot(t["x_px"] - 601, t["y_px"] - 522))
    assert np.hypot(t["x_px"] - 601, t["y_px"] - 522) < 3
    g = generate_frame((5000005, 3), package="bga", shape=(1024, 1024))
    rg = score_frame(g.image)
    assert not any("missing" in j.defects and np.hypot(j.x_px - 411, j.y_px - 436) < 10 for j in rg.joints)


def test_no_structure_error_names_the_file_like_the_readers_errors(tmp_path):
    """The reader's errors name the file; so does "no solder-like structure" when there is one
    (it named the frame before)."""
    import tifffile

    sub = tmp_path / "line3"
    sub.mkdir()
    path = sub / "noise.tif"
    tifffile.imwrite(path, np.random.default_rng(5).normal(1000, 30, (256, 256)).astype(np.uint16))
    r = score_file(path, frame="noise.tif")
    assert r.status == "error" and "no solder-like structure" in r.error
    assert r.error.startswith(str(path) + ":"), r.error


@pytest.mark.parametrize("seed, tol", [((5050001, 7), 3.0), ((5400000, 5), 8.0)])
def test_qfn_window_lost_to_its_voids_is_still_pad(seed, tol):
    """A window of a printed pad so voided that its solder is a thin remnant was left out of the
    pad, and its void with it (development frames: -14.8 and -17.5 pp before). Its cell of the
    window lattice, where some solder remains, is wettable pad."""
    f, r, truth, pad = _qfn_pad(seed)
    assert truth.get("windowed")
    assert abs(pad.void_pct - truth["void_pct"]) < tol
    assert 0.85 < pad.area_px / truth["area_px"] < 1.15


def test_qfn_void_at_a_pad_corner_is_counted_whole():
    """A void at a corner of the pad leaves a bite that the pad's hull cut diagonally, so part of
    the void was outside the pad (development frame 5650000/10: read 3.0 pp low before). The
    corners of a segment that fills its rectangle are pad."""
    f, r, truth, pad = _qfn_pad((5650000, 10))
    assert abs(pad.void_pct - truth["void_pct"]) < 1.5


def test_wide_neck_that_pulls_the_centroids_together_is_still_a_bridge():
    """Two seated balls joined by a wide neck (development frame 5800006, sites (24, 18)-(24, 19),
    pitch 19 px): the neck's pixels pulled both centroids 1-2 px into the gap, the pair measured
    closer than a seated pair can be, and was taken for two balls pushed together, not bridged."""
    f = generate_frame(5800006, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    for t in f.truth["joints"]:
        if (t["grid_row"], t["grid_col"]) in ((24, 18), (24, 19)):
            assert "bridge" in t["defects"]
            j = min(r.joints, key=lambda j: np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]))
            assert np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 3
            assert "bridge" in j.defects and "misaligned" not in j.defects, j.defects


def test_frame_where_no_joint_is_found_is_an_error_not_a_pass():
    """Structure but no joint (here: a frame of only large rings, far wider than any ball) gave
    verdict pass with 0 joints: a board nobody judged passed. It is an error row with a reason."""
    img = np.full((512, 512), 50000, np.uint16)
    rng = np.random.default_rng(3)
    for cx, cy, rad in [(130, 130, 90), (380, 140, 80), (250, 380, 100)]:
        cv2.circle(img, (cx, cy), rad, 8000, 6)
    img = (img + rng.normal(0, 300, img.shape)).clip(0, 65535).astype(np.uint16)
    r = score_frame(img, frame="rings.tif")
    assert r.status == "error" and r.verdict == "error", (r.status, len(r.joints))
    assert "no solder joint found" in r.error and "rings.tif" in r.error
    assert "\n" not in r.error


@pytest.mark.parametrize("text", ["XR", "XRAY"])
def test_blobs_that_fit_no_pad_grid_are_an_error_not_a_pass(text):
    """White letters on black (a logo, a label photographed by mistake) were scored as a BGA
    of 8-16 balls with 0 grid sites; "XRAY" PASSED. With no lattice no site can be checked
    for a missing, misaligned or extra ball: the frame is an error row with a reason."""
    img = np.zeros((400, 600), np.uint8)
    cv2.putText(img, text, (20, 240), cv2.FONT_HERSHEY_SIMPLEX, 4, 255, 5)
    r = score_frame(img, frame="label.png")
    assert r.status == "error" and r.verdict == "error", (r.status, r.package, len(r.joints))
    assert "no pad grid" in r.error and "label.png" in r.error and "\n" not in r.error


def test_qfn_pin_crossed_by_a_ring_is_found():
    """The ring of a part beside the package lies across one pin (development frame 5810018): pin
    and ring were one component with a hole, rejected as a via ring, and the pin was reported
    missing on a board that passes."""
    f = generate_frame(5810018, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.det[2] == 0 and not any("missing" in j.defects for j in r.joints)
    assert r.verdict == "pass" == f.truth["frame_verdict"]


def test_qfn_corner_pins_of_a_turned_package_stay_on_their_side():
    """A package turned by 6.4 degrees (development frame 5810056): a corner pin of the top row lay
    past the 45-degree line from the pad's centre, was counted on the left side, and the gap it
    left in that side's spacing was reported as a missing pin."""
    f = generate_frame(5810056, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    assert abs(r.angle_deg - f.truth["scene"]["angle_deg"]) < 1.0
    assert not any("missing" in j.defects for j in r.joints)
    assert r.verdict == "pass" == f.truth["frame_verdict"]


def test_trace_along_a_column_of_balls_is_not_a_bridge():
    """A blurred copper trace running along the last column of a 36 x 36 BGA (development frame
    5800006, pitch 19 px) stood at 0.12-0.13 of the balls' peak across each gap, over the old 0.12
    bridge rule: 4 balls were called bridged. The 12 truly bridged balls are still found."""
    f = generate_frame(5800006, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["bridge"] == 0, t.fp["bridge"]
    assert t.tp["bridge"] == 12 and t.fn["bridge"] == 0


def test_zoomed_balls_larger_than_the_size_guess_keep_their_own_peak():
    """A zoomed 8 x 8 BGA whose balls (about 70 px) are far larger than the polarity vote's size
    guess (21 px, development frame 5840001): no joint-sized blob stands above a quarter of the
    99.5th percentile, but whole balls do. That is a missed size, not a part denser than solder:
    a lower level (tried for those) took junk for balls and lost 6 of 63."""
    f = generate_frame(5840001, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.det[2] == 0 and t.det[1] <= 1, t.det


@pytest.mark.parametrize("seed", [5800016, 5800087])
def test_stray_ball_among_the_skirts_of_its_neighbours_is_extra(seed):
    """A stray ball a quarter to a third of a ball's size, between four balls (development frames
    5800016 and 5800087): its mask, grown to a fraction of its own faint peak, ran out into the
    skirts of the balls around it, the mask's centroid lay 2-3 px off its peak and its outline was
    ragged, and the stray-ball rules (centre at the peak, round) turned it away. They now read its
    dense top."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fn["extra"] == 0 and t.fp["extra"] == 0, (t.tp["extra"], t.fp["extra"], t.fn["extra"])
    assert t.tp["extra"] >= 1


def test_pieces_of_a_large_ring_are_not_stray_solder():
    """Rings of a part beside the package (development frame 5800124) are cut into short arcs by
    the joint cores. An arc's dense top is round enough and peaks at its centre; what tells it
    from a stray ball is that its arms run on beyond that top, as dense. Read on the dense top
    without that test, 22 arcs were called extra solder."""
    f = generate_frame(5800124, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["extra"] == 0, t.fp["extra"]


def _missing_hits(f, r):
    """(found, false, missed) missing sites of one frame, matched by position as Tally does."""
    t = Tally()
    t.add(f.truth, r)
    return t.tp["missing"], t.fp["missing"], t.fn["missing"]


def test_bare_pad_of_a_missing_corner_ball_is_found_without_a_recipe():
    """A missing corner ball of a 7 x 7 BGA in an 8-bit export (development frame 5800139): with
    no recipe only its bare pad says a ball belongs there. The pad stood 7 noise sigmas clear of
    its ring, but at 0.014 of a ball peak that the clipped export inflated, under both the
    fraction rule and the old 10-sigma rule."""
    f = generate_frame(5800139, package="bga", shape=(1024, 1024))
    assert _missing_hits(f, score_frame(f.image)) == (1, 0, 0)


@pytest.mark.parametrize("band_share", [None, 0.5])
def test_bare_pad_of_a_missing_ball_under_a_stitching_band_is_found(band_share, monkeypatch):
    """Development frame (6,760,000, 45), 2048 px, a tiled JPEG export: a stitching band runs
    across the lower third of a missing ball's bare pad at (497, 1052). The pad was read only
    when clear of bands, and the missing ball was not called without a recipe. It is read on the
    part 2 px or more clear of the band's seam when that is half the disc or more
    (``bga.GHOST_BAND_SHARE``); no other call moves."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "GHOST_BAND_SHARE", band_share)
    f = generate_frame((6_760_000, 45), package="bga", shape=(2048, 2048))
    t = [t for t in f.truth["joints"] if "missing" in t["defects"] and np.hypot(t["x_px"] - 497, t["y_px"] - 1052) < 5]
    assert len(t) == 1
    r = score_frame(f.image)
    called = [j for j in r.joints if "missing" in j.defects and np.hypot(j.x_px - t[0]["x_px"], j.y_px - t[0]["y_px"]) < 5]
    assert len(called) == (0 if band_share is None else 1)
    assert _missing_hits(f, r)[1] == 0


@pytest.mark.parametrize("edge_share", [None, 0.45])
def test_bare_pad_of_a_missing_ball_cut_by_the_frame_edge_is_found(edge_share, monkeypatch):
    """Simulator frame (6,700,000, 101): the missing corner ball (0, 26) of a 29 x 27 array sits at
    x = 1022.6 px, on the last column of a 1024 px frame; half its bare pad is in the frame. The
    pad is read on the part of its disc and ring inside the frame (`bga.GHOST_EDGE_SHARE`; before:
    a site was read only when its whole ring lay in the frame, and this one was not called)."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "GHOST_EDGE_SHARE", edge_share)
    f = generate_frame((6700000, 101), package="bga", shape=(1024, 1024))
    t = [t for t in f.truth["joints"] if "missing" in t["defects"] and t["x_px"] > 1000]
    assert len(t) == 1 and (t[0]["grid_row"], t[0]["grid_col"]) == (0, 26)
    r = score_frame(f.image)
    called = [j for j in r.joints if "missing" in j.defects and np.hypot(j.x_px - t[0]["x_px"], j.y_px - t[0]["y_px"]) < 5]
    assert len(called) == (0 if edge_share is None else 1)
    assert _missing_hits(f, r)[1] == 0


@pytest.mark.parametrize("taken_share", [None, 0.25])
def test_bare_pad_of_a_missing_ball_beside_a_via_ring_is_found(taken_share, monkeypatch):
    """Simulator frame (6,880,000, 5), 2048 px, no recipe: the missing corner ball (29, 0) leaves
    its bare pad, but a via ring's wall reaches a few pixels into the site's centre disc. Any
    joint pixel there took the site (`bga.GHOST_TAKEN_SHARE` None) and the ball was not called;
    now the pad is read on the free pixels unless joints cover a quarter of the disc."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "GHOST_TAKEN_SHARE", taken_share)
    f = generate_frame((6880000, 5), package="bga", shape=(2048, 2048))
    t = [t for t in f.truth["joints"] if "missing" in t["defects"] and (t["grid_row"], t["grid_col"]) == (29, 0)]
    assert len(t) == 1
    r = score_frame(f.image)
    called = [j for j in r.joints if "missing" in j.defects and np.hypot(j.x_px - t[0]["x_px"], j.y_px - t[0]["y_px"]) < 5]
    assert len(called) == (0 if taken_share is None else 1)
    assert _missing_hits(f, r)[1] == 0


@pytest.mark.parametrize("seed,site", [((6700000, 133), (10, 37)), ((6700000, 168), (9, 31))])
@pytest.mark.parametrize("share", [None, 0.5])
def test_a_missing_ball_in_a_column_the_frame_edge_cuts_is_found(seed, site, share, monkeypatch):
    """Simulator frames whose last column of balls the frame's right edge cuts by 1-2 px: without a
    recipe the lattice spanned whole balls only, so that column had no sites, its cut balls no
    grid position, and its missing ball was never looked for. The column is the package's when
    cut joints stand on half its sites or more (`grid.EDGE_LINE_SHARE`)."""
    from xrayinspect import grid

    monkeypatch.setattr(grid, "EDGE_LINE_SHARE", share)
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    t = next(t for t in f.truth["joints"] if "missing" in t["defects"] and t["x_px"] > 1010)
    assert (t["grid_row"], t["grid_col"]) == site
    r = score_frame(f.image)
    called = [j for j in r.joints if "missing" in j.defects and np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 5]
    cut = [j for j in r.joints if j.partial and j.x_px > t["x_px"] - 5]
    assert len(cut) >= 10
    if share is None:
        assert not called and all(j.grid_col < 0 for j in cut)
        return
    assert len(called) == 1 and (called[0].grid_row, called[0].grid_col) == site
    # the cut balls of that column now stand on its sites (those whose site's centre is in the frame)
    assert sum(j.grid_col == site[1] for j in cut) >= 0.6 * len(cut)
    assert all(j.grid_col in (site[1], -1) for j in cut)
    assert _missing_hits(f, r)[1:] == (0, 0)


@pytest.mark.parametrize("seed,site", [((6700000, 133), (10, 37)), ((6700000, 56), (0, 0))])
@pytest.mark.parametrize("on", [False, True])
def test_with_a_recipe_a_missing_ball_the_frame_edge_cuts_is_called(seed, site, on, monkeypatch):
    """With a recipe, an expected site was judged only a whole ball radius inside the frame: the
    missing ball (10, 37) of (6,700,000, 133), its site 6 px from the right edge, and the missing
    corner ball (0, 0) of (6,700,000, 56), 20 px from the left edge under 96 px balls, were not
    called. Sites are now judged as without a recipe, their centre a quarter radius inside
    (`grid.RECIPE_EDGE_SITES`)."""
    from xrayinspect import grid
    from xrayinspect.recipe import parse_recipe

    monkeypatch.setattr(grid, "RECIPE_EDGE_SITES", on)
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    t = next(t for t in f.truth["joints"] if (t["grid_row"], t["grid_col"]) == site)
    assert t["defects"] == ["missing"]
    r = score_frame(f.image, recipe=parse_recipe(f.recipe))
    called = [j for j in r.joints if "missing" in j.defects and np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 5]
    assert len(called) == int(on)
    assert _missing_hits(f, r) == (sum("missing" in t["defects"] for t in f.truth["joints"]) - (not on), 0, int(not on))


def test_trace_ending_on_an_empty_site_is_not_a_bare_pad():
    """A copper trace that ends on an empty lattice site (development frame 5840088) stands 9
    sigmas over its ring by the medians; it lifts one sector of the ring, which a bare pad does
    not: the disc stands below the ring's 95th percentile. No missing ball is called there."""
    f = generate_frame(5840088, package="bga", shape=(1024, 1024))
    assert _missing_hits(f, score_frame(f.image)) == (1, 0, 0)


def test_traces_across_a_depopulated_centre_are_not_bare_pads():
    """Copper traces run across the empty centre of a BGA (development frame 5840013). Where one
    crosses a lattice site it is a disc above its surroundings by the medians (6-9 noise sigmas,
    over 0.05 of a ball's peak), and 5 missing balls were called. A bare pad stands over the
    densest part of its ring; a trace is as dense where it crosses the ring."""
    f = generate_frame(5840013, package="bga", shape=(1024, 1024))
    assert _missing_hits(f, score_frame(f.image)) == (0, 0, 0)


def test_sparse_outer_column_of_rings_is_not_part_of_the_lattice():
    """With no recipe the lattice's extent is where its points are. Seven blobs two pitches left
    of a 20 x 20 array (via rings beside a package) lie near lattice positions; they made a
    sparse outer column whose members were called misaligned balls. A 4 x 4 array whose top row
    keeps one ball of four keeps that row."""
    from xrayinspect.grid import fit_grid

    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[0:20, 0:20]
    pts = np.stack([100 + 30 * cc.ravel(), 100 + 30 * rr.ravel()], 1).astype(float)
    junk = np.stack([np.full(7, 40.0), 100 + 30 * np.array([1, 4, 8, 11, 13, 16, 19])], 1)
    junk[:, 0] += rng.uniform(-6, 6, 7)
    fit, idx = fit_grid(np.vstack([pts, junk]), shape=(800, 800), radius_px=8.0)
    assert (fit.rows, fit.cols) == (20, 20), (fit.rows, fit.cols)
    assert (idx[-7:] == -1).all()
    assert (idx[:-7] >= 0).all()

    rr, cc = np.mgrid[0:4, 0:4]
    small = np.stack([200 + 100 * cc.ravel(), 200 + 100 * rr.ravel()], 1).astype(float)
    small = small[[3] + list(range(4, 16))]          # the top row keeps only its last ball
    fit, idx = fit_grid(small, shape=(800, 800), radius_px=20.0)
    assert (fit.rows, fit.cols) == (4, 4) and (idx >= 0).all()


@pytest.mark.parametrize("weight", [6, None])
def test_recipe_places_a_cut_array_past_blobs_beyond_its_grid(weight, monkeypatch):
    """A 12 x 12 recipe grid with a 4 x 4 depopulated centre, its first four rows above the frame's
    top edge, and two blobs on the lattice two rows below the array (parts or strays). The blobs
    stretched the seen part to 10 rows, which left one placement in the recipe: the array two
    rows off, its hole two rows up and the two rows under the array expected (development frame
    6,740,000+172 with its recipe: 84 false missing sites, 33 x 33 balls). Balls outside the
    grid now count against a placement (``grid.OUTSIDE_WEIGHT``); the blobs are left out of the grid."""
    from xrayinspect import grid

    monkeypatch.setattr(grid, "OUTSIDE_WEIGHT", weight)
    rows = cols = 12
    depop = [(r, c) for r in range(4, 8) for c in range(4, 8)]
    pitch, top = 30.0, -4
    sites = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in depop]
    xy = {rc: (100 + pitch * rc[1], 20 + pitch * (rc[0] + top)) for rc in sites}
    seen = [rc for rc in sites if xy[rc][1] >= 8]
    pts = np.array([xy[rc] for rc in seen] + [(100 + pitch * 3, 20 + pitch * (13 + top)),
                                             (100 + pitch * 9, 20 + pitch * (13 + top))], float)
    fit, idx = grid.fit_grid(pts, shape=(400, 500), rows=rows, cols=cols, depopulated=depop, radius_px=8.0)
    got = {tuple(i) for i in idx[:-2]}
    empty = fit.expected - got
    if weight is None:
        assert empty, "the old placement left no site empty: the test does not reproduce the miss"
        return
    assert got == set(seen), sorted(got ^ set(seen))[:6]
    assert not empty, sorted(empty)
    assert (idx[-2:] == -1).all()


@pytest.mark.parametrize("index, old_false", [(172, 82), (115, 18)])
def test_recipe_placement_of_an_array_cut_by_the_frame(index, old_false, monkeypatch):
    """Development frames (6,740,000, 172) (33 x 33 with a 14 x 14 depopulated centre, its top rows
    above the frame) and (6,740,000, 115) (27 x 23, cut by the edge), scored with their own
    recipes: blobs on the lattice beyond the array stretched the seen part and the one placement
    left was off by rows; without a recipe both frames were right. Checked with the old rule off
    (``grid.OUTSIDE_WEIGHT`` None) as well, so the frames still show the miss."""
    from xrayinspect import grid
    from xrayinspect.recipe import parse_recipe
    from xrayinspect.synth import dict_to_toml

    f = generate_frame((6_740_000, index), package="bga", shape=(1024, 1024))
    recipe = parse_recipe(dict_to_toml(f.recipe))
    assert _missing_hits(f, score_frame(f.image, recipe=recipe))[1:] == (0, 0)
    monkeypatch.setattr(grid, "OUTSIDE_WEIGHT", None)
    assert _missing_hits(f, score_frame(f.image, recipe=recipe))[1] == old_false


@pytest.mark.parametrize("seed, n_misaligned", [(5840060, 6), (5800189, 0)])
def test_via_rings_beside_the_array_are_not_misaligned_balls(seed, n_misaligned):
    """Via rings a pitch or more beside a BGA (development frames 5840060, 30 x 29, and 5800189,
    35 x 35, where the rings' columns run mostly out of the frame and only one of them is on the
    lattice's points) extended the fitted lattice by sparse columns; 4 and 3 rings were called
    misaligned balls."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert t.fp["misaligned"] == 0 and t.det[1] == 0, (t.fp["misaligned"], t.det)
    assert t.tp["misaligned"] == n_misaligned


@pytest.mark.parametrize("seed, n_missing", [(5800164, 1), (5840245, 4)])
def test_bare_pads_clear_of_most_of_their_ring_are_missing_balls(seed, n_missing):
    """Bare pads of missing balls stand 2.1-7.2 noise sigmas over their ring's 95th percentile,
    a trace that ends on an empty site -0.8. Development frames 5800164 (an 8-bit export: a pad
    6 sigmas clear by the medians, 0.016 of an inflated ball peak) and 5840245 (pads 10 sigmas
    clear by the medians, 3.5 over the 95th percentile) find every missing ball."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    assert _missing_hits(f, score_frame(f.image)) == (n_missing, 0, 0)


@pytest.mark.parametrize("seed", [5810044, 5810007])
def test_qfn_windows_are_cells_of_one_rectangle(seed):
    """A printed pad's windows are the cells of one rectangle less its channels. Large voids that
    cross into a channel opened each window's outline, and were left out of the pad with their
    voids (development frame 5810044: 28.9 % truth, read 12.4 % before). Lands joined to the
    windows beyond that rectangle are not pad (5810007: a row of pins was pad, 1.11x its area)."""
    f, r, truth, pad = _qfn_pad(seed)
    assert truth.get("windowed")
    assert abs(pad.void_pct - truth["void_pct"]) < 3.0
    assert 0.9 < pad.area_px / truth["area_px"] < 1.1


def test_qfn_wide_channels_of_a_small_pad_are_not_voids():
    """A stencil's channels are 0.2 mm whatever the pad: on a 1.43 mm pad they are 0.14 of its side,
    wider than a channel was allowed to be, and counted as voids (development frame 5810034:
    16.9 % truth, read 35.0 % before)."""
    f, r, truth, pad = _qfn_pad(5810034)
    assert abs(pad.void_pct - truth["void_pct"]) < 4.0
    assert 0.9 < pad.area_px / truth["area_px"] < 1.1


def test_qfn_voids_over_a_pad_corner_are_counted():
    """Two large voids over a plain pad's corner bite it deeper than its hull closes (frame
    5860004: 27.6 % truth, read 2.9 % before). The pad is its rectangle, each side where most rows
    of solder end; the blurred rim along the rectangle's edge is not void unless a void inside
    reaches it."""
    f, r, truth, pad = _qfn_pad(5860004)
    assert not truth.get("windowed")
    assert abs(pad.void_pct - truth["void_pct"]) < 7.0
    assert 0.9 < pad.area_px / truth["area_px"] < 1.1


@pytest.mark.parametrize("i", [12, 7])
def test_qfn_pad_rectangle_ignores_pin_tips_and_pins_joined_to_it(i):
    """The pad's rectangle is not stretched by what touches it: pin tips cut off the pad in
    diamonds (frame (5870000, 12): the rectangle was 1.16x the pad) or a column of pins joined to
    a window (frame (5870000, 7): 1.22x, 21 % void read against 1.5 %)."""
    f = generate_frame((5870000, i), package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    truth = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    pad = next(j for j in r.joints if j.kind == "pad")
    assert 0.95 < pad.area_px / truth["area_px"] < 1.05
    assert abs(pad.void_pct - truth["void_pct"]) < 2.0


def test_qfn_pad_edge_bitten_by_large_voids_stays_the_edge():
    """Two large voids across a pad's edge take more than half of its last rows of solder; the edge
    is still where most rows end (development frame 5810021: 20.6 % truth)."""
    f, r, truth, pad = _qfn_pad(5810021)
    assert 0.95 < pad.area_px / truth["area_px"] < 1.05
    assert abs(pad.void_pct - truth["void_pct"]) < 3.0


def test_qfn_channel_with_darkened_sides_is_channel_to_its_edges():
    """A channel's sides carry traces, vias and the windows' blurred edges, so only its middle is
    solder-free along the whole pad; it is still channel out to the windows (development frame
    5810026: a 50 px channel was found 23 px wide and its sides read as voids, 16.9 % against
    4.2 %, the pad 1.24x its windows' area)."""
    f, r, truth, pad = _qfn_pad(5810026)
    assert truth.get("windowed")
    assert 0.95 < pad.area_px / truth["area_px"] < 1.05
    assert abs(pad.void_pct - truth["void_pct"]) < 2.5


@pytest.mark.parametrize("seed", [5810000, 5860006, 5810021, 5810007])
def test_qfn_pin_with_no_solder_is_missing(seed):
    """A pin land with no solder is its copper lead alone, about 0.5-0.6 of its neighbours' peak
    attenuation: it is reported ``missing`` where it lies, and no soldered pin is (development
    frames; the simulator's truth lists the bare land as a missing pin). At the end of a side
    (5810021, 5810007: too faint to be segmented, and no gap in the side's spacing) its place is
    the one the opposite side has a pin at."""
    f = generate_frame(seed, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    bare = [t for t in f.truth["joints"] if t["kind"] == "pin" and "missing" in t["defects"]]
    assert len(bare) == 1
    called = [j for j in r.joints if j.kind == "pin" and "missing" in j.defects]
    assert len(called) == 1
    assert np.hypot(called[0].x_px - bare[0]["x_px"], called[0].y_px - bare[0]["y_px"]) < 5


@pytest.mark.parametrize("seed", [5810011, 5860057])
def test_windowed_qfn_is_told_from_a_bga(seed):
    """A printed pad's windows beside large pins (5810011: 2 x 2 windows, 6.9x a pin together) or
    with windows joined by a trace (5860057: 3 x 3 windows, five of them one segment) were read as
    a BGA: no pad, every pin lost."""
    f = generate_frame(seed, package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    assert r.package == "qfn"
    truth = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    pad = next(j for j in r.joints if j.kind == "pad")
    # 5810011 reads 16.4 % against 21.0 % since the illumination field is divided
    # out (17.96 % before, 2026-12-04; its pad outline moved by 2 % of its area)
    assert abs(pad.void_pct - truth["void_pct"]) < 5.0


def test_bin_frame_is_the_mean_of_each_block():
    from xrayinspect.preprocess import bin_frame

    img = np.arange(7 * 9, dtype=np.uint16).reshape(7, 9)
    out = bin_frame(img, 2)
    assert out.shape == (3, 4) and out.dtype == np.float32
    # rows and columns past the last whole block are dropped
    assert out[1, 2] == img[2:4, 4:6].mean()
    assert out[2, 3] == img[4:6, 6:8].mean()
    assert np.array_equal(bin_frame(img, 1), img.astype(np.float32))


def test_pad_binning_keeps_the_pad_at_its_scoring_scale():
    from xrayinspect.qfn import PAD_SCORING_SIDE_PX, pad_binning

    assert pad_binning(0.0) == 1 and pad_binning(float("nan")) == 1
    assert pad_binning(PAD_SCORING_SIDE_PX - 1) == 1
    assert pad_binning(2.3 * PAD_SCORING_SIDE_PX) == 2
    for side in (350.0, 702.0, 1500.0):
        assert side / pad_binning(side) >= PAD_SCORING_SIDE_PX
    # a 2048 px frame is binned at most 2x, whatever the package check took for the pad
    assert pad_binning(1500.0, (2048, 2048)) == 2
    assert pad_binning(702.0, (1024, 1024)) == 1


def test_qfn_2048_frame_is_scored_binned_and_mapped_back():
    """A 2048 px frame holds a pad ~700 px across: it is scored on a 2x binned copy (the scale the
    QFN rules were built at). Unbinned, the px-sized rules read this frame's solder mask noise as 50
    false pins, all "bridged"; binned, every pin is found where it is, in frame px, and the pad's
    area and void % match the truth."""
    from xrayinspect.evaluation import match

    f = generate_frame((5920000, 14), package="qfn", shape=(2048, 2048))
    r = score_frame(f.image, keep_masks=True)
    assert r.package == "qfn"
    assert r.masks["labels"].shape == f.image.shape
    tpad = next(t for t in f.truth["joints"] if t["kind"] == "pad")
    pad = next(j for j in r.joints if j.kind == "pad")
    assert abs(pad.void_pct - tpad["void_pct"]) < 1.5
    assert abs(pad.area_px / tpad["area_px"] - 1) < 0.03
    assert np.hypot(pad.x_px - tpad["x_px"], pad.y_px - tpad["y_px"]) < 2.0
    tpins = [t for t in f.truth["joints"] if t["kind"] == "pin"]
    pins = [j for j in r.joints if j.kind == "pin"]
    pairs, t_left, r_left = match(tpins, pins)
    assert len(pairs) == len([t for t in tpins if "missing" not in t["defects"]])
    assert not [i for i in r_left if i not in {b for _, b in pairs}]
    err = [np.hypot(tpins[a]["x_px"] - pins[b].x_px, tpins[a]["y_px"] - pins[b].y_px) for a, b in pairs]
    assert np.median(err) < 1.5
    for a, b in pairs:
        assert ("bridge" in tpins[a]["defects"]) == ("bridge" in pins[b].defects)
        assert abs(pins[b].area_px / tpins[a]["area_px"] - 1) < 0.1


def test_fill_holes_matches_scipy():
    from scipy import ndimage as ndi

    from xrayinspect.measure import fill_holes

    rng = np.random.default_rng(7)
    for _ in range(200):
        m = rng.random((int(rng.integers(1, 50)), int(rng.integers(1, 50)))) < rng.uniform(0.3, 0.8)
        assert np.array_equal(fill_holes(m), ndi.binary_fill_holes(m))
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7] = True
    ring[4, 4] = False
    assert fill_holes(ring)[4, 4] and not fill_holes(ring)[0, 0]


def _dome_ball(size=61, r=25.0):
    """Attenuation of one ball (a dome of peak 1) and its label image."""
    yy, xx = np.mgrid[:size, :size].astype(float)
    c = (size - 1) / 2
    rr = np.hypot(xx - c, yy - c) / r
    att = np.where(rr < 1, np.sqrt(np.clip(1 - rr ** 2, 0, 1)), 0.0).astype(np.float32)
    return att, (rr < 1).astype(np.int32), xx - c, yy - c


def test_round_void_is_kept_and_a_non_convex_shortfall_is_not():
    from xrayinspect.voids import ball_voids

    att, lab, dx, dy = _dome_ball()
    round_void = att.copy()
    round_void[np.hypot(dx - 9, dy + 6) < 7] *= 0.4
    v = ball_voids(round_void, lab, 1, fit_gamma=False)
    assert v.void_count[1] == 1 and 5 < v.void_pct[1] < 11     # truth: 49 pi / 1963 = 7.8 %
    # an L of missing solder (what a bridge neck or an offset head leaves
    # against the dome) is as large, but no bubble projects that way
    ell = att.copy()
    ell[((dx > -12) & (dx < 10) & (dy > 2) & (dy < 8)) | ((dx > -12) & (dx < -6) & (dy > -14) & (dy < 8))] *= 0.4
    v = ball_voids(ell, lab, 1, fit_gamma=False)
    assert v.void_count[1] == 0 and v.void_pct[1] == 0


def test_head_in_pillow_and_bridged_balls_are_not_given_false_voids():
    # oblique frames with head-in-pillow balls (6700041, 6700005) and a bridged
    # pair at 19 px pitch (6700017): the dome model does not hold there and the
    # shortfall is a half-moon or an L, not a bubble. 8 false void calls on
    # such balls before non-convex voids were dropped, 4 after
    false_calls = 0
    for seed in (6700041, 6700005, 6700017):
        f = generate_frame(seed, package="bga", shape=(1024, 1024))
        r = score_frame(f.image)
        tj = [t for t in f.truth["joints"] if t["kind"] == "ball"]
        from xrayinspect.evaluation import match

        for a, b in match(tj, r.joints)[0]:
            t, j = tj[a], r.joints[b]
            if {"hip", "bridge"} & set(t["defects"]) and "void" not in t["defects"] and "void" in j.defects:
                false_calls += 1
    assert false_calls <= 5


def _near(joints, x, y, dist):
    return [j for j in joints if np.hypot(j.x_px - x, j.y_px - y) < dist]


@pytest.mark.parametrize("seed", [(6700000, 1), (6950000, 63)])
def test_faint_blob_on_an_empty_site_is_a_missing_ball(seed):
    """The site of a missing ball shows its bare pad, and traces cross it: a blob at 0.3-0.45 of a
    ball's peak and under a third of its area. That is not a ball: the site is reported missing
    (before: a misaligned ball, and no missing call)."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    pitch = f.truth["scene"]["pitch_px"]
    (t,) = [t for t in f.truth["joints"] if "missing" in t["defects"]]
    near = _near(r.joints, t["x_px"], t["y_px"], 0.35 * pitch)
    assert any("missing" in j.defects for j in near)
    assert not any("misaligned" in j.defects for j in near)


@pytest.mark.parametrize("seed", [(6700000, 67), (6700000, 124)])
def test_a_lone_empty_site_beside_a_bridged_pair_is_missing(seed):
    """Zoomed frames (142-155 px pitch, no recipe): the missing ball's site is a lone hole, but
    when the lattice was fitted a bridged pair still lay in one mask, or a ball sat off its site,
    and their sites counted empty: the hole had two or three empty neighbours (before: not called
    missing, in either frame). Holes are looked for again once the balls are split and assigned;
    no other site is called missing."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    pitch = f.truth["scene"]["pitch_px"]
    (t,) = [t for t in f.truth["joints"] if "missing" in t["defects"]]
    called = [j for j in r.joints if "missing" in j.defects]
    assert len(called) == 1
    assert np.hypot(called[0].x_px - t["x_px"], called[0].y_px - t["y_px"]) < 0.35 * pitch


@pytest.mark.parametrize("seed", [(6700000, 95), (6700000, 72)])
def test_stray_ball_lying_in_a_via_ring_is_extra(seed):
    """Stray balls lying in dog-bone via rings (three in one frame, two in the other): the copper
    ring, denser than the ball, lifts the ball's top and its surroundings past the stray-ball
    tests (before: none found). Every one is extra, no empty ring is, and the bridge beside the
    rings in (6700000, 72) is still a bridge (its gap's lanes cross the rings)."""
    from xrayinspect.evaluation import match

    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    extra = [t for t in f.truth["joints"] if "extra" in t["defects"]]
    called = [j for j in r.joints if "extra" in j.defects]
    assert len(extra) >= 2
    for t in extra:
        assert _near(called, t["x_px"], t["y_px"], max(0.5 * t["diameter_px"], 3.0)), (t["x_px"], t["y_px"])
    assert all(any(np.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 5 for t in extra) for j in called)
    tj = f.truth["joints"]
    pairs, _, _ = match(tj, r.joints)
    assert all(("bridge" in tj[a]["defects"]) == ("bridge" in r.joints[b].defects) for a, b in pairs)


def test_missing_ball_at_the_frame_edge_is_found():
    """A missing site whose centre is 7 px inside the frame's top edge, its row's other balls cut by
    the edge: the cut balls around it count as its neighbours, and it is missing (before: not
    judged); no other site is called missing falsely."""
    f = generate_frame((6700000, 83), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    pitch = f.truth["scene"]["pitch_px"]
    truth = [(t["x_px"], t["y_px"]) for t in f.truth["joints"] if "missing" in t["defects"]]
    called = [j for j in r.joints if "missing" in j.defects]
    edge = min(truth, key=lambda p: p[1])
    assert edge[1] < 10
    assert _near(called, *edge, 0.35 * pitch)
    assert all(any(np.hypot(j.x_px - x, j.y_px - y) < 0.35 * pitch for x, y in truth) for j in called)


@pytest.mark.parametrize("seed", [(6700000, 51), (6700000, 149)])
def test_trace_across_a_gap_is_not_a_bridge(seed):
    """Traces crossing the gaps between neighbouring balls lift the gap's saddle like a neck, but run
    on past the balls (before: 2 and 4 false bridges); each frame's 12 true bridges are still
    found."""
    from xrayinspect.evaluation import match

    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tj = f.truth["joints"]
    pairs, _, _ = match(tj, r.joints)
    fp = [(tj[a]["x_px"], tj[a]["y_px"]) for a, b in pairs
          if "bridge" in r.joints[b].defects and "bridge" not in tj[a]["defects"]]
    tp = sum("bridge" in r.joints[b].defects and "bridge" in tj[a]["defects"] for a, b in pairs)
    assert not fp, fp
    assert tp >= 11


def test_missing_ball_beside_a_stitching_band_is_found_by_its_bare_pad():
    """A tiled composite (8-bit): a missing ball's site beside a stitching band, its ring partly in
    the band. The bare pad is read against the valid part of its ring (before: not judged, as
    every site whose window touched a band); every missing site is found, none falsely."""
    f = generate_frame((6700000, 64), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    pitch = f.truth["scene"]["pitch_px"]
    truth = [(t["x_px"], t["y_px"]) for t in f.truth["joints"] if "missing" in t["defects"]]
    called = [j for j in r.joints if "missing" in j.defects]
    beside = min(truth, key=lambda p: np.hypot(p[0] - 581, p[1] - 836))
    assert np.hypot(beside[0] - 581, beside[1] - 836) < 3
    assert all(_near(called, x, y, 0.35 * pitch) for x, y in truth)
    assert all(any(np.hypot(j.x_px - x, j.y_px - y) < 0.35 * pitch for x, y in truth) for j in called)



def _ring_with_ball(cx, ball=True, shape=(80, 80)):
    """A dense via ring (3 x a ball's peak) centred at (cx, 40) px, a stray ball's dome in its hole."""
    from xrayinspect.joints import JointMasks

    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    r = np.hypot(xx - cx, yy - 40)
    att = np.where((r >= 8) & (r <= 12), 3.0, 0.0)
    if ball:
        d = np.hypot(xx - cx - 1, yy - 39)
        att += 0.4 * np.sqrt(np.clip(1 - (d / 6.5) ** 2, 0, None))
    att = cv2.GaussianBlur(att.astype(np.float32), (0, 0), 0.8)
    labels = (att >= 0.3 * att.max()).astype(np.int32)
    ys, xs = np.nonzero(labels)
    one = lambda v: np.array([0.0, v])
    masks = JointMasks(labels=labels, n=1, area_px=one(ys.size), cx=one(xs.mean()), cy=one(ys.mean()),
                       peak=one(float(att.max())), bbox=np.array([[0, 0, 0, 0],
                                                                  [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]),
                       touches_edge=np.zeros(2, bool), bridged_with=[set(), set()])
    return masks, att


@pytest.mark.parametrize("cx,ball,found", [(40, True, True), (40, False, False), (6, True, False)])
def test_a_ball_is_read_in_a_whole_via_ring_only(cx, ball, found):
    """The ball in a dense ring's hole (bga._ball_in_ring) on drawn arrays: found in a whole ring, not
    in an empty one, and not in a ring cut by the frame's edge, whose hole opens onto the edge (the
    hole was the part of the box not flooded from its corner: a ring touching the box's border
    closed the border off, and the cut ring's inside read as a hole)."""
    from xrayinspect.bga import _ball_in_ring

    masks, att = _ring_with_ball(cx, ball)
    out = _ball_in_ring(masks, att, 1, 1.0, np.zeros(2, bool))
    assert (out is not None) == found
    if found:
        assert np.hypot(out[0] - cx - 1, out[1] - 39) < 1.5


def _ring_arcs_with_ball(split, ball=True):
    """A via ring as dense as a ball (1.0) centred at (40, 40) px, a stray ball's dome (0.4) in its hole,
    labelled with the ball; with ``split`` its right arc is a second joint. The ring's joint carries the
    ball's top as its peak, as the segmentation gives it (thin copper is left out of a joint's peak)."""
    from xrayinspect.joints import JointMasks

    yy, xx = np.mgrid[0:80, 0:80].astype(float)
    r = np.hypot(xx - 40, yy - 40)
    att = np.where((r >= 8) & (r <= 12), 1.0, 0.0)
    if ball:
        att += 0.4 * np.sqrt(np.clip(1 - (np.hypot(xx - 41, yy - 39) / 6.5) ** 2, 0, None))
    att = cv2.GaussianBlur(att.astype(np.float32), (0, 0), 0.8)
    labels = (att >= 0.1 * att.max()).astype(np.int32)
    if split:
        labels[(labels > 0) & (xx > 49)] = 2
    n = int(labels.max())
    z = np.zeros(n + 1)
    masks = JointMasks(labels=labels, n=n, area_px=z.copy(), cx=z.copy(), cy=z.copy(), peak=z.copy(),
                       bbox=np.zeros((n + 1, 4), int), touches_edge=np.zeros(n + 1, bool),
                       bridged_with=[set() for _ in range(n + 1)])
    for k in range(1, n + 1):
        ys, xs = np.nonzero(labels == k)
        masks.area_px[k], masks.cx[k], masks.cy[k] = ys.size, xs.mean(), ys.mean()
        masks.bbox[k] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        masks.peak[k] = 0.4 if k == 1 else float(att[labels == k].max())
    return masks, att


@pytest.mark.parametrize("split,ball", [(False, True), (True, True), (False, False), (True, False)])
def test_a_ball_is_read_in_a_ring_as_dense_as_a_ball_and_in_a_ring_cut_into_arcs(split, ball, monkeypatch):
    """A stray ball in the hole of a via ring only as dense as a ball, the ring's joint carrying the
    ball's top as its peak: at 0.3 of that peak the ball is part of the ring and no hole is left (None
    before, development frame (6,700,000, 4)); at half the ring's own top it stands below the wall. A
    ring the segmentation cut into two arcs is whole again with the other arc (development frame
    (6,700,000, 62)), which is reported as copper. An empty ring holds no ball either way."""
    from xrayinspect import bga

    masks, att = _ring_arcs_with_ball(split, ball)
    out = bga._ball_in_ring(masks, att, 1, 1.0, np.zeros(masks.n + 1, bool))
    assert (out is not None) == ball
    if ball:
        assert np.hypot(out[0] - 41, out[1] - 39) < 1.5
        assert 3.5 < out[2] < 6.5                      # the ball's seen top, px
        assert out[4].tolist() == ([2] if split else [])
        monkeypatch.setattr(bga, "RING_LEVEL_HIGH", None)
        assert bga._ball_in_ring(masks, att, 1, 1.0, np.zeros(masks.n + 1, bool)) is None


@pytest.mark.parametrize("seed,extras", [((6950000, 176), 3), ((6700000, 28), 1), ((6700000, 185), 2),
                                         ((6950000, 204), 0), ((6700000, 4), 2),
                                         ((6700000, 62), 1)])
def test_stray_ball_in_the_hole_of_a_dense_via_ring_is_extra(seed, extras):
    """A stray ball a third of a ball across lying in the hole of a via ring three times denser
    than a ball: the ring is the joint, and every stray-ball test reads the ring (before: 0 of 2
    found in (6950000, 176), 0 of 1 in (6700000, 28), 1 of 2 in (6700000, 185)). The ball lifts
    the board inside the hole. Not taken for one: the via's own pad seen through the hole as a
    crescent (four rings of (6700000, 185)), and a ring lying on a ball, whose edge shows through
    it ((6950000, 204))."""
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = Tally()
    t.add(f.truth, r)
    assert (t.tp["extra"], t.fp["extra"]) == (extras, 0), (t.tp["extra"], t.fp["extra"], t.fn["extra"])


def test_stray_solder_carries_no_void_outlines():
    """Stray solder is judged by being there, its voids are not measured (void % 0): the sidecar
    and overlay carry no void outline for it either (before: the gap between a stray ball and the
    via ring it lies in was outlined as a void of it, (6700000, 95))."""
    f = generate_frame((6700000, 95), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    extra = [j for j in r.joints if "extra" in j.defects]
    assert len(extra) >= 3
    assert all(j.void_contours == [] and j.void_pct == 0 for j in extra)
    assert any(j.void_contours for j in r.joints if "extra" not in j.defects)


def test_a_narrow_round_ball_is_head_in_pillow_when_the_export_hid_the_heights():
    """Where the window clipped every ball's top, a round head's peak (fitted from the flanks
    below the cut) reads low and cancelled its narrowing; the narrowing now counts alone, at
    0.8 weight, for balls as round as their neighbours and clear of bands with no image."""
    from xrayinspect.bga import _hip_scores
    from xrayinspect.rules import HIP_THRESHOLD

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:7, 0:7]
    pts = np.stack([xx.ravel(), yy.ravel()], 1) * 30.0
    n = len(pts)
    diam = 20.0 * (1 + 0.01 * rng.standard_normal(n))
    peak = 2.0 * (1 + 0.01 * rng.standard_normal(n))
    circ = np.full(n, 0.97)
    usable = np.ones(n, bool)
    k = 24                                           # the centre ball: 8 % narrower, peak 3 % low
    diam[k] *= 0.92
    peak[k] *= 0.97
    assert _hip_scores(diam, peak, pts, usable)[k] < 0
    hidden = _hip_scores(diam, peak, pts, usable, peaks_known=False, circ=circ)
    assert hidden[k] >= HIP_THRESHOLD
    assert np.sum(hidden >= HIP_THRESHOLD) == 1
    less_round = circ.copy()
    less_round[k] = 0.92                             # narrowed by something else: not round
    assert _hip_scores(diam, peak, pts, usable, peaks_known=False, circ=less_round)[k] < HIP_THRESHOLD
    band = np.zeros(n, bool)
    band[k] = True
    assert _hip_scores(diam, peak, pts, usable, peaks_known=False, circ=circ,
                       beside_band=band)[k] < HIP_THRESHOLD


def test_a_small_clean_lattice_stands_in_for_a_qfn_reading_missing_its_pins(tmp_path):
    """A 6 x 4 BGA of 90 px balls in a 2048 px JPEG beside a dense part cut by the frame's edge:
    the package check took the part for a pad, the QFN reading missed 67 of its 72 "pins", and
    the ball lattice (24 sites) was under the 30 sites asked of a lattice standing in for a QFN
    reading: an error row. A lattice whose sites nearly all hold a seated, aligned ball stands."""
    from xrayinspect.io import write_frame
    from xrayinspect.pipeline import lattice_is_clean
    from xrayinspect.results import JointResult

    seated = [JointResult(0, kind="ball", grid_row=0, grid_col=c, circularity=0.92) for c in range(20)]
    assert lattice_is_clean(seated, {"n_sites": 24})          # 20 of 24 sites
    pins = [JointResult(0, kind="ball", grid_row=0, grid_col=c, circularity=0.67) for c in range(20)]
    assert not lattice_is_clean(pins, {"n_sites": 24})        # a noisy QFN's pins on a ring of sites
    assert not lattice_is_clean(seated[:19], {"n_sites": 24}) # 19 of 24: under 0.8
    for j in seated[:2]:
        j.defects = ["misaligned"]
    assert lattice_is_clean(seated, {"n_sites": 24})          # 2 of 20 misaligned
    seated[2].defects = ["misaligned"]
    assert not lattice_is_clean(seated, {"n_sites": 24})
    f = generate_frame((6720000, 5), package="bga", shape=(2048, 2048))
    path = tmp_path / "f.jpg"
    write_frame(path, f.image, pixel_size_um=f.truth["pixel_size_um"], bits_used=f.truth["detector"]["bits_used"])
    r = score_file(path)
    assert r.status == "ok" and r.package == "bga" and r.n_sites == 24, (r.status, r.error)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det[1] == 0 and tal.det[2] == 0, tal.det
    assert (tal.tp["missing"], tal.fp["missing"], tal.fn["missing"]) == (1, 0, 0)


@pytest.mark.parametrize("clear_gap", [0.02, None])
def test_saddles_of_an_oblique_fine_pitch_are_judged_above_the_typical_gap(clear_gap, monkeypatch):
    """Fresh development frame (6,750,000, 95), 1024 px: a 39 x 39 array at a 19 px pitch seen at
    45 degrees. Each ball is drawn as an ellipse across the gap along the tilt, whose blurred
    flanks overlap: the median gap on that axis stands at 0.054 of the balls' peak (0.017 at most
    in 198 other frames), and a faint trace across such a gap lifted it over the bridge level (24
    false bridged balls; 14 with the slanted crossing lanes alone). The excess of the axis's typical gap over a clear gap is now taken off
    each saddle (``bga.CLEAR_GAP_LEVEL``)."""
    from xrayinspect import bga

    monkeypatch.setattr(bga, "CLEAR_GAP_LEVEL", clear_gap)
    f = generate_frame((6_750_000, 95), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det[0] > 1300
    if clear_gap is None:
        assert tal.fp["bridge"] >= 10, tal.fp["bridge"]
        return
    assert tal.fp["bridge"] <= 2 and tal.fn["bridge"] == 0 and tal.tp["bridge"] >= 24, \
        (tal.tp["bridge"], tal.fp["bridge"], tal.fn["bridge"])


@pytest.mark.parametrize("angles", [(0.0,), None])
def test_a_trace_crossing_gaps_slantwise_is_not_a_bridge(angles, monkeypatch):
    """Fresh development frame (6,750,000, 139), 1024 px JPEG at a 19 px pitch: two balls whose gap
    a trace crosses slantwise were called bridged; the trace leaves a lane square to the pair
    within a few px. Lanes turned up to 45 degrees from square (``bga.CROSSING_ANGLES_DEG``)
    follow it; the frame's 16 true bridged balls are kept."""
    from xrayinspect import bga

    if angles is not None:
        monkeypatch.setattr(bga, "CROSSING_ANGLES_DEG", angles)
    f = generate_frame((6_750_000, 139), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.tp["bridge"] == 16 and tal.fn["bridge"] == 0
    assert tal.fp["bridge"] == (2 if angles == (0.0,) else 0), tal.fp["bridge"]


@pytest.mark.parametrize("covered_occupied, as_judged, false_missing",
                         [(True, True, 0), (True, False, 0), (False, True, 0), (False, False, 9)])
def test_recipe_placement_counts_a_site_under_rings_as_occupied(covered_occupied, as_judged, false_missing,
                                                                 monkeypatch):
    """Fresh development frame (6,750,000, 196), a 9 x 8 array of 100 px balls seen at 42.6 degrees
    in a PNG-8, scored with its recipe: its last column lies under a column of large via rings, so
    only 9 x 7 balls are seen, and the seen part was placed one column over, the empty board
    beside the array read as 9 missing sites. A site with a blob's mask within a ball's radius of
    its centre now counts as occupied in the placement (``grid.COVERED_OCCUPIED``); the placement
    seeing sites as they are judged (``grid.PLACE_AS_JUDGED``, the empty column's centres inside
    the frame but within a ball's radius of its edge) places it right as well."""
    from xrayinspect import grid
    from xrayinspect.recipe import parse_recipe
    from xrayinspect.synth import dict_to_toml

    monkeypatch.setattr(grid, "COVERED_OCCUPIED", covered_occupied)
    monkeypatch.setattr(grid, "PLACE_AS_JUDGED", as_judged)
    f = generate_frame((6_750_000, 196), package="bga", shape=(1024, 1024))
    recipe = parse_recipe(dict_to_toml(f.recipe))
    assert _missing_hits(f, score_frame(f.image, recipe=recipe))[1] == false_missing



@pytest.mark.parametrize("as_judged, false_missing", [(True, 0), (False, 7)])
def test_recipe_placement_sees_sites_as_they_are_judged(as_judged, false_missing, monkeypatch):
    """Fresh development frame (6,790,000, 103), an 8 x 8 array of 74 px balls at a 127 px pitch
    cut by the frame's right edge, scored with its recipe: the seen part is 7 x 7. The column
    beyond either side of it lay under a whole ball's radius from the edge, so the placement saw
    neither; the two placements tied and the larger shift won, which put the array's first
    column on the bare board 23 px inside the frame - a column then judged (its centres in the
    frame) and read as 7 missing sites. The placement now sees a site on the terms it is judged
    on (``grid.PLACE_AS_JUDGED``)."""
    from xrayinspect import grid
    from xrayinspect.recipe import parse_recipe
    from xrayinspect.synth import dict_to_toml

    monkeypatch.setattr(grid, "PLACE_AS_JUDGED", as_judged)
    f = generate_frame((6_790_000, 103), package="bga", shape=(1024, 1024))
    recipe = parse_recipe(dict_to_toml(f.recipe))
    r = score_frame(f.image, recipe=recipe)
    assert _missing_hits(f, r)[1] == false_missing
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.det[0] >= 46


@pytest.mark.parametrize("outline_angle", [True, False])
@pytest.mark.parametrize("index", [7, 27])
def test_pins_joined_to_a_square_pad_do_not_turn_it_to_a_diamond(outline_angle, index, monkeypatch):
    """Fresh QFN development frames (5,970,000, 7) and (27), 1024 px: zoomed 3-pin-a-side QFNs
    (136 and 95 px pitch) whose pins touch the pad. Pad and pins make a cross, whose smallest
    rectangle stood at 41-49 degrees from the pad's sides: the pins were cut off with a square
    turned that far, the pad read as a diamond over their inner halves, no pin was left and both
    frames were error rows. The pad's sides are now read from its outline's edges where the two
    disagree (``qfn.OUTLINE_ANGLE``)."""
    from xrayinspect import qfn

    monkeypatch.setattr(qfn, "OUTLINE_ANGLE", outline_angle)
    f = generate_frame((5_970_000, index), package="qfn", shape=(1024, 1024))
    r = score_frame(f.image)
    if not outline_angle and index == 27:
        assert r.status == "error"
        return
    # (frame 7 no longer needs the outline's angle: a via-ring cluster at the frame's corner,
    # counted with its pad's segments, had turned their rectangle too; qfn.PIN_SIZED leaves it
    # out. The cluster had also lifted the pad's level: the pad reads 3.1 pp low without it)
    assert r.status == "ok" and r.package == "qfn"
    pins = [j for j in r.joints if j.kind == "pin" and "missing" not in j.defects]
    truth_pins = [t for t in f.truth["joints"] if t["kind"] == "pin" and "missing" not in t["defects"]]
    assert len(pins) == len(truth_pins) >= 11
    pad = [j for j in r.joints if j.kind == "pad"][0]
    truth_pad = [t for t in f.truth["joints"] if t["kind"] == "pad"][0]
    assert abs(pad.void_pct - truth_pad["void_pct"]) < 3.5
    assert abs(pad.via_count - truth_pad["via_count"]) <= 1


@pytest.mark.parametrize("open_depth", [0.4, None])
def test_a_deep_round_void_with_a_one_pixel_spur_is_kept(open_depth, monkeypatch):
    """Fresh development frame (6,790,000, 92), 1024 px 16-bit: a ball 14.5 px across holds a
    central void of 27 % of its area (31 % in all), 0.6 of the ball's peak deep. Its grown outline
    caught a spur one pixel wide along the rim's own shortfall, its solidity fell to 0.75 and the
    non-convex test (made for shallow departures from the dome: a bridge's neck side, an
    oblique pillow) dropped it: read 3.4 %. A void this deep inside the ball has its outline
    opened by a 3 x 3 cross before the test (``voids.NONCONVEX_OPEN_DEPTH``). Since voids are
    seeded at 0.10 of the peak (2026-12-06 night) the outline grows without that spur and the
    ball reads right with the rule off too: the rule-off arm reads the frame with seeds at 0.15,
    where the spur was found."""
    from xrayinspect import voids

    monkeypatch.setattr(voids, "NONCONVEX_OPEN_DEPTH", open_depth)
    if open_depth is None:
        monkeypatch.setattr(voids, "SEED_FRACTION", 0.15)
    f = generate_frame((6_790_000, 92), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    t = min((t for t in f.truth["joints"] if t["kind"] == "ball"),
            key=lambda t: np.hypot(t["x_px"] - 468, t["y_px"] - 251))
    assert t["largest_void_pct"] > 25 and "void" in t["defects"]
    (j,) = _near(r.joints, t["x_px"], t["y_px"], 2.0)
    if open_depth is None:
        assert j.largest_void_pct < 5 and "void" not in j.defects, j.largest_void_pct
        return
    assert j.largest_void_pct > 20 and "void" in j.defects, (j.void_pct, j.largest_void_pct)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.fp["void"] == 0, tal.fp["void"]


@pytest.mark.parametrize("small", [(1.4, 0.08), None])
def test_voids_are_read_in_balls_cut_free_of_a_joined_via_ring(small, monkeypatch):
    """Fresh development frame (6,790,000, 71), 1024 px 16-bit PNG seen at 20 degrees: a via ring
    lies against the rim of many of its 15 px balls. The ring adds 0.13-0.27 of a ball's area to
    its mask and moves the centroid 0.7-1.7 px, under the share of a radius at which a mask is cut
    to the ball's outline; the dome read about that centroid left the junction short and 13 balls
    with no void (or a few %) read 25-34 %. Voids are now measured in the balls cut closer
    (``bga.APPENDAGE_SMALL``); the joints themselves are left as they were. With voids seeded at
    0.10 of the peak (2026-12-06 night) the rule off leaves 2-3 false calls here, not 13: the
    rule-off arm reads the frame with seeds at 0.15, where the rule was found."""
    from xrayinspect import bga, voids

    monkeypatch.setattr(bga, "APPENDAGE_SMALL", small)
    if small is None:
        monkeypatch.setattr(voids, "SEED_FRACTION", 0.15)
    f = generate_frame((6_790_000, 71), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    tal = Tally()
    tal.add(f.truth, r)
    assert tal.tp["void"] >= 9 and tal.fn["void"] <= 3
    if small is None:
        assert tal.fp["void"] >= 10, tal.fp["void"]
    else:
        assert tal.fp["void"] <= 2, tal.fp["void"]


@pytest.mark.parametrize("dominant", [(0.25, 5.0), None])
def test_a_zoomed_three_pin_qfn_whose_pins_are_the_median_blob_is_a_qfn(dominant, monkeypatch):
    """Fresh QFN development frame (5,980,000, 5), 1024 px: a printed pad (windows and channels)
    163 px a pin pitch, 3 pins a side, each pin an eighth of the pad. At the coarse package check
    the 12 pins are the median blob and the pad, 7.8 times it, failed "ten times the median"
    though it held a third of all the blobs' area: read as a BGA, an error row ("no pad grid").
    A pad holding a quarter of all the blobs' area needs only five times the median
    (``qfn.PAD_DOMINANT``)."""
    from xrayinspect import qfn

    f, r, pad = _qfn_with(monkeypatch, qfn, "PAD_DOMINANT", dominant, (5_980_000, 5))
    if dominant is None:
        assert r.status == "error", r.status
        return
    assert r.status == "ok" and r.package == "qfn"
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) < 3.0, (pad.void_pct, f.truth["pad_void_pct"])
    assert sum(j.kind == "pin" for j in r.joints) == 12
    assert r.verdict == f.truth["frame_verdict"]


@pytest.mark.parametrize("speck", [3, None])
def test_a_noisy_qfn_with_a_printed_pad_is_a_qfn(speck, monkeypatch):
    """QFN development frame (5,950,000, 5), PNG-16, a 3 x 3 printed pad and 6 pins a side, with
    noise of 3 % of its grey range added (`docs/robustness_qfn.md`'s `noise` row). At the coarse
    package check the noise left 65 specks of one or two coarse pixels among the 38 blobs: the
    median blob fell from a pin (349 coarse px) to 2, every pin counted as one of the pad's
    windows, no pad was seen and the frame was read as a BGA - an error row, "no pad grid".
    Specks under 3 coarse px are left out of the check's statistics (``qfn.COARSE_SPECK_PX``)."""
    from xrayinspect import qfn

    monkeypatch.setattr(qfn, "COARSE_SPECK_PX", speck)
    f = generate_frame((5_950_000, 5), package="qfn", shape=(1024, 1024))
    img = f.image.astype(np.float32)
    sd = 0.03 * float(np.percentile(img, 99) - np.percentile(img, 1))
    img += np.random.default_rng(0).normal(0, sd, img.shape).astype(np.float32)
    noisy = np.clip(np.rint(img), 0, 65535).astype(np.uint16)
    assert (qfn.coarse_pad(noisy, "dark")[0] > 0) == (speck is not None)
    r = score_frame(noisy)
    if speck is None:
        assert r.status == "error", r.status
        return
    assert r.status == "ok" and r.package == "qfn"
    pad = next(j for j in r.joints if j.kind == "pad")
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) < 3.0, (pad.void_pct, f.truth["pad_void_pct"])
    t = Tally()
    t.add(f.truth, r)
    assert t.det[1] == 0 and t.det[2] <= 1, t.det
    assert r.verdict == f.truth["frame_verdict"]


@pytest.mark.parametrize("hole", [0.1, None])
def test_two_pins_a_via_ring_joins_are_not_bridged(hole, monkeypatch):
    """Fresh QFN development frame (6,910,000, 8), TIFF-16, 9 pins a side: a via ring touches the
    ends of two neighbouring pins, and its copper wall, denser than their solder, joins them into
    one land, which was split in two and both halves called bridged (a passing frame failed).
    The land encloses the ring's drill hole, 0.45 of a pin's area; solder run between two pins
    fills what it spans (``qfn.PIN_RING_HOLE``)."""
    from xrayinspect import qfn

    f, r, pad = _qfn_with(monkeypatch, qfn, "PIN_RING_HOLE", hole, (6_910_000, 8))
    assert r.status == "ok" and r.package == "qfn" and pad is not None
    t = Tally()
    t.add(f.truth, r)
    assert t.tp["bridge"] + t.fn["bridge"] == 0            # no pin of this frame is bridged
    assert t.fp["bridge"] == (0 if hole else 2), t.fp["bridge"]
    assert sum(j.kind == "pin" for j in r.joints) == 36
    assert (r.verdict == f.truth["frame_verdict"]) == bool(hole)


@pytest.mark.parametrize("interior", [None, 0.75])
def test_pieces_of_a_pad_cut_apart_by_a_large_void_are_the_pad_not_pins(interior, monkeypatch):
    """Fresh QFN development frame (5,980,000, 37), 1024 px: a zoomed printed pad, 4 pins a side
    at 131 px, whose lower half a large void (22.8 % of the pad) and a window's channel cut into
    irregular lands as large as its pins. Taken for pins they left the pad its upper half
    (0.4 % void), put 4 false bridges and missing pins round it and failed a passing frame.
    Lands deep inside the ring of pins, inside the pad's box mirrored about the ring's centre
    and not shaped like the package's pins are pieces of the pad (``qfn.PIN_RING_INTERIOR``)."""
    from xrayinspect import qfn

    f, r, pad = _qfn_with(monkeypatch, qfn, "PIN_RING_INTERIOR", interior, (5_980_000, 37))
    assert r.status == "ok" and r.package == "qfn"
    pins = [j for j in r.joints if j.kind == "pin"]
    if interior is None:
        assert pad.void_pct < 2.0 and r.verdict == "fail", (pad.void_pct, r.verdict)
        return
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) < 5.0, (pad.void_pct, f.truth["pad_void_pct"])
    assert len(pins) == 16 and not any(j.defects for j in pins)
    assert r.verdict == f.truth["frame_verdict"] == "pass"


@pytest.mark.parametrize("aside_fit", [True, False])
def test_a_ball_clipped_only_under_a_via_ring_on_its_rim_reads_its_void(aside_fit, monkeypatch):
    """Fresh development frame (6,800,000, 18), 2048 px, a 31 degree oblique JPEG of 125 px balls:
    bright via rings over the rims of 11 of its 35 balls clip there. Read from those clipped
    patches the balls stood twice their neighbours' height; their voids were read against that
    dome, no pixel lay near it, and a 19 % void (largest 17 %) read 0. A ball clipped off its
    centre keeps that height for its neighbours but its voids are read against its own
    unclipped pixels' dome (``voids.CLIP_ASIDE_FIT``)."""
    from xrayinspect import voids

    monkeypatch.setattr(voids, "CLIP_ASIDE_FIT", aside_fit)
    f = generate_frame((6_800_000, 18), package="bga", shape=(2048, 2048))
    r = score_frame(f.image)
    (t,) = [j for j in f.truth["joints"] if j["kind"] == "ball" and j["void_pct"] > 15]
    j = min(r.joints, key=lambda j: math.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) if j.x_px == j.x_px else 1e9)
    assert math.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]) < 5
    if not aside_fit:
        assert j.void_pct < 2.0, j.void_pct
        return
    assert abs(j.void_pct - t["void_pct"]) < 5.0 and "void" in j.defects, (j.void_pct, t["void_pct"], j.defects)


@pytest.mark.parametrize("long_", [1.5, None])
def test_pins_are_not_taken_into_a_pad_whose_two_windows_joined(long_, monkeypatch):
    """Fresh QFN development frame (5,990,000, 1), 1024 px: a 2 x 2 printed pad beside 3 pins a
    side. Its two right windows, joined, make the largest segment, twice a window long: every pin
    lay within its reach, none had like lands further out, and the 12 pins were taken into the
    pad; the frame was read as a BGA of 6 balls. A long land with like lands anywhere is a pin
    (``qfn.PIN_LIKE_LONG``)."""
    from xrayinspect import qfn

    f, r, pad = _qfn_with(monkeypatch, qfn, "PIN_LIKE_LONG", long_, (5_990_000, 1))
    if long_ is None:
        assert r.package == "bga", r.package
        return
    assert r.status == "ok" and r.package == "qfn"
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) < 2.0, (pad.void_pct, f.truth["pad_void_pct"])
    assert sum(j.kind == "pin" and "missing" not in j.defects for j in r.joints) >= 11


@pytest.mark.parametrize("holds", [True, False])
def test_a_qfn_whose_pad_holds_the_piece_the_package_check_saw_is_a_qfn(holds, monkeypatch):
    """Fresh QFN development frame (5,990,000, 7), 1024 px: a tiled JPEG export (3 x 2 tiles
    with black bands) of a 44-pin QFN whose pad a large double void (24 %) and the bands cut
    apart. The package check saw one piece of the pad; the QFN reading found the whole pad and
    all 44 pins, but its centre lay outside the piece's box, so the reading was doubted and the
    left column of pins, a lattice of 11 "balls", won. A pad whose outline holds the centre of
    what the check saw stands where the check saw it (``pipeline.PAD_HOLDS_CHECK``)."""
    from xrayinspect import pipeline

    f, r, pad = _qfn_with(monkeypatch, pipeline, "PAD_HOLDS_CHECK", holds, (5_990_000, 7))
    if not holds:
        assert r.package == "bga", r.package
        return
    assert r.status == "ok" and r.package == "qfn"
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) < 3.0, (pad.void_pct, f.truth["pad_void_pct"])
    assert sum(j.kind == "pin" for j in r.joints) == 44
    assert r.verdict == f.truth["frame_verdict"]


@pytest.mark.parametrize("through", [True, False])
def test_a_void_through_a_pins_thin_solder_is_sized_as_a_hole_not_a_sphere(through, monkeypatch):
    """Fresh QFN development frame (5,990,000, 12), 1024 px: a pin's void, a hole through its
    solder layer (13.2 % of the pin), read 19.7 % total and 15.1 % largest (the sphere rule
    1.5 x volume / depth, and the grown mask) and failed a passing frame. A void in a flat land
    is sized as a hole: missing volume over its own depth, no larger than its grown mask, the
    largest void too (``voids.FLAT_THROUGH``)."""
    from xrayinspect import voids

    f, r, _ = _qfn_with(monkeypatch, voids, "FLAT_THROUGH", through, (5_990_000, 12))
    assert r.status == "ok" and r.package == "qfn"
    (t,) = [j for j in f.truth["joints"] if j["kind"] == "pin" and abs(j["x_px"] - 212) < 20 and abs(j["y_px"] - 371) < 20]
    j = min((j for j in r.joints if j.kind == "pin"), key=lambda j: math.hypot(j.x_px - t["x_px"], j.y_px - t["y_px"]))
    if not through:
        assert j.void_pct > 18.0 and "void" in j.defects, (j.void_pct, j.defects)
        return
    assert abs(j.void_pct - t["void_pct"]) < 3.0 and not j.defects, (j.void_pct, t["void_pct"], j.defects)
    assert r.verdict == f.truth["frame_verdict"] == "pass"


def test_void_reaching_a_thermal_vias_barrel_takes_in_the_barrel(monkeypatch):
    """Fresh QFN development frames (5,990,000, 6 / 13 / 24), 1024 px: voids round thermal vias.
    The copper barrel, seen end on, is far denser than solder: a void's shortfall never shows
    over it, and the pad read 1.3-4.5 pp low where voids held vias. Barrel pixels (out to the
    edge the vias' radial profile shows) whose ray outwards meets a void are void too (truth:
    the solder's hole is the drill only; ``qfn.VIA_BARREL``)."""
    from xrayinspect import qfn

    for i in (6, 13, 24):
        f = generate_frame((5_990_000, i), package="qfn", shape=(1024, 1024))
        errs = []
        for on in (False, True):
            monkeypatch.setattr(qfn, "VIA_BARREL", on)
            r = score_frame(f.image)
            (pad,) = [j for j in r.joints if j.kind == "pad"]
            errs.append(abs(pad.void_pct - f.truth["pad_void_pct"]))
        assert errs[1] < errs[0] - 0.5 and errs[1] < 1.2, (i, errs)


@pytest.mark.parametrize("sized", [2.0, None])
def test_a_bridged_pin_within_a_prints_reach_is_a_pin(sized, monkeypatch):
    """Fresh QFN development frame (5,990,000, 1): of its bottom pins, two are bridged; the
    bridge's solder grows one of them past the pins' likeness (1.23 x their area), and it stood
    within the reach of the print's windows, so it was taken for part of the pad and the bridge
    was missed (a failing frame passed). A pin-sized segment of the "pad" centred outside the
    box of its other segments and on the ring of pins is a pin (``qfn.PIN_SIZED``)."""
    from xrayinspect import qfn

    f, r, pad = _qfn_with(monkeypatch, qfn, "PIN_SIZED", sized, (5_990_000, 1))
    assert r.status == "ok" and r.package == "qfn"
    truth = [(t["x_px"], t["y_px"]) for t in f.truth["joints"] if "bridge" in t["defects"]]
    assert len(truth) == 2
    found = [j for j in r.joints if "bridge" in j.defects]
    if sized is None:
        assert not found and r.verdict == "pass"
        return
    assert len(found) == 2 and all(min(math.hypot(j.x_px - x, j.y_px - y) for x, y in truth) < 15 for j in found)
    assert r.verdict == f.truth["frame_verdict"] == "fail"
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) < 1.0

"""A viewer's unsharp mask on an export: told from a CT slice's cupping by photon noise, and undone."""

import cv2
import numpy as np
import pytest

from xrayinspect.bga import CORE_FRACTION, first_look_diameter
from xrayinspect.evaluation import Tally
from xrayinspect.joints import segment_joints
from xrayinspect.pipeline import score_frame
from xrayinspect.preprocess import prepare
from xrayinspect.sharpening import PROJECTION_NOISE_RATIO, inspect, undo_unsharp
from xrayinspect.synth import generate_frame


def sharpen(image, amount, sigma_px):
    """What a viewer's "enhance" does to an export: ``g + a (g - G_s g)``, back in the image's dtype."""
    f = image.astype(np.float32)
    f = f + amount * (f - cv2.GaussianBlur(f, (0, 0), sigma_px))
    return np.clip(np.round(f), 0, np.iinfo(image.dtype).max).astype(image.dtype)


def _inspection(image):
    prep = prepare(image)
    masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=first_look_diameter(prep.blob_diameter_px),
                           core_fraction=CORE_FRACTION)
    return inspect(image, prep.polarity, masks, prep.valid)


def test_undo_inverts_an_unsharp_mask():
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.uniform(0, 1, (200, 240)).astype(np.float64), (0, 0), 2.0) * 1000
    sharp = img + 1.5 * (img - cv2.GaussianBlur(img, (0, 0), 3.0, borderType=cv2.BORDER_REFLECT))
    back = undo_unsharp(sharp, 1.5, 3.0)
    # exact but for the borders' reflection and the two blurs' truncation
    inner = (slice(20, -20), slice(20, -20))
    assert np.abs(back - img)[inner].max() < 0.01 * np.ptp(img)
    assert np.abs(sharp - img)[inner].max() > 0.2 * np.ptp(img)
    # integers come back in their own dtype, rounded and clipped
    u16 = undo_unsharp(np.clip(sharp, 0, 65535).astype(np.uint16), 1.5, 3.0)
    assert u16.dtype == np.uint16 and u16.shape == img.shape


def test_photon_noise_tells_a_radiograph_from_a_ct_slice():
    # a radiograph's ball centres count few photons: their noise is well
    # under the board's; a reconstructed slice's noise is about even
    radiograph = generate_frame(6700002, package="bga", shape=(1024, 1024), export="tiff16")
    ct = generate_frame(6960005, package="bga", shape=(1024, 1024), modality="ct")
    r, c = _inspection(radiograph.image), _inspection(ct.image)
    assert r.projection and r.noise_ratio < 0.7
    assert not c.projection and c.noise_ratio > PROJECTION_NOISE_RATIO
    # a clean radiograph is left as it is
    assert r.amount == 0


@pytest.mark.parametrize("seed, amount, sigma_px", [(9_100_013, 1.0, 5.0), (9_100_015, 2.0, 5.0)])
def test_a_sharpened_radiograph_is_not_scored_as_a_slice(load_script, monkeypatch, seed, amount, sigma_px):
    # the mask's dark band inside each rim reads as a slice's cupping: these
    # frames were scored as CT slices (head-in-pillow not judged: 13's HiP
    # ball missed; 15's three void balls missed) until the noise and the
    # monotone profile were read (15: 2 of 3 found now)
    import xrayinspect.pipeline as pipeline

    image, truth = load_script("altsim").render(seed)
    sharp = sharpen(image, amount, sigma_px)
    look = _inspection(sharp)
    assert look.projection and look.nonmonotone > 0.06
    assert 0.5 * amount <= look.amount <= 2.5 * amount
    res = score_frame(sharp)
    assert res.hip_judged and not res.sliced
    t = Tally()
    t.add(truth, res)
    assert t.summary()["detection_f1"] >= 0.99
    assert t.fn["void"] <= 1 and t.fn["hip"] == 0
    monkeypatch.setattr(pipeline, "INSPECT_BALLS", False)
    assert score_frame(sharp).sliced


@pytest.mark.parametrize("seed, export", [(9_900_009, "png8"), (9_950_031, "jpeg8")])
def test_clipped_ball_cores_of_a_sharpened_export_are_not_text(load_script, monkeypatch, seed, export):
    """Independent-renderer 8-bit frames under an unsharp mask (9,900,009: PNG, 2 x 2 px, 31 px
    balls; 9,950,031: JPEG, 1.5 x 2 px, 25 px balls): every ball's core is clipped at the
    container's extreme, riddled with pixels just off it (the mask's noise dips, the JPEG's
    blocks). Each of those put an edge within 4 px of every pixel of a core, so cores read as
    strokes, a row of them as a line of text, and were inpainted away (16,364 and 3,931 px: false
    missing and head-in-pillow calls). Holes that stand near the level are filled before a
    stroke's width is read."""
    import xrayinspect.annotations as annotations
    from xrayinspect.annotations import annotation_mask

    image, truth = load_script("altsim").render(seed, export=export, sharpen=True)
    assert image.dtype == np.uint8
    assert not annotation_mask(image).any()
    t = Tally()
    t.add(truth, score_frame(image))
    assert t.summary()["detection_f1"] >= 0.99
    assert t.fp["missing"] == 0 and t.fp["hip"] == 0
    monkeypatch.setattr(annotations, "FILL_NEAR_LEVEL", False)
    assert annotation_mask(image).sum() > 3000


def test_clipped_ball_tops_are_bounds_not_heights(load_script, monkeypatch):
    """Independent-renderer 8-bit frame (seed 9,900,039, unsharp mask 1.5 x 5 px): every ball's top
    is clipped. A third of the balls kept a few unclipped pixels inside (noise dips) and their
    domes, fitted to those alone, read 0.7-1.4 against 2.05-2.09 (the clipped level) for the rest:
    11 balls beside them stood "taller" than their neighbours and were called head-in-pillow.
    Such peaks are bounds, left out of the comparison; the frame's two true heads are still found
    (by their narrowing)."""
    import xrayinspect.voids as voids

    image, truth = load_script("altsim").render(9_900_039, export="png8", sharpen=True)
    t = Tally()
    t.add(truth, score_frame(image))
    assert t.tp["hip"] == 2 and t.fp["hip"] == 0
    monkeypatch.setattr(voids, "CLIPPED_FIT_SHARE", None)
    t = Tally()
    t.add(truth, score_frame(image))
    assert t.fp["hip"] >= 5


def test_voids_in_a_few_large_balls_do_not_read_as_a_mask(load_script, monkeypatch):
    """Development frame (6,700,000, 5) at 1024 px from a tiled detector whose quadrants' gains
    differ (robustness ``tilegain``): 100 px balls, ten of them typical, voids near their
    centres. The mean of their windows fell from its centre outwards (0.10 of its contrast) and
    was "undone" as an 8 px mask of 3.0: two true stray balls were lost, and a missing and two
    misaligned calls were false. The pixelwise median of the windows is blind to a few balls'
    voids; a mask rings every ball."""
    import xrayinspect.sharpening as sharpening

    rob = load_script("robustness")
    image, truth = rob._frame(5, 1024)
    img, move, scale = rob.treat(image, "tilegain", truth["detector"]["bits_used"])
    truth = rob.moved_truth(truth, move, scale, img.shape[:2])
    look = _inspection(img)
    assert look.projection and look.amount == 0
    t = Tally()
    t.add(truth, score_frame(img))
    assert t.tp["extra"] == 2 and t.fp["missing"] == 0 and t.fp["misaligned"] == 0
    monkeypatch.setattr(sharpening, "TEMPLATE_STAT", "mean")
    assert _inspection(img).amount > 1
    t = Tally()
    t.add(truth, score_frame(img))
    assert t.tp["extra"] < 2 and t.fp["misaligned"] > 0


@pytest.mark.parametrize("seed, vmae_max", [(9_900_030, 1.6), (9_900_032, 1.3)])
def test_the_gentlest_mask_that_explains_the_profile_is_undone(load_script, monkeypatch, seed, vmae_max):
    """Independent-renderer 16-bit frames under a 3 px unsharp mask of 2.0 (9,900,030: 18 px
    balls; 9,900,032: 25 px balls). Many widths have an amount whose inverse makes the typical
    ball monotone; the width whose restored edge was steepest read 4 px, and the undone frames'
    void % erred by 2.78 and 1.81 pp per ball (32's one void ball was missed). The width whose
    smallest restoring amount is least reads 3 px and the amount 1.8-1.9; the void error falls
    to 1.36 and 1.06 pp (the unsharpened twins: 1.27 and 1.17)."""
    import xrayinspect.sharpening as sharpening

    image, truth = load_script("altsim").render(seed, export="tiff16", sharpen=True)
    look = _inspection(image)
    assert look.sigma_px == truth["sharpen"]["sigma_px"]
    assert abs(look.amount - truth["sharpen"]["amount"]) <= 0.3
    t = Tally()
    t.add(truth, score_frame(image))
    assert np.mean(np.abs(t.void_err)) <= vmae_max and t.fn["void"] == 0
    monkeypatch.setattr(sharpening, "SIGMA_CHOICE", "steepest")
    assert _inspection(image).sigma_px > truth["sharpen"]["sigma_px"]

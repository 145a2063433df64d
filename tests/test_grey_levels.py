"""Float frames: scored as the integer grey levels every rule counts in.

A float TIFF, a DICOM with a fractional rescale or an array a script divided
by its full scale used to fall under the "no light" floor of half a grey
level: 16 of 30 development frames given as ``image / full_scale`` were
error rows ("no solder joint found") until 2026-12-04.
"""

import numpy as np
import pytest

from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.preprocess import grey_levels
from xrayinspect.synth import generate_frame


def test_integer_frames_pass_through_unchanged():
    a = np.arange(300, dtype=np.uint16).reshape(15, 20)
    out, lost = grey_levels(a)
    assert out is a and not lost


@pytest.mark.parametrize("dtype,full", [(np.uint8, 255), (np.uint16, 4095), (np.uint16, 65535), (np.uint16, 4096)])
def test_an_integer_frame_divided_by_its_full_scale_gets_its_levels_back(dtype, full):
    k = np.random.default_rng(3).integers(0, full, (40, 50)).astype(dtype)
    out, lost = grey_levels((k / np.float32(full)).astype(np.float32))
    assert out.dtype == dtype and not lost
    np.testing.assert_array_equal(out, k)


def test_eight_bit_levels_under_an_affine_map_are_eight_bit_again():
    k = np.random.default_rng(4).integers(20, 240, (40, 50)).astype(np.uint8)
    out, lost = grey_levels((k * np.float32(0.0123) + np.float32(3.7)).astype(np.float32))
    assert out.dtype == np.uint8 and not lost
    np.testing.assert_array_equal(out.astype(int), k.astype(int) - int(k.min()))


def test_other_float_frames_are_scaled_to_sixteen_bits_keeping_ratios():
    f = np.random.default_rng(5).uniform(0.2, 3.0, (64, 64)).astype(np.float32)
    out, lost = grey_levels(f)
    assert out.dtype == np.uint16 and not lost and int(out.max()) == 65535
    ratio = out.astype(float) / f
    assert ratio.std() / ratio.mean() < 1e-4
    out, lost = grey_levels(f - np.float32(1.0))
    assert lost and int(out.min()) == 0 and int(out.max()) == 65535
    # values far below one level are not integers rounded to one flat level
    out, lost = grey_levels(f * np.float32(1e-30))
    assert out.dtype == np.uint16 and int(out.max()) == 65535 and int(out.min()) > 0


@pytest.mark.parametrize("export,full", [("tiff16", 65535.0), ("png8", 255.0)])
def test_a_frame_given_as_float_scores_as_its_integer_export(export, full):
    f = generate_frame(6_700_203, shape=(768, 768), export=export)
    want = score_frame(f.image)
    got = score_frame(f.image.astype(np.float32) / np.float32(full))
    assert want.status == got.status == "ok"
    assert len(got.joints) == len(want.joints) > 50
    assert [sorted(j.defects) for j in got.joints] == [sorted(j.defects) for j in want.joints]
    np.testing.assert_allclose([j.void_pct for j in got.joints], [j.void_pct for j in want.joints])


def test_a_shifted_float_frame_is_scored_against_the_truth():
    # zero lost (the darkest pixel at 0): its black level is found as a windowed export's is
    f = generate_frame(6_700_207, shape=(768, 768), export="tiff16")
    res = score_frame(f.image.astype(np.float32) / np.float32(65535) - np.float32(0.5))
    t = Tally()
    t.add(f.truth, res)
    s = t.summary()
    assert res.status == "ok"
    assert s["detection_f1"] >= 0.99
    assert s["void_abs_err_mean_pp"] <= 3.0
    assert res.verdict == f.truth["frame_verdict"]

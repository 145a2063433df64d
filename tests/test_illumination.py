"""An uneven illumination field (heel effect, uncorrected flat field) under a QFN.

A QFN's envelope is built beyond its pad, wider than the field is flat: a
20 % ramp across a frame read as solder on its dark side (development frame
(5,950,000, 10): 19 false pin bridges and a failed good board) until the
field was divided out first (2026-12-04, ``preprocess.field_trend``).
"""

import numpy as np
import pytest

from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.preprocess import field_trend
from xrayinspect.synth import generate_frame


def _ramped(image, fall):
    full = 255 if image.dtype == np.uint8 else 65535
    ramp = np.linspace(1.0, 1.0 - fall, image.shape[1], dtype=np.float32)[None, :]
    return np.clip(np.rint(image.astype(np.float32) * ramp), 0, full).astype(image.dtype)


def test_the_field_is_read_from_the_board_round_a_dark_package():
    h = w = 256
    yy, xx = np.mgrid[0:h, 0:w]
    x = (2 * xx + 1) / w - 1
    y = (2 * yy + 1) / h - 1
    log_field = -0.3 * (x + 1) / 2 - 0.2 * (x * x + y * y)
    rng = np.random.default_rng(0)
    transmission = np.ones((h, w))
    transmission[60:200, 50:190] = 0.35          # the package and its pad
    transmission[rng.random((h, w)) < 0.02] = 0.6  # vias, traces
    image = (3000 * np.exp(log_field) * transmission * rng.normal(1, 0.01, (h, w))).astype(np.float32)
    trend = field_trend(image)
    assert trend is not None and trend.max() == 0
    want = log_field - log_field.max()
    # within 0.03 of log (3 %) over the board and under the package alike
    assert np.abs(trend - want).max() < 0.03


def test_no_field_is_fitted_when_too_little_board_shows():
    image = np.full((256, 256), 800.0, np.float32)
    image[:, :20] = 3000.0    # a sliver of board: under a fifth of the blocks
    assert field_trend(image) is None


@pytest.mark.parametrize("i", [10, 1])
def test_a_qfn_under_a_ramp_is_scored_as_without_it(i):
    f = generate_frame((5_950_000, i), package="qfn", shape=(768, 768))
    res = score_frame(_ramped(f.image, 0.2))
    t = Tally()
    t.add(f.truth, res)
    assert res.package == "qfn" and res.status == "ok"
    assert t.fp["bridge"] == 0 and t.fn["bridge"] == 0
    assert res.verdict == f.truth["frame_verdict"]
    pad = next(j for j in res.joints if j.kind == "pad")
    assert abs(pad.void_pct - f.truth["pad_void_pct"]) <= 2.0

"""A round field of view (image intensifier) or a collimator's shadow: no-signal areas are not image.

The frames come from the simulator with their truth; the no-signal area is
drawn as such systems export it (exactly black outside the field), written to
a real file and read back.
"""

import numpy as np
import pytest

from xrayinspect import io as xio
from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.preprocess import invalid_bands
from xrayinspect.synth import generate_frame


def _round_field(image, radius_frac=0.53):
    h, w = image.shape
    yy, xx = np.mgrid[:h, :w]
    outside = np.hypot(xx - w / 2, yy - h / 2) > radius_frac * min(h, w)
    out = image.copy()
    out[outside] = 0
    return out, outside


def _tally(frame, result):
    t = Tally()
    t.add(frame.truth, result)
    return t


@pytest.mark.parametrize("seed", [(6700010, 6), (6700010, 5)])
def test_a_round_field_of_view_is_scored_inside_and_ignored_outside(seed, tmp_path):
    # (6,700,010, 6): a 16-bit export of bright solder; its black corners made
    # the polarity vote read dark and no ball was found before 2026-12-04
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    img, outside = _round_field(f.image)
    path = tmp_path / "round_field.tif"
    xio.write_frame(path, img)
    img, meta = xio.read_frame(path)
    valid = invalid_bands(img)
    assert not valid[outside].any()
    assert valid[~outside].mean() > 0.99
    res, plain = score_frame(img, frame=path.name, meta=meta), score_frame(f.image)
    t, t_plain = _tally(f, res), _tally(f, plain)
    assert res.polarity == plain.polarity
    assert res.verdict == f.truth["frame_verdict"]
    # every ball inside the field is found (those outside, and cut by its edge, are not judged)
    h, w = img.shape
    inside = [j for j in f.truth["joints"] if "missing" not in j["defects"]
              and np.hypot(j["x_px"] - w / 2, j["y_px"] - h / 2) < 0.53 * min(h, w) - j["diameter_px"]]
    assert t.det[0] >= len(inside) - 1
    assert t.det[1] == 0
    for code in ("missing", "extra", "bridge", "misaligned"):
        assert t.fp[code] <= t_plain.fp[code]


@pytest.mark.parametrize("kwargs", [dict(export="png8"), dict(export="jpeg8"), dict(export="png8", tiled=True),
                                    dict(export="png8", polarity="bright"), dict(export="tiff16"),
                                    dict(modality="ct")])
def test_a_frame_without_a_field_edge_keeps_all_its_pixels(kwargs):
    # a background a display window took to black is as dark as a no-signal
    # area, but traces, vias and noise leave holes in it; stitching bands are
    # bands, as before
    for i in range(2):
        f = generate_frame((6700011, i), package="bga", shape=(1024, 1024), **kwargs)
        valid = invalid_bands(f.image)
        bands = (~valid).all(axis=0)[None, :] | (~valid).all(axis=1)[:, None]
        assert not (~valid & ~bands).any()


@pytest.mark.parametrize("white", [True, False])
def test_an_inverted_composites_white_stitching_bands_hold_no_image(white, monkeypatch):
    """Development frame (6,700,000, 27), a tiled 8-bit JPEG with three 12 px stitching bands,
    exported inverted (solder bright, `scripts/robustness.py`'s `invert`): its bands are at full
    scale, not black, and were read as image - 213 of its 831 balls lost. Narrow runs of lines
    nearly all at the frame's top level, inside the frame, are bands too
    (`preprocess.WHITE_BAND_MAX_WIDTH`); the plain frame's valid area is unchanged."""
    from xrayinspect import preprocess

    if not white:
        monkeypatch.setattr(preprocess, "WHITE_BAND_MAX_WIDTH", None)
    f = generate_frame((6700000, 27), package="bga", shape=(1024, 1024))
    inverted = (255 - f.image).astype(np.uint8)
    bands = ~invalid_bands(inverted)
    t = Tally()
    t.add(f.truth, score_frame(inverted))
    if white:
        # the three bands (and a px beside each) and nothing else
        assert np.array_equal(bands, ~invalid_bands(f.image))
        assert t.det[2] <= 5, t.det
        # a detector's hot column at full scale is one line, not a band
        # (`preprocess.WHITE_BAND_MIN_WIDTH`; the line repair's business)
        hot = f.image.copy()
        hot[:, 200] = 255
        assert np.array_equal(invalid_bands(hot), invalid_bands(f.image))
    else:
        assert not bands.any()
        assert t.det[2] > 100, t.det

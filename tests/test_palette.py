"""False-colour exports (a radiograph saved through a colour palette) are read back to grey levels."""

import cv2
import numpy as np
import pytest

from xrayinspect import io as xio
from xrayinspect.evaluation import Tally
from xrayinspect.palette import FIT_SHARE, fit_palette, palette_folds, palette_levels
from xrayinspect.pipeline import score_frame
from xrayinspect.synth import generate_frame


@pytest.fixture(scope="module")
def grey_frame():
    """A development BGA frame (609 balls) windowed to 8 bits, and its truth."""
    f = generate_frame((6700000, 3), package="bga", shape=(1024, 1024))
    g = f.image.astype(np.float32)
    g = np.rint(255 * (g - g.min()) / (g.max() - g.min())).astype(np.uint8)
    return g, f.truth


def _rank_corr(a, b):
    ra = np.argsort(np.argsort(a.ravel()[::5])).astype(float)
    rb = np.argsort(np.argsort(b.ravel()[::5])).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.mark.parametrize("palette", ["JET", "TURBO", "HOT", "VIRIDIS"])
def test_a_lossless_palette_frame_reads_back_as_its_grey(tmp_path, grey_frame, palette):
    g, truth = grey_frame
    p = tmp_path / f"frame_{palette}.png"
    cv2.imwrite(str(p), cv2.applyColorMap(g, getattr(cv2, "COLORMAP_" + palette)))
    img, meta = xio.read_frame(p)
    assert meta.was_rgb and img.dtype == np.uint8 and img.shape == g.shape
    # the grey back, up to the levels the frame does not use (and the polarity)
    assert abs(_rank_corr(img, g)) > 0.999
    r = score_frame(img, meta=meta)
    tal = Tally()
    tal.add(truth, r)
    assert tal.summary()["detection_f1"] > 0.99, tal.det


def test_a_rainbow_frame_s_luma_is_not_its_grey(grey_frame):
    """Why the palette is read back at all: a rainbow's luma folds the grey scale, and
    scored as grey it loses a third of the balls."""
    g, truth = grey_frame
    bgr = cv2.applyColorMap(g, cv2.COLORMAP_JET)
    tal = Tally()
    tal.add(truth, score_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)))
    assert tal.summary()["detection_f1"] < 0.9, tal.det
    assert abs(_rank_corr(palette_levels(np.ascontiguousarray(bgr[:, :, ::-1])), g)) > 0.999


def test_a_jpeg_of_a_rainbow_frame_is_an_error_and_of_a_rising_palette_its_luma(tmp_path, grey_frame):
    """JPEG scatters a palette frame's colours off the palette, so no curve is trusted: a
    rainbow's brightness folds (its luma is not its grey) and the frame is refused with a
    reason; a palette whose brightness rises along the scale is read by its luma."""
    from xrayinspect.errors import XrayInspectError

    g, truth = grey_frame
    for palette, folds in (("JET", True), ("TURBO", True), ("VIRIDIS", False), ("HOT", False)):
        bgr = cv2.applyColorMap(g, getattr(cv2, "COLORMAP_" + palette))
        p = tmp_path / f"frame_{palette}.jpg"
        cv2.imwrite(str(p), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        jpeg = cv2.imread(str(p))
        rgb = np.ascontiguousarray(jpeg[:, :, ::-1])
        assert fit_palette(rgb)[1] < FIT_SHARE
        assert palette_levels(rgb) is None
        assert palette_folds(rgb) is folds
        if folds:
            with pytest.raises(XrayInspectError, match="rainbow-like palette"):
                xio.read_frame(p)
        else:
            img, meta = xio.read_frame(p)
            tal = Tally()
            tal.add(truth, score_frame(img, meta=meta))
            assert tal.summary()["detection_f1"] > 0.99, (palette, tal.det)


def test_colour_that_is_not_a_palette_is_not_read_as_one():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert palette_levels(noise) is None
    # a few flat colours (a drawing) make no curve
    flat = np.zeros((64, 64, 3), np.uint8)
    flat[:32] = (255, 0, 0)
    flat[32:, :32] = (0, 255, 0)
    assert palette_levels(flat) is None


def test_grey_with_coloured_marks_is_not_a_palette_frame(tmp_path, grey_frame):
    """A viewer's coloured marks on a grey frame are filled in, not taken for a palette."""
    g, _ = grey_frame
    bgr = cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)
    cv2.putText(bgr, "U12 BGA", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.5, (0, 0, 255), 3)
    assert not xio.false_colour(bgr)
    p = tmp_path / "marked.png"
    cv2.imwrite(str(p), bgr)
    img, _ = xio.read_frame(p)
    assert np.abs(img.astype(int) - g)[200:, 200:].max() <= 1

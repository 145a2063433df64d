"""Burned-in annotations (text, scale bar, cross-hair) are filled in before scoring.

Frames come from the simulator with their truth; the annotations are drawn
into the exported pixels the way a viewer burns them in (one grey level at
the container's extreme, optionally anti-aliased), written to real files and
read back.
"""

import json

import cv2
import numpy as np
import pytest

from xrayinspect import io as xio
from xrayinspect.annotations import annotation_mask, remove_annotations
from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.synth import generate_frame


def _burn_in(image, white=True, anti_alias=False):
    """The frame with an acquisition line, a scale bar and a cross-hair burned in; and the ink's opacity (0-1).

    (OpenCV 5 draws text anti-aliased whatever the line type: the letters'
    cores stand at the level, their edges between it and the frame.)
    """
    h, w = image.shape
    ink = np.zeros((h, w), np.uint8)
    line = cv2.LINE_AA if anti_alias else cv2.LINE_8
    cv2.putText(ink, "XR-7000  60kV 80uA  2026-12-04 09:12  Board SN 12345", (20, 30),
                cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2, line)
    cv2.line(ink, (20, h - 24), (220, h - 24), 255, 4, line)
    cv2.putText(ink, "1 mm", (80, h - 34), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 255, 2, line)
    cv2.drawMarker(ink, (w // 2, h // 2), 255, cv2.MARKER_CROSS, 60, 1, line)
    level = float(np.iinfo(image.dtype).max) if white else 0.0
    a = ink.astype(np.float32) / 255
    out = (image.astype(np.float32) * (1 - a) + level * a).round().astype(image.dtype)
    return out, a


def _tally(frame, result):
    t = Tally()
    t.add(frame.truth, result)
    return t


@pytest.fixture(scope="module")
def bright_12bit():
    # 12-bit data in a 16-bit PNG, solder bright: white text at 65535 sets the
    # full scale and the typical ball (0 of 598 balls found before 2026-12-04)
    return generate_frame((6700000, 3), package="bga", shape=(1024, 1024))


def test_white_text_on_a_12_bit_export_is_filled_in_and_the_frame_scored(bright_12bit, tmp_path):
    f = bright_12bit
    assert f.image.dtype == np.uint16 and f.image.max() < 4096
    burned, alpha = _burn_in(f.image, white=True)
    ink = alpha > 0
    mask = annotation_mask(burned)
    assert mask[alpha >= 0.5].all()             # every pixel drawn at half strength or more is found ...
    assert mask.sum() < 2.0 * ink.sum()         # ... with at most its 1 px fringe
    path = tmp_path / "annotated.png"
    xio.write_frame(path, burned)
    img, meta = xio.read_frame(path)
    res = score_frame(img, frame=path.name, meta=meta)
    plain = score_frame(f.image)
    t, t_plain = _tally(f, res), _tally(f, plain)
    assert res.annotation_px >= ink.sum()
    assert res.polarity == plain.polarity == "bright"
    assert res.verdict == f.truth["frame_verdict"]
    # the cross-hair runs across a ball or two at the centre: nothing else moves
    assert t.det[0] >= t_plain.det[0] - 2 and t.det[1] <= t_plain.det[1] + 1
    assert t.summary()["detection_f1"] > 0.99
    assert abs(t.summary()["void_abs_err_mean_pp"] - t_plain.summary()["void_abs_err_mean_pp"]) < 0.1
    # the sidecar says how much was filled in, and a reload keeps it
    from xrayinspect.results import FrameResult

    side = json.loads(json.dumps(res.sidecar()))
    assert side["annotation_px"] == res.annotation_px
    assert FrameResult.from_sidecar(side).annotation_px == res.annotation_px


def test_the_overlay_stretch_is_read_without_the_text(bright_12bit):
    """The overlay's percentile stretch was set by the text at 65535 (about 1 % of the frame):
    the balls of a 12-bit frame drew near black under their outlines. Read without the text,
    the balls draw as bright as on the unannotated frame; the text stays, clipped white."""
    from xrayinspect.overlay import to_display

    f = bright_12bit
    burned, alpha = _burn_in(f.image, white=True)
    balls = np.zeros(f.image.shape, bool)
    for j in f.truth["joints"]:
        if j["kind"] == "ball":
            cv2.circle(balls.view(np.uint8), (int(j["x_px"]), int(j["y_px"])), 3, 1, -1)
    assert balls.sum() > 1000
    shown, plain = to_display(burned), to_display(f.image)
    ball_level = float(np.median(shown[balls & (alpha == 0)]))
    assert ball_level > 0.8 * float(np.median(plain[balls])) and ball_level > 120, ball_level
    assert (shown[alpha >= 0.5] == 255).all()


@pytest.mark.parametrize("export", ["tiff16", "png8"])
def test_the_overlay_header_leaves_the_burned_in_text_readable(export):
    """The overlay's header plate (frame, verdict, counts) sat at the top left, over the export's
    own acquisition line (board serial, kV, date) that a reviewer reads: it now goes to the
    corner that covers the fewest annotation pixels; with none, it stays at the top left."""
    from xrayinspect.overlay import draw_overlay

    f = generate_frame((6700001, 0), package="bga", shape=(1024, 1024), export=export)
    burned, alpha = _burn_in(f.image, white=True)
    res = score_frame(burned, frame="annotated")
    assert res.annotation_px > 0
    text = alpha[:60] >= 0.5                  # the acquisition line's letters (rows 0-59)
    shown = draw_overlay(burned, res)
    # white letters stay light (the plate is black, its header red or white on black)
    assert (shown[:60][text].min(axis=-1) > 200).mean() > 0.97
    plate = (shown.max(axis=-1) == 0)
    assert plate[:60, -400:].sum() > 500     # the plate went to the top right
    plain = draw_overlay(f.image, score_frame(f.image, frame="annotated"))
    assert (plain.max(axis=-1) == 0)[:60, :400].sum() > 500


@pytest.mark.parametrize("export,white,anti_alias", [("png8", False, False), ("png8", True, False),
                                                     ("tiff16", False, False), ("tiff16", True, True)])
def test_burned_in_text_leaves_the_calls_as_they_were(export, white, anti_alias):
    # (an anti-aliased 1 px cross-hair never reaches the level: it is found
    # where the level lies beyond the data - a 16-bit container of 12-bit
    # data - but not on an 8-bit export whose balls clip at the same level)
    f = generate_frame((6700001, 0), package="bga", shape=(1024, 1024), export=export)
    burned, alpha = _burn_in(f.image, white=white, anti_alias=anti_alias)
    res, plain = score_frame(burned), score_frame(f.image)
    # (on an 8-bit export, whose data reach the level too, only the letters'
    # cores at the level and 1 px round them are taken)
    assert res.annotation_px > 0.4 * np.count_nonzero(alpha >= 0.5)
    t, t_plain = _tally(f, res), _tally(f, plain)
    assert res.verdict == plain.verdict
    assert t.det[0] >= t_plain.det[0] - 2 and t.det[1] <= t_plain.det[1] + 1
    for code in ("missing", "bridge", "extra"):
        assert t.tp[code] == t_plain.tp[code]


@pytest.mark.parametrize("kwargs", [dict(export="tiff16"), dict(export="png8"), dict(export="jpeg8"),
                                    dict(export="png8", tiled=True), dict(export="jpeg8", tiled=True),
                                    dict(export="png8", tilt_deg=30.0), dict(modality="ct")])
def test_nothing_is_taken_for_an_annotation_in_a_plain_frame(kwargs):
    # clipped ball cores, via rings clipped at black, stitching bands and JPEG
    # ringing all sit at the container's extremes; none of them is text
    for i in range(2):
        f = generate_frame((6700002, i), package="bga", shape=(1024, 1024), **kwargs)
        assert not annotation_mask(f.image).any()
        out, n_px = remove_annotations(f.image)
        assert n_px == 0 and out is f.image


@pytest.mark.parametrize("fixed", [True, False])
def test_the_clipped_halos_of_a_viewers_unsharp_mask_are_not_text(fixed, monkeypatch):
    """Development frame (6,700,000, 27), a tiled 8-bit JPEG of 12 px balls at a 19 px pitch, through
    a viewer's 3 px unsharp mask clipped to the container (`scripts/robustness.py`'s `sharpen3`):
    a bright halo at full scale round every ball, a few px wide, reads as a row of "O"s, and was
    inpainted as text (53,000 px): the gaps between the balls came back dark, 69 false bridged
    balls and 34 false head-in-pillow calls. A halo is stepped down into the ball it rings but
    not onto the board round it: the step is read outside the strokes only, and must hold on
    three quarters of it (`annotations.STEP_OUTSIDE_ONLY`, `STEP_SHARE`)."""
    from xrayinspect import annotations

    if not fixed:
        monkeypatch.setattr(annotations, "STEP_OUTSIDE_ONLY", False)
        monkeypatch.setattr(annotations, "STEP_SHARE", 0.5)
    f = generate_frame((6700000, 27), package="bga", shape=(1024, 1024))
    g = f.image.astype(np.float32)
    sharp = np.clip(np.rint(g + (g - cv2.GaussianBlur(g, (0, 0), 3.0))), 0, 255).astype(np.uint8)
    n_px = int(annotation_mask(sharp).sum())
    t = _tally(f, score_frame(sharp))
    if fixed:
        assert n_px == 0
        assert t.fp["bridge"] <= 2 and t.fp["hip"] <= 2, (t.fp["bridge"], t.fp["hip"])
    else:
        assert n_px > 20000
        assert t.fp["bridge"] > 30


def test_a_qfn_frame_with_text_is_scored():
    f = generate_frame((6700003, 0), package="qfn", export="png8")
    burned, _ = _burn_in(f.image, white=True)
    res = score_frame(burned)
    assert res.status == "ok" and res.package == "qfn" and res.annotation_px > 0
    assert res.verdict == score_frame(f.image).verdict


def test_a_coloured_overlay_on_a_grey_frame_is_filled_in_when_read(tmp_path):
    # a viewer's measurement, circle, line and acquisition text in colour on
    # the grey radiograph, saved as RGB: 9 balls lost and a false misaligned
    # call on this frame when the overlay was read as grey (2026-12-04)
    f = generate_frame((6700015, 1), package="bga", shape=(1024, 1024), export="png8")
    bgr = cv2.cvtColor(f.image, cv2.COLOR_GRAY2BGR)
    cv2.putText(bgr, "Void 23.4%  D=0.42mm", (300, 500), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 255, 0), 2)
    cv2.circle(bgr, (512, 512), 40, (0, 0, 255), 2)
    cv2.line(bgr, (100, 900), (400, 900), (255, 255, 0), 2)
    cv2.putText(bgr, "XR-7000 60kV", (20, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 255, 255), 2)
    painted = np.any(bgr != cv2.cvtColor(f.image, cv2.COLOR_GRAY2BGR), axis=-1)
    for ext in ("png", "jpg"):
        path = tmp_path / f"overlay.{ext}"
        cv2.imwrite(str(path), bgr)
        img, meta = xio.read_frame(path)
        assert meta.was_rgb
        if ext == "png":
            # the grey outside the overlay is the frame itself, untouched
            grown = cv2.dilate(painted.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
            assert np.array_equal(img[~grown], f.image[~grown])
        res, plain = score_frame(img, frame=path.name, meta=meta), score_frame(f.image)
        t, t_plain = _tally(f, res), _tally(f, plain)
        assert t.det == t_plain.det
        for code in ("missing", "bridge", "extra", "misaligned"):
            assert (t.tp[code], t.fp[code]) == (t_plain.tp[code], t_plain.fp[code])


def test_a_grey_frame_stored_as_colour_reads_as_its_grey(tmp_path):
    f = generate_frame((6700015, 2), package="bga", shape=(512, 512), export="png8")
    for ext in ("png", "jpg"):
        path = tmp_path / f"grey_rgb.{ext}"
        cv2.imwrite(str(path), cv2.cvtColor(f.image, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        img, meta = xio.read_frame(path)
        assert meta.was_rgb
        if ext == "png":
            assert np.array_equal(img, f.image)
        else:
            # JPEG's colour noise on grey stays grey: nothing is taken for an overlay
            from xrayinspect.annotations import colour_overlay

            assert colour_overlay(cv2.imread(str(path), cv2.IMREAD_COLOR)) is None
            assert np.abs(img.astype(int) - f.image.astype(int)).max() < 40

"""report.html and overlays: self-contained, charts present and right, colours by verdict."""

import re

import numpy as np
import pytest

from xrayinspect.batch import run_batch
from xrayinspect.overlay import COLOURS, draw_overlay, to_display
from xrayinspect.report import control_limits, svg_bars, svg_control_chart, svg_histogram
from xrayinspect.results import FrameResult, JointResult


def _ring(x, y, r, n=24):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([x + r * np.cos(t), y + r * np.sin(t)], 1).tolist()


def crafted_result(frame="f.png"):
    j = [
        JointResult(0, x_px=40.0, y_px=40.0, site_x_px=40.0, site_y_px=40.0, diameter_px=30.0, area_px=700.0,
                    void_pct=2.0, largest_void_pct=1.0, contour=_ring(40, 40, 15)),
        JointResult(1, x_px=120.0, y_px=40.0, site_x_px=120.0, site_y_px=40.0, diameter_px=30.0, area_px=700.0,
                    void_pct=35.0, largest_void_pct=20.0, verdict="fail", defects=["void"],
                    contour=_ring(120, 40, 15), void_contours=[_ring(120, 40, 6)]),
        JointResult(2, x_px=40.0, y_px=120.0, site_x_px=40.0, site_y_px=120.0, verdict="fail", defects=["missing"]),
        JointResult(3, x_px=120.0, y_px=120.0, diameter_px=20.0, area_px=300.0, verdict="fail", defects=["extra"],
                    contour=_ring(120, 120, 10)),
    ]
    return FrameResult(frame=frame, package="bga", pitch_px=80.0, angle_deg=0.0, n_sites=3, joints=j)


def report_scorer(path, *, frame=None, **kw):
    """Frames named fail* carry the crafted failing joints; others pass."""
    r = crafted_result(frame)
    if not frame.startswith("fail"):
        for j in r.joints:
            j.verdict, j.defects = "pass", []
    return r


def test_draw_overlay_colours_by_verdict():
    img = np.full((160, 160), 30000, np.uint16)
    out = draw_overlay(img, crafted_result(), labels=False, thickness=1)
    assert out.shape == (160, 160, 3) and out.dtype == np.uint8

    def near(x, y, colour, rad=2):
        patch = out[y - rad:y + rad + 1, x - rad:x + rad + 1].reshape(-1, 3).astype(int)
        return (np.abs(patch - np.array(colour)).sum(1) < 60).any()

    assert near(55, 40, COLOURS["pass"])        # contour of the passing joint
    assert near(135, 40, COLOURS["fail"])       # failing joint
    assert near(126, 40, COLOURS["void"])       # its void outline
    assert near(40, 120, COLOURS["missing"])    # cross at the missing site
    assert near(130, 120, COLOURS["extra"])
    assert not near(55, 40, COLOURS["fail"])
    # works from a sidecar dict too, and labels add text pixels
    with_labels = draw_overlay(img, crafted_result().sidecar())
    assert (with_labels != out).any()


def test_to_display_stretches_any_dtype():
    f = np.linspace(0, 1, 100 * 100, dtype=np.float32).reshape(100, 100)
    d = to_display(f)
    assert d.dtype == np.uint8 and d.min() == 0 and d.max() == 255
    with pytest.raises(ValueError, match="2-D"):
        to_display(np.zeros(5))


def test_control_limits_use_moving_range():
    v = [10, 12, 10, 12, 10]
    mean, lcl, ucl = control_limits(v)
    assert mean == pytest.approx(10.8)
    assert ucl - mean == pytest.approx(3 * 2 / 1.128) and mean - lcl == pytest.approx(3 * 2 / 1.128)
    svg = svg_control_chart(v + [40], limit=25)
    assert svg.count("<circle") == 6 and 'class="limit"' in svg and "UCL" in svg
    assert svg.count('fill="#c00"') >= 1          # the 40 % frame is flagged


def test_svg_bars_and_histogram():
    svg = svg_bars([("void", 8), ("bridge", 2)])
    widths = [float(w) for w in re.findall(r'class="bar" x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and widths[0] == pytest.approx(4 * widths[1])
    assert "100 % cum." in svg and "80 % cum." in svg
    h = [0] * 101
    h[3], h[30] = 5, 1
    hs = svg_histogram(h, limit=25)
    assert hs.count("<rect") == 2 and 'fill="#c33"' in hs and "limit 25 %" in hs


def test_report_is_self_contained_with_charts(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    import cv2
    img = (np.random.default_rng(0).random((160, 160)) * 200).astype(np.uint8)
    for n in ("fail_a.png", "fail_b.png", "ok_c.png"):
        cv2.imwrite(str(inp / n), img)
    out = tmp_path / "out"
    s = run_batch([inp], out, workers=1, progress="none", scorer=report_scorer)
    assert (s.n_pass, s.n_fail) == (1, 2)
    html = (out / "report.html").read_text()
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', html)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert 'id="pareto-chart"' in html and 'id="control-chart-svg"' in html and 'id="void-hist"' in html
    pareto = html[html.index('id="pareto-chart"'):]
    pareto = pareto[:pareto.index("</svg>")]
    labels = re.findall(r'text-anchor="end">(\w+)</text>', pareto)
    assert labels[:1] == ["extra"] or labels[:1] == ["missing"] or labels[:1] == ["void"]
    assert sorted(labels) == ["extra", "missing", "void"]
    assert "33.3 %" in html                               # yield 1 of 3
    imgs = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert imgs and all(i.startswith("data:image/png;base64,") for i in imgs)
    assert html.count('alt="overlay"') == 2                # one thumbnail per failed frame
    assert html.count('alt="joint crop"') >= 4

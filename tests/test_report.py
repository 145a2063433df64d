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
    # a joint measured but not judged (cut by the edge, or partly hidden by copper) stands apart
    res = crafted_result()
    res.joints[0].partial = True
    part = draw_overlay(img, res, labels=False, thickness=1)
    out = part
    assert near(55, 40, COLOURS["partial"]) and not near(55, 40, COLOURS["pass"])


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
    imgs = re.findall(r'<img alt="([^"]+)" src="([^"]+)"', html)
    assert imgs and all(uri.startswith("data:image/png;base64,") for alt, uri in imgs if alt == "joint crop")
    # frame thumbnails are JPEG: as PNG a report of 24 failed frames weighed 18 MB
    assert all(uri.startswith("data:image/jpeg;base64,") for alt, uri in imgs if alt == "overlay")
    assert html.count('alt="overlay"') == 2                # one thumbnail per failed frame
    assert html.count('alt="joint crop"') >= 4


def mixed_scorer(path, *, frame=None, **kw):
    """BGA frames (bga*) with ball voids of 10-14 %; QFN frames (qfn*) whose thermal pad has 40-43 %
    voids (passes the 50 % pad limit, over the 25 % ball limit) and pins of 5 %; qfn_bad's pad 62 %."""
    i = int(frame.rsplit("_", 1)[1].split(".")[0])
    if frame.startswith("bga"):
        j = [JointResult(k, x_px=40.0 + 40 * k, y_px=40.0, diameter_px=30.0, area_px=700.0,
                         void_pct=10.0 + i + k, largest_void_pct=5.0, contour=_ring(40 + 40 * k, 40, 15))
             for k in range(2)]
        return FrameResult(frame=frame, package="bga", pitch_px=40.0, angle_deg=0.0, n_sites=2, joints=j)
    pad_void = 62.0 if "bad" in frame else 40.0 + i
    pad = JointResult(0, kind="pad", x_px=80.0, y_px=80.0, diameter_px=60.0, area_px=2800.0, void_pct=pad_void,
                      largest_void_pct=12.0, verdict="fail" if pad_void > 50 else "pass",
                      defects=["void"] if pad_void > 50 else [], contour=_ring(80, 80, 30))
    pins = [JointResult(k, kind="pin", x_px=20.0 * k, y_px=10.0, diameter_px=8.0, area_px=50.0, void_pct=5.0)
            for k in (1, 2, 3)]
    return FrameResult(frame=frame, package="qfn", pitch_px=20.0, angle_deg=0.0, pad_void_pct=pad_void,
                       joints=[pad] + pins)


def _svg(html, id):
    s = html[html.index(f'id="{id}"'):]
    return s[:s.index("</svg>")]


def _points(svg):
    """(fill, tooltip or "") of each plotted point."""
    return re.findall(r'<circle [^>]*fill="(#[0-9a-f]+)"(?:/>|>(?:<title>([^<]*)</title>)?)', svg)


def test_control_charts_judge_pads_against_the_pad_limit(tmp_path):
    import cv2

    inp = tmp_path / "in"
    inp.mkdir()
    img = (np.random.default_rng(0).random((160, 160)) * 200).astype(np.uint8)
    for n in ("bga_0.png", "qfn_1.png", "bga_2.png", "qfn_3.png", "bga_4.png", "qfn_bad_5.png"):
        cv2.imwrite(str(inp / n), img)
    out = tmp_path / "out"
    s = run_batch([inp], out, workers=1, progress="none", scorer=mixed_scorer)
    assert (s.n_pass, s.n_fail, s.n_error) == (5, 1, 0)
    html = (out / "report.html").read_text()
    order = [r.split(",")[0] for r in (out / "frames.csv").read_text().splitlines()[1:]]

    ball = _svg(html, "control-chart-svg")
    assert "limit 25 %" in ball and "limit 50 %" not in ball
    pts = _points(ball)
    assert len(pts) == 6
    # no ball or pin is over 25 % or out of control: a 41 % pad drawn here would be red
    assert all(f == "#36c" for f, _ in pts), pts
    # each frame's value is its largest ball/pin void %, never its pad's, in frame order
    assert [t.split(":")[0] for _, t in pts] == order
    want = {"bga_0.png": 11.0, "bga_2.png": 13.0, "bga_4.png": 15.0, "qfn_1.png": 5.0, "qfn_3.png": 5.0,
            "qfn_bad_5.png": 5.0}
    assert [float(t.split(": ")[1].split(" ")[0]) for _, t in pts] == [want[f] for f in order]

    assert 'id="pad-control-chart-svg"' in html
    pad = _svg(html, "pad-control-chart-svg")
    assert "limit 50 %" in pad and "limit 25 %" not in pad
    pts = {t.split(":")[0]: f for f, t in _points(pad)}
    assert list(pts) == [f for f in order if f.startswith("qfn")]
    # 41 % and 43 % pads pass the pad limit; the 62 % pad is over it
    assert pts["qfn_1.png"] == pts["qfn_3.png"] == "#36c" and pts["qfn_bad_5.png"] == "#c00"


def test_bga_only_batch_has_no_pad_chart(tmp_path):
    import cv2

    inp = tmp_path / "in"
    inp.mkdir()
    for n in ("bga_0.png", "bga_1.png"):
        cv2.imwrite(str(inp / n), np.zeros((40, 40), np.uint8))
    run_batch([inp], tmp_path / "out", workers=1, progress="none", scorer=mixed_scorer)
    html = (tmp_path / "out" / "report.html").read_text()
    assert len(_points(_svg(html, "control-chart-svg"))) == 2 and 'id="pad-control-chart-svg"' not in html

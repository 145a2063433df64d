"""A self-contained HTML report of a batch: one file, no network, no JavaScript.

Charts are inline SVG, images are PNG data URIs, CSS is inline. Sections: batch
yield, defect Pareto, void % histogram against the limit, control charts in
frame order (individuals charts: mean and 3-sigma limits from the average
moving range) of each frame's largest ball or pin void % against the ball
limit and of each QFN thermal pad's void % against the pad limit, a gallery
of the worst joints (crops of the raw frame) and a thumbnail overlay per
failed frame.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

from ._version import __version__

__all__ = ["write_report", "svg_bars", "svg_histogram", "svg_control_chart", "control_limits"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table.kv td{padding:2px 12px 2px 0}.big{font-size:28px;font-weight:600}
.fail{color:#c00}.pass{color:#080}.err{color:#a60}.warn{color:#a60;font-weight:bold}
.gallery{display:flex;flex-wrap:wrap;gap:10px}.gallery figure{margin:0;width:160px;font-size:11px}
.gallery img{width:160px;image-rendering:pixelated;border:1px solid #ccc}
.thumbs figure{width:300px}.thumbs img{width:300px;image-rendering:auto}
svg text{font-size:11px;font-family:inherit}
"""


def _esc(s):
    return html.escape(str(s), quote=True)


def _idattr(id):
    return f'id="{_esc(id)}" ' if id else ""


def svg_bars(items, *, title="", width=560, bar_h=22, colour="#c33", id=None):
    """Horizontal bar chart (Pareto order as given) with a cumulative % column.

    Parameters
    ----------
    items : list of (label, count)
    """
    total = sum(n for _, n in items) or 1
    h = bar_h * max(1, len(items)) + 30
    vmax = max([n for _, n in items] or [1]) or 1
    left, right = 90, 110
    span = width - left - right
    parts = [f'<svg {_idattr(id)}width="{width}" '
             f'height="{h}" role="img" aria-label="{_esc(title)}">']
    cum = 0
    if not items:
        parts.append('<text x="10" y="20">no defects</text>')
    for i, (label, n) in enumerate(items):
        y = 10 + i * bar_h
        cum += n
        bw = span * n / vmax
        parts.append(f'<text x="{left - 6}" y="{y + bar_h * 0.65:.1f}" text-anchor="end">{_esc(label)}</text>')
        parts.append(f'<rect class="bar" x="{left}" y="{y + 2}" width="{bw:.1f}" height="{bar_h - 6}" fill="{colour}"/>')
        parts.append(f'<text x="{left + bw + 4:.1f}" y="{y + bar_h * 0.65:.1f}">{n} '
                     f'({100 * cum / total:.0f} % cum.)</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_histogram(counts, *, limit=None, width=560, height=200, xlabel="void %", id=None):
    """Histogram of 1 %-wide bins (``counts[i]`` = values in [i, i+1)), with a dashed limit line."""
    counts = list(counts)
    last = max([i for i, c in enumerate(counts) if c] + [int(limit or 0) + 5, 20])
    last = min(len(counts) - 1, last + 2)
    shown = counts[: last + 1]
    left, bottom, top = 40, 30, 10
    span_w, span_h = width - left - 10, height - bottom - top
    cmax = max(shown + [1])
    bw = span_w / len(shown)
    parts = [f'<svg {_idattr(id)}width="{width}" '
             f'height="{height}" role="img" aria-label="histogram of {_esc(xlabel)}">']
    for i, c in enumerate(shown):
        if not c:
            continue
        # at least 2 px: a bin of a few joints beside one of thousands (the 0 % bin) must stay
        # visible, above all the joints over the limit
        bh = max(2.0, span_h * c / cmax)
        over = limit is not None and i >= limit
        parts.append(f'<rect x="{left + i * bw:.1f}" y="{top + span_h - bh:.1f}" width="{max(bw - 1, 0.5):.1f}" '
                     f'height="{bh:.1f}" fill="{"#c33" if over else "#4a7"}"><title>{i}-{i + 1} %: {c}</title></rect>')
    parts.append(f'<line x1="{left}" y1="{top + span_h}" x2="{width - 10}" y2="{top + span_h}" stroke="#444"/>')
    for v in range(0, last + 1, 5 if last <= 50 else 10):
        parts.append(f'<text x="{left + v * bw:.1f}" y="{height - 12}" text-anchor="middle">{v}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{cmax}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 1}" text-anchor="end">{_esc(xlabel)}</text>')
    if limit is not None:
        x = left + limit * bw
        parts.append(f'<line class="limit" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + span_h}" stroke="#c00" '
                     f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{top + 20}" fill="#c00">limit {limit:g} %</text>')
    parts.append("</svg>")
    return "".join(parts)


def control_limits(values):
    """Individuals-chart centre line and 3-sigma limits, sigma from the mean moving range / 1.128.

    Returns
    -------
    (mean, lcl, ucl) : floats; ``lcl`` is not clipped. NaNs when ``values`` is empty.
    """
    v = np.asarray(values, float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(v.mean())
    sigma = float(np.abs(np.diff(v)).mean() / 1.128) if v.size > 1 else 0.0
    return mean, mean - 3 * sigma, mean + 3 * sigma


def svg_control_chart(values, *, limit=None, width=760, height=240, id=None, max_points=5000, names=None,
                      label="control chart"):
    """Control chart of per-frame values in frame order: points, mean, +-3 sigma, spec limit.

    Parameters
    ----------
    values : sequence of float
        One value per frame, in frame order (void %, 0-100).
    limit : float, optional
        The spec limit these values are judged against (%): a dashed red line;
        points above it are drawn red.
    names : sequence of str, optional
        Frame names, shown as each point's tooltip.
    label : str
        The chart's accessible name (``aria-label``).
    """
    v = np.asarray(values, float)
    mean, lcl, ucl = control_limits(v)
    left, right, top, bottom = 45, 70, 10, 25
    pw, ph = width - left - right, height - top - bottom
    parts = [f'<svg {_idattr(id)}width="{width}" '
             f'height="{height}" role="img" aria-label="{_esc(label)}">']
    if v.size == 0:
        parts.append('<text x="10" y="20">no frames scored</text></svg>')
        return "".join(parts)
    ymax = max(float(v.max()), ucl if math.isfinite(ucl) else 0, limit or 0, 1.0) * 1.08
    n = v.size

    def X(i):
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def Y(y):
        return top + ph - ph * max(0.0, y) / ymax

    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#aaa"/>')
    for name, y, colour, dash in (("mean", mean, "#36c", ""), ("UCL", ucl, "#e80", "5 3"),
                                  ("LCL", max(lcl, 0.0), "#e80", "5 3")):
        parts.append(f'<line class="cl-{name.lower()}" x1="{left}" x2="{left + pw}" y1="{Y(y):.1f}" y2="{Y(y):.1f}" '
                     f'stroke="{colour}" stroke-dasharray="{dash}"/>'
                     f'<text x="{left + pw + 4}" y="{Y(y) + 4:.1f}" fill="{colour}">{name} {y:.1f}</text>')
    if limit is not None:
        parts.append(f'<line class="limit" x1="{left}" x2="{left + pw}" y1="{Y(limit):.1f}" y2="{Y(limit):.1f}" '
                     f'stroke="#c00"/><text x="{left + 4}" y="{Y(limit) - 3:.1f}" fill="#c00">limit {limit:g} %</text>')
    step = max(1, n // max_points)
    idx = np.arange(0, n, step)
    pts = " ".join(f"{X(i):.1f},{Y(v[i]):.1f}" for i in idx)
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#888" stroke-width="0.8"/>')
    for i in idx:
        out = v[i] > ucl or v[i] < lcl or (limit is not None and v[i] > limit)
        tip = f"<title>{_esc(names[i])}: {v[i]:.1f} %</title>" if names is not None and i < len(names) else ""
        parts.append(f'<circle cx="{X(i):.1f}" cy="{Y(v[i]):.1f}" r="{3 if out else 2}" '
                     f'fill="{"#c00" if out else "#36c"}">{tip}</circle>')
    parts.append(f'<text x="{left}" y="{height - 6}">frame 1</text>'
                 f'<text x="{left + pw}" y="{height - 6}" text-anchor="end">frame {n}</text>'
                 f'<text x="4" y="{top + 10}">{ymax:.0f} %</text>')
    parts.append("</svg>")
    return "".join(parts)


def _control_section(series, limit, limit_name, id, what):
    """Caption and individuals chart of one per-frame series against its own limit.

    Parameters
    ----------
    series : list of (frame name, value %)
    limit : float or None
        Spec limit of this series (%).
    limit_name : str
        The limit's key in the recipe / profile, named in the caption.
    id : str
        The chart's element id.
    what : str
        Which frames the series holds, for the caption.
    """
    vals = [v for _, v in series]
    if not vals:
        return f"<p>No {_esc(what)} scored.</p>" + svg_control_chart(vals, limit=limit, id=id)
    mean, lcl, ucl = control_limits(vals)
    lim = f"the {_esc(limit_name)} limit ({limit:g} %)" if limit is not None else "no limit"
    cap = (f"<p>{len(vals)} {_esc(what)}. Individuals chart: mean {mean:.2f} %, 3-sigma limits "
           f"{max(lcl, 0):.2f} to {ucl:.2f} % (sigma from the mean moving range / 1.128); red points fall "
           f"outside them or over {lim}.</p>")
    return cap + svg_control_chart(vals, limit=limit, id=id, names=[f for f, _ in series],
                                   label=f"control chart against {limit_name}")


def _data_uri(img_bgr_or_grey, ext, mime, params=()):
    import cv2

    ok, buf = cv2.imencode(ext, img_bgr_or_grey, list(params))
    if not ok:
        return ""
    return f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _png_uri(img_bgr_or_grey):
    return _data_uri(img_bgr_or_grey, ".png", "image/png")


def _jpeg_uri(img_bgr_or_grey, quality=85):
    """A JPEG data URI: frame thumbnails are photographic (grain, gradients), where PNG is about
    7x larger (a 600 px overlay of a 1024 px BGA frame: 610 kB as PNG, 84 kB as JPEG 85)."""
    import cv2

    return _data_uri(img_bgr_or_grey, ".jpg", "image/jpeg", (cv2.IMWRITE_JPEG_QUALITY, int(quality)))


def _read(path, max_pixels):
    from . import io as xio

    kw = {} if max_pixels is None else {"max_pixels": max_pixels}
    try:
        image, _ = xio.read_frame(path, **kw)
        return image
    except Exception:
        return None


def joint_crop(image, joint, *, size=128, margin=1.6):
    """A square uint8 crop of ``image`` around a joint, resized to ``size`` px.

    The crop spans ``margin`` x the joint diameter (at least 24 px) around
    ``x_px, y_px`` (its expected site for a missing ball), clipped to the frame.
    Returns None when the joint has no usable position.
    """
    import cv2

    from .overlay import to_display

    x, y = joint.get("x_px"), joint.get("y_px")
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        x, y = joint.get("site_x_px"), joint.get("site_y_px")
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        return None
    d = float(joint.get("diameter_px") or 0) or 24.0
    half = max(12, int(round(d * margin / 2)))
    h, w = image.shape[:2]
    x0, x1 = max(0, int(x) - half), min(w, int(x) + half + 1)
    y0, y1 = max(0, int(y) - half), min(h, int(y) + half + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    crop = to_display(image[y0:y1, x0:x1], annotations=False)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST if crop.shape[0] < size else cv2.INTER_AREA)


def write_report(out, agg, summary, *, limits, store=None, paths=None, max_pixels=None, thumb=600):
    """Write ``out/report.html`` from a batch's aggregate (see :mod:`xrayinspect.batch`).

    Parameters
    ----------
    out : path
    agg : xrayinspect.batch.Aggregate
    summary : xrayinspect.batch.BatchSummary
    limits : dict
        The limits used (``ball_void_pct``, ``pad_void_pct``, ...).
    store : xrayinspect.batch.Store, optional
        To read failed frames' joints for the thumbnails.
    paths : dict, optional
        Frame name -> file path, to crop the raw frames.
    """
    import cv2

    from .overlay import draw_overlay

    out = Path(out)
    paths = paths or {}
    ball_lim = limits.get("ball_void_pct")
    pad_lim = limits.get("pad_void_pct")
    y = summary.yield_pct
    pareto = sorted(summary.defects.items(), key=lambda kv: (-kv[1], kv[0]))

    body = [f"<h1>xrayinspect batch report</h1>",
            '<table class="kv">',
            f'<tr><td>Yield</td><td class="big" id="yield">{"n/a" if not math.isfinite(y) else f"{y:.1f} %"}</td></tr>',
            f"<tr><td>Frames</td><td>{summary.n_frames}: <span class=pass>{summary.n_pass} pass</span>, "
            f"<span class=fail>{summary.n_fail} fail</span>, <span class=err>{summary.n_error} error</span></td></tr>",
            f"<tr><td>Joints</td><td>{summary.n_joints}</td></tr>",
            f"<tr><td>Rule profile</td><td>{_esc(summary.profile)}; limits: "
            + ", ".join(f"{_esc(k)} {v:g}" for k, v in limits.items()) + "</td></tr>",
            f"<tr><td>Run</td><td>{summary.n_scored} scored now, {summary.n_resumed} resumed; "
            f"{summary.seconds:.1f} s wall on {_esc(summary.backend)} "
            f"({summary.workers} worker{'' if summary.workers == 1 else 's'}); "
            f"xrayinspect {__version__}</td></tr>",
            "</table>"]
    if getattr(agg, "repaired_frames", 0):
        # an export that kept its detector's defects: the machine's defect map wants looking at
        body.append(f'<p class="warn" id="detector-defects">Detector defects: stuck pixels or dead/hot lines '
                    f'filled in on {agg.repaired_frames} frame{"" if agg.repaired_frames == 1 else "s"} '
                    f'({agg.repaired_px} px; <code>repaired_px</code> in frames.csv) - the X-ray machine\'s '
                    f'defect-pixel map may be out of date.</p>')
    if agg.errors:
        body.append("<h2>Frames not scored</h2><ul>" + "".join(
            f"<li>{n} x {_esc(r)}</li>" for r, n in agg.errors.most_common(10)) + "</ul>")

    body.append('<h2 id="pareto">Defect Pareto (joints)</h2>')
    body.append(svg_bars(pareto, title="defect Pareto", id="pareto-chart"))

    body.append('<h2 id="void-histogram">Void % of balls and pins</h2>')
    body.append(svg_histogram(agg.ball_void_hist, limit=ball_lim, id="void-hist"))
    if any(agg.pad_void_hist):
        body.append("<h3>QFN thermal pads</h3>")
        body.append(svg_histogram(agg.pad_void_hist, limit=pad_lim, id="pad-void-hist"))

    # one chart per limit: balls and QFN pins are judged against ball_void_pct, thermal pads against
    # pad_void_pct; a pad on the ball chart would be drawn over a limit that does not apply to it
    body.append('<h2 id="control-chart">Largest ball or pin void % per frame, in frame order</h2>')
    body.append(_control_section(agg.frame_ball_void, ball_lim, "ball_void_pct", "control-chart-svg",
                                 "frames with balls or pins"))
    if agg.frame_pad_void:
        body.append('<h3 id="pad-control-chart">QFN thermal pad void % per frame, in frame order</h3>')
        body.append(_control_section(agg.frame_pad_void, pad_lim, "pad_void_pct", "pad-control-chart-svg",
                                     "QFN frames"))

    # worst joints: crops of the raw frame, grouped by frame so each frame is read once
    worst = agg.worst_joints()
    if worst:
        body.append('<h2 id="worst">Worst joints</h2><div class="gallery">')
        by_frame = {}
        for f, j in worst:
            by_frame.setdefault(f, []).append(j)
        crops = {}
        for f, js in by_frame.items():
            image = _read(paths[f], max_pixels) if f in paths else None
            for j in js:
                crops[(f, j.get("joint_id"))] = joint_crop(image, j) if image is not None else None
        for f, j in worst:
            c = crops.get((f, j.get("joint_id")))
            img = f'<img alt="joint crop" src="{_png_uri(c)}">' if c is not None else "<div>(frame not readable)</div>"
            codes = ";".join(j.get("defects") or []) or "-"
            body.append(f"<figure>{img}<figcaption>{_esc(f)} #{j.get('joint_id')} ({_esc(j.get('kind'))})<br>"
                        f"void {float(j.get('void_pct') or 0):.1f} %, {_esc(j.get('verdict'))}: {_esc(codes)}"
                        "</figcaption></figure>")
        body.append("</div>")

    if agg.failed and store is not None:
        more = summary.n_fail - len(agg.failed)
        body.append(f'<h2 id="failed">Failed frames{f" (first {len(agg.failed)}; {more} more in frames.csv)" if more > 0 else ""}'
                    '</h2><div class="gallery thumbs">')
        for f in agg.failed:
            image = _read(paths[f], max_pixels) if f in paths else None
            if image is None:
                continue
            try:
                d = store.read(f)
            except (KeyError, ValueError):
                continue
            ov = draw_overlay(image, d)
            s = thumb / max(ov.shape[:2])
            if s < 1:
                ov = cv2.resize(ov, (max(1, round(ov.shape[1] * s)), max(1, round(ov.shape[0] * s))),
                                interpolation=cv2.INTER_AREA)
            n_fail = sum(j.get("verdict") == "fail" for j in d.get("joints") or [])
            body.append(f'<figure><img alt="overlay" src="{_jpeg_uri(ov)}"><figcaption>{_esc(f)}: '
                        f"{n_fail} failing joints</figcaption></figure>")
        body.append("</div>")

    doc = ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
           "<meta name=viewport content='width=device-width,initial-scale=1'>"
           f"<title>xrayinspect report</title><style>{_CSS}</style></head><body>"
           + "\n".join(body) + "</body></html>\n")
    from .results import atomic_write_text

    atomic_write_text(out / "report.html", doc)
    return out / "report.html"

"""Draw a frame's joints and calls over the frame, for review.

Colours (BGR, as OpenCV writes them): pass green, fail red, missing site a
yellow cross, extra solder magenta, voids outlined cyan, fitted grid sites small
grey dots; failing joints carry their defect codes as text.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["draw_overlay", "to_display", "COLOURS"]

COLOURS = {
    "pass": (0, 200, 0),
    "fail": (0, 0, 255),
    "missing": (0, 230, 255),
    "extra": (255, 0, 255),
    "partial": (200, 120, 0),          # blue: measured, not judged (cut by the edge, or partly hidden)
    "void": (255, 255, 0),
    "site": (150, 150, 150),
    "text": (255, 255, 255),
}


def to_display(image, *, lo_pct=0.5, hi_pct=99.5, annotations=True):
    """A grey frame as uint8 with a percentile stretch (any dtype, 2-D or 3-D).

    Parameters
    ----------
    image : ndarray, (H, W) or (H, W, C)
    annotations : bool
        Read the percentiles without burned-in annotations
        (:func:`xrayinspect.annotations.annotation_mask`), which stay drawn,
        clipped. False for a crop (its extremes are not the frame's) or a
        frame known to hold none.

    Returns
    -------
    ndarray, uint8, (H, W)
    """
    return _display(image, lo_pct, hi_pct, annotations, want_marks=False)[0]


def _display(image, lo_pct=0.5, hi_pct=99.5, annotations=True, want_marks=True):
    """:func:`to_display`'s frame and the burned-in annotations' pixels (bool; None when not looked
    for: ``annotations`` False, or an 8-bit frame, which is not stretched, without ``want_marks``)."""
    img = np.asarray(image)
    if img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {img.shape}")
    from .annotations import annotation_mask

    if img.dtype == np.uint8:
        return img, (annotation_mask(img) if annotations and want_marks else None)
    f = img.astype(np.float32)
    finite = f[np.isfinite(f)]
    if finite.size == 0:
        return np.zeros(img.shape, np.uint8), None
    marks = annotation_mask(img) if annotations and img.dtype.kind in "uif" else None
    if marks is not None and marks.any():
        # burned-in text at the container's full scale would set the stretch
        # and leave the joints near black: the stretch is read without it
        finite = f[~marks & np.isfinite(f)]
        if finite.size == 0:
            finite = f[np.isfinite(f)]
    sample = finite[:: max(1, finite.size // 200_000)]
    lo, hi = np.percentile(sample, [lo_pct, hi_pct])
    if hi <= lo:
        hi = lo + 1.0
    out = np.clip((np.nan_to_num(f, nan=lo) - lo) * (255.0 / (hi - lo)), 0, 255)
    return out.astype(np.uint8), marks


def _get(obj, key, default=None):
    if isinstance(obj, dict):
        v = obj.get(key, default)
    else:
        v = getattr(obj, key, default)
    return default if v is None else v


def _finite(*vals):
    try:
        return all(math.isfinite(float(v)) for v in vals)
    except (TypeError, ValueError):
        return False


def draw_overlay(image, result, *, thickness=None, labels=True):
    """Draw joints, voids, grid sites and defect codes over a frame.

    Parameters
    ----------
    image : ndarray, (H, W)
        The frame as read (:func:`xrayinspect.io.read_frame`), any dtype.
    result : FrameResult or dict
        A scored frame or its sidecar dict (joints with ``contour`` and
        ``void_contours`` in px; joints without a contour are drawn as a
        circle of ``diameter_px`` at ``x_px, y_px``).
    thickness : int, optional
        Line width, px (default scales with the frame size).
    labels : bool
        Write defect codes beside failing joints and a header line.

    Returns
    -------
    ndarray, uint8, (H, W, 3)
        BGR, ready for ``cv2.imwrite``.

    Examples
    --------
    >>> import numpy as np
    >>> from xrayinspect.results import FrameResult, JointResult
    >>> r = FrameResult("f.png", joints=[JointResult(0, x_px=20, y_px=20, diameter_px=10)])
    >>> draw_overlay(np.zeros((64, 64), np.uint16), r).shape
    (64, 64, 3)
    """
    import cv2

    # the scorer says whether it filled annotations in (older sidecars: look)
    grey, marks = _display(image, annotations=bool(_get(result, "annotation_px", 1)))
    out = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    h, w = grey.shape
    # sizes follow the frame but stay bounded: a 3 x 100000 frame must not ask
    # OpenCV for a 100 px stroke (which crashes it) nor text that cannot fit
    t = thickness or int(np.clip(round(max(h, w) / 1000), 1, 8))
    font_scale = float(np.clip(max(h, w) / 2500, 0.35, 3.0))
    if min(h, w) < 40:
        labels = False
    joints = list(_get(result, "joints", []) or [])

    def jget(j, k, d=None):
        return _get(j, k, d)

    # grid sites: each joint's expected site. Every expected site holds a ball
    # or a missing row, in every array of the frame, so these are the lattice
    # without its depopulated sites (which a drawing of rows x cols would mark)
    sites = [(jget(j, "site_x_px"), jget(j, "site_y_px")) for j in joints]
    dot = max(1, t)
    for x, y in sites:
        if _finite(x, y):
            cv2.circle(out, (round(x), round(y)), dot, COLOURS["site"], -1, cv2.LINE_AA)

    for j in joints:
        defects = list(jget(j, "defects", []) or [])
        if isinstance(defects, str):
            defects = [c for c in defects.split(";") if c]
        verdict = jget(j, "verdict", "pass")
        if "missing" in defects:
            x, y = jget(j, "site_x_px"), jget(j, "site_y_px")
            if not _finite(x, y):
                x, y = jget(j, "x_px"), jget(j, "y_px")
            if _finite(x, y):
                d = max(6, int(float(jget(j, "diameter_px", 0) or 0) / 2) or int(6 * t))
                cv2.drawMarker(out, (round(x), round(y)), COLOURS["missing"], cv2.MARKER_TILTED_CROSS,
                               max(8, d), t + 1, cv2.LINE_AA)
                if labels:
                    _label(cv2, out, "missing", x, y, d, font_scale, t)
            continue
        partial = jget(j, "partial", False)
        colour = COLOURS["extra"] if "extra" in defects else COLOURS[
            "fail" if verdict == "fail" else "partial" if partial and str(partial) not in ("0", "False") else "pass"]
        contour = jget(j, "contour", []) or []
        x, y = jget(j, "x_px"), jget(j, "y_px")
        r = float(jget(j, "diameter_px", 0) or 0) / 2
        if len(contour) >= 3:
            pts = np.round(np.asarray(contour, np.float64)).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [pts], True, colour, t, cv2.LINE_AA)
        elif _finite(x, y) and r > 0:
            cv2.circle(out, (round(x), round(y)), max(1, round(r)), colour, t, cv2.LINE_AA)
        for vc in jget(j, "void_contours", []) or []:
            if len(vc) >= 3:
                pts = np.round(np.asarray(vc, np.float64)).astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(out, [pts], True, COLOURS["void"], max(1, t - 1) if t > 1 else 1, cv2.LINE_AA)
        if labels and defects and _finite(x, y):
            _label(cv2, out, ";".join(defects), x, y, r, font_scale, t)

    if labels:
        verdict = _get(result, "verdict", "")
        if not isinstance(verdict, str):
            verdict = ""
        n_fail = sum(jget(j, "verdict") == "fail" for j in joints)
        head = _ascii(f"{_get(result, 'frame', '')}  {verdict}  {len(joints)} joints, {n_fail} fail")[:120]
        (tw, th), base = cv2.getTextSize(head, cv2.FONT_HERSHEY_SIMPLEX, font_scale, t)
        pad = max(2, t)
        org = _header_origin(marks, (h, w), tw, th, base, pad, int(8 * t), int(28 * font_scale / 0.5))
        # a dark plate, not an outline: an outlined title read as two overlapping
        # strings once the overlay was shrunk for the report
        cv2.rectangle(out, (org[0] - pad, org[1] - th - pad), (org[0] + tw + pad, org[1] + base + pad),
                      (0, 0, 0), -1)
        cv2.putText(out, head, org, cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    COLOURS["fail"] if verdict == "fail" else COLOURS["text"], t, cv2.LINE_AA)
    return out


def _header_origin(marks, shape, tw, th, base, pad, margin, top):
    """Where the header line goes: the top-left corner, or the first other corner
    (top right, bottom left, bottom right) whose plate covers fewer of the
    burned-in annotation's pixels ``marks`` (the export's own text, which the
    reviewer reads: board serial, kV, date)."""
    h, w = shape
    left, right = margin, max(margin, w - margin - tw)
    upper, lower = top, max(top, h - margin - base)
    corners = [(left, upper), (right, upper), (left, lower), (right, lower)]
    if marks is None or not marks.any():
        return corners[0]

    def covered(org):
        x0, y0 = max(org[0] - pad, 0), max(org[1] - th - pad, 0)
        return int(np.count_nonzero(marks[y0:org[1] + base + pad + 1, x0:org[0] + tw + pad + 1]))

    return min(corners, key=covered)         # (the first of equals: top left first)


def _ascii(text):
    """Text OpenCV's Hershey fonts can draw (non-ASCII and surrogates become '?')."""
    return str(text).encode("ascii", "replace").decode("ascii")


def _label(cv2, out, text, x, y, r, scale, t):
    text = _ascii(text)
    org = (round(x + r + 2), round(y - r - 2))
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale * 0.8, (0, 0, 0), t + 2, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale * 0.8, COLOURS["text"], t, cv2.LINE_AA)

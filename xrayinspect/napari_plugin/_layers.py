"""FrameResult -> napari layer data (Qt-free; plain numpy and dicts).

Every function returns napari "layer data tuples" ``(data, kwargs, type)``
or the pieces of one, so it is testable without a viewer.

Conventions
-----------
- Joint labels: ``label = joint_id + 1`` (0 is background). The ``features``
  table has one row per joint that has a contour, with every
  ``joints.csv`` column (:data:`xrayinspect.results.JOINT_COLUMNS`) plus
  ``index`` (the label id), ``verdict_auto``, ``defects_auto``,
  ``reviewed``, ``operator`` and ``reason``.
- ``verdict`` / ``defects`` in the features are the *current* (final)
  calls; ``*_auto`` keep what scoring said.
- Coordinates: results hold ``x`` (column), ``y`` (row); napari wants
  ``(row, col)``.
"""

import math

import cv2
import numpy as np

from ..results import JOINT_COLUMNS, FrameResult

#: RGBA colours (0-1) of the calls.
COLORS = {
    "pass": (0.10, 0.80, 0.20, 1.0),       # green
    "fail": (0.95, 0.10, 0.10, 1.0),       # red
    "missing": (1.00, 0.90, 0.00, 1.0),    # yellow
    "extra": (1.00, 0.00, 1.00, 1.0),      # magenta
    "hip": (1.00, 0.55, 0.00, 1.0),        # orange
    "void": (0.00, 0.90, 1.00, 1.0),       # cyan (void outlines)
    "site": (0.60, 0.60, 0.60, 0.6),       # grey (expected grid site)
    "transparent": (0.0, 0.0, 0.0, 0.0),
}

#: Extra feature columns added to the interface columns.
REVIEW_COLUMNS = ["index", "verdict_auto", "defects_auto", "reviewed", "operator", "reason"]

ROLE_KEY = "xrayinspect"     # layer.metadata[ROLE_KEY] = {"role": ..., "frame": ...}


def parse_defects(value):
    """``"void;hip"`` or a list -> sorted-by-code-order list of codes."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        codes = [c.strip() for c in value.split(";") if c.strip()]
    else:
        codes = [str(c) for c in value]
    order = {c: i for i, c in enumerate(("void", "bridge", "missing", "misaligned", "hip", "extra"))}
    return sorted(dict.fromkeys(codes), key=lambda c: (order.get(c, 99), c))


def call_color(verdict, defects):
    """RGBA of a joint from its verdict and defect codes.

    Precedence: missing (yellow) > extra (magenta) > hip (orange) >
    fail (red) > pass (green).
    """
    codes = parse_defects(defects)
    for code in ("missing", "extra", "hip"):
        if code in codes:
            return COLORS[code]
    return COLORS["fail"] if (verdict == "fail" or codes) else COLORS["pass"]


def rasterize_joints(result, shape=None):
    """Label image of the joints: ``joint_id + 1`` inside each contour.

    Parameters
    ----------
    result : FrameResult
    shape : tuple of int, optional
        ``(rows, cols)``; default ``result.shape``.

    Returns
    -------
    ndarray of int32, shape ``shape``
    """
    shape = tuple(shape or result.shape or ())
    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, cols); got {shape!r} (pass shape= or set result.shape)")
    labels = np.zeros(shape, dtype=np.int32)
    # big joints first so that small ones drawn on top stay visible
    for j in sorted(result.joints, key=lambda j: -float(j.area_px or 0)):
        pts = _contour_array(j.contour)
        if pts is None:
            continue
        cv2.fillPoly(labels, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], int(j.joint_id) + 1)
    return labels


def _contour_array(contour, min_points=3):
    if contour is None or len(contour) < min_points:
        return None
    pts = np.asarray(contour, dtype=float).reshape(-1, 2)
    if not np.all(np.isfinite(pts)):
        return None
    return pts


def joint_features(result, review=None):
    """Features table (dict of column -> list) of the joints that have a contour.

    Parameters
    ----------
    result : FrameResult
        Auto calls (as scored).
    review : dict, optional
        ``{joint_id: {"verdict", "defects", "operator", "reason"}}``: final
        calls from a review replay; joints not in it keep the auto call.
    """
    review = review or {}
    cols = {c: [] for c in JOINT_COLUMNS + REVIEW_COLUMNS}
    for j in result.joints:
        if _contour_array(j.contour) is None:
            continue
        row = j.row(result.frame)
        for c in JOINT_COLUMNS:
            v = row[c]
            cols[c].append(np.nan if v == "" and c not in ("frame", "kind", "verdict", "defects",
                                                             "classifier_label") else v)
        r = review.get(int(j.joint_id))
        cols["index"].append(int(j.joint_id) + 1)
        cols["verdict_auto"].append(j.verdict)
        cols["defects_auto"].append(";".join(j.defects))
        if r is not None:
            cols["verdict"][-1] = r["verdict"]
            cols["defects"][-1] = ";".join(parse_defects(r["defects"]))
        cols["reviewed"].append(r is not None)
        cols["operator"].append("" if r is None else r.get("operator", ""))
        cols["reason"].append("" if r is None else r.get("reason", ""))
    return cols


def label_colormap(features):
    """``{label: rgba}`` for a napari Labels layer (background transparent)."""
    cmap = {None: COLORS["transparent"], 0: COLORS["transparent"]}
    for idx, verdict, defects in zip(features["index"], features["verdict"], features["defects"]):
        cmap[int(idx)] = call_color(verdict, defects)
    return cmap


def rasterize_voids(result, shape=None):
    """Label image of the voids: ``joint_id + 1`` of the joint that holds each void.

    Void contours come from the scorer as traced pixel outlines; tiny voids
    give degenerate (line or point) contours, which filling handles where
    polygon triangulation (a Shapes layer) fails, hence Labels.
    """
    shape = tuple(shape or result.shape or ())
    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, cols); got {shape!r} (pass shape= or set result.shape)")
    labels = np.zeros(shape, dtype=np.int32)
    for j in result.joints:
        polys = [np.round(p).astype(np.int32).reshape(-1, 1, 2)
                 for p in (_contour_array(vc, min_points=1) for vc in (j.void_contours or [])) if p is not None]
        if polys:
            cv2.fillPoly(labels, polys, int(j.joint_id) + 1)
            cv2.polylines(labels, polys, True, int(j.joint_id) + 1)     # 1-2 px voids: their pixels
    return labels


def site_points(result, review=None):
    """Expected grid sites as ``(n, 2)`` (row, col), their features and face colours.

    Every joint with a finite site position gives a point; missing sites
    (no ball) are drawn in the missing colour, others in grey.
    """
    review = review or {}
    pts, ids, verdicts, defects, colors = [], [], [], [], []
    for j in result.joints:
        x, y = j.site_x_px, j.site_y_px
        missing = "missing" in j.defects or (j.diameter_px == 0 and j.kind == "ball")
        if not (np.isfinite(x) and np.isfinite(y)):
            if not missing:
                continue
            x, y = j.x_px, j.y_px
            if not (np.isfinite(x) and np.isfinite(y)):
                continue
        r = review.get(int(j.joint_id))
        v = r["verdict"] if r else j.verdict
        d = parse_defects(r["defects"]) if r else list(j.defects)
        pts.append((y, x))
        ids.append(int(j.joint_id))
        verdicts.append(v)
        defects.append(";".join(d))
        colors.append(COLORS["missing"] if "missing" in d else COLORS["site"])
    data = np.asarray(pts, dtype=float).reshape(-1, 2)
    feats = {"joint_id": ids, "verdict": verdicts, "defects": defects}
    return data, feats, np.asarray(colors, dtype=float).reshape(-1, 4)


def result_to_layers(result, *, shape=None, review=None, name=None, extra_metadata=None):
    """All layers of one scored frame as napari layer data tuples.

    Parameters
    ----------
    result : FrameResult
    shape : tuple, optional
        Frame ``(rows, cols)``; default ``result.shape``.
    review : dict, optional
        Final calls by joint id (see :func:`joint_features`).
    name : str, optional
        Layer-name prefix; default the frame name.
    extra_metadata : dict, optional
        Merged into each layer's ``metadata[ROLE_KEY]`` (e.g. the output
        folder and image path the review widget needs).

    Returns
    -------
    list of (data, kwargs, layer_type)
        ``joints`` (labels), ``voids`` (labels: joint_id + 1 of the holding joint), ``sites`` (points).
    """
    if not isinstance(result, FrameResult):
        raise TypeError(f"result must be a FrameResult, got {type(result).__name__}")
    name = name or result.frame or "frame"
    meta = {"frame": result.frame, **(extra_metadata or {})}
    feats = joint_features(result, review)
    labels = rasterize_joints(result, shape)
    layers = [(labels, {"name": f"{name} joints", "features": feats, "colormap": label_colormap(feats),
                        "opacity": 0.45,
                        "metadata": {ROLE_KEY: {**meta, "role": "joints", "result": result}}}, "labels")]
    voids = rasterize_voids(result, labels.shape)
    layers.append((voids, {"name": f"{name} voids", "colormap": {None: COLORS["void"], 0: COLORS["transparent"]},
                           "opacity": 0.8, "metadata": {ROLE_KEY: {**meta, "role": "voids"}}}, "labels"))
    pts, pfeats, pcolors = site_points(result, review)
    size = _site_size(result)
    layers.append((pts, {"name": f"{name} sites", "features": pfeats, "face_color": pcolors,
                         "border_color": pcolors, "size": size, "symbol": "cross", "ndim": 2,
                         "metadata": {ROLE_KEY: {**meta, "role": "sites"}}}, "points"))
    return layers


def _site_size(result):
    d = [j.diameter_px for j in result.joints if j.kind == "ball" and j.diameter_px > 0]
    return float(max(3.0, 0.35 * np.median(d))) if d else 5.0


def result_from_truth(truth, frame="", *, polarity=None):
    """A :class:`FrameResult` built from simulator truth (for samples and tests).

    Balls get circular contours of their truth diameter; QFN pins and pads get
    squares of their truth area. No voids contours are known, so none are
    drawn. Calls are the simulator's.
    """
    from ..results import JointResult

    joints = []
    for t in truth["joints"]:
        d = float(t.get("diameter_px", 0.0) or 0.0)
        x, y = float(t.get("x_px", math.nan)), float(t.get("y_px", math.nan))
        contour = []
        if d > 0 and np.isfinite(x) and np.isfinite(y) and "missing" not in t.get("defects", []):
            if t.get("kind") == "ball":
                a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
                contour = np.c_[x + 0.5 * d * np.cos(a), y + 0.5 * d * np.sin(a)].round(2).tolist()
            else:
                h = 0.5 * math.sqrt(max(float(t.get("area_px", d * d)), 1.0))
                contour = [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h]]
        joints.append(JointResult(
            joint_id=int(t["joint_id"]), kind=t.get("kind", "ball"),
            grid_row=int(t.get("grid_row", -1)), grid_col=int(t.get("grid_col", -1)), x_px=x, y_px=y,
            site_x_px=float(t.get("site_x_px", math.nan)), site_y_px=float(t.get("site_y_px", math.nan)),
            offset_px=float(t.get("offset_px", math.nan)), diameter_px=d if contour else 0.0,
            area_px=float(t.get("area_px", 0.0)) if contour else 0.0,
            void_pct=float(t.get("void_pct", 0.0)), largest_void_pct=float(t.get("largest_void_pct", 0.0)),
            void_count=int(t.get("void_count", 0)), verdict=t.get("verdict", "pass"),
            defects=list(t.get("defects", [])), hip_score=1.0 if "hip" in t.get("defects", []) else 0.0,
            partial=bool(t.get("partial", False)), via_count=int(t.get("via_count", 0)), contour=contour))
    scene = truth.get("scene", {})
    r = FrameResult(frame=frame, package=truth.get("package", ""), polarity=polarity or truth.get("polarity", ""),
                    pitch_px=float(scene.get("pitch_px", math.nan)),
                    angle_deg=float(scene.get("angle_deg", math.nan)),
                    pad_void_pct=float(truth["pad_void_pct"]) if truth.get("pad_void_pct") is not None else math.nan,
                    joints=joints, shape=tuple(truth.get("shape", ())), profile="simulator-truth")
    r.n_sites = sum(j.grid_row >= 0 for j in joints)
    return r

"""Export reviewed joints as a training set for the joint classifier (Qt-free).

Dataset folder layout (read by ``xrayinspect.classifier``)::

    crops/<frame>_<joint_id>.png   crop of the raw frame, centred on the joint,
                                   side = 2 x diameter_px (edge pixels replicated
                                   where the crop leaves the frame), dtype as
                                   stored (8- or 16-bit PNG; float frames are
                                   scaled to 16 bits)
    patches/<frame>_<joint_id>.npy the 32 x 32 float32 patch of a ball exactly as
                                   scoring feeds it to the classifier
                                   (:func:`xrayinspect.classify.ball_patches`:
                                   segmented centre, the frame's median ball
                                   diameter, one stretch over the frame's balls,
                                   solder bright); training reads these first
    labels.csv                     crop_file,label,frame,joint_id,operator,source,
                                   x_px,y_px,diameter_px,polarity,patch_file
    provenance.json                where it came from, counts, rules

``label`` is one of good, void, bridge, hip, misaligned, from the final
defect codes with precedence hip > bridge > misaligned > void; a passing
joint with no code is ``good``. Joints with ``missing`` or ``extra``, a
fail without a code, or a kind not exported (QFN thermal pads by default)
are skipped and counted. ``source`` is ``override`` (the operator changed
the call), ``confirmed`` (the operator kept it) or ``frame_confirmed`` (the
operator accepted the frame's remaining calls). Only reviewed joints are
exported.
"""

import hashlib
import json
import math
from pathlib import Path

import cv2
import numpy as np

from .._version import SCHEMA_VERSION, __version__
from ..results import atomic_write_text, csv_text
from .outdir import ScoredOutput, safe_stem
from .review import ReviewStore, review_dir_for_output, utc_now

LABELS = ("good", "void", "bridge", "hip", "misaligned")
LABEL_COLUMNS = ["crop_file", "label", "frame", "joint_id", "operator", "source", "x_px", "y_px", "diameter_px",
                 "polarity", "patch_file"]
_PRECEDENCE = ("hip", "bridge", "misaligned", "void")


def label_for(verdict, defects):
    """Training label of a final call, or None when it is not exported.

    >>> label_for("fail", ["void", "hip"]), label_for("pass", []), label_for("fail", ["missing"])
    ('hip', 'good', None)
    """
    codes = set(defects.split(";") if isinstance(defects, str) else defects or [])
    codes.discard("")
    if codes & {"missing", "extra"}:
        return None
    for code in _PRECEDENCE:
        if code in codes:
            return code
    return "good" if verdict == "pass" else None


def crop_joint(image, x, y, diameter, *, factor=2.0, min_side=8):
    """Square crop of ``image`` centred on ``(x, y)`` with side ``factor x diameter`` px.

    Parameters
    ----------
    image : ndarray (rows, cols)
    x, y : float
        Centre, px (x = column).
    diameter : float
        Joint diameter, px.

    Returns
    -------
    ndarray (side, side), same dtype as ``image``
        Pixels outside the frame repeat the nearest edge pixel.
    """
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {image.shape}")
    side = max(int(min_side), int(round(factor * float(diameter))))
    x0 = int(round(float(x) - side / 2.0))
    y0 = int(round(float(y) - side / 2.0))
    h, w = image.shape
    ys = np.clip(np.arange(y0, y0 + side), 0, h - 1)
    xs = np.clip(np.arange(x0, x0 + side), 0, w - 1)
    return image[np.ix_(ys, xs)]


def _png_ready(crop):
    if crop.dtype in (np.uint8, np.uint16):
        return crop
    c = crop.astype(np.float64)
    lo, hi = np.nanmin(c), np.nanmax(c)
    return np.round((c - lo) / (hi - lo if hi > lo else 1.0) * 65535).astype(np.uint16)


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _model_patches(image, result):
    """``{id(joint): patch}`` of the frame's usable balls, cut as scoring cuts them for the model."""
    from ..classify import ball_patches, usable_balls

    if getattr(result, "status", "ok") != "ok":
        return {}
    balls = usable_balls(result)
    if not balls:
        return {}
    patches, _, _ = ball_patches(image, balls, result.polarity or "dark")
    return {id(j): p for j, p in zip(balls, patches)}


def export_frames(items, dataset_dir, *, kinds=("ball", "pin"), provenance=None):
    """Write the crops and tables for reviewed joints of several frames.

    Parameters
    ----------
    items : iterable of dict
        One per frame: ``image`` (ndarray), ``result`` (FrameResult, auto
        calls), ``calls`` (``{joint_id: final call}`` from
        :func:`~xrayinspect.napari_plugin.review.replay`), ``confirmed``
        (the frame-confirmation entry or None), ``image_path`` (optional).
    dataset_dir : path
    kinds : tuple of str
        Joint kinds exported.
    provenance : dict, optional
        Merged into ``provenance.json``.

    Returns
    -------
    dict
        The provenance written (counts by label and by skip reason).
    """
    ds = Path(dataset_dir)
    (ds / "crops").mkdir(parents=True, exist_ok=True)
    rows, skipped, frames = [], {}, []

    def skip(why):
        skipped[why] = skipped.get(why, 0) + 1

    for it in items:
        image, result = it["image"], it["result"]
        calls, confirmed = it.get("calls") or {}, it.get("confirmed")
        frames.append({"frame": result.frame, "image_path": str(it.get("image_path") or ""),
                       "shape": list(image.shape), "dtype": str(image.dtype)})
        model_patch = _model_patches(image, result)
        for j in result.joints:
            c = calls.get(int(j.joint_id))
            if c is not None:
                verdict, defects = c["verdict"], c["defects"]
                source = "confirmed" if c.get("action") == "confirm" else "override"
                operator = c.get("operator", "")
            elif confirmed:
                verdict, defects, source, operator = j.verdict, j.defects, "frame_confirmed", confirmed.get(
                    "operator", "")
            else:
                continue
            if j.kind not in kinds:
                skip(f"kind {j.kind}")
                continue
            label = label_for(verdict, defects)
            if label is None:
                skip("missing/extra/fail without a code")
                continue
            if not (j.diameter_px > 0 and math.isfinite(j.x_px) and math.isfinite(j.y_px)):
                skip("no position or diameter")
                continue
            name = f"{safe_stem(result.frame)}_{int(j.joint_id)}.png"
            crop = _png_ready(crop_joint(image, j.x_px, j.y_px, j.diameter_px))
            ok, buf = cv2.imencode(".png", crop)
            if not ok:
                skip("png encoding failed")
                continue
            (ds / "crops" / name).write_bytes(buf.tobytes())
            patch_file = ""
            if id(j) in model_patch:
                (ds / "patches").mkdir(exist_ok=True)
                patch_file = f"patches/{name[:-4]}.npy"
                np.save(ds / patch_file, model_patch[id(j)], allow_pickle=False)
            rows.append({"crop_file": f"crops/{name}", "label": label, "frame": result.frame,
                         "joint_id": int(j.joint_id), "operator": operator, "source": source,
                         "x_px": round(float(j.x_px), 3), "y_px": round(float(j.y_px), 3),
                         "diameter_px": round(float(j.diameter_px), 3), "polarity": result.polarity or "",
                         "patch_file": patch_file})
    atomic_write_text(ds / "labels.csv", csv_text(rows, LABEL_COLUMNS))
    counts = {k: sum(r["label"] == k for r in rows) for k in LABELS}
    prov = {"created": utc_now(), "xrayinspect_version": __version__, "schema_version": SCHEMA_VERSION,
            "format": "xrayinspect-joint-crops/1", "n_crops": len(rows), "labels": counts, "skipped": skipped,
            "kinds": list(kinds),
            "crop": {"side": "2 x diameter_px, min 8", "centre": "x_px, y_px", "outside_frame": "edge replicated",
                     "dtype": "as stored (uint8/uint16); float scaled to uint16"},
            "patch": {"what": "model input of each ball as scoring cuts it (xrayinspect.classify.ball_patches)",
                      "size": 32, "context": 2.0, "norm": "frame", "dtype": "float32, solder bright"},
            "label_rule": "hip > bridge > misaligned > void; pass with no code = good; missing/extra skipped",
            "frames": frames, **(provenance or {})}
    atomic_write_text(ds / "provenance.json", json.dumps(prov, indent=1, default=str))
    return prov


def export_reviewed(out, dataset_dir, *, frames_dir=None, review_dir=None, kinds=("ball", "pin")):
    """Export every reviewed joint of a scored output folder.

    Calls come from the sidecars and the review log; raw frames are found
    via ``OUT/run.json`` inputs or ``frames_dir``. Frames whose raw file is
    not found are skipped and listed in ``provenance.json``.
    """
    from ..io import read_frame
    from ..errors import FrameReadError

    so = ScoredOutput(out, frames_dir=frames_dir)
    store = ReviewStore(review_dir or review_dir_for_output(out))
    from .review import replay
    calls, confirmed = replay(store.entries())
    items, missing = [], []
    for frame in so.frames:
        if frame not in calls and frame not in confirmed:
            continue
        result = so.load_result(frame)
        path = so.frame_path(frame)
        if result is None or path is None:
            missing.append(frame)
            continue
        try:
            image, _ = read_frame(path)
        except FrameReadError:
            missing.append(frame)
            continue
        items.append({"image": image, "result": result, "calls": calls.get(frame, {}),
                      "confirmed": confirmed.get(frame), "image_path": path})
    log_sha = _sha256(store.log_path) if store.log_path.is_file() else None
    return export_frames(items, dataset_dir, kinds=kinds,
                         provenance={"output_dir": str(Path(out).resolve()), "review_log": str(store.log_path),
                                     "review_log_sha256": log_sha, "frames_not_found": missing})

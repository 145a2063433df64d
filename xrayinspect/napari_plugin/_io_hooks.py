"""npe2 readers, writer and sample data (no Qt import; napari calls these).

Readers return None for anything they cannot read and never raise.
"""

import logging
from pathlib import Path

from ..results import JOINT_COLUMNS, atomic_write_text, csv_text
from ._layers import ROLE_KEY, result_from_truth, result_to_layers

log = logging.getLogger(__name__)

FRAME_SUFFIXES = (".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg", ".dcm")


# ---------------------------------------------------------------- readers
def _single_path(path):
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        return Path(path)
    except TypeError:
        return None


def image_layer(image, meta=None, *, name, path=None, frame=None, extra=None):
    """Layer data tuple of a raw frame with contrast limits from its true bit depth."""
    md = {"role": "image", "frame": frame or name, "path": str(path) if path else ""}
    if meta is not None:
        md["bits_used"] = getattr(meta, "bits_used", None)
        md["pixel_size_um"] = getattr(meta, "pixel_size_um", None)
    md.update(extra or {})
    kw = {"name": name, "metadata": {ROLE_KEY: md}, "colormap": "gray"}
    if image.dtype.kind in "ui" and image.size:
        lo, hi = float(image.min()), float(image.max())
        kw["contrast_limits"] = (lo, hi if hi > lo else lo + 1)
    return (image, kw, "image")


def get_frame_reader(path):
    """npe2 reader hook for one X-ray frame file (TIFF, PNG, BMP, JPEG, DICOM)."""
    try:
        p = _single_path(path)
        if p is None or p.suffix.lower() not in FRAME_SUFFIXES or not p.is_file():
            return None
    except Exception:  # never raise from a reader hook
        return None
    return _read_frame_file


def _read_frame_file(path):
    try:
        from ..io import read_frame
        from .review import review_dir_for_image

        p = _single_path(path)
        image, meta = read_frame(p)
        return [image_layer(image, meta, name=p.name, path=p, frame=p.name,
                            extra={"review_dir": str(review_dir_for_image(p))})]
    except Exception as exc:  # FrameReadError or anything else: not ours to read
        log.warning("xrayinspect could not read %s: %s", path, exc)
        return None


def get_output_reader(path):
    """npe2 reader hook for a folder written by ``xrayinspect score`` (frames.csv + sidecars/)."""
    try:
        from .outdir import is_output_dir

        p = _single_path(path)
        if p is None or not is_output_dir(p):
            return None
    except Exception:
        return None
    return _read_output_dir


def output_layers(out, frame=None, *, frames_dir=None):
    """Layers of one frame of a scored output folder (image if found, joints, voids, sites).

    Calls come from the frame's sidecar and the review log; nothing is
    recomputed. Returns [] when the frame has no sidecar.
    """
    from ..errors import FrameReadError
    from ..io import read_frame
    from .outdir import ScoredOutput
    from .review import ReviewStore, review_dir_for_output

    so = ScoredOutput(out, frames_dir=frames_dir)
    frames = so.frames
    if frame is None:
        ok = [r["frame"] for r in so.frame_rows if r.get("status") == "ok"]
        frame = (ok or frames or [None])[0]
    result = so.load_result(frame) if frame is not None else None
    if result is None:
        return []
    extra = {"out": str(Path(out)), "frames_dir": str(frames_dir or ""),
             "review_dir": str(review_dir_for_output(out))}
    layers = []
    ipath = so.frame_path(frame)
    shape = tuple(result.shape) if result.shape else None
    if ipath is not None:
        try:
            image, meta = read_frame(ipath)
            shape = image.shape
            layers.append(image_layer(image, meta, name=frame, path=ipath, frame=frame, extra=extra))
            extra["image_path"] = str(ipath)
        except FrameReadError as exc:
            log.warning("raw frame %s: %s", ipath, exc)
    if not shape:
        return layers
    review = ReviewStore(review_dir_for_output(out)).calls().get(frame, {})
    return layers + result_to_layers(result, shape=shape, review=review, extra_metadata=extra)


def _read_output_dir(path):
    try:
        layers = output_layers(_single_path(path))
        return layers or None
    except Exception as exc:
        log.warning("xrayinspect could not open %s: %s", path, exc)
        return None


# ---------------------------------------------------------------- writer
def write_review(path, data, attributes):
    """npe2 writer: a joints Labels layer's calls as a reviewed-joints CSV.

    Columns: every ``joints.csv`` column (verdict/defects final) plus
    ``verdict_auto, verdict_final, defects_auto, defects_final, reviewed,
    operator, reason``. Returns the paths written ([] if the layer holds no
    joint features).
    """
    from .review import REVIEWED_COLUMNS

    feats = attributes.get("features")
    if feats is None or len(feats) == 0 or "verdict" not in getattr(feats, "columns", feats):
        return []
    try:
        records = feats.to_dict("records")
    except AttributeError:
        keys = list(feats)
        records = [dict(zip(keys, vals)) for vals in zip(*(feats[k] for k in keys))]
    rows = []
    for r in records:
        row = {c: r.get(c, "") for c in JOINT_COLUMNS}
        row.update(verdict_auto=r.get("verdict_auto", r["verdict"]), verdict_final=r["verdict"],
                   defects_auto=r.get("defects_auto", r.get("defects", "")), defects_final=r.get("defects", ""),
                   reviewed=int(bool(r.get("reviewed", False))), operator=r.get("operator", ""),
                   reason=r.get("reason", ""))
        rows.append({k: ("" if (isinstance(v, float) and v != v) else v) for k, v in row.items()})
    p = Path(path)
    if p.suffix.lower() != ".csv":
        p = p.with_suffix(".csv")
    atomic_write_text(p, csv_text(rows, REVIEWED_COLUMNS))
    return [str(p)]


# ---------------------------------------------------------------- sample data
def sample_result(package, seed, *, shape=(320, 320), **kw):
    """A synthetic frame, its calls and where they came from.

    Calls come from :func:`xrayinspect.pipeline.score_frame`; while the
    scorer finds no joints (or fails) the simulator's truth stands in, with
    ``result.profile == "simulator-truth"``.
    """
    from ..pipeline import score_frame
    from ..synth import generate_frame

    f = generate_frame(seed, package=package, shape=shape, export="tiff16", polarity="dark", **kw)
    name = f"synthetic_{package}_{seed}.tif"
    result = None
    try:
        result = score_frame(f.image, frame=name)
        if result.status != "ok" or not result.joints:
            result = None
    except Exception as exc:
        log.warning("scoring the sample failed, showing simulator truth: %s", exc)
    if result is None:
        result = result_from_truth(f.truth, frame=name)
    return f.image, result, f.truth


def _sample(package, seed, **kw):
    image, result, truth = sample_result(package, seed, **kw)
    src = "simulator truth" if result.profile == "simulator-truth" else "scored"
    extra = {"sample": True, "calls_from": src}
    return [image_layer(image, name=result.frame, frame=result.frame, extra=extra)] + result_to_layers(
        result, shape=image.shape, extra_metadata=extra)


def sample_bga():
    """Synthetic 320x320 BGA frame with voids, bridges, a head-in-pillow, missing and extra balls."""
    return _sample("bga", 3, rows=10, cols=10)


def sample_qfn():
    """Synthetic 320x320 QFN frame (thermal pad with vias, perimeter pins, a bridge)."""
    return _sample("qfn", 3)

"""Optional learned joint classifier: the seam between scoring and a model.

This module never imports torch. It holds

* :func:`crop_joints`: joint-centred patches, normalised for polarity and bit depth;
* :class:`JointClassifier`: what a classifier must provide (``classes``, ``predict_proba``);
* :func:`load_classifier`: resolves a model folder (explicit path, ``$XRAYINSPECT_MODEL_DIR``,
  the packaged default) and loads it with torch, or with onnxruntime when torch is absent
  and the folder holds ``model.onnx``;
* :func:`combine`: the policy that merges rule calls with the model's probabilities;
* :func:`apply_classifier`: runs all of the above on a scored :class:`~xrayinspect.results.FrameResult`.

Policy (:func:`combine`): rules stay authoritative where they measure (missing, extra,
misaligned, void over its limit, bridge found by segmentation); the model decides ``hip``
(2D can only suspect it) and may add ``bridge`` only above a high threshold.
"""

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["crop_joints", "reference_diameter", "JointClassifier", "ClassifierUnavailable", "load_classifier",
           "combine", "apply_classifier", "resolve_model_dir", "verify_sha256sums", "OnnxJointClassifier",
           "DEFAULT_THRESHOLDS", "INSTALL_HINT", "FORMAT_VERSION"]

INSTALL_HINT = "pip install 'xrayinspect[torch]'"
#: Model folder format this code reads (config.json "format_version").
FORMAT_VERSION = 1
#: Files a model folder must list in SHA256SUMS.
MODEL_FILES = ("config.json", "thresholds.json", "model.safetensors")
#: Used when a model folder gives no thresholds.
DEFAULT_THRESHOLDS = {"hip": 0.5, "bridge_add": 0.97}
#: Codes the rules measure and the model never removes.
RULE_CODES = ("missing", "extra", "misaligned", "void", "bridge")
_ORDER = ("void", "bridge", "missing", "misaligned", "hip", "extra")


class ClassifierUnavailable(ImportError):
    """No backend (torch, or onnxruntime with a ``model.onnx``) can run the classifier."""


@runtime_checkable
class JointClassifier(Protocol):
    """What scoring needs from a classifier.

    ``predict_proba`` takes float32 patches ``(n, H, W)`` as :func:`crop_joints` makes them
    and returns ``(n, len(classes))`` probabilities (rows sum to 1). Optional attributes:
    ``thresholds`` (dict) and ``config`` (dict with ``crop``: size, context, norm).
    """

    classes: tuple

    def predict_proba(self, patches: np.ndarray) -> np.ndarray: ...


# --------------------------------------------------------------------------- crops

def reference_diameter(diameters_px):
    """The frame's typical ball diameter (median of the finite, positive values), px."""
    d = np.asarray(diameters_px, dtype=float).ravel()
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else math.nan


def crop_joints(image, centers_xy, diameters_px, *, size=32, polarity="dark", context=2.0, norm="frame",
                percentiles=(0.5, 99.5)):
    """Square patches centred on joints, resampled and normalised.

    Parameters
    ----------
    image : ndarray, 2-D (or 3-D with channels last, averaged)
        The frame as stored (any integer or float dtype).
    centers_xy : array-like (n, 2)
        Joint centres ``(x, y)`` px, origin at the centre of the top-left pixel.
    diameters_px : float or array-like (n,)
        Joint diameter(s) px; each patch covers ``context * diameter`` px on a side. Passing
        one value for the whole frame (:func:`reference_diameter`) keeps size differences
        between joints visible to a model, which is what the shipped model expects.
    size : int
        Patch side, px.
    polarity : {"dark", "bright"}
        How solder looks in ``image``; patches always show solder bright.
    context : float
    norm : {"frame", "crop"}
        ``"frame"``: one robust percentile stretch over all patches of the call (keeps
        attenuation differences between joints); ``"crop"``: per patch.
    percentiles : (low, high)
        Percentiles mapped to 0 and 1; values are clipped to [-0.25, 1.25].

    Returns
    -------
    ndarray float32 (n, size, size)
    """
    import cv2

    if polarity not in ("dark", "bright"):
        raise ValueError(f"polarity must be 'dark' or 'bright', got {polarity!r}")
    if norm not in ("frame", "crop"):
        raise ValueError(f"norm must be 'frame' or 'crop', got {norm!r}")
    img = np.asarray(image)
    if img.ndim == 3:
        img = img.mean(axis=2)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {img.shape}")
    img = img.astype(np.float32, copy=False)
    if polarity == "dark":
        img = -img
    c = np.asarray(centers_xy, dtype=float).reshape(-1, 2)
    n = len(c)
    d = np.broadcast_to(np.asarray(diameters_px, dtype=float), (n,))
    out = np.zeros((n, size, size), np.float32)
    h, w = img.shape
    for i in range(n):
        x, y, di = c[i, 0], c[i, 1], d[i]
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(di) and di > 0):
            continue
        side = context * di
        s = size / side                                  # output px per input px
        half = int(math.ceil(side / 2 + 3))
        x0, y0 = int(math.floor(x)) - half, int(math.floor(y)) - half
        x1, y1 = x0 + 2 * half + 2, y0 + 2 * half + 2
        # region with replicated borders where it leaves the frame
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if cx0 >= cx1 or cy0 >= cy1:
            continue
        roi = img[cy0:cy1, cx0:cx1]
        roi = cv2.copyMakeBorder(roi, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
        if s < 1.0:                                      # anti-alias before shrinking
            sigma = 0.45 / s
            roi = cv2.GaussianBlur(roi, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        m = np.array([[s, 0.0, (size - 1) / 2 - s * (x - x0)],
                      [0.0, s, (size - 1) / 2 - s * (y - y0)]], np.float64)
        out[i] = cv2.warpAffine(roi, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lo_p, hi_p = percentiles
    if n == 0:
        return out
    if norm == "frame":
        lo, hi = np.percentile(out, [lo_p, hi_p])
        lo, hi = np.full(n, lo), np.full(n, hi)
    else:
        q = np.percentile(out.reshape(n, -1), [lo_p, hi_p], axis=1)
        lo, hi = q[0], q[1]
    span = np.where(hi - lo > 1e-6 * np.maximum(np.abs(hi), 1.0), hi - lo, 1.0)
    out = (out - lo[:, None, None].astype(np.float32)) / span[:, None, None].astype(np.float32)
    return np.clip(out, -0.25, 1.25).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- policy

def combine(rule_defects, hip_score, proba, classes, thresholds=None):
    """Merge rule calls with a model's probabilities for one joint.

    Parameters
    ----------
    rule_defects : list of str
        Codes the rules gave.
    hip_score : float
        The rules' head-in-pillow score (kept for the record; when ``thresholds`` has
        ``"rule_hip_certain"`` a score at or above it keeps the rules' ``hip``).
    proba : array-like (n_classes,) or None
        Model probabilities; None leaves the rule calls as they are.
    classes : sequence of str
    thresholds : dict, optional
        ``"hip"``: probability at or above which the joint is called ``hip``;
        ``"bridge_add"``: probability at or above which the model adds ``bridge``.

    Returns
    -------
    (defects, label, confidence)
        ``defects`` in the interface order; ``label`` the most probable class ("" without a
        model) and ``confidence`` its probability (nan without a model).
    """
    rule = [str(c) for c in (rule_defects or [])]
    if proba is None:
        return _ordered(rule), "", math.nan
    th = dict(DEFAULT_THRESHOLDS)
    th.update(thresholds or {})
    p = np.asarray(proba, dtype=float).ravel()
    classes = tuple(classes)
    if len(p) != len(classes):
        raise ValueError(f"proba has {len(p)} values for {len(classes)} classes")
    k = int(np.argmax(p))
    label, conf = classes[k], float(p[k])
    out = [c for c in rule if c in RULE_CODES]
    if "missing" not in out and "extra" not in out:
        p_hip = float(p[classes.index("hip")]) if "hip" in classes else 0.0
        rule_hip_certain = th.get("rule_hip_certain")
        keep_rule_hip = ("hip" in rule and rule_hip_certain is not None and hip_score is not None
                         and np.isfinite(hip_score) and hip_score >= rule_hip_certain)
        if p_hip >= th["hip"] or keep_rule_hip:
            out.append("hip")
        if "bridge" in classes and float(p[classes.index("bridge")]) >= th["bridge_add"]:
            out.append("bridge")
    return _ordered(out), label, conf


def _ordered(codes):
    seen = []
    for c in _ORDER:
        if c in codes and c not in seen:
            seen.append(c)
    seen += [c for c in codes if c not in _ORDER and c not in seen]
    return seen


def apply_classifier(image, result, classifier, polarity) -> None:
    """Run ``classifier`` on the balls of a scored frame and update the joints in place.

    Balls that are missing, partial, or have no centre or diameter are left alone. Each
    classified joint gets ``classifier_label`` / ``classifier_confidence``, and its
    ``defects`` and ``verdict`` follow :func:`combine` with the classifier's thresholds.
    """
    if classifier is None or result is None or getattr(result, "status", "ok") != "ok":
        return
    joints = [j for j in result.joints
              if j.kind == "ball" and "missing" not in j.defects and not j.partial
              and np.isfinite(j.x_px) and np.isfinite(j.y_px) and np.isfinite(j.diameter_px) and j.diameter_px > 0]
    if not joints:
        return
    crop = (getattr(classifier, "config", None) or {}).get("crop", {})
    ref = reference_diameter([j.diameter_px for j in joints])
    patches = crop_joints(image, [(j.x_px, j.y_px) for j in joints], ref, size=int(crop.get("size", 32)),
                          polarity=polarity or "dark", context=float(crop.get("context", 2.0)),
                          norm=crop.get("norm", "frame"))
    proba = np.asarray(classifier.predict_proba(patches))
    th = getattr(classifier, "thresholds", None) or {}
    for j, p in zip(joints, proba):
        j.defects, j.classifier_label, j.classifier_confidence = combine(j.defects, j.hip_score, p,
                                                                         classifier.classes, th)
        j.verdict = "fail" if j.defects else "pass"


# --------------------------------------------------------------------------- loading

def packaged_model_dir():
    """The default model folder shipped inside the package."""
    return Path(__file__).resolve().parent / "models" / "default"


def resolve_model_dir(name_or_path="default"):
    """Where a model lives: an explicit path, else ``$XRAYINSPECT_MODEL_DIR``, else the packaged default."""
    if name_or_path not in (None, "", "default"):
        return Path(name_or_path)
    env = os.environ.get("XRAYINSPECT_MODEL_DIR")
    if env:
        return Path(env)
    return packaged_model_dir()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256sums(folder, required=MODEL_FILES):
    """Check every file listed in ``folder/SHA256SUMS``; raise ValueError on any mismatch.

    ``required`` files must be listed. Returns the dict of file name to digest.
    """
    folder = Path(folder)
    sums_path = folder / "SHA256SUMS"
    if not sums_path.is_file():
        raise ValueError(f"{folder}: no SHA256SUMS; refusing to load an unverified model")
    sums = {}
    for line in sums_path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        digest, _, name = line.partition(" ")
        sums[name.strip().lstrip("*")] = digest.lower()
    for name in required:
        if name not in sums:
            raise ValueError(f"{folder}: SHA256SUMS does not list {name}")
    for name, digest in sums.items():
        p = folder / name
        if "/" in name or "\\" in name or name.startswith(".."):
            raise ValueError(f"{folder}: SHA256SUMS names a file outside the folder: {name}")
        if not p.is_file():
            raise ValueError(f"{folder}: {name} is listed in SHA256SUMS but missing")
        got = sha256_file(p)
        if got != digest:
            raise ValueError(f"{p}: SHA256 mismatch (file changed or tampered with); refusing to load "
                             f"(expected {digest[:12]}..., got {got[:12]}...)")
    return sums


def read_model_config(folder):
    """config.json and thresholds.json of a verified folder, with a format check."""
    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    fmt = int(cfg.get("format_version", 0))
    if fmt < 1 or fmt > FORMAT_VERSION:
        raise ValueError(f"{folder}: model format_version {fmt} is not supported by this xrayinspect "
                         f"(reads format {FORMAT_VERSION}); retrain or upgrade xrayinspect")
    th_path = folder / "thresholds.json"
    th = json.loads(th_path.read_text()) if th_path.is_file() else {}
    return cfg, th


class OnnxJointClassifier:
    """A model folder's ``model.onnx`` run with onnxruntime (no torch needed)."""

    def __init__(self, folder, *, threads=1):
        import onnxruntime as ort

        folder = Path(folder)
        sums = verify_sha256sums(folder)
        if "model.onnx" not in sums:
            raise ValueError(f"{folder}: SHA256SUMS does not list model.onnx; refusing to load it")
        self.folder = folder
        self.config, self.thresholds = read_model_config(folder)
        self.classes = tuple(self.config["classes"])
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self._sess = ort.InferenceSession(str(folder / "model.onnx"), so, providers=["CPUExecutionProvider"])
        self._input = self._sess.get_inputs()[0].name

    def predict_proba(self, patches, batch_size=256):
        x = np.asarray(patches, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        outs = [self._sess.run(None, {self._input: x[i:i + batch_size]})[0] for i in range(0, len(x), batch_size)]
        logits = np.concatenate(outs) if outs else np.zeros((0, len(self.classes)), np.float32)
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def _torch_available():
    try:
        import torch  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError:
        return False
    return True


def load_classifier(name_or_path="default"):
    """Load a joint classifier.

    ``"default"`` (or None) resolves to ``$XRAYINSPECT_MODEL_DIR`` when set, else the model
    shipped in the package; anything else is a model folder. Uses torch when importable,
    else onnxruntime when the folder holds ``model.onnx``; otherwise raises
    :class:`ClassifierUnavailable` with the install hint. Never downloads.
    """
    folder = resolve_model_dir(name_or_path)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder not found: {folder}")
    if _torch_available():
        from .classifier.load import load_model
        return load_model(folder)
    if (folder / "model.onnx").is_file():
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            pass
        else:
            return OnnxJointClassifier(folder)
    raise ClassifierUnavailable(f"the joint classifier needs torch (or onnxruntime and a model.onnx in {folder}): "
                                f"{INSTALL_HINT}")

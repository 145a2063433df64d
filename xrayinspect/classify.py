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
           "DEFAULT_THRESHOLDS", "SKIPPED", "usable_balls", "ball_patches", "bridge_partner", "INSTALL_HINT", "FORMAT_VERSION"]

INSTALL_HINT = "pip install 'xrayinspect[torch]'"
#: Model folder format this code reads (config.json "format_version").
FORMAT_VERSION = 1
#: Files a model folder must list in SHA256SUMS.
MODEL_FILES = ("config.json", "thresholds.json", "model.safetensors")
#: Used when a model folder gives no thresholds. ``hip``: probability at or above which a ball is
#: called hip; ``bridge_add``: probability at or above which the model adds ``bridge`` (mirrored to
#: the partner ball or dropped, see :func:`apply_classifier`); ``crop_diameter_scale``: factor on the
#: frame's median segmented ball diameter before it sets the crop scale (a model trained on crops
#: scaled by truth diameters needs the ratio truth / segmented diameter); ``gate_hip_score``: balls whose rule
#: hip score is below it skip the model (None: every ball goes through); ``gate_skip_codes``: balls
#: the rules already failed with one of these codes skip the model.
DEFAULT_THRESHOLDS = {"hip": 0.5, "bridge_add": 0.97, "crop_diameter_scale": 1.0, "gate_hip_score": None,
                      "gate_skip_codes": ()}
#: ``classifier_label`` of a ball the gate kept from the model (rules certain).
SKIPPED = "skipped"
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

    Notes
    -----
    All patches of one diameter are cut in one pass: the frame region under them is
    anti-aliased once (Gaussian, sigma ``0.45 / scale`` when shrinking) and sampled
    bilinearly with one ``cv2.remap`` over stacked sampling grids (borders replicated).
    A patch whose square lies wholly outside the frame, or with a non-finite centre or
    diameter, is zero before normalisation.
    """
    raw = _sample_patches(image, centers_xy, diameters_px, size=size, polarity=polarity, context=context)
    lo, span = _stretch(raw, norm=norm, percentiles=percentiles)
    return _normalise(raw, lo, span)


def _sample_patches(image, centers_xy, diameters_px, *, size=32, polarity="dark", context=2.0):
    """Patches (n, size, size) float32 of the frame, solder bright, not yet stretched."""
    import cv2

    if polarity not in ("dark", "bright"):
        raise ValueError(f"polarity must be 'dark' or 'bright', got {polarity!r}")
    img = _grey(image)
    c = np.asarray(centers_xy, dtype=float).reshape(-1, 2)
    n = len(c)
    d = np.broadcast_to(np.asarray(diameters_px, dtype=float), (n,))
    out = np.zeros((n, size, size), np.float32)
    if n == 0:
        return out
    h, w = img.shape
    ok = np.isfinite(c).all(axis=1) & np.isfinite(d) & (d > 0)
    g = (np.arange(size, dtype=np.float64) - (size - 1) / 2)
    for di in np.unique(d[ok]):
        sel = np.nonzero(ok & (d == di))[0]
        side = context * di
        s = size / side                                   # output px per input px
        half = side / 2 + 4.0
        x, y = c[sel, 0], c[sel, 1]
        inside = (x + half > 0) & (x - half < w - 1) & (y + half > 0) & (y - half < h - 1)
        sel, x, y = sel[inside], x[inside], y[inside]
        if not len(sel):
            continue
        # one region under all patches, borders replicated where it leaves the frame
        pad = int(math.ceil(half)) + 4
        bx0, by0 = int(math.floor(x.min())) - pad, int(math.floor(y.min())) - pad
        bx1, by1 = int(math.floor(x.max())) + pad + 2, int(math.floor(y.max())) + pad + 2
        cx0, cy0, cx1, cy1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
        roi = img[cy0:cy1, cx0:cx1].astype(np.float32)
        if (cx0, cy0, cx1, cy1) != (bx0, by0, bx1, by1):
            roi = cv2.copyMakeBorder(roi, cy0 - by0, by1 - cy1, cx0 - bx0, bx1 - cx1, cv2.BORDER_REPLICATE)
        if s < 1.0:                                       # anti-alias before shrinking
            roi = cv2.GaussianBlur(roi, (0, 0), 0.45 / s, borderType=cv2.BORDER_REPLICATE)
        gs = g / s
        for k in range(0, len(sel), _REMAP_CHUNK):
            xs, ys = x[k:k + _REMAP_CHUNK] - bx0, y[k:k + _REMAP_CHUNK] - by0
            m = len(xs)
            mx = np.broadcast_to((xs[:, None, None] + gs[None, None, :]).astype(np.float32), (m, size, size))
            my = np.broadcast_to((ys[:, None, None] + gs[None, :, None]).astype(np.float32), (m, size, size))
            out[sel[k:k + m]] = cv2.remap(roi, np.ascontiguousarray(mx).reshape(-1, size),
                                          np.ascontiguousarray(my).reshape(-1, size), cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE).reshape(m, size, size)
    if polarity == "dark":
        np.negative(out, out=out)
    return out


#: Patches per cv2.remap call (keeps the stacked map under OpenCV's 32767-row limit).
_REMAP_CHUNK = 512


def _grey(image):
    img = np.asarray(image)
    if img.ndim == 3:
        img = img.mean(axis=2)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {img.shape}")
    return img


def _stretch(raw, *, norm="frame", percentiles=(0.5, 99.5)):
    """Per-patch ``(lo, span)`` of the robust percentile stretch."""
    if norm not in ("frame", "crop"):
        raise ValueError(f"norm must be 'frame' or 'crop', got {norm!r}")
    n = len(raw)
    if n == 0:
        return np.zeros(0), np.ones(0)
    lo_p, hi_p = percentiles
    if norm == "frame":
        lo, hi = np.percentile(raw, [lo_p, hi_p])
        lo, hi = np.full(n, lo), np.full(n, hi)
    else:
        q = np.percentile(raw.reshape(n, -1), [lo_p, hi_p], axis=1)
        lo, hi = q[0], q[1]
    span = np.where(hi - lo > 1e-6 * np.maximum(np.abs(hi), 1.0), hi - lo, 1.0)
    return lo, span


def _normalise(raw, lo, span):
    out = (raw - lo[:, None, None].astype(np.float32)) / span[:, None, None].astype(np.float32)
    return np.clip(out, -0.25, 1.25).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- policy

def combine(rule_defects, hip_score, proba, classes, thresholds=None, *, hip_judged=True, sliced=False):
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
        ``"hip_add"``: when present, replaces ``"hip"`` for that call (None: the model never
        calls hip on a ball the rules did not);
        ``"hip_veto"``: when set, a ``hip`` the rules gave stands unless the model's hip
        probability is below it (the model as a veto on rule false alarms); when unset, the
        model decides alone (``"hip"``) unless ``"rule_hip_certain"`` keeps the rules' call;
        ``"bridge_add"``: probability at or above which the model adds ``bridge`` (None: never).
    hip_judged : bool
        False where the frame cannot show head-in-pillow at all (a CT slice,
        :attr:`~xrayinspect.results.FrameResult.hip_judged`): the model then calls no ``hip``,
        as the rules call none; it was trained on radiographs only.
    sliced : bool
        The frame is a slice (:attr:`~xrayinspect.results.FrameResult.sliced`): the rules'
        ``hip`` (a head narrower than its neighbours) stands as it is and the model, which never
        saw a slice, neither adds nor removes one.

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
        veto = th.get("hip_veto")
        if "hip" in rule and veto is not None:
            rule_hip_stands = p_hip >= veto          # the model only removes a rule hip it is sure of
        else:
            rule_hip_stands = False
        add_at = th["hip_add"] if "hip_add" in th else th.get("hip")
        if sliced:
            if hip_judged and "hip" in rule:
                out.append("hip")
        elif hip_judged and ((add_at is not None and p_hip >= add_at) or keep_rule_hip or rule_hip_stands):
            out.append("hip")
        bridge_add = th.get("bridge_add")
        if bridge_add is not None and "bridge" in classes and float(p[classes.index("bridge")]) >= bridge_add:
            out.append("bridge")
    return _ordered(out), label, conf


def _ordered(codes):
    seen = []
    for c in _ORDER:
        if c in codes and c not in seen:
            seen.append(c)
    seen += [c for c in codes if c not in _ORDER and c not in seen]
    return seen


def usable_balls(result):
    """The balls of a scored frame a classifier can look at: present (not ``missing``), not cut
    by the frame (``partial``), with a finite centre and a positive diameter."""
    return [j for j in result.joints
            if j.kind == "ball" and "missing" not in j.defects and not j.partial
            and np.isfinite(j.x_px) and np.isfinite(j.y_px) and np.isfinite(j.diameter_px) and j.diameter_px > 0]


def ball_patches(image, joints, polarity, crop=None, *, diameter_scale=1.0, subset=None):
    """Patches of segmented balls exactly as scoring feeds them to a classifier.

    Parameters
    ----------
    image : ndarray, 2-D
    joints : list of JointResult
        Usable balls of one frame (:func:`usable_balls`); their median diameter (px) times
        ``diameter_scale`` sets the crop scale and all of them set the frame-level stretch.
    polarity : {"dark", "bright"}
        The scorer's polarity of the frame.
    crop : dict, optional
        A model's ``config["crop"]`` (size, context, norm, percentiles).
    subset : sequence of int, optional
        Indices into ``joints`` whose patches are returned (default all).

    Returns
    -------
    (patches, lo, span)
        ``patches`` float32 ``(n, size, size)``, solder bright; ``lo``/``span`` the stretch of
        every joint (grey levels).
    """
    crop = crop or {}
    ref = reference_diameter([j.diameter_px for j in joints]) * float(diameter_scale)
    raw = _sample_patches(image, [(j.x_px, j.y_px) for j in joints], ref, size=int(crop.get("size", 32)),
                          polarity=polarity, context=float(crop.get("context", 2.0)))
    lo, span = _stretch(raw, norm=crop.get("norm", "frame"), percentiles=tuple(crop.get("percentiles", (0.5, 99.5))))
    idx = np.arange(len(joints)) if subset is None else np.asarray(subset, dtype=int)
    return _normalise(raw[idx], lo[idx], span[idx]), lo, span


def apply_classifier(image, result, classifier, polarity) -> None:
    """Run ``classifier`` on the balls of a scored frame and update the joints in place.

    Balls that are missing, partial, or have no centre or diameter are left alone. The
    classifier's thresholds may name a gate (``gate_hip_score``, ``gate_skip_codes``, see
    :data:`DEFAULT_THRESHOLDS`): balls the rules already call with certainty go through
    unchanged and get ``classifier_label`` :data:`SKIPPED` (confidence NaN). Every other
    usable ball gets ``classifier_label`` / ``classifier_confidence``, and its ``defects`` and
    ``verdict`` follow :func:`combine`.

    Crops: one pass over all usable balls (the stretch and the reference diameter come from
    all of them, as in training), then one forward pass over the balls the gate lets through.

    A bridge joins two balls: a ``bridge`` the model adds to a ball is mirrored onto the
    neighbour its solder neck points to (:func:`bridge_partner`); when no neighbour shows a
    neck the model's bridge is dropped.
    """
    if classifier is None or result is None or getattr(result, "status", "ok") != "ok":
        return
    joints = usable_balls(result)
    if not joints:
        return
    th = dict(DEFAULT_THRESHOLDS)
    th.update(getattr(classifier, "thresholds", None) or {})
    gate = th.get("gate_hip_score")
    skip_codes = set(th.get("gate_skip_codes") or ())
    run = [k for k, j in enumerate(joints)
           if not (skip_codes & set(j.defects))
           and (gate is None or (np.isfinite(j.hip_score) and j.hip_score >= gate))]
    for k in sorted(set(range(len(joints))) - set(run)):
        joints[k].classifier_label, joints[k].classifier_confidence = SKIPPED, math.nan
    if not run:
        return
    pol = polarity or "dark"
    patches, lo, span = ball_patches(image, joints, pol, (getattr(classifier, "config", None) or {}).get("crop"),
                                     diameter_scale=float(th.get("crop_diameter_scale") or 1.0), subset=run)
    proba = np.asarray(classifier.predict_proba(patches))
    added_bridge = []
    for k, p in zip(run, proba):
        j = joints[k]
        had_bridge = "bridge" in j.defects
        j.defects, j.classifier_label, j.classifier_confidence = combine(
            j.defects, j.hip_score, p, classifier.classes, th, hip_judged=getattr(result, "hip_judged", True),
            sliced=getattr(result, "sliced", False))
        if "bridge" in j.defects and not had_bridge:
            added_bridge.append(j)
        j.verdict = "fail" if j.defects else "pass"
    if added_bridge:
        balls = [j for j in result.joints if j.kind == "ball" and "missing" not in j.defects
                 and np.isfinite(j.x_px) and np.isfinite(j.y_px)]
        stretch = (float(np.median(lo)), float(np.median(span)))
        for j in added_bridge:
            partner = bridge_partner(image, j, balls, pol, stretch, min_neck=th.get("bridge_neck", 0.35))
            if partner is None:
                j.defects = [c for c in j.defects if c != "bridge"]
            elif "bridge" not in partner.defects:
                partner.defects = _ordered(partner.defects + ["bridge"])
                partner.verdict = "fail"
            j.verdict = "fail" if j.defects else "pass"


def bridge_partner(image, joint, balls, polarity, stretch, *, min_neck=0.35, k=8, n_samples=7):
    """The neighbouring ball a solder neck joins ``joint`` to, or None.

    For each of the ``k`` nearest balls (within 1.6 x the nearest centre distance), the
    frame is sampled along the gap between the two ball edges; the neck strength is the
    weakest solder level along it, in the crop stretch (``stretch = (lo, span)``: 0 is
    board, 1 full solder). The strongest neck at or above ``min_neck`` wins.
    """
    img = _grey(image)
    h, w = img.shape
    others = [b for b in balls if b is not joint]
    if not others:
        return None
    pts = np.array([[b.x_px, b.y_px] for b in others])
    dist = np.hypot(pts[:, 0] - joint.x_px, pts[:, 1] - joint.y_px)
    order = np.argsort(dist)[:k]
    near = dist[order[0]]
    sign = -1.0 if polarity == "dark" else 1.0
    lo, span = stretch
    best, best_v = None, min_neck
    for i in order:
        if dist[i] > 1.6 * near or dist[i] <= 0:
            continue
        b = others[i]
        r0 = 0.5 * joint.diameter_px if joint.diameter_px > 0 else 0.0
        r1 = 0.5 * b.diameter_px if b.diameter_px > 0 else 0.0
        t0, t1 = r0 / dist[i], 1.0 - r1 / dist[i]
        if t1 <= t0:                                    # touching outlines: the neck is the contact
            t0 = t1 = 0.5
        t = np.linspace(t0, t1, n_samples)
        xs = np.clip(np.rint(joint.x_px + t * (b.x_px - joint.x_px)).astype(int), 0, w - 1)
        ys = np.clip(np.rint(joint.y_px + t * (b.y_px - joint.y_px)).astype(int), 0, h - 1)
        v = float(((sign * img[ys, xs].astype(float) - lo) / span).min())
        if v >= best_v:
            best, best_v = b, v
    return best


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

    def predict_proba(self, patches, batch_size=4096):
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


def load_classifier(name_or_path="default", *, backend="auto"):
    """Load a joint classifier.

    ``"default"`` (or None) resolves to ``$XRAYINSPECT_MODEL_DIR`` when set, else the model
    shipped in the package; anything else is a model folder. Never downloads.

    ``backend``: ``"auto"`` runs the folder's ``model.onnx`` with onnxruntime when the folder's
    ``SHA256SUMS`` lists it and onnxruntime is importable (same outputs as torch to ~1e-7, and
    several times faster on one CPU thread), else the torch model (BatchNorm folded); ``"torch"``
    or ``"onnx"`` force one. Raises :class:`ClassifierUnavailable` with the install hint when no
    backend can run the folder.
    """
    if backend not in ("auto", "torch", "onnx"):
        raise ValueError(f"backend must be 'auto', 'torch' or 'onnx', got {backend!r}")
    folder = resolve_model_dir(name_or_path)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder not found: {folder}")
    if backend in ("auto", "onnx") and (folder / "model.onnx").is_file() and _onnx_listed(folder):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            if backend == "onnx":
                raise ClassifierUnavailable(f"backend='onnx' needs onnxruntime: {INSTALL_HINT}") from None
        else:
            return OnnxJointClassifier(folder)
    if backend != "onnx" and _torch_available():
        from .classifier.load import load_model
        return load_model(folder)
    raise ClassifierUnavailable(f"the joint classifier needs torch (or onnxruntime and a model.onnx in {folder}): "
                                f"{INSTALL_HINT}")


def _onnx_listed(folder):
    sums = Path(folder) / "SHA256SUMS"
    if not sums.is_file():
        return True          # OnnxJointClassifier refuses the folder with the reason
    return any(line.strip().endswith("model.onnx") for line in sums.read_text().splitlines())

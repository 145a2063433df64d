"""Training data: labelled joint patches from the simulator, simulator sets and review exports.

Every source gives a :class:`PatchSet`: patches as :func:`xrayinspect.classify.crop_joints`
makes them (solder bright, 0..1), integer labels into :data:`~.model.CLASSES`, a group id
per patch (its frame, so validation never shares a frame with training) and the list of
items the patches came from (fingerprinted into ``config.json``).

Labels from simulator truth: ``good`` when a ball has no defect, else by precedence
hip > bridge > misaligned > void; missing, extra and partial joints are skipped, and good
balls are subsampled per frame to keep the classes closer to balance.

Review exports (napari plugin): a folder with ``labels.csv`` (columns ``crop_file, label,
frame, joint_id, operator, source``, optionally ``polarity`` and ``patch_file``) and the crops
it names (``crops/*.png`` or ``.npy``). A row's ``patch_file`` (the model patch the plugin cut
as scoring cuts it) is read when present, else its crop. A crop is resized to the patch size;
``.npy`` float crops already in [-0.25, 1.25] are taken as normalised (as ``crop_joints``
writes them), anything else is stretched per crop (1st-99th percentile), inverted first when
``polarity`` is ``dark``. Labels ``ok``/``pass`` mean ``good``;
labels outside the classes (missing, extra, ...) are skipped.
"""

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..classify import crop_joints, reference_diameter
from .model import CLASSES

PRECEDENCE = ("hip", "bridge", "misaligned", "void")
SKIP_CODES = ("missing", "extra")
LABEL_ALIASES = {"ok": "good", "pass": "good", "none": "good", "": None, "head-in-pillow": "hip",
                 "hip/nwo": "hip", "non-wet-open": "hip", "nwo": "hip", "offset": "misaligned"}
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg", ".dcm")


@dataclass
class PatchSet:
    patches: np.ndarray                      # (n, S, S) float32
    labels: np.ndarray                       # (n,) int64
    groups: np.ndarray                       # (n,) int64, frame id
    items: list = field(default_factory=list)    # provenance lines, fingerprinted
    hip_scores: np.ndarray = None            # (n,) float, the rules' hip score (nan: not scored)
    rule_hip: np.ndarray = None              # (n,) bool, the rules called hip
    rule_bridge: np.ndarray = None           # (n,) bool, the rules called bridge

    def __post_init__(self):
        n = len(self.labels)
        if self.hip_scores is None:
            self.hip_scores = np.full(n, np.nan)
        if self.rule_hip is None:
            self.rule_hip = np.zeros(n, bool)
        if self.rule_bridge is None:
            self.rule_bridge = np.zeros(n, bool)

    def __len__(self):
        return len(self.labels)

    @staticmethod
    def concat(sets, size=32):
        sets = [s for s in sets if len(s)]
        if not sets:
            return PatchSet(np.zeros((0, size, size), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), [])
        off, groups = 0, []
        for s in sets:
            groups.append(s.groups + off)
            off += int(s.groups.max()) + 1 if len(s.groups) else 0
        return PatchSet(np.concatenate([s.patches for s in sets]), np.concatenate([s.labels for s in sets]),
                        np.concatenate(groups), [i for s in sets for i in s.items],
                        np.concatenate([s.hip_scores for s in sets]), np.concatenate([s.rule_hip for s in sets]),
                        np.concatenate([s.rule_bridge for s in sets]))

    def counts(self):
        return {c: int((self.labels == k).sum()) for k, c in enumerate(CLASSES)}


def truth_label(joint):
    """Class name of a truth joint, or None when it is not used (missing, extra, partial, not a ball)."""
    if joint.get("kind", "ball") != "ball" or joint.get("partial"):
        return None
    d = joint.get("defects") or []
    if any(c in d for c in SKIP_CODES):
        return None
    for c in PRECEDENCE:
        if c in d:
            return c
    return "good"


def fingerprint(items):
    """SHA256 of the sorted provenance lines."""
    h = hashlib.sha256()
    for line in sorted(items):
        h.update(line.encode() + b"\n")
    return h.hexdigest()


def patches_from_truth(image, truth, *, size=32, context=2.0, norm="frame", good_per_frame=8, rng=None):
    """Labelled patches of one frame with simulator truth.

    The frame's reference diameter (median of its usable balls) sets the crop scale, as
    :func:`xrayinspect.classify.apply_classifier` does with segmented joints.
    """
    joints = [j for j in truth["joints"] if j.get("kind") == "ball" and not j.get("partial")
              and "missing" not in (j.get("defects") or [])]
    if not joints:
        return np.zeros((0, size, size), np.float32), np.zeros(0, np.int64)
    labels = [truth_label(j) for j in joints]
    ref = reference_diameter([j["diameter_px"] for j in joints if truth_label(j) is not None])
    patches = crop_joints(image, [(j["x_px"], j["y_px"]) for j in joints], ref, size=size,
                          polarity=truth.get("polarity", "dark"), context=context, norm=norm)
    keep = [i for i, lab in enumerate(labels) if lab not in (None, "good")]
    good = [i for i, lab in enumerate(labels) if lab == "good"]
    if good_per_frame is not None and len(good) > good_per_frame:
        rng = rng if rng is not None else np.random.default_rng(0)
        good = sorted(rng.choice(good, good_per_frame, replace=False).tolist())
    idx = sorted(keep + good)
    return patches[idx], np.array([CLASSES.index(labels[i]) for i in idx], np.int64)


def patches_from_scoring(image, truth, result, *, size=32, context=2.0, norm="frame", good_per_frame=16,
                         hard_good_score=2.0, rng=None):
    """Labelled patches of the balls the scorer segmented in one frame with simulator truth.

    The patches are cut exactly as :func:`xrayinspect.classify.apply_classifier` cuts them at
    scoring time (segmented centres, the frame's median segmented diameter, the scorer's
    polarity, one stretch over all usable balls), so a model never meets crops unlike its
    training data. Each segmented ball takes the label of the truth ball it matches
    (:func:`xrayinspect.evaluation.match`); unmatched balls and balls whose truth is skipped
    (:func:`truth_label`) are left out.

    Parameters
    ----------
    good_per_frame : int or None
        Good balls kept at random per frame (None: all of them, as calibration needs).
    hard_good_score : float or None
        Good balls whose rule hip score is at least this are always kept: the rules' own
        near-misses are the negatives the model must learn.

    Returns
    -------
    (patches, labels, hip_scores, rule_hip, rule_bridge)
    """
    from ..classify import ball_patches, usable_balls
    from ..evaluation import match

    empty = (np.zeros((0, size, size), np.float32), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool),
             np.zeros(0, bool))
    if result is None or result.status != "ok":
        return empty
    balls = usable_balls(result)
    if not balls:
        return empty
    pairs, _, _ = match(truth["joints"], result.joints)
    by_result = {id(result.joints[b]): truth["joints"][a] for a, b in pairs}
    labels = [truth_label(by_result[id(j)]) if id(j) in by_result else None for j in balls]
    # nan: the frame cannot show hip (a CT slice), where scoring lets the model call none
    hs = np.array([j.hip_score if np.isfinite(j.hip_score) and result.hip_judged else np.nan for j in balls], float)
    good = [i for i, lab in enumerate(labels) if lab == "good"]
    keep = [i for i, lab in enumerate(labels) if lab not in (None, "good")]
    if good_per_frame is not None:
        hard = [i for i in good if hard_good_score is not None and np.isfinite(hs[i]) and hs[i] >= hard_good_score]
        easy = [i for i in good if i not in set(hard)]
        if len(easy) > good_per_frame:
            rng = rng if rng is not None else np.random.default_rng(0)
            easy = rng.choice(easy, good_per_frame, replace=False).tolist()
        good = hard + easy
    idx = sorted(keep + good)
    if not idx:
        return empty
    crop = {"size": size, "context": context, "norm": norm}
    patches, _, _ = ball_patches(image, balls, result.polarity or "dark", crop, subset=idx)
    return (patches, np.array([CLASSES.index(labels[i]) for i in idx], np.int64), hs[idx],
            np.array(["hip" in balls[i].defects for i in idx], bool),
            np.array(["bridge" in balls[i].defects for i in idx], bool))


# ---------------------------------------------------------------- synthetic fast path

SIZES = (512, 640, 768, 1024)
SIZE_P = (0.7, 0.15, 0.1, 0.05)
DIFFICULTIES = ("easy", "normal", "hard")
DIFF_P = (0.2, 0.6, 0.2)


#: Share of fast-path frames simulated as oblique views (20-45 degrees). The simulator alone makes
#: about 1 in 8 oblique; head and pillow look different there (separated, elongated), and a model
#: that saw too few of them vetoed true hips in oblique frames.
OBLIQUE_P = 0.25


def synth_spec(seed):
    """Frame size, difficulty and oblique angle the synthetic fast path uses for ``seed``.

    ``tilt_deg`` None leaves the angle to the simulator (mostly 0-3 degrees).
    """
    rng = np.random.default_rng([seed, 7919])
    s = int(rng.choice(SIZES, p=SIZE_P))
    difficulty = str(rng.choice(DIFFICULTIES, p=DIFF_P))
    tilt = float(rng.uniform(20, 45)) if rng.random() < OBLIQUE_P else None
    return {"seed": int(seed), "shape": (s, s), "difficulty": difficulty, "tilt_deg": tilt}


def _synth_one(args):
    seed, size, context, norm, good_per_frame, crops = args
    from ..synth import generate_frame

    spec = synth_spec(seed)
    f = generate_frame(spec["seed"], package="bga", shape=spec["shape"], difficulty=spec["difficulty"],
                       tilt_deg=spec["tilt_deg"])
    rng = np.random.default_rng([seed, 17])
    if crops == "truth":
        p, y = patches_from_truth(f.image, f.truth, size=size, context=context, norm=norm,
                                  good_per_frame=good_per_frame, rng=rng)
        return seed, p, y, np.full(len(y), np.nan), np.zeros(len(y), bool), np.zeros(len(y), bool), spec
    from ..pipeline import score_frame

    result = score_frame(f.image)
    p, y, hs, rh, rb = patches_from_scoring(f.image, f.truth, result, size=size, context=context, norm=norm,
                                            good_per_frame=good_per_frame, rng=rng)
    return seed, p, y, hs, rh, rb, spec


def _worker_init():
    import os

    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = "1"
    try:
        import cv2
        cv2.setNumThreads(1)
    except ImportError:
        pass


def synthetic_patches(seeds, *, size=32, context=2.0, norm="frame", good_per_frame=8, workers=1, progress=False,
                      crops="scored"):
    """Simulate BGA frames for ``seeds`` (sizes 512-1024, mixed difficulty) and crop their balls.

    ``crops="scored"``: each frame is scored (no recipe) and the segmented balls are cut as
    scoring cuts them (:func:`patches_from_scoring`); ``"truth"``: cut at the simulator's true
    centres and diameters (:func:`patches_from_truth`). Deterministic for given seeds whatever
    ``workers`` is.
    """
    if crops not in ("scored", "truth"):
        raise ValueError(f"crops must be 'scored' or 'truth', got {crops!r}")
    seeds = [int(s) for s in seeds]
    jobs = [(s, size, context, norm, good_per_frame, crops) for s in seeds]
    if workers and workers > 1 and len(seeds) > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers, initializer=_worker_init) as pool:
            it = pool.imap(_synth_one, jobs, chunksize=4)
            res = list(_progress(it, len(jobs), progress, "simulating"))
    else:
        res = list(_progress(map(_synth_one, jobs), len(jobs), progress, "simulating"))
    ps, ys, gs, hss, rhs, rbs, items = [], [], [], [], [], [], []
    for g, (seed, p, y, hs, rh, rb, spec) in enumerate(res):
        ps.append(p)
        ys.append(y)
        hss.append(hs)
        rhs.append(rh)
        rbs.append(rb)
        gs.append(np.full(len(y), g, np.int64))
        items.append(f"synth:bga:seed={seed}:shape={spec['shape'][0]}x{spec['shape'][1]}:{spec['difficulty']}"
                     + (f":tilt={spec['tilt_deg']:.2f}" if spec["tilt_deg"] is not None else "")
                     + (":scored" if crops == "scored" else ""))
    if not ps:
        return PatchSet.concat([], size)
    return PatchSet(np.concatenate(ps), np.concatenate(ys), np.concatenate(gs), items, np.concatenate(hss),
                    np.concatenate(rhs), np.concatenate(rbs))


def _progress(it, total, progress, desc):
    if not progress:
        return it
    try:
        from tqdm import tqdm
    except ImportError:
        return it
    return tqdm(it, total=total, desc=desc, leave=False)


# ---------------------------------------------------------------- folders

def _file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def simulator_set_patches(folder, *, size=32, context=2.0, norm="frame", good_per_frame=8, seed=0, crops="scored"):
    """Patches from a folder written by ``xrayinspect synth`` (frames + ``<name>.truth.json``).

    ``crops`` as in :func:`synthetic_patches` (``"scored"``: each frame is scored without a recipe
    and its segmented balls are cut as scoring cuts them).
    """
    from ..io import read_frame

    folder = Path(folder)
    ps, ys, gs, items = [], [], [], []
    for g, tpath in enumerate(sorted(folder.rglob("*.truth.json"))):
        stem = tpath.name[:-len(".truth.json")]
        frames = [p for p in tpath.parent.glob(stem + ".*") if p.suffix.lower() in IMAGE_SUFFIXES]
        if not frames:
            continue
        truth = json.loads(tpath.read_text())
        if truth.get("package", "bga") != "bga":
            continue
        image, meta = read_frame(frames[0])
        rng = np.random.default_rng([seed, g])
        if crops == "truth":
            p, y = patches_from_truth(image, truth, size=size, context=context, norm=norm,
                                      good_per_frame=good_per_frame, rng=rng)
        else:
            from ..pipeline import score_frame

            result = score_frame(image, meta=meta)
            p, y, *_ = patches_from_scoring(image, truth, result, size=size, context=context, norm=norm,
                                            good_per_frame=good_per_frame, rng=rng)
        ps.append(p)
        ys.append(y)
        gs.append(np.full(len(y), g, np.int64))
        items.append(f"set:{frames[0].relative_to(folder)}:{_file_sha(frames[0])}:{_file_sha(tpath)}")
    if not ps:
        return PatchSet.concat([], size)
    return PatchSet(np.concatenate(ps), np.concatenate(ys), np.concatenate(gs), items)


def _load_crop(path, size, polarity=""):
    import cv2

    if path.suffix.lower() == ".npy":
        a = np.load(path, allow_pickle=False)
    else:
        a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if a is None:
            raise ValueError(f"{path}: not a readable image")
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 3:
        a = a.mean(axis=2)
    if a.shape != (size, size):
        interp = cv2.INTER_AREA if a.shape[0] > size else cv2.INTER_LINEAR
        a = cv2.resize(a, (size, size), interpolation=interp)
    normalised = path.suffix.lower() == ".npy" and a.min() >= -0.25 and a.max() <= 1.25
    if not normalised and polarity == "dark":
        a = -a                     # raw crops keep the frame's polarity; models see solder bright
    if not normalised:
        lo, hi = np.percentile(a, [1, 99])
        a = np.clip((a - lo) / max(hi - lo, 1e-6), -0.25, 1.25)
    return a.astype(np.float32)


def review_export_patches(folder, *, size=32):
    """Patches from a review export: ``labels.csv`` + the crops it names."""
    folder = Path(folder)
    rows = list(csv.DictReader(open(folder / "labels.csv", newline="", encoding="utf-8")))
    ps, ys, gs, items, frames = [], [], [], [], {}
    for row in rows:
        lab = (row.get("label") or "").strip().lower()
        lab = LABEL_ALIASES.get(lab, lab)
        if lab not in CLASSES:
            continue
        pf = (row.get("patch_file") or "").strip()
        cf = (row.get("crop_file") or "").strip()
        if pf and (folder / pf).is_file():
            p, cf = folder / pf, pf       # the model patch as scoring cut it
        else:
            p = folder / cf
            if not p.is_file() and (folder / "crops" / cf).is_file():
                p = folder / "crops" / cf
        if not p.is_file():
            raise FileNotFoundError(f"{folder / 'labels.csv'}: crop_file {cf!r} not found")
        ps.append(_load_crop(p, size, polarity=(row.get("polarity") or "").strip().lower()))
        ys.append(CLASSES.index(lab))
        gs.append(frames.setdefault(row.get("frame", cf), len(frames)))
        items.append(f"review:{folder.name}/{cf}:{lab}:{_file_sha(p)}")
    if not ps:
        return PatchSet.concat([], size)
    return PatchSet(np.stack(ps), np.array(ys, np.int64), np.array(gs, np.int64), items)


def folder_patches(folder, *, size=32, context=2.0, norm="frame", good_per_frame=8, seed=0, crops="scored"):
    """A review export when ``labels.csv`` is there, else a simulator set."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"training data folder not found: {folder}")
    if (folder / "labels.csv").is_file():
        return review_export_patches(folder, size=size)
    ps = simulator_set_patches(folder, size=size, context=context, norm=norm, good_per_frame=good_per_frame, seed=seed,
                               crops=crops)
    if not len(ps):
        raise ValueError(f"{folder}: neither a review export (labels.csv) nor a simulator set (*.truth.json) "
                         f"with BGA balls")
    return ps

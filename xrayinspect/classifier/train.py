"""Training: a plain function with a seed, deterministic on CPU.

>>> metrics = train_model(["sets/run1"], "models/mine", seed=0, epochs=20)   # doctest: +SKIP
"""

import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..classify import FORMAT_VERSION, MODEL_FILES, sha256_file
from . import data as D
from .model import ARCH, CLASSES, JointNet

DEFAULTS = {"size": 32, "context": 2.0, "norm": "frame", "widths": (8, 16, 32), "dropout": 0.2, "batch_size": 128,
            "lr": 2e-3, "weight_decay": 1e-4, "good_per_frame": 16, "crops": "scored"}


def set_determinism(seed, threads=2):
    """Seed torch and numpy and make CPU kernels deterministic."""
    torch.manual_seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def split_groups(groups, val_frac, seed):
    """Indices (train, val) with whole frames on one side."""
    uniq = np.unique(groups)
    rng = np.random.default_rng([seed, 101])
    uniq = rng.permutation(uniq)
    n_val = int(round(len(uniq) * val_frac)) if len(uniq) > 1 else 0
    n_val = min(max(n_val, 1 if (val_frac > 0 and len(uniq) > 1) else 0), len(uniq) - 1)
    val_g = set(uniq[:n_val].tolist())
    is_val = np.array([g in val_g for g in groups], bool)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def augment(x, gen):
    """Flips, 90-degree rotations, brightness/contrast/gamma jitter and noise; ``x`` (n,1,H,W)."""
    n = x.shape[0]
    r = torch.rand(n, 8, generator=gen)
    x = torch.where((r[:, 0] < 0.5).view(n, 1, 1, 1), x.flip(3), x)
    x = torch.where((r[:, 1] < 0.5).view(n, 1, 1, 1), x.flip(2), x)
    x = torch.where((r[:, 2] < 0.5).view(n, 1, 1, 1), x.transpose(2, 3), x)     # with the flips: all 8 symmetries
    gamma = torch.exp((r[:, 3] - 0.5) * 0.6).view(n, 1, 1, 1)                    # 0.74 .. 1.35
    x = torch.where(x > 0, x.clamp(min=0) ** gamma, x)
    contrast = (0.8 + 0.4 * r[:, 4]).view(n, 1, 1, 1)
    bright = ((r[:, 5] - 0.5) * 0.2).view(n, 1, 1, 1)
    x = (x - 0.5) * contrast + 0.5 + bright
    sigma = (0.03 * r[:, 6]).view(n, 1, 1, 1)
    x = x + sigma * torch.randn(x.shape, generator=gen)
    return x.clamp(-0.25, 1.25)


def predict_logits(model, x, batch_size=512):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(model(torch.as_tensor(x[i:i + batch_size]).unsqueeze(1)))
    return torch.cat(out) if out else torch.zeros(0, len(CLASSES))


#: How scoring uses a model trained without calibration frames (``calib_seeds``): the model only
#: vetoes a rule ``hip`` it is sure of (p_hip < 0.1) and adds nothing, and only balls with a rule
#: hip score of at least 2 (the rules call hip at 3) go through it. With calibration frames
#: :func:`choose_scoring_policy` chooses the policy end to end on the scorer's own segmentation.
SCORING_POLICY = {"hip_add": None, "hip_veto": 0.1, "gate_hip_score": 2.0, "bridge_add": None,
                  "crop_diameter_scale": 1.0}


def calibrate_thresholds(proba, labels):
    """``hip``: the threshold in [0.5, 0.95] maximising hip F1 on validation; ``bridge_add``: the
    lowest threshold in [0.95, 0.99] with validation precision >= 0.95 on bridge (0.99 when none).

    The floors matter: validation keeps only a few good balls per frame, so its precision is
    optimistic and an unfloored F1 optimum lands far too low (0.15 was seen: 715 false calls
    on 100 held-out frames)."""
    th = {}
    hip, br = CLASSES.index("hip"), CLASSES.index("bridge")
    y = labels == hip
    best = (-1.0, 0.5)
    for t in np.linspace(0.5, 0.95, 46):
        f1 = _f1(proba[:, hip] >= t, y)
        if f1 > best[0] + 1e-9:
            best = (f1, float(t))
    th["hip"] = round(best[1], 3)
    th["hip_val_f1"] = round(best[0], 4)
    yb = labels == br
    th["bridge_add"] = 0.99
    for t in np.linspace(0.95, 0.99, 5):
        pred = proba[:, br] >= t
        if pred.sum() >= 3 and (pred & yb).sum() / pred.sum() >= 0.95:
            th["bridge_add"] = round(float(t), 3)
            break
    return th


#: Gates tried by :func:`choose_scoring_policy` (rule hip score a ball needs to reach the model;
#: None: every ball) and the hip probabilities tried for ``hip_add``.
POLICY_GATES = (None, 0.0, 0.5, 1.0, 1.5, 2.0)
POLICY_HIP_ADD = tuple(round(float(t), 3) for t in np.linspace(0.30, 0.99, 70))
#: F1 within this of the best counts as a tie; ties go to the higher gate (fewer balls through
#: the model, so cheaper) and then the higher threshold (fewer calls on unseen data).
POLICY_TIE = 0.003


def choose_scoring_policy(proba, labels, rule_hip, hip_scores, *, hip_veto=0.1, rule_bridge=None):
    """Scoring policy chosen end to end on calibration balls (every usable ball of each frame,
    cut as scoring cuts them, with the rules' calls).

    A ball is called ``hip`` when the rules call it and the model does not veto it
    (``p_hip < hip_veto`` among balls through the gate; also tried off, kept on a tie), or
    when it passes the gate (rule hip score >= ``gate_hip_score``) and ``p_hip >= hip_add``. The pair (gate,
    hip_add) with the best hip F1 is kept (:data:`POLICY_TIE`); ``hip_add`` None (the model
    adds no hip) is among the candidates, so a model that cannot help leaves the rules' calls. ``bridge_add`` is the lowest
    threshold in [0.95, 0.999] at which the bridges the model would add (balls without a rule
    bridge) are >= 90 % right with at least 3 of them, else None (the model adds none).

    Returns
    -------
    (policy, report)
        ``policy``: dict for ``thresholds.json`` (``hip_add``, ``hip_veto``, ``gate_hip_score``,
        ``bridge_add``, ``crop_diameter_scale`` 1.0); ``report``: F1 of rules alone and of the
        chosen policy, and the counts behind them.
    """
    hip, br = CLASSES.index("hip"), CLASSES.index("bridge")
    y = labels == hip
    p = proba[:, hip]
    rule_hip = np.asarray(rule_hip, bool)
    hs = np.asarray(hip_scores, float)
    judged = np.isfinite(hs)          # nan: a frame that cannot show hip; the model adds none there

    def calls(gate, veto, t):
        through = judged if gate is None else (np.nan_to_num(hs, nan=-np.inf) >= gate)
        kept = rule_hip & ~(through & (p < veto))
        return through, (kept | (through & (p >= t)) if t is not None else kept)

    tried = []
    for gate in POLICY_GATES:
        for veto in (hip_veto, 0.0):             # 0.0: no veto, every rule hip stands
            for t in (*POLICY_HIP_ADD, None):
                tried.append((_f1(calls(gate, veto, t)[1], y), -1.0 if gate is None else gate,
                              2.0 if t is None else t, veto != 0.0, gate, t, veto))
    top = max(c[0] for c in tried)
    *_, gate, t, veto = max((c for c in tried if c[0] >= top - POLICY_TIE), key=lambda c: c[1:4])
    through, call = calls(gate, veto, t)
    yb = labels == br
    rb = np.zeros(len(p), bool) if rule_bridge is None else np.asarray(rule_bridge, bool)
    bridge_add = None
    bridge_through = np.ones(len(p), bool) if gate is None else through
    for tb in (0.95, 0.97, 0.98, 0.99, 0.995, 0.999):
        add = bridge_through & ~rb & (proba[:, br] >= tb)
        if add.sum() >= 3 and (add & yb).sum() / add.sum() >= 0.9:
            bridge_add = tb
            break
    policy = {"hip_add": t, "hip_veto": veto, "gate_hip_score": gate, "bridge_add": bridge_add,
              "crop_diameter_scale": 1.0}
    report = {"n_balls": int(len(p)), "n_hip": int(y.sum()), "through_gate": int(through.sum()),
              "hip_f1_rules": round(_f1(rule_hip, y), 4), "hip_f1_policy": round(_f1(call, y), 4),
              "hip_tp": int((call & y).sum()), "hip_fp": int((call & ~y).sum()), "hip_fn": int((~call & y).sum()),
              "hip_fp_rules": int((rule_hip & ~y).sum()), "hip_fn_rules": int((~rule_hip & y).sum())}
    return policy, report


def _f1(pred, y):
    tp = float((pred & y).sum())
    fp = float((pred & ~y).sum())
    fn = float((~pred & y).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def per_class_metrics(proba, labels, thresholds=None):
    """Precision, recall, F1 and support per class (argmax), plus the ``hip`` call at its threshold."""
    pred = proba.argmax(1)
    out = {}
    for k, c in enumerate(CLASSES):
        y, p = labels == k, pred == k
        tp = int((p & y).sum())
        out[c] = {"precision": round(tp / max(int(p.sum()), 1), 4), "recall": round(tp / max(int(y.sum()), 1), 4),
                  "f1": round(_f1(p, y), 4), "support": int(y.sum())}
    if thresholds and "hip" in thresholds:
        k = CLASSES.index("hip")
        y, p = labels == k, proba[:, k] >= thresholds["hip"]
        tp = int((p & y).sum())
        out["hip@threshold"] = {"threshold": thresholds["hip"], "precision": round(tp / max(int(p.sum()), 1), 4),
                                "recall": round(tp / max(int(y.sum()), 1), 4), "f1": round(_f1(p, y), 4),
                                "support": int(y.sum()), "false_calls": int((p & ~y).sum())}
    out["accuracy"] = round(float((pred == labels).mean()) if len(labels) else 0.0, 4)
    out["confusion"] = [[int(((labels == i) & (pred == j)).sum()) for j in range(len(CLASSES))]
                        for i in range(len(CLASSES))]
    return out


def train_model(data_dirs, out_dir, *, seed=0, epochs=30, val_frac=0.2, patience=6, progress=True,
                synthetic_seeds=None, eval_seeds=None, calib_seeds=None, patch_set=None, eval_set=None,
                calib_set=None, threads=2, workers=1, command=None, **hp):
    """Train a JointNet and write a model folder.

    Parameters
    ----------
    data_dirs : list of path
        Simulator sets (``*.truth.json`` beside frames) and/or review exports (``labels.csv``).
    out_dir : path
        Model folder to write (created): config.json, thresholds.json, model.safetensors,
        metrics.json, MODEL_CARD.md, SHA256SUMS.
    seed : int
        Seeds the split, the initial weights, the batch order and the augmentation.
    epochs, patience : int
        At most ``epochs``; stop when validation loss has not improved for ``patience``.
    val_frac : float
        Fraction of frames held out for early stopping and threshold calibration.
    synthetic_seeds : iterable of int, optional
        Also simulate BGA frames with these seeds (the fast path of the default model).
    eval_seeds : iterable of int, optional
        Simulate these frames after training and report held-out metrics (never trained on).
    calib_seeds : iterable of int, optional
        Simulate and score these frames (every usable ball, scored crops) and choose the scoring
        policy on them (:func:`choose_scoring_policy`); without them the model only vetoes
        (:data:`SCORING_POLICY`).
    patch_set, eval_set, calib_set : data.PatchSet, optional
        Ready-made patches (tests; cached runs); ``calib_set`` needs scored crops.
    threads, workers : int
        Torch threads; processes simulating frames.
    command : str, optional
        The command line that ran this, for the model card.
    **hp
        Overrides of :data:`DEFAULTS` (size, context, norm, widths, dropout, batch_size, lr,
        weight_decay, good_per_frame, crops).

    Returns
    -------
    dict
        Metrics (also written to ``metrics.json``).
    """
    t_start = time.perf_counter()
    unknown = set(hp) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown hyper-parameters: {sorted(unknown)}")
    h = {**DEFAULTS, **hp}
    set_determinism(seed, threads)
    crop_kw = {"size": h["size"], "context": h["context"], "norm": h["norm"], "crops": h["crops"]}

    sets = [] if patch_set is None else [patch_set]
    for d in data_dirs or []:
        sets.append(D.folder_patches(d, good_per_frame=h["good_per_frame"], seed=seed, **crop_kw))
    if synthetic_seeds is not None:
        sets.append(D.synthetic_patches(list(synthetic_seeds), good_per_frame=h["good_per_frame"], workers=workers,
                                        progress=progress, **crop_kw))
    ds = D.PatchSet.concat(sets, h["size"])
    if len(ds) < 2:
        raise ValueError("no training patches (give --data folders or synthetic seeds)")
    t_data = time.perf_counter() - t_start

    tr, va = split_groups(ds.groups, val_frac, seed)
    if len(va) == 0:
        tr, va = tr, tr
    xtr, ytr = torch.as_tensor(ds.patches[tr]).unsqueeze(1), torch.as_tensor(ds.labels[tr])
    xva, yva = torch.as_tensor(ds.patches[va]).unsqueeze(1), torch.as_tensor(ds.labels[va])
    counts = np.bincount(ds.labels[tr], minlength=len(CLASSES)).astype(float)
    weights = np.where(counts > 0, np.sqrt(counts.sum() / (len(CLASSES) * np.maximum(counts, 1))), 0.0)
    weights = torch.as_tensor(weights / max(weights[counts > 0].mean(), 1e-9), dtype=torch.float32)

    model = JointNet(len(CLASSES), widths=tuple(h["widths"]), dropout=h["dropout"])
    opt = torch.optim.AdamW(model.parameters(), lr=h["lr"], weight_decay=h["weight_decay"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    val_loss_fn = nn.CrossEntropyLoss(weight=weights)
    gen = torch.Generator().manual_seed(seed)
    best = (math.inf, None, -1)
    history = []
    bar = None
    if progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=epochs, desc="training", leave=False)
        except ImportError:
            bar = None
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        tot, nb = 0.0, 0
        for i in range(0, len(perm), h["batch_size"]):
            idx = perm[i:i + h["batch_size"]]
            if len(idx) < 2:
                continue
            xb = augment(xtr[idx], gen)
            loss = loss_fn(model(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        sched.step()
        vl = float(val_loss_fn(predict_logits(model, xva.squeeze(1).numpy()), yva))
        history.append({"epoch": ep + 1, "train_loss": round(tot / max(nb, 1), 5), "val_loss": round(vl, 5)})
        if bar is not None:
            bar.set_postfix(train=f"{tot / max(nb, 1):.3f}", val=f"{vl:.3f}")
            bar.update(1)
        if vl < best[0] - 1e-5:
            best = (vl, {k: v.detach().clone() for k, v in model.state_dict().items()}, ep + 1)
        elif ep + 1 - best[2] >= patience:
            break
    if bar is not None:
        bar.close()
    if best[1] is not None:
        model.load_state_dict(best[1])
    t_train = time.perf_counter() - t_start - t_data

    pva = torch.softmax(predict_logits(model, xva.squeeze(1).numpy()), 1).numpy()
    thresholds = calibrate_thresholds(pva, yva.numpy())
    thresholds.update(SCORING_POLICY)
    if calib_set is None and calib_seeds is not None:
        t0 = time.perf_counter()
        calib_set = D.synthetic_patches(list(calib_seeds), good_per_frame=None, workers=workers, progress=progress,
                                        **{**crop_kw, "crops": "scored"})
        metrics_calib_seconds = round(time.perf_counter() - t0, 1)
    else:
        metrics_calib_seconds = None
    calibration = None
    if calib_set is not None and len(calib_set):
        pca = torch.softmax(predict_logits(model, calib_set.patches), 1).numpy()
        policy, calibration = choose_scoring_policy(pca, calib_set.labels, calib_set.rule_hip, calib_set.hip_scores,
                                                    rule_bridge=calib_set.rule_bridge)
        thresholds.update(policy)
        thresholds["note"] = ("hip and bridge_add from validation patches (goods subsampled); hip_add, hip_veto, "
                              "gate_hip_score, bridge_add (overrides) chosen end to end on the scorer's segmentation "
                              "of the calibration frames (choose_scoring_policy)")
        if calib_seeds is not None:
            calibration["seeds"] = [int(min(calib_seeds)), int(max(calib_seeds)), len(list(calib_seeds))]
        if metrics_calib_seconds is not None:
            calibration["seconds_data"] = metrics_calib_seconds
    metrics = {"seed": seed, "n_train": int(len(tr)), "n_val": int(len(va)),
               "train_counts": {c: int(n) for c, n in zip(CLASSES, counts)},
               "best_epoch": best[2], "epochs_run": len(history), "history": history,
               "validation": per_class_metrics(pva, yva.numpy(), thresholds),
               "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1)}
    if calibration is not None:
        metrics["calibration"] = calibration
    if eval_set is None and eval_seeds is not None:
        t0 = time.perf_counter()
        eval_set = D.synthetic_patches(list(eval_seeds), good_per_frame=None, workers=workers, progress=progress,
                                       **crop_kw)
        metrics["seconds_eval_data"] = round(time.perf_counter() - t0, 1)
        metrics["eval_seeds"] = [int(min(eval_seeds)), int(max(eval_seeds)), len(list(eval_seeds))]
    if eval_set is not None and len(eval_set):
        pev = torch.softmax(predict_logits(model, eval_set.patches), 1).numpy()
        metrics["held_out"] = per_class_metrics(pev, eval_set.labels, thresholds)
        metrics["held_out"]["n_frames"] = int(len(np.unique(eval_set.groups)))

    config = {
        "format_version": FORMAT_VERSION, "architecture": ARCH,
        "hyperparameters": {"widths": list(h["widths"]), "dropout": h["dropout"], "batch_size": h["batch_size"],
                            "lr": h["lr"], "weight_decay": h["weight_decay"], "epochs": epochs,
                            "patience": patience, "val_frac": val_frac, "seed": seed,
                            "good_per_frame": h["good_per_frame"], "crops": h["crops"], "optimizer": "AdamW+cosine",
                            "loss": "cross-entropy, sqrt inverse-frequency class weights"},
        "crop": {"size": h["size"], "context": h["context"], "norm": h["norm"], "percentiles": [0.5, 99.5],
                 "scale": "frame median ball diameter", "centres": "segmented" if h["crops"] == "scored" else "truth", "polarity": "solder bright", "clip": [-0.25, 1.25]},
        "input": {"shape": [1, h["size"], h["size"]], "dtype": "float32", "layout": "NCHW"},
        "classes": list(CLASSES),
        "xrayinspect_version": __version__, "torch_version": torch.__version__,
        "python": platform.python_version(),
        "training_data": {"sha256": D.fingerprint(ds.items), "n_items": len(ds.items),
                          "n_patches": int(len(ds)), "counts": ds.counts(),
                          "sources": [str(d) for d in (data_dirs or [])]
                          + ([f"synthetic bga seeds {min(synthetic_seeds)}-{max(synthetic_seeds)}"]
                             if synthetic_seeds is not None else [])},
        "command": command or " ".join(sys.argv),
    }
    metrics["seconds_total"] = round(time.perf_counter() - t_start, 1)
    write_model_folder(out_dir, model, config, thresholds, metrics)
    return metrics


def write_model_folder(out_dir, model, config, thresholds, metrics):
    """Write config, thresholds, safetensors weights, metrics, card and SHA256SUMS."""
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out / "thresholds.json").write_text(json.dumps(thresholds, indent=1) + "\n")
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"architecture": config["architecture"],
                                                               "format_version": str(config["format_version"])})
    (out / "model.safetensors").chmod(0o644)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    (out / "MODEL_CARD.md").write_text(model_card(config, thresholds, metrics))
    onnx = out / "model.onnx"
    if onnx.exists():
        onnx.unlink()              # stale: it belonged to other weights
    write_sha256sums(out)


def write_sha256sums(folder, extra=()):
    """(Re)write ``SHA256SUMS`` for the model files present in ``folder``."""
    folder = Path(folder)
    names = [n for n in (*MODEL_FILES, "metrics.json", "MODEL_CARD.md", "model.onnx", *extra)
             if (folder / n).is_file()]
    lines = [f"{sha256_file(folder / n)}  {n}" for n in dict.fromkeys(names)]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def _table(m):
    rows = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c in CLASSES:
        r = m[c]
        rows.append(f"| {c} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |")
    if "hip@threshold" in m:
        r = m["hip@threshold"]
        rows.append(f"| hip (p >= {r['threshold']}) | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} "
                    f"| {r['support']} |")
    return "\n".join(rows)


def _seeds_text(seeds, end):
    """``"Seeds a-b (n frames)"`` followed by ``end`` for a ``[first, last, count]`` record, or ""."""
    return f"Seeds {seeds[0]}-{seeds[1]} ({seeds[2]} frames){end}" if seeds else ""


def model_card(config, thresholds, metrics):
    """MODEL_CARD.md text."""
    td = config["training_data"]
    lines = [
        "# Joint classifier model card", "",
        f"- architecture: {config['architecture']} (conv blocks {config['hyperparameters']['widths']}, BN, ReLU, "
        f"max-pool, global average pool, dropout {config['hyperparameters']['dropout']}, linear)",
        f"- classes: {', '.join(config['classes'])}",
        f"- input: 1 x {config['crop']['size']} x {config['crop']['size']} patch of side "
        f"{config['crop']['context']} x the frame's median ball diameter, solder bright, robust "
        f"{config['crop']['norm']}-level percentile stretch {config['crop']['percentiles']}",
        f"- xrayinspect {config['xrayinspect_version']}, torch {config['torch_version']}",
        f"- thresholds: {json.dumps(thresholds)}", "",
        "## Training data", "",
        f"- sources: {'; '.join(td['sources'])}",
        f"- {td['n_patches']} patches from {td['n_items']} items, per class {json.dumps(td['counts'])}",
        f"- fingerprint (SHA256 of the sorted item list): `{td['sha256']}`",
        f"- split: {metrics['n_train']} train / {metrics['n_val']} validation patches, whole frames per side; "
        f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']} run; "
        f"{metrics['seconds_data']} s data, {metrics['seconds_train']} s training", "",
        "## Validation (early stopping and threshold calibration)", "",
        _table(metrics["validation"]), "",
    ]
    if "calibration" in metrics:
        c = metrics["calibration"]
        lines += ["## Scoring policy (calibration frames, the scorer's own segmentation)", "",
                  _seeds_text(c.get("seeds"), ", ")
                  + f"{c['n_balls']} segmented balls matched to truth, {c['n_hip']} of them hip; "
                  + (f"{c['through_gate']} pass the gate (rule hip score >= {thresholds.get('gate_hip_score')})."
                     if thresholds.get("gate_hip_score") is not None else "every ball goes through the model."),
                  "",
                  "| hip call | F1 | false calls | missed |", "|---|---|---|---|",
                  f"| rules alone | {c['hip_f1_rules']:.3f} | {c['hip_fp_rules']} | {c['hip_fn_rules']} |",
                  f"| rules + model (hip_add {thresholds.get('hip_add')}, veto {thresholds.get('hip_veto')}) | "
                  f"{c['hip_f1_policy']:.3f} | {c['hip_fp']} | {c['hip_fn']} |", ""]
    if "held_out" in metrics:
        ho = metrics["held_out"]
        lines += ["## Held-out synthetic frames (seeds never used for training)", "",
                  _seeds_text(metrics.get("eval_seeds"), ". ")
                  + f"Every usable ball of each frame ({ho['n_frames']} frames), no subsampling, so "
                  f"precision reflects the true class mix. Accuracy {ho['accuracy']:.3f}. This is the model "
                  "alone (argmax): scoring uses it only as the policy above says, with the rules "
                  "authoritative for void, misaligned, missing, extra and segmented bridges.", "",
                  _table(ho), "",
                  "Confusion (rows truth, columns predicted, order " + ", ".join(CLASSES) + "):", "",
                  "```", *[" ".join(f"{v:6d}" for v in row) for row in ho["confusion"]], "```", ""]
    lines += ["## Limits", "",
              "- Trained on simulated frames only (unless review exports are listed above); "
              "accuracy on real boards is unmeasured.",
              "- Head-in-pillow in a single 2D frame can only be suspected; treat `hip` as a flag for review.",
              "- Rules stay authoritative for missing, extra, misaligned, void and segmented bridges "
              "(`xrayinspect.classify.combine`).", "",
              "## Reproduce", "", "```", config.get("command", ""), "```", ""]
    return "\n".join(lines)

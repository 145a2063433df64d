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

DEFAULTS = {"size": 32, "context": 2.0, "norm": "frame", "widths": (16, 32, 64), "dropout": 0.2, "batch_size": 128,
            "lr": 2e-3, "weight_decay": 1e-4, "good_per_frame": 8}


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


#: How scoring uses the model (:func:`xrayinspect.classify.combine` / ``apply_classifier``), written
#: into every ``thresholds.json``. Chosen end to end, on the scorer's own segmentation of
#: calibration frames (seeds 900000-900063, 1024 px; never the evaluation seeds 7_200_000+), with
#: the shipped weights. The scorer's segmented diameters are 0.945x the simulator's truth diameters
#: the model was trained with, so crops scale the frame's median segmented diameter by 1.058 (without
#: it true hips fell to p_hip 0.02-0.05). Then the model's hip probability separates the rules' false
#: hip alarms (p_hip < 0.015 for all but one) from true hips (p_hip > 0.5), but as a caller on its
#: own it raises more false hips than the rules (every true hip had a rule hip score >= 4.7). So the
#: model vetoes a rule ``hip`` it is sure of (p_hip < 0.1), never adds one, and only balls with a hip
#: score of at least 2 (the rules call hip at 3) go through it.
SCORING_POLICY = {"hip_add": None, "hip_veto": 0.1, "gate_hip_score": 2.0, "crop_diameter_scale": 1.058}


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
                synthetic_seeds=None, eval_seeds=None, patch_set=None, eval_set=None, threads=2, workers=1,
                command=None, **hp):
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
    patch_set, eval_set : data.PatchSet, optional
        Ready-made patches (tests; cached runs).
    threads, workers : int
        Torch threads; processes simulating frames.
    command : str, optional
        The command line that ran this, for the model card.
    **hp
        Overrides of :data:`DEFAULTS` (size, context, norm, widths, dropout, batch_size, lr,
        weight_decay, good_per_frame).

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
    crop_kw = {"size": h["size"], "context": h["context"], "norm": h["norm"]}

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
    metrics = {"seed": seed, "n_train": int(len(tr)), "n_val": int(len(va)),
               "train_counts": {c: int(n) for c, n in zip(CLASSES, counts)},
               "best_epoch": best[2], "epochs_run": len(history), "history": history,
               "validation": per_class_metrics(pva, yva.numpy(), thresholds),
               "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1)}
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
                            "good_per_frame": h["good_per_frame"], "optimizer": "AdamW+cosine",
                            "loss": "cross-entropy, sqrt inverse-frequency class weights"},
        "crop": {"size": h["size"], "context": h["context"], "norm": h["norm"], "percentiles": [0.5, 99.5],
                 "scale": "frame median ball diameter", "polarity": "solder bright", "clip": [-0.25, 1.25]},
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
    if "held_out" in metrics:
        ho = metrics["held_out"]
        seeds = metrics.get("eval_seeds")
        lines += ["## Held-out synthetic frames (seeds never used for training)", "",
                  (f"Seeds {seeds[0]}-{seeds[1]} ({seeds[2]} frames). " if seeds else "")
                  + f"Every usable ball of each frame ({ho['n_frames']} frames), no subsampling, so "
                  f"precision reflects the true class mix. Accuracy {ho['accuracy']:.3f}.", "",
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

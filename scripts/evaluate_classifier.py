#!/usr/bin/env python
"""End-to-end value and cost of the joint classifier: rules alone vs rules + classifier.

Both columns use the scorer's own segmentation (``score_frame``), never truth crops: each
held-out frame is scored once with rules only and once with the classifier, and both results
are tallied against simulator truth (:class:`xrayinspect.evaluation.Tally`).

Seeds: BGA frames from :data:`SEED` = 7_200_000 up, reserved for this evaluation. The model
was trained on seeds 1000-1399 and its thresholds/gate were chosen on seeds 900000+ and the
training seeds; do not tune anything on these.

Timing: per frame, ``score_frame`` without and with the classifier (alternating which runs
first), median over the frames; the classifier's own cost is also timed alone
(``apply_classifier`` on a copy of the rules result). A warm-up frame runs first, untimed.
torch/cv2 threads are left as the library sets them (the classifier runs on one thread).

Usage::

    python scripts/evaluate_classifier.py                    # 16 frames, 1024 px, writes docs/classifier_eval.md
    python scripts/evaluate_classifier.py --n 4 --out -      # quick look, print only
    python scripts/evaluate_classifier.py --model path/to/model_folder
"""

import argparse
import copy
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from xrayinspect.classify import apply_classifier, load_classifier, resolve_model_dir
from xrayinspect.evaluation import CODES, Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.synth import generate_frame

#: Base seed reserved for this evaluation. Never train, tune or calibrate on it.
SEED = 7_200_000
REPO = Path(__file__).resolve().parents[1]


def _prf(t, c):
    tp, fp, fn = t.tp[c], t.fp[c], t.fn[c]
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    return p, r, Tally.f1(tp, fp, fn)


def _f(x, nd=3):
    return "n/a" if x is None or x != x else f"{x:.{nd}f}"


def evaluate(n, size, seed, model="default", progress=True):
    clf = load_classifier(model)
    rules, both = Tally(), Tally()
    t_rules, t_both, t_apply, n_balls, n_classified = [], [], [], [], []
    # warm-up (imports, torch/oneDNN kernels), untimed, not tallied
    w = generate_frame(seed - 1, package="bga", shape=(size, size))
    score_frame(w.image, classifier=clf)
    for i in range(n):
        f = generate_frame(seed + i, package="bga", shape=(size, size))
        order = (False, True) if i % 2 == 0 else (True, False)
        res = {}
        for use in order:
            t0 = time.perf_counter()
            r = score_frame(f.image, classifier=clf if use else None)
            (t_both if use else t_rules).append(time.perf_counter() - t0)
            res[use] = r
        r0, r1 = res[False], res[True]
        rules.add(f.truth, r0)
        both.add(f.truth, r1)
        # the classifier's own cost on the same segmentation
        rc = copy.deepcopy(r0)
        t0 = time.perf_counter()
        apply_classifier(f.image, rc, clf, r0.polarity)
        t_apply.append(time.perf_counter() - t0)
        if [j.defects for j in rc.joints] != [j.defects for j in r1.joints]:
            print(f"warning: seed {seed + i}: score_frame(classifier=...) and apply_classifier on the rules "
                  f"result disagree", file=sys.stderr)
        n_balls.append(sum(j.kind == "ball" and "missing" not in j.defects for j in r1.joints))
        n_classified.append(sum(j.classifier_label not in ("", "skipped") for j in r1.joints))
        if progress:
            print(f"  seed {seed + i}: {n_balls[-1]} balls, {n_classified[-1]} through the model, rules "
                  f"{t_rules[-1]:.2f} s, with classifier {t_both[-1]:.2f} s, classifier alone "
                  f"{1000 * t_apply[-1]:.0f} ms", file=sys.stderr, flush=True)
    return {"rules": rules, "both": both, "t_rules": np.array(t_rules), "t_both": np.array(t_both),
            "t_apply": np.array(t_apply), "n_balls": np.array(n_balls), "n_classified": np.array(n_classified),
            "clf": clf}


def report(e, n, size, seed, model):
    rules, both = e["rules"], e["both"]
    s0, s1 = rules.summary(), both.summary()
    tr, tb, ta = np.median(e["t_rules"]), np.median(e["t_both"]), np.median(e["t_apply"])
    paired = np.median(e["t_both"] - e["t_rules"])
    lines = [
        "# Joint classifier: end-to-end evaluation",
        "",
        f"Produced by `scripts/evaluate_classifier.py`: {n} held-out synthetic BGA frames, {size}x{size} px, "
        f"seeds {seed}-{seed + n - 1} (never used for training or calibration). Each frame is scored by "
        f"`score_frame` with rules only and with the classifier (`{model}`), on the scorer's own segmentation, "
        f"and both results are tallied against simulator truth (`xrayinspect.evaluation.Tally`).",
        "",
        "| code | truth joints | F1 rules | F1 rules + classifier | change | P / R rules | P / R rules + classifier |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in CODES:
        p0, r0, f0 = _prf(rules, c)
        p1, r1, f1 = _prf(both, c)
        d = f1 - f0 if f0 == f0 and f1 == f1 else float("nan")
        lines.append(f"| {c} | {s0[f'n_{c}']} | {_f(f0)} | {_f(f1)} | {'' if d != d else f'{d:+.3f}'} | "
                     f"{_f(p0)} / {_f(r0)} | {_f(p1)} / {_f(r1)} |")
    lines += [
        f"| frame verdict accuracy | {s0['frames']} frames | {_f(s0['frame_verdict_acc'])} | "
        f"{_f(s1['frame_verdict_acc'])} | {s1['frame_verdict_acc'] - s0['frame_verdict_acc']:+.3f} | | |",
        "",
        "| time per frame (median) | seconds |",
        "|---|---|",
        f"| score_frame, rules only | {tr:.3f} |",
        f"| score_frame with the classifier | {tb:.3f} |",
        f"| classifier alone (apply_classifier: crops + model + policy) | {ta:.3f} |",
        f"| balls per frame (median) / through the model | {int(np.median(e['n_balls']))} / "
        f"{int(np.median(e['n_classified']))} |",
        "",
        f"Classifier overhead: **{100 * ta / tr:.1f} %** of the rules-only scoring time (classifier alone / "
        f"rules-only score_frame, medians); the paired difference of the two score_frame timings gives "
        f"{100 * paired / tr:.1f} % (noisier: other jobs share the machine).",
        "",
        f"Thresholds: `{e['clf'].thresholds}`.",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs shared with "
        f"other jobs (load average {os.getloadavg()[0]:.1f} at the end). Command: "
        f"`python scripts/evaluate_classifier.py --n {n} --size {size}`; date {_dt.date.today().isoformat()}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="held-out frames (default 16)")
    ap.add_argument("--size", type=int, default=1024, help="frame side px (default 1024)")
    ap.add_argument("--seed", type=int, default=SEED, help=f"first seed (default {SEED})")
    ap.add_argument("--model", default="default", help="model folder (default: the shipped model)")
    ap.add_argument("--out", default=str(REPO / "docs" / "classifier_eval.md"),
                    help="markdown file to write ('-' prints only)")
    ap.add_argument("--card", action="store_true",
                    help="also put the table into the model folder's MODEL_CARD.md (section 'End to end') "
                         "and refresh its SHA256SUMS")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.seed < SEED and a.seed + a.n > 1000 and a.seed < 1400:
        print("refusing: seeds overlap the training seeds 1000-1399", file=sys.stderr)
        return 2
    e = evaluate(a.n, a.size, a.seed, a.model, progress=not a.quiet)
    text = report(e, a.n, a.size, a.seed, a.model)
    print(text)
    if a.out != "-":
        Path(a.out).write_text(text)
        print(f"wrote {a.out}", file=sys.stderr)
    if a.card:
        update_card(resolve_model_dir(a.model), text)
    return 0


CARD_SECTION = "## End to end on held-out frames (scripts/evaluate_classifier.py)"


def update_card(folder, text):
    """Replace (or append) the end-to-end section of ``folder/MODEL_CARD.md``; refresh SHA256SUMS."""
    from xrayinspect.classifier.train import write_sha256sums

    card = Path(folder) / "MODEL_CARD.md"
    body = card.read_text()
    if CARD_SECTION in body:
        head, _, rest = body.partition(CARD_SECTION)
        nxt = rest.find("\n## ")
        body = head + (rest[nxt + 1:] if nxt >= 0 else "")
    table = text.split("\n", 2)[2].strip()            # without the document title
    body = body.rstrip("\n") + "\n\n" + CARD_SECTION + "\n\n" + table + "\n"
    card.write_text(body)
    write_sha256sums(folder)
    print(f"updated {card}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

"""``xrayinspect train``: train the optional joint classifier (needs the torch extra)."""

NAME = "train"
HELP = "train the joint classifier on simulator sets, review exports and/or simulated frames (needs torch)"


def add_arguments(p):
    p.add_argument("--data", nargs="+", default=[], metavar="DIR",
                   help="simulator sets (frames + *.truth.json) or review exports (labels.csv + crops/)")
    p.add_argument("--out", required=True, help="model folder to write, e.g. models/NAME")
    p.add_argument("--seed", type=int, default=0, help="training seed (split, weights, batches, augmentation)")
    p.add_argument("--epochs", type=int, default=30, help="maximum epochs (default 30)")
    p.add_argument("--patience", type=int, default=6, help="early-stopping patience in epochs (default 6)")
    p.add_argument("--val-frac", type=float, default=0.2, help="fraction of frames held out for validation")
    p.add_argument("--synthetic-frames", type=int, default=0, metavar="N",
                   help="also simulate N BGA frames (512-1024 px) in memory")
    p.add_argument("--synthetic-seed", type=int, default=1000, help="first simulator seed (default 1000)")
    p.add_argument("--eval-frames", type=int, default=0, metavar="N",
                   help="after training, measure on N held-out simulated frames (seeds from --eval-seed)")
    p.add_argument("--eval-seed", type=int, default=900000, help="first held-out seed (default 900000)")
    p.add_argument("--calib-frames", type=int, default=0, metavar="N",
                   help="score N simulated calibration frames and choose how scoring combines rules and model "
                        "on them (default 0: the model only vetoes rule hip calls)")
    p.add_argument("--calib-seed", type=int, default=900000, help="first calibration seed (default 900000)")
    p.add_argument("--workers", type=int, default=2, help="processes simulating frames (default 2)")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args):
    import shlex
    import sys

    if not args.data and args.synthetic_frames <= 0:
        print("xrayinspect train: give --data DIR ... and/or --synthetic-frames N", file=sys.stderr)
        return 2
    train_seeds = range(args.synthetic_seed, args.synthetic_seed + args.synthetic_frames) \
        if args.synthetic_frames > 0 else None
    eval_seeds = range(args.eval_seed, args.eval_seed + args.eval_frames) if args.eval_frames > 0 else None
    calib_seeds = range(args.calib_seed, args.calib_seed + args.calib_frames) if args.calib_frames > 0 else None
    if train_seeds and eval_seeds and set(train_seeds) & set(eval_seeds):
        print("xrayinspect train: --eval-seed range overlaps the training seeds", file=sys.stderr)
        return 2
    if calib_seeds and any(r and set(calib_seeds) & set(r) for r in (train_seeds, eval_seeds)):
        print("xrayinspect train: --calib-seed range overlaps the training or evaluation seeds", file=sys.stderr)
        return 2
    try:
        from ..classifier.train import train_model
    except ImportError as e:
        from ..classify import INSTALL_HINT
        print(f"xrayinspect train needs torch and safetensors ({e.name or e}): {INSTALL_HINT}", file=sys.stderr)
        return 2
    command = "xrayinspect train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) \
        if len(sys.argv) > 1 and sys.argv[1] == "train" else None
    try:
        m = train_model(args.data, args.out, seed=args.seed, epochs=args.epochs, patience=args.patience,
                        val_frac=args.val_frac, progress=not args.quiet, synthetic_seeds=train_seeds,
                        eval_seeds=eval_seeds, calib_seeds=calib_seeds, workers=args.workers,
                        threads=args.threads, command=command)
    except (FileNotFoundError, ValueError) as e:
        # bad training data (no folder, no labels, a missing or unreadable crop): one line, no model written
        print(f"xrayinspect train: {e}", file=sys.stderr)
        return 2
    v = m["validation"]
    line = (f"wrote {args.out}: {m['n_train']} train / {m['n_val']} val patches, best epoch {m['best_epoch']}, "
            f"val accuracy {v['accuracy']:.3f}, {m['seconds_total']:.0f} s")
    print(line)
    if "calibration" in m:
        c = m["calibration"]
        print(f"calibration ({c['n_balls']} scored balls): hip F1 rules {c['hip_f1_rules']:.3f} -> rules + model "
              f"{c['hip_f1_policy']:.3f}")
    if "held_out" in m:
        ho = m["held_out"]
        print("held-out F1: " + ", ".join(f"{c} {ho[c]['f1']:.3f}" for c in ("good", "void", "bridge", "hip",
                                                                             "misaligned"))
              + f"; hip at threshold: recall {ho['hip@threshold']['recall']:.3f} "
                f"precision {ho['hip@threshold']['precision']:.3f}")
    return 0

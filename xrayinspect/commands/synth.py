"""``xrayinspect synth``: write simulated frames with truth and recipes."""

NAME = "synth"
HELP = "simulate X-ray frames of BGA/QFN joints with ground truth (truth JSON and recipe TOML beside each)"


def add_arguments(p):
    p.add_argument("--n", type=int, default=4, help="number of frames (default 4)")
    p.add_argument("--seed", type=int, default=0, help="base seed; frame i uses (seed, i)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--package", choices=["bga", "qfn", "mixed"], default="bga")
    p.add_argument("--difficulty", choices=["easy", "normal", "hard"], default="normal")
    p.add_argument("--size", type=int, default=None, help="frame width and height, px")
    p.add_argument("--export", default=None, choices=["tiff16", "png16", "png8", "jpeg8", "tiff8"],
                   help="export kind (random when not given)")


def run(args):
    import sys
    import time

    from ..synth import write_set

    if args.n < 1:
        print("xrayinspect synth: --n must be at least 1", file=sys.stderr)
        return 2
    shape = (args.size, args.size) if args.size else None
    kw = {"export": args.export} if args.export else {}
    t0 = time.perf_counter()
    paths = write_set(args.out, args.n, args.seed, package=args.package, difficulty=args.difficulty,
                      shape=shape, **kw)
    dt = time.perf_counter() - t0
    print(f"wrote {len(paths)} frames to {args.out} in {dt:.1f} s ({dt / len(paths):.2f} s/frame)")
    return 0

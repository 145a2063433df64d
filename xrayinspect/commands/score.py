"""``xrayinspect score``: score frames into frames.csv/joints.csv (local pool or Dask), resumable."""

NAME = "score"
HELP = "score X-ray frames (files or folders) into frames.csv, joints.csv, sidecars, summary.json and report.html"

TORCH_HINT = "xrayinspect score --classifier needs torch: pip install 'xrayinspect[torch]'"


def add_arguments(p):
    import argparse

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="frame files or folders (searched recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--recipe", metavar="RECIPE.toml", help="package recipe (default: inferred per frame)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes (default: CPU count; 1 scores in this process)")
    p.add_argument("--profile", metavar="NAME|FILE", default=None,
                   help="rule profile: a built-in name (see `xrayinspect profiles`) or a profile TOML (default ipc-a-610e)")
    p.add_argument("--overlays", action="store_true", help="write overlays/<frame>.png for each frame")
    p.add_argument("--format", dest="fmt", choices=["csv", "parquet"], default="csv",
                   help="parquet also writes frames.parquet and joints.parquet (needs pyarrow)")
    p.add_argument("--force", action="store_true", help="score every frame again (ignore earlier results in DIR)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--fail-on-defect", action="store_true", help="exit 1 when any frame fails its verdict")
    p.add_argument("--dask", metavar="local|tcp://HOST:PORT", default=None,
                   help="score on a Dask cluster: 'local' starts one on this machine (needs xrayinspect[dask])")
    p.add_argument("--classifier", metavar="default|PATH", default=None,
                   help="add the learned joint classifier (needs xrayinspect[torch])")
    p.add_argument("--max-megapixels", type=float, default=None, metavar="N",
                   help="refuse frames larger than N megapixels (error rows)")
    p.add_argument("--report", action=argparse.BooleanOptionalAction, default=True,
                   help="write report.html (default yes)")
    p.add_argument("--scorer", default=None, help=argparse.SUPPRESS)   # module:function, for tests/benchmarks


def run(args):
    import sys

    from ..batch import BatchError, exit_code, run_batch
    from ..errors import RecipeError

    def usage(msg):
        print(f"xrayinspect score: {msg}", file=sys.stderr)
        return 2

    if args.workers is not None and args.workers < 1:
        return usage(f"--workers must be at least 1, got {args.workers}")
    max_pixels = None
    if args.max_megapixels is not None:
        if not args.max_megapixels > 0:
            return usage(f"--max-megapixels must be positive, got {args.max_megapixels}")
        max_pixels = int(args.max_megapixels * 1e6)
    try:
        summary = run_batch(args.inputs, args.out, recipe=args.recipe, profile=args.profile, workers=args.workers,
                            dask=args.dask, force=args.force, progress="none" if args.quiet else "auto",
                            fmt=args.fmt, overlays=args.overlays, classifier=args.classifier,
                            max_pixels=max_pixels, report=args.report, scorer=args.scorer,
                            argv=sys.argv[1:])
    except (BatchError, RecipeError) as e:
        return usage(str(e))
    except ImportError as e:   # ClassifierUnavailable, or torch missing under xrayinspect.classifier
        name = getattr(e, "name", None) or ""
        if args.classifier is not None and (type(e).__name__ == "ClassifierUnavailable"
                                            or name.split(".")[0] in ("torch", "safetensors", "onnxruntime")):
            print(TORCH_HINT, file=sys.stderr)
            return 2
        raise
    return exit_code(summary, fail_on_defect=args.fail_on_defect)

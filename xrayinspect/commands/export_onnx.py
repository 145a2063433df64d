"""``xrayinspect export-onnx``: write a model as ONNX for torch-free scoring (needs the torch extra)."""

NAME = "export-onnx"
HELP = "export a joint-classifier model folder to ONNX (opset 17) and check it against torch"


def add_arguments(p):
    p.add_argument("--model", default="default", help="model folder, or 'default' (default)")
    p.add_argument("--out", required=True,
                   help="ONNX file to write; written as model.onnx inside the model folder it is also listed "
                        "in its SHA256SUMS, so load_classifier can use it without torch")
    p.add_argument("--atol", type=float, default=1e-4, help="largest allowed probability difference (1e-4)")


def run(args):
    import sys

    try:
        from ..classifier.export import export_onnx
    except ImportError as e:
        from ..classify import INSTALL_HINT
        print(f"xrayinspect export-onnx needs torch and onnx ({e.name or e}): {INSTALL_HINT}", file=sys.stderr)
        return 2
    from ..classify import resolve_model_dir

    try:
        diff = export_onnx(resolve_model_dir(args.model), args.out, atol=args.atol)
    except (ValueError, FileNotFoundError) as e:
        print(f"xrayinspect export-onnx: {e}", file=sys.stderr)
        return 2
    if diff is None:
        print(f"wrote {args.out} (onnxruntime not installed: not checked)")
    else:
        print(f"wrote {args.out}; onnxruntime agrees with torch within {diff:.2e} on random crops")
    return 0

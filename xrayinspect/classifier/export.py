"""ONNX export of a model folder."""

from pathlib import Path

import numpy as np
import torch

from .load import load_model


def export_onnx(folder, out, *, opset=17, atol=1e-4, n_check=64, seed=0):
    """Export the model in ``folder`` to ``out`` and compare onnxruntime with torch.

    The graph takes ``input`` (n, 1, S, S) float32 and returns ``logits`` (n, n_classes).
    When ``out`` is ``model.onnx`` inside ``folder``, ``SHA256SUMS`` is rewritten to list it.

    Returns
    -------
    float or None
        Largest absolute probability difference on ``n_check`` random crops (None when
        onnxruntime is missing). Raises ValueError above ``atol``.
    """
    clf = load_model(folder)
    size = int(clf.config["crop"]["size"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 1, size, size)
    torch.onnx.export(clf.model, (dummy,), str(out), opset_version=opset, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}},
                      dynamo=False)
    diff = None
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
    if ort is not None:
        rng = np.random.default_rng(seed)
        x = rng.uniform(-0.25, 1.25, (n_check, 1, size, size)).astype(np.float32)
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        logits = sess.run(None, {"input": x})[0]
        z = np.exp(logits - logits.max(1, keepdims=True))
        p_onnx = z / z.sum(1, keepdims=True)
        p_torch = clf.predict_proba(x)
        diff = float(np.abs(p_onnx - p_torch).max())
        if diff > atol:
            out.unlink()
            raise ValueError(f"ONNX and torch disagree by {diff:.2e} (> {atol}); {out} removed")
    if out.resolve().parent == Path(folder).resolve() and out.name == "model.onnx":
        from .train import write_sha256sums
        write_sha256sums(folder)
    return diff

"""Loading a model folder safely: checksums first, weights only through safetensors."""

from pathlib import Path

import numpy as np
import torch

from ..classify import read_model_config, verify_sha256sums
from .model import build_model

PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


class TorchJointClassifier:
    """A JointNet ready for inference (CPU, no grad, batched, few threads).

    Attributes: ``classes``, ``thresholds``, ``config``, ``folder``, ``model``.
    """

    def __init__(self, model, config, thresholds, folder=None, threads=1):
        self.model = model.eval()
        self.config = config
        self.thresholds = thresholds
        self.classes = tuple(config["classes"])
        self.folder = folder
        self.threads = threads

    def logits(self, patches, batch_size=512):
        x = np.asarray(patches, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        prev = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            with torch.no_grad():
                out = [self.model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])))
                       for i in range(0, len(x), batch_size)]
        finally:
            torch.set_num_threads(prev)
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))

    def predict_proba(self, patches, batch_size=512):
        return torch.softmax(self.logits(patches, batch_size), dim=1).numpy()


def load_state_dict_file(path):
    """Weights from ``path``: safetensors, or a torch state dict read with ``weights_only=True``.

    Anything else (a pickled module, optimizer or arbitrary object) is refused.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path), device="cpu")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(f"{path}: refusing to unpickle a file that is not a plain state dict of tensors "
                             f"(weights_only=True refused it: {str(e).splitlines()[0][:120]})") from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"{path}: refusing to unpickle: not a state dict of tensors")
        return state
    raise ValueError(f"{path}: unknown weights format (expected .safetensors)")


def load_model(folder, *, threads=1, verify=True):
    """Load a model folder written by :func:`xrayinspect.classifier.train.train_model`.

    Checks ``SHA256SUMS`` (a changed file is refused), the config's format version and the
    architecture; loads weights only from ``model.safetensors``. A folder that holds a pickle
    (``.pt``/``.pth``/...) instead is refused: convert it with
    :func:`load_state_dict_file` (``weights_only=True``) and save safetensors.
    """
    folder = Path(folder)
    if folder.is_file():
        if folder.suffix.lower() in PICKLE_SUFFIXES:
            raise ValueError(f"{folder}: refusing to unpickle a model file; pass a model folder with "
                             f"model.safetensors and SHA256SUMS")
        folder = folder.parent
    weights = folder / "model.safetensors"
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES) \
            if folder.is_dir() else []
        if pickles:
            raise ValueError(f"{folder}: refusing to unpickle {pickles[0]}; a model folder must hold "
                             f"model.safetensors (convert a state dict with "
                             f"xrayinspect.classifier.load.load_state_dict_file and safetensors.torch.save_file)")
        raise FileNotFoundError(f"{folder}: no model.safetensors (not a model folder)")
    if verify:
        verify_sha256sums(folder)
    config, thresholds = read_model_config(folder)
    model = build_model(config)
    state = load_state_dict_file(weights)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{weights}: weights do not fit {config['architecture']} "
                         f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})")
    return TorchJointClassifier(model, config, thresholds, folder=folder, threads=threads)

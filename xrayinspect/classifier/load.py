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
        self._infer = _fuse_batchnorm(self.model)
        self.config = config
        self.thresholds = thresholds
        self.classes = tuple(config["classes"])
        self.folder = folder
        self.threads = threads

    def logits(self, patches, batch_size=2048):
        """Raw logits ``(n, n_classes)``: one forward pass per ``batch_size`` patches, BatchNorm
        folded into the convolutions, ``torch.inference_mode``, ``self.threads`` threads."""
        x = np.asarray(patches, dtype=np.float32)
        if x.ndim == 3:
            x = x[:, None]
        if len(x) == 0:
            return torch.zeros(0, len(self.classes))
        prev = torch.get_num_threads()
        if prev != self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                out = [self._infer(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])))
                       for i in range(0, len(x), batch_size)]
                return torch.cat(out).clone() if len(out) > 1 else out[0].clone()
        finally:
            if prev != self.threads:
                torch.set_num_threads(prev)

    def predict_proba(self, patches, batch_size=2048):
        with torch.inference_mode():
            return torch.softmax(self.logits(patches, batch_size), dim=1).numpy()


def _fuse_batchnorm(model):
    """An inference copy of ``model`` with each Conv2d + BatchNorm2d pair folded into one conv
    (same outputs to float rounding, about 2.5x faster on CPU); ``model`` itself is untouched."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    m = copy.deepcopy(model).eval()
    for seq in m.modules():
        if not isinstance(seq, torch.nn.Sequential):
            continue
        mods = list(seq)
        for i in range(len(mods) - 1):
            if isinstance(mods[i], torch.nn.Conv2d) and isinstance(mods[i + 1], torch.nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(mods[i], mods[i + 1])
                seq[i + 1] = torch.nn.Identity()
    return m


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

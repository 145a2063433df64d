"""The torch classifier: determinism, save/load, refusals, shipped model, ONNX."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from xrayinspect import classify  # noqa: E402
from xrayinspect.classifier import data as D  # noqa: E402
from xrayinspect.classifier.load import load_model  # noqa: E402
from xrayinspect.classifier.model import CLASSES  # noqa: E402
from xrayinspect.classifier.train import train_model  # noqa: E402

#: The shipped model must find at least this share of held-out head-in-pillow balls.
HIP_RECALL_FLOOR = 0.5
EVAL_SEEDS = range(900000, 900012)


@pytest.fixture(scope="module")
def small_set():
    return D.synthetic_patches(range(5000, 5004), workers=1)


@pytest.fixture(scope="module")
def trained(small_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "model"
    train_model([], out, seed=3, epochs=1, patch_set=small_set, progress=False, threads=1)
    return out


def test_small_set_labels(small_set):
    assert small_set.patches.shape[1:] == (32, 32)
    assert set(np.unique(small_set.labels)) <= set(range(len(CLASSES)))
    assert len(np.unique(small_set.groups)) == 4


def test_training_is_deterministic(small_set, trained, tmp_path):
    from safetensors.torch import load_file

    train_model([], tmp_path / "again", seed=3, epochs=1, patch_set=small_set, progress=False, threads=1)
    a = load_file(str(trained / "model.safetensors"))
    b = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_model_folder_round_trip(trained, small_set):
    for n in ("config.json", "thresholds.json", "model.safetensors", "MODEL_CARD.md", "SHA256SUMS"):
        assert (trained / n).is_file()
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["classes"] == list(CLASSES) and len(cfg["training_data"]["sha256"]) == 64
    clf = classify.load_classifier(str(trained))
    p = clf.predict_proba(small_set.patches[:10])
    assert p.shape == (10, len(CLASSES)) and np.allclose(p.sum(1), 1, atol=1e-5)
    p2 = load_model(trained).predict_proba(small_set.patches[:10])
    assert np.array_equal(p, p2)


def test_tampered_weights_refused(trained, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained, bad)
    raw = bytearray((bad / "model.safetensors").read_bytes())
    raw[-5] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="tampered"):
        load_model(bad)


def test_pickle_refused(trained, tmp_path):
    import pickle

    folder = tmp_path / "pkl"
    folder.mkdir()
    (folder / "model.pt").write_bytes(pickle.dumps({"anything": object()}))
    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_model(folder)
    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_model(folder / "model.pt")
    from xrayinspect.classifier.load import load_state_dict_file

    with pytest.raises(ValueError, match="refusing to unpickle"):
        load_state_dict_file(folder / "model.pt")
    # a plain state dict is read with weights_only=True
    torch.save({"w": torch.ones(2)}, folder / "sd.pt")
    assert torch.equal(load_state_dict_file(folder / "sd.pt")["w"], torch.ones(2))


def test_review_export_is_read(tmp_path):
    import cv2

    crops = tmp_path / "crops"
    crops.mkdir()
    rows = ["crop_file,label,frame,joint_id,operator,source"]
    rng = np.random.default_rng(0)
    for i, lab in enumerate(["good", "hip", "ok", "missing"]):
        name = f"c{i}.png" if i % 2 else f"c{i}.npy"
        a = rng.uniform(0, 1, (40, 40)).astype(np.float32)
        if name.endswith(".png"):
            cv2.imwrite(str(crops / name), (a * 60000).astype(np.uint16))
        else:
            np.save(crops / name, a)
        rows.append(f"crops/{name},{lab},f{i // 2}.tif,{i},ann,review")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    ps = D.folder_patches(tmp_path)
    assert len(ps) == 3 and ps.patches.shape == (3, 32, 32)
    assert [CLASSES[k] for k in ps.labels] == ["good", "hip", "good"]


def test_shipped_default_model(monkeypatch):
    monkeypatch.delenv("XRAYINSPECT_MODEL_DIR", raising=False)
    folder = classify.packaged_model_dir()
    if not (folder / "model.safetensors").is_file():
        pytest.skip("no packaged default model")
    assert (folder / "model.safetensors").stat().st_size < 5_000_000
    clf = classify.load_classifier("default")
    assert tuple(clf.classes) == CLASSES
    ev = D.synthetic_patches(EVAL_SEEDS, good_per_frame=None)
    p = clf.predict_proba(ev.patches)
    hip = CLASSES.index("hip")
    y = ev.labels == hip
    assert y.sum() >= 5
    recall = float(((p[:, hip] >= clf.thresholds["hip"]) & y).sum() / y.sum())
    assert recall >= HIP_RECALL_FLOOR, recall
    assert float((p.argmax(1) == ev.labels).mean()) > 0.8


def test_onnx_matches_torch(trained, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import shutil

    from xrayinspect.classifier.export import export_onnx

    folder = tmp_path / "m"
    shutil.copytree(trained, folder)
    diff = export_onnx(folder, folder / "model.onnx")
    assert diff is not None and diff < 1e-4
    assert "model.onnx" in (folder / "SHA256SUMS").read_text()
    x = np.random.default_rng(1).uniform(-0.25, 1.25, (17, 32, 32)).astype(np.float32)
    onnx_clf = classify.OnnxJointClassifier(folder)
    assert np.abs(onnx_clf.predict_proba(x) - load_model(folder).predict_proba(x)).max() < 1e-4
    assert ort is not None


def _usable_balls(result):
    return [j for j in result.joints if j.kind == "ball" and "missing" not in j.defects and not j.partial]


@pytest.mark.parametrize("gate", ["shipped", "every ball"])
def test_score_frame_with_default_classifier(monkeypatch, gate):
    """End to end on the scorer's own segmentation: columns set, rule-certain codes untouched."""
    import copy

    from xrayinspect.pipeline import score_frame
    from xrayinspect.synth import generate_frame

    monkeypatch.delenv("XRAYINSPECT_MODEL_DIR", raising=False)
    if not (classify.packaged_model_dir() / "model.safetensors").is_file():
        pytest.skip("no packaged default model")
    clf = classify.load_classifier("default")
    if gate == "every ball":
        clf = copy.copy(clf)
        clf.thresholds = dict(clf.thresholds, gate_hip_score=None)
    f = generate_frame(21, package="bga", shape=(512, 512))
    rules = score_frame(f.image, frame="f")
    both = score_frame(f.image, frame="f", classifier=clf)
    assert len(rules.joints) == len(both.joints) and len(_usable_balls(both)) > 20
    for a, b in zip(rules.joints, both.joints):
        assert (a.x_px, a.y_px, a.kind) == (b.x_px, b.y_px, b.kind) or np.isnan(a.x_px)
        for code in ("missing", "extra", "misaligned", "void"):
            assert (code in a.defects) == (code in b.defects), (code, a.joint_id)
        if "bridge" in a.defects:
            assert "bridge" in b.defects
        assert b.verdict == ("fail" if b.defects else "pass")
    for j in _usable_balls(both):
        row = j.row("f")
        assert row["classifier_label"] in CLASSES + (classify.SKIPPED,)
        if j.classifier_label == classify.SKIPPED:
            assert j.hip_score < clf.thresholds["gate_hip_score"] and row["classifier_confidence"] == ""
        else:
            assert 0.0 < j.classifier_confidence <= 1.0 and row["classifier_confidence"] != ""
    if gate == "every ball":
        assert all(j.classifier_label in CLASSES for j in _usable_balls(both))
    # a model-added bridge always lands on a pair
    assert sum("bridge" in j.defects for j in both.joints) != 1


def test_default_backends_agree(monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.delenv("XRAYINSPECT_MODEL_DIR", raising=False)
    folder = classify.packaged_model_dir()
    if not (folder / "model.onnx").is_file():
        pytest.skip("packaged default has no model.onnx")
    auto = classify.load_classifier("default")
    tch = classify.load_classifier("default", backend="torch")
    assert isinstance(auto, classify.OnnxJointClassifier) and hasattr(tch, "model")
    x = np.random.default_rng(2).uniform(-0.25, 1.25, (300, 32, 32)).astype(np.float32)
    assert np.abs(auto.predict_proba(x) - tch.predict_proba(x)).max() < 1e-4
    with torch.no_grad():                            # BatchNorm folding changes nothing
        ref = torch.softmax(tch.model(torch.from_numpy(x[:, None])), 1).numpy()
    assert np.abs(tch.predict_proba(x) - ref).max() < 1e-5
    assert tch.predict_proba(np.zeros((0, 32, 32), np.float32)).shape == (0, len(CLASSES))


def test_evaluate_classifier_script_smoke(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    monkeypatch.delenv("XRAYINSPECT_MODEL_DIR", raising=False)
    if not (classify.packaged_model_dir() / "model.safetensors").is_file():
        pytest.skip("no packaged default model")
    script = Path(__file__).resolve().parents[1] / "scripts" / "evaluate_classifier.py"
    spec = importlib.util.spec_from_file_location("xrayinspect_evaluate_classifier", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "eval.md"
    assert mod.main(["--n", "1", "--size", "384", "--out", str(out), "--quiet"]) == 0
    text = out.read_text()
    assert "| hip |" in text and "Classifier overhead" in text and "score_frame, rules only" in text

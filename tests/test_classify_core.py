"""The classifier seam without torch: crops, policy, loading hints."""

import builtins
import math
import sys

import numpy as np
import pytest

from xrayinspect import classify
from xrayinspect.classify import ClassifierUnavailable, apply_classifier, combine, crop_joints, load_classifier
from xrayinspect.results import FrameResult, JointResult

CLASSES = ("good", "void", "bridge", "hip", "misaligned")


def _p(**kw):
    p = np.full(len(CLASSES), 0.01)
    for k, v in kw.items():
        p[CLASSES.index(k)] = v
    return p / p.sum()


def _disc_frame(polarity, dtype=np.uint16, scale=4000.0):
    yy, xx = np.mgrid[0:128, 0:128].astype(float)
    att = np.zeros((128, 128))
    centres = [(32.3, 40.0, 9.0), (90.0, 35.5, 8.0), (60.0, 95.0, 10.0)]
    for x, y, r in centres:
        att += np.clip(1 - ((xx - x) ** 2 + (yy - y) ** 2) / r ** 2, 0, None) ** 0.5
    dark = 500 + scale * (1 - 0.6 * att)          # solder absorbs: darker
    img = dark if polarity == "dark" else (500 + scale) * 1.1 - dark
    return img.astype(dtype), [(x, y) for x, y, _ in centres], [2 * r for _, _, r in centres]


@pytest.mark.parametrize("norm", ["frame", "crop"])
def test_dark_and_bright_crops_agree(norm):
    dark, c, d = _disc_frame("dark")
    bright, _, _ = _disc_frame("bright")
    a = crop_joints(dark, c, d, polarity="dark", norm=norm)
    b = crop_joints(bright, c, d, polarity="bright", norm=norm)
    assert a.shape == (3, 32, 32) and a.dtype == np.float32
    assert np.abs(a - b).max() < 0.02
    # solder bright: the centre of the patch is brighter than its corners
    assert (a[:, 14:18, 14:18].mean(axis=(1, 2)) > a[:, :3, :3].mean(axis=(1, 2)) + 0.3).all()


def test_bit_depth_does_not_matter():
    a16, c, d = _disc_frame("dark", np.uint16, 4000)
    a8, _, _ = _disc_frame("dark", np.float32, 4000)
    a8 = (a8 / a8.max() * 255).astype(np.uint8)
    p16 = crop_joints(a16, c, d)
    p8 = crop_joints(a8, c, d)
    assert 0.0 <= np.percentile(p16, 50) <= 1.0
    assert np.abs(p16 - p8).mean() < 0.03


def test_simulated_polarity_pair():
    from xrayinspect.synth import generate_frame

    fd = generate_frame(11, package="bga", shape=(512, 512), polarity="dark", export="tiff16")
    fb = generate_frame(11, package="bga", shape=(512, 512), polarity="bright", export="tiff16")
    js = [j for j in fd.truth["joints"] if j["kind"] == "ball" and "missing" not in j["defects"]][:20]
    c = [(j["x_px"], j["y_px"]) for j in js]
    d = classify.reference_diameter([j["diameter_px"] for j in js])
    a = crop_joints(fd.image, c, d, polarity="dark")
    b = crop_joints(fb.image, c, d, polarity="bright")
    assert np.abs(a - b).mean() < 0.03


def test_crop_at_border_and_bad_input():
    img, _, _ = _disc_frame("dark")
    p = crop_joints(img, [(0, 0), (127, 127), (math.nan, 3)], [20, 20, 20])
    assert np.isfinite(p).all() and p.shape == (3, 32, 32)
    assert crop_joints(img, np.zeros((0, 2)), []).shape == (0, 32, 32)
    with pytest.raises(ValueError):
        crop_joints(img, [(5, 5)], 10, polarity="grey")


def test_combine_rules_stay_authoritative():
    # certain rule codes survive a confident "good"
    d, label, conf = combine(["void", "misaligned"], 0.0, _p(good=0.97), CLASSES, {"hip": 0.5})
    assert d == ["void", "misaligned"] and label == "good" and conf > 0.9
    d, *_ = combine(["missing"], 0.0, _p(hip=0.99), CLASSES, {"hip": 0.5})
    assert d == ["missing"]                         # no hip on a missing ball
    d, *_ = combine(["bridge"], 0.0, _p(good=0.99), CLASSES, {})
    assert d == ["bridge"]


def test_combine_model_decides_hip():
    d, label, _ = combine([], 0.2, _p(hip=0.8), CLASSES, {"hip": 0.6})
    assert d == ["hip"] and label == "hip"
    d, *_ = combine(["hip"], 0.9, _p(good=0.9, hip=0.05), CLASSES, {"hip": 0.6})
    assert d == []                                  # the model overrules the rules' hip
    d, *_ = combine(["hip"], 0.9, _p(good=0.9, hip=0.05), CLASSES, {"hip": 0.6, "rule_hip_certain": 0.8})
    assert d == ["hip"]                             # unless the rule score is certain


def test_combine_bridge_only_when_confident():
    d, *_ = combine([], 0.0, _p(bridge=0.9), CLASSES, {"bridge_add": 0.97})
    assert "bridge" not in d
    d, *_ = combine([], 0.0, _p(bridge=3.0), CLASSES, {"bridge_add": 0.97})
    assert d == ["bridge"]
    # the model never adds void or misaligned
    d, *_ = combine([], 0.0, _p(void=0.99), CLASSES, {})
    assert d == []


def test_combine_without_model():
    d, label, conf = combine(["hip", "void"], 0.7, None, CLASSES)
    assert d == ["void", "hip"] and label == "" and math.isnan(conf)


class _Fake:
    classes = CLASSES
    thresholds = {"hip": 0.5}
    config = {"crop": {"size": 16, "context": 2.0, "norm": "frame"}}

    def __init__(self):
        self.seen = None

    def predict_proba(self, patches):
        self.seen = patches
        out = np.tile(_p(good=0.9), (len(patches), 1))
        out[0] = _p(hip=0.9)
        return out


def test_apply_classifier_updates_joints():
    img, c, d = _disc_frame("dark")
    joints = [JointResult(joint_id=i, x_px=x, y_px=y, diameter_px=di) for i, ((x, y), di) in enumerate(zip(c, d))]
    joints.append(JointResult(joint_id=9, x_px=10, y_px=10, diameter_px=0.0, defects=["missing"], verdict="fail"))
    joints.append(JointResult(joint_id=10, kind="pad", x_px=60, y_px=60, diameter_px=30))
    r = FrameResult(frame="f", joints=joints)
    clf = _Fake()
    assert isinstance(clf, classify.JointClassifier)
    apply_classifier(img, r, clf, "dark")
    assert clf.seen.shape == (3, 16, 16)
    assert r.joints[0].defects == ["hip"] and r.joints[0].verdict == "fail"
    assert r.joints[0].classifier_label == "hip" and r.joints[0].classifier_confidence > 0.8
    assert r.joints[1].verdict == "pass" and r.joints[1].classifier_label == "good"
    assert r.joints[3].defects == ["missing"] and r.joints[3].classifier_label == ""
    assert r.joints[4].classifier_label == ""


def _block_torch(monkeypatch, also_onnx=True):
    real_import = builtins.__import__
    blocked = ("torch", "safetensors") + (("onnxruntime",) if also_onnx else ())

    def fake_import(name, *a, **kw):
        if name.split(".")[0] in blocked:
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *a, **kw)

    for m in list(sys.modules):
        if m.split(".")[0] in blocked:
            monkeypatch.delitem(sys.modules, m)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def test_load_classifier_without_torch_gives_install_hint(monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    _block_torch(monkeypatch)
    with pytest.raises(ClassifierUnavailable) as e:
        load_classifier(str(tmp_path))
    assert "pip install 'xrayinspect[torch]'" in str(e.value)
    assert isinstance(e.value, ImportError)


def test_model_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("XRAYINSPECT_MODEL_DIR", raising=False)
    assert classify.resolve_model_dir("default") == classify.packaged_model_dir()
    monkeypatch.setenv("XRAYINSPECT_MODEL_DIR", str(tmp_path))
    assert classify.resolve_model_dir("default") == tmp_path
    assert classify.resolve_model_dir(None) == tmp_path
    assert classify.resolve_model_dir("/x/y") == classify.Path("/x/y")
    with pytest.raises(FileNotFoundError):
        load_classifier(str(tmp_path / "nope"))


def test_sha256sums_refuse_changed_file(tmp_path):
    for n in classify.MODEL_FILES:
        (tmp_path / n).write_text(n)
    lines = [f"{classify.sha256_file(tmp_path / n)}  {n}" for n in classify.MODEL_FILES]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    classify.verify_sha256sums(tmp_path)
    (tmp_path / "thresholds.json").write_text("{\"hip\": 0.01}")
    with pytest.raises(ValueError, match="tampered"):
        classify.verify_sha256sums(tmp_path)


def test_onnx_path_without_torch(monkeypatch):
    """The packaged default runs through onnxruntime when torch is absent."""
    pytest.importorskip("onnxruntime")
    folder = classify.packaged_model_dir()
    if not (folder / "model.onnx").is_file():
        pytest.skip("packaged default has no model.onnx")
    monkeypatch.delenv("XRAYINSPECT_MODEL_DIR", raising=False)
    _block_torch(monkeypatch, also_onnx=False)
    clf = load_classifier("default")
    assert isinstance(clf, classify.OnnxJointClassifier)
    p = clf.predict_proba(np.random.default_rng(0).uniform(0, 1, (5, 32, 32)).astype(np.float32))
    assert p.shape == (5, len(clf.classes)) and np.allclose(p.sum(1), 1, atol=1e-5)

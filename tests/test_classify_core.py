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


def _reference_crops(image, centers_xy, d, *, size=32, polarity="dark", context=2.0):
    """The per-joint implementation crop_joints replaced (copyMakeBorder + blur + warpAffine), unstretched."""
    import cv2

    img = np.asarray(image).astype(np.float32)
    img = -img if polarity == "dark" else img
    h, w = img.shape
    out = np.zeros((len(centers_xy), size, size), np.float32)
    for i, (x, y) in enumerate(centers_xy):
        side = context * d
        s = size / side
        half = int(math.ceil(side / 2 + 3))
        x0, y0 = int(math.floor(x)) - half, int(math.floor(y)) - half
        x1, y1 = x0 + 2 * half + 2, y0 + 2 * half + 2
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        roi = cv2.copyMakeBorder(img[cy0:cy1, cx0:cx1], cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1, cv2.BORDER_REPLICATE)
        if s < 1.0:
            roi = cv2.GaussianBlur(roi, (0, 0), 0.45 / s, borderType=cv2.BORDER_REPLICATE)
        m = np.array([[s, 0.0, (size - 1) / 2 - s * (x - x0)], [0.0, s, (size - 1) / 2 - s * (y - y0)]])
        out[i] = cv2.warpAffine(roi, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out


@pytest.mark.parametrize("d", [9.0, 22.4, 45.0])
def test_vectorised_crops_match_per_joint_reference(d):
    """One remap over all joints gives the patches the model was trained on (per-joint warpAffine)."""
    rng = np.random.default_rng(4)
    img = rng.normal(2000, 300, (300, 260)).astype(np.uint16)
    c = np.column_stack([rng.uniform(-5, 265, 40), rng.uniform(-5, 305, 40)])
    for pol in ("dark", "bright"):
        got = classify._sample_patches(img, c, d, polarity=pol)
        ref = _reference_crops(img, c, d, polarity=pol)
        assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max()


def test_combine_hip_veto():
    th = {"hip": 0.5, "hip_add": None, "hip_veto": 0.01}
    d, *_ = combine(["hip"], 4.0, _p(good=0.9, hip=0.02), CLASSES, th)
    assert d == ["hip"]                             # a weak but not negligible model hip keeps the rule call
    d, *_ = combine(["void", "hip"], 4.0, _p(good=0.99, hip=0.001), CLASSES, th)
    assert d == ["void"]                            # the model vetoes a rule hip it is sure of; void stays
    d, *_ = combine([], 2.5, _p(hip=0.99), CLASSES, th)
    assert d == []                                  # hip_add None: the model never adds hip alone


class _Gated(_Fake):
    thresholds = {"hip": 0.5, "gate_hip_score": 2.0}
    config = {"crop": {"size": 32, "context": 2.0, "norm": "frame"}}


def test_apply_classifier_gate_keeps_the_frame_stretch():
    img, c, d = _disc_frame("dark")
    joints = [JointResult(joint_id=i, x_px=x, y_px=y, diameter_px=di, hip_score=h)
              for i, ((x, y), di, h) in enumerate(zip(c, d, [3.5, 0.2, 1.0]))]
    r = FrameResult(frame="f", joints=joints)
    clf = _Gated()
    apply_classifier(img, r, clf, "dark")
    assert clf.seen.shape == (1, 32, 32)            # only the ball at or above the gate went through
    full = crop_joints(img, c, classify.reference_diameter(d), polarity="dark")
    assert np.allclose(clf.seen[0], full[0], atol=1e-6)   # same patch as a crop of every ball
    assert [j.classifier_label for j in joints] == ["hip", classify.SKIPPED, classify.SKIPPED]
    assert math.isnan(joints[1].classifier_confidence) and joints[1].defects == [] and joints[1].verdict == "pass"


def _bridge_frame():
    """Four balls in a row on a dark-solder frame; balls 1 and 2 joined by a solder neck."""
    yy, xx = np.mgrid[0:80, 0:200].astype(float)
    att = np.zeros(xx.shape)
    centres = [(30.0, 40.0), (75.0, 40.0), (120.0, 40.0), (165.0, 40.0)]
    for x, y in centres:
        att = np.maximum(att, ((xx - x) ** 2 + (yy - y) ** 2 <= 14 ** 2).astype(float))
    att = np.maximum(att, ((xx >= 75) & (xx <= 120) & (np.abs(yy - 40) <= 4)).astype(float))
    img = (3000 - 2000 * att).astype(np.uint16)
    joints = [JointResult(joint_id=i, x_px=x, y_px=y, diameter_px=28.0, hip_score=0.0)
              for i, (x, y) in enumerate(centres)]
    return img, FrameResult(frame="b", joints=joints)


class _SaysBridge:
    classes = CLASSES
    thresholds = {"hip": 0.5, "bridge_add": 0.97}
    config = {"crop": {"size": 32, "context": 2.0, "norm": "frame"}}

    def __init__(self, on):
        self.on = on

    def predict_proba(self, patches):
        out = np.tile(_p(good=0.9), (len(patches), 1))
        out[self.on] = _p(bridge=50.0)
        return out


def test_model_bridge_lands_on_both_balls_or_none():
    img, r = _bridge_frame()
    apply_classifier(img, r, _SaysBridge(1), "dark")          # ball 1: neck towards ball 2
    assert [("bridge" in j.defects) for j in r.joints] == [False, True, True, False]
    assert r.joints[2].verdict == "fail"
    img, r = _bridge_frame()
    apply_classifier(img, r, _SaysBridge(2), "dark")          # from the other side: same pair
    assert [("bridge" in j.defects) for j in r.joints] == [False, True, True, False]
    img, r = _bridge_frame()
    apply_classifier(img, r, _SaysBridge(0), "dark")          # ball 0 has no neck: the model's bridge is dropped
    assert not any("bridge" in j.defects for j in r.joints)
    assert r.joints[0].verdict == "pass" and r.joints[0].classifier_label == "bridge"


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

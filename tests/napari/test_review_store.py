"""Review log, replay, reviewed CSV with history, training export (Qt-free)."""

import csv
import json

import cv2
import numpy as np
import pytest

from xrayinspect.napari_plugin import export as X
from xrayinspect.napari_plugin.review import (REVIEWED_COLUMNS, ReviewStore, is_borderline, read_log, replay,
                                              review_dir_for_image, review_dir_for_output)

P = {"verdict": "pass", "defects": []}
FV = {"verdict": "fail", "defects": ["void"]}


def test_append_writes_one_json_line_per_override(tmp_path):
    s = ReviewStore(tmp_path / "review")
    e = s.record("a.tif", 3, P, FV, operator="ana", reason="void at the rim")
    s.record("a.tif", 4, P, {"verdict": "fail", "defects": ["hip"]}, operator="ana")
    lines = s.log_path.read_text().splitlines()
    assert len(lines) == 2
    d = json.loads(lines[0])
    assert d == e
    assert d["time"].endswith("Z") and "T" in d["time"]
    assert d["from"] == P and d["to"] == FV and d["joint_id"] == 3 and d["action"] == "override"
    assert d["operator"] == "ana" and d["reason"] == "void at the rim" and d["frame"] == "a.tif"


def test_confirmation_and_validation(tmp_path):
    s = ReviewStore(tmp_path)
    assert s.record("a.tif", 1, P, P)["action"] == "confirm"
    with pytest.raises(ValueError, match="verdict"):
        s.record("a.tif", 1, P, {"verdict": "maybe", "defects": []})
    s.confirm_frame("a.tif", operator="bo")
    assert s.confirmed_frames()["a.tif"]["operator"] == "bo"
    assert s.reviewed_frames() == {"a.tif"}


def test_torn_last_line_is_tolerated_and_next_append_is_clean(tmp_path):
    s = ReviewStore(tmp_path)
    s.record("a.tif", 1, P, FV, operator="ana")
    with open(s.log_path, "ab") as f:
        f.write(b'{"time": "2026-01-01T00:00:00Z", "operator": "ana", "frame": "a.t')   # crash mid-write
    entries, problems = read_log(s.log_path)
    assert len(entries) == 1 and len(problems) == 1 and "torn" in problems[0]
    s2 = ReviewStore(tmp_path)
    s2.record("a.tif", 2, P, FV, operator="ana")
    entries, problems = read_log(s.log_path)
    assert [e["joint_id"] for e in entries] == [1, 2]
    assert len(problems) == 1 and "damaged" in problems[0]      # kept in the file, never rewritten


def test_replay_last_entry_wins(tmp_path):
    s = ReviewStore(tmp_path)
    s.record("a.tif", 1, P, FV, operator="ana")
    s.record("a.tif", 1, FV, {"verdict": "fail", "defects": ["void", "hip"]}, operator="bo", reason="second look")
    s.record("b.tif", 7, P, FV)
    calls = ReviewStore(tmp_path).calls()          # a fresh store reads the file
    assert calls["a.tif"][1]["defects"] == ["void", "hip"] and calls["a.tif"][1]["operator"] == "bo"
    assert calls["b.tif"][7]["verdict"] == "fail"
    assert replay([])[0] == {}


def _auto_rows():
    return [{"frame": "a.tif", "joint_id": "1", "kind": "ball", "verdict": "pass", "defects": ""},
            {"frame": "a.tif", "joint_id": "2", "kind": "ball", "verdict": "fail", "defects": "void"},
            {"frame": "b.tif", "joint_id": "1", "kind": "ball", "verdict": "pass", "defects": ""}]


def test_reviewed_csv_columns_and_history(tmp_path):
    s = ReviewStore(tmp_path / "review")
    s.record("a.tif", 1, P, FV, operator="ana", reason="r1")
    p = s.write_reviewed(_auto_rows())
    rows = list(csv.DictReader(open(p)))
    assert list(rows[0]) == REVIEWED_COLUMNS
    a1 = rows[0]
    assert (a1["verdict_auto"], a1["verdict_final"], a1["defects_auto"], a1["defects_final"], a1["reviewed"]) == \
        ("pass", "fail", "", "void", "1")
    assert a1["verdict"] == "fail" and a1["operator"] == "ana"
    assert rows[1]["reviewed"] == "0" and rows[1]["verdict_final"] == "fail"
    assert s.history() == []
    first = p.read_text()
    s.record("a.tif", 2, FV, P, operator="ana")
    s.write_reviewed(_auto_rows())
    s.confirm_frame("b.tif", operator="bo")
    s.write_reviewed(_auto_rows())
    hist = s.history()
    assert len(hist) == 2 and hist[0].read_text() == first          # nothing overwritten without a copy
    rows = list(csv.DictReader(open(p)))
    assert rows[1]["verdict_final"] == "pass" and rows[2]["reviewed"] == "1" and rows[2]["operator"] == "bo"
    assert not list(p.parent.glob("*.part"))


def test_review_dirs(tmp_path):
    assert review_dir_for_output(tmp_path) == tmp_path / "review"
    assert review_dir_for_image(tmp_path / "x.tif") == tmp_path / "x.tif.review"


def test_borderline():
    assert is_borderline({"kind": "ball", "void_pct": 21.0})
    assert not is_borderline({"kind": "ball", "void_pct": 5.0, "diameter_px": 10, "offset_px": 0.5})
    assert is_borderline({"kind": "ball", "hip_score": "0.4"})
    assert not is_borderline({"kind": "pad", "void_pct": 30.0})


def test_label_precedence():
    assert X.label_for("fail", ["void", "bridge", "hip", "misaligned"]) == "hip"
    assert X.label_for("fail", ["void", "bridge", "misaligned"]) == "bridge"
    assert X.label_for("fail", "void;misaligned") == "misaligned"
    assert X.label_for("fail", ["void"]) == "void"
    assert X.label_for("pass", []) == "good"
    assert X.label_for("fail", ["missing"]) is None and X.label_for("fail", ["extra", "void"]) is None
    assert X.label_for("fail", []) is None


def test_crop_is_centred_and_padded():
    img = np.arange(100 * 120, dtype=np.uint16).reshape(100, 120)
    c = X.crop_joint(img, 60, 50, 10)
    assert c.shape == (20, 20) and c.dtype == np.uint16 and c[10, 10] == img[50, 60]
    e = X.crop_joint(img, 0, 0, 10)
    assert e.shape == (20, 20) and e[0, 0] == img[0, 0]


def test_export_reviewed_output(scored_output, tmp_path):
    out, inp, results = scored_output
    store = ReviewStore(review_dir_for_output(out))
    r0 = results[0]
    fails = [j for j in r0.joints if j.verdict == "fail" and j.contour and "extra" not in j.defects]
    good = next(j for j in r0.joints if j.verdict == "pass")
    store.record(r0.frame, fails[0].joint_id, {"verdict": "fail", "defects": fails[0].defects},
                 {"verdict": "fail", "defects": ["void", "hip"]}, operator="ana")
    store.record(r0.frame, good.joint_id, P, P, operator="ana")                       # confirmed
    store.confirm_frame(results[1].frame, operator="bo")
    ds = tmp_path / "dataset"
    prov = X.export_reviewed(out, ds)
    rows = list(csv.DictReader(open(ds / "labels.csv")))
    assert list(rows[0]) == X.LABEL_COLUMNS
    by = {(r["frame"], int(r["joint_id"])): r for r in rows}
    r = by[(r0.frame, fails[0].joint_id)]
    assert r["label"] == "hip" and r["source"] == "override" and r["operator"] == "ana" and r["polarity"] == "dark"
    assert by[(r0.frame, good.joint_id)]["source"] == "confirmed"
    assert len([k for k in by if k[0] == r0.frame]) == 2
    frame1 = [r for r in rows if r["frame"] == results[1].frame]
    assert frame1 and all(r["source"] == "frame_confirmed" for r in frame1)
    assert {r["label"] for r in rows} <= set(X.LABELS)
    crop = cv2.imread(str(ds / r["crop_file"]), cv2.IMREAD_UNCHANGED)
    d = float(r["diameter_px"])
    assert crop.dtype == np.uint16 and abs(crop.shape[0] - round(2 * d)) <= 1
    p = json.loads((ds / "provenance.json").read_text())
    assert p["n_crops"] == len(rows) == prov["n_crops"] and p["review_log_sha256"] and p["frames_not_found"] == []


def test_export_writes_model_patches_as_scoring_cuts_them(scored_output, tmp_path):
    """Each exported ball carries the model patch scoring would feed the classifier, and
    training reads that patch (not the raw crop, whose scale, stretch and polarity differ)."""
    from xrayinspect import io as xio
    from xrayinspect.classifier.data import review_export_patches
    from xrayinspect.classify import ball_patches, usable_balls

    out, inp, results = scored_output
    store = ReviewStore(review_dir_for_output(out))
    store.confirm_frame(results[0].frame, operator="ana")
    ds = tmp_path / "dataset"
    X.export_reviewed(out, ds)
    rows = [r for r in csv.DictReader(open(ds / "labels.csv")) if r["frame"] == results[0].frame]
    image, _ = xio.read_frame(inp / results[0].frame)
    balls = usable_balls(results[0])
    ref, _, _ = ball_patches(image, balls, "dark")
    by_id = {int(j.joint_id): k for k, j in enumerate(balls)}
    # every usable ball has its patch; balls cut by the frame edge (partial) have none
    assert rows and all(bool(r["patch_file"]) == (int(r["joint_id"]) in by_id) for r in rows)
    rows = [r for r in rows if r["patch_file"]]
    assert len(rows) > 50
    for r in rows[:5]:
        got = np.load(ds / r["patch_file"], allow_pickle=False)
        assert got.shape == (32, 32) and got.dtype == np.float32
        assert np.allclose(got, ref[by_id[int(r["joint_id"])]], atol=1e-6)
    ps = review_export_patches(ds)
    assert len(ps) == len(list(csv.DictReader(open(ds / "labels.csv"))))
    first = np.load(ds / rows[0]["patch_file"])
    assert any(np.allclose(q, first, atol=1e-6) for q in ps.patches)
    # a raw crop of a dark-polarity frame is inverted before the stretch: solder shows bright
    crop_only = tmp_path / "crop_only"
    (crop_only / "crops").mkdir(parents=True)
    import shutil

    shutil.copy(ds / rows[0]["crop_file"], crop_only / rows[0]["crop_file"])
    (crop_only / "labels.csv").write_text("crop_file,label,frame,joint_id,operator,source,polarity\n"
                                          f"{rows[0]['crop_file']},good,f,0,ana,confirmed,dark\n")
    raw = review_export_patches(crop_only).patches[0]
    assert raw[14:18, 14:18].mean() > raw[:3, :3].mean()      # the ball's centre brighter than the board corner


def test_review_export_train_score_loop(scored_output, tmp_path):
    """The loop no other tool offers: reviewed calls -> export -> train -> score with that model."""
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    from xrayinspect import io as xio
    from xrayinspect.classifier.train import train_model
    from xrayinspect.classify import load_classifier
    from xrayinspect.pipeline import score_frame

    out, inp, results = scored_output
    store = ReviewStore(review_dir_for_output(out))
    for r in results:
        store.confirm_frame(r.frame, operator="ana")
    ds = tmp_path / "dataset"
    X.export_reviewed(out, ds)
    model = tmp_path / "line3"
    m = train_model([ds], model, seed=0, epochs=1, progress=False, threads=1)
    assert m["n_train"] + m["n_val"] == len(list(csv.DictReader(open(ds / "labels.csv"))))
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["training_data"]["sources"] == [str(ds)]
    clf = load_classifier(str(model), backend="torch")
    image, _ = xio.read_frame(inp / results[0].frame)
    scored = score_frame(image, classifier=clf)
    labelled = [j for j in scored.joints if j.kind == "ball" and j.classifier_label]
    assert labelled and all(j.classifier_label in X.LABELS + ("skipped",) for j in labelled)

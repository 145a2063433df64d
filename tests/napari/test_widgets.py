"""Inspect and Review widgets in a real viewer (QT_QPA_PLATFORM=offscreen).

Offscreen Qt has no GL, so an Image layer cannot be added here: these tests
use the joints/voids/sites layers only; the same flow with the raw frame
shown runs in test_render.py under xvfb-run.
"""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from xrayinspect import pipeline  # noqa: E402
from xrayinspect.napari_plugin import _io_hooks as H  # noqa: E402
from xrayinspect.napari_plugin._layers import COLORS, ROLE_KEY  # noqa: E402
from xrayinspect.napari_plugin._widgets import InspectWidget, ReviewWidget, _add_layers  # noqa: E402
from xrayinspect.napari_plugin.review import ReviewStore  # noqa: E402


@pytest.fixture(autouse=True)
def _offscreen_texture_size(monkeypatch):
    """Offscreen Qt has no GL context, so napari's GL texture-size query gives None and a Labels
    layer with a direct colormap (ours: colour by call) cannot build its texture. Nothing is drawn
    offscreen anyway; give the query a typical answer. Under xvfb (render tests) the real one runs."""
    import os

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        import napari._vispy.layers.labels as vl

        monkeypatch.setattr(vl, "get_max_texture_sizes", lambda: (2048, 256))


def _joints_layers(viewer):
    return [lay for lay in viewer.layers if lay.metadata.get(ROLE_KEY, {}).get("role") == "joints"]


class _C(tuple):
    def __eq__(self, other):
        return bool(np.allclose(np.asarray(self, float), np.asarray(other, float), atol=1e-3))

    __hash__ = tuple.__hash__


def _color(layer, joint_id):
    return _C(np.asarray(layer.colormap.map(joint_id + 1), float).ravel())


@pytest.fixture(scope="module")
def _sample_data():
    return H.sample_result("bga", 3, rows=10, cols=10)


@pytest.fixture
def sample(monkeypatch, _sample_data):
    """The BGA sample's pixels and calls; score_frame is patched to return those calls at once."""
    image, result, truth = _sample_data
    monkeypatch.setattr(pipeline, "score_frame", lambda img, **kw: result)
    return image, result


def test_sample_data_layers(make_napari_viewer):
    viewer = make_napari_viewer()
    tuples = H.sample_bga()
    assert [t[2] for t in tuples] == ["image", "labels", "labels", "points"]
    _add_layers(viewer, tuples[1:])         # the image needs GL (render tests)
    (joints,) = _joints_layers(viewer)
    f = joints.features
    assert {"index", "void_pct", "hip_score", "verdict", "defects", "joint_id"} <= set(f.columns)
    assert set(np.unique(joints.data)) - {0} <= set(f["index"])
    fail = f[f["verdict"] == "fail"].iloc[0]
    assert _color(joints, int(fail["joint_id"]))[3] == 1.0
    assert H.sample_qfn()[1][1]["metadata"][ROLE_KEY]["frame"].startswith("synthetic_qfn")


def test_inspect_review_save_reopen(make_napari_viewer, sample, tmp_path):
    image, result = sample
    viewer = make_napari_viewer()
    rdir = tmp_path / "review"
    inspect = InspectWidget(viewer, run_async=False)
    review = ReviewWidget(viewer)
    viewer.window.add_dock_widget(inspect)
    viewer.window.add_dock_widget(review)
    inspect.package.value = "bga"
    inspect.rows.value = 10
    assert inspect.recipe().package.rows == 10
    r = inspect.score(image, frame=result.frame, extra={"review_dir": str(rdir)})
    assert r is result and "failed" in inspect.status.value
    inspect.score(image, frame=result.frame, extra={"review_dir": str(rdir)})     # again: replaced, not doubled
    (joints,) = _joints_layers(viewer)
    assert review.layer is joints and review.table.rowCount() == len(result.joints)
    review.operator.value = "ana"

    # 1: next failing (or borderline) joint ... until a failing one -> pass
    first = review.next_joint()
    from xrayinspect.napari_plugin.review import is_borderline
    for _ in range(len(result.joints)):
        c = review.call(first)
        assert c["verdict"] == "fail" or is_borderline(review._joint(first))
        if c["verdict"] == "fail" and "missing" not in c["defects"]:
            break
        first = review.next_joint()
    assert np.allclose(viewer.camera.center[-2:], (review._joint(first).y_px, review._joint(first).x_px))
    review.reason.value = "shadow of a via, not a void"
    review.handle_key("P")
    assert review.call(first) == {"verdict": "pass", "defects": [], "reviewed": True}
    assert _color(joints, first) == tuple(np.round(COLORS["pass"], 3))
    # 2: another failing joint -> add hip (orange at once)
    second = review.next_joint()
    while review.call(second)["verdict"] != "fail" or "missing" in review.call(second)["defects"]:
        second = review.next_joint()
    assert second != first
    review.toggle_defect("hip")
    assert "hip" in review.call(second)["defects"] and review.call(second)["verdict"] == "fail"
    assert _color(joints, second) == tuple(np.round(COLORS["hip"], 3))
    # 3: a passing joint -> void
    good = next(j.joint_id for j in result.joints if j.verdict == "pass" and j.contour)
    review.select_joint(good)
    review.handle_key("V")
    assert review.call(good)["defects"] == ["void"]
    row = joints.features[joints.features["joint_id"] == good].iloc[0]
    assert row["verdict"] == "fail" and row["verdict_auto"] == "pass" and row["reviewed"]

    csv_path = review.save()
    assert csv_path == rdir / "joints_reviewed.csv"
    log = [json.loads(x) for x in (rdir / "review_log.jsonl").read_text().splitlines()]
    assert [e["joint_id"] for e in log] == [first, second, good]
    assert log[0]["reason"] == "shadow of a via, not a void" and log[0]["operator"] == "ana"
    assert log[0]["from"]["verdict"] == "fail" and log[0]["to"] == {"verdict": "pass", "defects": []}
    rows = {int(r["joint_id"]): r for r in csv.DictReader(open(csv_path))}
    assert rows[first]["verdict_final"] == "pass" and rows[first]["reviewed"] == "1"
    assert rows[good]["defects_final"] == "void" and rows[good]["defects_auto"] == ""
    assert sum(r["reviewed"] == "1" for r in rows.values()) == 3

    # reopen: a fresh viewer and widgets replay the log
    viewer2 = make_napari_viewer()
    inspect2 = InspectWidget(viewer2, run_async=False)
    review2 = ReviewWidget(viewer2)
    inspect2.score(image, frame=result.frame, extra={"review_dir": str(rdir)})
    (joints2,) = _joints_layers(viewer2)
    assert review2.layer is joints2
    assert review2.call(first)["verdict"] == "pass" and review2.call(good)["defects"] == ["void"]
    assert _color(joints2, second) == tuple(np.round(COLORS["hip"], 3))
    assert int(joints2.features["reviewed"].sum()) == 3
    review2.save()
    assert len(ReviewStore(rdir).history()) == 1


def test_table_sorts(make_napari_viewer, sample):
    image, result = sample
    viewer = make_napari_viewer()
    inspect = InspectWidget(viewer, run_async=False)
    review = ReviewWidget(viewer)
    inspect.score(image, frame=result.frame)
    review.sort_by("void_pct")
    ids = review.table_joint_ids()
    voids = [round(review._joint(i).void_pct, 2) for i in ids]
    assert voids == sorted(voids, reverse=True)
    review.sort_by("hip_score")
    hips = [round(review._joint(i).hip_score, 2) for i in review.table_joint_ids()]
    assert hips == sorted(hips, reverse=True)
    review.sort_by("verdict", descending=False)
    assert review.table.item(0, 2).text() == "fail"


def test_previous_wraps_and_queue_is_flagged(make_napari_viewer, sample):
    image, result = sample
    viewer = make_napari_viewer()
    inspect = InspectWidget(viewer, run_async=False)
    review = ReviewWidget(viewer)
    inspect.score(image, frame=result.frame)
    q = review.queue()
    assert q and all(review.call(i)["verdict"] == "fail" or review._joint(i).void_pct > 0 or True for i in q)
    assert set(j.joint_id for j in result.joints if j.verdict == "fail") <= set(q)
    assert review.handle_key("Shift+N") == q[-1]
    assert review.next_joint(+1) == q[0]


def test_inspect_async_worker(make_napari_viewer, sample, qtbot):
    image, result = sample
    viewer = make_napari_viewer()
    inspect = InspectWidget(viewer, run_async=True)
    worker = inspect.score(image, frame=result.frame)
    assert worker is not None
    # the worker may finish before a signal spy could connect (the scorer here
    # is a fixed stub): wait for its visible effect instead of its signal
    qtbot.waitUntil(lambda: len(_joints_layers(viewer)) == 1 and inspect.run_button.enabled, timeout=20000)
    assert inspect.result is result and inspect.run_button.enabled


def test_inspect_with_the_real_scorer(make_napari_viewer, bga_frame):
    """Whatever score_frame returns (the placeholder finds no joints), the widget shows it."""
    image, _ = bga_frame
    viewer = make_napari_viewer()
    inspect = InspectWidget(viewer, run_async=False)
    r = inspect.score(image, frame="real.tif")
    assert r is not None and r.frame == "real.tif"
    if r.status == "ok":
        (joints,) = _joints_layers(viewer)
        assert joints.data.shape == image.shape


def test_batch_review_without_raw_frames(make_napari_viewer, scored_output):
    out, inp, results = scored_output
    (out / "run.json").unlink()                 # raw frames not found: calls still reviewable
    viewer = make_napari_viewer()
    review = ReviewWidget(viewer)
    review.operator.value = "bo"
    so = review.open_output(str(out))
    assert so.frames == [r.frame for r in results] and review.frame_list.count() == 2
    assert review.frame == results[0].frame and "raw frame not found" in review.status.value
    jid = review.next_joint()
    review.set_verdict("pass")
    assert review.frame_list.item(0).text().startswith("✓")
    assert review.frame_list.item(1).text().startswith("·")
    assert review.next_frame() == results[1].frame
    assert len(_joints_layers(viewer)) == 1 and review.frame == results[1].frame
    review.accept_frame()
    path = review.save()
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == sum(len(r.joints) for r in results)
    assert {r["frame"] for r in rows if r["reviewed"] == "1"} == {results[0].frame, results[1].frame}
    # a new widget on the same folder restores the override
    review2 = ReviewWidget(make_napari_viewer())
    review2.open_output(str(out))
    review2.show_frame(results[0].frame)
    assert review2.call(jid)["verdict"] == "pass"
    assert not (out / "joints.csv").read_text() == path.read_text()      # never recomputed nor overwritten


def test_readers_return_none_and_never_raise(tmp_path, scored_output):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff at all")
    reader = H.get_frame_reader(str(bad))
    assert reader is not None and reader(str(bad)) is None
    assert H.get_frame_reader(str(tmp_path / "nope.tif")) is None
    assert H.get_frame_reader(str(tmp_path / "x.txt")) is None
    assert H.get_frame_reader(["a.tif", "b.tif"]) is None
    assert H.get_frame_reader(None) is None
    assert H.get_output_reader(str(tmp_path)) is None
    assert H.get_output_reader(str(bad)) is None
    out, inp, results = scored_output
    layers = H.get_output_reader(str(out))(str(out))
    assert [t[2] for t in layers] == ["image", "labels", "labels", "points"]
    assert layers[1][1]["metadata"][ROLE_KEY]["out"] == str(out)
    frame = next(inp.glob("*.tif"))
    (img, kw, kind), = H.get_frame_reader(str(frame))(str(frame))
    assert kind == "image" and kw["metadata"][ROLE_KEY]["review_dir"].endswith(".tif.review")
    from xrayinspect.results import sidecar_name

    (out / "sidecars" / sidecar_name(results[0].frame)).write_text("{torn")
    assert H.get_output_reader(str(out))(str(out)) is None


def test_writer(make_napari_viewer, sample, tmp_path):
    image, result = sample
    viewer = make_napari_viewer()
    InspectWidget(viewer, run_async=False).score(image, frame=result.frame)
    (joints,) = _joints_layers(viewer)
    paths = H.write_review(str(tmp_path / "calls"), joints.data, {"features": joints.features,
                                                                  "metadata": joints.metadata})
    assert paths == [str(tmp_path / "calls.csv")]
    rows = list(csv.DictReader(open(paths[0])))
    assert len(rows) == len(joints.features) and "verdict_final" in rows[0]
    assert H.write_review(str(tmp_path / "x.csv"), None, {"features": None}) == []

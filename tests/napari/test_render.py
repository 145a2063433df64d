"""Render tests: need a screen with GL. Run: xvfb-run -a pytest tests/napari -m render."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from xrayinspect.napari_plugin._layers import ROLE_KEY, result_from_truth  # noqa: E402
from xrayinspect.napari_plugin._widgets import InspectWidget, ReviewWidget  # noqa: E402

pytestmark = pytest.mark.render
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "napari_review.png"


def _scored_folder(tmp_path):
    """Two synthetic BGA frames scored (real scorer, or simulator truth while it finds nothing)."""
    from xrayinspect.io import write_frame
    from xrayinspect.pipeline import score_frame
    from xrayinspect.results import write_sidecar, write_tables
    from xrayinspect.synth import generate_frame

    inp, out = tmp_path / "frames", tmp_path / "out"
    inp.mkdir()
    results = []
    for i, seed in enumerate((3, 4)):
        f = generate_frame(seed, package="bga", shape=(384, 384), export="tiff16", polarity="dark", rows=10, cols=10)
        name = f"board_{i}.tif"
        write_frame(inp / name, f.image)
        r = score_frame(f.image, frame=name)
        if r.status != "ok" or not r.joints:
            r = result_from_truth(f.truth, frame=name)
        results.append(r)
    write_tables(out, results)
    for r in results:
        write_sidecar(out, r)
    (out / "run.json").write_text(json.dumps({"inputs": [str(inp)]}))
    return out, results


def test_sample_with_image_and_inspect(make_napari_viewer, monkeypatch):
    from xrayinspect import pipeline
    from xrayinspect.napari_plugin._io_hooks import sample_result

    viewer = make_napari_viewer()
    viewer.open_sample("xrayinspect", "bga")
    assert [type(lay).__name__ for lay in viewer.layers] == ["Image", "Labels", "Labels", "Points"]
    image, result, _ = sample_result("bga", 3, rows=10, cols=10)
    monkeypatch.setattr(pipeline, "score_frame", lambda img, **kw: result)
    inspect = InspectWidget(viewer, run_async=False)
    inspect.image_layer.value = viewer.layers[0]
    assert inspect.run() is result
    assert sum(lay.metadata.get(ROLE_KEY, {}).get("role") == "joints" for lay in viewer.layers) == 1


def test_review_screenshot(make_napari_viewer, tmp_path, qtbot):
    out, results = _scored_folder(tmp_path)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    review = ReviewWidget(viewer)
    viewer.window.add_dock_widget(review, name="Review", area="right")
    review.operator.value = "ana"
    review.open_output(str(out))
    assert any(type(lay).__name__ == "Image" for lay in viewer.layers)
    fails = [j.joint_id for j in results[0].joints if j.verdict == "fail" and j.contour]
    assert fails
    review.select_joint(fails[0])
    review.reason.value = "confirmed on oblique view"
    review.toggle_defect("hip")
    voided = [j.joint_id for j in results[0].joints if j.defects == ["void"] and j.contour] or fails
    review.select_joint(voided[0])
    review.sort_by("void_pct")
    assert review.crop_view.pixmap() is not None and not review.crop_view.pixmap().isNull()
    qtbot.wait(200)
    j = review._joint(voided[0])
    viewer.camera.zoom = viewer.camera.zoom / 2.0            # show the neighbourhood too
    viewer.camera.center = (j.y_px, j.x_px)
    qtbot.wait(300)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    img = viewer.screenshot(path=str(SCREENSHOT), canvas_only=False, flash=False)
    assert img.ndim == 3 and img.shape[0] > 400 and np.asarray(img).std() > 5
    assert SCREENSHOT.stat().st_size > 10_000


def test_open_output_folder_through_napari(make_napari_viewer, tmp_path):
    out, results = _scored_folder(tmp_path)
    viewer = make_napari_viewer()
    viewer.open(str(out), plugin="xrayinspect")
    roles = [lay.metadata.get(ROLE_KEY, {}).get("role") for lay in viewer.layers]
    assert roles == ["image", "joints", "voids", "sites"]

"""Render tests: need a screen with GL. Run: xvfb-run -a pytest tests/napari -m render.

They write into tmp_path only; ``scripts/screenshot_napari.py`` regenerates the docs screenshot.
"""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from xrayinspect.napari_plugin._layers import ROLE_KEY  # noqa: E402
from xrayinspect.napari_plugin._widgets import InspectWidget  # noqa: E402

pytestmark = pytest.mark.render
REPO = Path(__file__).resolve().parents[2]
#: The docs screenshot: ``scripts/screenshot_napari.py`` regenerates it; tests only ever read it.
DOCS_SCREENSHOT = REPO / "docs" / "images" / "napari_review.png"


@pytest.fixture(autouse=True)
def repo_images_untouched():
    """Tests write into tmp_path only: the tracked images under docs/images stay as they were."""
    def snap():
        return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in (REPO / "docs" / "images").glob("*")}

    before = snap()
    yield
    assert snap() == before, "a render test wrote into docs/images (write into tmp_path instead)"


def _scored_folder(tmp_path):
    """Two synthetic BGA frames scored (real scorer, or simulator truth while it finds nothing)."""
    from xrayinspect.testing.napari_scene import scored_folder

    return scored_folder(tmp_path)


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
    """The docs scene (``scripts/screenshot_napari.py``) renders, into tmp_path."""
    from xrayinspect.testing.napari_scene import stage_review

    out, results = _scored_folder(tmp_path)
    viewer = make_napari_viewer(show=True)
    review, fails, shown = stage_review(viewer, out, results, qtbot.wait)
    assert any(type(lay).__name__ == "Image" for lay in viewer.layers)
    assert fails and shown is not None
    assert review.crop_view.pixmap() is not None and not review.crop_view.pixmap().isNull()
    shot = tmp_path / "napari_review.png"
    img = viewer.screenshot(path=str(shot), canvas_only=False, flash=False)
    assert img.ndim == 3 and img.shape[0] > 400 and np.asarray(img).std() > 5
    assert shot.stat().st_size > 10_000
    assert DOCS_SCREENSHOT.is_file()           # the docs copy is the script's to write, and it is there


def test_open_output_folder_through_napari(make_napari_viewer, tmp_path):
    out, results = _scored_folder(tmp_path)
    viewer = make_napari_viewer()
    viewer.open(str(out), plugin="xrayinspect")
    roles = [lay.metadata.get(ROLE_KEY, {}).get("role") for lay in viewer.layers]
    assert roles == ["image", "joints", "voids", "sites"]

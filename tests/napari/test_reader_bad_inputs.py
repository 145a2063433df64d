"""The napari frame reader on the bad-input corpus: None for every broken file, never an exception."""

import pytest

pytest.importorskip("napari")

from xrayinspect.napari_plugin import _io_hooks as H  # noqa: E402
from xrayinspect.testing.bad_inputs import make_bad_inputs  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_bad_inputs(tmp_path_factory.mktemp("bad"))


def test_manifest_names_the_frame_reader():
    import yaml
    from importlib.resources import files

    doc = yaml.safe_load(files("xrayinspect").joinpath("napari.yaml").read_text())
    cmds = {c["id"]: c["python_name"] for c in doc["contributions"]["commands"]}
    readers = [cmds[r["command"]] for r in doc["contributions"]["readers"]]
    assert "xrayinspect.napari_plugin._io_hooks:get_frame_reader" in readers


def _open(path):
    """What napari does: ask the hook for a reader, then call it (both as str and as a 1-list)."""
    results = []
    for arg in (str(path), [str(path)]):
        reader = H.get_frame_reader(arg)       # must not raise
        results.append(None if reader is None else reader(arg))
    return results


def test_every_error_kind_gives_none(corpus):
    for kind, (path, expect) in corpus.items():
        try:
            got = _open(path)
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{kind}: the reader raised {type(e).__name__}: {e}")
        if expect == "error":
            assert got == [None, None], f"{kind}: expected None, got {got}"


def test_ok_kinds_give_one_2d_image_layer(corpus):
    for kind, (path, expect) in corpus.items():
        if expect != "ok":
            continue
        for layers in _open(path):
            assert layers is not None, kind
            (data, kw, layer_type), = layers
            assert layer_type == "image" and data.ndim == 2 and data.size, kind


def test_output_reader_never_raises_on_the_corpus(corpus):
    for kind, (path, _) in corpus.items():
        reader = H.get_output_reader(str(path))
        assert reader is None or reader(str(path)) is None, kind
    folder = next(iter(corpus.values()))[0].parent
    reader = H.get_output_reader(str(folder))     # the corpus folder itself is no scored output
    assert reader is None or reader(str(folder)) is None

"""Fixtures of the napari plugin tests: scored frames built from simulator truth."""

import json

import pytest

from xrayinspect.napari_plugin._layers import result_from_truth
from xrayinspect.results import write_sidecar, write_tables
from xrayinspect.synth import generate_frame


@pytest.fixture(scope="session")
def bga_frame():
    """(image, FrameResult from truth) of a small BGA frame with voids, bridges, hip, missing and extra."""
    f = generate_frame(3, package="bga", shape=(320, 320), export="tiff16", polarity="dark", rows=10, cols=10)
    return f.image, result_from_truth(f.truth, frame="board_a.tif")


@pytest.fixture
def scored_output(tmp_path):
    """A folder as ``xrayinspect score`` writes it (frames.csv, joints.csv, sidecars/, run.json)
    for two synthetic frames, with the raw frames in a separate input folder."""
    from xrayinspect.io import write_frame

    inp = tmp_path / "frames"
    out = tmp_path / "out"
    inp.mkdir()
    results = []
    for i, seed in enumerate((3, 2)):
        f = generate_frame(seed, package="bga", shape=(320, 320), export="tiff16", polarity="dark", rows=10, cols=10)
        name = f"board_{i}.tif"
        write_frame(inp / name, f.image)
        results.append(result_from_truth(f.truth, frame=name))
    write_tables(out, results)
    for r in results:
        write_sidecar(out, r)
    (out / "run.json").write_text(json.dumps({"inputs": [str(inp)]}))
    return out, inp, results

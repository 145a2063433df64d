"""Results: a frame written as a sidecar and read back is the same frame, field for field."""

import json
import math
from dataclasses import fields

import pytest

from xrayinspect.pipeline import score_frame
from xrayinspect.results import FrameResult, error_result, write_sidecar
from xrayinspect.synth import generate_frame


def _same(a, b):
    """Equal, NaN equal to NaN (a NaN cell in memory is a null in JSON and NaN again on reading)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.fixture(scope="module", params=["bga", "qfn"])
def scored(request):
    """A small synthetic frame of each package, scored by the real pipeline."""
    f = generate_frame(9301, package=request.param, shape=(384, 384), export="tiff16", polarity="dark")
    r = score_frame(f.image, frame=f"roundtrip_{request.param}.tif")
    assert r.status == "ok" and r.joints, r.error
    return r


def test_sidecar_round_trip_keeps_every_frame_row_field(scored, tmp_path):
    r = scored
    if r.package == "bga":
        # n_sites is the fitted grid's size: it differs from a count of the joints on sites
        # (missing balls, depopulated sites), so a reader that recounts it is caught here
        assert r.n_sites > 0
    assert math.isfinite(r.seconds) and r.seconds > 0
    path = write_sidecar(tmp_path, r)
    back = FrameResult.from_sidecar(json.loads(path.read_text(encoding="utf-8")))

    before, after = r.frame_row(), back.frame_row()
    assert list(after) == list(before)
    diff = {c: (before[c], after[c]) for c in before if not _same(before[c], after[c])}
    assert not diff, diff
    assert back.n_sites == r.n_sites and back.seconds == r.seconds
    assert back.joint_rows() == r.joint_rows()
    # every dataclass field but the joints (compared above, row by row) comes back as it was
    for f in fields(FrameResult):
        if f.name == "joints":
            continue
        a, b = getattr(r, f.name), getattr(back, f.name)
        if f.name == "grid":       # numpy arrays in memory are lists once in JSON
            a = json.loads(json.dumps(a, default=lambda o: o.tolist()))
        assert _same(a, b), (f.name, a, b)


def test_sidecar_round_trip_of_an_error_frame(tmp_path):
    r = error_result("bad.tif", "bad.tif: could not be read", package="qfn")
    r.seconds = 0.25
    back = FrameResult.from_sidecar(json.loads(write_sidecar(tmp_path, r).read_text(encoding="utf-8")))
    assert back.frame_row() == r.frame_row()
    assert back.frame_row()["seconds"] == 0.25 and back.status == "error" and back.verdict == "error"


def test_old_sidecar_without_n_sites_counts_sites_from_joints():
    """Sidecars written before n_sites/seconds were stored still load."""
    d = {"frame": "old.tif", "package": "bga", "status": "ok",
         "joints": [{"joint_id": 0, "grid_row": 0, "grid_col": 0}, {"joint_id": 1, "grid_row": 0, "grid_col": 1},
                    {"joint_id": 2, "kind": "ball", "grid_row": -1, "grid_col": -1}]}
    back = FrameResult.from_sidecar(d)
    assert back.n_sites == 2 and math.isnan(back.seconds)


def test_largest_void_of_a_frame_leaves_out_joints_not_judged_for_voids():
    """A ball cut by the frame's edge holds a fragment's void %, never judged: it must not set max_void_pct."""
    from xrayinspect.results import JointResult
    whole = JointResult(joint_id=0, void_pct=12.0, area_px=300.0)
    cut = JointResult(joint_id=1, void_pct=31.5, area_px=120.0, partial=True)
    r = FrameResult(frame="edge.tif", package="bga", joints=[whole, cut])
    assert float(r.frame_row()["max_void_pct"]) == pytest.approx(12.0)
    only_cut = FrameResult(frame="edge2.tif", package="bga", joints=[cut])
    assert float(only_cut.frame_row()["max_void_pct"]) == 0.0

"""A frame that shows two packages side by side: every array's balls are scored.

Two simulated packages (with their truth) are set side by side in one frame,
as a view of a memory chip beside its controller shows them.
"""

import csv

import numpy as np
import pytest

from xrayinspect.evaluation import Tally
from xrayinspect.pipeline import score_frame
from xrayinspect.results import write_tables
from xrayinspect.synth import generate_frame


def _side_by_side(seed):
    a = generate_frame((seed, 0), package="bga", shape=(1024, 640), export="tiff16", polarity="dark", rows=10, cols=8)
    b = generate_frame((seed, 1), package="bga", shape=(1024, 640), export="tiff16", polarity="dark", rows=12, cols=12)
    image = np.hstack([a.image, b.image])
    joints = a.truth["joints"] + [dict(j, x_px=j["x_px"] + a.image.shape[1]) for j in b.truth["joints"]]
    fails = "fail" in (a.truth["frame_verdict"], b.truth["frame_verdict"])
    truth = dict(a.truth, joints=joints, frame_verdict="fail" if fails else "pass")
    return image, truth, a, b


@pytest.mark.parametrize("seed", [6700016, 6700017])
def test_both_packages_of_a_frame_are_scored(seed, tmp_path):
    image, truth, a, b = _side_by_side(seed)
    res = score_frame(image, frame="two.tif")
    t = Tally()
    t.add(truth, res)
    n_truth = sum(1 for j in truth["joints"] if "missing" not in j["defects"] and not j.get("partial"))
    # before 2026-12-04 the second package's balls (80 of 208) were dropped unreported
    assert t.det[0] >= n_truth - 2 and t.det[1] == 0
    assert res.verdict == truth["frame_verdict"]
    for code in ("missing", "bridge", "extra", "misaligned"):
        assert t.fp[code] == 0
    arrays = {j.array for j in res.joints}
    assert arrays == {0, 1}
    # the second lattice reaches the sidecar, and a reload keeps it
    import json

    from xrayinspect.results import FrameResult

    assert len(res.more_grids) == 1 and res.more_grids[0]["rows"] * res.more_grids[0]["cols"] >= 80
    back = FrameResult.from_sidecar(json.loads(json.dumps(res.sidecar())))
    assert back.more_grids == res.more_grids and back.grid == res.grid
    # each array on its own grid, as each package scored alone (the second is
    # cut by the frame's edge: its sites are those in view)
    alone = [score_frame(a.image), score_frame(b.image)]

    def sites(joints):
        return len({(j.grid_row, j.grid_col) for j in joints if j.grid_row >= 0})

    together = sorted(sites([j for j in res.joints if j.array == k]) for k in (0, 1))
    apart = sorted(sites(r.joints) for r in alone)
    assert all(abs(x - y) <= 1 for x, y in zip(together, apart))
    assert abs(res.n_sites - sum(r.n_sites for r in alone)) <= 2
    assert len({j.joint_id for j in res.joints}) == len(res.joints)
    # joints.csv says which array each joint belongs to
    write_tables(tmp_path, [res])
    with open(tmp_path / "joints.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["array"] for r in rows} == {"0", "1"}


def test_a_single_package_frame_has_one_array():
    f = generate_frame((6700018, 0), package="bga", shape=(1024, 1024))
    res = score_frame(f.image)
    assert {j.array for j in res.joints} == {0}

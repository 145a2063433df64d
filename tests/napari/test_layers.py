"""FrameResult -> layer data, without a viewer (no napari/Qt needed)."""

import math

import numpy as np
import pytest

from xrayinspect.napari_plugin import _layers as L
from xrayinspect.results import JOINT_COLUMNS, FrameResult, JointResult


def _square(x, y, h):
    return [[x - h, y - h], [x + h, y - h], [x + h, y + h], [x - h, y + h]]


def _result():
    joints = [
        JointResult(0, x_px=10, y_px=10, site_x_px=10, site_y_px=10, diameter_px=8, area_px=64,
                    contour=_square(10, 10, 4), void_contours=[_square(10, 10, 1)], void_pct=30.0,
                    verdict="fail", defects=["void"]),
        JointResult(1, x_px=30, y_px=10, site_x_px=30, site_y_px=10, diameter_px=8, area_px=64,
                    contour=_square(30, 10, 4)),
        JointResult(2, x_px=50, y_px=10, site_x_px=50, site_y_px=10, diameter_px=0.0, verdict="fail",
                    defects=["missing"]),
        JointResult(3, x_px=10, y_px=30, diameter_px=8, area_px=64, contour=_square(10, 30, 4), verdict="fail",
                    defects=["extra"]),
        JointResult(4, x_px=30, y_px=30, site_x_px=30, site_y_px=30, diameter_px=8, area_px=64,
                    contour=_square(30, 30, 4), verdict="fail", defects=["hip"], hip_score=0.9),
    ]
    return FrameResult(frame="f.tif", package="bga", joints=joints, shape=(40, 60))


def test_rasterize_label_is_joint_id_plus_one():
    lab = L.rasterize_joints(_result())
    assert lab.shape == (40, 60) and lab.dtype == np.int32
    assert lab[10, 10] == 1 and lab[10, 30] == 2 and lab[30, 10] == 4 and lab[30, 30] == 5
    assert 3 not in np.unique(lab)          # the missing ball has no contour
    assert lab[0, 0] == 0


def test_rasterize_needs_a_shape():
    r = _result()
    r.shape = ()
    with pytest.raises(ValueError, match="shape"):
        L.rasterize_joints(r)
    assert L.rasterize_joints(r, (40, 60)).max() == 5


def test_features_have_every_interface_column_and_index():
    feats = L.joint_features(_result())
    for c in JOINT_COLUMNS + ["index", "verdict_auto", "defects_auto", "reviewed"]:
        assert c in feats, c
    n = len(feats["index"])
    assert n == 4 and all(len(v) == n for v in feats.values())
    assert feats["index"] == [1, 2, 4, 5]
    assert feats["defects"][0] == "void" and feats["verdict_auto"][0] == "fail"


def test_review_overrides_features_but_keeps_auto():
    feats = L.joint_features(_result(), {0: {"verdict": "pass", "defects": [], "operator": "ana", "reason": "ok"}})
    assert feats["verdict"][0] == "pass" and feats["defects"][0] == ""
    assert feats["verdict_auto"][0] == "fail" and feats["defects_auto"][0] == "void"
    assert feats["reviewed"] == [True, False, False, False] and feats["operator"][0] == "ana"


def test_colours_by_verdict_and_code():
    assert L.call_color("pass", []) == L.COLORS["pass"]
    assert L.call_color("fail", ["void"]) == L.COLORS["fail"]
    assert L.call_color("fail", "missing") == L.COLORS["missing"]
    assert L.call_color("fail", ["extra"]) == L.COLORS["extra"]
    assert L.call_color("fail", ["void", "hip"]) == L.COLORS["hip"]
    cmap = L.label_colormap(L.joint_features(_result()))
    assert cmap[0][3] == 0 and cmap[None][3] == 0
    assert cmap[1] == L.COLORS["fail"] and cmap[2] == L.COLORS["pass"]
    assert cmap[4] == L.COLORS["extra"] and cmap[5] == L.COLORS["hip"]


def test_layer_tuples():
    layers = L.result_to_layers(_result())
    kinds = [t[2] for t in layers]
    assert kinds == ["labels", "labels", "points"]
    lab, kw, _ = layers[0]
    assert kw["metadata"][L.ROLE_KEY]["role"] == "joints"
    assert kw["metadata"][L.ROLE_KEY]["result"].frame == "f.tif"
    voids, vkw, _ = layers[1]
    assert set(np.unique(voids)) == {0, 1} and voids[10, 10] == 1 and voids[10, 12] == 0
    assert vkw["metadata"][L.ROLE_KEY]["role"] == "voids"
    pts, pkw, _ = layers[2]
    assert pts.shape == (4, 2)                      # joints 0,1,2,4 have a site; extra (3) has none
    i = pkw["features"]["joint_id"].index(2)
    assert tuple(pkw["face_color"][i]) == L.COLORS["missing"]
    assert np.allclose(pts[i], [10, 50])


def test_result_from_truth(bga_frame):
    image, r = bga_frame
    lab = L.rasterize_joints(r, image.shape)
    drawn = {int(v) - 1 for v in np.unique(lab) if v}
    with_contour = {j.joint_id for j in r.joints if j.contour}
    assert drawn <= with_contour and len(drawn) >= 0.9 * len(with_contour)
    assert any("missing" in j.defects and not j.contour for j in r.joints)
    assert all(math.isfinite(j.x_px) for j in r.joints if j.contour)


def test_empty_result_gives_empty_layers():
    layers = L.result_to_layers(FrameResult(frame="e.tif", shape=(20, 20)))
    assert layers[0][0].max() == 0 and layers[1][0].max() == 0 and layers[2][0].shape == (0, 2)


def test_degenerate_void_contours_are_drawn():
    r = _result()
    r.joints[1].void_contours = [[[30, 10]], [[28, 9], [29, 9]], [[31, 11], [32, 12], [31, 11]]]
    v = L.rasterize_voids(r)
    assert v[10, 30] == 2 and v[9, 28] == 2 and v[9, 29] == 2 and v[12, 32] == 2


def test_rejects_non_results():
    with pytest.raises(TypeError, match="FrameResult"):
        L.result_to_layers({"frame": "x"})

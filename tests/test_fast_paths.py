"""The fast paths of the scorer give what their plain definitions give.

Each helper below replaced a slower, obvious computation on the same data;
here each is checked against that obvious computation (written out in the
test, not taken from the helper's earlier output) on random inputs.
"""

import cv2
import numpy as np
import pytest

from xrayinspect.bga import _piece_counts
from xrayinspect.measure import components_with_stats, flat_nonzero
from xrayinspect.voids import VOLUME_RING, _volume_areas


def _blobs(rng, shape, sigma, level=0.5):
    noise = rng.random(shape).astype(np.float32)
    return (cv2.GaussianBlur(noise, (0, 0), sigma) > level).astype(np.uint8) if sigma else (noise < level).astype(np.uint8)


@pytest.mark.parametrize("sigma, level", [(0, 0.3), (0, 0.6), (1.0, 0.5), (3.0, 0.5), (8.0, 0.5)])
def test_components_with_stats_numbers_as_opencv_default(sigma, level):
    rng = np.random.default_rng(int(10 * sigma + 100 * level))
    m = _blobs(rng, (301, 457), sigma, level)
    n, lab, st, cen = components_with_stats(m)
    n0, lab0, st0, cen0 = cv2.connectedComponentsWithStats(m, connectivity=8)
    assert n == n0 and n > 2
    assert np.array_equal(lab, lab0) and np.array_equal(st, st0)
    assert np.allclose(cen, cen0)


def test_components_with_stats_takes_bool_masks():
    m = np.zeros((5, 7), bool)
    m[1:3, 1:3] = m[4, 6] = True
    n, lab, st, _ = components_with_stats(m)
    assert n == 3 and st[1, cv2.CC_STAT_AREA] == 4 and st[2, cv2.CC_STAT_AREA] == 1


@pytest.mark.parametrize("dtype", [np.uint8, bool, np.int32, np.uint16, np.float32])
def test_flat_nonzero_is_numpys(dtype):
    rng = np.random.default_rng(3)
    a = (rng.random((123, 77)) < 0.3) * rng.integers(1, 5, (123, 77))
    a = a.astype(dtype)
    assert np.array_equal(flat_nonzero(a), np.flatnonzero(a))
    assert flat_nonzero(np.zeros((4, 4), dtype)).size == 0
    assert np.array_equal(flat_nonzero(a.ravel()), np.flatnonzero(a))       # 1-D: numpy's own


def test_piece_counts_is_unique_of_the_pair_keys():
    rng = np.random.default_rng(1)
    for _ in range(200):
        ncc, n = int(rng.integers(1, 50)), int(rng.integers(1, 40))
        cc = rng.integers(0, ncc, int(rng.integers(0, 3000))).astype(np.int32)
        lab = rng.integers(0, n + 1, ncc)[cc]          # most components inside one joint ...
        flip = rng.random(cc.size) < rng.choice([0.0, 0.01, 0.2])
        lab[flip] = rng.integers(0, n + 1, int(flip.sum()))     # ... some across joints
        lab = lab.astype(np.int32)
        keys, counts = np.unique(cc.astype(np.int64) * (n + 1) + lab, return_counts=True)
        k2, c2 = _piece_counts(cc, lab, ncc, n)
        assert np.array_equal(keys, k2) and np.array_equal(counts, c2)


def _volume_areas_dense(vl, nvo, owner, short_img, joint_img):
    """The definition: dilate the void labels (the highest wins), keep each grown
    pixel in its void's own joint, sum the shortfall; depth = deepest void pixel."""
    k = 2 * VOLUME_RING + 1
    grown = cv2.dilate(vl.astype(np.uint16), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(np.int64)
    sel = (grown > 0) & (joint_img == owner[grown])
    vol = np.bincount(grown[sel], weights=short_img[sel].astype(np.float64), minlength=nvo + 1)
    depth = np.zeros(nvo + 1)
    np.maximum.at(depth, vl[vl > 0], short_img[vl > 0].astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(depth > 0, 1.5 * np.maximum(vol, 0) / depth, 0.0)


def test_sparse_volume_areas_match_the_dense_definition():
    rng = np.random.default_rng(5)
    for trial in range(30):
        h, w = int(rng.integers(20, 80)), int(rng.integers(20, 80))
        # joints: a few blocks, touching one another and the frame edge
        joint_img = np.zeros((h, w), np.int32)
        nj = 0
        for y in range(0, h, 15):
            for x in range(0, w, 13):
                nj += 1
                joint_img[y:y + 14, x:x + 13] = nj if rng.random() < 0.8 else 0
        search_img = (joint_img > 0) & (rng.random((h, w)) < 0.9)
        short_img = np.where(joint_img > 0, rng.normal(0.05, 0.1, (h, w)), 0.0)
        # voids: small blobs inside the search area, some close enough for their rings to meet
        vl = np.zeros((h, w), np.int32)
        nvo = 0
        for _ in range(int(rng.integers(1, 12))):
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            blob = np.zeros((h, w), bool)
            blob[max(y - 1, 0):y + int(rng.integers(1, 4)), max(x - 1, 0):x + int(rng.integers(1, 4))] = True
            blob &= search_img & (vl == 0)
            if blob.any():
                nvo += 1
                vl[blob] = nvo
        if nvo == 0:
            continue
        owner = np.zeros(nvo + 1, np.int32)
        vy, vx = np.nonzero(vl)
        owner[vl[vy, vx]] = joint_img[vy, vx]
        ys, xs = np.nonzero(joint_img)
        short = short_img[ys, xs]
        search = search_img[ys, xs]
        # the image the void step builds: the shortfall (float32) where voids are looked for
        short32 = np.zeros((h, w), np.float32)
        short32[ys[search], xs[search]] = short[search]
        want = _volume_areas_dense(vl, nvo, owner, short32, joint_img)
        vol, depth = _volume_areas(vy, vx, vl[vy, vx], nvo, owner, short, ys.astype(np.int64) * w + xs,
                                   joint_img[ys, xs], search, (h, w))
        with np.errstate(divide="ignore", invalid="ignore"):
            got = np.where(depth > 0, 1.5 * vol / depth, 0.0)      # a sphere's area, as ball_voids takes it
        assert np.array_equal(got, want), trial

"""Outlines of labelled joints (``measure.contours_by_label``) when labels touch."""

import cv2
import numpy as np
import pytest

from xrayinspect.measure import circularity, contours_by_label


def _disc(shape, cx, cy, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def _touching_labels():
    """Two overlapping balls, a via ring touching the second, a lone ball, a ball in the ring's hole."""
    shape = (60, 110)
    labels = np.zeros(shape, np.int32)
    ring = _disc(shape, 60, 30, 9) & ~_disc(shape, 60, 30, 5)
    labels[ring] = 3
    labels[_disc(shape, 33, 30, 8)] = 2
    labels[_disc(shape, 18, 30, 8)] = 1          # overlaps ball 2: one mask cut in two
    labels[_disc(shape, 92, 30, 8)] = 4          # alone
    labels[_disc(shape, 60, 30, 2)] = 5          # a stray inside the ring's hole
    return labels


def _centroid(labels, k):
    ys, xs = np.nonzero(labels == k)
    return float(xs.mean()), float(ys.mean())


def test_touching_labels_each_get_their_own_outline():
    labels = _touching_labels()
    contours, perim = contours_by_label(labels, 5)
    for k in (1, 2, 3, 4):
        poly = np.asarray(contours[k], np.float32)
        assert len(poly) >= 4 and perim[k] > 0
        # the outline encloses its own label and no other label's centre
        assert cv2.pointPolygonTest(poly, _centroid(labels, k) if k != 3 else (60.0, 21.5), False) >= 0
        for other in (1, 2, 3, 4):
            if other != k and other != 3:
                assert cv2.pointPolygonTest(poly, _centroid(labels, other), False) < 0, (k, other)
        # and its area is the label's own (pixel centres: area minus about half the perimeter)
        own = np.count_nonzero(labels == k) if k != 3 else np.count_nonzero(_disc(labels.shape, 60, 30, 9))
        assert own - perim[k] <= cv2.contourArea(poly) <= own, k
    # the overlapping balls are two discs, not one long blob
    area = np.array([0] + [np.count_nonzero(labels == k) for k in range(1, 6)], float)
    circ = circularity(area, perim)
    assert circ[1] > 0.75 and circ[4] > 0.85


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 2, 1), (2, 3, 1)])
def test_a_chain_of_touching_labels_is_traced_whatever_label_the_trace_meets_first(order):
    shape = (40, 80)
    labels = np.zeros(shape, np.int32)
    for k, cx in zip(order, (14, 29, 44)):
        labels[_disc(shape, cx, 20, 8)] = k
    contours, perim = contours_by_label(labels, 3)
    for k in (1, 2, 3):
        poly = np.asarray(contours[k], np.float32)
        xs = poly[:, 0]
        # each outline spans one ball (<= 17 px), not the 47 px chain
        assert xs.max() - xs.min() <= 17, (k, xs.min(), xs.max())
        assert perim[k] < 2 * np.pi * 9


def test_a_lone_label_keeps_its_traced_outline():
    labels = np.zeros((30, 30), np.int32)
    labels[_disc(labels.shape, 15, 15, 8)] = 1
    contours, perim = contours_by_label(labels, 1)
    ref, _ = cv2.findContours((labels > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    assert perim[1] == pytest.approx(cv2.arcLength(ref[0], True))
    assert contours[1] == cv2.approxPolyDP(ref[0], 0.7, True)[:, 0, :].tolist()


def test_no_ball_outline_in_a_scored_frame_takes_in_a_neighbour():
    """Simulator frame (6,700,000, 58): balls touching a via ring or a displaced neighbour. Before
    outlines were traced label by label, 30 of 733 joints had the outline of their touching group
    (ball (12,25) one of three balls and a ring: 900 px^2 for a 194 px ball) in the sidecar, the
    overlay and the review layer, and that group's perimeter in their circularity."""
    from xrayinspect.pipeline import score_frame
    from xrayinspect.synth import generate_frame

    f = generate_frame((6700000, 58), package="bga", shape=(1024, 1024))
    r = score_frame(f.image)
    balls = [j for j in r.joints if j.kind == "ball" and j.area_px > 0 and len(j.contour)]
    assert len(balls) > 700
    centres = np.array([[j.x_px, j.y_px] for j in balls], np.float32)
    for j in balls:
        poly = np.asarray(j.contour, np.float32)
        assert cv2.contourArea(poly) <= 1.3 * j.area_px + 10, (j.grid_row, j.grid_col)
        near = np.flatnonzero(np.hypot(*(centres - [j.x_px, j.y_px]).T) < 3 * np.sqrt(j.area_px))
        inside = [i for i in near if balls[i] is not j
                  and cv2.pointPolygonTest(poly, tuple(map(float, centres[i])), False) >= 0]
        assert not inside, (j.grid_row, j.grid_col)
    assert min(j.circularity for j in balls if not j.partial and not j.defects) > 0.5

"""Void measurement on rendered balls: what is a void and what only looks like one."""

import cv2
import numpy as np

from xrayinspect.voids import ball_voids

R = 10.0          # ball radius, px
PITCH = 30


def _scene(defect):
    """A 6x6 array of blurred spherical balls (attenuation), one with ``defect`` applied."""
    rng = np.random.default_rng(0)
    h = w = PITCH * 6
    att = np.zeros((h, w), np.float32)
    labels = np.zeros((h, w), np.int32)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    k = 0
    for i in range(6):
        for j in range(6):
            k += 1
            cy, cx = PITCH * i + PITCH / 2, PITCH * j + PITCH / 2
            r2 = (yy - cy) ** 2 + (xx - cx) ** 2
            att += np.sqrt(np.maximum(R * R - r2, 0)) / R
            labels[r2 <= (R + 0.5) ** 2] = k
            if k == 15:
                defect(att, yy - cy, xx - cx)
    att = cv2.GaussianBlur(att, (0, 0), 0.8) + rng.normal(0, 0.005, att.shape).astype(np.float32)
    return att, labels, 36


def _round_void(att, dy, dx):
    """A spherical gas void of radius 4 px, half-way out from the centre."""
    r2 = (dy - 3) ** 2 + (dx + 2) ** 2
    att -= 2 * np.sqrt(np.maximum(16 - r2, 0)) / R


def _rim_crescent(att, dy, dx):
    """A thin arc of missing attenuation along a third of the rim (a trace or pad edge in the mask)."""
    r = np.hypot(dy, dx)
    arc = (r > 0.72 * R) & (r < 0.98 * R) & (np.abs(np.arctan2(dy, dx) - np.pi / 2) < 0.9)
    att[arc] *= 0.35


def test_round_void_is_measured_and_rim_crescent_is_not_a_void():
    att, labels, n = _scene(_round_void)
    vs = ball_voids(att, labels, n)
    true_pct = 100 * 16 / (R + 0.5) ** 2
    assert abs(vs.void_pct[15] - true_pct) < 6, (vs.void_pct[15], true_pct)
    others = np.delete(vs.void_pct[1:], 14)
    assert others.max() < 2

    att, labels, n = _scene(_rim_crescent)
    vs = ball_voids(att, labels, n)
    assert vs.void_pct[15] < 2, vs.void_pct[15]

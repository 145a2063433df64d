"""Voids inside solder joints: a less-attenuating region against the void-free joint.

A BGA ball without voids projects to the dome ``A0 * sqrt(1 - rho^2)`` in
attenuation (``rho`` the elliptical radius from the joint's own second
moments). The dome is fitted per ball from the pixels that are not voided
(an upper quantile of ``A / sqrt(1 - rho^2)``), and a void is where the
measured attenuation falls short of it: seeds clearly below the dome, grown
(hysteresis) to where the shortfall is still above the noise. The defect
figure is projected area, per IPC-A-610: void area / joint area x 100.
"""

from dataclasses import dataclass

import cv2
import numpy as np

#: Seed and grow levels, in robust noise sigmas and as a fraction of the dome peak (calibrated).
SEED_SIGMA, GROW_SIGMA = 5.0, 3.0
SEED_FRACTION, GROW_FRACTION = 0.15, 0.10
#: Voids are looked for inside this elliptical radius (the rim is all partial volume).
RHO_MAX = 0.93
#: Width of the radial bins of the measured ball profile (elliptical radius units).
PROFILE_BIN = 0.05
#: Voids smaller than this are not reported, px.
MIN_VOID_AREA_PX = 3


@dataclass
class VoidStats:
    """Per-joint void measurements; arrays indexed by joint label (0 unused)."""

    void_pct: np.ndarray
    largest_void_pct: np.ndarray
    void_count: np.ndarray
    dome_peak: np.ndarray
    void_labels: np.ndarray      # int32 image: void component ids (0 none)
    void_owner: np.ndarray       # joint label of each void component


def _ellipse_rho(xs, ys, lab, n, area):
    """Elliptical radius of each pixel in its joint, from the joint's moments."""
    cnt = np.maximum(np.bincount(lab, minlength=n + 1), 1)
    mx = np.bincount(lab, xs, n + 1) / cnt
    my = np.bincount(lab, ys, n + 1) / cnt
    dx, dy = xs - mx[lab], ys - my[lab]
    sxx = np.bincount(lab, dx * dx, n + 1) / cnt + 1 / 12
    syy = np.bincount(lab, dy * dy, n + 1) / cnt + 1 / 12
    sxy = np.bincount(lab, dx * dy, n + 1) / cnt
    det = np.maximum(sxx * syy - sxy * sxy, 1e-9)
    # a uniform ellipse with semi-axes a, b has covariance diag(a^2, b^2) / 4
    q = (syy[lab] * dx * dx - 2 * sxy[lab] * dx * dy + sxx[lab] * dy * dy) / det[lab]
    return np.sqrt(np.maximum(q, 0) / 4.0)


def _group_quantile(values, groups, n, q):
    """Per-group quantile ``q`` of ``values`` (groups 1..n)."""
    out = np.zeros(n + 1)
    if values.size == 0:
        return out
    order = np.lexsort((values, groups))
    g = groups[order]
    v = values[order]
    starts = np.searchsorted(g, np.arange(n + 1), "left")
    ends = np.searchsorted(g, np.arange(n + 1), "right")
    cnt = ends - starts
    has = cnt > 0
    pos = starts + np.minimum((q * (cnt - 1)).astype(int), np.maximum(cnt - 1, 0))
    out[has] = v[pos[has]]
    return out


def ball_voids(att, joint_labels, n, *, model="dome"):
    """Measure voids in every labelled joint.

    Parameters
    ----------
    att : ndarray of float32
        Attenuation map (lightly smoothed).
    joint_labels : ndarray of int32
        Joint labels (0 background), 1..n.
    n : int
        Number of joints.
    model : {"dome", "flat"}
        Void-free profile: a spheroid dome (BGA balls) or a flat layer
        (QFN pads and pins, whose level is the joint's upper quantile).

    Returns
    -------
    VoidStats
    """
    ys, xs = np.nonzero(joint_labels)
    lab = joint_labels[ys, xs]
    a = att[ys, xs].astype(np.float64)
    area = np.bincount(lab, minlength=n + 1).astype(float)
    if model == "dome":
        rho = _ellipse_rho(xs.astype(float), ys.astype(float), lab, n, area)
        # the void-free profile, shared by the frame's balls: blur, pads and
        # the detector are in it, so it is measured, not assumed; the median
        # over many balls is void-free because most balls barely void
        inner = rho < 0.4
        first = _group_quantile(a[inner], lab[inner], n, 0.9)
        first[first <= 0] = np.inf
        nb = int(1.3 / PROFILE_BIN) + 1
        rbin = np.minimum((rho / PROFILE_BIN).astype(int), nb - 1)
        ratio = a / first[lab]
        prof = _group_quantile(ratio, rbin, nb - 1, 0.6)
        prof = np.maximum(prof, 1e-3)
        shape = prof[rbin]
        fit_px = rho < 0.8
        a0 = _group_quantile((a / shape)[fit_px], lab[fit_px], n, 0.7)
        expected = a0[lab] * shape
        search = rho < RHO_MAX
    else:
        # a flat land: its rim is all blur, so voids are looked for inside it
        inner_img = cv2.erode((joint_labels > 0).astype(np.uint8), np.ones((5, 5), np.uint8))
        search = inner_img[ys, xs] > 0
        a0 = _group_quantile(a[search], lab[search], n, 0.6)
        expected = a0[lab]
    short = expected - a
    resid = short[search & (short < 0)]
    sigma = 1.4826 * np.median(-resid) if resid.size > 50 else 0.02 * float(np.median(a0[1:]) if n else 1)
    peak = a0[lab]
    seed = search & (short > np.maximum(SEED_SIGMA * sigma, SEED_FRACTION * peak))
    grow = search & (short > np.maximum(GROW_SIGMA * sigma, GROW_FRACTION * peak))
    h, w = joint_labels.shape
    grow_img = np.zeros((h, w), np.uint8)
    grow_img[ys[grow], xs[grow]] = 1
    nv, vl = cv2.connectedComponents(grow_img, connectivity=8)
    has_seed = np.zeros(nv, bool)
    has_seed[vl[ys[seed], xs[seed]]] = True
    has_seed[0] = False
    vsize = np.bincount(vl.ravel(), minlength=nv)
    has_seed &= vsize >= MIN_VOID_AREA_PX
    remap = np.zeros(nv, np.int32)
    remap[has_seed] = np.arange(1, has_seed.sum() + 1)
    vl = remap[vl]
    nvo = int(has_seed.sum())
    owner = np.zeros(nvo + 1, np.int32)
    vmask = vl[ys, xs] > 0
    owner[vl[ys[vmask], xs[vmask]]] = lab[vmask]
    vsz = np.bincount(vl.ravel(), minlength=nvo + 1).astype(float)
    vsz[0] = 0
    # void pixels counted per joint, so a void never exceeds its joint
    void_area = np.bincount(lab[vmask], minlength=n + 1).astype(float)[:n + 1]
    largest = np.zeros(n + 1)
    np.maximum.at(largest, owner[1:], vsz[1:])
    largest = np.minimum(largest, void_area)
    count = np.bincount(owner[1:], minlength=n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(area > 0, 100 * void_area / area, 0.0)
        lpct = np.where(area > 0, 100 * largest / area, 0.0)
    return VoidStats(void_pct=pct, largest_void_pct=lpct, void_count=count, dome_peak=a0,
                     void_labels=vl, void_owner=owner)

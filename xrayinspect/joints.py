"""Segment compact solder joints (BGA balls, stray solder) in an attenuation map.

Two thresholds, both relative: a core threshold finds one seed per joint;
each joint's mask is then every nearby pixel above a fixed fraction of that
joint's own peak attenuation. In attenuation space a reflowed ball's profile
is ``A0 * sqrt(1 - rho^2)``, so a fraction ``f`` of the peak sits at
``rho = sqrt(1 - f^2)`` of the true edge whatever the ball's size, material,
dose or display window. ``f`` is calibrated against the simulator's exact
projected areas (``scripts/calibrate.py``).
"""

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

#: Fraction of a joint's peak attenuation that marks its edge (calibrated).
EDGE_FRACTION = 0.16
#: Fraction of the peak that a neck between two joints must exceed to be a bridge.
BRIDGE_FRACTION = 0.30


@dataclass
class JointMasks:
    """Labelled joints of a frame.

    Attributes
    ----------
    labels : ndarray of int32
        0 background, k > 0 joint k.
    n : int
        Number of joints.
    area_px, cx, cy : ndarray of float64, shape (n + 1,)
        Area (px) and centroid (px) per label; index 0 unused.
    peak : ndarray, shape (n + 1,)
        Peak attenuation per joint.
    bbox : ndarray of int, shape (n + 1, 4)
        ``x0, y0, x1, y1`` (exclusive) per joint.
    touches_edge : ndarray of bool, shape (n + 1,)
        Joint touches the frame edge or an invalid band.
    bridged_with : list of set
        Labels each joint is joined to by solder.
    """

    labels: np.ndarray
    n: int
    area_px: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    peak: np.ndarray
    bbox: np.ndarray
    touches_edge: np.ndarray
    bridged_with: list


def label_max(values, labels, n):
    """Maximum of ``values`` per label 1..n (index 0 unused), over labelled pixels only.

    ``scipy.ndimage.maximum`` sorts the whole frame; this touches only the joints.
    """
    sel = labels > 0
    out = np.full(n + 1, -np.inf)
    np.maximum.at(out, labels[sel], values[sel].astype(np.float64))
    out[0] = 0.0
    return out


def typical_peak(att_smooth, valid, diameter_px):
    """Median peak attenuation of the joint-sized blobs of a frame.

    Found on the frame itself (no fixed grey level): blobs above a quarter of
    the 99.5th percentile whose area is near the nominal joint area.
    """
    v = att_smooth[valid]
    if v.size == 0:
        return np.inf
    hi = float(np.percentile(v, 99.5))
    mask = (att_smooth > 0.25 * hi).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return hi
    area = stats[1:, cv2.CC_STAT_AREA]
    nominal = np.pi * (max(diameter_px, 4.0) / 2) ** 2
    ok = np.nonzero((area > 0.3 * nominal) & (area < 2.0 * nominal))[0] + 1
    if ok.size < 3:
        return hi
    return float(np.median(label_max(att_smooth, lab, n - 1)[ok]))


def _split_merged(core_lab, att_smooth, stats, big):
    """Split cores that hold two or more joints (a bridge, touching balls)."""
    nxt = core_lab.max() + 1
    for k in big:
        x, y, bw, bh = stats[k, :4]
        sl = (slice(y, y + bh), slice(x, x + bw))
        own = core_lab[sl] == k
        vals = att_smooth[sl]
        pk = float(vals[own].max())
        for frac in (0.6, 0.75, 0.9):
            n, parts = cv2.connectedComponents((own & (vals > frac * pk)).astype(np.uint8), connectivity=8)
            if n - 1 >= 2:
                sizes = np.bincount(parts.ravel())[1:]
                if (sizes >= 0.15 * own.sum() / (n - 1)).sum() >= 2:
                    sub = core_lab[sl]
                    sub[own] = 0
                    for i in range(1, n):
                        sub[parts == i] = nxt
                        nxt += 1
                    break
    return core_lab


def segment_joints(att_smooth, valid, *, diameter_px, edge_fraction=EDGE_FRACTION,
                   bridge_fraction=BRIDGE_FRACTION, core_fraction=0.3, max_area_frac=6.0):
    """Label compact solder joints.

    Parameters
    ----------
    att_smooth : ndarray of float32
        Smoothed attenuation map (:func:`xrayinspect.preprocess.prepare`).
    valid : ndarray of bool
        Usable pixels.
    diameter_px : float
        Typical joint diameter, px.
    edge_fraction : float
        Edge at this fraction of each joint's peak attenuation.
    bridge_fraction : float
        Two joints joined by solder above this fraction of the typical peak
        are bridged.
    core_fraction : float
        Cores are pixels above this fraction of the typical peak.
    max_area_frac : float
        Cores larger than this multiple of the nominal joint area are not
        joints (large components, package edges).

    Returns
    -------
    JointMasks
    """
    h, w = att_smooth.shape
    diameter_px = max(float(diameter_px), 4.0)
    p_typ = typical_peak(att_smooth, valid, diameter_px)
    core = ((att_smooth > core_fraction * p_typ) & valid).astype(np.uint8)
    # thin features (via barrels, traces, wire bonds) vanish under an erosion
    ek = 3 if diameter_px < 24 else 5
    eroded = cv2.erode(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ek, ek)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    thick = np.zeros(n, bool)
    thick[np.unique(lab[eroded > 0])] = True
    nominal = np.pi * (diameter_px / 2) ** 2
    area = stats[:, cv2.CC_STAT_AREA].astype(float)
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    keep = thick & (area <= max_area_frac * nominal) & (np.maximum(bw, bh) < 4.5 * diameter_px)
    keep[0] = False
    remap = np.zeros(n, np.int32)
    remap[keep] = np.arange(1, keep.sum() + 1)
    core_lab = remap[lab]
    kept = np.nonzero(keep)[0]
    stats_k = np.zeros((keep.sum() + 1, 5), int)
    stats_k[1:] = stats[kept]
    med_core = np.median(area[kept]) if kept.size else 0
    big = [i for i in range(1, len(kept) + 1) if stats_k[i, 4] > 1.7 * med_core]
    core_lab = _split_merged(core_lab, att_smooth, stats_k, big)
    ids = np.unique(core_lab)
    ids = ids[ids > 0]
    remap2 = np.zeros(core_lab.max() + 1, np.int32)
    remap2[ids] = np.arange(1, ids.size + 1)
    core_lab = remap2[core_lab]
    m = int(ids.size)
    if m == 0:
        return _empty(h, w)
    idx = np.arange(1, m + 1)
    peak = np.zeros(m + 1)
    peak[1:] = label_max(att_smooth, core_lab, m)[1:]
    # grow each core into its neighbourhood; the edge is relative to its own peak
    margin = int(max(2, round(0.3 * diameter_px))) * 2 + 1
    grown = cv2.dilate(core_lab.astype(np.float32), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (margin, margin)))
    grown = grown.astype(np.int32)
    thr = (edge_fraction * peak).astype(np.float32)[grown]
    labels = np.where((grown > 0) & (att_smooth > thr) & valid, grown, 0).astype(np.int32)
    # a core swallowed by a neighbour's growth leaves an empty label: renumber
    present = np.bincount(labels.ravel(), minlength=m + 1) > 0
    present[0] = False
    if not present[1:].all():
        rm = np.zeros(m + 1, np.int32)
        rm[present] = np.arange(1, present.sum() + 1)
        labels = rm[labels]
        core_lab = rm[core_lab]
        peak = np.concatenate([[0.0], peak[present]])
        m = int(present.sum())
        idx = np.arange(1, m + 1)
    area_px = np.zeros(m + 1)
    area_px[:] = np.bincount(labels.ravel(), minlength=m + 1)[:m + 1]
    area_px[0] = 0
    cy, cx = np.zeros(m + 1), np.zeros(m + 1)
    com = ndi.center_of_mass(np.ones(labels.shape, np.uint8), labels, idx)
    for k, (yk, xk) in enumerate(com, start=1):
        cy[k], cx[k] = yk, xk
    objs = ndi.find_objects(labels, max_label=m)
    bbox = np.zeros((m + 1, 4), int)
    touches = np.zeros(m + 1, bool)
    inval = ~valid
    any_inval = bool(inval.any())
    if any_inval:
        near_invalid = cv2.dilate(inval.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    for k, sl in enumerate(objs, start=1):
        if sl is None:
            continue
        y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        bbox[k] = (x0, y0, x1, y1)
        touches[k] = x0 == 0 or y0 == 0 or x1 == w or y1 == h
        if any_inval and not touches[k]:
            touches[k] = bool((near_invalid[y0:y1, x0:x1] & (labels[y0:y1, x0:x1] == k)).any())
    bridged = _bridges(att_smooth, core_lab, valid, bridge_fraction * p_typ, m)
    return JointMasks(labels=labels, n=m, area_px=area_px, cx=cx, cy=cy, peak=peak, bbox=bbox,
                      touches_edge=touches, bridged_with=bridged)


def _empty(h, w):
    z = np.zeros(1)
    return JointMasks(labels=np.zeros((h, w), np.int32), n=0, area_px=z, cx=z, cy=z, peak=z,
                      bbox=np.zeros((1, 4), int), touches_edge=np.zeros(1, bool), bridged_with=[set()])


def _bridges(att_smooth, core_lab, valid, level, m):
    """Joints whose cores lie in one connected region of solder above ``level``."""
    bridged = [set() for _ in range(m + 1)]
    n, cc = cv2.connectedComponents(((att_smooth > level) & valid).astype(np.uint8), connectivity=8)
    sel = core_lab > 0
    pairs = np.unique(np.stack([cc[sel], core_lab[sel]], 1), axis=0)
    by_region = {}
    for region, k in pairs.tolist():
        by_region.setdefault(region, []).append(k)
    for ks in by_region.values():
        if len(ks) > 1:
            for a in ks:
                bridged[a].update(b for b in ks if b != a)
    return bridged

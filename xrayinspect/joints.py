"""Segment compact solder joints (BGA balls, stray solder) in an attenuation map.

Two thresholds, both relative: a core threshold finds one seed per joint;
each joint's mask is then every nearby pixel above a fixed fraction of that
joint's own peak attenuation. In attenuation space a reflowed ball's profile
is ``A0 * sqrt(1 - rho^2)``, so a fraction ``f`` of the peak sits at
``rho = sqrt(1 - f^2)`` of the true edge whatever the ball's size, material,
dose or display window. ``f`` is calibrated against the simulator's exact
projected areas (``scripts/calibrate.py``).
"""

from dataclasses import dataclass, field

import cv2
import numpy as np

from .measure import components_with_stats, fill_holes, flat_nonzero

#: Fraction of a joint's peak attenuation that marks its edge (calibrated).
EDGE_FRACTION = 0.16
#: Pixels above this multiple of the typical ball peak, in lines too thin to
#: survive a 5 px opening, are copper (via barrels, traces) and are cut out of
#: the joint cores (None: keep them). A ball that stood up measures 1.2-1.3.
DENSE_THIN_FRACTION = 1.6
#: A joint's edge is taken at EDGE_FRACTION of its peak, the peak counting for
#: no more than this multiple of the typical ball peak (None: no cap). Copper
#: across a ball (a via barrel in an oblique view: 2.4-2.8 x) is not its
#: solder; a ball that did not collapse (head-in-pillow, up to ~1.9 x where
#: an export clipped the others) keeps its own.
EDGE_PEAK_CAP = 2.0
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
    n_oversize, oversize_px : int
        How many cores were left out for their size that are solid discs
        (fill >= 0.6 of a box no longer than 1.5 x its width), and their
        area (px): balls larger than the search scale when they hold more
        solder than the joints found, or a few dense parts beside them.
    left_out : list of (int, int, ndarray of bool)
        The cores left out for their size (two joints' area or more): the
        ``x0, y0`` of each one's box and its pixels in it - balls that
        something dense joined into one plate (a part on the board's far
        side), searched for their domes once the grid is known.
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
    n_oversize: int = 0
    oversize_px: int = 0
    left_out: list = field(default_factory=list)


def typical_joints(masks):
    """Labels of a segmentation's typical joints, and the median joint area (px).

    Typical: 0.6-1.5 x the median area of all joints, not cut by the frame
    edge - the balls whose shape and surroundings speak for the frame.
    """
    ids = np.arange(1, masks.n + 1)
    med = float(np.median(masks.area_px[ids])) if ids.size else 0.0
    area = masks.area_px[ids]
    return ids[(area > 0.6 * med) & (area < 1.5 * med) & ~masks.touches_edge[ids]], med


def label_max(values, labels, n):
    """Maximum of ``values`` per label 1..n (index 0 unused), over labelled pixels only.

    ``scipy.ndimage.maximum`` sorts the whole frame; this touches only the joints.
    """
    lab = labels.ravel()
    idx = flat_nonzero(labels)
    return _label_max_at(values.ravel()[idx], lab[idx], n)


def _label_max_at(vals, labs, n):
    """Per-label maximum of ``vals`` (labels ``labs`` in 1..n), float64, index 0 = 0."""
    out = np.full(n + 1, -np.inf, dtype=vals.dtype if vals.dtype.kind == "f" else np.float64)
    np.maximum.at(out, labs, vals)
    out = out.astype(np.float64)      # the max of float32 values is exact in float64
    out[0] = 0.0
    return out


def _percentile(values, q):
    """``np.percentile(values, q)`` (linear method) of a large 1-D array, without partitioning all of it.

    The candidates above a bound taken from a subsample are partitioned
    instead of the whole array; the result is bit-identical (same order
    statistics, same interpolation as numpy's). Falls back to numpy when the
    bound does not hold the order statistics needed.
    """
    n = values.size
    if n < 200_000 or not 50 <= q < 100:
        return float(np.percentile(values, q))
    virt = (n - 1) * (q / 100)
    lo = int(np.floor(virt))
    hi = min(lo + 1, n - 1)
    step = max(1, n // 65_536)
    sub = values[::step]
    t = np.partition(sub, int(sub.size * max(q - 0.5, 0) / 100))[int(sub.size * max(q - 0.5, 0) / 100)]
    cand = values[values >= t]
    below = n - cand.size
    if below > lo or cand.size == 0:
        return float(np.percentile(values, q))
    k0, k1 = lo - below, hi - below
    part = np.partition(cand, [k0, k1] if k1 != k0 else [k0])
    a, b = part[k0], part[k1]
    g = virt - lo
    d = b - a
    return float((b - d * (1 - g)) if g >= 0.5 else (a + d * g))


#: Share of the joint-sized blobs above a quarter of the 99.5th percentile
#: that must be compact (fill >= 0.6 of their box) for that level to stand.
PEAK_COMPACT_SHARE = 0.5
#: Fractions of the 99.5th percentile tried when it does not stand.
PEAK_LOWER_LEVELS = (0.125, 0.0625)
#: ... and, wherever lower levels are tried, quarters of these higher
#: percentiles (a small array in a wide field covers under 0.5 % of it: a
#: 4 x 10 array of 9 px balls from scripts/altsim.py, 0 of 40 found before).
#: Development frames (500 radiographs, 60 CT slices): none changed.
PEAK_UPPER_PERCENTILES = (99.9, 99.98)
#: ... those standing at least this many times above the 99.5th percentile.
PEAK_UPPER_STEP = 2.0
#: A lower level also wins over one that looks sound when it holds this many
#: times its compact joint-sized blobs (and more than its large compact ones):
#: the balls of a frame are its most numerous like-sized discs.
PEAK_LOWER_MARGIN = 2.0
#: Over a level that holds joints - three or more compact joint-sized blobs,
#: at least PEAK_COMPACT_SHARE of its joint-sized ones - a lower or higher
#: level tried wins only if it is as sound (False: any level holding more
#: compact blobs wins). A 7 x 5 array of 9 px balls in a 1024 px 8-bit frame
#: (scripts/altsim.py --ball-px 8,14, seed 9,992,025): a sixteenth of the
#: 99.5th percentile cut the board's noise into 16,764 blobs, 113 of its
#: 1,729 joint-sized ones compact, and won over the 35 of 35 balls at a
#: quarter of the 99.9th (typical peak 0.054 for 5.55; 2 "balls" found).
#: A CLAHE-equalised QFN frame's first level holds 2 compact blobs of 4: not
#: a level that holds joints, and its noise level still wins (an error row).
PEAK_SOUND_SHARE = True


def _sized_blobs(att_smooth, level, nominal):
    """Blobs above ``level``: their pixels, the joint-sized ones, and how many are compact.

    Returns ``(n, idx, lv, ok, n_compact, n_big_compact)``: ``n`` labels (0
    the background); ``idx`` the flat indices of the blob pixels and ``lv``
    their labels; ``ok`` the labels whose area is 0.3-2 x ``nominal`` (px);
    ``n_compact`` how many of those fill at least 0.6 of their box (a disc
    fills pi/4 of it, arcs and crossings of rings far less);
    ``n_big_compact`` how many compact blobs are 2 x ``nominal`` or larger.
    """
    mask = (att_smooth > level).view(np.uint8)
    n, lab, st, _ = components_with_stats(mask)
    idx = flat_nonzero(mask)
    if n <= 1:
        return n, idx, idx, np.zeros(0, np.int64), 0, 0
    lv = lab.ravel()[idx]
    area = st[1:, cv2.CC_STAT_AREA].astype(float)
    compact = area >= 0.6 * st[1:, cv2.CC_STAT_WIDTH] * st[1:, cv2.CC_STAT_HEIGHT]
    sized = (area > 0.3 * nominal) & (area < 2.0 * nominal)
    ok = np.nonzero(sized)[0] + 1
    n_big_compact = int(np.count_nonzero(compact & (area >= 2.0 * nominal)))
    return n, idx, lv, ok, int(np.count_nonzero(compact & sized)), n_big_compact


def typical_peak(att_smooth, valid, diameter_px):
    """Median peak attenuation of the joint-sized blobs of a frame.

    Found on the frame itself (no fixed grey level): blobs above a quarter of
    the 99.5th percentile whose area is near the nominal joint area.
    """
    v = att_smooth.ravel() if valid.all() else att_smooth[valid]
    if v.size == 0:
        return np.inf
    hi = _percentile(v, 99.5)
    nominal = np.pi * (max(diameter_px, 4.0) / 2) ** 2
    n, idx, lv, ok, n_compact, n_big = _sized_blobs(att_smooth, 0.25 * hi, nominal)
    unsound = (ok.size < 3 or n_compact < PEAK_COMPACT_SHARE * ok.size) and n_big < 3
    if unsound:
        # something far denser than solder (a steel or tantalum part, a
        # connector's pins) sets the 99.5th percentile: the balls then lie
        # under the level, and the joint-sized blobs above it are pieces of
        # that part. Lower levels are tried; the one holding the most
        # compact joint-sized blobs (balls are discs) wins.
        need = max(n_compact, 2)
    elif n_big >= 3 or ok.size < 0.5 * (n - 1):
        # compact blobs larger than a joint above the level may be balls the
        # size guess missed (a zoomed view) - or a few large dense parts; and
        # where most blobs above it are smaller than a joint, the balls' tops
        # may be all that reaches it while pieces of a denser part make the
        # joint-sized ones. A lower level must then hold far more compact
        # joint-sized blobs than this one holds, large or joint-sized.
        need = max(2, n_big, PEAK_LOWER_MARGIN * n_compact)
    else:
        need = None
    if need is not None:
        levels = [frac * hi for frac in PEAK_LOWER_LEVELS]
        if PEAK_UPPER_PERCENTILES:
            # or the balls are too few to reach the 99.5th percentile (a small
            # array in a wide field: the package body and the traces set it,
            # and noise specks above a quarter of it pass for joints); a
            # quarter of a higher percentile is tried too - where it stands
            # well above the 99.5th (where the balls reach that, it holds
            # nothing new, and each level tried is a labelling of the frame)
            upper = [0.25 * _percentile(v, q) for q in PEAK_UPPER_PERCENTILES]
            levels = [u for u in upper if u > PEAK_UPPER_STEP * 0.25 * hi] + levels
        # (a level in the board's noise holds thousands of blobs: of its
        # joint-sized ones a few per cent fall compact by chance, and they
        # may outnumber a small array's balls; over a level that holds
        # joints, a compact majority of its joint-sized blobs, only a level
        # as sound wins)
        def sound(n_compact, ok):
            return n_compact >= max(3, PEAK_COMPACT_SHARE * ok.size)

        sound_won = sound(n_compact, ok)
        for level in levels:
            cand = _sized_blobs(att_smooth, level, nominal)
            if cand[4] > need and (sound(cand[4], cand[3]) or not (PEAK_SOUND_SHARE and sound_won)):
                n, idx, lv, ok, n_compact, _ = cand
                need = n_compact
                sound_won = sound(n_compact, ok)
    if n <= 1 or ok.size < 3:
        return hi
    # peaks of the joint-sized blobs only, over their pixels only
    sel = np.zeros(n, bool)
    sel[ok] = True
    keep = sel[lv]
    pk = _label_max_at(att_smooth.ravel()[idx[keep]], lv[keep], n - 1)
    return float(np.median(pk[ok]))


def _components(mask_u8, fast=False):
    """``cv2.connectedComponents`` (8-connected) of a 0/1 uint8 mask: ``(n, labels)``.

    ``fast=True`` allows another labelling algorithm (same components,
    possibly numbered differently); the default keeps OpenCV's default
    numbering, which sets the joint numbers.
    """
    if fast and hasattr(cv2, "connectedComponentsWithAlgorithm") and hasattr(cv2, "CCL_GRANA"):
        return cv2.connectedComponentsWithAlgorithm(mask_u8, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return cv2.connectedComponents(mask_u8, connectivity=8)


def _cc_stats(lab, idx, n, w):
    """``connectedComponentsWithStats``-like stats (left, top, width, height, area) of the
    components of ``lab`` from their pixels ``idx`` (flat indices); row 0 is not filled."""
    lv = lab.ravel()[idx]
    ys = idx // w
    xs = idx - ys * w
    st = np.zeros((n, 5), np.int64)
    x0 = np.full(n, np.iinfo(np.int64).max, np.int64)
    y0 = x0.copy()
    x1 = np.full(n, -1, np.int64)
    y1 = x1.copy()
    np.minimum.at(x0, lv, xs)
    np.maximum.at(x1, lv, xs)
    np.minimum.at(y0, lv, ys)
    np.maximum.at(y1, lv, ys)
    st[1:, 0], st[1:, 1] = x0[1:], y0[1:]
    st[1:, 2], st[1:, 3] = x1[1:] - x0[1:] + 1, y1[1:] - y0[1:] + 1
    st[:, 4] = np.bincount(lv, minlength=n)
    return st, lv


#: In a slice, a core holding two joints is split where its distance to its
#: own edge narrows (a bridged pair's neck), not at a share of its level.
SLICE_SPLIT_BY_SHAPE = True


def _split_merged(core_lab, att_smooth, stats, big, flat=False):
    """Split cores that hold two or more joints (a bridge, touching balls).

    A core is cut at rising shares of its peak until it falls apart: of its
    attenuation (each ball's dome rises above the neck between them) or,
    with ``flat``, of its distance to its own edge (a slice shows balls and
    the neck between them at one level, noise on it: the cut at 0.9 of the
    peak fell into 4-7 pieces of noise; the discs are wider than the neck).

    Returns the label image (its dtype widened if the new labels need it)
    and ``{old label: [new labels]}`` of the cores split.
    """
    nxt = int(stats.shape[0])          # the highest label is stats.shape[0] - 1
    split = {}
    for k in big:
        x, y, bw, bh = stats[k, :4]
        sl = (slice(y, y + bh), slice(x, x + bw))
        own = core_lab[sl] == k
        if flat:
            # (a void is a hole in a slice's core: filled, or the distance
            # round it would hide its disc's middle)
            solid = np.pad(fill_holes(own), 1).view(np.uint8)
            vals = cv2.distanceTransform(solid, cv2.DIST_L2, 5)[1:-1, 1:-1]
        else:
            vals = att_smooth[sl]
        pk = float(vals[own].max())
        for frac in (0.6, 0.75, 0.9):
            n, parts = cv2.connectedComponents((own & (vals > frac * pk)).astype(np.uint8), connectivity=8)
            if n - 1 >= 2:
                sizes = np.bincount(parts.ravel())[1:]
                # (a distance cut leaves each disc's middle only: parts of
                # like size, not shares of the whole core)
                least = 0.3 * sizes.max() if flat else 0.15 * own.sum() / (n - 1)
                if (sizes >= least).sum() >= 2:
                    if nxt + n > np.iinfo(core_lab.dtype).max:
                        core_lab = core_lab.astype(np.int32)
                    sub = core_lab[sl]
                    sub[own] = 0
                    new = list(range(nxt, nxt + n - 1))
                    sub[parts > 0] = (parts[parts > 0] - 1 + nxt).astype(core_lab.dtype)
                    split[k] = new
                    nxt += n - 1
                    break
    return core_lab, split


def _thin_lines(dense):
    """The rings and lines of a dense-pixel mask (uint8 0/1), or None when there are none.

    Rings (via barrels: filling their hole at least adds a third) and lines
    (traces: 2.5 times longer than wide) that a 5 px opening removes. A compact
    blob, such as the top of a ball denser than the rest, is neither.
    """
    thick = cv2.morphologyEx(dense, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    cand = dense & ~thick
    if not cand.any():
        return None
    n, lab, stats, _ = components_with_stats(dense)
    ci = flat_nonzero(cand)
    cl = lab.ravel()[ci]
    has_thin = np.zeros(n, bool)
    has_thin[cl] = True
    keep = np.zeros(n, bool)
    for k in np.flatnonzero(has_thin[1:]) + 1:
        x, y, bw, bh, a = stats[k]
        if max(bw, bh) >= 2.5 * max(min(bw, bh), 1):
            keep[k] = True
            continue
        own = lab[y:y + bh, x:x + bw] == k
        filled = cv2.floodFill(np.pad(own.astype(np.uint8), 1), None, (0, 0), 1)[1]
        keep[k] = (bw * bh + 2 * (bw + bh) + 4 - int(filled.sum()) + a) >= 1.3 * a
    if not keep.any():
        return None
    out = np.zeros(dense.shape, np.uint8)
    out.ravel()[ci[keep[cl]]] = 1
    return out


def segment_joints(att_smooth, valid, *, diameter_px, edge_fraction=EDGE_FRACTION,
                   bridge_fraction=BRIDGE_FRACTION, core_fraction=0.3, max_area_frac=6.0, flat=False):
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
    flat : bool
        The joints are flat discs (a CT or laminography slice): a core that
        holds two is split by its shape, not by its attenuation.

    Returns
    -------
    JointMasks

    Notes
    -----
    Only the stages that need a neighbourhood (thresholds, connected
    components, erosion, the growth dilation) run on the whole frame; every
    per-joint quantity (peaks, areas, centroids, boxes, edge contact) is
    gathered from the joint pixels alone with ``bincount``/``ufunc.at``.
    """
    h, w = att_smooth.shape
    diameter_px = max(float(diameter_px), 4.0)
    all_valid = bool(valid.all())
    p_typ = typical_peak(att_smooth, valid, diameter_px)
    core = att_smooth > core_fraction * p_typ
    if not all_valid:
        core &= valid
    cut = None
    if DENSE_THIN_FRACTION is not None:
        # a via barrel or a trace of copper denser than any ball, joined to a
        # ball by blur, gave the pair one core whose peak (and edge) was the
        # barrel's: the ball was lost. Thin dense lines are cut out of the cores.
        dense = (att_smooth > DENSE_THIN_FRACTION * p_typ).view(np.uint8)
        thin = _thin_lines(dense) if dense.any() else None
        if thin is not None:
            # the lines stay out of the joints grown from the cores as well
            # (not marked invalid: a ball beside a via is not cut by the frame)
            cut = cv2.dilate(thin, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))).view(bool)
            core &= ~cut
    core8 = core.view(np.uint8)
    # thin features (via barrels, traces, wire bonds) vanish under an erosion
    ek = 3 if diameter_px < 24 else 5
    eroded = cv2.erode(core8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ek, ek)))
    n, lab = _components(core8)
    labf = lab.ravel()
    cidx = flat_nonzero(core)                    # core pixels, raster order
    stats, lab_c = _cc_stats(lab, cidx, n, w)
    thick = np.zeros(n, bool)
    thick[labf[flat_nonzero(eroded)]] = True
    nominal = np.pi * (diameter_px / 2) ** 2
    area = stats[:, cv2.CC_STAT_AREA].astype(float)
    bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    keep = thick & (area <= max_area_frac * nominal) & (np.maximum(bw, bh) < 4.5 * diameter_px)
    keep[0] = False
    oversize = thick & ~keep & (area > max_area_frac * nominal) & (area >= 0.6 * bw * bh) \
        & (np.maximum(bw, bh) <= 1.5 * np.minimum(bw, bh))
    oversize[0] = False
    n_oversize = int(np.count_nonzero(oversize))
    oversize_px = int(area[oversize].sum())
    left_out = [(int(stats[k, 0]), int(stats[k, 1]),
                 lab[stats[k, 1]:stats[k, 1] + bh[k], stats[k, 0]:stats[k, 0] + bw[k]] == k)
                for k in np.flatnonzero(thick & ~keep & (area >= 2 * nominal)) if k > 0]
    kept = np.nonzero(keep)[0]
    n_kept = int(kept.size)
    if n_kept == 0:
        return _empty(h, w, n_oversize, oversize_px)
    ldt = np.uint16 if n_kept < 32_000 else np.int32
    remap = np.zeros(n, ldt)
    remap[kept] = np.arange(1, n_kept + 1)
    cv_ = remap[lab_c]                              # core label of each core pixel
    core_lab = np.zeros(h * w, ldt)
    core_lab[cidx] = cv_
    core_lab = core_lab.reshape(h, w)
    stats_k = np.zeros((n_kept + 1, 5), int)
    stats_k[1:] = stats[kept]
    med_core = np.median(area[kept])
    big = [i for i in range(1, n_kept + 1) if stats_k[i, 4] > 1.7 * med_core]
    core_lab, split = _split_merged(core_lab, att_smooth, stats_k, big, flat=flat and SLICE_SPLIT_BY_SHAPE)
    # the core component (of ``lab``) each label comes from
    origin = np.concatenate([[0], kept])
    if split:
        # renumber: unsplit cores keep their order, the parts follow
        old = [k for k in range(1, n_kept + 1) if k not in split]
        parts = [(p, k) for k in sorted(split) for p in split[k]]
        new_ids = old + [p for p, _ in parts]
        remap2 = np.zeros(max(new_ids) + 1, np.int64)
        remap2[new_ids] = np.arange(1, len(new_ids) + 1)
        par = dict(parts)
        origin = np.concatenate([[0], [origin[par.get(i, i)] for i in new_ids]]).astype(np.int64)
        clf = core_lab.ravel()
        cv_ = remap2[clf[cidx]].astype(core_lab.dtype)
        clf[cidx] = cv_
        m = len(new_ids)
    else:
        m = n_kept
    inc = cv_ > 0
    ci = cidx[inc]
    cv_ = cv_[inc]
    peak = _label_max_at(att_smooth.ravel()[ci], cv_, m)
    peak[0] = 0.0
    # grow each core into its neighbourhood; the edge is relative to its own peak.
    # Dilating a label image keeps, where neighbourhoods overlap, the highest label.
    margin = int(max(2, round(0.3 * diameter_px))) * 2 + 1
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (margin, margin))
    if m <= np.iinfo(np.uint16).max:
        grown = cv2.dilate(core_lab if core_lab.dtype == np.uint16 else core_lab.astype(np.uint16), ker)
    else:
        grown = cv2.dilate(core_lab.astype(np.float32), ker).astype(np.int32)
    gi = flat_nonzero(grown)
    gl = grown.ravel()[gi]
    # a joint's edge is a fraction of its own peak - of its solder, that is: a
    # via barrel across a ball (oblique views) is copper above the solder,
    # and with its peak the edge would sit halfway up the ball (the mask
    # shrank to 0.45 of a ball's area and the ball was taken for a ring)
    edge_peak = peak if EDGE_PEAK_CAP is None else np.minimum(peak, EDGE_PEAK_CAP * p_typ)
    thr = (edge_fraction * edge_peak).astype(np.float32)
    inside = att_smooth.ravel()[gi] > thr[gl]
    if not all_valid:
        inside &= valid.ravel()[gi]
    if cut is not None:
        inside &= ~cut.ravel()[gi]
    li = gi[inside]                    # joint pixels (flat indices, raster order)
    lv = gl[inside].astype(np.intp)    # their labels
    # a core swallowed by a neighbour's growth leaves an empty label: renumber
    counts = np.bincount(lv, minlength=m + 1)
    present = counts > 0
    present[0] = False
    if not present[1:].all():
        rm = np.zeros(m + 1, np.intp)
        rm[present] = np.arange(1, present.sum() + 1)
        lv = rm[lv]
        cv_ = rm[cv_]
        peak = np.concatenate([[0.0], peak[present]])
        origin = np.concatenate([[0], origin[present]])
        counts = np.concatenate([[0], counts[present]])
        m = int(present.sum())
    labels = np.zeros(h * w, np.int32)
    labels[li] = lv
    labels = labels.reshape(h, w)
    area_px = counts[:m + 1].astype(float)
    area_px[0] = 0
    ys = li // w
    xs = li - ys * w
    cy, cx = np.zeros(m + 1), np.zeros(m + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cy[1:] = (np.bincount(lv, weights=ys, minlength=m + 1) / area_px)[1:]
        cx[1:] = (np.bincount(lv, weights=xs, minlength=m + 1) / area_px)[1:]
    x0 = np.full(m + 1, w, np.intp)
    y0 = np.full(m + 1, h, np.intp)
    x1 = np.full(m + 1, -1, np.intp)
    y1 = np.full(m + 1, -1, np.intp)
    np.minimum.at(x0, lv, xs)
    np.maximum.at(x1, lv, xs)
    np.minimum.at(y0, lv, ys)
    np.maximum.at(y1, lv, ys)
    bbox = np.stack([x0, y0, x1 + 1, y1 + 1], 1).astype(int)
    bbox[0] = 0
    touches = (bbox[:, 0] == 0) | (bbox[:, 1] == 0) | (bbox[:, 2] == w) | (bbox[:, 3] == h)
    if not all_valid:
        touches |= np.bincount(lv[near_invalid(valid).ravel()[li]], minlength=m + 1) > 0
    touches[0] = False
    level = bridge_fraction * p_typ
    if level == core_fraction * p_typ:
        # the solder above the bridge level is the core mask itself: each core
        # lies in the connected component it was cut from
        bridged = _group_bridges(origin, m)
    else:
        cl = np.zeros(h * w, np.int32)
        cl[ci] = cv_
        bridged = _bridges(att_smooth, cl.reshape(h, w), valid, level, m)
    return JointMasks(labels=labels, n=m, area_px=area_px, cx=cx, cy=cy, peak=peak, bbox=bbox,
                      touches_edge=touches, bridged_with=bridged, n_oversize=n_oversize,
                      oversize_px=oversize_px, left_out=left_out)


def _empty(h, w, n_oversize=0, oversize_px=0):
    z = np.zeros(1)
    return JointMasks(labels=np.zeros((h, w), np.int32), n=0, area_px=z, cx=z, cy=z, peak=z,
                      bbox=np.zeros((1, 4), int), touches_edge=np.zeros(1, bool), bridged_with=[set()],
                      n_oversize=n_oversize, oversize_px=oversize_px)


def near_invalid(valid, reach_px=1):
    """Pixels within ``reach_px`` (px, chessboard distance) of a pixel that is not image.

    Parameters
    ----------
    valid : ndarray of bool
        False on bands and areas with no image (stitching bands, a round field's corners).
    reach_px : int

    Returns
    -------
    ndarray of bool, the shape of ``valid``
    """
    k = 2 * int(reach_px) + 1
    return cv2.dilate((~valid).view(np.uint8), np.ones((k, k), np.uint8)) > 0


def _group_bridges(region, m):
    """Labels 1..m bridged when they share a region id (``region[k]``)."""
    bridged = [set() for _ in range(m + 1)]
    by_region = {}
    for k in range(1, m + 1):
        by_region.setdefault(int(region[k]), []).append(k)
    for ks in by_region.values():
        if len(ks) > 1:
            for a in ks:
                bridged[a].update(b for b in ks if b != a)
    return bridged


def _bridges(att_smooth, core_lab, valid, level, m):
    """Joints whose cores lie in one connected region of solder above ``level``."""
    bridged = [set() for _ in range(m + 1)]
    n, cc = cv2.connectedComponents(((att_smooth > level) & valid).astype(np.uint8), connectivity=8)
    clf = core_lab.ravel()
    ci = flat_nonzero(core_lab)
    # one 1-D key per (region, label) pair: unique on it is a plain sort
    key = np.unique(cc.ravel()[ci].astype(np.int64) * (m + 1) + clf[ci])
    by_region = {}
    for region, k in zip((key // (m + 1)).tolist(), (key % (m + 1)).tolist()):
        by_region.setdefault(region, []).append(k)
    for ks in by_region.values():
        if len(ks) > 1:
            for a in ks:
                bridged[a].update(b for b in ks if b != a)
    return bridged

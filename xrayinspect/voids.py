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

from .measure import label_moments, nonzero_yx

#: Seed and grow levels, in robust noise sigmas and as a fraction of the dome peak (calibrated).
#: Seeds at 0.10 of the peak since 2026-12-06 (0.15 before): voids of 3-12 px in
#: balls 35-100 px tall dip 0.10-0.15 of it and read 0 (void MAE 1.55 -> 1.42 pp on
#: 40 development frames at 2048 px, 1.81 -> 1.77 on 100 at 1024 px, no more false
#: calls); the grow level stays, as lower ones join neighbouring voids' halos and
#: over-read the largest void (false calls 2 -> 15-28 on those 40 frames).
SEED_SIGMA, GROW_SIGMA = 5.0, 3.0
SEED_FRACTION, GROW_FRACTION = 0.10, 0.10
#: A void's edge is where the shortfall falls to this fraction of the void's own
#: deepest shortfall (calibrated): a threshold relative to each void, like the
#: joints' edge, sits at the same place on its profile whatever its depth.
VOID_EDGE_FRACTION = None
#: Refit each ball's void-free scale without its voided pixels.
REFIT = False
#: Fit each ball's profile exponent as well as its scale.
FIT_GAMMA = True
#: Seed and grow levels are this much higher on windowed 8-bit exports (flat lands) ...
WINDOWED_FACTOR = 1.4
#: ... and on balls (dome model), whose frame has had its black level given back
#: (xrayinspect.linearise): on 68 windowed development frames, void-call F1
#: 0.862 at 1.4, 0.892 at 1.2, 0.880 at 1.1, 0.857 at 1.0.
DOME_WINDOWED_FACTOR = 1.2
#: Pixels this far above a ball's median profile belong to something denser than
#: solder lying across it; they are left out of the profile fit (None: keep all).
FOREIGN_EXCESS = 1.25
#: ... and pixels this far above it count towards a ball being obstructed (a head-in-pillow
#: ball is denser than its neighbours, but not by this much).
OBSTRUCTION_EXCESS = 1.6
#: A ball whose centre the export clipped is as tall as its clipped core says.
CLIP_HEIGHT = True
#: ... when at least this many of its pixels are marked clipped (the clipped
#: pixels and the 1 px of blur around them: one clipped pixel marks 9). Dev hip F1
#: (6700000+200 / 6500000+40): 0.956 / 0.955 at 5, 0.966 / 0.976 at 20, 0.972 / 0.976 at 40.
CLIP_CORE_PX = 40
#: ... unless more than this share of the balls have such a core (None: no
#: limit): then the window clipped ordinary balls, and a core's width is where
#: it cut. Development frames whose head-in-pillow balls are found by their
#: cores: 0.11-0.46 of the balls clipped; windowed frames of pad-truncated
#: (flat-topped) balls from scripts/altsim.py: 0.83-1.0.
CLIP_SHARE = 0.6
#: Voids are looked for inside this elliptical radius (the rim is all partial volume).
RHO_MAX = 0.93
#: Width of the radial bins of the measured ball profile (elliptical radius units).
PROFILE_BIN = 0.05
#: Voids smaller than this are not reported, px.
MIN_VOID_AREA_PX = 3
#: Steps (px) a void grows from its seed into the halo around it.
GROW_STEPS = 4


#: Size each void from its missing attenuation and its depth (a sphere's
#: projected area is 1.5 x volume / depth), not from the pixels above a level.
VOLUME_AREA = True
#: ... for the largest void as well (blur makes a small void shallower, and its
#: volume-over-depth area larger, than it is).
VOLUME_LARGEST = False
#: A void in a flat land (a QFN pin) is a hole through its thin solder layer,
#: sized as a cylinder, missing volume over its depth, no larger than its
#: grown mask, the largest void too (False: sized as a sphere, as a ball's).
FLAT_THROUGH = True
#: Pixels around each void whose shortfall is summed into its volume.
VOLUME_RING = 2
#: ... and at most this multiple of its pixel area: the sphere rule holds for a
#: bubble, not for a long thin shortfall (a trace edge), whose depth is small
#: for its volume.
VOLUME_CAP = 2.0
#: In a slice a void is a hole through the solder, its blurred edge halfway
#: down: it is seeded and grown at this share of the level (None: as in a
#: projection).
SLICE_HOLE_LEVEL = 0.5
#: A slice's balls are not fitted a profile exponent each, windowed export or
#: not: a slice has no dome to bend, and the exponent bent each small disc's
#: profile down over its central hole (a 12 px disc's 34 % hole read 0).
SLICE_NO_GAMMA = True


#: A frame's shared ball profile is a slice's (CT, laminography), not a
#: projection's, when it rises off its centre (0-0.1 of the radius) to this
#: fraction of it or more somewhere at 0.3-0.95 of the radius: a projected
#: ball is thickest through its centre, whatever its shape (sphere, collapsed
#: spheroid, or a sphere cut flat by its two pads), while a reconstructed slice
#: of dense solder is cupped by beam hardening and overshoots at its edge -
SLICE_RISE = 1.01
#: ... or still stands at this fraction of its centre at 0.85 of the radius: a
#: slice is a disc, level out to its blurred edge; a projected ball has lost a
#: third or more of its chord there, even a reflowed one whose flat top (the
#: stand-off, between pads of 0.7-0.85 of the ball's width) reaches 0.65-0.8.
#: (Until 2026-12-03: 0.95 at 0.65 of the radius, which took 8 of 40 frames of
#: pad-truncated balls from an independent renderer, ``scripts/altsim.py``,
#: for slices; they stand 0.95-0.99 at 0.65 and 0.52-0.67 at 0.85.)
#: Development frames: 140 CT slices rise >= 1.01 but for 2 (0.995, 0.997),
#: which stand >= 0.97 at 0.85; radiographs and pad-truncated balls rise
#: 1.00 at most.
SLICE_SHOULDER = 0.9


def flat_topped(profile):
    """Whether a shared ball profile (:attr:`VoidStats.profile`) is a slice's."""
    if profile is None:
        return False
    p = np.asarray(profile, float)
    lo, hi, at = int(round(0.3 / PROFILE_BIN)), int(round(0.9 / PROFILE_BIN)), int(round(0.85 / PROFILE_BIN))
    if p.size <= max(hi, at):
        return False
    centre = float(p[:2].mean())
    return centre > 0 and (float(p[lo:hi + 1].max()) >= SLICE_RISE * centre or float(p[at]) >= SLICE_SHOULDER * centre)


def shared_profile(a, xs, ys, lab, n):
    """The void-free ball profile shared by a frame's balls.

    Blur, pads and the detector are in it, so it is measured, not assumed:
    per bin of elliptical radius (:data:`PROFILE_BIN`, out to 1.3), the 0.6
    quantile of each pixel's value over its ball's 0.9 quantile within 0.4
    of the radius; over many balls it is void-free because most balls
    barely void.

    Parameters
    ----------
    a : ndarray
        Attenuation of each joint pixel.
    xs, ys : ndarray
        Column and row (px) of each joint pixel.
    lab : ndarray of int
        Joint label (1..n) of each joint pixel.
    n : int
        Highest label.

    Returns
    -------
    profile : ndarray
        Fraction of the peak per radial bin.
    rho, mx, my : ndarray
        Elliptical radius of each pixel, and each joint's centroid (px).
    """
    rho, mx, my = _ellipse_rho(xs.astype(float), ys.astype(float), lab, n)
    inner = rho < 0.4
    first = _group_quantile(a[inner], lab[inner], n, 0.9)
    first[first <= 0] = np.inf
    nb = int(1.3 / PROFILE_BIN) + 1
    rbin = np.minimum((rho / PROFILE_BIN).astype(int), nb - 1)
    prof = np.maximum(_group_quantile(a / first[lab], rbin, nb - 1, 0.6), 1e-3)
    return prof, rho, mx, my


def _neighbour_level(level, mx, my, present, k=9):
    """Median of ``level`` over each joint's ``k`` nearest joints (itself included); 0 where absent."""
    from scipy.spatial import cKDTree

    ids = np.flatnonzero(present)
    out = np.zeros_like(level, dtype=float)
    if ids.size == 0:
        return out
    pts = np.stack([mx[ids], my[ids]], 1)
    _, nb = cKDTree(pts).query(pts, k=min(k, ids.size))
    nb = np.asarray(nb).reshape(ids.size, -1)
    out[ids] = np.median(level[ids][nb], axis=1)
    return out


def _dilate_labels(labels, n, kernel):
    """Grey dilation of a label image (the highest label wins), as int32.

    uint16 when the labels fit (OpenCV's fastest exact path), else float32
    (exact up to 2**24); both give the same labels as a float dilation.
    """
    import cv2

    dt = np.uint16 if n <= np.iinfo(np.uint16).max else np.float32
    return cv2.dilate(labels.astype(dt), kernel).astype(np.int32)


def _volume_areas(vy, vx, vid, nvo, owner, short, pj, lab, search, shape, vj=None):
    """Integrated shortfall and depth of each void: ``(volume, depth)`` per void label.

    A spherical void of radius ``r`` removes ``mu * 4/3 pi r^3`` of
    attenuation and is ``2 mu r`` deep at its centre, so its projected area
    ``pi r^2`` is 1.5 x (integrated shortfall) / (depth), whatever ``mu`` and
    the ball's height. A threshold cuts the void where the shortfall is still
    a few noise sigmas, which on a sphere's rim is well inside its edge; the
    integral holds the rim, and blur moves attenuation but keeps its sum. In
    a slice (CT, laminography) a void is a hole through the solder: its area
    is the integrated shortfall over the solder's level there.

    The shortfall is summed over each void grown by ``VOLUME_RING`` px (a
    grey dilation of the void labels: where two rings meet, the higher label
    takes the pixel), inside the void's own joint. Worked on the void pixels'
    neighbourhoods alone, not on frame-sized images (voids cover a few
    thousandths of a frame).

    Parameters
    ----------
    vy, vx, vid : ndarray
        Row, column (px) and void label (1..nvo) of every void pixel, raster order.
    owner : ndarray of int
        Joint label of each void.
    short : ndarray
        Shortfall below the void-free profile at each joint pixel.
    pj : ndarray of intp
        Flat index (``y * width + x``) of each joint pixel, ascending.
    lab, search : ndarray
        Joint label of each joint pixel, and whether voids are looked for there.
    shape : tuple of int
        Frame shape, px.
    vj : ndarray of intp, optional
        Index of each void pixel among the joint pixels (found from ``pj``
        when not given).
    """
    h, w = shape
    k = 2 * VOLUME_RING + 1
    ky, kx = np.nonzero(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    ky, kx = ky - VOLUME_RING, kx - VOLUME_RING
    cy = (vy[:, None] + ky).ravel()
    cx = (vx[:, None] + kx).ravel()
    cl = np.repeat(vid.astype(np.int64), ky.size)
    inside = (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
    key = (cy[inside].astype(np.int64) * w + cx[inside]) * (nvo + 1) + cl[inside]
    key = np.unique(key)
    px, gv = np.divmod(key, nvo + 1)
    last = np.ones(px.size, bool)
    last[:-1] = px[1:] != px[:-1]            # the highest label reaching each pixel
    px, gv = px[last], gv[last]
    ji = np.minimum(np.searchsorted(pj, px), max(pj.size - 1, 0))
    injoint = (pj[ji] == px) if pj.size else np.zeros(px.size, bool)
    # the shortfall as the float32 image it was measured into, 0 where voids are not looked for
    sv = np.where(search, short, 0.0).astype(np.float32).astype(np.float64)
    sel = injoint & (lab[ji] == owner[gv])
    vol = np.bincount(gv[sel], weights=sv[ji[sel]], minlength=nvo + 1)
    depth = np.zeros(nvo + 1)
    if vj is None:
        vj = np.searchsorted(pj, vy.astype(np.int64) * w + vx)
    np.maximum.at(depth, vid, sv[vj])
    return np.maximum(vol, 0), depth


@dataclass
class VoidStats:
    """Per-joint void measurements; arrays indexed by joint label (0 unused)."""

    void_pct: np.ndarray
    largest_void_pct: np.ndarray
    void_count: np.ndarray
    dome_peak: np.ndarray
    void_labels: np.ndarray      # int32 image: void component ids (0 none)
    void_owner: np.ndarray       # joint label of each void component
    foreign_frac: np.ndarray = None   # share of a ball covered by something denser than solder
    #: The frame's shared radial profile (fraction of the peak per PROFILE_BIN of
    #: elliptical radius), None for flat lands.
    profile: np.ndarray = None
    #: Joints whose clipped pixels made them taller but are not a filled core
    #: centred on them (:data:`CLIP_CORE_OFFSET`, :data:`CLIP_CORE_FILL`):
    #: something denser than solder reached the clipped level, not the joint's
    #: own height, so their peak is not known (bool per label; ball_voids
    #: always sets it, all False for flat lands).
    clip_aside: np.ndarray = None
    #: The export clipped the tops of ordinary balls (over :data:`CLIP_SHARE` of
    #: them have a clipped core, or any clipped pixel): no ball's height can be
    #: told from its neighbours' (a clipped core's width says where the window
    #: cut, a clipped peak is a lower bound), so peaks are not compared alone.
    heights_hidden: bool = False
    #: Only with ``heights_hidden``: joints whose peak is a lower bound (their
    #: centre clipped whole, or all but under :data:`CLIPPED_FIT_SHARE` of it
    #: and the fit below the clipped level), bool per label; None when none.
    peak_bound: np.ndarray = None


def _ellipse_rho(xs, ys, lab, n):
    """Elliptical radius of each pixel in its joint, from the joint's moments.

    Returns
    -------
    rho : ndarray
        Per pixel, 1 on the edge of the joint's moment ellipse.
    mx, my : ndarray
        Joint centroids, px.
    """
    _, mx, my, sxx, syy, sxy, dx, dy = label_moments(xs, ys, lab, n)
    det = np.maximum(sxx * syy - sxy * sxy, 1e-9)
    # a uniform ellipse with semi-axes a, b has covariance diag(a^2, b^2) / 4
    q = (syy[lab] * dx * dx - 2 * sxy[lab] * dx * dy + sxx[lab] * dy * dy) / det[lab]
    return np.sqrt(np.maximum(q, 0) / 4.0), mx, my


#: Excess density whose centroid lies within this fraction of the ball's radius
#: of the ball's centre is the ball itself standing taller (a head-in-pillow
#: ball that did not collapse), not something lying across it.
CONCENTRIC_FRAC = 0.25


#: A void whose pixels lie on average this far out (elliptical radius) ...
CRESCENT_RHO = 0.6
#: ... and that is this many times longer than wide hugs the ball's rim: the
#: shadow of a pad or of the ball's own base in an oblique view, where the
#: ball is not the symmetric dome the profile assumes. A gas void is a bubble
#: and projects round.
CRESCENT_ELONGATION = 2.0


#: A void of at least this share of its joint ...
NONCONVEX_MIN_FRAC = 0.06
#: ... whose outline fills less than this share of its convex hull is not a
#: gas bubble (a bubble projects convex, and blur only rounds it further): it
#: is where the joint departs from the dome the profile assumes - the neck
#: side of a bridged ball, the pillow side of a head-in-pillow ball seen
#: obliquely (None: keep every void).
NONCONVEX_SOLIDITY = 0.8
#: A void this deep at its deepest (shortfall over the dome's peak) has its
#: outline measured after an opening by a 3 x 3 cross (None: every outline as
#: found): a blurred bubble's grown halo catches single noisy pixels along the
#: rim's own partial-volume shortfall, and a spur one pixel wide takes a
#: 30-50 px void's solidity under the limit while the bubble itself is round
#: (development frames 6,790,000+92, +113: voids of 27 % and 18 %, 0.6 of the
#: peak deep, read 0). The departures the test is for are shallow (0.1-0.3 of
#: the peak; opened, 15 of them in two frames passed for bubbles); a via
#: ring's hole by the rim is deep, so the depth is taken inside
#: :data:`CRESCENT_RHO` of the radius.
NONCONVEX_OPEN_DEPTH = 0.4
#: A void's outline less the holes it encloses (False: its outer outline
#: alone). A ring of shortfall round a ball's centre (a head-in-pillow
#: sphere standing taller and narrower than the frame's flat-topped balls,
#: its flanks under their profile: the independent renderer's
#: 9,100,019 at (539, 272)) has a round outer outline and passed for a bubble
#: of 38 %.
SOLIDITY_HOLES = True
#: ... where the holes make up at least this share of the outer outline's
#: area (the ring above: 0.46; pixels a CT slice's 30 % void left out: 0.06).
SOLIDITY_HOLE_SHARE = 0.2


def _solidity(vx, vy, opened=False):
    """Area of the outline of a pixel set over the area of its convex hull.

    The outline is the pixel centres' outer contour, simplified as the
    review contours are (Douglas-Peucker, 0.7 px), less the holes it
    encloses where they make up :data:`SOLIDITY_HOLE_SHARE` of it or more
    (:data:`SOLIDITY_HOLES`); with ``opened`` that of the set opened by a
    3 x 3 cross (spurs one pixel wide removed; the set itself when the
    opening leaves nothing).
    """
    x0, y0 = int(vx.min()), int(vy.min())
    m = np.zeros((int(vy.max()) - y0 + 3, int(vx.max()) - x0 + 3), np.uint8)
    m[vy - y0 + 1, vx - x0 + 1] = 1
    if opened:
        o = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
        if o.any():
            m = o
    # two levels: outer outlines and the holes each encloses (none asked for
    # without SOLIDITY_HOLES)
    cs, tree = cv2.findContours(m, cv2.RETR_CCOMP if SOLIDITY_HOLES else cv2.RETR_EXTERNAL,
                                cv2.CHAIN_APPROX_NONE)
    parent = tree[0][:, 3]
    i = max(np.flatnonzero(parent < 0).tolist(), key=lambda k: cv2.contourArea(cs[k]))
    c = cv2.approxPolyDP(cs[i], 0.7, True)
    hull = cv2.contourArea(cv2.convexHull(c))
    area = cv2.contourArea(c)
    # a ring's outline is its outer circle, but its hole is not void; a pixel
    # or two the threshold left out inside a bubble is noise, not a hole
    holes = sum(cv2.contourArea(cv2.approxPolyDP(cs[k], 0.7, True)) for k in np.flatnonzero(parent == i).tolist())
    if holes >= SOLIDITY_HOLE_SHARE * area:
        area -= holes
    return area / hull if hull > 0 else 1.0


def _drop_nonconvex(vid, nvo, vx, vy, owner_area, depth=None):
    """Large voids that are far from convex removed, the rest renumbered: ``(labels, count)``.

    ``owner_area`` holds the area (px) of the joint of each void (index =
    void label); only voids of at least :data:`NONCONVEX_MIN_FRAC` of it are
    tested (a few per frame). ``depth`` (per void label, its deepest
    shortfall over its joint's peak; None: no outline opened) opens the
    outline of those at least :data:`NONCONVEX_OPEN_DEPTH` deep first.
    """
    size = np.bincount(vid, minlength=nvo + 1)
    big = np.flatnonzero((size >= np.maximum(10, NONCONVEX_MIN_FRAC * owner_area)) & (np.arange(nvo + 1) > 0))
    if big.size == 0:
        return vid, nvo
    order = np.argsort(vid, kind="stable")
    ends = np.cumsum(size)
    drop = np.zeros(nvo + 1, bool)
    for v in big.tolist():
        sel = order[ends[v] - size[v]:ends[v]]
        opened = depth is not None and depth[v] >= NONCONVEX_OPEN_DEPTH
        drop[v] = _solidity(vx[sel], vy[sel], opened=opened) < NONCONVEX_SOLIDITY
    return _renumber_without(vid, nvo, drop)


def _renumber_without(vid, nvo, drop):
    """Void labels with the voids flagged in ``drop`` (bool per label) removed
    (their pixels 0) and the rest numbered 1..k: ``(labels, k)``."""
    drop = drop.copy()
    drop[0] = False
    if not drop.any():
        return vid, nvo
    remap = np.zeros(nvo + 1, np.int32)
    keep = ~drop
    keep[0] = False
    remap[keep] = np.arange(1, keep.sum() + 1)
    return remap[vid], int(keep.sum())


def _drop_crescents(vid, nvo, vx, vy, rho):
    """Rim-hugging crescent voids removed, the rest renumbered: ``(labels, count)``.

    ``vid`` holds the void label of every void pixel (raster order), at
    column/row ``vx``/``vy`` (px) and elliptical radius ``rho`` in its joint;
    the returned labels are 0 for the pixels of dropped voids.
    """
    x, y, r = vx.astype(float), vy.astype(float), rho
    cnt, _, _, sxx, syy, sxy, _, _ = label_moments(x, y, vid, nvo)
    mr = np.bincount(vid, r, nvo + 1) / cnt
    tr, det = sxx + syy, sxx * syy - sxy * sxy
    disc = np.sqrt(np.maximum(tr * tr / 4 - det, 0))
    lo, hi = np.maximum(tr / 2 - disc, 1e-9), tr / 2 + disc
    crescent = (mr > CRESCENT_RHO) & (np.sqrt(hi / lo) > CRESCENT_ELONGATION)
    return _renumber_without(vid, nvo, crescent)


def _concentric(xs, ys, lab, over, n, area, mx, my):
    """Joints whose over-dense pixels are centred on the joint, bool per label.

    A via barrel or a part seen through a ball lies anywhere across it; a
    ball that stands taller than its neighbours is denser at its own centre.
    ``mx``, ``my``: joint centroids (px), as :func:`_ellipse_rho` returns them.
    """
    co = np.bincount(lab[over], minlength=n + 1)[:n + 1]
    ox = np.bincount(lab[over], xs[over], n + 1)[:n + 1] / np.maximum(co, 1)
    oy = np.bincount(lab[over], ys[over], n + 1)[:n + 1] / np.maximum(co, 1)
    radius = np.sqrt(np.maximum(area, 1) / np.pi)
    return (co > 0) & (np.hypot(ox - mx, oy - my) < CONCENTRIC_FRAC * radius)


#: A taller ball's dome reaches the clipped level first at its centre: its
#: height (:data:`CLIP_HEIGHT`) is read from its most central clipped patch
#: alone, and only if that patch's centroid lies within this fraction of its
#: radius of its centre. Clipped pixels elsewhere are something denser than
#: solder across it (a via barrel over its rim in an oblique view). A ball
#: with clipped pixels but no central patch has an unknown peak and is not
#: judged for head-in-pillow (None: every clipped pixel counts, as before).
#: Development frames (500 straight, 40 oblique 8-bit): the clipped patches
#: of 320 head-in-pillow balls lie 0.00-0.25 radii off centre; 27 false calls
#: stood on patches 0.31-1.02 off (via rings over the rim): all gone at 0.3,
#: no true call lost; 4 more went once the central patch alone sets the
#: height (a ring's pixels had widened the core). (A ball without a central
#: patch still counts as its neighbours' reference with the height all its
#: clipped pixels give, as before: on windowed 8-bit frames of flat-topped
#: balls, scripts/altsim.py, dropping that height made its neighbours stand out.)
CLIP_CORE_OFFSET = 0.3
#: ... and its voids are read against the dome fitted to its own unclipped
#: pixels, not against that height (False: against it, as before). A via
#: ring over the rims of 11 of 35 large balls in a 31 degree oblique JPEG
#: (fresh development frame 6,800,000+18 at 2048 px) read them twice as tall
#: as their neighbours; the per-ball fit then found no pixel near the dome
#: and a 19 % void read 0.
CLIP_ASIDE_FIT = True
#: Where the window clipped most balls' tops (``heights_hidden``), a ball at
#: least half of whose centre (elliptical radius < 0.8) is clipped, with
#: fewer than this share of it left to fit and a fit below its clipped level,
#: has a peak that is only a bound (``VoidStats.peak_bound``), as has a ball
#: clipped whole; head-in-pillow leaves such peaks out (None: none marked).
#: An independent-renderer 8-bit frame with every ball's top clipped
#: (scripts/altsim.py --sharpen, seed 9,900,039): a third of its balls kept a
#: few unclipped pixels inside (noise dips under the mask) and their domes,
#: fitted to those alone, read 0.7-1.4 against 2.05-2.09 (the clipped level)
#: for the rest; 11 balls beside the low ones were called head-in-pillow.
#: Reading such balls at their clipped level instead lost 4 true heads on
#: development frames (their few unclipped flank pixels say they stand
#: taller: kept) and, raised to it, made 6 false heads on a sharpened 8-bit
#: development frame (sh1 27), whose other balls' fits sat 0.1-0.2 below it.
CLIPPED_FIT_SHARE = 0.25
#: ... only where at least this share of the balls are such (fewer: a centre
#: clipped is the exception, and says a taller ball; a fresh independent-
#: renderer 16-bit frame under a 5 px mask, 9,960,011, whose one clipped
#: centre is its head-in-pillow ball, 0.13 above its neighbours' fits).
BOUND_SHARE = 0.1


#: ... and a ball's own clipped core is a filled disc: of the ball's pixels
#: inside the elliptical radius that holds 3/4 of the patch, at least this
#: share must be in it (None: not tested). A via ring lying over the ball's
#: centre joins the core into one patch, centred enough, that spans a wide
#: disc it leaves mostly unclipped. Development frames (500 straight, 40
#: oblique 8-bit at 1024 px, 30 oblique 8-bit at 2048 px): 350 head-in-pillow
#: balls fill 0.61-1.00 of their disc; 39 false calls stood on patches
#: filling 0.19-0.47 (28 in one 2048 px PNG-8 frame with a via ring over
#: each ball of its rows), all gone at 0.5, no true call lost.
CLIP_CORE_FILL = 0.5


def _clip_core(xs, ys, lab, sat, n, mx, my, area):
    """Each joint's most central clipped patch, and its offset from the joint's centre.

    Parameters
    ----------
    xs, ys, lab : ndarray
        Column, row (px) and joint label of every joint pixel.
    sat : ndarray of bool
        Whether each joint pixel is clipped.
    n : int
        Number of joints.
    mx, my, area : ndarray
        Joint centroids (px) and areas (px), per label.

    Returns
    -------
    core : ndarray of bool
        Per joint pixel: in its joint's most central clipped patch.
    off : ndarray
        Per label: distance from the joint's centroid to that patch's
        centroid, in radii of the joint's equal-area disc; ``inf`` where
        the joint has no clipped pixel.
    """
    off = np.full(n + 1, np.inf)
    core = np.zeros_like(sat)
    idx = np.flatnonzero(sat)
    if idx.size == 0:
        return core, off
    y, x = ys[idx], xs[idx]
    y0, x0 = int(y.min()), int(x.min())
    img = np.zeros((int(y.max()) - y0 + 1, int(x.max()) - x0 + 1), np.uint8)
    img[y - y0, x - x0] = 1
    _, patch_img = cv2.connectedComponents(img, connectivity=8)
    # a patch spanning two touching joints is split between them
    key = patch_img[y - y0, x - x0].astype(np.int64) * (n + 1) + lab[idx]
    uk, inv = np.unique(key, return_inverse=True)
    cnt = np.bincount(inv).astype(float)
    px, py = np.bincount(inv, x) / cnt, np.bincount(inv, y) / cnt
    kl = uk % (n + 1)
    radius = np.sqrt(np.maximum(area, 1) / np.pi)
    d = np.hypot(px - mx[kl], py - my[kl]) / radius[kl]
    order = np.lexsort((d, kl))             # by joint, nearest patch first
    first = order[np.r_[True, kl[order][1:] != kl[order][:-1]]]
    off[kl[first]] = d[first]
    nearest = np.zeros(uk.size, bool)
    nearest[first] = True
    core[idx[nearest[inv]]] = True
    return core, off


def _group_quantile(values, groups, n, q):
    """Per-group quantile ``q`` of ``values`` (groups 1..n): the value of rank
    ``floor(q * (count - 1))`` in each group (lower order statistic, no interpolation).

    The values are grouped by a stable sort of the group ids (a radix sort on
    16-bit ids) and each group's order statistic is found with
    ``np.partition`` on its own slice: about 3x faster than one float sort of
    all the values, and exact (a combined group-plus-value sort key rounds
    values closer than its resolution together).
    """
    out = np.zeros(n + 1)
    if values.size == 0:
        return out
    g = groups.astype(np.uint16) if n <= np.iinfo(np.uint16).max else groups
    v = values[np.argsort(g, kind="stable")]
    cnt = np.bincount(groups, minlength=n + 1)[:n + 1]
    ends = np.cumsum(cnt)
    starts = ends - cnt
    ks = np.minimum((q * (cnt - 1)).astype(int), np.maximum(cnt - 1, 0))
    for gi in np.flatnonzero(cnt).tolist():
        s, e, k = int(starts[gi]), int(ends[gi]), int(ks[gi])
        out[gi] = np.partition(v[s:e], k)[k]
    return out


def _fit_scale_gamma(a, shape, lab, n, use, first_guess):
    """Per ball, fit ``A = s * profile^gamma`` in log space, twice, leaving out voided pixels.

    The exponent absorbs what a display window does to each ball (an 8-bit
    export's black level sharpens the centre of dense balls more than of
    thin ones), which a shared profile with one scale cannot.
    """
    expected = first_guess
    la = np.log(np.maximum(a, 1e-6))
    lp = np.log(np.maximum(shape, 1e-6))
    for _ in range(2):
        ok = use & (expected - a < 0.12 * expected)      # not voided by the last fit
        if FOREIGN_EXCESS is not None:
            ok &= a < FOREIGN_EXCESS * expected            # nor covered by something denser
        w = ok.astype(float)
        cnt = np.bincount(lab, w, n + 1)
        sx = np.bincount(lab, w * lp, n + 1)
        sy = np.bincount(lab, w * la, n + 1)
        sxx = np.bincount(lab, w * lp * lp, n + 1)
        sxy = np.bincount(lab, w * lp * la, n + 1)
        den = cnt * sxx - sx * sx
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.where((cnt > 8) & (den > 1e-9), (cnt * sxy - sx * sy) / den, 1.0)
        gamma = np.clip(np.nan_to_num(gamma, nan=1.0), 0.6, 1.6)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = np.where(cnt > 0, (sy - gamma * sx) / np.maximum(cnt, 1), 0.0)
        expected = np.exp(b[lab] + gamma[lab] * lp)
    return expected


def _void_edges(vl, nvo, short, ys, xs, search, sigma):
    """Move each void's edge to a fixed fraction of its own deepest shortfall.

    Parameters
    ----------
    vl : ndarray of int32
        Void component labels (1..nvo) from the seeded hysteresis.
    short : ndarray
        Shortfall below the void-free profile at the joint pixels ``(ys, xs)``.
    search : ndarray of bool
        Joint pixels where voids are looked for.
    sigma : float
        Robust noise of the shortfall.

    Returns
    -------
    ndarray of int32
        Refined void labels.
    """
    h, w = vl.shape
    short_img = np.full((h, w), -np.inf, np.float32)
    short_img[ys[search], xs[search]] = short[search]
    sel = vl > 0
    peak = np.full(nvo + 1, 0.0)
    np.maximum.at(peak, vl[sel], short_img[sel].astype(np.float64))
    grown = cv2.dilate(vl.astype(np.float32), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))).astype(np.int32)
    thr = np.maximum(VOID_EDGE_FRACTION * peak, 2.0 * sigma).astype(np.float32)[grown]
    out = np.where((grown > 0) & (short_img > thr), grown, 0).astype(np.int32)
    # the seeded core always stays a void
    return np.where(sel, vl, out)


def ball_voids(att, joint_labels, n, *, model="dome", clipped=None, fit_gamma=None, sliced=None,
               large_void=None):
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
    fit_gamma : bool, optional
        Fit a per-ball profile exponent as well as a scale (default
        :data:`FIT_GAMMA`). Right for windowed 8-bit exports, whose black
        level bends each ball's profile differently; on linear 16-bit data
        the log attenuation is exact and the extra freedom would absorb
        central voids.
    clipped : ndarray of bool, optional
        Pixels the export clipped at its most attenuating grey level. Their
        attenuation is only a lower bound, so they are neither used to fit
        the profile nor taken for voids (a void lets more through, never less).
    sliced : bool, optional
        The frame is a slice (CT, laminography): voids are holes through the
        solder, measured against the neighbours' level. Decided from the
        balls' shared profile (:func:`flat_topped`) when not given.
    large_void : sequence of int, optional
        Joints known to hold a void of a large share of their area (a ball
        whose outline the void bit): their peak is fitted again from the
        pixels not found short at the first fit, whose upper quantile lay
        inside the void, and their voids looked for again (dome model only).

    Returns
    -------
    VoidStats
    """
    ys, xs = nonzero_yx(joint_labels)
    lab = joint_labels[ys, xs]
    a = att[ys, xs].astype(np.float64)
    foreign = np.zeros(n + 1)
    sat = clipped[ys, xs] if clipped is not None else np.zeros(a.shape, bool)
    clip_aside = np.zeros(n + 1, bool)
    heights_hidden = False
    aside_height = None
    bound = None
    area = np.bincount(lab, minlength=n + 1).astype(float)
    if model == "dome":
        prof, rho, mx, my = shared_profile(a, xs, ys, lab, n)
        nb = prof.size
        rbin = np.minimum((rho / PROFILE_BIN).astype(int), nb - 1)
        if sliced is None:
            sliced = flat_topped(prof)
        shape = prof[rbin]
        fit_px = (rho < 0.8) & ~sat
        if FOREIGN_EXCESS is None:
            a0 = _group_quantile((a / shape)[fit_px], lab[fit_px], n, 0.7)
        else:
            # something denser than solder crossing the ball (a via barrel or a
            # part projected onto it in an oblique view) lifts the quantile and
            # turns the rest of the ball into a false void: start from the
            # median, drop what stands far above it, and fit again
            med = _group_quantile((a / shape)[fit_px], lab[fit_px], n, 0.5)
            dense = rho < 0.9
            over = dense & (a >= OBSTRUCTION_EXCESS * med[lab] * shape)
            foreign = np.bincount(lab[over], minlength=n + 1)[:n + 1] / np.maximum(
                np.bincount(lab[dense], minlength=n + 1)[:n + 1], 1)
            foreign[_concentric(xs, ys, lab, over, n, area, mx, my)] = 0.0
            fit_px = fit_px & (a < FOREIGN_EXCESS * med[lab] * shape)
            a0 = _group_quantile((a / shape)[fit_px], lab[fit_px], n, 0.7)
        # a ball whose whole centre saturates the detector (the densest joints
        # of an 8-bit export: head-in-pillow balls stand taller) has no pixel
        # to fit; its peak is at least the clipped level, never 0
        n_fit = np.bincount(lab[fit_px], minlength=n + 1)[:n + 1]
        unfit = n_fit == 0
        # A dome fitted to the few pixels a ball's clipped centre left (noise
        # dips under the level, a void) can read far below that level; like a
        # ball clipped whole, its peak is then a bound, not a height (marked
        # for head-in-pillow to leave aside where most balls are clipped)
        thin = np.zeros(n + 1, bool)
        if CLIPPED_FIT_SHARE is not None and sat.any():
            central = rho < 0.8
            n_c = np.bincount(lab[central], minlength=n + 1)[:n + 1]
            n_sat = np.bincount(lab[central & sat], minlength=n + 1)[:n + 1]
            thin = ~unfit & (n_sat >= 0.5 * n_c) & (n_fit < CLIPPED_FIT_SHARE * n_c)
            bound = unfit.copy()
        if unfit[1:].any() or thin[1:].any():
            top = np.zeros(n + 1)
            np.maximum.at(top, lab, a)
            if bound is not None:
                # (a fit above the level it reached says a taller ball: kept)
                bound |= thin & (a0 < top)
                bound[0] = False
            a0 = np.where(unfit, top, a0)
            a0[0] = 0.0
        if CLIP_HEIGHT and sat.any():
            # the export clipped the core of a ball out to where its dome
            # crosses the clipped level: a0 * profile(rho_c) = clipped level,
            # so the wider the clipped core, the taller the ball (a saturated
            # head-in-pillow ball stands above its neighbours)
            cnt = np.bincount(lab[sat], minlength=n + 1)[:n + 1]
            big = cnt >= CLIP_CORE_PX
            big[0] = False
            if CLIP_SHARE is not None:
                most = CLIP_SHARE * max(int((area[1:] > 0).sum()), 1)
                # the window touched the tops of most balls: their peaks are
                # lower bounds, not heights to compare
                heights_hidden = bool((cnt[1:] > 0).sum() > most)
                if big.sum() > most:
                    # the window clipped ordinary balls (flat-topped ones, cut
                    # by their pads, clip over their whole top): the width of a
                    # core says where the window cut, not how tall the ball is
                    big[:] = False
            if big.any():
                use = sat
                if CLIP_CORE_OFFSET is not None:
                    # a ball's own core is its central clipped patch; other
                    # patches (copper over its rim) say nothing of its height
                    core, off = _clip_core(xs, ys, lab, sat, n, mx, my, area)
                    clip_aside = big & (off > CLIP_CORE_OFFSET)
                    use = np.where(clip_aside[lab], sat, core)
                level = np.zeros(n + 1)
                np.maximum.at(level, lab[use], a[use])
                rho_c = _group_quantile(rho[use], lab[use], n, 0.75)
                if CLIP_CORE_FILL is not None:
                    # ... and that patch fills the disc it spans
                    inside = rho < rho_c[lab]
                    fill = np.bincount(lab[inside & use], minlength=n + 1)[:n + 1] / np.maximum(
                        np.bincount(lab[inside], minlength=n + 1)[:n + 1], 1)
                    clip_aside |= big & (fill < CLIP_CORE_FILL)
                edge = prof[np.minimum((rho_c / PROFILE_BIN).astype(int), nb - 1)]
                with np.errstate(divide="ignore", invalid="ignore"):
                    from_clip = np.where(big & (edge > 0.05), level / np.maximum(edge, 1e-3), 0.0)
                if CLIP_ASIDE_FIT:
                    # a ball clipped off its centre only (copper over its rim)
                    # keeps that height as its neighbours' reference, but its
                    # voids are read against the dome its own pixels fit: the
                    # rim's height put its whole dome far above the solder
                    # and its real voids under the noise
                    aside_height = np.where(clip_aside, from_clip, 0.0)
                    from_clip = np.where(clip_aside, 0.0, from_clip)
                a0 = np.maximum(a0, from_clip)
                if bound is not None:
                    # a clipped core's width gives a height
                    bound &= ~(from_clip > 0)
        if sliced and n >= 3:
            # a slice shows each ball's solder at the material's own level,
            # the same for every ball (no height in it); a ball's own fit is
            # pulled down by a large void and by partial volume round it. The
            # level of its 9 nearest balls (itself among them) is taken: a
            # reconstruction's level drifts across the field (cupping)
            a0 = _neighbour_level(a0, mx, my, area > 0)
        expected = a0[lab] * shape
        search = rho < RHO_MAX
        if (FIT_GAMMA if fit_gamma is None else fit_gamma) and not (sliced and SLICE_NO_GAMMA):
            expected = _fit_scale_gamma(a, shape, lab, n, fit_px & (shape > 0.05) & (a > 0), expected)
        if REFIT:
            # a large void pulls the quantile down; refit each ball's scale from
            # the pixels that are clearly not voided, then look again
            short0 = expected - a
            resid0 = short0[search & (short0 < 0)]
            s0 = 1.4826 * np.median(-resid0) if resid0.size > 50 else 0.0
            clean = fit_px & (short0 < np.maximum(2.0 * s0, 0.05 * a0[lab]))
            a0 = _group_quantile((a / shape)[clean], lab[clean], n, 0.5)
            expected = a0[lab] * shape
    else:
        sliced = False          # (a flat land has no profile to tell)
        # a flat land: its rim is all blur, so voids are looked for inside it
        inner_img = cv2.erode((joint_labels > 0).astype(np.uint8), np.ones((5, 5), np.uint8))
        search = inner_img[ys, xs] > 0
        a0 = _group_quantile(a[search], lab[search], n, 0.6)
        expected = a0[lab]
    search = search & ~sat
    short = expected - a
    resid = short[search & (short < 0)]
    sigma = 1.4826 * np.median(-resid) if resid.size > 50 else 0.02 * float(np.median(a0[1:]) if n else 1)
    peak = a0[lab]
    # a windowed 8-bit export (quantised, often JPEG-blocked) needs a clearer
    # shortfall before a void is believed
    k8 = (DOME_WINDOWED_FACTOR if model == "dome" else WINDOWED_FACTOR) \
        if (FIT_GAMMA if fit_gamma is None else fit_gamma) else 1.0

    seed_frac, grow_frac = SEED_FRACTION, GROW_FRACTION
    if sliced and SLICE_HOLE_LEVEL is not None:
        seed_frac, grow_frac = max(seed_frac, SLICE_HOLE_LEVEL), max(grow_frac, SLICE_HOLE_LEVEL)

    def hysteresis(short, peak):
        """Seed and grow pixels of the voids: shortfalls clear of the noise and of a share of the peak."""
        return (search & (short > np.maximum(SEED_SIGMA * sigma, k8 * seed_frac * peak)),
                search & (short > np.maximum(GROW_SIGMA * sigma, k8 * grow_frac * peak)))

    seed, grow = hysteresis(short, peak)
    if model == "dome" and not sliced and large_void is not None and len(large_void):
        redo = np.zeros(n + 1, bool)
        redo[np.asarray(large_void, np.intp)] = True
        redo[0] = False
        clean = fit_px & ~grow & redo[lab]
        a1 = _group_quantile((a / shape)[clean], lab[clean], n, 0.7)
        enough = np.bincount(lab[clean], minlength=n + 1)[:n + 1] >= 20
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(redo & enough & (a0 > 0), np.maximum(a1 / a0, 1.0), 1.0)
        if (gain > 1).any():
            a0 = a0 * gain
            expected = expected * gain[lab]
            short = expected - a
            peak = a0[lab]
            seed, grow = hysteresis(short, peak)
    h, w = joint_labels.shape
    # image work only inside the window that holds the candidate voids
    if grow.any():
        gy, gx = ys[grow], xs[grow]
        y0, y1 = max(int(gy.min()) - 3, 0), min(int(gy.max()) + 4, h)
        x0, x1 = max(int(gx.min()) - 3, 0), min(int(gx.max()) + 4, w)
    else:
        y0 = y1 = x0 = x1 = 0
    grow_img = np.zeros((y1 - y0, x1 - x0), np.uint8)
    grow_img[ys[grow] - y0, xs[grow] - x0] = 1
    # one void per seed: the grown halo of blur would merge neighbouring voids
    # into one and inflate the largest-void figure, so each grown pixel joins
    # the seed it is reached from first (geodesic dilation inside the halo)
    seed_img = np.zeros_like(grow_img)
    seed_img[ys[seed] - y0, xs[seed] - x0] = 1
    ns, sl = cv2.connectedComponents(seed_img, connectivity=8) if seed_img.size else (1, seed_img.astype(np.int32))
    # uint16 labels dilate several times faster than float32, to the same result
    vl = sl.astype(np.uint16 if ns <= np.iinfo(np.uint16).max else np.float32)
    ker = np.ones((3, 3), np.uint8)
    halo = grow_img > 0
    for _ in range(GROW_STEPS if vl.size else 0):
        nxt = cv2.dilate(vl, ker)
        vl = np.where((vl == 0) & halo, nxt, vl)
    win = vl.astype(np.int32)
    # from here on the voids are a list of pixels (raster order): they cover a
    # few thousandths of the frame, and frame-sized images of them cost more
    # than the rest of this step
    wy, wx = nonzero_yx(win)
    wid = win[wy, wx]
    vsize = np.bincount(wid, minlength=ns)
    has_seed = vsize >= MIN_VOID_AREA_PX
    has_seed[0] = False
    remap = np.zeros(ns, np.int32)
    remap[has_seed] = np.arange(1, has_seed.sum() + 1)
    wid = remap[wid]
    nvo = int(has_seed.sum())
    kept = wid > 0
    wy, wx, wid = wy[kept] + y0, wx[kept] + x0, wid[kept]
    if nvo and VOID_EDGE_FRACTION is not None:
        vl = np.zeros((h, w), np.int32)
        vl[wy, wx] = wid
        vl = _void_edges(vl, nvo, short, ys, xs, search, sigma)
        wy, wx = nonzero_yx(vl)
        wid = vl[wy, wx]
    pj = ys.astype(np.int64) * w + xs           # joint pixels' flat indices, ascending
    ji = np.searchsorted(pj, wy.astype(np.int64) * w + wx)     # every void pixel is a joint pixel
    if nvo and model == "dome" and CRESCENT_RHO is not None:
        wid, nvo = _drop_crescents(wid, nvo, wx, wy, rho[ji])
        kept = wid > 0
        wy, wx, wid, ji = wy[kept], wx[kept], wid[kept], ji[kept]
    if nvo and model == "dome" and NONCONVEX_SOLIDITY is not None:
        owner_area = np.zeros(nvo + 1)
        owner_area[wid] = area[lab[ji]]        # a void lies in one joint
        deepest = None
        if NONCONVEX_OPEN_DEPTH is not None and not sliced:
            # (a slice's voids are holes as deep as the solder: not told by
            # depth; a void's depth is counted inside the ball's inner 0.6 of
            # radius only: the hole of a via ring joined to the rim is deep
            # and never a bubble)
            deepest = np.zeros(nvo + 1)
            np.maximum.at(deepest, wid, np.where(rho[ji] < CRESCENT_RHO, short[ji] / np.maximum(peak[ji], 1e-9), 0.0))
        wid, nvo = _drop_nonconvex(wid, nvo, wx, wy, owner_area, deepest)
        kept = wid > 0
        wy, wx, wid, ji = wy[kept], wx[kept], wid[kept], ji[kept]
    vl = np.zeros((h, w), np.int32)
    vl[wy, wx] = wid
    owner = np.zeros(nvo + 1, np.int32)
    owner[wid] = lab[ji]
    vsz = np.bincount(wid, minlength=nvo + 1).astype(float)
    vsz[0] = 0
    # void pixels counted per joint, so a void never exceeds its joint
    void_area = np.bincount(lab[ji], minlength=n + 1).astype(float)[:n + 1]
    if nvo and VOLUME_AREA:
        vol, depth = _volume_areas(wy, wx, wid, nvo, owner, short, pj, lab, search, (h, w), vj=ji)
        if sliced:
            # a hole through a slice: as deep as the solder around it, its
            # blurred edge halfway down; the grown threshold mask reaches far
            # beyond that edge (it is read at a tenth of the depth), so it
            # bounds the area from above, for the largest void too
            est = np.minimum(vol / np.maximum(a0[owner], 1e-9), vsz)
            est[0] = 0
            vsz = est
        elif model == "flat" and FLAT_THROUGH:
            # a void in a thin flat layer (a pin's solder) is a hole through
            # it, flat-bottomed: its area is its missing volume over its own
            # depth (the land's level holds the copper too), and the grown
            # mask, read at a tenth of the level, bounds it from above
            with np.errstate(divide="ignore", invalid="ignore"):
                est = np.where(depth > 0, np.minimum(vol / depth, vsz), vsz)
            est[0] = 0
            vsz = est
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                est = np.where(depth > 0, 1.5 * vol / depth, 0.0)
            # a void's projected area from its missing volume and depth, never
            # below what the threshold already shows
            est = np.clip(est, vsz, VOLUME_CAP * vsz)
            est[0] = 0
            if VOLUME_LARGEST:
                vsz = est
        void_area = np.bincount(owner[1:], weights=est[1:], minlength=n + 1)[:n + 1]
        void_area = np.minimum(void_area, area)
    largest = np.zeros(n + 1)
    np.maximum.at(largest, owner[1:], vsz[1:])
    largest = np.minimum(largest, void_area)
    count = np.bincount(owner[1:], minlength=n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(area > 0, 100 * void_area / area, 0.0)
        lpct = np.where(area > 0, 100 * largest / area, 0.0)
    if aside_height is not None:
        a0 = np.maximum(a0, aside_height)
    peak_bound = None
    if heights_hidden and bound is not None and bound.sum() >= BOUND_SHARE * max(int((area[1:] > 0).sum()), 1):
        peak_bound = bound
    return VoidStats(void_pct=pct, largest_void_pct=lpct, void_count=count, dome_peak=a0, peak_bound=peak_bound,
                     void_labels=vl, void_owner=owner, foreign_frac=foreign,
                     profile=prof if model == "dome" else None, clip_aside=clip_aside,
                     heights_hidden=heights_hidden)

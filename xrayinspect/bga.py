"""Score a BGA frame: balls, voids, grid, missing/extra, bridges, head-in-pillow."""

import math

import numpy as np
from scipy.spatial import cKDTree

from . import grid as _grid
from .grid import fit_grid, lattice_warp
from .joints import segment_joints
from .measure import (circularity, components_with_stats, contour_in_box, contours_by_label, equivalent_diameter,
                      fill_holes, label_moments, median, nonzero_yx)
from .results import JointResult
from .rules import judge_ball, mad_sigma
from .traces import crossing_traces
from .voids import ball_voids


#: Which attenuation map voids are measured on: "smooth" (sigma 1 px) or "light" (sigma 0.5 px).
VOID_SOURCE = "light"


def _light_smooth(att):
    import cv2

    return cv2.GaussianBlur(att, (0, 0), 0.5)


#: Cores above this fraction of the typical ball peak (stray solder balls are
#: small spheres with a third of a ball's peak or less).
CORE_FRACTION = 0.3
#: When fewer than 3 joints are found at the blob size the polarity vote
#: measured, the frame is looked at again at these multiples of it (a zoomed
#: view whose balls are larger than the vote's top-hats).
ZOOM_RETRY = (2.5, 5.0)
#: ... and a look at a larger scale stands when its typical joint is this many
#: times the area of the first scale's (the discs too large for it: 6 x).
ZOOM_AREA = 4.0


#: Open each joint mask with a disc (radius ~ 1/8 of a ball) so thin things
#: touching a ball (via barrels, traces, bridge necks) do not skew its shape.
OPEN_MASKS = True
#: Opening radius = ball diameter / this (4: necks narrower than half a ball go).
OPEN_DIVISOR = 4


def _open_masks(masks, d_ball):
    """Remove thin attachments from the joint masks; update area and centroid in place.

    Per-joint sums come from the joint pixels alone (one ``nonzero``), not from
    ``bincount`` over the whole frame; a joint the opening erases is put back
    from its box (``masks.bbox``, as :func:`segment_joints` left it).
    """
    import cv2

    r = int(max(1, round(d_ball / OPEN_DIVISOR)))
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    fg = (masks.labels > 0).astype(np.uint8)
    opened = cv2.morphologyEx(fg, cv2.MORPH_OPEN, ker)
    lab = np.where(opened > 0, masks.labels, 0).astype(np.int32, copy=False)
    n = masks.n
    ys, xs = nonzero_yx(lab)
    l = lab[ys, xs]
    area = np.bincount(l, minlength=n + 1)[:n + 1].astype(float)
    # a joint the opening would erase entirely (a tiny stray ball) keeps its mask
    lost = (area == 0) & (masks.area_px > 0)
    lost[0] = False
    if lost.any():
        # its pixels are appended after the others: bincount sums each label's
        # pixels in their own (raster) order, so the sums are those of a rescan
        py, px, pl = [ys], [xs], [l]
        for k in np.flatnonzero(lost):
            x0, y0, x1, y1 = masks.bbox[k]
            sy, sx = np.nonzero(masks.labels[y0:y1, x0:x1] == k)
            lab[sy + y0, sx + x0] = k
            py.append(sy + y0)
            px.append(sx + x0)
            pl.append(np.full(sy.size, k, l.dtype))
        ys, xs, l = np.concatenate(py), np.concatenate(px), np.concatenate(pl)
        area = np.bincount(l, minlength=n + 1)[:n + 1].astype(float)
    cnt = np.maximum(area, 1)
    masks.cx = np.bincount(l, xs, n + 1) / cnt
    masks.cy = np.bincount(l, ys, n + 1) / cnt
    masks.area_px = area
    masks.labels = lab


#: Clip each joint mask to the ellipse of its cap (the pixels above CAP_FRACTION
#: of its own peak), scaled by the frame's typical mask-to-cap size ratio times
#: CLIP_TOLERANCE. None: no clip.
CAP_FRACTION = 0.5
CLIP_TOLERANCE = 1.12
#: The cap is the piece with the most pixels under the copper level
#: (:data:`~xrayinspect.joints.DENSE_THIN_FRACTION` x the typical peak), not
#: the largest piece (False): on an oblique 8-bit development frame, (6,980,000,
#: 18), three balls each merged with a dense via ring lost to it (the ring kept
#: as a misaligned, head-in-pillow 'ball' at 8-9 x the typical peak); every
#: other development frame (500 straight, 140 CT, 39 oblique, 104 altsim) is unchanged.
CAP_BY_SOLDER = True


def _piece_counts(cc, lab, ncc, n):
    """Pixel count of every (component, joint) pair, as sorted keys ``cc * (n + 1) + lab`` and counts.

    What ``np.unique(key, return_counts=True)`` gives, without sorting every
    pixel's key: a component lying in one joint (nearly all of them) is
    counted with one bincount; only the pixels of components that cross
    joints are sorted.
    """
    count = np.bincount(cc, minlength=ncc)
    ref = np.zeros(ncc, lab.dtype)
    ref[cc] = lab                       # any one pixel's joint per component
    mixed = np.zeros(ncc, bool)
    mixed[cc[lab != ref[cc]]] = True
    single = np.flatnonzero((count > 0) & ~mixed)
    keys = [single.astype(np.int64) * (n + 1) + ref[single], ]
    counts = [count[single]]
    if mixed.any():
        sel = mixed[cc]
        k2, c2 = np.unique(cc[sel].astype(np.int64) * (n + 1) + lab[sel], return_counts=True)
        keys.append(k2)
        counts.append(c2)
    keys, counts = np.concatenate(keys), np.concatenate(counts)
    order = np.argsort(keys, kind="stable")
    return keys[order], counts[order]


#: Where most joints' peaks are copper's (via barrels over the balls of an
#: oblique view), the typical ball peak is the median of those under
#: :data:`~xrayinspect.joints.DENSE_THIN_FRACTION` x their lower quartile
#: (None: the median of all): development frame (6,770,000, 7), a 6 x 6 array
#: of 110 px balls at 24.5 degrees, had 24 of 35 peaks at 2.3-2.7 (rings) and
#: 10 at 1.1-1.2; the cap level was set by the rings, 22 balls were cut away
#: for them and the frame's lattice misfit. Taken only where the median of all
#: stands this far above it, so a frame with a few such joints keeps its median.
COPPER_MEDIAN_EXCESS = 1.3


def _typical_ball_peak(peaks):
    """Typical ball peak (attenuation) among joint peaks, copper-dominated joints set aside.

    Parameters
    ----------
    peaks : ndarray
        Peak attenuation of the joints (those the typical ball is read from).

    Returns
    -------
    float
        Their median, or where that median is over :data:`COPPER_MEDIAN_EXCESS`
        x the median of the peaks under DENSE_THIN_FRACTION x their lower
        quartile, that median; inf without peaks.
    """
    from .joints import DENSE_THIN_FRACTION

    peaks = np.asarray(peaks, float)
    if peaks.size == 0:
        return np.inf
    typ = float(np.median(peaks))
    if COPPER_MEDIAN_EXCESS is None or DENSE_THIN_FRACTION is None:
        return typ
    solder = peaks[peaks <= DENSE_THIN_FRACTION * float(np.percentile(peaks, 25))]
    if solder.size and typ > COPPER_MEDIAN_EXCESS * float(np.median(solder)):
        return float(np.median(solder))
    return typ


def _clip_to_cap(masks, att, only):
    """Cut every joint mask back to the ellipse its bright cap predicts.

    A ball's cap (its pixels above half its own peak) is a clean ellipse even
    where the ball's faint rim runs into something beside it: the blurred gap
    to a via pad or a trace, a bridge neck, the halo of a windowed export.
    Those appendages skew the mask's moments, and the void model then reads
    the dark gap inside the mask as a crescent void. The mask is kept within
    the cap's ellipse scaled by the frame's median ratio of mask size to cap
    size (measured, so blur and display window are in it) plus a tolerance.
    Only the joints where ``only`` (bool per label) is set are cut; the
    ratio is measured on them. Updates ``masks`` in place (labels, area,
    centroid).
    """
    n = masks.n
    lab_img = masks.labels
    ys, xs = nonzero_yx(lab_img)
    if ys.size == 0:
        return
    lab = lab_img[ys, xs]
    a = att[ys, xs]
    # a via barrel across a ball (oblique views) sets its peak: the cap level
    # is taken from the ball's peak or the frame's typical one, the lower
    typ = _typical_ball_peak(masks.peak[1:][only[1:]])
    level = CAP_FRACTION * np.minimum(masks.peak, 1.3 * typ)
    cap = a > level[lab]
    # the cap is the largest connected piece above the level: a bright via
    # ring or trace joined to the rim is above it too, but apart from the cap
    import cv2

    cap_img = np.zeros(lab_img.shape, np.uint8)
    cap_img[ys[cap], xs[cap]] = 1
    ncc, cc = cv2.connectedComponents(cap_img, connectivity=4)
    if ncc > 2:
        uk, cnt = _piece_counts(cc[ys[cap], xs[cap]], lab[cap], ncc, n)
        if CAP_BY_SOLDER and np.isfinite(typ):
            # ... the piece holding the most pixels at solder level: a via
            # ring (copper, several times a ball's peak) merged with a ball
            # can outnumber the ball's own cap when blur swells it, and the
            # ball was cut away for it
            from .joints import DENSE_THIN_FRACTION

            sol = cap & (a <= DENSE_THIN_FRACTION * typ)
            uks, cns = _piece_counts(cc[ys[sol], xs[sol]], lab[sol], ncc, n)
            pos = np.minimum(np.searchsorted(uks, uk), max(uks.size - 1, 0))
            in_sol = np.where(uks[pos] == uk, cns[pos], 0) if uks.size else np.zeros_like(cnt)
            cnt = in_sol.astype(np.int64) * (1 << 32) + cnt       # then by all its pixels
        best = np.zeros(n + 1, np.int64)
        bestn = np.zeros(n + 1, np.int64)
        for kk, nn in zip(uk.tolist(), cnt.tolist()):
            l = kk % (n + 1)
            if nn > bestn[l]:
                bestn[l], best[l] = nn, kk // (n + 1)
        sub = np.nonzero(cap)[0]
        cap[sub] = cc[ys[sub], xs[sub]] == best[lab[sub]]
    c, mx, my, sxx, syy, sxy, _, _ = label_moments(xs[cap].astype(float), ys[cap].astype(float), lab[cap], n)
    ok = c >= 5             # (c is at least 1: a ball without cap pixels fails here)
    det = np.maximum(sxx * syy - sxy * sxy, 1e-9)
    # size ratio mask / cap on balls whose cap is a fair share of the mask
    area = np.bincount(lab, minlength=n + 1).astype(float)
    ratio = np.sqrt(area / c)
    good = ok & (c > 0.2 * area) & only
    good[0] = False
    if good.sum() < 3:
        return
    k = float(np.median(ratio[good])) * CLIP_TOLERANCE
    ddx, ddy = xs - mx[lab], ys - my[lab]
    q = (syy[lab] * ddx * ddx - 2 * sxy[lab] * ddx * ddy + sxx[lab] * ddy * ddy) / det[lab]
    rho = np.sqrt(np.maximum(q, 0) / 4.0)
    # half a pixel of slack beyond the scaled cap edge, so small balls keep their rim
    semi = np.sqrt(np.maximum(np.minimum(sxx, syy)[lab], 1e-9) * 4.0)
    drop = (ok & only)[lab] & (rho > k + 0.7 / semi)
    if not drop.any():
        return
    lab_img[ys[drop], xs[drop]] = 0
    keep = ~drop
    lk, xk, yk = lab[keep], xs[keep], ys[keep]
    area = np.bincount(lk, minlength=n + 1)[:n + 1].astype(float)
    cnt = np.maximum(area, 1)
    masks.cx = np.bincount(lk, xk, n + 1) / cnt
    masks.cy = np.bincount(lk, yk, n + 1) / cnt
    masks.area_px = area


def _recount(masks):
    """Area (px) and centroid of every joint again from its label image, after pixels changed hands."""
    n = masks.n
    ys, xs = nonzero_yx(masks.labels)
    lk = masks.labels[ys, xs]
    area = np.bincount(lk, minlength=n + 1)[:n + 1].astype(float)
    c = np.maximum(area, 1)
    masks.cx = np.bincount(lk, xs, n + 1)[:n + 1] / c
    masks.cy = np.bincount(lk, ys, n + 1)[:n + 1] / c
    masks.area_px = area


#: A seated ball larger than the typical one whose centroid lies this fraction
#: of the typical radius from the centre of its largest inscribed circle
#: carries an appendage (None: not looked for) ...
APPENDAGE_SHIFT = 0.25
#: Voids are measured in balls cut as above but closer: masks under the first
#: multiple of the typical ball's area whose centroid lies the second share of
#: a radius off (None: in the balls as cut above). A via ring joined to a
#: ball's rim adds 0.1-0.3 of a ball's area and moves the centroid by 0.1-0.2
#: of a radius, under APPENDAGE_SHIFT, yet on a 15 px ball that is 1-1.5 px:
#: the dome read about the centroid left the junction short, a void where
#: none is (fresh development frame (6,790,000, 71), a 20 degree oblique view
#: with a ring by many balls: 13 false void calls). Only the void measurement
#: sees these cuts: cut in the joints themselves, parts seen through a
#: double-sided board (their ends as small as a ring's) left pieces between
#: the balls that read as bridges.
APPENDAGE_SMALL = (1.4, 0.08)
#: ... and is cut to the typical ball's outline, scaled by this, around that centre.
APPENDAGE_OUTLINE = 1.15
#: Where that centre is: "template" - the best match (normalised correlation)
#: of the frame's typical ball, the mean attenuation of its whole seated balls;
#: "inscribed" - the centre of the mask's largest inscribed circle. A part on the
#: board's other side lying across a ball's rim is as wide as the ball: the
#: mask's widest place is in the part (double-sided development frame
#: (6,700,000, 22): three balls cut round the part, 16-20 px off their 38 px
#: balls, read misaligned and voided), while the ball's dome still matches
#: the typical ball where it is.
APPENDAGE_CENTRE = "template"
#: Masks up to this multiple of the typical ball's area are looked at with the
#: template (1.8 with the inscribed circle: a part's end joined to a 12 px
#: ball makes 2.2-2.7 of it, development frame (6,700,000, 0), double-sided).
APPENDAGE_LARGEST = 3.0
#: ... and up to this multiple with the inscribed circle (the widest place of a
#: larger mask may be anything).
APPENDAGE_LARGEST_INSCRIBED = 1.8


def _typical_ball(att, masks, full, half):
    """Mean attenuation patch (``2 * half + 1`` px square) of the balls flagged ``full``, centred on their centroids."""
    h, w = att.shape
    ids = np.flatnonzero(full)
    if ids.size > 200:
        ids = ids[np.linspace(0, ids.size - 1, 200).astype(int)]
    acc = np.zeros((2 * half + 1, 2 * half + 1))
    used = 0
    for k in ids.tolist():
        cx, cy = int(round(masks.cx[k])), int(round(masks.cy[k]))
        if cx - half < 0 or cy - half < 0 or cx + half >= w or cy + half >= h:
            continue
        acc += att[cy - half:cy + half + 1, cx - half:cx + half + 1]
        used += 1
    return (acc / used).astype(np.float32) if used >= 5 else None


def _template_centre(att, own, x0, y0, template):
    """Mask pixel (``own``'s coordinates) where ``template`` best matches ``att`` (normalised correlation), or None."""
    import cv2

    half = template.shape[0] // 2
    h, w = att.shape
    ya, yb = y0 - half, y0 + own.shape[0] + half
    xa, xb = x0 - half, x0 + own.shape[1] + half
    if ya < 0 or xa < 0 or yb > h or xb > w:
        return None
    from .joints import DENSE_THIN_FRACTION

    top = float(template.max())
    win = att[ya:yb, xa:xb]
    if DENSE_THIN_FRACTION is not None and (win[half:-half, half:-half][own > 0] > DENSE_THIN_FRACTION * top).any():
        # copper in the mask (a via barrel at the rim of a ball in an oblique
        # view): a disc as wide as a ball, which the template matches as well
        # as the ball; the mask's widest place is the ball there
        return None
    # (a part's end cap may stand above the ball's top: it is matched as solder)
    score = cv2.matchTemplate(np.minimum(win, top).astype(np.float32), template, cv2.TM_CCOEFF_NORMED)
    score = np.where((own > 0) & np.isfinite(score), score, -np.inf)
    if not np.isfinite(score).any():
        return None
    iy, ix = np.unravel_index(int(np.argmax(score)), score.shape)
    return ix, iy


def _cut_appendages(masks, only, att=None, *, least=None, largest=None, copy=False):
    """Cut from a seated ball what is joined to its rim: a via ring or pad seen beside it.

    A dense ring at a ball's rim (a via barrel beside the ball in an oblique
    view) is above the cap level too, so neither the opening nor the cap
    clip takes it off: the mask is a ball with a second lobe, its centroid
    moves towards it and the lighter hole reads as a void. The ball itself is
    where the typical ball's attenuation matches best (``att`` given and
    :data:`APPENDAGE_CENTRE` ``"template"``), else where the mask's largest
    inscribed circle is (the lobe is smaller than the ball); when the
    centroid lies well off that centre, the mask is cut to the typical
    ball's outline around it. Updates ``masks`` in place; with ``copy``,
    cuts a copy of its labels instead (``masks`` left as it is) and returns
    the copy, or None when nothing was cut.

    ``least`` (share of the typical radius, default :data:`APPENDAGE_SHIFT`)
    is how far off the centroid must lie, ``largest`` (multiple of the
    typical area, default :data:`APPENDAGE_LARGEST` or
    :data:`APPENDAGE_LARGEST_INSCRIBED`) how large a mask is looked at.
    Returns whether anything was cut (without ``copy``).
    """
    import cv2

    own_labels = not copy
    lab = masks.labels
    n = masks.n
    ys, xs = nonzero_yx(lab)
    l = lab[ys, xs]
    area = np.bincount(l, minlength=n + 1)[:n + 1].astype(float)
    sel = np.asarray(only[:n + 1], bool) & (area > 0)
    sel[0] = False
    if sel.sum() < 5:
        return False if own_labels else None
    typ = float(np.median(area[sel]))
    full = sel & (np.abs(area / typ - 1) < 0.1)
    if largest is None:
        largest = APPENDAGE_LARGEST if (att is not None and APPENDAGE_CENTRE == "template") \
            else APPENDAGE_LARGEST_INSCRIBED
    if least is None:
        least = APPENDAGE_SHIFT
    cand = np.flatnonzero(sel & (area > 1.1 * typ) & (area < largest * typ))
    if full.sum() < 5 or cand.size == 0:
        # (most frames: the moments of every joint are not needed)
        return False if own_labels else None
    cnt, mx, my, sxx, syy, sxy, _, _ = label_moments(xs.astype(float), ys.astype(float), l, n)
    cov = np.array([[np.median(sxx[full]), np.median(sxy[full])], [np.median(sxy[full]), np.median(syy[full])]])
    if not np.linalg.det(cov) > 0:
        return False if own_labels else None
    inv = np.linalg.inv(cov) / (4 * APPENDAGE_OUTLINE ** 2)
    r_typ = np.sqrt(typ / np.pi)
    template = None
    if att is not None and APPENDAGE_CENTRE == "template":
        template = _typical_ball(att, masks, full, int(np.ceil(APPENDAGE_OUTLINE * r_typ)) + 1)
    changed = False
    for k in cand.tolist():
        if k >= len(masks.bbox):
            continue
        x0, y0, x1, y1 = (int(v) for v in masks.bbox[k])
        sub = lab[y0:y1, x0:x1]
        own = (sub == k).astype(np.uint8)
        found = _template_centre(att, own, x0, y0, template) if template is not None else None
        if found is not None:
            ix, iy = found
        elif area[k] >= APPENDAGE_LARGEST_INSCRIBED * typ:
            continue
        else:
            dist = cv2.distanceTransform(np.pad(own, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
            iy, ix = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if np.hypot(ix + x0 - mx[k], iy + y0 - my[k]) < least * r_typ:
            continue
        gy, gx = np.mgrid[0:sub.shape[0], 0:sub.shape[1]]
        dx, dy = gx - ix, gy - iy
        outside = inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy > 1
        cut = (own > 0) & outside
        if cut.any():
            if not own_labels and not changed:
                lab = lab.copy()            # the caller's image is left whole
                sub = lab[y0:y1, x0:x1]
            sub[cut] = 0
            changed = True
    if not own_labels:
        return lab if changed else None
    if changed:
        _recount(masks)
    return changed


#: A seated ball whose mask misses a bite of its outline is filled back to the
#: ellipse the rest of its outline traces (None: not filled). Over a large void
#: near the rim the solder is a thin shell, fainter than the edge level: the
#: segmentation, the opening and the cap clip leave the ball a crescent or a
#: disc cut by a chord, and its void % is then a share of the wrong area, with
#: most of the void outside it (2048 px development frames: balls of 30-40 %
#: void in the truth read 20-25 %, their masks 0.65-0.75 of the truth's area).
#: The fill is made where the fitted ellipse gives the mask this many times
#: its pixels (from pixels no other joint holds) ...
NOTCH_GAIN = 1.1
#: ... its outline's own circle is this close in size to the whole balls' (linear scale) ...
NOTCH_SCALE = (0.9, 1.15)
#: ... the outline's hull vertices lie this close to it (fraction of its radius)
#: and leave no gap wider than this (degrees) round its centre ...
NOTCH_FIT_TOLERANCE = 0.12
NOTCH_MAX_GAP_DEG = 180.0
#: ... and the mask lies within it (its pixels outside: at most this share).
NOTCH_OUTSIDE = 0.03
#: ... and other joints hold at most this share of the bite.
NOTCH_TAKEN = 0.25
#: ... and the bite's mean attenuation is at most this fraction of the ball's
#: own pixels as far from its centre (bites by voids on 2048 px development
#: frames: 0.35-0.67; via rings across balls in sample_data/bga_oblique.tif,
#: which the mask had left out: 1.2-1.6).
NOTCH_LIGHTER = 0.9


def _outline_circle(q):
    """Circle through the untouched part of a bitten outline: ``(x, y, radius, on)`` or None.

    An algebraic (Kasa) fit to the points ``q`` (n x 2), refitted without
    the points further than :data:`NOTCH_FIT_TOLERANCE` of the radius from
    it: the tips of a crescent's horns, rounded by the opening, lie inside
    the ball's circle. ``on`` marks the points kept; at least two thirds of
    them (and five) must be.
    """
    on = np.ones(len(q), bool)
    for _ in range(3):
        if on.sum() < max(5, 2 * len(q) / 3):
            return None
        p = q[on]
        A = np.column_stack([2 * p[:, 0], 2 * p[:, 1], np.ones(len(p))])
        sol, *_ = np.linalg.lstsq(A, (p ** 2).sum(1), rcond=None)
        ca, cb = sol[0], sol[1]
        rad2 = sol[2] + ca * ca + cb * cb
        if not rad2 > 0:
            return None
        rad = float(np.sqrt(rad2))
        near = np.abs(np.hypot(q[:, 0] - ca, q[:, 1] - cb) - rad) <= NOTCH_FIT_TOLERANCE * rad
        if (near == on).all():
            break
        on = near
    if on.sum() < max(5, 2 * len(q) / 3):
        return None
    return ca, cb, rad, on


def _centre_at_radius(p, start, radius):
    """Centre of the circle of ``radius`` nearest the points ``p`` (n x 2), from ``start`` (Gauss-Newton).

    A bitten outline says where a ball is better than how large it is.
    """
    c = np.array(start, float)
    for _ in range(5):
        d = p - c
        r = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
        step, *_ = np.linalg.lstsq(-d / r[:, None], radius - r, rcond=None)
        c = c + step
        if np.hypot(*step) < 1e-3:
            break
    return c


def _whitened_r2(dx, dy, inv):
    """Squared radius of offsets ``(dx, dy)`` (px) in the metric ``inv`` (an inverse covariance, px^-2)."""
    return inv[0, 0] * dx * dx + 2 * inv[0, 1] * dx * dy + inv[1, 1] * dy * dy


def _hull_points(xs, ys, centre, white):
    """Convex hull vertices of a joint's pixels, about ``centre`` in whitened coordinates (n x 2)."""
    import cv2

    hull = cv2.convexHull(np.column_stack([xs, ys]).astype(np.int32)).reshape(-1, 2).astype(float)
    return (hull - centre) @ white.T


def _fill_notches(masks, only, valid=None, att=None):
    """Fill seated balls whose mask has lost a bite of its outline to the ellipse the rest traces.

    The frame's typical seated ball gives the ellipse's shape (covariance
    of whole balls' pixels, so an oblique view's ellipses stay ellipses) and
    size (a circle fitted to whole balls' hull vertices in coordinates where
    the typical ball is round); each candidate's centre comes from that
    circle fitted to its own hull's vertices. A bite (a chord or a concave
    notch) has no hull vertex inside it, so the vertices are the untouched
    outline. Only unlabelled pixels (and, with ``valid``, pixels inside the
    detector's field) are added; the bite keeps its own attenuation, which
    the void step then reads.

    Parameters
    ----------
    masks : JointMasks
        Updated in place (labels, area, centroid).
    only : ndarray of bool
        Joints that may be filled (the balls seated on sites).
    valid : ndarray of bool, optional
        Pixels inside the detector's field.
    att : ndarray, optional
        Attenuation map: a bite denser than the ball (copper across it) is
        not filled.

    Returns
    -------
    list of int
        The joints filled.
    """
    lab = masks.labels
    n = masks.n
    area = np.asarray(masks.area_px[:n + 1], float)
    sel = np.asarray(only[:n + 1], bool) & (area > 0)
    sel[0] = False
    if sel.sum() < 5:
        return []
    typ = float(np.median(area[sel]))
    full = sel & (np.abs(area / typ - 1) < 0.1)
    # a bite takes at least a tenth of a ball; larger masks are not bitten
    cand = sel & (area < typ / NOTCH_GAIN) & (area > 0.4 * typ)
    edge = getattr(masks, "touches_edge", None)
    if edge is not None:
        cand[:edge.size] &= ~np.asarray(edge, bool)[:cand.size]
    cand = np.flatnonzero(cand)
    if full.sum() < 5 or cand.size == 0:
        return []
    h, w = lab.shape
    r_typ = float(np.sqrt(typ / np.pi))
    # (a window round each centroid that holds a ball no larger than the
    # typical one, an oblique view's ellipse too: the pixels of a few joints,
    # not of the frame)
    half = int(np.ceil(2 * r_typ)) + 3
    mx, my = masks.cx, masks.cy

    def pixels(k):
        x0, y0 = max(int(mx[k]) - half, 0), max(int(my[k]) - half, 0)
        yy, xx = np.nonzero(lab[y0:int(my[k]) + half + 1, x0:int(mx[k]) + half + 1] == k)
        return xx + x0, yy + y0

    whole = np.flatnonzero(full)
    whole = whole[np.linspace(0, whole.size - 1, min(whole.size, 25)).astype(int)]
    whole_px = [pixels(k) for k in whole.tolist()]
    # the typical ball's shape: the median covariance of whole balls' pixels
    moments = np.array([[np.var(x) + 1 / 12, np.var(y) + 1 / 12, np.mean((x - x.mean()) * (y - y.mean()))]
                        for x, y in whole_px if x.size])
    sxx, syy, sxy = np.median(moments, axis=0)
    cov = np.array([[sxx, sxy], [sxy, syy]])
    if not np.linalg.det(cov) > 0:
        return []
    # whitening: the typical ball's outline is a circle (radius 2 for a
    # uniform ellipse's pixels) there
    chol = np.linalg.cholesky(cov)
    white = np.linalg.inv(chol)
    inv = np.linalg.inv(cov)
    # the whole balls' own outline radius (the hull runs through pixel
    # centres, half a pixel inside the pixels' area)
    radii = [f[2] for f in (_outline_circle(_hull_points(x, y, (x.mean(), y.mean()), white))
                            for x, y in whole_px if x.size >= 8) if f is not None]
    if len(radii) < 5:
        return []
    r_whole = float(np.median(radii))
    reach = int(np.ceil(r_whole / 2 * NOTCH_SCALE[1] * 2 * np.sqrt(np.linalg.eigvalsh(cov).max()))) + 3
    filled = []
    for k in cand.tolist():
        px, py = pixels(k)
        if px.size < 8:
            continue
        q = _hull_points(px, py, (mx[k], my[k]), white)
        if len(q) < 5:
            continue
        fit = _outline_circle(q)
        if fit is None:
            continue
        ca, cb, rad, on = fit
        if not NOTCH_SCALE[0] <= rad / r_whole <= NOTCH_SCALE[1]:
            continue
        ang = np.sort(np.arctan2(q[on, 1] - cb, q[on, 0] - ca))
        gaps = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
        if np.degrees(gaps.max()) > NOTCH_MAX_GAP_DEG:
            continue
        centre = np.array([mx[k], my[k]])
        fx, fy = centre + chol @ [ca, cb]
        cx, cy = centre + chol @ _centre_at_radius(q[on], (ca, cb), r_whole)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, w)
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, h)
        gy, gx = np.mgrid[y0:y1, x0:x1]
        sub = lab[y0:y1, x0:x1]
        own = sub == k
        # bitten: the mask fills clearly less than the circle its own outline
        # traces (a whole ball, a smaller head-in-pillow one among them, fills it)
        if (_whitened_r2(gx - fx, gy - fy, inv) <= rad ** 2).sum() < NOTCH_GAIN * area[k]:
            continue
        r2 = _whitened_r2(gx - cx, gy - cy, inv)
        inside = r2 <= r_whole ** 2
        # ... and the bite is empty: where another joint (a via ring over the
        # ball, a neighbour) holds it, the outline there is not this ball's
        taken = inside & ~own & (sub > 0)
        if taken.sum() > NOTCH_TAKEN * (inside & ~own).sum():
            continue
        # (a pixel's width of slack: the outline is traced through pixel centres)
        if (own & (r2 > (r_whole * (1 + 1 / r_typ)) ** 2)).sum() \
                > NOTCH_OUTSIDE * area[k]:
            continue
        add = inside & (sub == 0)
        if valid is not None:
            add &= valid[y0:y1, x0:x1]
        if add.sum() < (NOTCH_GAIN - 1) * area[k]:
            continue
        if att is not None:
            # a bite is a void: it lets more through than the ball's own
            # pixels as far out; copper lying across the ball (a via ring in
            # an oblique view) that the mask left out lets less
            win = att[y0:y1, x0:x1]
            beside = own & (r2 >= r2[add].min())
            if not beside.any() or win[add].mean() > NOTCH_LIGHTER * win[beside].mean():
                continue
        sub[add] = k
        filled.append(k)
    if filled:
        _recount(masks)
    return filled


#: A bitten ball's peak is fitted again without its void (``ball_voids``'s
#: ``large_void``): the void of a third of the ball that bit its outline also
#: holds the upper quantile its peak is read at.
BITTEN_REFIT = True


#: A board trace crossing a ball is continued through it from the ring outside
#: and taken off before voids are sought (:func:`xrayinspect.traces.crossing_traces`).
TRACES_THROUGH = True


#: Give a ball back the via ring that lies on it (a separate component).
MERGE_RINGS = True


def _merge_rings(masks, rc, med_area):
    """Return to a seated ball the via ring that was cut out of it.

    A via barrel seen across a ball (oblique views) is a ring denser than the
    solder; the thin-line cut takes it and its surroundings out of the ball's
    mask as a component of its own, and the ball's centroid moves away from
    it (6-10 px on a 66 px pitch: misaligned calls). A component off every
    site, smaller than a ball, touching one seated ball only and centred
    within the typical ball's radius of that ball's centre lies on the ball
    (a stray ball beside it is centred beyond its rim): its pixels are the
    ball's (the void model then leaves them out as denser than solder).
    Updates ``masks`` in place.
    """
    import cv2

    lab = masks.labels
    h, w = lab.shape
    seated = rc[:, 0] >= 0
    r_typ = np.sqrt(max(med_area, 1.0) / np.pi)
    cand = (rc[:, 0] < 0) & (masks.area_px > 0) & (masks.area_px < 0.6 * med_area)
    cand[0] = False
    changed = False
    for j in np.flatnonzero(cand).tolist():
        if j >= len(masks.bbox):
            continue
        x0, y0, x1, y1 = (int(v) for v in masks.bbox[j])
        xa, ya, xb, yb = max(x0 - 1, 0), max(y0 - 1, 0), min(x1 + 1, w), min(y1 + 1, h)
        sub = lab[ya:yb, xa:xb]
        own = sub == j
        if not own.any():
            continue
        rim = cv2.dilate(own.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool) & ~own
        nb = np.unique(sub[rim])
        nb = nb[nb > 0]
        if nb.size != 1 or not seated[nb[0]]:
            continue
        k = int(nb[0])
        if np.hypot(masks.cx[j] - masks.cx[k], masks.cy[j] - masks.cy[k]) > r_typ:
            continue
        sub[own] = k
        changed = True
    if changed:
        _recount(masks)


#: Share of a ball's pixels far denser than its own profile above which the ball
#: is obstructed (not judged for head-in-pillow).
OBSTRUCTED_FRAC = 0.05

#: Cut masks that cover two expected sites (thick bridges) into two balls.
SPLIT_MERGED = True


#: Without a recipe, a mask over several lattice sites is split only when it
#: holds this range of typical ball areas per site (two balls and their neck).
SPLIT_AREA_PER_SITE = (0.7, 1.3)
#: A mask is a candidate for splitting from this many typical ball areas (one
#: ball's mask cannot reach two site centres a pitch apart).
SPLIT_MIN_AREA = 1.3
#: ... and it also takes an empty site whose centre lies within this fraction
#: of the typical ball radius of the mask (a ball displaced against its
#: neighbour: simulator frames 6,700,000+58 and +155, the ball 6.5-7 px off a
#: 22 px pitch, its site's centre 0.2-1.4 px outside the merged mask) when
#: the mask still holds SPLIT_AREA_PER_SITE[0] typical balls per site.
SPLIT_REACH = 0.5
#: Balls split out of one mask are bridged when the gap between them stays
#: above this fraction of the lower peak (half the level asked of two masks).
SPLIT_SADDLE_FRACTION = 0.075
#: A blob on a site under this fraction of a seated ball's peak and under
#: RESIDUE_AREA of its area is not a ball: a missing ball's bare pad and paste
#: residue, or traces crossing there (None: no such test); when no ball takes
#: the site, it is empty. Solder is solder: a ball on its site is as dense at
#: its top as its neighbours whatever its offset. On 500 development frames
#: (6,700,000+200, 6,950,000+300) five reported balls stood at 0.33-0.44 of
#: the typical reported peak and 0.13-0.6 of its area, all on sites the truth
#: has missing (called misaligned; 0.33-0.55 of the peak as the cores read
#: it, four of them under 0.5); no reported ball matched to a ball of the
#: truth stood under 0.75 of the peak at under 0.9 of the area.
RESIDUE_PEAK = 0.5
RESIDUE_AREA = 0.75


def _split_on_sites(masks, fit, med_area, to_frame, *, any_site=False):
    """Split every joint mask that covers two or more expected, otherwise empty sites.

    Each pixel goes to the nearest of the covered sites; both pieces are
    recorded as bridged to each other. Updates ``masks`` in place.

    Parameters
    ----------
    any_site : bool
        Without a recipe, sites under a merged pair are not "expected" (no
        ball's centre sits on them): take every lattice site, and split a mask
        only where it holds a ball's worth of solder per site it covers.

    Returns
    -------
    bool
        Whether anything was split.
    """
    labels = masks.labels
    h, w = labels.shape
    sites = sorted(fit.expected) if not any_site else \
        [(r, c) for r in range(fit.rows) for c in range(fit.cols)]
    if not sites:
        return False
    rc = np.array(sites)
    sxy = to_frame(fit.site_xy(rc[:, 0], rc[:, 1]))
    xi = np.round(sxy[:, 0]).astype(int)
    yi = np.round(sxy[:, 1]).astype(int)
    inside = (xi >= 0) & (yi >= 0) & (xi < w) & (yi < h)
    lab_at = np.zeros(len(sites), np.int64)
    lab_at[inside] = labels[yi[inside], xi[inside]]
    changed = False
    split_ids = masks.__dict__.setdefault("split_bridged", set())
    reach = SPLIT_REACH * np.sqrt(med_area / np.pi) if SPLIT_REACH is not None else -1.0
    free = inside & (lab_at == 0)
    for k in np.unique(lab_at[lab_at > 0]):
        if masks.area_px[k] < SPLIT_MIN_AREA * med_area:
            continue
        cover = np.nonzero(lab_at == k)[0]
        if reach >= 0 and free.any():
            # a ball pushed off its site against a neighbour leaves its own
            # site's centre just outside the pair's mask
            near_sites = _sites_reached(labels, k, masks.bbox[k], sxy, np.flatnonzero(free), reach)
            if near_sites.size and masks.area_px[k] / (cover.size + near_sites.size) >= SPLIT_AREA_PER_SITE[0] * med_area:
                cover = np.concatenate([cover, near_sites])
                free[near_sites] = False
        if cover.size < 2:
            continue
        if any_site and not (SPLIT_AREA_PER_SITE[0] * med_area <= masks.area_px[k] / cover.size
                             <= SPLIT_AREA_PER_SITE[1] * med_area):
            continue        # a part or plate over several sites is not a row of balls
        ys, xs = np.nonzero(labels == k)
        d = np.hypot(xs[:, None] - sxy[cover, 0][None, :], ys[:, None] - sxy[cover, 1][None, :])
        near = d.argmin(1)
        new_ids = [k] + list(range(masks.n + 1, masks.n + cover.size))
        for i, lid in enumerate(new_ids):
            sel = near == i
            labels[ys[sel], xs[sel]] = lid
        masks.n += cover.size - 1
        extra = cover.size - 1
        masks.area_px = np.concatenate([masks.area_px, np.zeros(extra)])
        masks.cx = np.concatenate([masks.cx, np.zeros(extra)])
        masks.cy = np.concatenate([masks.cy, np.zeros(extra)])
        masks.peak = np.concatenate([masks.peak, np.full(extra, masks.peak[k])])
        masks.touches_edge = np.concatenate([masks.touches_edge, np.full(extra, masks.touches_edge[k])])
        masks.bbox = np.concatenate([masks.bbox, np.repeat(masks.bbox[k:k + 1], extra, 0)])
        masks.bridged_with = list(masks.bridged_with) + [set() for _ in range(extra)]
        for i, lid in enumerate(new_ids):
            sel = near == i
            masks.area_px[lid] = sel.sum()
            masks.cx[lid] = xs[sel].mean() if sel.any() else 0
            masks.cy[lid] = ys[sel].mean() if sel.any() else 0
            masks.bridged_with[lid] = set(masks.bridged_with[lid]) | {q for q in new_ids if q != lid}
            split_ids.update(new_ids)
        changed = True
    return changed


def _sites_reached(labels, k, box, sxy, candidates, reach):
    """Indices among ``candidates`` of the sites ``sxy`` (px) within ``reach`` (px) of a pixel of label ``k``."""
    x0, y0, x1, y1 = box
    sx, sy = sxy[candidates, 0], sxy[candidates, 1]
    by_box = (sx >= x0 - reach - 1) & (sx <= x1 + reach) & (sy >= y0 - reach - 1) & (sy <= y1 + reach)
    candidates = candidates[by_box]
    if not candidates.size:
        return candidates
    ys, xs = np.nonzero(labels[y0:y1, x0:x1] == k)
    d2 = (xs[None, :] + x0 - sxy[candidates, 0][:, None]) ** 2 + (ys[None, :] + y0 - sxy[candidates, 1][:, None]) ** 2
    return candidates[d2.min(1) <= reach * reach]


def typical_area(areas):
    """Area of the typical joint, px: the area-weighted median of ``areas``.

    Half of all joint pixels lie in blobs this size or smaller. A package's
    balls hold most of the solder in a frame, so a crowd of small clutter
    (via rings, trace crossings, specks) cannot pull it down as it pulls down
    the plain median of a frame with a few large balls.
    """
    a = np.sort(np.asarray(areas, float))
    if a.size == 0:
        return 0.0
    c = np.cumsum(a)
    return float(a[np.searchsorted(c, 0.5 * c[-1])])


def _site_obstructed(att, x, y, r, typ_peak):
    """Whether the disc of radius ``r`` (px) at an empty site is covered by dense material.

    An empty site shows its copper pad at a small fraction of a ball's
    attenuation; most of the disc standing at half a ball's peak or more
    means something else lies across it.
    """
    h, w = att.shape
    xi, yi = int(round(x)), int(round(y))
    y0, y1, x0, x1 = max(yi - r, 0), min(yi + r + 1, h), max(xi - r, 0), min(xi + r + 1, w)
    if y1 <= y0 or x1 <= x0 or not np.isfinite(typ_peak):
        return False
    yy, xx = np.mgrid[y0:y1, x0:x1]
    disc = (yy - yi) ** 2 + (xx - xi) ** 2 <= r * r
    return bool(np.median(att[y0:y1, x0:x1][disc]) >= 0.5 * typ_peak)


#: An empty site whose centre stands this fraction of a ball's peak above its
#: surroundings shows a bare pad: a missing ball (64 dev frames: missing sites
#: 0.02-0.10, 1,400 other empty sites at most 0.046).
GHOST_FRACTION = 0.05
#: ... and at least this many times the noise of its surroundings.
GHOST_SIGMAS = 4.0
#: A disc this many noise sigmas above its surroundings is a pad whatever the
#: ball peak: an 8-bit export that clips ball centres inflates the typical peak
#: (5.8 against 0.9-1.7 unclipped), and a bare pad 13 sigmas clear of the
#: noise measured 0.015 of it; the bare pads of 7 missing balls on the
#: development frames stood 6-8 sigmas clear at 0.014-0.045 of it (10 sigmas
#: found none of them).
GHOST_STRONG_SIGMAS = 5.0
#: ... when it also stands GHOST_STRONG_CLEAR_SIGMAS above this percentile of
#: its ring: a trace that ends on the site lifts a sector of the ring, a pad
#: none (a trace end on an empty site: 9 sigmas by the medians, -0.8 over the
#: 95th percentile; the bare pads 2.1-7.2 over it).
GHOST_RING_PERCENTILE = 95
GHOST_STRONG_CLEAR_SIGMAS = 2.0
#: Every bare pad stands at least this many noise sigmas over that percentile
#: of its ring. A trace running across an empty site is as dense in the disc
#: as where it crosses the ring: on 450 development frames the 21 sites of
#: the depopulated centres that traces crossed measured -9.2 to +0.1, the bare
#: pads of 8-bit exports (quantised, so least clear) 2.1-2.6.
GHOST_CLEAR_SIGMAS = 1.0


#: A site by the frame's edge is read on the part of its disc and ring inside
#: the frame when that part holds at least this share of each (a site centred
#: on the last column still shows half its pad); None: only sites whose whole
#: ring lies in the frame are read.
GHOST_EDGE_SHARE = 0.45


#: A missing ball's bare pad beside a part on the board's far side is read
#: against the board round it, the part's pixels (solder-like density near
#: its shadow or a plate left out of the joints) left out of the ring (False:
#: the part is read as ring, and the pad never stands clear of it).
GHOST_BESIDE_PARTS = True
#: A site a stitching band crosses is read on the part of its disc 2 px or
#: more clear of the band when that part holds at least this share of the
#: disc (None: the disc must be clear of bands). Development frame
#: (6,760,000, 45), 2048 px, JPEG: a band across the lower third of a missing
#: ball's bare pad; it was not called.
GHOST_BAND_SHARE = 0.5
#: A site is taken (not read for a pad) when joint pixels cover more than
#: this share of its centre disc (0.5 ball radius; a ball on the site covers
#: all of it); None: any joint pixel there takes it. A neighbouring via
#: ring's wall reaching over the disc's edge does not hide the pad, which is
#: read on the free pixels. Development frame (6,880,000, 5), 2048 px: the
#: missing corner ball (29, 0), its bare pad 5.7 noise sigmas and 0.059 of a
#: ball's peak over its ring, was not called because a via ring's wall
#: covered a few pixels of the disc; on 1,004 development frames (16 sets)
#: that was the only call that moved.
GHOST_TAKEN_SHARE = 0.25


def _parts_near(att, shadows, parts, d_site, typ_peak):
    """Pixels of parts on the board's far side, bool image, or None where there are none.

    ``parts`` holds the shadow finder's pieces (``shadows``) and the plates
    left out of the joints for their size. The pieces lie in the gaps, cut
    short of every site by 0.15 ball diameters and the blur; they are grown
    by 0.3 diameters and kept where the attenuation stands at
    :data:`SHADOW_LEVEL` of the typical peak or more (the part, not the board
    beside it); the plates are taken whole.
    """
    if not GHOST_BESIDE_PARTS or SHADOW_LEVEL is None or parts is None \
            or not (d_site > 0 and np.isfinite(typ_peak)):
        return None
    import cv2

    out = parts.copy()
    if shadows is not None and shadows.any():
        k = 2 * int(np.ceil(0.3 * d_site)) + 1
        grown = cv2.dilate(shadows.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        out |= grown & (att >= SHADOW_LEVEL * typ_peak)
    if not out.any():
        return None
    # ... and the blurred flank round them, above a bare pad's level still
    k = 2 * max(2, int(np.ceil(0.1 * d_site))) + 1
    return cv2.dilate(out.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


def _ghost_pad_sites(att, valid, labels, fit, to_frame, skip, r_ball, typ_peak, foreign=None):
    """Lattice sites with no ball but a bare pad's faint disc, (row, col) list.

    A missing ball leaves its copper pad (and flux or paste residue) on the
    board: a faint disc the size of the pad at the site. Designed-out sites
    have no pad. The disc (radius 0.6 ball radius) is compared with a ring
    1.0-1.4 ball radii out, both without joint pixels; the disc must be clear of
    stitching bands, the ring is read where it is (half of it at least).

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation.
    valid : ndarray of bool
    labels : ndarray of int
        Joint labels; a site with joint pixels near its centre is not empty.
    fit : GridFit
    to_frame : callable
        Lattice (band-free) coordinates to frame pixels.
    skip : set of (int, int)
        Sites already taken or expected.
    r_ball : float
        Typical ball radius, px.
    typ_peak : float
        Typical ball peak attenuation.
    foreign : ndarray of bool, optional
        Pixels of something that is not board (a part on the board's far
        side): left out of the disc and the ring like joint pixels; a site
        whose disc is more than half in them is not read (the part hides its pad).

    Returns
    -------
    list of (int, int)
    """
    import cv2

    if not (r_ball >= 2 and np.isfinite(typ_peak) and typ_peak > 0):
        return []
    h, w = att.shape
    R = int(np.ceil(1.4 * r_ball)) + 1
    yy, xx = np.mgrid[-R:R + 1, -R:R + 1]
    rr = np.hypot(yy, xx)
    centre, inner, ring = rr < 0.5 * r_ball, rr < 0.6 * r_ball, (rr > r_ball) & (rr < 1.4 * r_ball)
    out = []
    for r in range(fit.rows):
        for c in range(fit.cols):
            if (r, c) in skip:
                continue
            x, y = to_frame(fit.site_xy(r, c)[None])[0]
            xi, yi = int(round(x)), int(round(y))
            if GHOST_EDGE_SHARE is None:
                if not (R <= xi < w - R and R <= yi < h - R):
                    continue
            elif not (0 <= xi < w and 0 <= yi < h):
                continue
            # a site by the frame's edge is read on the part of it in the frame
            y0, y1, x0, x1 = max(yi - R, 0), min(yi + R + 1, h), max(xi - R, 0), min(xi + R + 1, w)
            cut = (slice(y0 - yi + R, y1 - yi + R), slice(x0 - xi + R, x1 - xi + R))
            centre_w, inner_w, ring_w = centre[cut], inner[cut], ring[cut]
            if (y1 - y0, x1 - x0) != centre.shape and (
                    inner_w.sum() < GHOST_EDGE_SHARE * inner.sum() or ring_w.sum() < GHOST_EDGE_SHARE * ring.sum()):
                continue
            win = (slice(y0, y1), slice(x0, x1))
            lab, a, ok = labels[win], att[win], valid[win]
            if foreign is not None:
                # a part beside the site is as dense as solder: read the board
                # round it, not the part (a part on the pad hides the pad)
                part = foreign[win]
                if part[inner_w].mean() > 0.5 or (ok & ~part)[ring_w].mean() < 0.5:
                    continue
                ok = ok & ~part
            # a stitching band beside the site takes part of its ring, not
            # its pad: the ring's valid part is read (at least half of it)
            taken = lab[centre_w] > 0
            if taken.any() if GHOST_TAKEN_SHARE is None else (taken.mean() > GHOST_TAKEN_SHARE):
                continue
            if not valid[win][inner_w].all():
                if GHOST_BAND_SHARE is None:
                    continue
                # a band across the pad: the pad is read where it is, clear
                # of the band's seam, as long as most of it is
                seamless = cv2.erode(valid[win].view(np.uint8), np.ones((5, 5), np.uint8)) > 0
                if seamless[inner_w].mean() < GHOST_BAND_SHARE:
                    continue
                ok = ok & seamless
            if ok[ring_w].mean() < 0.5:
                continue
            free = (lab == 0) & ok
            di, ri = a[inner_w & free], a[ring_w & free]
            if di.size < 5 or ri.size < 5:
                continue
            contrast = float(np.median(di)) - float(np.median(ri))
            noise = mad_sigma(ri)
            # past the fraction test on strength alone only when the disc stands
            # above all of its ring, not just its median: a trace's end on the
            # site lifts one side of the ring
            clear = float(np.median(di)) - float(np.percentile(ri, GHOST_RING_PERCENTILE))
            if clear < GHOST_CLEAR_SIGMAS * noise:
                continue
            strong = contrast >= GHOST_STRONG_SIGMAS * noise and clear >= GHOST_STRONG_CLEAR_SIGMAS * noise
            if contrast >= GHOST_SIGMAS * noise and (contrast >= GHOST_FRACTION * typ_peak or strong):
                out.append((r, c))
    return out


#: A stray ball's centre stands at least this fraction of its own peak (a ring's
#: centre, even blurred, dips below it). A sphere peaks at its centre: true
#: strays measured 0.95-1.0 on the development sets, save one large splash
#: (0.80); small dog-bone via rings blurred to 0.80-0.85 (7 false extras in
#: one JPEG frame at 0.8). 0.85 since 2026-12-06: a stray crossed by board
#: traces peaks where a trace crosses it, its centre at 0.89 of that
#: (development frame (6,950,000, 85)); the raw-centre test below, added since,
#: keeps small via rings out (no false extra at 0.85 on 560 development frames:
#: 6,700,000+200, 6,950,000+160, 40 oblique, 30 double-sided, 16 at 2048 px and
#: the 44 files).
STRAY_CENTRE = 0.85
#: ... and on the unsmoothed map, its centre pixel at least this fraction of the
#: 90th percentile of its top (None: no such test). A small via ring's hole,
#: 1-2 px, is filled by the smoothing (0.97 of the peak on a dog-bone via of a
#: development frame) but not in the map itself (0.53-0.90 on 40 development
#: frames, where true stray balls read 0.95 or more).
STRAY_RAW_CENTRE = 0.9
#: In a slice a stray ball is read as a flat disc (:func:`_stray_top`'s
#: ``flat``): its centre pixel against its top's 90th percentile failed on
#: noise alone (a development slice's stray at 0.85 of its top, 6,965,000+11).
SLICE_FLAT_STRAYS = True
#: ... its 3 x 3 middle at this share of its top's median level or more, on
#: both maps: a slice's disc is cupped (its middle stands at 0.89-0.93 of its
#: top on development slices, 6,967,000+92), a via barrel's cross-section is
#: a ring round an empty drill hole (the board's level, well under half).
SLICE_STRAY_MIDDLE = 0.7
#: ... and its peak no more than this multiple of the typical ball's: a slice
#: shows material, not height, and the reconstruction's edge overshoot lifts a
#: small disc most (a 7 px stray at 1.32 x, 6,967,000+22); copper and
#: solder stand alike, only a denser metal above it.
SLICE_STRAY_MAX_PEAK = 1.6
#: ... both read on its pixels above this fraction of its own peak (the top of a
#: sphere is a disc, a crossing trace's a line) ...
STRAY_TOP_FRACTION = 0.5
#: ... or, where that top fails, above this fraction (None: no second reading):
#: a trace under a stray ball stands above half its peak, and the top read at
#: half ran out along it (development frame (6,700,000, 139): a 16 px stray on
#: a trace at 0.5-0.6 of its peak, the top's centroid 10 px off the peak).
STRAY_TOP_RETRY = 0.6
#: ... where the top narrows as a dome's: above STRAY_DOME_LEVEL of the peak
#: it holds at most STRAY_DOME_SHARE of its pixels above STRAY_TOP_RETRY (a
#: sphere's 0.56 at 0.8 over 0.6, a blurred one's less; where two traces
#: overlap the top is a plateau: 0.73 on oblique development frame
#: (6,980,000, 16), read as a stray without this test; the stray of (6,700,000,
#: 139): 0.57).
STRAY_DOME_LEVEL = 0.8
STRAY_DOME_SHARE = 0.65
#: ... whose circularity must exceed this.
STRAY_ROUNDNESS = 0.55
#: ... and the ring 1-2 px outside that top stays under this fraction of its
#: peak (90th percentile): a sphere falls away on every side, a piece of a
#: ring or a trace keeps its arms.
STRAY_ARMS = 0.7
#: ... and its peak is at most this multiple of the typical ball peak (a smaller
#: sphere of the same alloy cannot be denser; what is, is a part or a via).
STRAY_MAX_PEAK = 1.3
#: ... and it lies within this many pitches of the outer sites (the package's
#: footprint; what lies beyond belongs to another part).
STRAY_MARGIN = 1.0
#: An off-site joint this close (px) to a stitching band or a no-signal area is
#: cut by it: reported partial, never extra (None: only those touching it, 1 px).
#: The dark core of a windowed export's ball runs into a black band, which is
#: then found a few px narrower than it is: a sliver of a ball on a site cut by
#: the band, 7 px wide, lay 2 px from it and was called stray solder (oblique
#: PNG-8 development frame (6,980,000, 10), twice).
STRAY_BAND_CLEARANCE_PX = 2


def _stray_top(masks, att, att_raw, k, fraction, flat=False):
    """Whether joint ``k``'s top above ``fraction`` of its peak is a sphere's: ``(is_stray, (x, y), radius)``.

    ``(x, y)`` is the top's centroid and ``radius`` that of the sphere whose
    top it is, px; None when the top has under 3 px. A sphere's top is round
    (:data:`STRAY_ROUNDNESS`), highest at its centre (:data:`STRAY_CENTRE`,
    on the unsmoothed map too) and falls away on every side
    (:data:`STRAY_ARMS`). With ``flat`` (a slice: a stray ball is a disc,
    level to its edge, noise on it) its centre stands at the top's level
    rather than above it: the 3 x 3 mean at its centre is read against the
    top's median, on both maps (a via barrel's drill hole still reads low).
    """
    h, w = att.shape
    top, x0, y0 = _dense_top(masks, att, k, fraction)
    ys, xs = np.nonzero(top)
    if ys.size < 3:
        return None
    centre = (xs.mean() + x0, ys.mean() + y0)
    radius = np.sqrt(ys.size / np.pi) / np.sqrt(1 - fraction ** 2)
    cyi = min(max(int(round(centre[1])), 0), h - 1)
    cxi = min(max(int(round(centre[0])), 0), w - 1)
    if flat:
        def level(a):
            return float(np.median(a[y0:y0 + top.shape[0], x0:x0 + top.shape[1]][top.view(bool)]))

        def middle(a):
            return float(a[max(cyi - 1, 0):cyi + 2, max(cxi - 1, 0):cxi + 2].mean())

        ok = middle(att) >= SLICE_STRAY_MIDDLE * level(att) and _roundness(top) > STRAY_ROUNDNESS
        if att_raw is not None:
            ok = ok and middle(att_raw) >= SLICE_STRAY_MIDDLE * level(att_raw)
    else:
        ok = bool(att[cyi, cxi] >= STRAY_CENTRE * masks.peak[k]) and _roundness(top) > STRAY_ROUNDNESS
        ok = ok and _raw_centre_stands(att_raw, top, x0, y0, cxi, cyi)
    # a sphere falls away on every side of its top; a piece cut out of a ring
    # or a trace keeps its arms (as dense as the piece) beyond it
    ok = ok and _ring_level(att, ys + y0, xs + x0, 0, 2) <= STRAY_ARMS * masks.peak[k]
    return ok, centre, radius


def _dome_shaped(masks, att, k, fraction):
    """Whether joint ``k``'s top narrows as a dome's from ``fraction`` of its peak to
    :data:`STRAY_DOME_LEVEL` of it (:data:`STRAY_DOME_SHARE`)."""
    low = np.count_nonzero(_dense_top(masks, att, k, fraction)[0])
    high = np.count_nonzero(_dense_top(masks, att, k, STRAY_DOME_LEVEL)[0])
    return high <= STRAY_DOME_SHARE * low


def _stray_solder(masks, att, fit, fit_pts, rc, att_raw=None, flat=False):
    """Which joints off every site look like stray solder balls.

    Parameters
    ----------
    masks : JointMasks
    att : ndarray
        Smoothed attenuation map.
    fit : GridFit or None
    fit_pts : ndarray, shape (n + 1, 2)
        Joint centroids in lattice-fit (band-free) coordinates, px.
    rc : ndarray, shape (n + 1, 2)
        Assigned site per joint (-1 none).
    att_raw : ndarray, optional
        Unsmoothed attenuation map, for the centre test of
        :data:`STRAY_RAW_CENTRE`.
    flat : bool
        The frame is a slice: a stray ball is a flat disc, not a dome
        (:func:`_stray_top`'s ``flat``, :data:`SLICE_STRAY_MAX_PEAK`; the retry
        higher up its top is read as a dome's, as before).

    Returns
    -------
    stray : ndarray of bool, shape (n + 1,)
        Off-site joints that look like stray solder balls.
    centre : ndarray, shape (n + 1, 2)
        Centre (x, y), px, of the dense top of each off-site joint that
        passes the peak and footprint tests, where its peak is (the mask's
        centroid for the others).
    radius : ndarray, shape (n + 1,)
        Radius, px, of the sphere whose top that is (0 for the others): a
        sphere's projection falls to half its peak at sqrt(3)/2 of its radius.

    A via ring holding a stray ball in its hole (:func:`_ball_in_ring`)
    becomes that ball: its label is moved from the ring's pixels to the
    ball's (``masks`` is updated in place).
    """
    h, w = att.shape
    n = masks.n
    flat = flat and SLICE_FLAT_STRAYS
    out = np.zeros(n + 1, bool)
    centre = np.stack([masks.cx, masks.cy], 1).astype(float)
    radius = np.zeros(n + 1)
    # centre and shape are taken from the joint's dense top, not its whole
    # mask: a small stray's mask, grown to a fraction of its own faint peak,
    # runs out into the skirts of the balls around it, which moved its
    # centroid 2-3 px off the peak (0.72-0.83 of it on the development
    # frames) and made it ragged (circularity 0.14-0.52). A ring's dense top
    # is the ring itself, centred on its hole, as before. The cheap tests run
    # first, on every joint at once; the top is read only for those that pass.
    cand = (rc[:, 0] < 0) & (masks.peak > 0)
    cand[0] = False
    on = rc[:, 0] >= 0
    on[0] = False
    typ_peak = float(np.median(masks.peak[on])) if on.any() else np.inf
    # off-site joints in the footprint that may be a via ring holding a stray
    # ball: denser than a ball (which the peak test below drops) or not
    ringed = cand.copy()
    if on.any():
        cand &= masks.peak <= (SLICE_STRAY_MAX_PEAK if flat else STRAY_MAX_PEAK) * typ_peak
    if fit is not None:
        basis = np.stack([fit.u, fit.v], 1)
        c, r = np.linalg.solve(basis, (fit_pts - fit.origin).T)
        m = STRAY_MARGIN
        inside = (r >= -m) & (r <= fit.rows - 1 + m) & (c >= -m) & (c <= fit.cols - 1 + m)
        cand &= inside
        ringed &= inside
    for k in np.flatnonzero(cand).tolist():
        reading = _stray_top(masks, att, att_raw, k, STRAY_TOP_FRACTION, flat=flat)
        if reading is None:
            continue
        out[k], centre[k], radius[k] = reading
        if not out[k] and STRAY_TOP_RETRY is not None:
            # a trace or a ring under a stray lifts its top's flank above half
            # its peak: the top read higher up stands clear of it
            again = _stray_top(masks, att, att_raw, k, STRAY_TOP_RETRY)
            if again is not None and again[0] and _dome_shaped(masks, att, k, STRAY_TOP_RETRY):
                out[k], centre[k], radius[k] = again
        if not out[k] and STRAY_HOLE_ROUNDNESS is not None:
            hole = _top_in_hole(masks, att, k, att_raw)
            if hole is not None:
                out[k] = True
                centre[k] = hole[0], hole[1]
                radius[k] = hole[2]
    for k in np.flatnonzero(ringed & ~out).tolist():
        found = _ball_in_ring(masks, att, k, typ_peak, on)
        if found is None:
            continue
        # the joint becomes the ball: the ring is copper, not solder
        bx, by, br, (py, px), others = found
        x0, y0, x1, y1 = masks.bbox[k]
        sub = masks.labels[y0:y1, x0:x1]
        sub[sub == k] = 0
        for j in others.tolist():
            # other arcs of the same ring: copper too
            jx0, jy0, jx1, jy1 = masks.bbox[j]
            sj = masks.labels[jy0:jy1, jx0:jx1]
            sj[sj == j] = 0
            masks.area_px[j] = 0.0
            masks.peak[j] = 0.0
            out[j] = False
        masks.labels[py, px] = k
        masks.bbox[k] = [min(x0, px.min()), min(y0, py.min()), max(x1, px.max() + 1), max(y1, py.max() + 1)]
        masks.area_px[k] = float(py.size)
        masks.cx[k], masks.cy[k] = bx, by
        masks.peak[k] = float(att[py, px].max())
        out[k] = True
        centre[k] = bx, by
        radius[k] = br
    return out, centre, radius


def _ring_level(att, ys, xs, inner, outer):
    """90th percentile of ``att`` on the ring ``inner + 1`` to ``outer`` px round the pixels ``ys, xs``.

    Square rings (chessboard distance), px; ``inner`` 0: everything round
    the pixels out to ``outer``. ``inf`` when the ring holds no pixel.
    """
    import cv2

    h, w = att.shape
    ya, yb = max(int(ys.min()) - outer, 0), min(int(ys.max()) + outer + 1, h)
    xa, xb = max(int(xs.min()) - outer, 0), min(int(xs.max()) + outer + 1, w)
    blob = np.zeros((yb - ya, xb - xa), np.uint8)
    blob[ys - ya, xs - xa] = 1
    core = blob if inner == 0 else cv2.dilate(blob, np.ones((2 * inner + 1,) * 2, np.uint8))
    ring = (cv2.dilate(blob, np.ones((2 * outer + 1,) * 2, np.uint8)) > 0) & (core == 0)
    return float(np.percentile(att[ya:yb, xa:xb][ring], 90)) if ring.any() else math.inf


def _roundness(top):
    """Circularity of a bool mask's pixels against its longest outer contour."""
    import cv2

    cnts, _ = cv2.findContours(top.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    perim = max(cv2.arcLength(c, True) for c in cnts) if cnts else 0.0
    return circularity(np.array([float(np.count_nonzero(top))]), np.array([perim]))[0]


def _raw_centre_stands(att_raw, top, x0, y0, xc, yc, fraction=None):
    """Whether the unsmoothed map at ``(xc, yc)`` (frame px) reaches ``fraction`` of its top's 90th percentile.

    The smoothing fills the 1-2 px hole of a small via ring: the unsmoothed
    map still shows it (a sphere's centre is its peak). ``top`` (bool) has
    its corner at ``(x0, y0)``; ``fraction`` is :data:`STRAY_RAW_CENTRE` when
    not given. True when there is no such test or map.
    """
    fraction = STRAY_RAW_CENTRE if fraction is None else fraction
    if att_raw is None or fraction is None:
        return True
    top_raw = att_raw[y0:y0 + top.shape[0], x0:x0 + top.shape[1]][top.view(bool)]
    return bool(att_raw[yc, xc] >= fraction * np.percentile(top_raw, 90))


#: A stray ball inside a denser ring (a via barrel it lies in or on): its top,
#: cut where the ring rises past it, must be at least this round (None: such
#: balls are not looked for). The ring's pixels lift the whole joint's top
#: and its arms, so the tests above fail on it; a trace or a ring's own arc
#: cut the same way stays a line or an arc.
STRAY_HOLE_ROUNDNESS = 0.8
#: ... and walled in: along at least this share of HOLE_RAYS rays from its
#: centre the map climbs to HOLE_WALL x the top's centre within HOLE_REACH of
#: the top's radii.
HOLE_WALLED_SHARE = 0.9
HOLE_RAYS = 16
HOLE_WALL = 1.25
HOLE_REACH = 3.0


def _top_in_hole(masks, att, k, att_raw=None):
    """The top of a sphere lying inside a denser ring, ``(x, y, radius)`` px, or None.

    The joint's centre must stand at :data:`STRAY_CENTRE` of its core's peak
    (an empty ring's hole does not). The top is the pixels of joint ``k``
    connected to its centre and between :data:`STRAY_TOP_FRACTION` and 1.1 x
    the centre's attenuation (above that is the ring), opened by a 3 x 3 disc
    to cut the ring's blurred flank off it. A sphere's top is a round disc
    whose highest point is its centre.
    """
    import cv2

    x0, y0, x1, y1 = masks.bbox[k]
    own = masks.labels[y0:y1, x0:x1] == k
    a = att[y0:y1, x0:x1]
    cx, cy = int(round(masks.cx[k])) - x0, int(round(masks.cy[k])) - y0
    if not (0 <= cy < a.shape[0] and 0 <= cx < a.shape[1]) or not own[cy, cx]:
        return None
    c = float(a[cy, cx])
    if not (c > 0 and c >= STRAY_CENTRE * masks.peak[k]):
        return None
    band = (own & (a >= STRAY_TOP_FRACTION * c) & (a <= 1.1 * c)).astype(np.uint8)
    band = cv2.morphologyEx(band, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    _, lab = cv2.connectedComponents(band)
    if lab[cy, cx] == 0:
        return None
    top = lab == lab[cy, cx]
    ys, xs = np.nonzero(top)
    if ys.size < 5 or c < STRAY_CENTRE * float(a[top].max()):
        return None
    if _roundness(top) < STRAY_HOLE_ROUNDNESS:
        return None
    x, y = xs.mean(), ys.mean()
    # walled in: every way out of the top climbs onto the denser ring within
    # a few of its radii (a crossing of two rings or traces, cut at the same
    # levels, opens to the board between them)
    r_top = np.sqrt(ys.size / np.pi)
    theta = np.linspace(0, 2 * np.pi, HOLE_RAYS, endpoint=False)[:, None]
    rad = np.arange(r_top, HOLE_REACH * r_top + 1, 0.5)[None, :]
    py = np.clip(np.round(y + y0 + rad * np.sin(theta)).astype(int), 0, att.shape[0] - 1)
    px = np.clip(np.round(x + x0 + rad * np.cos(theta)).astype(int), 0, att.shape[1] - 1)
    walled = (att[py, px] >= HOLE_WALL * c).any(axis=1)
    if walled.mean() < HOLE_WALLED_SHARE:
        return None
    if not _raw_centre_stands(att_raw, top, x0, y0, int(round(x)) + x0, int(round(y)) + y0):
        return None
    return x + x0, y + y0, r_top / np.sqrt(1 - STRAY_TOP_FRACTION ** 2)


#: A stray ball lying in the hole of a via ring denser than itself (None: not
#: looked for). The ring is the joint, and every test above reads the ring;
#: the ball lifts the board level inside its hole. The hole is read this many
#: px in from the ring's dense part, past the ring's blurred flank ...
RING_FLANK_PX = 3
#: ... the dense part being what stands above this fraction of the ring's peak ...
RING_LEVEL = 0.3
#: ... or, where no ball is found at that level, above this fraction of the
#: ring's own densest pixel (None: only the first). The joint's peak is its
#: solder's, thin copper left out: where the ring is thin enough to be left out,
#: that peak can be the stray ball's own top, and the ball then joined the ring
#: at any fraction of it (zoomed development frames (6,700,000, 4) and (6,700,000,
#: 62): rings 0.8-1.0 of the typical ball's peak, strays 0.3-0.4, the hole read as
#: the crescent beside the ball). At half the ring's top - its wall's half-maximum
#: width - the ball stands below the wall.
RING_LEVEL_HIGH = 0.5
#: ... and must hold at least this many px after that ...
RING_HOLE_MIN_PX = 12
#: ... or after this smaller flank, px (None: no second reading): a 9 px stray
#: in a hole not much wider (2048 px development frame 6,720,000+35, 35 px
#: balls) left 4-8 px past 3 px.
RING_FLANK_SMALL_PX = 2
#: The joint must be the ring alone: a ring merged with more solder beyond it
#: than this share of its own pixels lies on a ball, which shows through its hole.
RING_BEYOND = 0.25
#: The ball: at least this share of the hole (and 6 px) standing this fraction
#: of the typical ball's peak above the board round the ring (a stray ball
#: 0.2-0.4 of a ball across stands 0.25-0.5 of its peak; an empty hole reads
#: the board) ...
RING_BALL_SHARE = 0.2
RING_BALL_LEVEL = 0.15
#: ... not level: its 90th percentile above the board at least this multiple
#: of its 10th. A sphere seen whole falls from its centre to its rim; a via's
#: pad seen through its hole (a cone beam shifts the top pad against the
#: barrel) or a plugged via is level, blur its only relief: 1.19-1.46 on
#: development frames, against 1.58-1.76 for stray balls in holes ...
RING_BALL_RELIEF = 1.5
#: ... convex (pixels over its hull's): the visible part of a sphere is a
#: disc, or a disc cut by the ring (a lens); a pad's annulus seen through the
#: hole is a crescent (0.66-0.70 on development frames, strays 0.95-1.0) ...
RING_BALL_SOLIDITY = 0.85
#: ... and at most this much longer than wide (square root of its second
#: moments' ratio): a lens cut from a disc by the ring stays short (strays
#: 1.0-1.7); a trace crossing the hole is a band (2.4-2.7 on development frames).
RING_BALL_ELONGATION = 2.0


#: ... and, where neither finds a ball, these fractions of the ring's densest
#: pixel, with what stands apart from the wall inside the hole taken for the
#: hole's content (None: no such tries). A stray as dense as a thin ring's wall
#: lay against it, joined to it up to 0.63 of the ring's top, and filled the
#: hole at both levels above (development frame (6,700,000, 121): a 17 px
#: stray in a ring of 0.4 of a ball's peak).
RING_ISLAND_LEVELS = (0.6, 0.7)


def _without_islands(ring):
    """``ring`` (uint8 0/1) less its pieces that lie inside holes the other pieces enclose."""
    import cv2

    n, cc = cv2.connectedComponents(ring, connectivity=8)
    if n <= 2:
        return ring
    out = ring.copy()
    for c in range(1, n):
        piece = cc == c
        if fill_holes((cc > 0) & ~piece)[piece].all():
            out[piece] = 0
    return out


def _ball_in_ring(masks, att, k, typ_peak, seated):
    """A stray ball in the hole of the via ring that is joint ``k``: ``(x, y, radius, pixels)`` or None.

    ``pixels`` are ``(ys, xs)`` frame px of the ball's part seen in the hole;
    ``x, y`` their centroid and ``radius`` their equivalent radius, px.
    ``typ_peak`` is the typical ball's peak attenuation; ``seated`` (bool per
    joint label) marks the balls on sites: a ring touching one, or merged
    with solder beyond it (:data:`RING_BEYOND`), can show that ball's edge
    through its hole, and is not read. The ring is read at
    :data:`RING_LEVEL` of the joint's peak, then at :data:`RING_LEVEL_HIGH`
    and :data:`RING_ISLAND_LEVELS` of its densest pixel, until a ball is found.
    """
    if RING_FLANK_PX is None or not np.isfinite(typ_peak) or masks.peak[k] <= 0:
        return None
    found = _ball_in_ring_at(masks, att, k, typ_peak, seated, RING_LEVEL * masks.peak[k])
    if found is None and RING_LEVEL_HIGH is not None:
        # the joint's peak leaves thin copper out (it is the solder's): the
        # ring's own top is its densest pixel
        x0, y0, x1, y1 = masks.bbox[k]
        own = masks.labels[y0:y1, x0:x1] == k
        if own.any():
            top = float(att[y0:y1, x0:x1][own].max())
            found = _ball_in_ring_at(masks, att, k, typ_peak, seated, RING_LEVEL_HIGH * top, pieces=True)
            for frac in RING_ISLAND_LEVELS or ():
                # a stray as dense as the ring's wall, joined to it low down:
                # higher up it stands apart, an island in the ring's hole
                if found is not None:
                    break
                found = _ball_in_ring_at(masks, att, k, typ_peak, seated, frac * top, pieces=True, islands=True)
    return found


def _ball_in_ring_at(masks, att, k, typ_peak, seated, level, pieces=False, islands=False):
    """:func:`_ball_in_ring` with the ring's dense part above ``level`` (attenuation).

    With ``pieces``, the other joints off every site count as the ring where
    they are that dense, and the box is grown by half the joint's own size: a
    ring the segmentation cut into arcs (a stray ball in its hole joined to
    one of them) is whole again.

    With ``islands``, what stands above ``level`` apart from the ring's wall,
    inside its hole, is the hole's content, not ring.

    Returns ``(x, y, radius, (ys, xs), others)`` as :func:`_ball_in_ring`,
    ``others`` the labels of the other joints that are part of the ring
    (empty without ``pieces``), or None.
    """
    import cv2

    h, w = att.shape
    pad = 2 * RING_FLANK_PX + 3
    x0, y0, x1, y1 = masks.bbox[k]
    if pieces:
        pad = max(pad, (max(x1 - x0, y1 - y0) + 1) // 2)
    x0, y0, x1, y1 = max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h)
    lab = masks.labels[y0:y1, x0:x1]
    a = att[y0:y1, x0:x1]
    own = lab == k
    mine = own
    if pieces:
        mine = own | ((lab > 0) & ~seated[lab])
    # the ring: its dense part, closed over the 1 px gaps noise leaves in it
    # (and with any of it the segmentation left unlabelled: a thin arc)
    ring = cv2.morphologyEx((((lab == 0) | mine) & (a >= level)).view(np.uint8),
                            cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    # the hole: what the dense ring encloses (background not reached from
    # outside the box: a ring cut by the frame's edge encloses nothing)
    filled = fill_holes(ring)
    if islands:
        ring = _without_islands(ring)
    hole = filled & (ring == 0)
    if np.count_nonzero(hole) < RING_HOLE_MIN_PX:
        return None
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING_FLANK_PX + 1,) * 2)
    core = (cv2.erode(hole.view(np.uint8), ker) > 0) & ((lab == 0) | mine)
    n_core = np.count_nonzero(core)
    if n_core < RING_HOLE_MIN_PX and RING_FLANK_SMALL_PX is not None:
        # a small hole that a stray fills leaves little past the flank: read
        # it closer to the wall before giving up
        small = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING_FLANK_SMALL_PX + 1,) * 2)
        core = (cv2.erode(hole.view(np.uint8), small) > 0) & ((lab == 0) | mine)
        n_core = np.count_nonzero(core)
    if n_core < RING_HOLE_MIN_PX:
        return None
    near = cv2.dilate(filled.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if seated[lab[near]].any() or np.count_nonzero(own & ~near) > RING_BEYOND * np.count_nonzero(ring):
        return None
    band = (cv2.dilate(filled.view(np.uint8), ker) == 0) & (lab == 0)
    if np.count_nonzero(band) < 8:
        return None
    board = float(np.median(a[band]))
    lift = a - board
    up = core & (lift >= RING_BALL_LEVEL * typ_peak) & (lift <= STRAY_MAX_PEAK * typ_peak)
    n_up, cc, stats, _ = cv2.connectedComponentsWithStats(up.view(np.uint8), connectivity=8)
    if n_up < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    part = cc == best
    size = int(stats[best, cv2.CC_STAT_AREA])
    if size < max(6, RING_BALL_SHARE * n_core):
        return None
    lo, hi = np.percentile(lift[part], [10, 90])
    if hi < RING_BALL_RELIEF * max(lo, 1e-9):
        return None
    ys, xs = np.nonzero(part)
    hull = np.zeros_like(ring)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.column_stack([xs, ys]).astype(np.int32)), 1)
    if size < RING_BALL_SOLIDITY * np.count_nonzero(hull):
        return None
    ev = np.linalg.eigvalsh(np.cov(np.vstack([xs, ys]).astype(float)))
    if ev[1] > RING_BALL_ELONGATION ** 2 * max(ev[0], 1e-9):
        return None
    others = np.unique(lab[(ring > 0) & (lab > 0) & ~own]) if pieces else np.zeros(0, lab.dtype)
    return xs.mean() + x0, ys.mean() + y0, float(np.sqrt(size / np.pi)), (ys + y0, xs + x0), others


#: Off-site blobs that repeat are a via fan-out, not stray solder: at least
#: this many at the centres between four sites (None: no such test) ...
VIA_PATTERN_MIN = 4
#: ... within this fraction of the pitch of those centres ...
VIA_PATTERN_PLACE = 0.15
#: ... alike within this fraction of their median diameter and peak. A dog-bone
#: via seen down its barrel through the board is a copper ring as dense as a
#: ball's side; one under a third of a ball across blurs into a solid dot that
#: passes every stray-ball test. Vias are drilled alike and placed on the
#: lattice between the balls; spilt solder balls differ in size.
VIA_PATTERN_SIZE = 0.3
VIA_PATTERN_PEAK = 0.3


#: ... or at least VIA_PATTERN_MIN of those centres hold a round dot (seen in
#: the image, called or not) and the calls there are alike in peak to those
#: dots (VIA_PATTERN_PEAK): most vias of a fan-out touch a ball, lie under a
#: trace or are cut by the frame and never become calls, so two or three
#: calls can be all that a pattern of ten shows (16-bit frames of the
#: independent renderer, scripts/altsim.py: 5 false extras in 2 of 24 frames).
VIA_PATTERN_DOTS = True
#: ... round: the second moments of a dot's top (above half its peak) differ
#: by at most this factor (a trace's stub between two pads stands at a
#: centre as well; on development frames such stubs outnumbered the dots).
VIA_DOT_ELONGATION = 2.0


def _centre_dots(att, fit, to_frame, level, radius, att_raw=None):
    """The round dots at the centres between four sites: ``(xy, peak)``, frame px and attenuation.

    A dot: the densest pixel within :data:`VIA_PATTERN_PLACE` of a pitch of
    the centre stands at ``level`` or more and the map falls below half of it
    within ``2 * radius + 1`` px on 7 of 8 rays (a sphere or a ring seen end
    on falls away on every side; a trace or a ball's skirt does not); its top
    (above half its peak) is round (:data:`VIA_DOT_ELONGATION`); and the centre of its top (above half its peak) stands at :data:`FAINT_CENTRE`
    of the peak, and on ``att_raw`` at :data:`FAINT_RAW_CENTRE` of the top's
    90th percentile (solid, as the calls it is compared with are: a via
    ring whose hole shows is another pattern).

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    fit : GridFit
    to_frame : callable
        The fit's band-free coordinates to frame px.
    level : float
        Least peak of a dot (attenuation).
    radius : float
        Radius of the dots looked for, px.
    att_raw : ndarray, optional
        Unsmoothed attenuation map.
    """
    import cv2

    h, w = att.shape
    rr, cc = np.meshgrid(np.arange(-1, fit.rows) + 0.5, np.arange(-1, fit.cols) + 0.5, indexing="ij")
    xy = to_frame(fit.site_xy(rr.ravel(), cc.ravel()))
    win = max(int(round(VIA_PATTERN_PLACE * fit.pitch_px)), 1)
    reach = 2 * radius + 1
    theta = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    steps = np.arange(1.0, reach + 0.5, 1.0)
    found, peaks = [], []
    for x, y in xy:
        xi, yi = int(round(x)), int(round(y))
        if not (win + reach < xi < w - win - reach - 1 and win + reach < yi < h - win - reach - 1):
            continue
        sub = att[yi - win:yi + win + 1, xi - win:xi + win + 1]
        k = int(np.argmax(sub))
        pk = float(sub.flat[k])
        if pk < level:
            continue
        py, px = yi - win + k // sub.shape[1], xi - win + k % sub.shape[1]
        ry = np.clip(np.round(py + np.sin(theta)[:, None] * steps).astype(int), 0, h - 1)
        rx = np.clip(np.round(px + np.cos(theta)[:, None] * steps).astype(int), 0, w - 1)
        falls = (att[ry, rx] < 0.5 * pk).any(axis=1)
        if falls.sum() < 7:
            continue
        # solid, as the calls it is compared with are: the centre of its top
        # (above half its peak) is where it is densest; a via ring seen end on
        # whose hole shows is another pattern
        q = int(np.ceil(reach))
        ya, xa = max(py - q, 0), max(px - q, 0)
        top = (att[ya:py + q + 1, xa:px + q + 1] >= 0.5 * pk).astype(np.uint8)
        _, lab = cv2.connectedComponents(top, connectivity=8)
        ys, xs = np.nonzero(lab == lab[py - ya, px - xa])
        if ys.size < 3:
            continue
        ev = np.linalg.eigvalsh(np.cov(np.stack([xs, ys])) + np.eye(2) / 12)
        if ev[1] > VIA_DOT_ELONGATION * ev[0]:
            continue                        # a trace's stub, not a barrel seen end on
        cy, cx = int(round(ys.mean())) + ya, int(round(xs.mean())) + xa
        if att[cy, cx] < FAINT_CENTRE * pk:
            continue
        if FAINT_RAW_CENTRE is not None and not _raw_centre_stands(
                att_raw, lab == lab[py - ya, px - xa], xa, ya, cx, cy, FAINT_RAW_CENTRE):
            continue
        found.append((px, py))
        peaks.append(pk)
    return np.array(found, float).reshape(-1, 2), np.array(peaks)


def _via_pattern(xy, diameter, peak, fit, collapse, att=None, to_frame=None, att_raw=None):
    """Which stray-ball calls form a via fan-out (:data:`VIA_PATTERN_MIN`), bool per call.

    Parameters
    ----------
    xy : ndarray, shape (m, 2)
        Centres of the calls, frame px.
    diameter, peak : ndarray, shape (m,)
        Their diameters (px) and peak attenuations.
    fit : GridFit
    collapse : callable
        Frame px to the fit's band-free coordinates.
    att : ndarray, optional
        Smoothed attenuation map, for the dots of :data:`VIA_PATTERN_DOTS`.
    to_frame : callable, optional
        The inverse of ``collapse``.
    att_raw : ndarray, optional
        Unsmoothed attenuation map (a dot must be solid on it).
    """
    m = len(xy)
    out = np.zeros(m, bool)
    if VIA_PATTERN_MIN is None or fit is None or m == 0:
        return out
    basis = np.stack([fit.u, fit.v], 1)
    c, r = np.linalg.solve(basis, (collapse(np.asarray(xy, float)) - fit.origin).T)
    centre = (np.abs(c - np.floor(c) - 0.5) < VIA_PATTERN_PLACE) & (np.abs(r - np.floor(r) - 0.5) < VIA_PATTERN_PLACE)
    if not centre.any():
        return out
    d = np.asarray(diameter, float)
    pk = np.asarray(peak, float)
    if centre.sum() >= VIA_PATTERN_MIN:
        md, mp = float(np.median(d[centre])), float(np.median(pk[centre]))
        if md > 0 and mp > 0:
            alike = centre & (np.abs(d / md - 1) <= VIA_PATTERN_SIZE) & (np.abs(pk / mp - 1) <= VIA_PATTERN_PEAK)
            if alike.sum() >= VIA_PATTERN_MIN:
                return alike
    if not VIA_PATTERN_DOTS or att is None or to_frame is None:
        return out
    mp = float(np.median(pk[centre]))
    if mp <= 0:
        return out
    dot_xy, dot_pk = _centre_dots(att, fit, to_frame, 0.5 * mp, 0.5 * float(np.median(d[centre])), att_raw)
    if dot_pk.size < VIA_PATTERN_MIN:
        return out
    # the calls are compared with the dots by the dots' own measure (the
    # densest smoothed pixel), each call by the dot it is
    typ = float(np.median(dot_pk))
    alike_dots = np.abs(dot_pk / typ - 1) <= VIA_PATTERN_PEAK
    if alike_dots.sum() < VIA_PATTERN_MIN:
        return out
    xy = np.asarray(xy, float)
    for i in np.flatnonzero(centre):
        gap = np.hypot(*(dot_xy - xy[i]).T)
        j = int(np.argmin(gap))
        out[i] = gap[j] <= VIA_PATTERN_PLACE * fit.pitch_px + 1 and alike_dots[j]
    return out


#: Faint stray balls: blobs above this fraction of the typical ball peak (and
#: FAINT_SIGMA noise sigmas) off every joint; None: no faint pass.
FAINT_FRACTION = 0.1
FAINT_SIGMA = 6.0
#: ... and looked for again above this lower fraction of a ball's peak.
FAINT_LOW_FRACTION = 0.05
#: ... covering at least this many pixels above that level.
FAINT_MIN_AREA = 4
#: ... with its centre within this fraction of its peak (a small via ring, blurred,
#: still dips at its hole; a sphere peaks there).
FAINT_CENTRE = 0.9
#: ... and the ring 1-2 px round it (90th percentile) under half its peak, or
#: under this fraction of the level it was cut at (None: the peak test alone).
#: A small or faint sphere cut above half its own peak (a 3 px stray at 0.07
#: of a ball's peak, cut at 0.05) has its rim at 0.5-0.7 of that peak, but
#: falls away below the cut on every side; a noise speck on a trace or on a
#: part's plateau does not. Development frames (6,700,000+200, 6,950,000+300),
#: candidates failing the half-peak test alone: 42 true strays at 0.72-0.94
#: of the level (median 0.81), 4,439 others at 0.845 or more (median 0.98).
FAINT_FALL = 0.8
#: ... and on the unsmoothed map its centre pixel at least this fraction of the
#: 90th percentile of its top (above half its peak); None: no such test. A
#: faint sphere's centre is its densest point; a small via ring seen down its
#: barrel keeps a hole there that the smoothing filled. Development frames
#: (6,700,000+200, 6,950,000+300): 468 candidates on true strays at 0.77-1.43,
#: one false at 0.67; 16-bit frames of the independent renderer
#: (scripts/altsim.py, 9,100,000+24): via rings at 0.29-0.49, strays at 0.94
#: or more. Looser than the joints' STRAY_RAW_CENTRE: a faint blob's centre
#: pixel carries several times the relative noise.
FAINT_RAW_CENTRE = 0.7
#: ... and on the unsmoothed map, its mean within 1 px of its centroid at
#: least this fraction of its mean 1.5-2.5 px out (None: no such test). The
#: single centre pixel above misses a via ring's hole that lies a pixel off the
#: blob's centroid: three via rings of an independent-renderer 16-bit frame
#: (9,900,012, 15 px balls) read 0.70-0.73 there and were called stray solder;
#: centre over ring they read 0.78-0.84. True strays read 1.05 or more
#: (33 of scripts/altsim.py's 9,900,000+40) and 1.00 or more (71 on
#: development frames (6,700,000, 100..179), the lowest on strays of 370-700
#: px, whose top is level out to 2.5 px; those under 60 px 1.07 or more).
FAINT_HOLE_RATIO = 0.9
#: A larger faint sphere (20-26 px at a quarter of a ball's peak, in a frame of
#: 100 px balls) is cut well above half its peak and its flank, widened by the
#: blur and the smoothing, still stands at 0.50-0.51 of its peak 1-2 px out,
#: failing :data:`FAINT_FALL`. Where a blob of at least pi * FAINT_FALL_FAR**2
#: px fails that test, the ring 3 to FAINT_FALL_FAR px round it is read
#: instead (None: the first ring alone) ...
FAINT_FALL_FAR = 4
#: ... and its 90th percentile must fall under this fraction of the blob's
#: peak: the strays read 0.06-0.26 there (3 on development frames), a crossing
#: of two traces keeps its arms at about half its peak (a limit of 0.5 took 24
#: crossings for strays on 6,700,000+200); a via ring's top, 9 px, is too
#: small to be read so.
FAINT_FAR_LEVEL = 0.3
#: ... and that ring starts where the sphere the blob is the top of ends (not
#: 2 px out): cut at a fraction f of its peak, a sphere's disc of radius r
#: reaches r / sqrt(1 - f^2), so a stray cut high up (a 21 px stray in a frame
#: whose board noise set the level at 0.72 of its peak, development frame
#: (6,850,000, 59)) still had its own flank at 0.34 of its peak 3-4 px out
#: (None: the ring FAINT_FALL_FAR - 2 px wide from 2 px out, as before).
FAINT_FAR_SPHERE = True
#: A faint blob this close to a joint's mask (px, square) is that joint's skirt,
#: not a stray (2 until 2026-12-06: a 4 px stray between four 13 px balls of
#: development frame (6,700,000, 86) lay 2 px from two of their masks; 1 px found
#: it and one in an oblique frame, and no false one on 400 development frames).
FAINT_CLEARANCE_PX = 1
#: The board's level and noise for the faint pass are read at least this far (px,
#: square) from every joint: read 1 px away, the skirts raised the level and a 3 px
#: stray of development frame (6,950,000, 279) was lost.
FAINT_BOARD_CLEARANCE_PX = 2


def _faint_strays(att, valid, labels, fit, fit_xy, typ_peak, med_area, att_raw=None):
    """Small stray solder balls too faint for the joint cores.

    A stray ball a third of a ball's size carries a third of its peak or less,
    and blur takes more: under the core level. They are looked for off every
    joint and at least a third of a pitch from every lattice site (a bare pad
    on an empty site is round and solid too), and must pass the stray-ball
    rules: solid, round, fainter than a ball, inside the footprint.

    Parameters
    ----------
    att : ndarray of float32
        Smoothed attenuation map.
    valid : ndarray of bool
    labels : ndarray of int
        Joint labels already found.
    fit : GridFit
    fit_xy : callable
        Frame px -> lattice-fit (band-free) px.
    typ_peak : float
        Typical ball peak attenuation.
    med_area : float
        Typical ball area, px.
    att_raw : ndarray, optional
        Unsmoothed attenuation map, for the hole test of
        :data:`FAINT_RAW_CENTRE`.

    Returns
    -------
    list of dict
        ``x_px, y_px, area_px, peak, contour`` per stray ball found.
    """
    import cv2

    if fit is None or not np.isfinite(typ_peak) or med_area <= 0:
        return []
    joint = (labels > 0).astype(np.uint8)

    def near_joint(px):
        side = 2 * px + 1
        return cv2.dilate(joint, np.ones((side, side), np.uint8)) > 0

    # the board's level and noise are read clear of the balls' skirts
    near = near_joint(FAINT_BOARD_CLEARANCE_PX)
    bg = att[valid & ~near]
    if bg.size < 100:
        return []
    sigma = mad_sigma(bg[::max(1, bg.size // 200_000)])
    base = float(median(bg)) + FAINT_SIGMA * sigma
    if FAINT_CLEARANCE_PX != FAINT_BOARD_CLEARANCE_PX:
        near = near_joint(FAINT_CLEARANCE_PX)
    out = []
    # two levels: the lower finds the faintest balls, the higher keeps a ball
    # whose skirt at the lower level runs into a neighbour's
    for frac in (FAINT_FRACTION, FAINT_LOW_FRACTION):
        for st in _faint_components(att, valid, near, max(frac * typ_peak, base), fit, fit_xy, typ_peak, med_area,
                                    att_raw):
            if all(np.hypot(st["x_px"] - o["x_px"], st["y_px"] - o["y_px"]) > 3 for o in out):
                out.append(st)
    return out


def _raw_hole(att_raw, cx, cy):
    """Mean of the unsmoothed map within 1 px of ``(cx, cy)`` (px) over its mean 1.5-2.5 px out.

    Under 1 where the centre dips below its surroundings (a via ring's hole),
    1 or more at a sphere's peak. NaN when either set is empty (the frame's edge).
    """
    h, w = att_raw.shape
    ya, yb = max(int(cy) - 3, 0), min(int(cy) + 4, h)
    xa, xb = max(int(cx) - 3, 0), min(int(cx) + 4, w)
    gy, gx = np.mgrid[ya:yb, xa:xb]
    d = np.hypot(gx - cx, gy - cy)
    win = att_raw[ya:yb, xa:xb]
    centre, ring = win[d < 1.0], win[(d >= 1.5) & (d < 2.5)]
    if centre.size == 0 or ring.size == 0:
        return math.nan
    ring_mean = float(ring.mean())
    return float(centre.mean()) / ring_mean if ring_mean > 0 else math.inf


def _far_ring(area, cut):
    """Inner and outer reach (px, square rings) of the ring beyond a faint blob read by :data:`FAINT_FAR_LEVEL`.

    ``area`` (px) is the blob's above its level, ``cut`` that level as a
    fraction of its peak. 2 to :data:`FAINT_FALL_FAR` px, or, with
    :data:`FAINT_FAR_SPHERE`, as wide but starting where the sphere whose
    top the blob is ends.
    """
    inner = 2
    if FAINT_FAR_SPHERE and 0 < cut < 1:
        r = math.sqrt(area / math.pi)
        inner = max(inner, math.ceil(r / math.sqrt(1.0 - min(cut, 0.95) ** 2) - r))
    return inner, inner + FAINT_FALL_FAR - 2


def _faint_components(att, valid, near, level, fit, fit_xy, typ_peak, med_area, att_raw=None):
    """Stray-ball candidates above one ``level`` (see :func:`_faint_strays`), list of dict."""
    import cv2

    # whole components above the level: a trace running between balls is one
    # long component touching them, not short pieces cut out beside each ball
    cand = (att > level) & valid
    n, lab, stats, cen = components_with_stats(cand.astype(np.uint8))
    touching = np.bincount(lab[near & cand], minlength=n)[:n] > 0
    out = []
    h, w = att.shape
    basis = np.stack([fit.u, fit.v], 1)
    for k in range(1, n):
        x0, y0, bw, bh, a = stats[k]
        if touching[k] or a < FAINT_MIN_AREA or a > 0.5 * med_area or x0 == 0 or y0 == 0 or x0 + bw == w or y0 + bh == h:
            continue
        sub = lab[y0:y0 + bh, x0:x0 + bw] == k
        vals = att[y0:y0 + bh, x0:x0 + bw]
        pk = float(vals[sub].max())
        if pk > 0.8 * typ_peak:
            continue
        yy, xx = np.nonzero(sub)
        cx, cy = xx.mean() + x0, yy.mean() + y0
        if att[int(round(cy)), int(round(cx))] < FAINT_CENTRE * pk:
            continue                        # a ring (via barrel or pad), not a sphere
        if FAINT_RAW_CENTRE is not None and not _raw_centre_stands(
                att_raw, sub & (vals >= 0.5 * pk), x0, y0, int(round(cx)), int(round(cy)), FAINT_RAW_CENTRE):
            continue                        # the smoothing filled a small via ring's hole
        if FAINT_HOLE_RATIO is not None and att_raw is not None and _raw_hole(att_raw, cx, cy) < FAINT_HOLE_RATIO:
            continue                        # ... and the hole is off its centroid's pixel
        # a sphere falls away on every side; a trace crossing keeps its arms
        # (each at about half the crossing's peak) beyond the blob
        arms = _ring_level(att, yy + y0, xx + x0, 0, 2)
        if arms > 0.5 * pk and (FAINT_FALL is None or arms > FAINT_FALL * level):
            if FAINT_FALL_FAR is None or a < np.pi * FAINT_FALL_FAR ** 2 \
                    or _ring_level(att, yy + y0, xx + x0, *_far_ring(a, level / pk)) > FAINT_FAR_LEVEL * pk:
                continue
        cov = np.cov(np.stack([xx, yy])) if a > 2 else np.eye(2)
        ev = np.linalg.eigvalsh(cov + np.eye(2) / 12)
        if ev[1] > 2.5 * ev[0]:
            continue                        # elongated: a trace or wire crossing
        c, r = np.linalg.solve(basis, (fit_xy(np.array([[cx, cy]]))[0] - fit.origin))
        m = STRAY_MARGIN
        if not (-m <= r <= fit.rows - 1 + m and -m <= c <= fit.cols - 1 + m):
            continue
        if np.hypot(*(basis @ np.array([c - round(c), r - round(r)]))) < fit.pitch_px / 3:
            continue                        # on a lattice site: a pad, not a stray ball
        cnts, _ = cv2.findContours(sub.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = (max(cnts, key=len)[:, 0, :] + [x0, y0]).tolist() if cnts else []
        out.append({"x_px": float(cx), "y_px": float(cy), "area_px": float(a), "peak": pk, "contour": contour})
    return out


#: Two neighbouring balls are bridged when the solder between them stays above
#: this fraction of the lower of their two peaks all the way across the gap
#: (None: bridges from the connected cores alone). Calibrated on 326
#: development frames (seeds 5,800,000+, 5,830,000+ and 26 of 5,600,000+): a
#: blurred copper trace across a narrow gap stands at 0.12-0.16 of a ball's
#: peak, and 288 of 293 bridged pairs of the first 200 frames at 0.14 or more.
#: Bridged balls found/false/missed: 0.12 gave 1019/38/22, 0.13 1017/20/24,
#: 0.14 1011/10/30. 0.13 keeps the recall (a missed bridge is a short on the
#: board, a false one costs a look), and the necks between clipped balls of
#: an 8-bit export, which measure 0.13-0.18.
SADDLE_FRACTION = 0.13
#: How bridges are called: "cores" (solder above the bridge level joins the two
#: cores anywhere), "saddle" (the straight gap between the two balls stays
#: solid), or "both" (either).
BRIDGE_RULE = "saddle"
#: Width (fraction of the ball diameter) a neck must hold across the gap.
NECK_WIDTH = 0.25
#: ... unless its centre line stays above this fraction of the lower peak: a
#: narrow neck of solder is still a short, and as dense as solder; a copper
#: trace across the gap stands at 0.12-0.16 (None: width always required).
#: (0.3 until 2026-12-04: a thin neck between 12.5 px balls of the independent
#: renderer stood at 0.265.)
THIN_NECK_FRACTION = 0.25
#: ... and it is confined (:func:`_neck_confined`) at this fraction of the
#: lower peak, or at THIN_CONFINE_OF_CENTRE of its own centre line where that
#: is lower. Read at the centre-line level itself, a lower level took in the
#: blurred skirts beside the neck of an oblique 8-bit frame and lost bridges
#: that 0.3 found (altsim 9,300,005); development frames, oblique and straight,
#: are identical either way.
THIN_CONFINE_FRACTION = 0.3
THIN_CONFINE_OF_CENTRE = 0.7


#: A narrow neck is no wider than this fraction of the ball diameter where it
#: crosses the gap: a via barrel's wall touching both balls runs on round them.
THIN_NECK_WIDTH = 0.35
#: ... with no more than this share of such dense pixels beside that band.
THIN_NECK_BESIDE = 0.25


def _neck_confined(att, labels, cx, cy, level, d_site):
    """Whether the solder above ``level`` in a gap is a narrow straight neck and nothing else.

    Between two balls centred at ``cx``, ``cy`` (px), the pixels above
    ``level`` outside every joint mask must lie in a band
    :data:`THIN_NECK_WIDTH` x ``d_site`` (px) wide along the line joining
    the balls, through the gap's middle: a via barrel's wall that passes
    through the gap and touches both balls curves on beside it (its arcs,
    cut apart by the balls' masks, are each short).
    """
    h, w = att.shape
    r = int(np.ceil(0.75 * d_site)) + 2
    x0, x1 = max(int(min(cx)) - r, 0), min(int(max(cx)) + r + 1, w)
    y0, y1 = max(int(min(cy)) - r, 0), min(int(max(cy)) + r + 1, h)
    mx, my = int(round(0.5 * (cx[0] + cx[1]))), int(round(0.5 * (cy[0] + cy[1])))
    if not (x0 <= mx < x1 and y0 <= my < y1) or att[my, mx] < level:
        return False
    ys, xs = np.nonzero((att[y0:y1, x0:x1] >= level) & (labels[y0:y1, x0:x1] == 0))
    dx, dy = cx[1] - cx[0], cy[1] - cy[0]
    length = max(float(np.hypot(dx, dy)), 1e-9)
    along = ((xs + x0 - cx[0]) * dx + (ys + y0 - cy[0]) * dy) / length
    across = np.abs((xs + x0 - mx) * -dy + (ys + y0 - my) * dx) / length
    between = (along >= 0) & (along <= length) & (across <= 0.75 * d_site)
    band = between & (across <= 0.5 * THIN_NECK_WIDTH * d_site)
    return band.any() and (between & ~band).sum() <= THIN_NECK_BESIDE * band.sum()


#: A trace crossing a gap between two balls lifts the gap's saddle like a
#: neck; a neck ends at the balls' sides, a trace runs on past them. What runs
#: on, on both sides of the balls' line from CROSSING_FROM to CROSSING_REACH
#: ball diameters from it (over CROSSING_RUN diameters at least), is taken off
#: the saddle when it stands at CROSSING_MIN of the bridge level or more
#: (CROSSING_REACH None: no such test). On 500 development frames
#: (6,700,000+200, 6,950,000+300) false bridges 32 -> 16 (traces across the
#: gaps), the 1,490 true ones all kept; a first version whose lanes started
#: at 0.6 diameters read via rings beside wide necks (and their pads) as
#: traces and lost 8 of them.
CROSSING_FROM = 0.35
CROSSING_REACH = 1.0
CROSSING_MIN = 0.5
CROSSING_RUN = 0.25
#: ... along lanes at these angles from square to the balls' line, degrees;
#: the best angle's level is the line's. A trace that crosses a gap slantwise
#: leaves a square lane within a few px (a 45 degree trace through three
#: gaps in a row, fresh development frame (6,750,000, 95)). On 1,090
#: development frames ((0.0,) against these) false bridged balls 18 -> 8 in
#: five frames, no true one lost.
CROSSING_ANGLES_DEG = (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0)


#: A trace along the balls' line, under both balls, lifts the gap's saddle
#: like a neck, and runs on past them; a neck ends at the balls. The level of
#: the line beyond each ball's outer side (from its mask out to AXIS_REACH
#: ball diameters or the next joint, over CROSSING_RUN diameters at least;
#: each value the highest within 2 px across) is taken off the saddle when it
#: stands at CROSSING_MIN of the bridge level or more on both sides (None: no
#: such test). Development frames (6,950,000, 40) and (6,950,000, 112): a thin
#: trace down a column and a wide one along a row read as bridges.
AXIS_REACH = 1.0


#: A clear gap between two balls stands at this fraction of their peak or
#: less (blur tails and noise; the median gap of 198 of 200 fresh development
#: frames at 1024 px, 6,750,000+, stood at 0.017 or less along either axis).
#: Where the typical gap along an axis stands higher, the balls' blurred
#: flanks overlap across it (an oblique view at 40-45 degrees of a fine pitch
#: draws each ball as an ellipse across its gap), and every saddle on that
#: axis stands the excess higher: it is taken off before a saddle is judged
#: (None: never). Frames (6,750,000, 95) and (6,750,000, 96), 19 px pitch at
#: 43-45 degrees: median gaps 0.054 and 0.064 along the tilt, a trace across
#: a gap read as a bridge (24 and 20 false bridged balls).
CLEAR_GAP_LEVEL = 0.02


def _pair_axis(rc, a, b):
    """Lattice step ``(|d row|, |d col|)`` between the sites of joints ``a`` and ``b``."""
    return int(abs(rc[a, 0] - rc[b, 0])), int(abs(rc[a, 1] - rc[b, 1]))


def _typical_gap_excess(saddles, rc):
    """How far the typical gap on each lattice axis stands above a clear gap.

    Parameters
    ----------
    saddles : dict
        ``(a, b) -> (saddle, centre saddle)`` from :func:`_gap_saddles`
        (fractions of the lower peak).
    rc : ndarray, shape (n + 1, 2)
        Site (row, col) of each joint.

    Returns
    -------
    collections.defaultdict
        ``(|d row|, |d col|) -> (excess, centre excess)``: the axis's median
        saddle (and centre saddle) less :data:`CLEAR_GAP_LEVEL`, at least 0;
        ``(0, 0)`` for an axis with no pairs, and always with
        ``CLEAR_GAP_LEVEL`` None.
    """
    from collections import defaultdict

    excess = defaultdict(lambda: (0.0, 0.0))
    if CLEAR_GAP_LEVEL is None:
        return excess
    by_axis = defaultdict(list)
    for (a, b), values in saddles.items():
        by_axis[_pair_axis(rc, a, b)].append(values)
    for axis, values in by_axis.items():
        med = np.median(np.asarray(values, float), axis=0) - CLEAR_GAP_LEVEL
        excess[axis] = (max(float(med[0]), 0.0), max(float(med[1]), 0.0))
    return excess


def _pair_direction(cx, cy, d_site):
    """Unit vector (x, y) from the first ball's centre to the second's, and the fewest 0.5 px
    samples a line beside them must run (:data:`CROSSING_RUN` diameters and 3 px); None when
    the centres are under 1 px apart or ``d_site`` (px) is not positive."""
    dx, dy = cx[1] - cx[0], cy[1] - cy[0]
    length = float(np.hypot(dx, dy))
    if length < 1 or not d_site > 0:
        return None
    min_run = max(int(np.ceil(2 * max(CROSSING_RUN * d_site, 3.0))), 2)       # samples
    return dx / length, dy / length, min_run


def _axis_run(att, labels, cx, cy, ab, d_site):
    """Density (attenuation) of a line that runs along two balls' line on past both of them.

    ``cx``, ``cy`` the balls' centres (px) and ``ab`` their labels. On each
    side the line is followed out from the ball's mask along the balls' line
    to :data:`AXIS_REACH` ball diameters (``d_site``, px) from its centre or
    the first other joint; each value is the highest within 2 px across it,
    the side's level its lowest value; a side that runs less than
    :data:`CROSSING_RUN` diameters (and 3 px) is not read (0). The lower of
    the two sides.
    """
    h, w = att.shape
    direction = _pair_direction(cx, cy, d_site)
    if direction is None:
        return 0.0
    ux, uy, min_run = direction
    t = np.arange(0.0, AXIS_REACH * d_site + 0.5, 0.5)[:, None]
    s = np.arange(-2.0, 2.5, 1.0)[None, :]
    level = np.inf
    for (x0, y0), k, sign in (((cx[0], cy[0]), ab[0], -1.0), ((cx[1], cy[1]), ab[1], 1.0)):
        x = np.clip(np.round(x0 + sign * t * ux - s * uy).astype(int), 0, w - 1)
        y = np.clip(np.round(y0 + sign * t * uy + s * ux).astype(int), 0, h - 1)
        lab = labels[y, x]
        other = ((lab != 0) & (lab != k)).any(axis=1)
        own = (lab == k).any(axis=1)
        # from where the ball's own mask ends to the first other joint
        first = int(np.argmin(own)) if not own.all() else own.size
        stop = int(np.argmax(other)) if other.any() else other.size
        run = att[y, x].max(axis=1)[first:stop]
        if run.size < min_run:
            return 0.0
        level = min(level, float(run.min()))
    return level


#: A "neck" whose cross-section at the middle of the gap is wider than the
#: balls themselves (at half its centre level, PART_WIDTH ball diameters or
#: more) is not solder drawn between two balls but a part lying across the
#: gap (a double-sided board's capacitor, too small or too crowded by the
#: balls to leave a shadow), when that centre stands at PART_LEVEL of the
#: lower peak or more (a faint gap's half level is in its noise) (None: no
#: such test). A solder neck is narrower than the balls it joins: true
#: bridges of 110 development frames (6,700,000+80, 30 of them double-sided)
#: measured 0.32-0.60 diameters where their centre stood at 0.2 or more.
PART_WIDTH = 1.0
PART_LEVEL = 0.2
#: Across the gap, a valley under GAP_VALLEY of the centre's level followed
#: by a rise of GAP_RISE of it ends the width at the valley: something else
#: beside the neck (a via ring 0.6 diameters from a true bridge's centre line,
#: 6,950,000+99), not a part's plateau, whose level holds or climbs to its end
#: caps.
GAP_VALLEY = 0.7
GAP_RISE = 0.1


def _gap_width(att, cx, cy, d_site):
    """Width (px) of what crosses the gap between two balls, at half its centre level.

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    cx, cy : sequence of float
        The two balls' centroids, px.
    d_site : float
        Typical ball diameter, px.

    Returns
    -------
    (float, float)
        The width, px (at most 4 diameters), and the level at the gap's middle.
    """
    from scipy.ndimage import map_coordinates

    p1, p2 = np.array([cx[0], cy[0]], float), np.array([cx[1], cy[1]], float)
    gap = np.linalg.norm(p2 - p1)
    if gap <= 0 or d_site <= 0:
        return 0.0, 0.0
    u = (p2 - p1) / gap
    nrm = np.array([-u[1], u[0]])
    mid = 0.5 * (p1 + p2)
    step = 0.5
    t = np.arange(-2 * d_site, 2 * d_site + step / 2, step)
    prof = map_coordinates(att, [mid[1] + t * nrm[1], mid[0] + t * nrm[0]], order=1, mode="nearest")
    c0 = int(np.argmin(np.abs(t)))
    centre = float(prof[c0])
    ends = []
    for side in (prof[c0::-1], prof[c0:]):
        # out to half the centre's level, or to the valley before something
        # else rises
        low, at = centre, len(side) - 1
        for i, v in enumerate(side):
            if v < 0.5 * centre:
                at = i
                break
            if low < GAP_VALLEY * centre and v > low + GAP_RISE * centre:
                at = int(np.argmin(side[:i]))
                break
            low = min(low, v)
        ends.append(at * step)
    return float(ends[0] + ends[1]), centre


def _gap_crossing(att, labels, cx, cy, d_site):
    """Density (attenuation) of a line that crosses the gap between two balls and runs on past them.

    Lanes square to the balls' line (centres ``cx``, ``cy``, px), and turned
    from square by each of :data:`CROSSING_ANGLES_DEG`, one per px
    across the gap's width, are followed out from :data:`CROSSING_FROM` ball
    diameters (``d_site``, px) on each side of it to :data:`CROSSING_REACH` diameters or
    the first joint mask, whichever comes first; a lane that runs less than
    :data:`CROSSING_RUN` diameters (and 3 px) so is not read. A lane's level
    is its lowest value (each value the highest within 2 px across, so a
    slanted line stays in it); the side's level is its highest lane's, the
    gap's the lower side's. A trace crossing the gap keeps its density along
    its lane; a neck does not reach the lanes, and a ring's wall or a blob
    beside the gap falls away along them. The line's level is the best
    angle's.
    """
    direction = _pair_direction(cx, cy, d_site)
    if direction is None:
        return 0.0
    ux, uy, min_run = direction
    length = float(np.hypot(cx[1] - cx[0], cy[1] - cy[0]))
    mx, my = 0.5 * (cx[0] + cx[1]), 0.5 * (cy[0] + cy[1])
    t = np.arange(CROSSING_FROM * d_site, CROSSING_REACH * d_site + 0.5, 0.5)[:, None]
    if t.shape[0] < min_run:
        return 0.0
    # across the gap's whole width: a trace need not cross at its middle,
    # nor square to the balls' line
    half = 0.5 * max(length - d_site, 2.0)
    s = np.arange(-half, half + 0.5, 1.0)[None, :]
    level = 0.0
    for angle in CROSSING_ANGLES_DEG:
        level = max(level, _lanes_level(att, labels, mx, my, ux, uy, t, s, min_run, np.radians(angle)))
    return level


def _lanes_level(att, labels, mx, my, ux, uy, t, s, min_run, angle):
    """Level of the best lane that crosses a gap at ``angle`` (radians) from square to the balls'
    line (unit vector ``ux``, ``uy``): see :func:`_gap_crossing`."""
    h, w = att.shape
    # the lanes' direction: the square to the balls' line, turned by angle
    nx = -uy * np.cos(angle) + ux * np.sin(angle)
    ny = ux * np.cos(angle) + uy * np.sin(angle)
    level = np.inf
    for sign in (-1.0, 1.0):
        x = np.clip(np.round(mx + sign * t * nx + s * ux).astype(int), 0, w - 1)
        y = np.clip(np.round(my + sign * t * ny + s * uy).astype(int), 0, h - 1)
        masked = labels[y, x] != 0
        v = np.where(masked, -np.inf, att[y, x])
        v = np.pad(v, ((0, 0), (2, 2)), constant_values=-np.inf)
        lane = np.lib.stride_tricks.sliding_window_view(v, 5, axis=1).max(axis=2)      # (t, s)
        # each lane up to its first joint pixel, and only a long enough run
        reach = np.where(masked.any(axis=0), masked.argmax(axis=0), masked.shape[0])
        lane = np.where(np.arange(lane.shape[0])[:, None] < reach[None, :], lane, np.inf)
        best = np.where(reach >= min_run, lane.min(axis=0), -np.inf).max()
        if not np.isfinite(best):
            return 0.0
        level = min(level, float(best))
    return level


#: Something this many times denser than the typical ball in the middle of a
#: gap (a via barrel, a part) hides any neck: the pair is not judged.
DENSE_GAP = 1.1

#: A ring lying across or beside a gap (a via barrel's wall seen at a slant, a
#: pad's ring round a ball) lifts the gap's saddle like a neck, or joins the
#: two balls into one mask, but it holds a hole: a low spot walled in on every
#: side. A neck, however it bulges, falls off sideways to the board. Where the
#: strip along the line between two balls' centres (:data:`GAP_HOLE_HALF_WIDTH`)
#: holds a hole this deep (fraction of the lower ball's peak) outside both
#: balls or in the gap's middle (:data:`GAP_HOLE_MIDDLE`), the ring hides
#: whether solder runs under it: the pair is not judged (None: no such test).
#: On development frames (867 truly bridged pairs of 6,810,000+, 6,830,000+,
#: 6,850,000+ and 6,870,000+ at 1024 px) the deepest such hole on a true
#: bridge read 0.062 (0.031 at the 99th percentile); the rings behind the false
#: bridges 0.18-0.55 (six via barrels on one oblique frame, 6,870,000+148;
#: rings round a ball touching its neighbour, +22, +55, +89).
GAP_HOLE_DEPTH = 0.12
#: ... the strip's half width, in ball diameters (0.3: the deepest true-bridge
#: hole 0.092; 0.4: 0.23, the void of a ball beside the pair).
GAP_HOLE_HALF_WIDTH = 0.25
#: ... the gap's middle: this share of the line either side of its midpoint,
#: read even inside the balls' masks (a ring round a ball runs into its mask).
GAP_HOLE_MIDDLE = 0.15


def _gap_hole_depth(att, labels, ab, cx, cy, d_site):
    """Depth of the deepest walled-in low spot in the gap between two balls.

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    labels : ndarray of int
        Joint labels.
    ab : tuple of int
        The two balls' labels.
    cx, cy : sequence of float
        The two balls' centres, px.
    d_site : float
        Typical ball diameter, px.

    Returns
    -------
    float
        The depth (attenuation units) of the deepest grey-level hole in the
        strip :data:`GAP_HOLE_HALF_WIDTH` x ``d_site`` either side of the
        line between the centres, outside both balls' masks or within
        :data:`GAP_HOLE_MIDDLE` of the line's middle: how far it lies below
        the lowest wall round it (0 where there is none).
    """
    h, w = att.shape
    p0 = np.array([cx[0], cy[0]], float)
    d = np.array([cx[1], cy[1]], float) - p0
    length = float(np.hypot(*d))
    if length < 1:
        return 0.0
    pad = int(np.ceil(d_site)) + 2
    x0, x1 = max(int(min(cx)) - pad, 0), min(int(max(cx)) + pad + 1, w)
    y0, y1 = max(int(min(cy)) - pad, 0), min(int(max(cy)) + pad + 1, h)
    crop = np.asarray(att[y0:y1, x0:x1], np.float32)
    if min(crop.shape) < 3:
        return 0.0
    yy, xx = np.mgrid[y0:y1, x0:x1]
    along = ((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / length ** 2
    across = np.abs((yy - p0[1]) * d[0] - (xx - p0[0]) * d[1]) / length
    own = labels[y0:y1, x0:x1]
    read = (along >= 0) & (along <= 1) & (across <= GAP_HOLE_HALF_WIDTH * d_site) \
        & (((own != ab[0]) & (own != ab[1])) | (np.abs(along - 0.5) <= GAP_HOLE_MIDDLE))
    if not read.any():
        return 0.0
    return float((_filled_holes(crop) - crop)[read].max())


def _filled_holes(image):
    """Grey-level hole filling of a small 2-D image: morphological reconstruction by erosion.

    Every pixel is raised to the lowest level at which it is 8-connected to
    the image's border; a low spot walled in on every side is filled to its
    lowest wall, one open to the border keeps its level
    (``skimage.morphology.reconstruction(seed, image, "erosion")`` with the
    border as seed, without importing scikit-image's morphology on the
    scoring path). Iterated 3 x 3 erosions; a crop of a few thousand pixels
    converges in a few dozen.
    """
    import cv2

    img = np.ascontiguousarray(image, np.float32)
    filled = img.copy()
    filled[1:-1, 1:-1] = img.max()
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(img.size):
        nxt = np.maximum(cv2.erode(filled, kernel), img)
        if np.array_equal(nxt, filled):
            break
        filled = nxt
    return filled


#: A part on the board's far side that lies over one ball of a pair adds its
#: density to that ball: the ball's top reads denser than a seated ball's
#: (PART_OVER_BALL x the typical peak or more) while its partner's stays
#: plain (PLAIN_BALL_TOP or less) and at least PART_OVER_STEP of the typical
#: peak lower. Its body then runs on across the gap and reads as a neck; a
#: solder neck adds nothing to either ball's top. Such a pair is not judged
#: (None: no such test). Development frames, pairs called bridged (the top
#: is the densest pixel within 0.45 diameters of a ball's centre, over the
#: typical peak): 31 false pairs of the undercut set (6,700,000+, 30 frames,
#: 44 deg tilts) denser ball 1.10-2.03, plainer 0.97-1.15; 21 of them meet
#: all three. 1,531 true pairs of the other 974 frames (15 sets): one meets them
#: (6,810,000+87, 8-bit JPEG: a 27 % void in the plainer ball, the simulator's
#: neck summed over both balls' tops). Scored: the undercut set's false
#: bridged balls 68 -> 29 (bridge F1 0.744 -> 0.870), 6,870,000+130's two (a
#: via ring over one ball's rim) gone, that one true pair lost.
PART_OVER_BALL = 1.1
PLAIN_BALL_TOP = 1.03
PART_OVER_STEP = 0.1


def _ball_top(att, cx, cy, radius, clipped=None):
    """Densest attenuation within ``radius`` px of ``(cx, cy)``, and whether the export clipped it.

    Returns
    -------
    top : float
        NaN when no pixel of that disc lies in the frame.
    clipped_top : bool
        Some pixel of the disc is in ``clipped`` (bool): the top is then a
        lower bound only.

    Notes
    -----
    A 5 x 5 median before the maximum, which a noisy frame's lone spike
    would not pass, lost 4 truly bridged pairs of 1,531 on development
    frames against 1 with the maximum.
    """
    h, w = att.shape
    x0, x1 = max(int(np.floor(cx - radius)), 0), min(int(np.ceil(cx + radius)) + 1, w)
    y0, y1 = max(int(np.floor(cy - radius)), 0), min(int(np.ceil(cy + radius)) + 1, h)
    if x1 <= x0 or y1 <= y0:
        return float("nan"), False
    yy, xx = np.mgrid[y0:y1, x0:x1]
    disc = np.hypot(xx - cx, yy - cy) < radius
    if not disc.any():
        return float("nan"), False
    cut = clipped is not None and bool(clipped[y0:y1, x0:x1][disc].any())
    return float(att[y0:y1, x0:x1][disc].max()), cut


def _part_over_one_ball(att, cx, cy, d_site, typ_peak, clipped=None):
    """Which ball of a pair (0 or 1) reads a part lying over it while the other does not; None if neither.

    See :data:`PART_OVER_BALL`.

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    cx, cy : sequence of float
        The two balls' centres, px.
    d_site : float
        Typical ball diameter, px.
    typ_peak : float
        Peak attenuation of the typical seated ball.
    clipped : ndarray of bool, optional
        Pixels the export clipped: the plainer ball's top must be free of
        them (a clipped top is a lower bound: it may stand as dense as its
        partner's).
    """
    if PART_OVER_BALL is None or not (np.isfinite(typ_peak) and typ_peak > 0):
        return None
    read = [_ball_top(att, x, y, 0.45 * d_site, clipped) for x, y in zip(cx, cy)]
    tops = np.array([top for top, _ in read]) / typ_peak
    if not np.isfinite(tops).all():
        return None
    k = int(np.argmax(tops))
    dense, plain = tops[k], tops[1 - k]
    if read[1 - k][1]:
        return None
    return k if dense >= PART_OVER_BALL and plain <= PLAIN_BALL_TOP and dense - plain >= PART_OVER_STEP else None


#: Two balls whose centres are closer than the pitch less this share of the
#: nominal gap (pitch - diameter) were pushed together (misaligned), not bridged.
DISPLACED_GAP = 0.5


#: A ball's top: its pixels above this fraction of its own peak.
TOP_FRACTION = 0.7


def _trim_to_disc(masks, k, centre, r):
    """Keep joint ``k``'s pixels within ``r`` px of ``centre`` (x, y); update its area in place.

    Returns
    -------
    contour : list of [x, y]
        Outer contour of what is left, px (empty when nothing is).
    perimeter : float
        Its length, px.
    """
    import cv2

    x0, y0, x1, y1 = masks.bbox[k]
    lab = masks.labels[y0:y1, x0:x1]
    yy, xx = np.mgrid[y0:y1, x0:x1]
    own = lab == k
    keep = own & (np.hypot(xx - centre[0], yy - centre[1]) <= r)
    if not keep.any():
        return [], 0.0
    lab[own & ~keep] = 0
    masks.area_px[k] = float(keep.sum())
    cs, _ = cv2.findContours(keep.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(cs, key=lambda c: cv2.arcLength(c, True))
    contour = (cv2.approxPolyDP(c, 0.7, True)[:, 0, :] + [x0, y0]).tolist()
    return contour, float(cv2.arcLength(c, True))


def _dense_top(masks, att, k, fraction):
    """Joint ``k``'s pixels at or above ``fraction`` of its own highest, ``(mask, x0, y0)``.

    The mask (bool) covers the joint's bounding box, whose corner is
    ``(x0, y0)``, px.
    """
    x0, y0, x1, y1 = masks.bbox[k]
    own = masks.labels[y0:y1, x0:x1] == k
    a = att[y0:y1, x0:x1]
    top = own & (a >= fraction * a[own].max()) if own.any() else own
    return top, x0, y0


def _top_centre(masks, att, k):
    """Centroid (x, y), px, of joint ``k``'s pixels above :data:`TOP_FRACTION` of its peak.

    The dense top of a ball is where the sphere is thickest; a neck or a
    trace beside it is thinner and stays below, so this centre is not pulled
    towards them as the mask's centroid is.
    """
    top, x0, y0 = _dense_top(masks, att, k, TOP_FRACTION)
    ys, xs = np.nonzero(top)
    if ys.size == 0:
        return np.array([masks.cx[k], masks.cy[k]])
    return np.array([xs.mean() + x0, ys.mean() + y0])


#: A gap line that crosses a stitching band or a no-signal area is read across
#: it: the hidden stretch as the lower of the pixels seen on its two sides
#: (False: as 0, so a pair the band crosses is never bridged). A band across a
#: ball's flank beside a neck hid the whole pair's bridge (2048 px development
#: frame (6,720,000, 65): the neck seen whole, at 0.27 of the balls' peak).
SADDLE_ACROSS_BANDS = True
#: ... and a ball cut by a band or the frame's edge is read from its site, not
#: its seen part's centroid (False: the centroid). The band of that frame cut
#: a ball's near half off its mask, its centroid moved 11 px away, and the
#: gap's middle, read for copper denser than a ball, fell on the hidden half.
SADDLE_CUT_AT_SITE = True
#: ... where the band hides at most this share of the line's gap (the samples
#: in neither ball's mask); a line that runs along a band, its gap hidden, is
#: not judged (a pair on either side of a band's length, 2048 px development
#: frame (6,720,000, 26), read solid).
BAND_GAP_SHARE = 0.25


def _across_hidden(values, seen, starts, pair):
    """``values`` along concatenated line segments with each unseen stretch read as the lower of its
    two seen ends (0 where a stretch reaches its segment's end)."""
    n = values.size
    i = np.arange(n)
    first = starts[pair]
    last = np.append(starts[1:], n)[pair] - 1
    before = np.maximum.accumulate(np.where(seen, i, -1))
    after = np.minimum.accumulate(np.where(seen, i, n)[::-1])[::-1]
    ok = (before >= first) & (after <= last)
    lo = np.minimum(values[np.clip(before, 0, n - 1)], values[np.clip(after, 0, n - 1)])
    return np.where(seen, values, np.where(ok, lo, 0.0))


def _gap_saddles(att, labels, site_of, peak, typ_peak, valid=None, centres=None):
    """Lowest attenuation across the straight gap between each pair of neighbouring balls.

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    labels : ndarray of int
        Joint labels.
    site_of : dict
        ``(row, col) -> label`` of the balls on sites.
    peak : ndarray
        Peak attenuation per label.
    typ_peak : float
        Peak of the typical seated ball: a gap whose middle stands above
        :data:`DENSE_GAP` times it is not judged (ratio 0).
    valid : ndarray of bool, optional
        Pixels with signal. Where a line crosses a stitching band or a
        no-signal area, the hidden stretch reads as the lower of the two
        pixels seen on either side of it (:data:`SADDLE_ACROSS_BANDS`);
        a stretch that runs to a line's end reads 0.
    centres : ndarray, shape (n + 1, 2), optional
        Centre (x, y), px, to draw a joint's lines from where finite (its
        mask's centroid elsewhere): a ball cut by a band or the frame's edge
        has its centroid on its seen part, which moved the gap's middle into
        the ball itself.

    Returns
    -------
    dict
        ``(label_a, label_b) -> (saddle, centre saddle)`` for balls on row-
        or column-adjacent sites: the lowest attenuation across the gap over
        the three lines, and over the centre line alone, as fractions of
        ``min(peak_a, peak_b)``. A solder bridge is a neck straight
        across the gap; a via ring or trace that touches both balls elsewhere
        leaves this line at the background level.
    """
    h, w = labels.shape
    ys_all, xs_all = nonzero_yx(labels)
    lab = labels[ys_all, xs_all]
    n = int(labels.max()) + 1
    cnt = np.maximum(np.bincount(lab, minlength=n), 1)
    cx = np.bincount(lab, xs_all, n) / cnt
    cy = np.bincount(lab, ys_all, n) / cnt
    if centres is not None:
        given = np.isfinite(centres[:n]).all(axis=1)
        cx = np.where(given, centres[:n, 0], cx)
        cy = np.where(given, centres[:n, 1], cy)
    pa, pb = [], []
    for (r, c), a in site_of.items():
        for q in ((r, c + 1), (r + 1, c)):
            b = site_of.get(q)
            if b is not None:
                pa.append(a)
                pb.append(b)
    if not pa:
        return {}
    pa, pb = np.array(pa, np.intp), np.array(pb, np.intp)
    dx, dy = cx[pb] - cx[pa], cy[pb] - cy[pa]
    L = np.hypot(dx, dy)
    use = L >= 1
    pa, pb, dx, dy, L = pa[use], pb[use], dx[use], dy[use], L[use]
    if pa.size == 0:
        return {}
    # every pair's samples in one array (the loop over ~2 pairs per ball was most
    # of this function): pair i owns the segment starts[i]:starts[i] + m[i] + 1, and
    # its t are np.linspace(0, 1, m + 1) to the bit (k * (1 / m), the last one 1)
    m = np.maximum(np.ceil(L).astype(int) * 2, 2)
    seg = m + 1
    starts = np.concatenate([[0], np.cumsum(seg)[:-1]])
    pair = np.repeat(np.arange(pa.size), seg)
    k = np.arange(pair.size) - starts[pair]
    t = k * (1.0 / m)[pair]
    t[starts + m] = 1.0
    # three parallel lines a fifth of a ball apart: a neck is wide, a
    # trace or a ring's arc crossing the gap is not
    off = NECK_WIDTH * np.sqrt((cnt[pa] + cnt[pb]) / (2 * np.pi)) * 2
    nx, ny = -dy / L, dx / L
    a_, b_ = pa[pair], pb[pair]
    cxa, cya, dxp, dyp, nxp, nyp, offp = cx[pa][pair], cy[pa][pair], dx[pair], dy[pair], nx[pair], ny[pair], off[pair]
    low = np.full(pa.size, np.inf)
    bands = SADDLE_ACROSS_BANDS and valid is not None and not valid.all()
    for f in (0.0, -0.5, 0.5):
        o = f * offp
        x = np.clip(np.round(cxa + o * nxp + t * dxp).astype(int), 0, w - 1)
        y = np.clip(np.round(cya + o * nyp + t * dyp).astype(int), 0, h - 1)
        own = labels[y, x]
        gap = (own != a_) & (own != b_)
        seen = att[y, x]
        if bands:
            shown = valid[y, x]
            seen = _across_hidden(seen, shown, starts, pair)
            # a band along the gap hides where a neck would break: not read
            hidden = np.bincount(pair[gap & ~shown], minlength=pa.size)
            across = hidden <= BAND_GAP_SHARE * np.bincount(pair[gap], minlength=pa.size)
            seen = np.where(across[pair] | shown, seen, 0.0)
        v = np.where(gap, seen, np.inf)
        low = np.minimum(low, np.minimum.reduceat(v, starts))
        if f == 0.0:
            low_centre = low.copy()
            centre_seen = seen
    lower_peak = np.maximum(np.minimum(peak[pa], peak[pb]), 1e-9)
    with np.errstate(invalid="ignore"):
        ratio = np.where(np.isfinite(low), low / lower_peak, 1.0)
        centre = np.where(np.isfinite(low_centre), low_centre / lower_peak, 1.0)
    # a solder neck is thinner than the balls it joins; what stands denser than
    # both in the middle of the gap is a via barrel or a part, and hides
    # whether solder runs under it: no call
    # (on the centre line, read in the loop above: a stretch a band hides reads as there,
    # and a line the band hides too much of has a saddle of 0 whatever its middle)
    mid = (t >= 0.35) & (t <= 0.65)
    hi = np.maximum.reduceat(np.where(mid, centre_seen, -np.inf), starts)
    # (against the typical ball: a via ring merged into a ball's mask lifts that ball's own peak)
    dense = hi > DENSE_GAP * typ_peak
    ratio = np.where(dense, 0.0, ratio)
    centre = np.where(dense, 0.0, centre)
    return {(int(a), int(b)): (float(v), float(c)) for a, b, v, c in zip(pa, pb, ratio, centre)}


#: In a slice a joint's edge is at this fraction of its peak (None: slices are
#: segmented as projections). A blurred step is halfway up at its true edge,
#: but the peak of a reconstructed disc stands on its edge overshoot: on 5
#: development CT frames (5,073 balls) mask area / truth was 1.20 at 0.16,
#: 1.04 at 0.3, 0.87 at 0.5.
SLICE_EDGE_FRACTION = 0.3
#: Balls whose profile decides whether a frame is a slice, at most.
SLICE_CHECK_BALLS = 100


def _looks_sliced(att, masks):
    """Whether the joints of a first segmentation have a slice's flat-topped profile.

    :func:`xrayinspect.voids.flat_topped` of the shared profile of up to
    :data:`SLICE_CHECK_BALLS` typical joints (not cut by the frame, 0.5-2 x
    the typical area), before the masks are shaped for a projection. The one
    decision for the frame: segmentation, voids and the head-in-pillow
    judgement all follow it.
    """
    from .voids import flat_topped, shared_profile

    n = masks.n
    area = masks.area_px
    typ = typical_area(area[1:])
    ok = (area > 0.5 * typ) & (area < 2 * typ) & ~masks.touches_edge
    ok[0] = False
    cand = np.flatnonzero(ok)
    if cand.size < 3:
        return False
    # their pixels from their boxes, not from the whole frame
    yl, xl, ll = [], [], []
    for k in cand[np.linspace(0, cand.size - 1, min(cand.size, SLICE_CHECK_BALLS)).astype(int)].tolist():
        x0, y0, x1, y1 = (int(v) for v in masks.bbox[k])
        yy, xx = np.nonzero(masks.labels[y0:y1, x0:x1] == k)
        yl.append(yy + y0)
        xl.append(xx + x0)
        ll.append(np.full(yy.size, k))
    ys, xs, lab = np.concatenate(yl), np.concatenate(xl), np.concatenate(ll)
    prof = shared_profile(att[ys, xs].astype(np.float64), xs, ys, lab, n)[0]
    return flat_topped(prof)


def _fill_to_hull(masks):
    """Fill every joint mask to its convex hull (over unlabelled pixels only); recount in place.

    A void in a slice is a hole in the solder, below any edge level: it
    leaves a hole in the mask, or a notch where it meets the rim, and the
    joint's outline (what its void % is a share of) runs round it. Masks
    over 1.5 x the typical area (two balls and a neck) are left as they are.
    """
    import cv2

    lab = masks.labels
    typ = typical_area(masks.area_px[1:])
    r_typ = float(np.sqrt(typ / np.pi))
    for k in range(1, masks.n + 1):
        if masks.area_px[k] > 1.5 * typ:
            continue            # two balls in one mask (a bridge): the hull would fill the gap
        x0, y0, x1, y1 = (int(v) for v in masks.bbox[k])
        if x1 <= x0 or y1 <= y0:
            continue
        sub = lab[y0:y1, x0:x1]
        pts = cv2.findNonZero((sub == k).astype(np.uint8))
        if pts is None or len(pts) < 3:
            continue
        hull = np.zeros(sub.shape, np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(pts), 1)
        # within the typical ball's radius of the centre: a neck's stub or a
        # neighbour's skirt would take the hull out across the gap
        gy, gx = np.mgrid[y0:y1, x0:x1]
        near = np.hypot(gx - masks.cx[k], gy - masks.cy[k]) <= r_typ
        sub[(hull > 0) & (sub == 0) & near] = k
    _recount(masks)


#: When the export hid the balls' heights, a ball is judged by its narrowing
#: alone only if it is no less round than the median of its neighbours by more
#: than this (circularity, 0-1): a round head projects round, a ball narrowed by
#: something else (a neighbour's shadow across it in an oblique view, a ball off
#: its pad) does not. Independent-renderer windowed frames: 19 head-in-pillow
#: balls 0.019 below their neighbours' or rounder, 2 false calls 0.037 and 0.048.
HIP_ROUND_TOLERANCE = 0.03
#: ... and its narrowing's z-score counts at this weight: one cue alone needs a
#: wider margin than two that agree (unsharp-masked development frames, whose
#: mask clips ball tops: ordinary balls at 4.5-4.8 by their narrowing alone; the
#: independent renderer's round heads 4.7-11).
HIP_NARROWING_ALONE = 0.8
#: Judge head-in-pillow in a slice (CT, laminography) by a ball's narrowing
#: alone (its diameter's z-score, :data:`SLICE_HIP_WEIGHT`, round balls that
#: serve as neighbours only): cut at the balls' mid-height, an uncollapsed head is narrower
#: than its collapsed neighbours (30 development slices, 6,960,000+: heads
#: 0.89-0.93 of the median diameter, every other whole ball 0.96 or more but
#: for 57 of 19,324 - voided, bridged or stray - that the rule leaves out).
#: False: no ``hip`` on a slice.
SLICE_HIP = True
#: ... for balls of this share of the typical diameter or more: a head is the
#: sphere its collapsed neighbours were before they spread (development
#: slices: heads 0.89-0.93 of the typical diameter; two balls of bridged pairs
#: whose masks were cut apart, called head-in-pillow without this, 0.64 and 0.73).
SLICE_HIP_NARROWEST = 0.8
#: ... its narrowing's z-score counting in full: the 0.8 of
#: :data:`HIP_NARROWING_ALONE` is for radiographs whose window clipped the
#: balls' tops (ordinary balls read narrow there); a slice's disc has a hard
#: edge. Development slices, head-in-pillow found / false / missed at 0.8 ->
#: 1.0: 42/0/28 -> 66/2/4 (6,960,000+), 39/0/16 -> 52/2/3 (6,965,000+),
#: 28/0/13 -> 40/0/1 (6,966,000+, 2048 px; 4 more false on 6,965,000+ before
#: voided balls were left out, below).
SLICE_HIP_WEIGHT = 1.0


#: A board trace left in a ball (too faint to take off, or ending under it)
#: lifts the dome fitted to the ball's flanks more than its own height (the
#: flanks are where the dome is low): a ball whose peak stands no more than
#: this many times the trace's height (both as shares of the peak; the log
#: of the peak's ratio to its neighbours') above its neighbours' is judged by
#: its narrowing alone (None: no such test). Independent-renderer 8-bit
#: frames (scripts/altsim.py): rows of balls along a trace of 0.04 of a
#: ball's peak read 0.9-2.9 x its height higher and no narrower, 16 of them
#: head-in-pillow calls; the simulator's heads, taller, 3.8-33 x the trace
#: that entered them. Not applied to a frame that carried an unsharp mask
#: (xrayinspect.sharpening): the mask's halo, undone or not, pairs in the ring
#: like a trace (a renderer head rising 0.091 beside a bump of 0.079).
HIP_TRACE_LIFT = 3.0
#: ... for traces of at least this share of the ball's peak: fainter ring
#: bumps that pair up are common (a quarter of the balls of a development set
#: at 0.02) and a head's rise of 5-6 % in an unsharp-masked frame is 2-4 x them.
HIP_TRACE_LEAST = 0.03


def _hip_scores(diam, peak, points, usable, *, peaks_known=True, circ=None, beside_band=None, alone_weight=None,
                trace_bump=None, peak_bound=None):
    """Neighbour-relative head-in-pillow score per ball.

    A ball that did not collapse onto its pad is smaller than its neighbours
    and, being taller, attenuates more at its centre (its solder volume is the
    same). The score is the mean of the two robust z-scores, each against the
    median of the ball's eight nearest neighbours and scaled by the package's
    robust spread; the diameter's z-score is capped at the peak's.

    Parameters
    ----------
    diam : ndarray
        Equivalent diameter per label, px.
    peak : ndarray
        Peak attenuation per label (the dome fit's), log units.
    points : ndarray, shape (n, 2)
        Centres (x, y), px.
    usable : ndarray of bool
        Labels that are judged and serve as neighbours.
    peaks_known : bool
        False when the export clipped the tops of ordinary balls
        (:attr:`~xrayinspect.voids.VoidStats.heights_hidden`): the peaks say
        where the window cut, not how tall a ball stands, and the score is at
        least :data:`HIP_NARROWING_ALONE` x the diameter's z-score for balls
        as round as their neighbours.
    circ : ndarray, optional
        Circularity per label (0-1), needed when ``peaks_known`` is False.
    beside_band : ndarray of bool, optional
        Labels within 2 px of a band with no image (a stitched export's black
        band): a ball cut by one can read whole, a pixel short of the band,
        and so narrow; the narrowing alone does not judge them.
    alone_weight : float, optional
        Weight of the narrowing's z-score where it judges alone (default
        :data:`HIP_NARROWING_ALONE`).
    trace_bump : ndarray of float, optional
        Per label, the height of a board trace left in the ball (a share of
        its peak; 0: none), from :func:`xrayinspect.traces.crossing_traces`:
        a ball whose rise of peak such a trace explains
        (:data:`HIP_TRACE_LIFT`) is judged by its narrowing alone, at the
        weight above.
    peak_bound : ndarray of bool, optional
        Per label, the peak is only a lower bound
        (:attr:`~xrayinspect.voids.VoidStats.peak_bound`): it neither
        speaks for the ball nor serves as a neighbour's reference.

    Returns
    -------
    ndarray
        Score per label (robust z units; all 0 when fewer than 6 are usable).
    """
    n = len(diam)
    score = np.zeros(n)
    ok = np.nonzero(usable)[0]
    if ok.size < 6:
        return score
    ld, lp = np.log(np.maximum(diam, 1e-3)), np.log(np.maximum(peak, 1e-6))
    tree = cKDTree(points[ok])
    k = min(9, ok.size)
    _, nb = tree.query(points, k=k)
    nb = ok[nb[:, 1:]] if k > 1 else ok[nb[:, None]]
    rd = ld - np.median(ld[nb], axis=1)
    rp = lp - np.median(lp[nb], axis=1)
    known = np.ones(n, bool)
    if peak_bound is not None and np.asarray(peak_bound)[:n].any():
        known = ~np.asarray(peak_bound, bool)[:n]
        ref = np.nonzero(usable & known)[0]
        rp = np.zeros(n)
        if ref.size >= 6:
            kp = min(9, ref.size)
            _, nbp = cKDTree(points[ref]).query(points, k=kp)
            # (a ball among the references is its own nearest: left out)
            nbp = ref[nbp[:, 1:]]
            rp = np.where(known, lp - np.median(lp[nbp], axis=1), 0.0)
    sd = max(mad_sigma(rd[ok]), 0.01)
    kk = ok[known[ok]]
    sp = max(mad_sigma(rp[kk]), 0.01) if kk.size else 0.01
    zd, zp = -rd / sd, rp / sp
    # the shrinking counts no more than the rise of the peak: a ball that kept
    # its solder but stood up is as much taller as it is narrower, while a ball
    # short of solder is smaller and no taller (158 development frames: false
    # hip calls 29 -> 13 at the same 341 found)
    score = 0.5 * (np.minimum(zd, zp) + zp)
    if not peaks_known and circ is not None:
        # a window that clipped every ball's top leaves each peak to be fitted
        # from the flanks below the cut: a dome's flanks still tell its height,
        # but a round head beside flat-topped (pad-bound) balls shows less
        # flank and reads lower. A lower peak then no longer speaks against
        # the narrowing of a round ball; a higher one still speaks for it
        round_ = circ >= np.median(circ[nb], axis=1) - HIP_ROUND_TOLERANCE
        if beside_band is not None:
            round_ &= ~beside_band
        w = HIP_NARROWING_ALONE if alone_weight is None else alone_weight
        score = np.where(round_, np.maximum(score, w * zd), score)
    if trace_bump is not None and HIP_TRACE_LIFT is not None:
        bump = np.asarray(trace_bump, float)[:n]
        lifted = (bump >= HIP_TRACE_LEAST) & (rp <= HIP_TRACE_LIFT * bump)
        w = HIP_NARROWING_ALONE if alone_weight is None else alone_weight
        score = np.where(lifted, np.minimum(score, w * zd), score)
    return score


def _beside_band(masks, valid, reach_px=2):
    """Labels with a pixel within ``reach_px`` of an invalid pixel (bool per label; None when all are valid)."""
    from .joints import near_invalid

    if valid is None or valid.all():
        return None
    out = np.bincount(masks.labels[near_invalid(valid, reach_px)], minlength=masks.n + 1)[:masks.n + 1] > 0
    out[0] = False
    return out


def _solid_centres(att, masks, cxi, cyi):
    """Whether each joint's centre (px ``cxi``, ``cyi``) stands at half its peak or more.

    A ring (via barrel, pad) is lighter in its middle than on its rim; a ball
    or a stray ball is densest there. The peak counts for no more than the
    copper level (:data:`~xrayinspect.joints.DENSE_THIN_FRACTION` x the
    frame's median joint peak): a via barrel across a ball (oblique views)
    sets that ball's peak, not its solder. (A ball taller than the rest is
    densest at its centre: its own peak stands there.)
    """
    from .joints import DENSE_THIN_FRACTION     # (read when called: set in one place)

    peak = masks.peak
    if DENSE_THIN_FRACTION is not None and masks.n:
        peak = np.minimum(peak, DENSE_THIN_FRACTION * float(np.median(peak[1:])))
    return att[cyi, cxi] >= 0.5 * peak


#: A seated ball seen at under this share of the typical ball's area, with
#: copper (above DENSE_THIN_FRACTION x the typical peak) within the typical
#: radius of it, is partly hidden by that copper (None: not looked for).
COVERED_AREA = 0.6


def _covered_balls(att, masks, on_site, d_site, typ_peak):
    """Seated balls partly hidden by something denser than solder, bool per label.

    A via barrel or a dense part across a ball (oblique views) is cut out of
    its mask: what is left is a crescent whose centroid is not the ball's
    centre and whose voids are not the ball's. Such a ball is measured but
    not judged, like one cut by the frame's edge. A ball that is merely
    small (head-in-pillow) has no copper over it.
    """
    from .joints import DENSE_THIN_FRACTION

    n = masks.n
    out = np.zeros(n + 1, bool)
    if COVERED_AREA is None or DENSE_THIN_FRACTION is None or not (d_site > 0 and np.isfinite(typ_peak)):
        return out
    a_typ = np.pi * (d_site / 2) ** 2
    h, w = att.shape
    r = int(np.ceil(d_site / 2))
    for k in np.flatnonzero(on_site[:n + 1] & (masks.area_px[:n + 1] < COVERED_AREA * a_typ)).tolist():
        cx, cy = int(round(masks.cx[k])), int(round(masks.cy[k]))
        win = att[max(cy - r, 0):min(cy + r + 1, h), max(cx - r, 0):min(cx + r + 1, w)]
        out[k] = win.size > 0 and float(win.max()) > DENSE_THIN_FRACTION * typ_peak
    return out


#: Something at this fraction of the typical ball's peak or more, left in the
#: gaps of the ball field once every site (and every ball off its site) is cut
#: out (discs of the ball's radius and 0.15 of its diameter, 1.5 px at least,
#: for the blur), over at least SHADOW_AREA pitch^2, is a part's shadow: a
#: capacitor on the board's far side under the package (a double-sided
#: board), as dense as solder in a radiograph, when it is also SHADOW_LENGTH
#: pitches long or more (a dog-bone via's barrel, seen end-on in the middle of
#: four balls, is denser than solder but under 0.6 pitch across) (None: not
#: looked for).
SHADOW_LEVEL = 0.35
SHADOW_AREA = 0.15
SHADOW_LENGTH = 0.75
#: A seated ball this many diameters off its site is cut out of the gaps at its
#: own centroid as well as at its site.
MOVED_BALL = 0.25


def underside_shadows(att, labels, site_points, ball_points, d_site, pitch_px, typ_peak, field=None):
    """Gap-filling shadows across the ball field, as a bool image.

    A chip capacitor on the far side of a double-sided board projects across
    the balls above it as a plateau of solder-like density (a 0402's ceramic
    body stands at about 0.7 of a 0.8 mm pitch ball's peak, its end caps and
    fillets at the ball's own). Nothing of a single-sided ball field fills
    the space between the sites that way: a bridge neck crosses one gap and
    is narrower than a ball, a stray ball is a third of one, a trace is
    copper (a tenth of a ball's density or less), a via barrel seen end-on a
    small ring.

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    labels : ndarray of int
        Joint labels (only its shape is used).
    site_points : ndarray, shape (m, 2)
        Every lattice site, px (x, y).
    ball_points : ndarray, shape (k, 2)
        Centroids of the balls off their sites (misaligned), px.
    d_site : float
        Typical ball diameter, px.
    pitch_px : float
        Lattice pitch, px.
    typ_peak : float
        Typical ball's peak attenuation.
    field : ndarray, shape (4, 2), optional
        Corners of the ball field (the lattice half a pitch beyond its outer
        sites), px: only gaps inside it are looked at (beside the package lie
        parts of every kind).

    Returns
    -------
    ndarray of bool or None
        The shadows (the gap pieces, not the balls they cross); None when
        there are none.
    """
    import cv2

    if SHADOW_LEVEL is None or not (d_site > 0 and pitch_px > d_site and np.isfinite(typ_peak)) \
            or len(site_points) < 4:
        return None
    h, w = labels.shape
    # only the ball field's box is looked at: the frame beside it is the most of
    # a 2048 px frame's pixels on a small package, and none of them can matter
    x0, y0, x1, y1 = 0, 0, w, h
    if field is not None:
        corners = np.asarray(field, float).reshape(-1, 2)
        x0, y0 = (max(int(np.floor(v)), 0) for v in corners.min(0))
        x1, y1 = min(int(np.ceil(corners[:, 0].max())) + 1, w), min(int(np.ceil(corners[:, 1].max())) + 1, h)
        if x1 <= x0 or y1 <= y0:
            return None
    dense = (att[y0:y1, x0:x1] >= SHADOW_LEVEL * typ_peak).view(np.uint8)
    if not dense.any():
        return None
    # every site and seated ball cut out, with its blurred rim
    bh, bw = dense.shape
    cut = np.zeros((bh, bw), np.uint8)
    r = int(round(0.5 * d_site + max(1.5, 0.15 * d_site)))
    for x, y in np.concatenate([np.asarray(site_points, float).reshape(-1, 2),
                                np.asarray(ball_points, float).reshape(-1, 2)]):
        if -r <= x < w + r and -r <= y < h + r:
            cv2.circle(cut, (int(round(x)) - x0, int(round(y)) - y0), r, 1, -1)
    gaps = (dense > 0) & (cut == 0)
    if field is not None:
        inside = np.zeros((bh, bw), np.uint8)
        cv2.fillConvexPoly(inside, (np.round(corners).astype(np.int32) - [x0, y0]).reshape(-1, 1, 2), 1)
        gaps &= inside > 0
    if not gaps.any():
        return None
    n, lab, stats, _ = cv2.connectedComponentsWithStats(gaps.view(np.uint8), connectivity=8)
    big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= SHADOW_AREA * pitch_px ** 2)
    big = [int(k) for k in big if k > 0 and _length(lab, stats[k], k) >= SHADOW_LENGTH * pitch_px
           and not _hollow(lab, stats[k], k)]
    if not big:
        return None
    out = np.zeros((h, w), bool)
    out[y0:y1, x0:x1] = np.isin(lab, big)
    return out


#: A ball under a part's shadow stands this fraction of the typical ball's
#: peak over the shadow around it (a ball's own dome adds its whole peak; a
#: missing ball's pad under a part, a tenth of it).
DOME_OVER_SHADOW = 0.5
#: A ball beside a part's end: the part raises one side of the ring round the
#: site, not both sides of any diameter (as a part across the site does).
#: Its dome still stands this fraction of the typical peak over the ring's
#: 75th percentile, and its top lies within a quarter diameter of the site -
#: a seated ball (IPC-A-610's half radius), which a part's end cap lying over
#: an empty site, flat and off to one side of it, is not (30 double-sided
#: development frames: 152 balls beside parts at 0.00-0.26 diameters, two
#: end caps at 0.28 and 0.36) (None: only domes over the whole ring are taken).
DOME_BESIDE = 0.1
#: A core the segmentation left out for its size (two balls' area or more) is
#: searched for domes at the sites it covers, as a shadow is (False: shadows
#: only).
MERGED_DOMES = True


def _dome_through(att, covering, x, y, d_site, typ_peak):
    """The top (x, y, px) of a ball's dome over a part's shadow at a site, or None.

    A ball under a part stands over the whole ring round it; a ball beside a
    part's end stands over the board on every side but the part's
    (:data:`DOME_BESIDE`).

    Parameters
    ----------
    att : ndarray
        Smoothed attenuation map.
    covering : ndarray of bool
        Where something dense joins the balls: :func:`underside_shadows`, and
        the plates the segmentation left out (:data:`MERGED_DOMES`); a site
        with none of it near is not looked at.
    x, y : float
        The site, px.
    d_site : float
        Typical ball diameter, px.
    typ_peak : float
        Typical ball's peak attenuation.
    """
    h, w = att.shape
    R = int(np.ceil(0.9 * d_site))
    xi, yi = int(round(x)), int(round(y))
    y0, y1, x0, x1 = max(yi - R, 0), min(yi + R + 1, h), max(xi - R, 0), min(xi + R + 1, w)
    if y1 - y0 < 3 or x1 - x0 < 3 or not covering[y0:y1, x0:x1].any():
        return None
    a = att[y0:y1, x0:x1]
    yy, xx = np.mgrid[y0:y1, x0:x1]
    rr = np.hypot(yy - y, xx - x)
    core = rr <= 0.3 * d_site
    ring = (rr >= 0.6 * d_site) & (rr <= 0.9 * d_site)
    if not core.any() or not ring.any():
        return None
    peak = float(a[core].max())
    base = float(np.percentile(a[ring], 75))
    top = (rr <= 0.5 * d_site) & (a >= 0.5 * (peak + base))
    if not top.any():
        top = core & (a >= peak)        # a ring standing over the core: its highest point
    ty, tx = np.nonzero(top)
    tx, ty = float(tx.mean() + x0), float(ty.mean() + y0)
    if peak - base >= DOME_OVER_SHADOW * typ_peak:
        return tx, ty
    if DOME_BESIDE is None or peak - base < DOME_BESIDE * typ_peak or np.hypot(tx - x, ty - y) > 0.25 * d_site:
        return None
    # what lies across the site on both sides: the highest of the lower of two
    # opposite eighths of the ring (a part beside the site lifts one side only)
    sector = (np.floor((np.arctan2(yy - y, xx - x) + np.pi) / (np.pi / 4)).astype(int)) % 8
    level = [float(np.median(a[ring & (sector == s)])) if (ring & (sector == s)).any() else -np.inf
             for s in range(8)]
    across = max(min(level[s], level[s + 4]) for s in range(4))
    if not np.isfinite(across):
        across = base
    return (tx, ty) if peak - across >= DOME_OVER_SHADOW * typ_peak else None


#: A piece whose holes add this share of its area or more is a ring (a via
#: barrel seen end-on, denser than solder), not a part's solid shadow.
HOLLOW_SHARE = 0.1


def _length(lab, stat, k):
    """Longer side (px) of the smallest rectangle round component ``k`` of ``lab`` (its stats row ``stat``)."""
    import cv2

    x, y, bw, bh = (int(v) for v in stat[:4])
    py, px = np.nonzero(lab[y:y + bh, x:x + bw] == k)
    (_, _), (a, b), _ = cv2.minAreaRect(np.stack([px, py], 1).astype(np.float32))
    return max(a, b)


def _hollow(lab, stat, k):
    """Whether component ``k`` of ``lab`` (its stats row ``stat``) encloses holes of :data:`HOLLOW_SHARE` of its area."""
    from scipy.ndimage import binary_fill_holes

    x, y, bw, bh, area = (int(v) for v in stat[:5])
    piece = lab[y:y + bh, x:x + bw] == k
    return binary_fill_holes(piece).sum() - area >= HOLLOW_SHARE * area


def _ball_like(ids, area, med_area, touches_edge, solid):
    """Labels among ``ids`` of solid, ball-sized blobs (0.35-2.5 x the typical area) inside the frame."""
    return ids[(area[ids] > 0.35 * med_area) & (area[ids] < 2.5 * med_area) & ~touches_edge[ids] & solid[ids]]


def first_look_diameter(diameter_px):
    """The search scale (px) of a frame's first segmentation: the joint size
    found or given, 12 px when there is none or it is under 4 px."""
    return diameter_px if diameter_px and diameter_px >= 4 else 12.0


def score_bga(prep, *, recipe, limits, pixel_size_um=None, hip_threshold=None):
    """Segment, measure and judge every ball of a prepared BGA frame.

    Parameters
    ----------
    prep : xrayinspect.preprocess.Prepared
    recipe : xrayinspect.recipe.Recipe or None
    limits : xrayinspect.recipe.Limits
    pixel_size_um : float, optional
        From the recipe or the file; sets the nominal ball size when the
        recipe gives the ball diameter.

    Returns
    -------
    joints : list of JointResult
    info : dict
        ``pitch_px``, ``angle_deg``, ``n_sites``, ``grid`` (dict), ``hip_judged``
        (False for a CT or laminography slice without :data:`SLICE_HIP`),
        ``sliced`` (the frame is such a slice), ``ball_diameter_px`` (the
        typical joint found, px; NaN under 3) and the masks for overlays
        (``labels``, ``void_labels``).
    """
    from . import rules

    hip_threshold = rules.HIP_THRESHOLD if hip_threshold is None else hip_threshold
    pkg = recipe.package if recipe is not None else None
    diam = prep.blob_diameter_px
    pitch_px = None
    if pkg is not None and pixel_size_um:
        if pkg.pitch_mm:
            pitch_px = pkg.pitch_mm * 1000 / pixel_size_um
        if pkg.ball_diameter_mm:
            diam = pkg.ball_diameter_mm * 1000 / pixel_size_um * 1.1   # reflowed balls spread ~10 %
    diam = first_look_diameter(diam)
    first = getattr(prep, "first_masks", None)
    if first is not None and diam == first_look_diameter(prep.blob_diameter_px):
        masks = first          # found by the black-level check on this very map, at this scale
        prep.first_masks = None
    else:
        masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=diam, core_fraction=CORE_FRACTION)
    for grow in ZOOM_RETRY:
        if pkg is not None and pkg.ball_diameter_mm and pixel_size_um:
            break
        # a zoomed-in view: balls far larger than the polarity vote's top-hats
        # are cut into rim pieces there, and at that size every whole ball
        # exceeds the size bound of a joint; look again at larger scales when
        # fewer than 3 joints were found, or when the solid discs left out as
        # too large hold more solder than every joint found (stray balls and
        # pieces of traces passed for the joints)
        if masks.n >= 3 and not (masks.n_oversize >= 3 and masks.oversize_px > masks.area_px[1:].sum()):
            break
        retry = segment_joints(prep.att_smooth, prep.valid, diameter_px=diam * grow, core_fraction=CORE_FRACTION)
        if masks.n < 3 or (retry.n >= 3 and retry.n_oversize < masks.n_oversize
                           and typical_area(retry.area_px[1:]) > ZOOM_AREA * np.pi * (diam / 2) ** 2):
            # (the joints found at the larger scale must be those discs: a
            # small array beside large parts keeps its balls)
            masks = retry
    if masks.n >= 3:
        # the first guess of the size sets only the search scale; refine once
        d_meas = float(equivalent_diameter(typical_area(masks.area_px[1:])))
        if abs(d_meas / diam - 1) > 0.3:
            masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=d_meas, core_fraction=CORE_FRACTION)
    d_found = float(equivalent_diameter(typical_area(masks.area_px[1:]))) if masks.n >= 3 else math.nan
    # photon noise says projection: no profile makes it a slice (a viewer's
    # unsharp mask rings like a slice's cupping)
    projection = getattr(getattr(prep, "inspection", None), "projection", False)
    sliced = SLICE_EDGE_FRACTION is not None and masks.n >= 3 and not projection \
        and _looks_sliced(prep.att_smooth, masks)
    if sliced:
        # a slice (CT, laminography) cuts each ball to a flat disc: its edge
        # is a blurred step, halfway up, not the foot of a dome; a void is a
        # hole in it (at the rim, a notch), inside the joint all the same
        d_ball = float(equivalent_diameter(typical_area(masks.area_px[1:])))
        masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=d_ball, core_fraction=CORE_FRACTION,
                               edge_fraction=SLICE_EDGE_FRACTION, flat=True)
        _fill_to_hull(masks)
    n = masks.n
    if OPEN_MASKS and n and not sliced:
        _open_masks(masks, d_ball=float(equivalent_diameter(typical_area(masks.area_px[1:]))))
    area = masks.area_px
    dia = equivalent_diameter(area)
    pts = np.stack([masks.cx, masks.cy], 1)
    ids = np.arange(1, n + 1)
    med_area = typical_area(area[ids][~masks.touches_edge[ids]]) if n else 0.0
    # what is neither on a site nor a solid, round blob is not solder (via
    # barrels and trace crossings are rings and lines; a stray ball is solid)
    h, w = prep.att.shape
    cyi = np.clip(np.round(masks.cy).astype(int), 0, h - 1)
    cxi = np.clip(np.round(masks.cx).astype(int), 0, w - 1)
    solid = _solid_centres(prep.att_smooth, masks, cxi, cyi)
    # the lattice is fitted on solid, ball-sized blobs only: dog-bone vias sit
    # between four balls and would make a finer, 45-degree lattice
    ball_like = _ball_like(ids, area, med_area, masks.touches_edge, solid)
    rows = cols = None
    depop = ()
    if pkg is not None:
        rows, cols = pkg.rows, pkg.cols
        depop = pkg.depopulated or ()
    # a stitched composite shifts each tile by its black band: fit the lattice
    # with the bands taken out, then put the sites back in frame coordinates
    band_x = (~prep.valid).all(axis=0)
    band_y = (~prep.valid).all(axis=1)

    def collapse(xy):
        """Frame pixels to band-free coordinates (the inverse of ``to_frame``)."""
        xy = np.array(xy, float)
        if band_x.any() or band_y.any():
            xi = np.clip(np.round(xy[:, 0]).astype(int), 0, band_x.size - 1)
            yi = np.clip(np.round(xy[:, 1]).astype(int), 0, band_y.size - 1)
            xy[:, 0] -= np.cumsum(band_x)[xi]
            xy[:, 1] -= np.cumsum(band_y)[yi]
        return xy

    def collapse_image(img):
        """A frame-sized image with the band rows and columns taken out (a view when there are none)."""
        if band_x.any() or band_y.any():
            return img[~band_y][:, ~band_x]
        return img

    fit_pts = collapse(pts)
    fit, idx = fit_grid(fit_pts[ball_like], shape=prep.att.shape, pitch_px=pitch_px, rows=rows, cols=cols,
                        depopulated=depop, valid=prep.valid, radius_px=0.5 * float(np.median(dia[ball_like]))
                        if ball_like.size else 5.0, other_points=fit_pts[ids],
                        edge_points=fit_pts[ids][masks.touches_edge[ids]],
                        lattice_shape=(h - int(band_y.sum()), w - int(band_x.sum())),
                        covered=collapse_image(masks.labels) if pkg is not None else None)

    def to_frame(xy):
        """Collapsed (band-free) coordinates back to frame pixels."""
        xy = np.array(xy, float)
        if band_x.any():
            keep_x = np.nonzero(~band_x)[0]
            xy[..., 0] = np.interp(xy[..., 0], np.arange(keep_x.size), keep_x)
        if band_y.any():
            keep_y = np.nonzero(~band_y)[0]
            xy[..., 1] = np.interp(xy[..., 1], np.arange(keep_y.size), keep_y)
        return xy

    if fit is not None and SPLIT_MERGED:
        # a thick bridge can leave two balls in one mask: cut it between the
        # two expected sites it covers, then assign as usual
        if _split_on_sites(masks, fit, med_area, to_frame, any_site=not (rows and cols)):
            n = masks.n
            area = masks.area_px
            dia = equivalent_diameter(area)
            pts = np.stack([masks.cx, masks.cy], 1)
            ids = np.arange(1, n + 1)
            fit_pts = collapse(pts)
            cyi = np.clip(np.round(masks.cy).astype(int), 0, h - 1)
            cxi = np.clip(np.round(masks.cx).astype(int), 0, w - 1)
            solid = _solid_centres(prep.att_smooth, masks, cxi, cyi)
    # (the ball-like blobs again: a split above renumbers the joints)
    ball_like = _ball_like(ids, area, med_area, masks.touches_edge, solid)
    peak0 = float(np.median(masks.peak[ball_like])) if ball_like.size else np.inf
    warp = None
    for _pass in range(2):
        site_of = {}
        offset = np.full(n + 1, np.nan)
        site_xy = np.full((n + 1, 2), np.nan)
        rc = np.full((n + 1, 2), -1)
        residue_at = {}
        if fit is None:
            break
        basis = np.stack([fit.u, fit.v], 1)
        frac = np.linalg.solve(basis, (fit_pts[ids] - fit.origin).T).T      # (col, row)
        near = np.round(frac).astype(int)
        if warp is not None:
            # the nearest site of the bent lattice: the field moved off the point, twice
            for _ in range(2):
                near = np.round(frac - np.linalg.solve(basis, warp(near[:, ::-1]).T).T).astype(int)
        # (in the band-free coordinates the lattice was fitted in: a stitching
        # band is a step in the frame's, which no smooth field follows)
        sxy_fit = fit.origin + near[:, :1] * fit.u + near[:, 1:] * fit.v
        if warp is not None:
            sxy_fit = sxy_fit + warp(near[:, ::-1])
        sxy = to_frame(sxy_fit)
        dist = np.hypot(*(pts[ids] - sxy).T)
        for k, (c, r), dd, sx in zip(ids, near, dist, sxy):
            site = (int(r), int(c))
            if dd > 0.45 * fit.pitch_px or not (0 <= r < fit.rows and 0 <= c < fit.cols):
                continue
            if site not in fit.expected and area[k] < 0.35 * med_area:
                continue        # a stray speck near a depopulated site is extra solder
            if not solid[k] and area[k] < 0.6 * med_area:
                continue        # a ring (via barrel) is not a ball
            if RESIDUE_PEAK is not None and site in fit.expected and not sliced \
                    and masks.peak[k] < RESIDUE_PEAK * peak0 and area[k] < RESIDUE_AREA * med_area:
                residue_at[k] = site    # what a missing ball leaves, unless a ball took the site
                continue
            if site in site_of and offset[site_of[site]] <= dd:
                continue
            if site in site_of:
                old = site_of[site]
                rc[old] = -1
                offset[old] = np.nan
            site_of[site] = k
            rc[k] = site
            offset[k] = dd
            site_xy[k] = sx
        if warp is not None or _grid.WARP_MIN_BALLS is None or len(site_of) < _grid.WARP_MIN_BALLS:
            break
        # a lattice bent by the imaging geometry (an image intensifier's
        # pincushion, a tilted detector's keystone) moves the balls off their
        # straight sites by a smooth field, the outer ones off every site:
        # measured on the balls seated, the sites are bent with it
        on = np.array(list(site_of.values()), np.intp)
        straight = fit.origin + rc[on][:, 1:] * fit.u + rc[on][:, :1] * fit.v
        warp = lattice_warp(rc[on], fit_pts[on] - straight, fit.pitch_px)
        if warp is None:
            break
        fit.warp = warp
    residue = np.zeros(n + 1, bool)
    residue[[k for k, site in residue_at.items() if site not in site_of]] = True
    if MERGE_RINGS and site_of:
        _merge_rings(masks, rc, med_area)
    bitten = []
    if CLIP_TOLERANCE is not None and site_of and not sliced:
        # balls on sites only: what is off every site keeps the shape that tells
        # a ring or a trace crossing from a stray ball
        _clip_to_cap(masks, prep.att_smooth, np.isin(np.arange(n + 1), list(site_of.values())))
        if APPENDAGE_SHIFT is not None:
            _cut_appendages(masks, np.isin(np.arange(n + 1), list(site_of.values())), prep.att_smooth)
        if NOTCH_GAIN is not None:
            bitten = _fill_notches(masks, np.isin(np.arange(n + 1), list(site_of.values())), prep.valid,
                                   prep.att_smooth)
        area = masks.area_px
        dia = equivalent_diameter(area)
        pts = np.stack([masks.cx, masks.cy], 1)
        on = rc[:, 0] >= 0
        offset[on] = np.hypot(*(pts[on] - site_xy[on]).T)
    # the typical seated ball, once: its peak and size set the stray, bridge,
    # missing and bare-pad levels below
    on_site = np.array(list(site_of.values()), np.intp)
    is_site = np.zeros(n + 1, bool)
    is_site[on_site] = True
    typ_peak = float(np.median(masks.peak[on_site])) if on_site.size else np.inf
    d_site = float(np.median(dia[on_site])) if on_site.size else 0.0
    void_att = prep.att_smooth if VOID_SOURCE == "smooth" else _light_smooth(prep.att)
    trace_bump = None
    if TRACES_THROUGH and not sliced:
        # a trace under a ball would hold its peak and leave the rest of it void
        trace, trace_bump = crossing_traces(void_att, masks.labels, n, peak=masks.peak, with_bumps=True)
        void_att = np.maximum(void_att - trace, 0).astype(void_att.dtype)
        if getattr(getattr(prep, "inspection", None), "amount", 0.0) > 0:
            # an unsharp mask, even undone, leaves a halo in the ring that
            # pairs like a faint trace (a head of 0.09 beside a bump of 0.08)
            trace_bump = None
    void_labels = masks.labels
    if APPENDAGE_SMALL is not None and APPENDAGE_SHIFT is not None and site_of and not sliced:
        # (cut in a copy: see APPENDAGE_SMALL)
        cut = _cut_appendages(masks, is_site, prep.att_smooth, least=APPENDAGE_SMALL[1],
                              largest=APPENDAGE_SMALL[0], copy=True)
        if cut is not None:
            void_labels = cut
    vs = ball_voids(void_att, void_labels, n,
                    clipped=getattr(prep, "clipped", None), fit_gamma=getattr(prep, "windowed", None),
                    sliced=sliced, large_void=bitten if BITTEN_REFIT else None)
    contours, perim = contours_by_label(masks.labels, n)
    pad = int(np.ceil(max(d_site, 4.0)))
    for k in ids[(area[ids] > 0) & (perim[ids] == 0)].tolist():
        # a joint inside another's outline (a stray in a via ring's hole) is not on any outer outline
        bx = masks.bbox[k]
        contours[k], perim[k] = contour_in_box(masks.labels, k, (bx[0] - pad, bx[1] - pad, bx[2] + pad, bx[3] + pad))
    vcont, _ = contours_by_label(vs.void_labels, len(vs.void_owner) - 1)
    circ = circularity(area, perim)
    # a ball with something denser than solder across it (a via barrel, a part
    # seen through it) cannot be compared with its neighbours: no hip call
    obstructed = (vs.foreign_frac if vs.foreign_frac is not None else np.zeros(n + 1)) > OBSTRUCTED_FRAC
    # ... nor one made taller by clipped pixels that are not its own centred core
    clip_aside = vs.clip_aside
    joints = []
    usable_hip = (is_site & ~masks.touches_edge & (vs.void_pct < 10)
                  & np.array([not b for b in masks.bridged_with]) & ~obstructed)
    hip_judged = not sliced or SLICE_HIP
    if not sliced:
        hip = _hip_scores(dia, vs.dome_peak, pts, usable_hip, peaks_known=not vs.heights_hidden, circ=circ,
                          beside_band=_beside_band(masks, prep.valid) if vs.heights_hidden else None,
                          trace_bump=trace_bump, peak_bound=vs.peak_bound)
    elif SLICE_HIP:
        # a slice (at the balls' mid-height) shows no height or peak, but a
        # head that never collapsed onto its pillow is narrower there than its
        # collapsed neighbours: judged by its narrowing alone, round ones only
        hip = _hip_scores(dia, np.ones(n + 1), pts, usable_hip, peaks_known=False, circ=circ,
                          alone_weight=SLICE_HIP_WEIGHT)
        if usable_hip.any():
            # ... no narrower than a ball that never collapsed can be: a mask
            # cut smaller than that (one of a bridged pair split apart) is not
            # a head
            hip[dia < SLICE_HIP_NARROWEST * np.median(dia[usable_hip])] = 0.0
        # ... and only balls that serve as neighbours: a void cut by the slice
        # at the ball's rim narrows its disc as a head does
        hip[~usable_hip] = np.minimum(hip[~usable_hip], 0.0)
    else:
        hip = np.zeros(n + 1)
    stray, stray_xy, stray_r = _stray_solder(masks, prep.att_smooth, fit, fit_pts, rc, att_raw=prep.att, flat=sliced)
    stray &= (area < 3 * max(med_area, 1)) & (area >= 6) & ~residue
    for k in np.flatnonzero(stray & ~masks.touches_edge).tolist():
        # the mask of a small stray runs out along the skirts and traces
        # around it; what is reported (outline, area) is the sphere its top
        # says it is, 1 px of blur to spare
        cont, per = _trim_to_disc(masks, k, stray_xy[k], stray_r[k] + 1.0)
        if cont:
            contours[k] = cont
            area[k] = masks.area_px[k]
            dia[k] = equivalent_diameter(area[k])
            circ[k] = circularity(np.array([area[k]]), np.array([per]))[0]
    is_joint = (rc[:, 0] >= 0) | stray
    covered = _covered_balls(prep.att_smooth, masks, is_site, d_site, typ_peak)
    shadows = None
    if fit is not None and not sliced:
        rr_, cc_ = np.divmod(np.arange(fit.rows * fit.cols), fit.cols)
        sites_xy = to_frame(fit.site_xy(rr_, cc_))
        corners = to_frame(fit.origin + np.array([[c, r] for r, c in ((-0.5, -0.5), (-0.5, fit.cols - 0.5),
                                                                      (fit.rows - 0.5, fit.cols - 0.5),
                                                                      (fit.rows - 0.5, -0.5))])
                           @ np.stack([fit.u, fit.v]))
        # balls off their sites (misaligned) are cut out where they are; a seated
        # ball's centroid, which a part joined to its mask pulls towards the part,
        # would cut the part's middle out with it
        moved = on_site[offset[on_site] > MOVED_BALL * d_site] if on_site.size else on_site
        shadows = underside_shadows(prep.att_smooth, masks.labels, sites_xy, pts[moved], d_site,
                                    fit.pitch_px, typ_peak, field=corners)
    shadowed = np.zeros(n + 1, bool)
    if shadows is not None:
        # a ball the shadow runs into is seen through the part: measured, not
        # judged (like one under a via barrel); what lies off the sites inside
        # it is the part's own end caps and fillets, not stray solder
        import cv2

        near = cv2.dilate(shadows.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
        touched = np.bincount(masks.labels[near], minlength=n + 1)[:n + 1]
        shadowed = touched > 0
        shadowed[0] = False
        covered |= shadowed & is_site
        is_joint &= ~(shadowed & ~is_site)
    is_joint |= masks.touches_edge & (area > 0.2 * med_area)
    split_bridged = getattr(masks, "split_bridged", set())
    bridged_to = np.zeros(n + 1, bool)
    if BRIDGE_RULE != "cores":
        # the measured peak of a ball whose centre an 8-bit export clipped is
        # inflated (1.5-1.7x the typical ball's on a windowed TIFF) and hid its
        # necks: such a ball's peak counts no more than the typical ball's
        saddle_peak = masks.peak
        clipped = getattr(prep, "clipped", None)
        if clipped is not None and n:
            hit = np.bincount(masks.labels[clipped], minlength=n + 1)[:n + 1] > 0
            saddle_peak = np.where(hit, np.minimum(masks.peak, typ_peak), masks.peak)
        cut_centres = None
        if SADDLE_CUT_AT_SITE:
            # a ball cut by a band or the frame's edge is drawn from its site
            cut_centres = np.where((masks.touches_edge & (rc[:, 0] >= 0))[:, None], site_xy, np.nan)
        saddles = _gap_saddles(prep.att_smooth, masks.labels, site_of, saddle_peak, typ_peak, prep.valid,
                               cut_centres)
        # a pair closer than its pitch less half the nominal gap touches because
        # a ball moved, not because solder ran between two seated balls
        near_pair = fit.pitch_px - DISPLACED_GAP * max(fit.pitch_px - d_site, 0.0) if fit is not None else 0.0
        gap_floor = _typical_gap_excess(saddles, rc)
        for (a, b), (v, v_centre) in saddles.items():
            floor, floor_centre = gap_floor[_pair_axis(rc, a, b)]
            v, v_centre = v - floor, v_centre - floor_centre
            if np.hypot(masks.cx[a] - masks.cx[b], masks.cy[a] - masks.cy[b]) < near_pair:
                # a wide neck pulls both centroids into the gap (1-2 px each
                # at a 19 px pitch): the dense tops, which a neck does not
                # reach, say whether the balls themselves moved
                if v < SADDLE_FRACTION or np.hypot(*(_top_centre(masks, prep.att_smooth, a)
                                                     - _top_centre(masks, prep.att_smooth, b))) < near_pair:
                    continue
            # two balls cut out of one mask are joined at the mask's level
            # already: the neck only has to run straight across the gap (a
            # ring that joined them does not)
            split_pair = a in split_bridged and b in masks.bridged_with[a]
            # a narrow neck is told by its density alone, which copper over
            # either ball (a via barrel touching both) can match
            thin_neck = THIN_NECK_FRACTION is not None and v_centre >= THIN_NECK_FRACTION \
                and v < SADDLE_FRACTION and not (covered[a] or covered[b]) \
                and _neck_confined(prep.att_smooth, masks.labels, masks.cx[[a, b]], masks.cy[[a, b]],
                                   min(THIN_CONFINE_FRACTION, THIN_CONFINE_OF_CENTRE * v_centre)
                                   * min(saddle_peak[a], saddle_peak[b]), d_site)
            bridged = v >= (SPLIT_SADDLE_FRACTION if split_pair else SADDLE_FRACTION) or thin_neck
            # the saddle over a trace: one that crosses the gap and runs on, or
            # one along the balls' line that runs on past both of them
            lines = ((CROSSING_REACH, lambda: _gap_crossing(prep.att_smooth, masks.labels, masks.cx[[a, b]],
                                                            masks.cy[[a, b]], d_site)),
                     (AXIS_REACH, lambda: _axis_run(prep.att_smooth, masks.labels, masks.cx[[a, b]],
                                                    masks.cy[[a, b]], (a, b), d_site)))
            for reach, read_line in lines:
                if not bridged or reach is None or split_pair:
                    continue
                lower = min(saddle_peak[a], saddle_peak[b])
                line = read_line()
                if line >= CROSSING_MIN * SADDLE_FRACTION * lower:
                    bridged = v - line / lower >= SADDLE_FRACTION or (
                        thin_neck and v_centre - line / lower >= THIN_NECK_FRACTION)
            if bridged and PART_WIDTH is not None and not split_pair:
                width, centre = _gap_width(prep.att_smooth, masks.cx[[a, b]], masks.cy[[a, b]], d_site)
                if width >= PART_WIDTH * d_site and centre >= PART_LEVEL * min(saddle_peak[a], saddle_peak[b]):
                    bridged = False     # a part across the gap, wider than the balls
            if bridged and GAP_HOLE_DEPTH is not None and _gap_hole_depth(
                    prep.att_smooth, masks.labels, (a, b), masks.cx[[a, b]], masks.cy[[a, b]], d_site) \
                    >= GAP_HOLE_DEPTH * min(saddle_peak[a], saddle_peak[b]):
                bridged = False         # a ring across the gap, not a neck
            if bridged:
                over = _part_over_one_ball(prep.att_smooth, masks.cx[[a, b]], masks.cy[[a, b]], d_site, typ_peak,
                                           clipped)
                if over is not None:
                    # a part's shadow over one ball, its body in the gap: that
                    # ball is seen through the part, measured but not judged
                    bridged = False
                    covered[(a, b)[over]] = True
            if bridged and not (shadowed[a] or shadowed[b]):
                bridged_to[a] = bridged_to[b] = True
    cut_off_site = np.zeros(masks.n + 1, bool)
    if STRAY_BAND_CLEARANCE_PX is not None:
        beside = _beside_band(masks, prep.valid, STRAY_BAND_CLEARANCE_PX)
        if beside is not None:
            cut_off_site = beside & (rc[:, 0] < 0)
    for k in ids:
        if not is_joint[k]:
            continue
        j = JointResult(joint_id=0, kind="ball", grid_row=int(rc[k, 0]), grid_col=int(rc[k, 1]),
                        x_px=float(masks.cx[k]), y_px=float(masks.cy[k]),
                        site_x_px=float(site_xy[k, 0]), site_y_px=float(site_xy[k, 1]),
                        offset_px=float(offset[k]), diameter_px=float(dia[k]), area_px=float(area[k]),
                        circularity=float(circ[k]), void_pct=float(vs.void_pct[k]),
                        largest_void_pct=float(vs.largest_void_pct[k]), void_count=int(vs.void_count[k]),
                        hip_score=float(hip[k]) if (rc[k, 0] >= 0 and not obstructed[k] and not clip_aside[k]) else 0.0, partial=bool(masks.touches_edge[k] or covered[k] or cut_off_site[k]),
                        peak_att=float(vs.dome_peak[k]), contour=contours[k])
        j.void_contours = []
        if stray[k] and not masks.touches_edge[k]:
            # where its peak is: the mask of a small stray runs into its
            # neighbours' skirts, and its centroid with it (a piece cut by
            # the frame's edge is reported like every other partial joint)
            j.x_px, j.y_px = (float(v) for v in stray_xy[k])
        if rc[k, 0] < 0 and not j.partial:
            j.defects.append("extra")
            # stray solder is judged by being there; its voids are not measured
            j.void_pct = j.largest_void_pct = 0.0
            j.void_count = 0
        if rc[k, 0] >= 0 and ((bridged_to[k] if BRIDGE_RULE != "cores" else k in split_bridged)
                              or (BRIDGE_RULE != "saddle" and any(q in site_of.values() for q in masks.bridged_with[k]))):
            j.defects.append("bridge")
        joints.append(j)
    # void contours by owner
    by_joint = {}
    for vid in range(1, len(vs.void_owner)):
        by_joint.setdefault(int(vs.void_owner[vid]), []).append(vcont[vid])
    for k, j in zip([k for k in ids if is_joint[k]], joints):
        # stray solder's voids are not measured (its void % is 0): none drawn
        # either (the gap between a ball and the via ring it lies in read as one)
        j.void_contours = [] if "extra" in j.defects else by_joint.get(int(k), [])
    if fit is not None and FAINT_FRACTION is not None:
        for st in _faint_strays(prep.att_smooth, prep.valid, masks.labels, fit, collapse, typ_peak, med_area,
                                   prep.att):
            if shadows is not None and shadows[int(np.clip(round(st["y_px"]), 0, h - 1)),
                                               int(np.clip(round(st["x_px"]), 0, w - 1))]:
                continue
            j = JointResult(joint_id=0, kind="ball", grid_row=-1, grid_col=-1, x_px=st["x_px"], y_px=st["y_px"],
                            diameter_px=float(equivalent_diameter(st["area_px"])), area_px=st["area_px"],
                            peak_att=st["peak"], contour=st["contour"], defects=["extra"])
            j.void_contours = []
            joints.append(j)
    strays = [j for j in joints if "extra" in j.defects and not j.partial]
    vias = _via_pattern([(j.x_px, j.y_px) for j in strays], [j.diameter_px for j in strays],
                        [j.peak_att for j in strays], fit, collapse, prep.att_smooth, to_frame, prep.att)
    if vias.any():
        drop = {id(j) for j, v in zip(strays, vias) if v}
        joints = [j for j in joints if id(j) not in drop]
    obstructed_sites = []
    ghost_sites = []
    if fit is not None:
        r_in = max(1, int(round(0.35 * d_site if on_site.size else 2)))
        # what joins the balls without being their solder: the parts' shadows
        # in the gaps, and the plates of solder-like density the segmentation
        # left out for their size (a part too small to leave a shadow in the
        # gaps, an 01005 between four balls of a 0.3 mm grid, joins the balls
        # round it into one)
        parts = shadows
        if getattr(masks, "left_out", None):
            parts = np.zeros((h, w), bool) if parts is None else parts.copy()
            for x0_, y0_, piece in masks.left_out:
                parts[y0_:y0_ + piece.shape[0], x0_:x0_ + piece.shape[1]] |= piece
        if pkg is None or not (pkg.rows and pkg.cols):
            # without a recipe a lone empty site is the only sign of a missing
            # ball, looked for again now that the balls are assigned: when the
            # lattice was fitted, a bridged pair in one mask (split since) or
            # a ball displaced off its site left their sites empty, and the
            # lone hole beside them had too many empty neighbours
            fit.expected |= fit.holes_among(site_of)
            # ... and the bare pad it leaves is another (designed depopulation
            # has no pad)
            for site in _ghost_pad_sites(prep.att_smooth, prep.valid, masks.labels, fit, to_frame,
                                         set(site_of) | set(fit.expected), 0.5 * d_site, typ_peak,
                                         foreign=_parts_near(prep.att_smooth, shadows, parts, d_site, typ_peak)):
                fit.expected.add(site)
                ghost_sites.append(site)
        for site in sorted(fit.expected):
            if site in site_of:
                continue
            sx, sy = to_frame(fit.site_xy(*site))
            if _site_obstructed(prep.att_smooth, sx, sy, r_in, typ_peak):
                # something at least half as dense as a ball covers the site
                # (a via barrel or a part seen through the board in an oblique
                # view): the ball cannot be seen, so it is not called missing
                obstructed_sites.append(site)
                continue
            joints.append(JointResult(joint_id=0, kind="ball", grid_row=site[0], grid_col=site[1],
                                      x_px=float(sx), y_px=float(sy), site_x_px=float(sx), site_y_px=float(sy),
                                      offset_px=0.0, defects=["missing"]))
        covering = parts if MERGED_DOMES else shadows
        dome_sites = 0
        if covering is not None:
            # a ball's dome standing over a part's shadow at a site no ball
            # took is one (its blob with the part was no ball's shape, and
            # without a recipe the empty sites it left read as depopulated):
            # reported where it is, measured no further
            for r_ in range(fit.rows):
                for c_ in range(fit.cols):
                    if (r_, c_) in site_of or ((r_, c_) in fit.expected
                                               and (r_, c_) not in obstructed_sites):
                        continue
                    if (r_, c_) not in fit.expected and pkg is not None and pkg.rows and pkg.cols:
                        continue        # the recipe's depopulated sites stay so
                    sx, sy = to_frame(fit.site_xy(r_, c_))
                    top = _dome_through(prep.att_smooth, covering, sx, sy, d_site, typ_peak)
                    if top is None:
                        continue
                    fit.expected.add((r_, c_))
                    dome_sites += 1
                    # its outline for review tools: the typical ball round its top
                    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
                    ring = np.c_[top[0] + 0.5 * d_site * np.cos(ang), top[1] + 0.5 * d_site * np.sin(ang)]
                    joints.append(JointResult(joint_id=0, kind="ball", grid_row=r_, grid_col=c_,
                                              x_px=top[0], y_px=top[1], site_x_px=float(sx), site_y_px=float(sy),
                                              offset_px=float(np.hypot(top[0] - sx, top[1] - sy)),
                                              diameter_px=float(d_site), area_px=float(np.pi * d_site ** 2 / 4),
                                              circularity=1.0, partial=True, contour=ring.round(2).tolist()))
    for j in joints:
        judge_ball(j, limits, hip_threshold=hip_threshold)
    joints.sort(key=lambda j: (j.grid_row < 0, j.grid_row, j.grid_col, j.y_px, j.x_px))
    for i, j in enumerate(joints):
        j.joint_id = i
    # the package's footprint (its lattice one pitch wider all round) and the
    # ball-like blobs outside it that no rule took: another package's balls
    footprint = np.zeros((h, w), bool)
    unscored = 0
    if fit is not None:
        import cv2

        corner_r = np.array([-1.0, -1.0, fit.rows, fit.rows])
        corner_c = np.array([-1.0, fit.cols, fit.cols, -1.0])
        poly = to_frame(fit.site_xy(corner_r, corner_c))
        fp8 = np.zeros((h, w), np.uint8)
        cv2.fillConvexPoly(fp8, np.round(poly).astype(np.int32), 1)
        footprint = fp8.view(bool)
        like = _ball_like(ids, area, med_area, masks.touches_edge, solid)
        if like.size:
            cyi = np.clip(np.round(masks.cy[like]).astype(int), 0, h - 1)
            cxi = np.clip(np.round(masks.cx[like]).astype(int), 0, w - 1)
            unscored = int(np.count_nonzero(~is_joint[like] & ~footprint[cyi, cxi]))
    info = {"pitch_px": fit.pitch_px if fit else math.nan, "angle_deg": fit.angle_deg if fit else math.nan,
            "n_sites": len(fit.expected) if fit else 0, "dome_sites": dome_sites if fit else 0,
            "grid": fit.as_dict() if fit else {},
            "labels": masks.labels, "void_labels": vs.void_labels,
            "obstructed_sites": [list(x) for x in obstructed_sites],
            "ghost_pad_sites": [list(x) for x in ghost_sites], "hip_judged": hip_judged, "sliced": bool(sliced),
            "ball_diameter_px": d_found, "footprint": footprint, "unscored_ball_like": unscored}
    return joints, info

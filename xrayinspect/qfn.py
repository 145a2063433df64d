"""QFN / bottom-terminated components: thermal pad, thermal vias, perimeter pins.

The thermal pad is the large flat solder area at the package centre (one
rectangle or a windowed pattern of segments); its voids are regions clearly
below the pad's own solder level. Thermal vias look like voids (round, less
attenuating) but are designed holes: they are told apart by the copper
barrel that rings each one (a thin rim far more attenuating than the pad)
and are taken out of both the void area and the wettable area, per IPC-7093.
Perimeter pins are the like-sized solder lands around the pad; a land twice
as long as its neighbours joins two pins (a bridge), a gap in a side's
regular spacing is a pin without solder.
"""

import dataclasses
import math

import cv2
import numpy as np
from scipy import ndimage as ndi

from .measure import circularity, components_with_stats, contours_by_label, equivalent_diameter, fill_holes
from .preprocess import _coarse, _like_sized, _otsu, open_ellipse
from .results import JointResult

#: A pad void is where attenuation falls this far below the pad's solder level (fraction).
PAD_VOID_FRACTION = 0.22
#: Pins joined by solder above this fraction of the pad level are bridged ...
PIN_BRIDGE_FRACTION = 0.3
#: A land over two pins is split in two and both are bridged, unless it
#: encloses a hole of at least this share of the median pin's area (None: no
#: such test): two pins that a via ring touches are joined by the ring's wall,
#: copper denser than solder, round its drill hole (fresh development frame
#: (6,910,000, 8): a hole of 0.45 of a pin; the only land over two pins in 90
#: QFN development frames). Solder run between two pins fills what it spans.
PIN_RING_HOLE = 0.1
#: ... and above this fraction of the pad's level over the floor round the
#: pins, added to that floor (None: the first rule alone). Attenuations add:
#: a solder sheet between two pins lies on the board and package body that
#: are round them too. The floor is the median attenuation within
#: PIN_FLOOR_PX of the pins (pins and pad left out): 0.07-0.13 of the pad's
#: level on development radiographs, where 0.22 above it is the first rule;
#: 0.23-0.28 under a viewer's local contrast (CLAHE), where the package body
#: round the pins stood above 0.3 and joined every pin of a side.
PIN_BRIDGE_ABOVE_FLOOR = 0.22
PIN_FLOOR_PX = 7
#: A land is like a pin of the package when its area and elongation (long
#: over short side of its box) are this close to the pin's: a land beside the
#: pad with this many like lands away from it is a pin, not a window.
PIN_LIKE_AREA = 0.15
PIN_LIKE_ELONGATION = 0.2
PIN_LIKE_COUNT = 3
#: ... and a land at least this many times as long as wide is a pin when its
#: like lands lie anywhere (None: only further out than the pad's reach, as
#: for a square land, which may be a window among its alike windows). Two
#: windows of a 2 x 2 print joined by solder make a largest segment twice a
#: window long, whose reach took in all 12 pins round it (fresh development
#: frame (5,990,000, 1): the pins merged into the pad, read as a BGA).
PIN_LIKE_LONG = 1.5
#: Pins lie within this many pad half-widths of the pad centre (a QFN pad is about half its body).
PIN_REACH = 2.4
#: A via's copper rim rises this far above the pad level (fraction of the level).
VIA_RIM_FRACTION = 0.35
#: A via's barrel pixels under a void are void (False: never). The copper
#: barrel seen end on hides the missing solder's shortfall over it, while the
#: hole in the solder is the drill only; where the barrel ends is read from
#: the vias' own radial profile (:func:`_barrel_under_voids`).
VIA_BARREL = True
#: A QFN has at least this many perimeter pins; a pad candidate with fewer
#: around it is looked past ...
MIN_PINS = 4
#: ... at most this many times (each time the densest large area is left out).
PAD_RETRIES = 2
#: A pad covers at least this share of its hole-filled outline (a void-riddled
#: pad of 50 % still does; touching via rings do not).
PAD_SOLIDITY = 0.45


def looks_like_qfn(image, polarity, valid=None):
    """True when one compact, flat solder area dominates the frame (a QFN pad).

    Parameters
    ----------
    image : ndarray, 2-D
        The frame as read.
    polarity : {"dark", "bright"}
    valid : ndarray of bool, optional
        False on the black bands of a stitched export.

    Returns
    -------
    bool
    """
    return coarse_pad_side(image, polarity, valid=valid) > 0


def coarse_pad_side(image, polarity, valid=None):
    """Side of the QFN pad that dominates the frame, px at full resolution (0: none).

    The side of :func:`coarse_pad`'s pad; see there.
    """
    return coarse_pad(image, polarity, valid=valid)[0]


#: A pad blob holding at least this share of all the blobs' area needs to be
#: only this many times the median blob (10 otherwise; None: 10 always). A
#: zoomed QFN with 3 pins a side has 12 pins each an eighth of the pad's
#: area: the pins are the median blob, and the pad at 7.8 of it failed the
#: general rule while it held a third of all the blobs' area (fresh
#: development frame (5,980,000, 5): an error row, "no pad grid"). A part
#: beside a BGA is one blob among the many balls, a small share of them.
PAD_DOMINANT = (0.25, 5.0)
#: Blobs under this many px of the coarse copy (about 256 px a side) are left
#: out of the package check's statistics (None: none are): specks the board's
#: noise puts through the top-hat, not balls or pins (a 12 px ball of a 1024 px
#: frame covers about 7 coarse px). With 3 % noise added, QFN development frame
#: (5,950,000, 5) held 65 one- and two-pixel specks beside the untreated
#: frame's 38 blobs: the median blob fell from a pin's 349 px to 2, every pin
#: counted as one of the pad's windows, and the frame was read as a BGA (an
#: error row, "no pad grid").
COARSE_SPECK_PX = 3


#: A "pad" found coarsely whose densest part is many like-sized compact blobs,
#: apart and covering under BODY_BALL_SHARE of it, is a BGA package body
#: with its balls (False: never looked for). At the coarse scale a small
#: array of small balls in a wide field is one square blob: a 7 x 5 array
#: of 9 px balls in a 1024 px 8-bit frame (scripts/altsim.py --ball-px
#: 8,14, seed 9,992,025) was scored as a QFN, 6 "pins", 0 of 35 balls. A
#: pad's densest part is its solder, one piece round its voids; a printed
#: pad's windows are a few, and cover most of it.
BODY_BALLS = True
BODY_BALL_COUNT = 12
BODY_BALL_SHARE = 0.5


def _balls_in_body(image, polarity, scale, x, y, w, h):
    """Whether the coarse pad box ``(x, y, w, h)`` (coarse px, ``scale`` full-resolution
    px each) holds a package body's balls rather than a pad (:data:`BODY_BALLS`)."""
    H, W = image.shape
    x0, y0 = max(int(scale * x), 0), max(int(scale * y), 0)
    x1, y1 = min(int(scale * (x + w)), W), min(int(scale * (y + h)), H)
    crop, _ = _coarse(image[y0:y1, x0:x1], target=256)
    if min(crop.shape) < 16:
        return False
    s = -crop if polarity == "dark" else crop
    dense = (s > _otsu(s.ravel())).astype(np.uint8)
    if dense.mean() >= BODY_BALL_SHARE:
        return False
    n, _, st, _ = components_with_stats(dense)
    if n - 1 < BODY_BALL_COUNT:
        return False
    count, _ = _like_sized(st)
    # like-sized compact blobs, and none of them the bulk of the dense part
    return count >= BODY_BALL_COUNT and st[1:, cv2.CC_STAT_AREA].max() < 0.2 * dense.sum()


def coarse_pad(image, polarity, valid=None):
    """The QFN pad that dominates the frame, found coarsely: its side and its box.

    The pad is found on a copy about 256 px a side: one compact, flat solder
    area (or a square tiled by alike windows, a printed pad) far larger than
    the other blobs. The side is the square root of its filled area (of its
    windows' box), good to a coarse pixel: enough to choose the scale the pad
    is scored at (:func:`pad_binning`); the box says where it is, so that a
    pad found later somewhere else can be told from it.

    Parameters
    ----------
    image : ndarray, 2-D
        The frame as read.
    polarity : {"dark", "bright"}
    valid : ndarray of bool, optional
        False on the black bands of a stitched export; they are set to the
        frame's median so that, inverted, they do not join the pad to the
        frame's edges.

    Returns
    -------
    side : float
        Pad side, px at full resolution (0: no pad).
    box : tuple of float or None
        ``(x0, y0, x1, y1)`` of the pad (its windows) at full resolution,
        px; None when there is no pad.
    """
    small, scale = _coarse(image, target=256)
    if valid is not None and not valid.all():
        vs = cv2.resize(valid.astype(np.uint8), small.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
        vs = cv2.erode(vs.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if vs.any():
            small = np.where(vs, small, np.median(small[vs])).astype(small.dtype)
    s = -small if polarity == "dark" else small
    size = int(0.6 * min(small.shape)) | 1
    th = s - open_ellipse(s.astype(np.float32), size)
    v = th[th > 0]
    if v.size < 50:
        return 0.0, None
    mask = (th > _otsu(v)).astype(np.uint8)
    n, lab, stats, _ = components_with_stats(mask)
    if n < 3:
        return 0.0, None
    ids = np.arange(1, n)
    area = stats[ids, cv2.CC_STAT_AREA].astype(float)
    if COARSE_SPECK_PX is not None:
        # specks of a coarse pixel or two are the board's noise through the
        # top-hat, not balls or pins: among them they would be the median blob
        kept = area >= COARSE_SPECK_PX
        if kept.sum() >= 2:
            ids, area = ids[kept], area[kept]
    med = float(np.median(area))
    # the largest compact, roughly square blob (a pad; windows filled in)
    for big in np.argsort(area)[::-1][:5]:
        bw, bh = stats[ids[big], cv2.CC_STAT_WIDTH], stats[ids[big], cv2.CC_STAT_HEIGHT]
        blob = fill_holes(lab == ids[big])
        filled = blob.sum()
        if not filled / max(bw * bh, 1) > 0.6:
            # pins joined to the pad make a cross, not a square: look at the
            # pad without them (see _detached_pins)
            k = int(PIN_CUT_FRACTION * math.sqrt(filled)) | 1
            if k >= 3:
                blob = cv2.morphologyEx(blob.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
                _, _, bw, bh = cv2.boundingRect(blob)
                filled = int(blob.sum())
        if filled / max(bw * bh, 1) > 0.6 and 0.5 < bw / max(bh, 1) < 2.0:
            # BGA balls are many and alike; a QFN is one big flat pad and its pins
            size = min(area[big], filled)
            many = 10 * med
            if PAD_DOMINANT is not None and size > PAD_DOMINANT[0] * area.sum():
                many = PAD_DOMINANT[1] * med
            if size > 0.12 * area.sum() and size > many:
                x, y = stats[ids[big], 0], stats[ids[big], 1]
                w, h = stats[ids[big], 2], stats[ids[big], 3]
                if BODY_BALLS and _balls_in_body(image, polarity, scale, x, y, w, h):
                    break
                box = (scale * x, scale * y, scale * (x + w), scale * (y + h))
                return float(scale * math.sqrt(filled)), tuple(float(b) for b in box)
            break
    side, box = _windowed_pad(stats[ids], area, med)
    return float(scale * side), (tuple(float(scale * b) for b in box) if side > 0 else None)


#: A window of a printed pad has its neighbours' centres within this many of
#: its own widths (webs up to half a window wide between them), when it is
#: at least :data:`WINDOW_TWIN` of the largest window's area and no more
#: elongated than :data:`WINDOW_TWIN_ASPECT` (pins beside a print reach as
#: near: 0.5 of a window's area, 1.6 times as long as wide, on development frames).
WINDOW_REACH = 1.5
WINDOW_TWIN = 0.7
WINDOW_TWIN_ASPECT = 1.3


#: A pad is scored at no more than this many px across per bin: the QFN rules
#: (via rims, channel runs, land openings, all in px) were developed on pads
#: 300-420 px across, and a pad's void % is an area fraction that a pad 300 px
#: across resolves to a few hundredths of a percent. A larger pad (a 2048 px
#: frame) is scored on a binned copy (:func:`pad_binning`).
PAD_SCORING_SIDE_PX = 300


#: ... and a binned frame keeps at least this many px on its short side: a
#: large dense part taken for the pad at the coarse package check must not
#: shrink the real pad and its pins below what they can be scored at.
BINNED_FRAME_MIN_PX = 1000


def pad_binning(side_px, frame_shape=None):
    """Binning factor for scoring a QFN whose pad is ``side_px`` px across (1: none).

    Parameters
    ----------
    side_px : float
        Pad side at full resolution, px (:func:`coarse_pad_side`).
    frame_shape : tuple of int, optional
        The frame's shape, px: the factor also leaves its short side at
        least :data:`BINNED_FRAME_MIN_PX`.

    Returns
    -------
    int
        The largest factor that leaves the pad at least
        :data:`PAD_SCORING_SIDE_PX` px across.
    """
    if not (side_px > 0 and math.isfinite(side_px)):
        return 1
    b = int(side_px // PAD_SCORING_SIDE_PX)
    if frame_shape is not None:
        b = min(b, int(min(frame_shape) // BINNED_FRAME_MIN_PX))
    return max(1, b)


#: The windows of a printed pad are alike: each at least this share of the
#: largest one's area, and no more elongated than this (pins are long and smaller).
WINDOW_ALIKE = 0.4
WINDOW_MAX_ASPECT = 2.0
#: A windowed pad's segments: each at least this many times the median blob
#: (balls and pins are the median; 3 x 3 windows measured 2.0x beside 16 pins) ...
SEGMENT_OVER_MEDIAN = 1.8
#: ... at least :data:`WINDOW_ALIKE` of the typical (median) segment, and
#: together tiling their joint bounding box to at least this share (channels
#: are narrow; 3 x 3 windows with one lost to a void tiled 0.49; the segments
#: must also be 1.8x the median blob, which the balls of an array, all alike,
#: never are) ...
SEGMENT_TILING = 0.4
#: ... and together this many times the median blob (a pad is several pins
#: large: 2 x 2 windows of a small pad beside long pins measured 6.9x).
SEGMENTS_OVER_MEDIAN = 6.0


def _windowed_pad(stats, area, med):
    """Side of the square box several large, alike blobs tile (a pad printed as windows), px (0: none), and that box.

    Parameters
    ----------
    stats : ndarray (n, 5)
        ``cv2.connectedComponentsWithStats`` rows of the blobs (background row dropped).
    area : ndarray (n,)
        Their areas, px.
    med : float
        Median blob area, px.

    Returns
    -------
    side : float
    box : tuple of int or None
        ``(x0, y0, x1, y1)`` of the windows, px of ``stats``.
    """
    segs = np.flatnonzero(area > SEGMENT_OVER_MEDIAN * med)
    if len(segs) < 2:
        return 0.0, None
    # alike the typical segment, not the largest: windows joined by a trace
    # make one segment of several windows (it counts with them)
    segs = segs[area[segs] >= WINDOW_ALIKE * np.median(area[segs])]
    if not 2 <= len(segs) <= 16:
        return 0.0, None

    def corners(ids):
        return (int(stats[ids, 0].min()), int(stats[ids, 1].min()),
                int((stats[ids, 0] + stats[ids, 2]).max()), int((stats[ids, 1] + stats[ids, 3]).max()))

    def box(ids):
        x0, y0, x1, y1 = corners(ids)
        return x1 - x0, y1 - y0

    def tiling(ids):
        w, h = box(ids)
        return float(area[ids].sum()) / max(w * h, 1)

    # one large blob beside the windows (bridged pins, a part) stretches their
    # box: left out, one at a time, while that tiles the box better
    while len(segs) > 2 and tiling(segs) < SEGMENT_TILING:
        trials = [np.delete(segs, i) for i in range(len(segs))]
        best = max(trials, key=tiling)
        if tiling(best) <= tiling(segs):
            break
        segs = best
    w, h = box(segs)
    total = float(area[segs].sum())
    ok = (0.5 < w / max(h, 1) < 2.0 and total >= SEGMENT_TILING * w * h
          and total > 0.12 * area.sum() and total > SEGMENTS_OVER_MEDIAN * med)
    return (float(math.sqrt(w * h)), corners(segs)) if ok else (0.0, None)


def _member(lab, ids, n):
    """``np.isin(lab, ids)`` for a label image with labels < ``n``, by table lookup (no sort of the frame)."""
    table = np.zeros(max(int(n), 1), bool)
    table[np.asarray(ids, np.intp)] = True
    return table[lab]


def _fill_holes(mask):
    """``scipy.ndimage.binary_fill_holes(mask)``, worked on the box around the mask only.

    A hole is background not connected to the frame's border. Outside the
    mask's bounding box everything is background joined to the border, so a
    crop of the box with one pixel of background around it has the same holes
    (and costs the box, not the whole frame).
    """
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    out = np.zeros(mask.shape, bool)
    if ys.size == 0:
        return out
    h, w = mask.shape
    y0, y1 = max(int(ys[0]) - 1, 0), min(int(ys[-1]) + 2, h)
    x0, x1 = max(int(xs[0]) - 1, 0), min(int(xs[-1]) + 2, w)
    out[y0:y1, x0:x1] = fill_holes(mask[y0:y1, x0:x1])
    return out


#: A void that reaches the edge of the pad opens a bay in the solder mask, not a
#: hole. Pixels inside a segment's convex hull but outside its mask are pad
#: (and void) when the bay is shaped like a void (:func:`_void_like`). A void
#: through the whole solder reads like the surroundings, so the bay's level
#: cannot tell it from the board: a level test (0.25 of the pad's level above
#: the surroundings) lost such voids (16 fresh QFN frames: pad MAE 3.53 pp with
#: it, 3.37 without).
#: A segment whose convex hull exceeds its filled area by more than this factor
#: is not a rectangle with bays (an L, a pad joined to a trace): left as it is.
HULL_MAX_GROWTH = 1.5
#: A segment filling at least this share of its minimum-area rectangle is one
#: rectangle: the corners its hull cuts off are bays (None: hull only).
#: Development QFN frames: pad MAE 1.71 -> 1.66 pp, p95 6.6 -> 4.8 pp.
CORNER_FILL = 0.8


#: A cell of a printed pad's window lattice with no window is a window lost to
#: its voids when at least this share of it is still solder.
WINDOW_REMNANT = 0.05


def _missing_windows(pad_filled, solder):
    """Rectangles of the windows a printed pad lost to voids, px mask (None: none).

    The windows of a printed pad sit on a regular lattice of like rectangles.
    A window so voided that its solder is a thin remnant is no longer a
    window-sized segment and was left out; its cell of the lattice, where
    some solder remains, is wettable pad all the same.

    Parameters
    ----------
    pad_filled : ndarray of bool
        The pad's segments (windows), holes filled.
    solder : ndarray of bool
        Pixels at solder level anywhere in the frame.
    """
    n, lab, stats, _ = components_with_stats(pad_filled.astype(np.uint8))
    if not 3 <= n - 1 <= 15:
        return None
    rects = []
    for k in range(1, n):
        # each window's pixels from its own box, not a scan of the frame
        x, y, bw, bh = stats[k, :4]
        pts = cv2.findNonZero((lab[y:y + bh, x:x + bw] == k).astype(np.uint8)) + np.array([x, y], np.int32)
        rects.append(cv2.minAreaRect(pts))
    sizes = np.array([sorted(r[1]) for r in rects])
    w, h = np.median(sizes, axis=0)
    if not (np.abs(sizes / [w, h] - 1) < 0.15).all():
        return None                      # not like windows
    ang = math.radians(float(np.median([r[2] for r in rects])))
    c, sn = math.cos(ang), math.sin(ang)
    cen = np.array([r[0] for r in rects])
    u = cen[:, 0] * c + cen[:, 1] * sn
    v = -cen[:, 0] * sn + cen[:, 1] * c

    def clusters(x):
        x = np.sort(x)
        cut = np.flatnonzero(np.diff(x) > 0.5 * w) + 1
        return [float(np.mean(g)) for g in np.split(x, cut)]

    cu, cv_ = clusters(u), clusters(v)
    if len(cu) * len(cv_) > 16 or len(cu) * len(cv_) - (n - 1) not in (1, 2):
        return None
    out = np.zeros(pad_filled.shape, np.uint8)
    fh, fw = out.shape
    for a in cu:
        for b in cv_:
            if np.min(np.hypot(u - a, v - b)) < 0.3 * w:
                continue
            x, y = a * c - b * sn, a * sn + b * c
            box = np.round(cv2.boxPoints(((x, y), (w, h), math.degrees(ang)))).astype(np.int32)
            # the cell drawn and counted inside its own bounding box
            x0, y0 = max(int(box[:, 0].min()), 0), max(int(box[:, 1].min()), 0)
            x1, y1 = min(int(box[:, 0].max()) + 1, fw), min(int(box[:, 1].max()) + 1, fh)
            if x1 <= x0 or y1 <= y0:
                continue
            cell = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillPoly(cell, [box - np.array([x0, y0], np.int32)], 1)
            cb = cell.astype(bool)
            if cb.sum() and (solder[y0:y1, x0:x1] & cb).sum() >= WINDOW_REMNANT * cb.sum():
                out[y0:y1, x0:x1] |= cell
    return out.astype(bool) if out.any() else None


def _close_bays(pad_filled):
    """``pad_filled`` with each segment's bays (edge voids) added, px mask.

    Parameters
    ----------
    pad_filled : ndarray of bool
        Pad segments with their holes filled.
    """
    out = pad_filled.copy()
    n, lab, stats, _ = components_with_stats(pad_filled.astype(np.uint8))
    h, w = pad_filled.shape
    for k in range(1, n):
        x, y, bw, bh, a = stats[k]
        x0, y0, x1, y1 = max(x - 8, 0), max(y - 8, 0), min(x + bw + 8, w), min(y + bh + 8, h)
        seg = (lab[y0:y1, x0:x1] == k).astype(np.uint8)
        contours, _ = cv2.findContours(seg, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            continue
        hull = np.zeros_like(seg)
        pts = np.vstack(contours)
        cv2.fillPoly(hull, [cv2.convexHull(pts)], 1)
        if hull.sum() > HULL_MAX_GROWTH * a:
            continue
        if CORNER_FILL is not None:
            # a void at a corner of a pad (or of one window) leaves a bite that
            # the hull cuts diagonally: the corner of the segment's rectangle is
            # pad too, when the segment is one rectangle (it fills most of it;
            # windows joined by a trace do not, and their rectangle's corners
            # are channels)
            box = cv2.boxPoints(cv2.minAreaRect(pts))
            rect = np.zeros_like(seg)
            cv2.fillPoly(rect, [np.round(box).astype(np.int32)], 1)
            if a >= CORNER_FILL * rect.sum():
                extra = (rect.astype(bool) & ~hull.astype(bool)).astype(np.uint8)
                m, el = cv2.connectedComponents(extra, connectivity=8)
                if m > 1:
                    # the parts that hold a corner of the rectangle, from one
                    # scan of their pixels
                    py, px = np.nonzero(el)
                    d = np.hypot(box[:, 0][:, None] - px[None], box[:, 1][:, None] - py[None]).min(axis=0)
                    corner = np.zeros(m, bool)
                    corner[el[py[d <= 2.0], px[d <= 2.0]]] = True
                    hull[corner[el]] = 1
        bay = hull.astype(bool) & ~seg.astype(bool)
        if bay.any():
            out[y0:y1, x0:x1] |= _void_like(bay)
    return out


#: A bay is a void when it is compact: the channels between the windows of a
#: printed pad (joined into one segment by a trace) are long strips or crosses.
BAY_MAX_ELONGATION = 4.0
BAY_MIN_FILL = 0.4


def _void_like(bays):
    """The components of ``bays`` shaped like a void cut by the pad's edge, px mask."""
    n, lab, stats, _ = components_with_stats(bays.astype(np.uint8))
    keep = np.zeros(n, bool)
    # every component's pixels from one scan, grouped by label
    ys, xs = np.nonzero(lab)
    ls = lab[ys, xs]
    order = np.argsort(ls, kind="stable")
    ends = np.cumsum(np.bincount(ls, minlength=n))
    pts_all = np.column_stack([xs[order], ys[order]]).astype(np.float32)
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] < 3:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts_all[ends[k - 1]:ends[k]])
        long_, short = max(rw, rh) + 1.0, min(rw, rh) + 1.0
        keep[k] = (long_ <= BAY_MAX_ELONGATION * short
                   and stats[k, cv2.CC_STAT_AREA] >= BAY_MIN_FILL * long_ * short)
    return keep[lab]


#: A row or column of the pad (along its sides) that is at least this void
#: across its whole length is a channel between windows, not a void ...
CHANNEL_VOID_FRACTION = 0.85
#: ... and the rows beside it down to this void are the same channel: traces,
#: vias and the blurred edges of the windows darken a channel's sides
#: (a 50 px channel was found 23 px wide, its sides read as voids: +12.7 pp).
CHANNEL_EDGE_FRACTION = 0.7
#: ... when the run of such rows is at most this share of the pad's side wide.
#: A stencil's channels are a fixed width (0.2 mm is usual) whatever the pad's
#: size: on a 1.43 mm pad that is 0.14 of its side (0.12 rejected it, and the
#: channels were counted as voids: +18 pp).
CHANNEL_MAX_WIDTH = 0.2
#: Channels of one pad are alike: a run this many times narrower than the
#: median run is not a channel, one this many times wider is cut down to the
#: median's width.
CHANNEL_WIDTH_SPREAD = 1.3


def _channels(pad_filled, void_px, barrel_px=None):
    """Pixels of ``pad_filled`` in straight solder-free strips running across it.

    Rows and columns are taken along the pad's sides (its minimum-area
    rectangle). A void never spans a whole pad; the channel between two
    windows of a printed pad always does. ``barrel_px`` (denser than the
    solder level: the copper barrels of thermal vias) counts as solder-free
    too: vias are often placed on the channels, and a channel through a row
    of them is a third barrel.

    Returns
    -------
    ndarray of bool
        The channels' pixels.
    """
    out = np.zeros(pad_filled.shape, bool)
    ys, xs = np.nonzero(pad_filled)
    if ys.size < 100:
        return out
    cs, _ = cv2.findContours(pad_filled.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    (_, _), (_, _), ang = cv2.minAreaRect(np.concatenate(cs))
    t = math.radians(ang)
    c, sn = np.float32(math.cos(t)), np.float32(math.sin(t))
    xf, yf = xs.astype(np.float32), ys.astype(np.float32)
    u = xf * c + yf * sn
    v = yf * c - xf * sn
    is_void = void_px[ys, xs]
    if barrel_px is not None:
        is_void = is_void | barrel_px[ys, xs]
    found = []
    for coord in (u, v):
        b = np.floor(coord - coord.min()).astype(int)
        count = np.bincount(b)
        voids = np.bincount(b, weights=is_void)
        full = count >= 0.6 * np.median(count[count > 0])
        share = voids / np.maximum(count, 1)
        chan = full & (share >= CHANNEL_VOID_FRACTION)
        weak, _ = ndi.label(full & (share >= CHANNEL_EDGE_FRACTION))
        runs, _ = ndi.label(chan)
        spans = []
        for sl in ndi.find_objects(runs):
            k, e = sl[0].start, sl[0].stop
            # grown over its sides (hysteresis) where that leaves a channel:
            # narrow and clear of the pad's border (a void band beside a
            # channel can grow it to the border)
            grown = np.flatnonzero(weak == weak[k])
            for a, z in ((int(grown[0]), int(grown[-1]) + 1), (k, e)):
                # (the pad's blurred rim can be a row or two of void-level pixels)
                if z - a <= CHANNEL_MAX_WIDTH * len(chan) and a > 2 and z < len(chan) - 2:
                    spans.append((a, z))
                    break
        found.append((b, share, sorted(set(spans))))   # (two cores can grow into one)
    widths = [e - k for _, _, spans in found for k, e in spans if e - k >= 3]
    if not widths:
        return out
    # one stencil cuts every channel alike: a run much narrower than the
    # typical one is a band of voids, a run much wider is a channel with a
    # void beside it, and only a channel's width of it (where it is most
    # solder-free) is channel
    width = int(np.median(widths))
    for b, share, spans in found:
        chan = np.zeros(share.size, bool)
        for k, e in spans:
            if e - k < width / CHANNEL_WIDTH_SPREAD:
                continue                       # a band of voids, narrower than a channel
            if e - k > CHANNEL_WIDTH_SPREAD * width:
                sums = np.convolve(share[k:e], np.ones(width), "valid")
                k = k + int(np.argmax(sums))
                e = k + width
            chan[k:e] = True
        if chan.any():
            out[ys[chan[b]], xs[chan[b]]] = True
    return out


#: A printed pad's windows are cells of one rectangle (the stencil's outline)
#: less its channels: take the rectangle, and the channels out of it, rather
#: than each window's own outline, which a large void crossing into a channel
#: opens up (False: each window's outline, bays closed).
WINDOWS_AS_RECTANGLE = True
#: ... when the windows fill at least this share of their minimum-area
#: rectangle (a trace joined to a window stretches it).
RECT_MIN_FILL = 0.6
#: A single pad is its rectangle too: a void that reaches its edge opens a bay
#: the hull may not close (two voids over a corner: -25 pp).
PAD_AS_RECTANGLE = True


#: A pad's sides are read from its outline's edges (each edge voting with
#: four times its angle) where its minimum-area rectangle stands more than
#: OUTLINE_ANGLE_OFF_DEG from them (False: always the minimum-area
#: rectangle's). Pins joined to each side of a square pad make a cross,
#: whose smallest rectangle may stand at 45 degrees while the cross's edges
#: run along the pad's sides. Fresh development frame (5,970,000, 27), a
#: zoomed 3-pin-a-side QFN: the pins were cut off the pad with a square
#: turned 45 degrees, the pad read as a diamond over the pins' inner halves,
#: and the frame was an error row.
OUTLINE_ANGLE = True
OUTLINE_ANGLE_OFF_DEG = 10.0


def _outline_angle(cs):
    """Direction of outline edges folded to 90 degrees, degrees (cv2's angle sense).

    ``cs`` are the outlines as :func:`cv2.findContours` gives them with
    every point (``CHAIN_APPROX_NONE``). The edges between outline points
    4 px apart vote with four times their angle, so edges at right angles to
    each other agree.
    """
    votes = 0j
    for c in cs:
        p = c[:, 0, :].astype(float)
        if len(p) < 8:
            continue
        d = np.roll(p, -4, axis=0) - p
        votes += np.exp(4j * np.arctan2(d[:, 1], d[:, 0])).sum()
    if abs(votes) == 0:
        return math.nan
    return math.degrees(np.angle(votes) / 4)


def _pad_rect_angle(mask, cs=None, rect=None):
    """Angle (degrees, as :func:`cv2.minAreaRect` gives it) of a pad's sides.

    The minimum-area rectangle's angle, or with :data:`OUTLINE_ANGLE` the
    outline edges' (:func:`_outline_angle`) where the two differ by more than
    :data:`OUTLINE_ANGLE_OFF_DEG`. ``cs`` (the mask's outer outlines with
    every point) and ``rect`` (their minimum-area rectangle) when the caller
    has them already.
    """
    # every outline point (the same hull, so the same rectangle, as the
    # simplified outline's), for the edges' votes too
    if cs is None:
        cs, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (_, _), (_, _), ang = cv2.minAreaRect(np.concatenate(cs)) if rect is None else rect
    if not OUTLINE_ANGLE:
        return float(ang)
    alt = _outline_angle(cs)
    if not np.isfinite(alt):
        return float(ang)
    off = abs(((alt - ang) + 45.0) % 90.0 - 45.0)
    return float(alt) if off > OUTLINE_ANGLE_OFF_DEG else float(ang)


def _windows_rectangle(windows):
    """The rectangle of a pad's solder (its windows, for a printed pad), px mask.

    The sides are the pad's (its minimum-area rectangle's angle); along each
    side its edge is where most rows of solder end (:func:`_common_end`): the
    tips of pins and traces that touch the pad, and voids that bite into its
    edge, move the ends of some rows, each by its own amount.

    Parameters
    ----------
    windows : ndarray of bool
        The pad's segments, holes filled.

    Returns
    -------
    ndarray of bool or None
        The rectangle; None when the segments fill less than
        :data:`RECT_MIN_FILL` of it.
    """
    ys, xs = np.nonzero(windows)
    if ys.size < 100:
        return None
    ang = _pad_rect_angle(windows)
    t = math.radians(ang)
    c, sn = math.cos(t), math.sin(t)
    u = xs * c + ys * sn
    v = ys * c - xs * sn
    bu = np.floor(u - u.min()).astype(np.intp)
    bv = np.floor(v - v.min()).astype(np.intp)
    # each side at the place most rows end: the straight edge of the pad
    left, right = _common_end(bv, bu)
    top, bottom = _common_end(bu, bv)
    ends = [(u.min() + left, u.min() + right + 1), (v.min() + top, v.min() + bottom + 1)]
    (u0, u1), (v0, v1) = ends
    uc, vc = 0.5 * (u0 + u1), 0.5 * (v0 + v1)
    centre = (uc * c - vc * sn, uc * sn + vc * c)
    rect = np.zeros(windows.shape, np.uint8)
    box = cv2.boxPoints((centre, (u1 - u0, v1 - v0), ang))
    cv2.fillPoly(rect, [np.round(box).astype(np.int32)], 1)
    rect = rect.astype(bool)
    if windows.sum() < RECT_MIN_FILL * rect.sum():
        return None
    return rect


def _common_end(rows, pos):
    """Where most rows end on each side, (low, high) in the units of ``pos``.

    Parameters
    ----------
    rows : ndarray of int
        Row index (along one side of the pad) of each pixel.
    pos : ndarray of int
        Position of each pixel across the rows, px.

    A row's ends are its extreme pixels. The rows that reach the pad's
    straight edge end at one place; the rows bitten by a void, or carrying
    the tip of a pin or trace beyond the edge, end anywhere. The most common
    end (over three neighbouring pixels, for a slightly tilted edge) is the
    edge.
    """
    n = int(rows.max()) + 1
    lo = np.full(n, np.iinfo(np.intp).max)
    hi = np.full(n, -1)
    np.minimum.at(lo, rows, pos)
    np.maximum.at(hi, rows, pos)
    present = hi >= 0
    out = []
    for ends in (lo[present], hi[present]):
        count = np.convolve(np.bincount(ends), np.ones(3), "same")
        out.append(int(np.argmax(count)))
    return out[0], out[1]


def _rotated_box_mask(shape, contour):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.asarray(contour, np.int32)], 1)
    return m.astype(bool)


def score_qfn(prep, *, recipe, limits, pixel_size_um=None, image=None):
    """Segment and judge the thermal pad and perimeter pins of a QFN frame.

    Parameters
    ----------
    prep : xrayinspect.preprocess.Prepared
        Frame prepared with an envelope wider than the pad (see
        :func:`xrayinspect.pipeline.score_frame`).
    recipe : xrayinspect.recipe.Recipe or None
    limits : xrayinspect.recipe.Limits
    pixel_size_um : float, optional

    Returns
    -------
    joints : list of JointResult
    info : dict
        ``pad_void_pct``, ``pitch_px``, ``angle_deg``, masks.
    """
    joints, info = _score_qfn_once(prep, recipe=recipe, limits=limits, pixel_size_um=pixel_size_um)
    if info.get("share_above", 1.0) < LEVEL_MIN_SHARE:
        # a level with less of the frame above it than a pad and its pins
        # cover may have set only denser parts (via rings) apart: choose it
        # again below, and keep that reading if it finds more pins, and pins
        # of a pin's size
        j2, i2 = _score_qfn_once(prep, recipe=recipe, limits=limits, pixel_size_um=pixel_size_um,
                                 below_dense=True)
        if _n_pins(j2) > _n_pins(joints) and _pins_of_pin_size(j2):
            joints, info = j2, i2
    if _n_pins(joints) < MIN_PINS:
        # copper via barrels on the board can be the darkest pixels of the
        # frame: a level split between them and everything else leaves the pad
        # out of the mask. Choose the level again without thin features.
        j2, i2 = _score_qfn_once(prep, recipe=recipe, limits=limits, pixel_size_um=pixel_size_um,
                                 open_level=True)
        if _n_pins(j2) > _n_pins(joints):
            joints, info = j2, i2
    for _ in range(PAD_RETRIES):
        if _n_pins(joints) >= MIN_PINS or info.get("pad_mask") is None:
            break
        # the densest large area has no pins around it: a part denser than
        # solder (an inductor, a crystal, a shield can) took the pad's place
        # and pushed the solder level above the real pad; leave it out and
        # look again
        drop = cv2.dilate(info["pad_mask"].astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        again = dataclasses.replace(prep, valid=prep.valid & ~drop)
        # what is left of the dense end (copper rings, the cores of parts an
        # unsharp mask clipped to the container's end) must not set the
        # level alone: it stood at 3 x the pad's on a sharpened export, and
        # where rings are many, even held at a quantile, until they are
        # opened away
        j2, i2 = _score_qfn_once(again, recipe=recipe, limits=limits, pixel_size_um=pixel_size_um,
                                 hold_tail=True)
        if _n_pins(j2) < MIN_PINS:
            j3, i3 = _score_qfn_once(again, recipe=recipe, limits=limits, pixel_size_um=pixel_size_um,
                                     open_level=True, hold_tail=True)
            if _n_pins(j3) > _n_pins(j2):
                j2, i2 = j3, i3
        if _n_pins(j2) <= _n_pins(joints):
            break
        joints, info, prep = j2, i2, again
    return joints, info


def _largest_solid(lab, stats, area, tries=8):
    """Label of the largest solid component: the pad candidate, px labels.

    Clusters of via barrels and board vias seen end-on are dense too, and
    touching rings can outgrow the pad; a ring is mostly hole. A pad with
    voids still covers over half of its filled outline.
    """
    for k in np.argsort(area)[::-1][:tries]:
        if area[k] <= 0:
            break
        x, y, bw, bh = stats[k, :4]
        own = lab[y:y + bh, x:x + bw] == k
        if area[k] >= PAD_SOLIDITY * fill_holes(own).sum():
            return int(k)
    return int(np.argmax(area))


#: Pins joined to the pad are cut off by an opening with a square of this
#: fraction of the pad's side, turned to the pad: wider than a pin (a pin is at
#: most ~0.17 of the pad's side: 0.65 mm pitch beside a 1.8 mm pad) and
#: narrower than a window of a printed pad (>= ~0.28 of the side, 3 x 3).
PIN_CUT_FRACTION = 0.2
#: ... when at least this many pin-like pieces (longer than wide) come off.
PIN_CUT_MIN_PIECES = 2
#: A component filling this share of its minimum-area rectangle has no pins joined to it.
PIN_CUT_FILL = 0.85


#: Share of a frame's pixels at its densest end that cannot set the solder
#: level alone once a part denser than solder was left out (a pad and its
#: pins cover more than 2 % of a frame).
LEVEL_TAIL_SHARE = 0.005


#: ... and a level that leaves under this share of them above it is also
#: chosen again below it (a pad and its pins cover more; dense via rings less:
#: 1.1 % in a gamma-encoded export where they were the "pad" and its pins).
LEVEL_MIN_SHARE = 0.015
#: A pin covers at least this share of its pad's area (QFN-64, 9 x 9 mm:
#: 0.002); specks of a pad's edge under a sharpened export are far smaller.
PIN_MIN_PAD_SHARE = 0.0005


#: Opening (px) that takes thin dense features (via barrels, traces) out before
#: the solder level is chosen; pins and pads are far wider.
LEVEL_OPENING_PX = 9


def _detached_pins(lab, stats, k):
    """Pixels that cut pins off the pad component ``k``, px mask (None: nothing to cut).

    Long pins, or pins printed to the pad's edge, touch the pad in the
    solder mask and join it into one component: the pins are then lost and
    their solder counts as pad. An opening with a square turned to the pad
    keeps the pad (and its square corners) and drops what is narrower than
    it; the pad's outline one pixel out then separates the pieces.
    """
    x, y, bw, bh = stats[k, :4]
    # voids and via holes are holes in the pad: the square must fit past them
    own = fill_holes(lab[y:y + bh, x:x + bw] == k).astype(np.uint8)
    area = float(own.sum())
    side = PIN_CUT_FRACTION * math.sqrt(area)
    if side < 5:
        return None
    cs, _ = cv2.findContours(own, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    rect = cv2.minAreaRect(np.concatenate(cs))
    (_, _), (rw, rh), _ = rect
    if area > PIN_CUT_FILL * rw * rh:
        return None         # fills its rectangle: nothing sticks out
    ang = _pad_rect_angle(own, cs, rect)
    # the turned square is the sum of two turned segments: opening by each in
    # turn costs the segments' length per pixel, not the square's area
    ks = int(math.ceil(side * 1.5)) | 1
    c0 = ks / 2 - 0.5
    t = math.radians(ang)
    segs = []
    for dx, dy in ((math.cos(t), math.sin(t)), (-math.sin(t), math.cos(t))):
        seg = np.zeros((ks, ks), np.uint8)
        h2 = side / 2
        cv2.line(seg, (int(round(c0 - h2 * dx)), int(round(c0 - h2 * dy))),
                 (int(round(c0 + h2 * dx)), int(round(c0 + h2 * dy))), 1)
        segs.append(seg)
    pad = own
    for seg in segs:
        pad = cv2.erode(pad, seg, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    for seg in segs:
        pad = cv2.dilate(pad, seg)
    rest = own.astype(bool) & ~pad.astype(bool)
    m, _, ps, _ = components_with_stats(rest.astype(np.uint8))
    pieces = 0
    for i in range(1, m):
        pw, ph, pa = ps[i, 2], ps[i, 3], ps[i, 4]
        if pa >= 0.25 * side * side and max(pw, ph) >= 1.5 * min(pw, ph):
            pieces += 1
    if pieces < PIN_CUT_MIN_PIECES:
        return None
    cut = cv2.dilate(pad, np.ones((3, 3), np.uint8)).astype(bool) & rest & (lab[y:y + bh, x:x + bw] == k)
    out = np.zeros(lab.shape, bool)
    out[y:y + bh, x:x + bw] = cut
    return out


def _measure_pad(att, raw_att, pad_filled, solder, n_segments):
    """The pad's wettable area, vias and voids, in the box it was cut from.

    Parameters
    ----------
    att, raw_att : ndarray of float32
        Attenuation, smoothed (masks) and as measured (via rims), over the box.
    pad_filled : ndarray of bool
        The pad's segments, holes filled.
    solder : ndarray of bool
        Pixels at solder level anywhere in the box.
    n_segments : int
        Segments the pad was found as.

    Returns
    -------
    pad : JointResult
        Positions and contours in the box's px.
    wettable_outline : ndarray of bool
        The pad's outline less its channels.
    pad_solder : ndarray of bool
        The pad's solder as segmented (bays closed), before its rectangle.
    void_labels : ndarray of int32
        The voids' labels.
    """
    h, w = att.shape
    level = float(np.percentile(att[pad_filled], 70))
    lost = _missing_windows(pad_filled, solder)
    # the windows as segmented (holes filled, lost windows restored), before
    # their bays are closed: what the pad's rectangle is taken from
    windows = pad_filled | lost if lost is not None else pad_filled
    pad_filled = _close_bays(pad_filled)
    if lost is not None:
        pad_filled |= lost
    pad_solder = pad_filled
    rect = None
    if WINDOWS_AS_RECTANGLE and n_segments >= (1 if PAD_AS_RECTANGLE else 2):
        rect = _windows_rectangle(windows)
    if rect is not None:
        # what the segments hold beyond it is the tips of pins and traces
        pad_filled = rect
    deficit = level - att
    void_px = pad_filled & (deficit > PAD_VOID_FRACTION * level)
    # thermal vias are classified before the channels go: vias are often
    # placed on the channels, and a barrel keeps its hole a component of its own
    nv, vl, vstats, vcents = components_with_stats(void_px.astype(np.uint8))
    # thermal vias: a copper barrel rims the hole
    via_ids, void_ids = [], []
    ring_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    for k in range(1, nv):
        if vstats[k, cv2.CC_STAT_AREA] < 3:
            continue
        x, y, ww, hh = vstats[k, :4]
        x0, y0, x1, y1 = max(x - 4, 0), max(y - 4, 0), min(x + ww + 4, w), min(y + hh + 4, h)
        own = vl[y0:y1, x0:x1] == k
        ring = cv2.dilate(own.astype(np.uint8), ring_k).astype(bool) & ~own
        rim = float(np.percentile(raw_att[y0:y1, x0:x1][ring], 90)) if ring.any() else 0.0
        round_ = vstats[k, cv2.CC_STAT_AREA] / max(ww * hh, 1) > 0.6 and 0.6 < ww / max(hh, 1) < 1.6
        (via_ids if (round_ and rim > (1 + VIA_RIM_FRACTION) * level) else void_ids).append(k)
    if via_ids:
        # thermal vias are alike: a rimmed region much larger than the typical
        # via is a void that has swallowed a via
        va = np.array([vstats[k, cv2.CC_STAT_AREA] for k in via_ids], float)
        med_via = float(np.median(va))
        void_ids += [k for k, a_ in zip(via_ids, va) if a_ > 2.0 * med_via]
        via_ids = [k for k, a_ in zip(via_ids, va) if a_ <= 2.0 * med_via]
    if len(via_ids) < 2:
        # a lone rimmed spot is more likely a void on a trace than a via pattern
        void_ids += via_ids
        via_ids = []
    via_mask = _member(vl, via_ids, nv)
    # the barrel itself is not solder either: take a thin ring with each hole
    via_mask = cv2.dilate(via_mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))).astype(bool)
    # the channels of a windowed print joined into one outline (by a trace or a
    # void across them) are not wettable area
    channels = _channels(pad_filled, void_px, pad_filled & (att > (1 + VIA_RIM_FRACTION) * level))
    if channels.any():
        pad_filled &= ~channels
    wettable = pad_filled & ~via_mask
    voids = _member(vl, void_ids, nv) & wettable
    if VIA_BARREL and via_ids and voids.any():
        # a via's copper barrel, seen end on, is far denser than the solder
        # round it: where a void reaches the barrel the solder is missing over
        # it too, though its shortfall cannot show against the copper
        voids |= _barrel_under_voids(vcents[via_ids], vstats[via_ids, cv2.CC_STAT_AREA], voids, wettable, raw_att)
    if rect is not None:
        # a drawn outline (not a threshold's) holds the blurred edge of the
        # solder along the rectangle and the channels: a rim pixel is a void
        # only beside a void inside
        k5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        core = cv2.erode(pad_filled.astype(np.uint8), k5).astype(bool)
        voids &= core | cv2.dilate((voids & core).astype(np.uint8), k5).astype(bool)
    wet_area = float(wettable.sum())
    # pixel count of every void component in one pass (not one frame scan per
    # void), of what is left of it outside the channels
    vsizes = np.bincount(vl[voids], minlength=nv).astype(float)
    void_ids = [k for k in void_ids if vsizes[k] > 0]
    vsizes = vsizes[void_ids]
    pad_void = 100 * voids.sum() / max(wet_area, 1)
    # one pass for the outline (as contours_by_label draws a joint's) and the count of pieces
    outlines, _ = cv2.findContours(pad_filled.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if len(outlines) > 1:
        # a print of several windows: the outline of one window would show a
        # reviewer a quarter of the pad; the hull round them all is the pad's land
        pad_contour = cv2.convexHull(np.vstack(outlines))[:, 0, :].astype(float).tolist()
    else:
        pad_contour = cv2.approxPolyDP(outlines[0], 0.7, True)[:, 0, :].tolist() if outlines else []
    vlab = np.where(voids, vl, 0).astype(np.int32)
    vcc, nvcc = ndi.label(vlab > 0)
    vcont, _ = contours_by_label(vcc.astype(np.int32), int(nvcc))
    pcy, pcx = ndi.center_of_mass(wettable) if wet_area else (math.nan, math.nan)
    pad = JointResult(joint_id=0, kind="pad", x_px=float(pcx), y_px=float(pcy), diameter_px=float(equivalent_diameter(wet_area)),
                      area_px=wet_area, circularity=0.0, void_pct=float(pad_void),
                      largest_void_pct=float(100 * vsizes.max() / max(wet_area, 1)) if vsizes.size else 0.0,
                      void_count=int(len(void_ids)), via_count=len(via_ids), peak_att=level,
                      contour=pad_contour, void_contours=vcont[1:])
    return pad, pad_filled, pad_solder, vlab


def _barrel_under_voids(centres, hole_px, voids, wettable, att):
    """Barrel pixels of thermal vias that lie under a void, px mask.

    Parameters
    ----------
    centres : ndarray (n, 2)
        The vias' hole centres (x, y), px.
    hole_px : ndarray (n,)
        Their holes' areas, px.
    voids, wettable : ndarray of bool
        The pad's voids and wettable area (holes and their rims left out).
    att : ndarray
        Attenuation.

    Returns
    -------
    ndarray of bool
        Barrel pixels that are void.

    Notes
    -----
    The barrels' outer edge is read from the vias' median radial profile of
    ``att`` about their centres: the copper ring's peak plus its half width
    on the hole's side (blur widens the ring alike on both sides). A pixel
    within that edge, outside the voids, is void when the pixel just beyond
    the edge on the same ray from its via's centre is void.
    """
    h, w = voids.shape
    reach = int(4 * math.sqrt(float(np.max(hole_px)) / math.pi)) + 8
    step = 0.5                                         # px per profile bin
    profiles, views = [], []
    for cx, cy in centres:
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach + 1, h)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach + 1, w)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = np.hypot(yy - cy, xx - cx)
        b = (d / step).astype(np.intp).ravel()
        prof = np.bincount(b, att[y0:y1, x0:x1].ravel()) / np.maximum(np.bincount(b), 1)
        profiles.append(prof[:int(reach / step)])
        views.append((cx, cy, y0, x0, d))
    # (a via by the box's edge has a shorter profile: the whole ones decide)
    whole = [p for p in profiles if len(p) == int(reach / step)] or profiles
    n = min(len(p) for p in whole)
    prof = np.median(np.stack([p[:n] for p in whole]), axis=0)
    peak = int(np.argmax(prof))
    inside = np.flatnonzero(prof[:peak + 1] < 0.5 * (prof[:peak + 1].min() + prof[peak]))
    out = np.zeros_like(voids)
    if peak == 0 or inside.size == 0:
        return out
    edge = (2 * peak - inside[-1]) * step              # px from a via's centre
    for cx, cy, y0, x0, d in views:
        hh, ww = d.shape
        zy, zx = np.nonzero((d <= edge) & wettable[y0:y0 + hh, x0:x0 + ww] & ~voids[y0:y0 + hh, x0:x0 + ww])
        if zy.size == 0:
            continue
        t = (edge + 1.5) / np.maximum(d[zy, zx], 1e-6)
        qy = np.clip(np.rint(cy + (zy + y0 - cy) * t).astype(np.intp), 0, h - 1)
        qx = np.clip(np.rint(cx + (zx + x0 - cx) * t).astype(np.intp), 0, w - 1)
        hit = voids[qy, qx]
        out[zy[hit] + y0, zx[hit] + x0] = True
    return out


def _shift(joint, dx, dy):
    """Move a joint's position and contours by (``dx``, ``dy``) px, in place."""
    joint.x_px += dx
    joint.y_px += dy
    joint.contour = [[x + dx, y + dy] for x, y in joint.contour]
    joint.void_contours = [[[x + dx, y + dy] for x, y in c] for c in joint.void_contours]


def _n_pins(joints):
    """Pins found (missing ones excluded)."""
    return sum(j.kind == "pin" and "missing" not in j.defects for j in joints)


def _pins_of_pin_size(joints):
    """Whether the median pin found covers :data:`PIN_MIN_PAD_SHARE` of the pad's area or more."""
    pad = next((j for j in joints if j.kind == "pad"), None)
    areas = [j.area_px for j in joints if j.kind == "pin" and "missing" not in j.defects]
    return bool(pad is not None and areas and float(np.median(areas)) >= PIN_MIN_PAD_SHARE * pad.area_px)


def _score_qfn_once(prep, *, recipe, limits, pixel_size_um=None, open_level=False, hold_tail=False,
                    below_dense=False):
    """One pass of :func:`score_qfn` with the densest large area as the pad.

    ``open_level``: choose the solder level on the frame opened by
    :data:`LEVEL_OPENING_PX` (thin dense features taken out). ``hold_tail``:
    choose it with the densest :data:`LEVEL_TAIL_SHARE` of the pixels held at
    that quantile. ``below_dense``: choose it again among the pixels under
    the first choice.
    """
    att = prep.att_smooth
    h, w = att.shape
    att_l = open_ellipse(att, LEVEL_OPENING_PX) if open_level else att
    v = att_l[prep.valid & (att_l > 0.02)]
    if v.size < 100:
        return [], {"pad_void_pct": math.nan}
    # solder lands (pad and pins: solder plus leadframe copper) are the most
    # attenuating large areas; the package body and board are a few percent
    p95 = float(np.percentile(v, 95))
    held = np.minimum(v, np.percentile(v, 100 * (1 - LEVEL_TAIL_SHARE))) if hold_tail else v
    t0 = max(_otsu(held), 0.45 * p95)
    above = float(np.count_nonzero(v > t0)) / v.size
    if below_dense:
        # the level among what lies under a split that set only parts denser
        # than solder (via rings, clipped cores) apart
        rest = v[v <= t0]
        if rest.size >= 100:
            t0 = max(_otsu(rest), 0.45 * p95)
    mask = ((att > t0) & prep.valid).astype(np.uint8)
    n, lab, stats, cents = components_with_stats(mask)
    area = stats[:, cv2.CC_STAT_AREA].astype(float)
    area[0] = 0
    big = _largest_solid(lab, stats, area)
    cut = _detached_pins(lab, stats, big)
    if cut is not None:
        mask[cut] = 0
        n, lab, stats, cents = components_with_stats(mask)
        area = stats[:, cv2.CC_STAT_AREA].astype(float)
        area[0] = 0
        big = _largest_solid(lab, stats, area)
    # windowed pads: the segments are alike and sit beside the largest one
    bx, by, bw, bh = stats[big, :4]
    grow = 0.8 * max(bw, bh)
    # grown window by window: a 3 x 3 print's far corner is two windows away from the largest
    # a window beside the largest may be small (voids); windows further out
    # must be alike windows, not the pins around the pad
    def near(k, m):
        return abs(cents[k, 0] - cents[m, 0]) < grow * 1.6 and abs(cents[k, 1] - cents[m, 1]) < grow * 1.6

    # a land near the largest segment that has like lands further out is a
    # pin, not a window (large pins beside a small printed pad reach as near
    # to its largest window as its other windows do)
    elong = np.maximum(stats[:, 2], stats[:, 3]) / np.maximum(np.minimum(stats[:, 2], stats[:, 3]), 1)
    far = ~((np.abs(cents[:, 0] - cents[big, 0]) < grow * 1.6)
            & (np.abs(cents[:, 1] - cents[big, 1]) < grow * 1.6)) & (area > 0)

    def pin_like(k):
        like = (np.abs(area / area[k] - 1) < PIN_LIKE_AREA) & (np.abs(elong / elong[k] - 1) < PIN_LIKE_ELONGATION)
        if PIN_LIKE_LONG is not None and elong[k] >= PIN_LIKE_LONG:
            # a long land with like lands anywhere is a pin: the largest
            # segment may be two windows joined, whose reach spans the pins
            like &= area > 0
            like[k] = False
        else:
            like &= far
        return int(like.sum()) >= PIN_LIKE_COUNT

    pad_ids = [k for k in range(1, n) if area[k] > 0.15 * area[big] and near(k, big)
               and (k == big or not pin_like(k))]
    alike = [k for k in range(1, n) if area[k] > WINDOW_ALIKE * area[big]
             and max(stats[k, 2], stats[k, 3]) < WINDOW_MAX_ASPECT * min(stats[k, 2], stats[k, 3])]
    def next_window(k, m):
        # a window's neighbour lies a window and a web away: webs that a
        # sharpened export leaves below the level part the windows. Only a
        # segment as large and square as a window is looked for that far:
        # pins can stand as near
        if area[k] < WINDOW_TWIN * area[big] or elong[k] > WINDOW_TWIN_ASPECT:
            return False
        reach = WINDOW_REACH * max(stats[m, 2], stats[m, 3])
        return abs(cents[k, 0] - cents[m, 0]) < reach and abs(cents[k, 1] - cents[m, 1]) < reach

    while True:
        more = [k for k in alike if k not in pad_ids and any(near(k, m) or next_window(k, m) for m in pad_ids)]
        if not more:
            break
        pad_ids += more
    joints, info, (interior, on_ring) = _pad_and_pins(prep, limits, lab, stats, cents, area, mask, n, pad_ids)
    if interior or on_ring:
        # lands deep inside the ring of pins are pieces of a pad that a large
        # void or a window's channel cut apart: measured with the pad; a
        # pin-sized segment of the "pad" standing in the ring is a pin
        pad_ids = [k for k in pad_ids if k not in on_ring] + interior
        joints, info, _ = _pad_and_pins(prep, limits, lab, stats, cents, area, mask, n, pad_ids,
                                        look_inside=False)
    info["share_above"] = above
    return joints, info


#: A land whose centre lies deeper inside the hull of the pin centres than
#: this many pin lengths (the median pin's long side), and inside the pad's
#: box or that box mirrored about the ring's centre, is a piece of the pad that
#: a large void or a channel cut off, not a pin (None: off). Pins lie on that
#: hull, a side's pins along its edge; the mirror keeps an inner row of pins
#: (a dual-row QFN round a whole pad) a row of pins. A land shaped like
#: PIN_LIKE_COUNT others (PIN_LIKE_AREA, PIN_LIKE_ELONGATION) stays a pin.
PIN_RING_INTERIOR = 0.75


def _ring_of_pins(pin_ids, stats, cents):
    """The hull of the pin centres and the median pin's long side, px (None under 6 pins or a flat hull)."""
    if len(pin_ids) < 6:
        return None
    hull = cv2.convexHull(cents[pin_ids].astype(np.float32))
    if len(hull) < 3 or cv2.contourArea(hull) <= 0:
        return None
    return hull, float(np.median(np.maximum(stats[pin_ids, 2], stats[pin_ids, 3])))


def _interior_lands(pin_ids, stats, cents, pad_box, ring):
    """The ``pin_ids`` that are pieces of the pad (see :data:`PIN_RING_INTERIOR`).

    ``pad_box``: (x0, y0, x1, y1) px, the box of the pad as measured;
    ``ring``: :func:`_ring_of_pins`.
    """
    if PIN_RING_INTERIOR is None or ring is None:
        return []
    hull, length = ring
    pts = cents[pin_ids].astype(np.float32)
    (cx, cy), _, _ = cv2.minAreaRect(hull)
    x0, y0, x1, y1 = pad_box
    bx0, bx1 = min(x0, 2 * cx - x1), max(x1, 2 * cx - x0)
    by0, by1 = min(y0, 2 * cy - y1), max(y1, 2 * cy - y0)
    long_side = np.maximum(stats[pin_ids, 2], stats[pin_ids, 3]).astype(float)
    elong = long_side / np.maximum(np.minimum(stats[pin_ids, 2], stats[pin_ids, 3]), 1)
    area = stats[pin_ids, cv2.CC_STAT_AREA].astype(float)
    out = []
    for i, (k, (x, y)) in enumerate(zip(pin_ids, pts)):
        if not (bx0 <= x <= bx1 and by0 <= y <= by1) \
                or cv2.pointPolygonTest(hull, (float(x), float(y)), True) <= PIN_RING_INTERIOR * length:
            continue
        # a land shaped like the package's pins stays a pin wherever it lies
        # (a false land on the ring, a via ring, can put a side's pin inside)
        like = (np.abs(area / area[i] - 1) < PIN_LIKE_AREA) & (np.abs(elong / elong[i] - 1) < PIN_LIKE_ELONGATION)
        if int(like.sum()) - 1 < PIN_LIKE_COUNT:
            out.append(k)
    return out


#: A segment taken for part of the pad that is pin-sized (within this factor
#: of the median pin's area either way), centred outside the box of the pad's
#: other segments and within PIN_RING_EDGE pin lengths of the hull of the pin
#: centres (or beyond it) is a pin of the ring (None: off). A pin bridged to its
#: neighbour, its land grown by the bridge's solder past the pins' likeness,
#: stood within the reach of a print's windows (fresh development frame
#: (5,990,000, 1)).
PIN_SIZED = 2.0
PIN_RING_EDGE = 0.25


def _pins_in_pad(pad_ids, pin_ids, stats, cents, area, ring):
    """The ``pad_ids`` that are pins of the ring round the pad (see :data:`PIN_SIZED`); ``ring``: :func:`_ring_of_pins`."""
    if PIN_SIZED is None or ring is None or len(pad_ids) < 2:
        return []
    hull, length = ring
    med = float(np.median(area[pin_ids]))
    out = []
    for k in pad_ids:
        if not med / PIN_SIZED <= area[k] <= PIN_SIZED * med:
            continue
        rest = [m for m in pad_ids if m != k]
        x0, y0 = stats[rest, 0].min(), stats[rest, 1].min()
        x1, y1 = (stats[rest, 0] + stats[rest, 2]).max(), (stats[rest, 1] + stats[rest, 3]).max()
        x, y = float(cents[k, 0]), float(cents[k, 1])
        if x0 <= x <= x1 and y0 <= y <= y1:
            continue
        if cv2.pointPolygonTest(hull, (x, y), True) < PIN_RING_EDGE * length:
            out.append(k)
    if len(out) == len(pad_ids):
        return []
    return out


def _pad_and_pins(prep, limits, lab, stats, cents, area, mask, n, pad_ids, look_inside=True):
    """The pad measured from the segments ``pad_ids`` and the pins round it.

    Returns the joints (pad first), the frame's info and, when ``look_inside``,
    the lands taken for pins that lie deep inside their ring
    (:func:`_interior_lands`) and the pad's segments that are pins of the
    ring (:func:`_pins_in_pad`); then the joints and info are None when
    either is not empty.
    """
    att = prep.att_smooth
    h, w = att.shape
    pad_ids = sorted(pad_ids)
    pad_mask = _member(lab, pad_ids, n)
    # voids are holes in the solder: fill each segment's holes (channels between
    # windows are outside every segment and stay out)
    pad_filled = _fill_holes(pad_mask)
    # the pad is measured in its box (a share of the frame), with a margin for
    # the bays, rims and lost windows its segments may not reach
    ys, xs = np.nonzero(pad_filled)
    margin = 16 + int(0.15 * max(xs.max() - xs.min(), ys.max() - ys.min()))
    y0, x0 = max(int(ys.min()) - margin, 0), max(int(xs.min()) - margin, 0)
    y1, x1 = min(int(ys.max()) + margin + 1, h), min(int(xs.max()) + margin + 1, w)
    box = (slice(y0, y1), slice(x0, x1))
    pad, pad_box, solder_box, vlab_box = _measure_pad(att[box], prep.att[box], pad_filled[box],
                                                      mask[box].astype(bool), len(pad_ids))
    _shift(pad, x0, y0)
    level, pad_void = pad.peak_att, pad.void_pct
    pad_filled = np.zeros((h, w), bool)
    pad_filled[box] = pad_box
    pad_solder = np.zeros((h, w), bool)
    pad_solder[box] = solder_box
    vlab = np.zeros((h, w), np.int32)
    vlab[box] = vlab_box
    ys, xs = np.nonzero(pad_box)
    ys, xs = ys + y0, xs + x0
    pcx, pcy = pad.x_px, pad.y_px
    # pins: like-sized lands outside the pad
    px0, py0 = xs.min(), ys.min()
    px1, py1 = xs.max(), ys.max()
    # pins sit in a ring around the pad no wider than the package body (the
    # pad is about half the body), and are solid lands, not via rings
    half = 0.5 * max(px1 - px0, py1 - py0)
    pcx0, pcy0 = 0.5 * (px0 + px1), 0.5 * (py0 + py1)
    pin_ids = []
    for k in range(1, n):
        if k in pad_ids or area[k] < 6:
            continue
        if px0 <= cents[k, 0] <= px1 and py0 <= cents[k, 1] <= py1:
            continue
        if max(abs(cents[k, 0] - pcx0), abs(cents[k, 1] - pcy0)) > PIN_REACH * half:
            continue
        x, y, bw, bh = stats[k, :4]
        own = lab[y:y + bh, x:x + bw] == k
        if fill_holes(own).sum() > 1.3 * area[k] or area[k] < 0.45 * bw * bh:
            # a ring (via barrel) or a thin line; or a land that a thinner
            # ring or line crosses: the land is what an opening leaves
            if not _land_left_by_opening(lab, stats, cents, area, k):
                continue
        pin_ids.append(k)
    joints = [pad]
    if pin_ids:
        med = float(np.median(area[pin_ids]))
        pin_ids = [k for k in pin_ids if 0.25 * med <= area[k] <= 4.0 * med]
    if look_inside:
        ring = _ring_of_pins(pin_ids, stats, cents)
        interior = _interior_lands(pin_ids, stats, cents, (px0, py0, px1, py1), ring)
        on_ring = _pins_in_pad(pad_ids, pin_ids, stats, cents, area, ring)
        if interior or on_ring:
            return None, None, (interior, on_ring)
    angle = _pad_angle(pad_filled)
    pins = _pins(lab, pin_ids, stats, cents, area, att, (pcx, pcy), prep,
                 rotation_deg=angle if math.isfinite(angle) else 0.0)
    _pin_bridges(pins, lab, pin_ids, att, level, prep.valid, pad_filled | pad_solder)
    _mark_bare_pins(pins)
    joints += pins
    for j in joints:
        codes = list(j.defects)
        if j.kind == "pad" and j.void_pct > limits.pad_void_pct:
            codes.append("void")
        if j.kind == "pin" and "missing" not in codes and (j.void_pct > limits.ball_void_pct
                                                           or j.largest_void_pct > limits.ball_largest_void_pct):
            codes.append("void")
        j.defects = [c for c in ("missing", "bridge", "void") if c in codes]
        j.verdict = "fail" if j.defects else "pass"
    for i, j in enumerate(joints):
        j.joint_id = i
    info = {"pad_void_pct": float(pad_void), "pitch_px": _pin_pitch(pins), "angle_deg": angle,
            "n_sites": 0, "labels": lab, "void_labels": vlab, "pad_mask": pad_filled}
    return joints, info, ([], [])


#: A pin whose peak attenuation is under this share of the pins' median holds
#: no solder: what is left is its copper lead and land (development frames:
#: bare pins 0.52-0.61 of the median, soldered ones 0.94 and up).
PIN_BARE_FRACTION = 0.8


def _found_pins_level(pins):
    """The pins found as lands and their median peak attenuation.

    Returns ``([], nan)`` under 4 such pins: too few to say what a pin's
    level is.
    """
    found = [p for p in pins if p.area_px > 0 and "missing" not in p.defects and math.isfinite(p.peak_att)]
    if len(found) < 4:
        return [], math.nan
    return found, float(np.median([p.peak_att for p in found]))


def _mark_bare_pins(pins):
    """Add ``missing`` to the pins that carry no solder, in place.

    Parameters
    ----------
    pins : list of JointResult
        The frame's pins; ``peak_att`` is each one's peak attenuation
        (dimensionless, ``log(I0 / I)``).

    A pin's lead and land are copper, and copper alone attenuates little
    beside the solder over it: a land that is found but much fainter than its
    neighbours is a pin with no solder joint (IPC: no solder at an expected
    site), not a good pin.
    """
    found, med = _found_pins_level(pins)
    for p in found:
        if p.peak_att < PIN_BARE_FRACTION * med:
            p.defects = ["missing"] + [c for c in p.defects if c != "missing"]


#: A land crossed by a thinner ring or line keeps what an opening with a disc
#: of this share of its own thickest width leaves (a ring of another part on
#: top of a pin made it a ring: the pin was reported missing).
LAND_OPENING_FRACTION = 0.6


def _land_left_by_opening(lab, stats, cents, area, k):
    """Open component ``k`` by a share of its own thickness; keep it if a solid land is left.

    A pin crossed by the ring of a part beside it (a via ring, a can's
    outline) is one component with a hole: the ring test rejected it. The
    ring is thinner than the pin: an opening with a disc of
    :data:`LAND_OPENING_FRACTION` of the component's thickest width takes it
    off, a ring or a line of even width keeps its shape and stays rejected.
    Updates ``lab`` (the cut pixels become background), ``stats``, ``cents``
    and ``area`` of ``k`` in place when a land is kept; returns whether it was.
    """
    x, y, bw, bh = stats[k, :4]
    own = (lab[y:y + bh, x:x + bw] == k).astype(np.uint8)
    thick = 2 * float(cv2.distanceTransform(np.pad(own, 1), cv2.DIST_L2, 3).max())
    size = int(LAND_OPENING_FRACTION * thick) | 1
    if size < 3:
        return False
    left = cv2.morphologyEx(own, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    nl, ll, ls, lc = components_with_stats(left)
    if nl < 2:
        return False
    big = 1 + int(np.argmax(ls[1:, cv2.CC_STAT_AREA]))
    piece = ll == big
    a = int(piece.sum())
    px, py, pw, ph = ls[big, :4]
    if fill_holes(piece).sum() > 1.3 * a or a < 0.45 * pw * ph:
        return False
    sub = lab[y:y + bh, x:x + bw]
    sub[own.astype(bool) & ~piece] = 0
    stats[k] = (x + px, y + py, pw, ph, a)
    cents[k] = (lc[big, 0] + x, lc[big, 1] + y)
    area[k] = a
    return True


def _pad_angle(pad_filled):
    if not pad_filled.any():
        return math.nan
    ang = _pad_rect_angle(pad_filled)
    ang = ((ang + 45) % 90) - 45
    return float(-ang)


def _pin_pitch(pins):
    pts = np.array([[p.x_px, p.y_px] for p in pins if "missing" not in p.defects])
    if len(pts) < 3:
        return math.nan
    from scipy.spatial import cKDTree

    d, _ = cKDTree(pts).query(pts, k=2)
    return float(np.median(d[:, 1]))


def _pin_bridges(pins, lab, pin_ids, att, level, valid, pad_mask):
    """Flag pins joined by solder thinner than a land (below the land threshold).

    A bridge between two pins is a thin solder sheet; it may not reach the
    threshold that separates lands, so connectivity is checked at a fraction
    of the pad's solder level, like the necks between BGA balls.
    """
    if len(pin_ids) < 2:
        return
    # the pad (and wire bonds over it) must not connect pins through the middle
    keep_out = cv2.dilate(pad_mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    pin_mask = _member(lab, pin_ids, int(lab.max()) + 1)
    threshold = PIN_BRIDGE_FRACTION * level
    if PIN_BRIDGE_ABOVE_FLOOR is not None:
        k = 2 * PIN_FLOOR_PX + 1
        ring = cv2.dilate(pin_mask.view(np.uint8), np.ones((k, k), np.uint8)).view(bool) \
            & ~pin_mask & ~keep_out & valid
        if np.count_nonzero(ring) >= 50:
            floor = min(max(float(np.median(att[ring])), 0.0), 0.5 * level)
            threshold = max(threshold, floor + PIN_BRIDGE_ABOVE_FLOOR * (level - floor))
    low = ((att > threshold) & valid & ~keep_out).astype(np.uint8)
    n, cc = cv2.connectedComponents(low, connectivity=8)
    # each pin's region: the one holding most of its pixels (ties: the lowest
    # id, as ``bincount(...).argmax()``), from one pass over the pin pixels
    lf = lab.ravel()
    idx = np.flatnonzero(pin_mask)
    key = lf[idx].astype(np.int64) * n + cc.ravel()[idx]
    uk, cnt = np.unique(key, return_counts=True)
    region_of = {k: 0 for k in pin_ids}
    best = {}
    for kk, c in zip(uk.tolist(), cnt.tolist()):      # keys ascend: per pin, regions ascend
        k, rg = divmod(kk, n)
        if c > best.get(k, 0):
            best[k], region_of[k] = c, rg
    by_region = {}
    for k, rg in region_of.items():
        if rg:
            by_region.setdefault(rg, []).append(k)
    joined = {k for ks in by_region.values() if len(ks) > 1 for k in ks}
    if not joined:
        return
    # match components back to the pin joints by position
    for j in pins:
        if "missing" in j.defects or "bridge" in j.defects:
            continue
        yi, xi = int(round(j.y_px)), int(round(j.x_px))
        k = lab[min(max(yi, 0), lab.shape[0] - 1), min(max(xi, 0), lab.shape[1] - 1)]
        if k in joined:
            j.defects.append("bridge")


def _pins(lab, pin_ids, stats, cents, area, att, centre, prep, rotation_deg=0.0):
    """Pin joints with bridges split in two and missing pins found from the spacing.

    ``rotation_deg``: the pad's rotation (counter-clockwise on screen); each
    pin's side is read from its direction from ``centre`` turned back by it,
    so that the corner pins of a turned package stay on their own side (a
    corner pin counted on the next side left a gap there: a "missing" pin).
    """
    if not pin_ids:
        return []
    cx, cy = centre
    med = float(np.median(area[pin_ids]))
    from .voids import ball_voids

    # per-pin voids against the pin's own flat level
    remap = np.zeros(lab.max() + 1, np.int32)
    remap[pin_ids] = np.arange(1, len(pin_ids) + 1)
    plab = remap[lab]
    vs = ball_voids(att, plab, len(pin_ids), model="flat")
    contours, perim = contours_by_label(plab, len(pin_ids))
    out = []
    for i, k in enumerate(pin_ids, start=1):
        # image rows run down: a turn counter-clockwise on screen lowers atan2
        ang = math.atan2(cents[k, 1] - cy, cents[k, 0] - cx) + math.radians(rotation_deg)
        side = int(((ang + math.pi / 4) % (2 * math.pi)) // (math.pi / 2))
        base = dict(kind="pin", void_pct=float(vs.void_pct[i]), largest_void_pct=float(vs.largest_void_pct[i]),
                    void_count=int(vs.void_count[i]), peak_att=float(vs.dome_peak[i]))
        if area[k] > 1.7 * med:
            # one land over two pins: split along its long axis; bridged,
            # unless what joins them is a via ring's wall round its hole
            x0, y0, bw, bh = stats[k, :4]
            own = lab[y0:y0 + bh, x0:x0 + bw] == k
            ringed = PIN_RING_HOLE is not None and \
                np.count_nonzero(fill_holes(own) & ~own) >= PIN_RING_HOLE * med
            ys, xs = np.nonzero(own)
            pts = np.stack([xs + x0, ys + y0], 1).astype(float)
            c = pts.mean(0)
            evals, evecs = np.linalg.eigh(np.cov((pts - c).T))
            axis = evecs[:, -1]
            t = (pts - c) @ axis
            for sgn in (-1, 1):
                sel = (t * sgn) > 0
                q = pts[sel].mean(0)
                a_half = float(sel.sum())
                j = JointResult(joint_id=0, x_px=float(q[0]), y_px=float(q[1]), area_px=a_half,
                                diameter_px=float(equivalent_diameter(a_half)), circularity=float(circularity(area[k], perim[i]) if perim[i] else 0),
                                defects=[] if ringed else ["bridge"], contour=contours[i], **base)
                j._side = side
                out.append(j)
            continue
        j = JointResult(joint_id=0, x_px=float(cents[k, 0]), y_px=float(cents[k, 1]), area_px=float(area[k]),
                        diameter_px=float(equivalent_diameter(area[k])), circularity=float(circularity(area[k], perim[i])),
                        contour=contours[i], **base)
        j._side = side
        out.append(j)
    # missing pins: gaps in each side's regular spacing
    for side in range(4):
        sp = [j for j in out if getattr(j, "_side", -1) == side]
        if len(sp) < 3:
            continue
        axis = 0 if side in (1, 3) else 1     # sides 1/3 (bottom/top by angle) run along x
        dirv = np.array([1.0, 0.0]) if axis == 0 else np.array([0.0, 1.0])
        pos = np.array([[j.x_px, j.y_px] for j in sp])
        # the side's own direction from its pins (the package may be rotated)
        c = pos.mean(0)
        if len(sp) >= 2:
            _, vecs = np.linalg.eigh(np.cov((pos - c).T))
            dirv = vecs[:, -1]
        t = (pos - c) @ dirv
        order = np.argsort(t)
        ts = t[order]
        gaps = np.diff(ts)
        pitch = float(np.median(gaps))
        if pitch <= 0:
            continue
        for g, (a, b) in enumerate(zip(ts[:-1], ts[1:])):
            nmiss = int(round((b - a) / pitch)) - 1
            for m in range(1, nmiss + 1):
                tt = a + m * pitch
                xy = c + tt * dirv
                j = JointResult(joint_id=0, kind="pin", x_px=float(xy[0]), y_px=float(xy[1]), defects=["missing"])
                j._side = side
                out.append(j)
    out += _missing_by_mirror(out, centre, rotation_deg, prep.valid, att)
    for j in out:
        j.__dict__.pop("_side", None)
    return out


def _missing_by_mirror(pins, centre, rotation_deg, valid, att):
    """Missing pins where the opposite side has a pin and this side none.

    Parameters
    ----------
    pins : list of JointResult
        The pins found (and those missing between them), each with its
        ``_side`` (0-3, counter-clockwise from the pad's right side).
    centre : (float, float)
        The pad's centre, px.
    rotation_deg : float
        The pad's rotation, degrees (as :func:`_pins` takes it).
    valid : ndarray of bool
        Pixels that are image.
    att : ndarray of float
        Attenuation map (``log(I0 / I)``).

    Returns
    -------
    list of JointResult
        One ``missing`` pin per place found, on its side's line.

    The pins of opposite sides of a bottom-terminated package stand at the
    same places along their sides (the outline is symmetric). A gap between
    pins is found from a side's own spacing; a pin missing at the end of a
    side leaves no gap, only its place opposite. A place is missing only
    where the frame holds no solder there (under :data:`PIN_BARE_FRACTION`
    of the pins' median peak): a pin the segmentation lost (joined to a
    trace, a part) is not a missing one. Places outside the frame are not
    judged.
    """
    found, level = _found_pins_level(pins)
    if not found:
        return []
    half = max(1, int(0.15 * math.sqrt(float(np.median([j.area_px for j in found])))))
    r = math.radians(rotation_deg)
    cr, sr = math.cos(r), math.sin(r)
    h, w = valid.shape

    def local(j):
        dx, dy = j.x_px - centre[0], j.y_px - centre[1]
        return dx * cr - dy * sr, dx * sr + dy * cr

    by_side = {s: [] for s in range(4)}
    for j in pins:
        s = getattr(j, "_side", -1)
        if s in by_side:
            u, v = local(j)
            # (along the side, across it)
            by_side[s].append((v, u) if s in (0, 2) else (u, v))
    out = []
    for s in range(4):
        mine = np.array(by_side[s], float).reshape(-1, 2)
        other = np.array(by_side[(s + 2) % 4], float).reshape(-1, 2)
        if len(other) == 0:
            continue
        steps = [np.diff(np.sort(p[:, 0])) for p in (mine, other) if len(p) >= 2]
        pitch = float(np.median(np.concatenate(steps))) if steps else 0.0
        if not pitch > 0:
            continue
        if len(mine):
            # the two sides' offset along their length (the centre is the
            # pad's, which its voids may move)
            d = mine[:, 0][:, None] - other[:, 0][None, :]
            near = d[np.arange(len(mine)), np.argmin(np.abs(d), axis=1)]
            near = near[np.abs(near) < 0.5 * pitch]
            shift = float(np.median(near)) if near.size else 0.0
            across = float(np.median(mine[:, 1]))
        else:
            shift, across = 0.0, -float(np.median(other[:, 1]))
        for t in other[:, 0] + shift:
            if len(mine) and np.min(np.abs(mine[:, 0] - t)) < 0.4 * pitch:
                continue
            u, v = (across, t) if s in (0, 2) else (t, across)
            x = centre[0] + u * cr + v * sr
            y = centre[1] - u * sr + v * cr
            if not (0 <= x < w and 0 <= y < h and valid[int(y), int(x)]):
                continue
            xi, yi = int(round(x)), int(round(y))
            here = att[max(yi - half, 0):yi + half + 1, max(xi - half, 0):xi + half + 1]
            if not float(np.median(here)) < PIN_BARE_FRACTION * level:
                continue
            out.append(JointResult(joint_id=0, kind="pin", x_px=float(x), y_px=float(y), defects=["missing"]))
    return out

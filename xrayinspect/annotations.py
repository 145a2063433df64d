"""Burned-in annotations: text, scale bars and cross-hairs an X-ray viewer draws into its export.

An AXI station or an image viewer often writes the acquisition line (tube
kV and uA, date, board serial), a scale bar, a cross-hair or a measurement
into the pixels of the frame it exports. They are drawn at one grey level,
nearly always the darkest or the brightest the container holds, in strokes a
few pixels wide with a step edge: nothing in a radiograph is like that (the
detector's blur softens every edge, and what saturates - a ball's core in a
windowed export, a bright background - does so in wide, soft-edged areas).
Left in, white text on a bright-solder export is a row of dense "joints"
that sets the frame's typical ball peak (0 of 598 balls found in one
development frame, which then passed), and black text is read as solder on
a dark-solder export.

:func:`annotation_mask` finds such strokes; :func:`remove_annotations` fills
them in from the pixels around them (``cv2.inpaint``) before anything else
reads the frame.
"""

import cv2
import numpy as np

from .measure import components_with_stats, fill_holes

#: Share of the way from the data's range to the container's extreme within
#: which a pixel counts as drawn at that extreme.
NEAR_LEVEL = 0.25
#: A stroke is at most twice this wide, px: no pixel of it lies further from its edge.
STROKE_HALF_WIDTH = 4
#: ... covers at least this many pixels (a noise pixel at the frame's extreme does not).
STROKE_MIN_AREA = 12
#: Holes in a stroke whose pixels stand, on average, within STEP_FRACTION of
#: the grey range of its level are part of it, filled before its width is
#: read (False: every hole is an edge). A letter's counter is the scene
#: behind it, stepped off the level like the rest of its outside; a ball core
#: clipped at the level is riddled with pixels just off it (the noise dips of
#: an unsharp mask, a JPEG's blocks), each of which put an edge within 4 px of
#: every pixel of it. Independent-renderer 8-bit frames (scripts/altsim.py
#: --sharpen): 31 px cores of seed 9,900,009 (PNG) read as a line of text,
#: 16,364 px of balls inpainted away; 25 px cores of 9,950,031 (JPEG), 3,931 px.
FILL_NEAR_LEVEL = True
#: ... and stands off what lies around it by a step: at least this share of the
#: ring 2 px outside it differs from the stroke's level by ... (0.5 until
#: 2026-12-07: the arcs of an unsharp mask's halos, stepped on their ball side
#: only, stood at 0.50-0.82 of their outside; the letters burned into the
#: tests' frames are nearly all at 1.0, and every test of them holds at 0.75
#: and at 0.85)
STEP_SHARE = 0.75
#: ... at least this fraction of the frame's grey range (0.5-99.5th percentile).
#: A ball core clipped by a display window meets the rest of its ball at a few
#: per cent of the range; text on the board stands off it by a third or more.
STEP_FRACTION = 0.15
#: The ring is read outside the strokes only: pixels they enclose (the
#: middle of an O) are not counted (False: all of it). A viewer's unsharp
#: mask clipped at full scale draws a bright halo round every dense ball,
#: a stroke at the level, a few px wide, stepped down into the ball it
#: encloses but not onto the board round it; a row of them is a line of
#: "O"s (a 3 px mask on an 8-bit frame: 53,000 px of halos inpainted dark,
#: every gap between balls then a bridge). Drawn strokes stand off the scene
#: on their outside too.
STEP_OUTSIDE_ONLY = True
#: What is drawn is man-made geometry, which a clipped via ring, ball core or
#: noise speck is not: a stroke is a straight line or a cross of two (its
#: pixels within its own half width + 1 px of its fullest row and column,
#: this share of them, over at least LINE_MIN_LENGTH px) ...
LINE_SHARE = 0.95
LINE_MIN_LENGTH = 40
#: ... or a letter in a line of text: one of at least TEXT_MIN_GLYPHS strokes
#: side by side, alike in height (within TEXT_HEIGHT_RATIO), their tops or
#: their feet level to TEXT_ALIGN of that height, apart by at most TEXT_GAP of
#: it (letters are set closer than their height; balls, vias and their rings
#: are spaced a pitch, twice their size or more), each TEXT_MIN_HEIGHT px tall
#: or more and no more than TEXT_ASPECT times wider than tall or taller than
#: wide (a piece of a stitching band is a long flat strip).
TEXT_MIN_GLYPHS = 3
TEXT_HEIGHT_RATIO = 1.6
TEXT_ALIGN = 0.2
TEXT_GAP = 0.8
TEXT_MIN_HEIGHT = 6
TEXT_ASPECT = 3.0
#: More candidate glyphs than this in one frame is not a line of text (a
#: clipped, noisy export): the text test is skipped.
TEXT_MAX_GLYPHS = 2000
#: A "line" of like round discs at one spacing is a row of balls, not text.
#: Balls of 8-9 px whose cores a windowed 8-bit export clips to its black
#: level stand 6-8 px tall and 5-7 px apart, as close as letters
#: (scripts/altsim.py --ball-px 8,14, seeds 9,992,008 and 9,992,028: 9,547
#: and 7,298 px of balls, whole arrays, inpainted away). Letters differ in
#: area and are set at spacings that differ with their widths; thick strokes
#: make many of them solid, but seldom all of a line. A line all of whose
#: glyphs are hole-free, fill at least DISC_SOLIDITY of their convex hull,
#: are no more than DISC_ASPECT times longer one way than the other, lie
#: within DISC_AREA_RATIO of the line's median area and are set at one
#: spacing (each centre-to-centre step within DISC_SPACING of the median
#: step) is not taken for text (None: every line is). Rendered text (6
#: Hershey fonts, 6 sizes, strokes 1-4 px, 12 strings): only lines of one
#: repeated solid letter ("....", a bold "eeee") are let go.
DISC_SOLIDITY = 0.85
DISC_ASPECT = 1.35
DISC_AREA_RATIO = 1.15
DISC_SPACING = 0.15
#: Strokes and marks as small as this (px) are taken too within MARK_REACH px of a stroke
#: (the colon of a time, the dot of an i, a full stop).
MARK_MIN_AREA = 3
MARK_REACH = 8
#: ... and so on, this many steps away.
MARK_STEPS = 8


def _fill_near_level(mask8, filled, image, level, tolerance):
    """``mask8`` (uint8 0/1) with its holes set where their mean grey level lies within
    ``tolerance`` of ``level`` (the scene's holes, a letter's counter, are left), uint8.
    ``filled`` is ``fill_holes(mask8)``."""
    holes = filled & (mask8 == 0)
    if not holes.any():
        return mask8
    n, lab, _, _ = components_with_stats(holes.view(np.uint8))
    inside = lab[holes]
    off = np.bincount(inside, np.abs(image[holes].astype(np.float64) - float(level)), minlength=n)
    near = off <= tolerance * np.maximum(np.bincount(inside, minlength=n), 1)
    near[0] = False
    return np.maximum(mask8, near[lab].view(np.uint8))


def _line_like(lab_box, k, half_width):
    """Whether component ``k`` of a label box is a straight line or an axis-aligned cross.

    ``half_width`` (px): the component's own, the furthest any of its pixels
    lies from its edge. A ring is near its fullest row and column only where
    it crosses them.
    """
    ys, xs = np.nonzero(lab_box == k)
    if max(np.ptp(xs), np.ptp(ys)) + 1 < LINE_MIN_LENGTH:
        return False
    w = half_width + 1.0
    # along the image axes: the fullest row and column and the pixels near them
    r0 = np.bincount(ys).argmax()
    c0 = np.bincount(xs).argmax()
    on_axes = (np.abs(ys - r0) <= w) | (np.abs(xs - c0) <= w)
    if on_axes.mean() >= LINE_SHARE:
        return True
    # a line at any angle: its pixels within w of the principal axis
    pts = np.stack([xs, ys], 1).astype(float)
    pts -= pts.mean(0)
    _, vec = np.linalg.eigh(np.cov(pts.T) + np.eye(2) / 12)
    off = np.abs(pts @ vec[:, 0])
    return bool((off <= w).mean() >= LINE_SHARE)


def _text_lines(st, ids, lab=None):
    """Which of the components ``ids`` (rows of ``st``) stand in a line of text, bool per id.

    ``lab``, the components' label image, lets a row of like round discs
    (balls, :data:`DISC_SOLIDITY`) be told from letters.
    """
    out = np.zeros(len(ids), bool)
    x0, y0, w, h = (st[ids, i].astype(float) for i in range(4))
    glyph = np.flatnonzero((h >= TEXT_MIN_HEIGHT) & (w <= TEXT_ASPECT * h) & (h <= TEXT_ASPECT * w))
    m = glyph.size
    if m < TEXT_MIN_GLYPHS or m > TEXT_MAX_GLYPHS:
        return out
    x0, y0, w, h = x0[glyph], y0[glyph], w[glyph], h[glyph]
    x1, y1 = x0 + w, y0 + h
    hi_h = np.maximum(h[:, None], h[None, :])
    alike = hi_h <= TEXT_HEIGHT_RATIO * np.minimum(h[:, None], h[None, :])
    level = (np.abs(y0[:, None] - y0[None, :]) <= TEXT_ALIGN * hi_h) \
        | (np.abs(y1[:, None] - y1[None, :]) <= TEXT_ALIGN * hi_h)
    gap = np.maximum(x0[:, None], x0[None, :]) - np.minimum(x1[:, None], x1[None, :])
    # (kerned or slanted letters overlap a little)
    link = alike & level & (gap <= TEXT_GAP * hi_h) & (gap >= -0.3 * hi_h)
    np.fill_diagonal(link, False)
    # lines of glyphs: the connected groups of the link graph, by propagating
    # the least index through it
    group = np.arange(m)
    for _ in range(m):
        nxt = np.minimum(group, np.where(link, group[None, :], m).min(axis=1))
        if np.array_equal(nxt, group):
            break
        group = nxt
    lines = np.bincount(group, minlength=m)[group] >= TEXT_MIN_GLYPHS
    if DISC_SOLIDITY is not None and lab is not None and lines.any():
        area = st[ids, cv2.CC_STAT_AREA].astype(float)[glyph]
        for g in np.unique(group[lines]):
            members = np.flatnonzero(group == g)
            med = float(np.median(area[members]))
            if (area[members] > DISC_AREA_RATIO * med).any() or (area[members] * DISC_AREA_RATIO < med).any():
                continue
            if (np.maximum(w[members], h[members]) > DISC_ASPECT * np.minimum(w[members], h[members])).any():
                continue
            steps = np.diff(np.sort(x0[members] + 0.5 * w[members]))
            if (np.abs(steps - np.median(steps)) > DISC_SPACING * np.median(steps)).any():
                continue
            if all(_solid_convex(lab, st, ids[glyph[i]]) for i in members):
                lines[members] = False
    out[glyph] = lines
    return out


def _solid_convex(lab, st, k):
    """Whether component ``k`` (a row of ``st``) of ``lab`` has no hole and fills DISC_SOLIDITY of its convex hull."""
    x0, y0, w, h = (int(v) for v in st[k, :4])
    box = (lab[y0:y0 + h, x0:x0 + w] == k).view(np.uint8)
    if np.count_nonzero(fill_holes(box)) != st[k, cv2.CC_STAT_AREA]:
        return False
    hull = cv2.convexHull(cv2.findNonZero(box))
    # the pixels a convex digital shape holds: the hull of their centres and
    # half a pixel all round it (Pick's theorem), not the hull's area alone
    full = cv2.contourArea(hull) + 0.5 * cv2.arcLength(hull, True) + 1.0
    return st[k, cv2.CC_STAT_AREA] >= DISC_SOLIDITY * full


def _band_lines(image, lo, top):
    """Rows and columns (bool each) of a tiled composite's stitching bands, 2 px beside them included.

    A band is a black line with a step edge too, but it runs across the frame
    (JPEG lifts it a few grey levels, as :func:`xrayinspect.preprocess.invalid_bands`
    allows for, which reads the tiles' offsets off it); ``top`` is taken below
    any text (the 99th percentile: text covers under 1 % of a frame).
    """
    dark = image <= float(lo) + 0.02 * max(top - float(lo), 0.0)
    rows = np.convolve(np.count_nonzero(dark, axis=1) > 0.9 * image.shape[1], np.ones(5), "same") > 0
    cols = np.convolve(np.count_nonzero(dark, axis=0) > 0.9 * image.shape[0], np.ones(5), "same") > 0
    return rows, cols


def annotation_mask(image):
    """Pixels of burned-in strokes (text, scale bars, cross-hairs), bool.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame as read (any real dtype).

    Returns
    -------
    ndarray of bool
        True on the strokes and on the 1 px of anti-aliasing around them;
        all False when there are none.
    """
    image = np.asarray(image)
    out = np.zeros(image.shape, bool)
    if image.ndim != 2 or image.size == 0:
        return out
    lo, hi = image.min(), image.max()
    if lo == hi:
        return out
    sub = image[::4, ::4] if image.size > 1 << 18 else image
    p_1, p_lo, p_99, p_hi = (float(v) for v in np.percentile(sub, [1, 0.5, 99, 99.5]))
    grey_range = p_hi - p_lo if p_hi > p_lo else float(hi) - float(lo)
    bands = None
    for level, data_end in ((hi, p_99), (lo, p_1)):
        # drawn at the level; anti-aliased edges and thin lines part way to
        # it, which are only told from data where the level lies beyond the
        # data, further than the data's own range (text at 65535 on a 12-bit
        # frame): there, pixels within NEAR_LEVEL of the way from the data's
        # 1st / 99th percentile (below any text) to the level count too
        beyond = abs(float(level) - data_end)
        reach = NEAR_LEVEL * beyond if beyond > p_99 - p_1 else 0.0
        cand = image >= float(level) - reach if level == hi else image <= float(level) + reach
        if np.count_nonzero(cand) < STROKE_MIN_AREA:
            continue                        # (the common case: no band needs looking for)
        if bands is None:
            bands = _band_lines(image, lo, p_99)
        cand[bands[0], :] = False
        cand[:, bands[1]] = False
        if np.count_nonzero(cand) < STROKE_MIN_AREA:
            continue
        cand8 = cand.view(np.uint8)
        n, lab, st, _ = components_with_stats(cand8)
        area = st[:, cv2.CC_STAT_AREA]
        some = area >= MARK_MIN_AREA
        some[0] = False
        if not (area[1:] >= STROKE_MIN_AREA).any():
            continue
        # thin: no pixel of it further than STROKE_HALF_WIDTH from its edge
        dist = cv2.distanceTransform(cand8, cv2.DIST_L2, 3)
        # (one flood fill serves the width test and the ring's outside below)
        filled = fill_holes(cand8) if FILL_NEAR_LEVEL or STEP_OUTSIDE_ONLY else None
        solid = _fill_near_level(cand8, filled, image, level, STEP_FRACTION * grey_range) if FILL_NEAR_LEVEL \
            else cand8
        # (its own half width, for the line test below, is read without them)
        wide = cv2.distanceTransform(solid, cv2.DIST_L2, 3) if solid is not cand8 else dist
        some[np.unique(lab[wide > STROKE_HALF_WIDTH])] = False
        # a step edge: the ring 2 px outside (past the anti-aliasing) is far from the level
        near = cv2.dilate(lab.astype(np.float32), np.ones((3, 3), np.uint8))
        far = cv2.dilate(lab.astype(np.float32), np.ones((5, 5), np.uint8))
        ring = (far > 0) & (near == 0)
        if STEP_OUTSIDE_ONLY:
            ring &= ~filled
        owner = far[ring].astype(np.int64)
        vals = image[ring]
        # the other extreme is no evidence of a step: a saturated speck beside
        # a black stitching band is not text (text on a black strip, all of
        # whose ring is black, is: it counts as stepped)
        other = vals != (lo if level == hi else hi)
        stepped = other & (np.abs(vals.astype(np.float64) - float(level)) >= STEP_FRACTION * grey_range)
        n_other = np.bincount(owner, other, minlength=n)
        share = np.where(n_other > 0, np.bincount(owner, stepped, minlength=n) / np.maximum(n_other, 1),
                         np.bincount(owner, minlength=n) > 0)
        some &= share >= STEP_SHARE
        ids = np.flatnonzero(some & (area >= STROKE_MIN_AREA))
        if ids.size == 0:
            continue
        keep = np.zeros(n, bool)
        keep[ids] = _text_lines(st, ids, lab)
        rest = ids[~keep[ids]]
        if rest.size:
            half = np.zeros(n, np.float32)
            np.maximum.at(half, lab[cand], dist[cand])
            for k, hw in zip(rest.tolist(), half[rest].tolist()):
                x0, y0, w, h = st[k, :4]
                keep[k] = _line_like(lab[y0:y0 + h, x0:x0 + w], k, hw)
        if not keep.any():
            continue
        # the dots, dashes and colons of a line of text are small marks beside
        # its letters, and a word cut off by a dash is beside that dash
        square = np.ones((2 * MARK_REACH + 1,) * 2, np.uint8)
        for _ in range(MARK_STEPS):
            beside = cv2.dilate(keep[lab].view(np.uint8), square) > 0
            more = some & ~keep & (np.bincount(lab[beside], minlength=n)[:n] > 0)
            if not more.any():
                break
            keep |= more
        out |= keep[lab]
    if out.any():
        out = cv2.dilate(out.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    return out


def remove_annotations(image):
    """The frame with its burned-in strokes filled in from around them.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame as read.

    Returns
    -------
    image : ndarray
        The same array when there are no strokes; otherwise a copy of the
        same dtype with :func:`annotation_mask`'s pixels inpainted (Telea,
        3 px radius).
    n_px : int
        Pixels filled in.
    """
    mask = annotation_mask(image)
    n_px = int(np.count_nonzero(mask))
    if not n_px:
        return image, 0
    return fill_in(image, mask), n_px


def fill_in(image, mask):
    """``image`` (2-D) with the pixels where ``mask`` is set inpainted from around them (Telea, 3 px), same dtype."""
    dtype = image.dtype
    if dtype in (np.uint8, np.uint16, np.float32):
        work = image
    else:
        work = image.astype(np.float32)
    filled = cv2.inpaint(np.ascontiguousarray(work), mask.view(np.uint8), 3, cv2.INPAINT_TELEA)
    return filled.astype(dtype, copy=False)


#: A colour frame is a grey radiograph with a coloured overlay (a viewer's
#: measurement, text, markers) when at most this share of its pixels carry
#: colour ...
OVERLAY_MAX_SHARE = 0.2
#: ... a pixel carrying colour when its channels spread over at least this
#: fraction of the container's range (JPEG's chroma noise on grey stays far under it).
OVERLAY_CHROMA = 0.15


def colour_overlay(rgb):
    """Pixels of a coloured overlay on a grey frame (bool), or None when there is none.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3 or 4)
        Colour samples (any channel order; alpha ignored).

    Returns
    -------
    ndarray of bool or None
        The coloured pixels and 1 px round them (chroma subsampling smears
        an overlay's edge); None when no pixel carries colour, or so many do
        that the frame itself is in colour (a false-colour export: its grey
        is its luma).
    """
    c = rgb[..., :3]
    if c.dtype.kind in "ui":
        full = float(np.iinfo(c.dtype).max)
    else:
        full = float(c.max() - c.min()) or 1.0
    spread = c.max(axis=-1).astype(np.float32) - c.min(axis=-1).astype(np.float32)
    coloured = spread >= OVERLAY_CHROMA * full
    n = int(np.count_nonzero(coloured))
    if n == 0 or n > OVERLAY_MAX_SHARE * coloured.size:
        return None
    return cv2.dilate(coloured.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)

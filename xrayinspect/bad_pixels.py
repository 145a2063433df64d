"""Defective detector pixels and lines left in an export, found and filled in.

A flat-panel detector has pixels stuck dark or bright and readout lines (a
whole column or row, or a stretch of one) that are dead, hot or at a different
gain. The machine's own software normally interpolates them from a defect map;
an export from a machine whose map is out of date, or a raw export, still
holds them. Left in, an isolated stuck pixel is a seed for a stray ball or a
void, and a dead column through a row of balls cuts each of them in two.

Neither can be a real feature of the scene: the focal spot and the
scintillator blur every structure over more than one pixel (0.6-1.5 px
sigma), so a real feature's neighbours share part of its contrast. A pixel
that stands far outside the range of its neighbours, or a one- or two-pixel
line that stands above (or below) both of its flanking lines along most of a
stretch, is the detector's, not the board's. Both are replaced by their
neighbours, as the machine's defect-map correction would.
"""

import numpy as np

#: A stuck pixel stands this many noise sigmas outside its neighbours' range.
STUCK_SIGMAS = 10.0

#: ... and at least this share of the frame's 0.5-99.5 % grey range: the noise
#: is one figure for the frame, but a detector's noise grows with the dose and
#: a gamma-encoded export stretches its shadows' noise; a JPEG rings beside a
#: black stitching band. A stuck pixel sits at the floor or the full scale, far
#: beyond this.
STUCK_MIN_SHARE = 0.15

#: A pixel at the container's very floor (0) or full scale in a frame of more
#: than 8 bits stands this many noise sigmas outside its neighbours: a 16-bit
#: detector's scene never reaches 0 (the dark offset, the log of the dose
#: goes to infinity there), and a dead pixel inside a ball's dark core, read
#: as an attenuation, is the ball's "peak".
STUCK_AT_LIMIT_SIGMAS = 4.0

#: A line defect is looked for in stretches of this many px along it.
LINE_STRETCH = 64

#: In a stretch, this share of the sampled pixels of a line stand above (or
#: below) both flanking lines by :data:`LINE_SIGMAS` noise sigmas (not all:
#: where a dead line crosses a ball's rim, its flanks differ by the rim's slope).
LINE_SHARE = 0.75

#: ... and by at least this share of each flank's level: a line's defect is
#: multiplicative (dead: 0, hot, or a readout channel at another gain), while a
#: faint two-pixel trace of the scene, sharp-flanked too in a resampled frame
#: or along a row of an independent renderer's board, dims its pixels by 3-8 %.
LINE_MIN_GAIN_CHANGE = 0.2

#: A line's flanks differ by at most this many times its step off the nearer flank.
LINE_FLANK_RATIO = 3.0

#: Each flank changes outwards by less than this many times the line's step off it.
LINE_SHARPNESS = 1.0

#: How far a defective line stands off both of its flanking lines, noise sigmas.
LINE_SIGMAS = 3.0

#: Every this-many-th pixel along a stretch is sampled for the line test.
LINE_SAMPLE_STEP = 4


def _native(image):
    """The frame in a dtype OpenCV's median filter takes (uint8, uint16, float32)."""
    a = np.asarray(image)
    if a.dtype in (np.uint8, np.uint16, np.float32):
        return a
    return a.astype(np.float32)


def _sample(image, n=1 << 17):
    """About ``n`` pixels of the frame on a regular grid, as a contiguous float32 array."""
    step = max(1, int(np.sqrt(image.size / n)))
    return np.ascontiguousarray(image[::step, ::step], dtype=np.float32)


def noise_sigma(image):
    """Pixel noise, grey levels: a robust sigma of the frame less its 3 x 3 median.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame.

    Returns
    -------
    float
        1.4826 x the median absolute residual over pixels where it is not zero
        (flat, clipped or quantised areas, where it is, say nothing of the noise),
        on a regular sample of about 131,000 pixels.
    """
    import cv2

    sub = _sample(image)
    r = np.abs(sub - cv2.medianBlur(sub, 3))
    r = r[r > 0]
    return float(1.4826 * np.median(r)) if r.size else 0.0


def _grey_limits(image):
    """The frame's 0.5 and 99.5 % grey levels (on a regular sample)."""
    lo, hi = np.percentile(_sample(image, 1 << 16), [0.5, 99.5])
    return float(lo), float(hi)


def stuck_pixel_mask(image, *, sigma=None, sigmas=STUCK_SIGMAS, min_share=STUCK_MIN_SHARE):
    """Pixels that stand far outside the range of their eight neighbours.

    A pixel is stuck when it lies more than ``max(sigmas x sigma, min_share x
    range)`` above (or below) the mid-point of each of the four pairs of
    opposite neighbours: the scene's blur makes every real structure smooth
    at one pixel, so a real pixel lies near the mid-point of at least one of
    them (the one along a line it is part of, any of them on a slope). It must
    also lie that step beyond all its neighbours but the most extreme one (a
    bent ridge of the scene lies off the four mid-points, not off its
    neighbours), and read dead or hot: at or below the frame's 0.5 % grey level,
    or at or above its 99.5 % level (a 2 px stray ball's darkest pixel stands
    off its neighbours as far). Two stuck pixels side by side are both found
    where the scene's level is over twice the step. A pixel at the container's
    floor (0) or full scale, in a frame of more than 8 bits, needs only
    :data:`STUCK_AT_LIMIT_SIGMAS` noise sigmas. A burned-in letter's
    anti-aliased stroke can pass for a hot pixel: remove annotations first.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame (any real dtype).
    sigma : float, optional
        Pixel noise, grey levels (:func:`noise_sigma` when None).
    sigmas : float
        Noise sigmas a stuck pixel stands outside its neighbours.
    min_share : float
        Least step, as a share of the frame's 0.5-99.5 % grey range.

    Returns
    -------
    ys, xs : ndarray of int
        The stuck pixels, row and column.
    fill : ndarray of float32
        The median of each one's eight neighbours, grey levels.
    """
    import cv2

    g = _native(image)
    if sigma is None:
        sigma = noise_sigma(g)
    lo, hi = _grey_limits(g)
    step = max(sigmas * sigma, min_share * (hi - lo), 1e-6)
    # 8-bit exports are windowed: their floor and full scale are clipped scene
    at_limit_step = step if g.dtype == np.uint8 else max(STUCK_AT_LIMIT_SIGMAS * sigma, 1e-6)
    h, w = g.shape
    none = np.zeros(0, np.intp)
    if h < 3 or w < 3:
        return none, none, np.zeros(0, np.float32)
    # candidates first (one median filter over the frame), the exact test on them
    # alone; the outermost pixels have too few neighbours to be judged
    cand = (cv2.absdiff(g, cv2.medianBlur(g, 3)) > min(step, at_limit_step)).view(np.uint8)
    cand[0, :] = cand[-1, :] = cand[:, 0] = cand[:, -1] = 0
    pts = cv2.findNonZero(cand)
    if pts is None:
        return none, none, np.zeros(0, np.float32)
    pts = pts.reshape(-1, 2)
    cx, cy = pts[:, 0].astype(np.intp), pts[:, 1].astype(np.intp)
    nb = np.stack([g[cy + dy, cx + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx],
                  axis=1).astype(np.float32)
    v = g[cy, cx].astype(np.float32)
    full = float(np.iinfo(g.dtype).max) if g.dtype.kind == "u" else np.inf
    step = np.where((v <= 0) | (v >= full), at_limit_step, step).astype(np.float32)
    # the four lines through the pixel (opposite neighbours: NW-SE, N-S, NE-SW,
    # W-E): on any smooth surface - a ball's rim, a ramp - the pixel lies near
    # their mid-points; a stuck one stands off all four to the same side, a
    # real one-pixel line (a gamma-stretched shadow's valley) lies on one of them
    off = (v[:, None] - 0.5 * (nb[:, :4] + nb[:, ::-1][:, :4])) / step[:, None]
    nb.sort(axis=1)
    # it also stands outside the range of its neighbours but the most extreme
    # one (so two stuck side by side are both found; a bent one-pixel ridge of
    # the scene stands off all four mid-points but not off its neighbours), and
    # reads dead or hot: at or beyond the levels of all but 0.5 % of the frame
    # (a small stray ball's darkest pixel stands off its neighbours too)
    stuck = ((off > 1).all(axis=1) & (v > nb[:, -2] + step) & (v >= hi)) | \
        ((off < -1).all(axis=1) & (v < nb[:, 1] - step) & (v <= lo))
    return cy[stuck], cx[stuck], 0.5 * (nb[stuck, 3] + nb[stuck, 4])


def _column_lines(g, step):
    """Defective column stretches of ``g``: a list of ``(y0, y1, x0, width)``.

    Candidates come from the stretches' column means (a line shows there as a
    one- or two-pixel spike; everything not along the columns averages out),
    the exact test runs on every :data:`LINE_SAMPLE_STEP`-th pixel of a
    candidate's stretch.
    """
    h, w = g.shape
    stretch = min(LINE_STRETCH, h)
    n_st = h // stretch
    if w < 8 or stretch < LINE_STRETCH // 2:
        return []
    means = g[:n_st * stretch].reshape(n_st, stretch, w).mean(axis=1, dtype=np.float32)
    per = max(1, stretch // LINE_SAMPLE_STEP)
    found = []
    for width in (1, 2):
        # x: the line's first column; tested where two flank columns lie on either side
        x = np.arange(2, w - width - 2)
        dl = means[:, x] - means[:, x - 1]
        dr = means[:, x + width - 1] - means[:, x + width]
        cand = ((dl > LINE_SHARE * step / 2) & (dr > LINE_SHARE * step / 2)) | \
            ((dl < -LINE_SHARE * step / 2) & (dr < -LINE_SHARE * step / 2))
        ks, js = np.nonzero(cand)
        if ks.size == 0:
            continue
        x0 = x[js]
        rows = ks[:, None] * stretch + LINE_SAMPLE_STEP * np.arange(per)[None, :]
        cols = x0[:, None] + np.arange(-2, width + 2)[None, :]
        s = g[rows[:, :, None], cols[:, None, :]].astype(np.float32)    # (n, per, width + 4)
        left2, left, first = s[:, :, 0], s[:, :, 1], s[:, :, 2]
        last, right, right2 = s[:, :, width + 1], s[:, :, width + 2], s[:, :, width + 3]
        dl, dr = first - left, last - right
        # the line stands off its nearer flank by a third of the flanks' difference
        # or more: a resampled step edge rings in a line beside it (an overshoot of
        # 5-15 % of the step), and that line's flanks differ by the whole step
        even = np.abs(left - right) < LINE_FLANK_RATIO * np.minimum(np.abs(dl), np.abs(dr))
        # and a sharp one: its flanks are not the slopes of a wider valley or ridge
        # (a blurred trace's or stitching band's floor, a dome's crest), which
        # change outwards by as much as the line's pixels differ from them
        sharp = (np.abs(left - left2) < LINE_SHARPNESS * np.abs(dl)) & \
            (np.abs(right - right2) < LINE_SHARPNESS * np.abs(dr))
        far = (np.abs(dl) > LINE_MIN_GAIN_CHANGE * np.abs(left)) & \
            (np.abs(dr) > LINE_MIN_GAIN_CHANGE * np.abs(right)) & even & sharp
        above = ((dl > step) & (dr > step) & far).mean(axis=1)
        below = ((dl < -step) & (dr < -step) & far).mean(axis=1)
        for k, x_, ok in zip(ks, x0, (above >= LINE_SHARE) | (below >= LINE_SHARE)):
            if ok:
                y1 = h if k == n_st - 1 else (k + 1) * stretch
                found.append((int(k * stretch), int(y1), int(x_), width))
    # a one-pixel line is also half of two two-pixel candidates, which fail
    # (their other pixel is good); a two-pixel line found whole is kept whole.
    # A readout line runs on where the scene hides it (along a ball's rim the
    # flanks differ by the rim's slope): the gaps between a line's stretches
    # are filled when it shows in at least half of the stretches from its first to its last
    by_line = {}
    for y0, y1, x_, wd in found:
        by_line.setdefault((x_, wd), []).append(y0 // stretch)
    out = []
    for (x_, wd), ks in by_line.items():
        k0, k1 = min(ks), max(ks)
        if len(ks) >= 2 and 2 * len(ks) >= k1 - k0 + 1:
            ks = range(k0, k1 + 1)
        for k in ks:
            out.append((int(k * stretch), int(h if k == n_st - 1 else (k + 1) * stretch), x_, wd))
    return out


def line_defects(image, *, sigma=None):
    """Stretches of one- or two-pixel columns and rows that stand off both flanking lines.

    A line is defective in a stretch of :data:`LINE_STRETCH` px when, in
    :data:`LINE_SHARE` of its sampled pixels, it stands :data:`LINE_SIGMAS`
    noise sigmas and :data:`LINE_MIN_GAIN_CHANGE` of their level above (or
    below) both flanks, those flanks differ by at most
    :data:`LINE_FLANK_RATIO` times that step and neither changes outwards by
    :data:`LINE_SHARPNESS` of it.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame.
    sigma : float, optional
        Pixel noise, grey levels (:func:`noise_sigma` when None).

    Returns
    -------
    columns, rows : list of tuple
        ``(start, stop, first_line, width)``: the stretch along the line (px),
        the first defective column (or row) and the line's width (1 or 2 px).
    """
    g = _native(image)
    if sigma is None:
        sigma = noise_sigma(g)
    step = max(LINE_SIGMAS * sigma, 1e-6)
    return _column_lines(g, step), _column_lines(g.T, step)


def _fill_lines(out, lines):
    """Fill the ``lines`` of ``out`` (columns; pass ``out.T`` for rows) across from their flanks, in place."""
    w = out.shape[1]
    info = np.iinfo(out.dtype) if out.dtype.kind in "ui" else None
    for y0, y1, x0, width in lines:
        vl = out[y0:y1, x0 - 1].astype(np.float32)
        vr = out[y0:y1, x0 + width].astype(np.float32) if x0 + width < w else vl
        for i in range(width):
            v = vl + (i + 1) / (width + 1) * (vr - vl)
            out[y0:y1, x0 + i] = v if info is None else np.clip(np.rint(v), info.min, info.max)


def repair_bad_pixels(image, *, lines=True, stuck=True, max_share=0.02):
    """The frame with stuck pixels and defective lines filled in from their neighbours.

    Lines first (across from their flanking lines; rows after columns, so a
    pixel where a dead row crosses a dead column takes its value from above and
    below), then stuck pixels (the median of their eight neighbours, twice, so
    the middle of three stuck pixels in a row is found once its neighbours are
    filled).

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame (uint8, uint16 or float32).
    lines, stuck : bool
        Repair defective lines, stuck pixels. (The scorer repairs lines
        before it removes burned-in annotations - a hot column is not a
        cross-hair to inpaint - and stuck pixels after, since a letter's
        anti-aliased stroke can pass for a hot pixel.)
    max_share : float
        Above this share of the frame's pixels, the "defects" are taken for the
        scene (a frame of fine texture, text) and nothing is changed.

    Returns
    -------
    repaired : ndarray
        Same shape and dtype; ``image`` itself when nothing was found.
    n_px : int
        Pixels filled in.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> g = (1000 + 20 * rng.standard_normal((64, 64))).astype(np.uint16)
    >>> g[10, 20] = 65535; g[:, 40] = 0
    >>> fixed, n = repair_bad_pixels(g)
    >>> n, int(fixed[10, 20]) < 1100, 900 < int(fixed[30, 40]) < 1100
    (65, True, True)
    """
    img = np.asarray(image)
    if img.ndim != 2 or img.size == 0 or img.dtype.kind not in "uif":
        return img, 0
    g = _native(img)
    sigma = noise_sigma(g)
    cols, rows = line_defects(g, sigma=sigma) if lines else ([], [])
    out = g
    n_px = 0
    if cols or rows:
        out = g.copy()
        _fill_lines(out, cols)
        _fill_lines(out.T, rows)
        n_px += sum((y1 - y0) * wd for y0, y1, _, wd in cols + rows)
    for _ in range(2 if stuck else 0):
        ys, xs, fill = stuck_pixel_mask(out, sigma=sigma)
        if ys.size == 0:
            break
        if out is g:
            out = g.copy()
        if out.dtype.kind in "ui":
            info = np.iinfo(out.dtype)
            fill = np.clip(np.rint(fill), info.min, info.max)
        out[ys, xs] = fill
        n_px += int(ys.size)
    if n_px == 0 or n_px > max_share * img.size:
        return img, 0
    return (out if out.dtype == img.dtype else out.astype(img.dtype)), n_px

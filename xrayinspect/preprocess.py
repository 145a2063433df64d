"""From stored pixels to an attenuation map: polarity, valid area, local background.

Scoring works on ``att = log(I_background) - log(I)``, the line integral of
attenuation above the local background (package, board, traces). In that
space a ball's profile is ``A0 * sqrt(1 - rho^2)`` whatever its material or
the dose, which makes thresholds relative to a joint's own peak mean the same
edge position on every machine.
"""

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from .measure import components_with_stats


@dataclass
class Prepared:
    """A frame ready for segmentation.

    Attributes
    ----------
    att : ndarray of float32
        Attenuation above the local background (dimensionless, >= 0).
    att_smooth : ndarray of float32
        ``att`` after a small Gaussian (sigma 1 px), used for masks.
    valid : ndarray of bool
        False on stitching borders (black bands of tiled exports).
    polarity : str
        ``"dark"`` (solder darker, as transmitted) or ``"bright"``.
    blob_diameter_px : float
        Typical diameter of the compact solder features found, px (0 if none).
    """

    att: np.ndarray
    att_smooth: np.ndarray
    valid: np.ndarray
    polarity: str
    blob_diameter_px: float


#: A no-signal area (the black outside an image intensifier's round field of
#: view, a collimator's shadow, a viewer's letterbox) is a near-black region
#: touching the frame's edge that covers at least this share of the frame ...
DEAD_AREA_SHARE = 0.01
#: ... and is no narrower than this, px (the half width of its widest part:
#: a trace or a clipped ball run out to the edge is narrower, or smaller).
DEAD_AREA_HALF_WIDTH = 8
#: ... and holds (nearly) nothing: holes in it cover at most this share of it.
DEAD_AREA_HOLES = 0.01


#: Full scales tried when a float frame may be an integer frame divided by
#: its full scale (``2**b - 1`` or ``2**b``), or not divided at all.
_FLOAT_DENOMINATORS = (1.0,) + tuple(float(2 ** b - 1) for b in range(8, 17)) \
    + tuple(float(2 ** b) for b in range(8, 17))
#: Largest distance of ``v x denominator`` from an integer for the frame to
#: count as integers (float32 rounding of ``k / 65535`` stays below 0.005).
_INTEGER_TOLERANCE = 0.02


def grey_levels(image):
    """A floating-point frame as the integer grey levels scoring is written for.

    Every floor and noise rule counts in grey levels of an 8- or 16-bit
    detector (below half a level is "no light"), so a float frame holding
    ``0 .. 1`` would lie wholly under the floor. A float frame that is an
    integer frame divided by a full scale (``2**b - 1`` or ``2**b``, b = 8..16,
    or 1: an export read as ``img / 255``) gets its integers back and scores as
    that export does; one of at most 256 evenly spaced values is an 8-bit
    export (windowed for display) under some ``a k + b`` and becomes 8-bit
    again (its darkest value 0 unless ``b`` is 0). Any other float frame is
    shifted to start at 0 when it holds negative values, then scaled so its
    largest value is 65535 (a pure scale keeps every ratio of intensity, so
    the attenuation map is unchanged; a shift loses the frame's zero, as a
    windowed export does).

    Parameters
    ----------
    image : ndarray, 2-D
        Frame as read: uint8, uint16 or float (finite).

    Returns
    -------
    levels : ndarray of uint8 or uint16
        ``image`` itself when it already is uint8 or uint16.
    zero_lost : bool
        True when the frame was shifted: like a windowed export's, its black
        level must be found again (:mod:`xrayinspect.linearise`).
    """
    if image.dtype == np.uint8 or image.dtype == np.uint16:
        return image, False
    # float32 holds k / 65535 to 0.004 of a level: enough, at half float64's memory
    f = np.asarray(image, dtype=np.float32)
    lo, hi = float(f.min()), float(f.max())
    if lo >= 0:
        probe = f.ravel()[::7].astype(np.float64)
        for d in _FLOAT_DENOMINATORS:
            if hi * d > 65535.5 or np.rint(hi * d) <= np.rint(lo * d):
                # past 16 bits, or every value rounds to one level (a frame of 1e-30s)
                continue
            if np.abs(probe * d - np.rint(probe * d)).max() > _INTEGER_TOLERANCE:
                continue
            k = f * np.float32(d)
            if np.abs(k - np.rint(k)).max() <= _INTEGER_TOLERANCE:
                return np.rint(k).astype(np.uint8 if d <= 255 and hi * d <= 255.5 else np.uint16), False
    eight = _eight_bit_levels(f, lo, hi)
    if eight is not None:
        return eight, False
    shifted = lo < 0
    if shifted:
        f = f - np.float32(lo)
        hi -= lo
    return (np.rint(f * np.float32(65535.0 / hi)).astype(np.uint16) if hi > 0 else np.zeros(f.shape, np.uint16)), shifted


def _eight_bit_levels(f, lo, hi):
    """Stored 8-bit levels of a float frame holding at most 256 evenly spaced
    values (an 8-bit export under any ``a k + b``), or None; so that the
    windowed-export rules still see it as 8-bit."""
    levels = np.unique(f.ravel()[::7]).astype(np.float64)
    if levels.size > 256 or levels.size < 2:
        return None
    step = float(np.diff(levels).min())
    if step <= 0 or (hi - lo) / step > 255.5:
        return None
    k = (f - lo) / step
    if np.abs(k - np.rint(k)).max() > _INTEGER_TOLERANCE:
        return None
    # a pure scale (b = 0) keeps its black level; otherwise the darkest level is 0
    base = lo / step
    k0 = round(base) if abs(base - round(base)) <= _INTEGER_TOLERANCE and round(base) + (hi - lo) / step <= 255.5 else 0
    return (np.rint(k) + k0).astype(np.uint8)


def invalid_bands(image):
    """Where a frame holds no image: stitching bands and no-signal areas.

    A band is a run of rows (or columns) whose pixels are almost all exactly
    zero; real frames never hold a full line of zero counts. A no-signal area
    is a large near-black region reaching the frame's edge
    (:data:`DEAD_AREA_SHARE`, :data:`DEAD_AREA_HALF_WIDTH`): the corners
    outside a round field of view, a collimator's shadow, a letterbox.

    Parameters
    ----------
    image : ndarray, 2-D

    Returns
    -------
    valid : ndarray of bool
        False on the bands and one pixel beside them, and on the no-signal
        areas and two pixels inside their edge (its blur).
    """
    if image.size and image.min() > 0.02 * image.max():
        # no pixel near zero (the threshold below is at most 2 % of the top,
        # and a no-signal area is at the frame's minimum, zero or near it)
        valid = np.ones(image.shape, bool)
        _white_bands(image, valid)
        return valid
    # JPEG ringing lifts a black band a few grey levels: "black" is near zero
    top = float(np.percentile(image[::4, ::4], 99.9)) if image.size else 0.0
    zero = image <= max(0.02 * top, 0)
    rows = np.count_nonzero(zero, axis=1) / max(image.shape[1], 1) > 0.9
    cols = np.count_nonzero(zero, axis=0) / max(image.shape[0], 1) > 0.9
    valid = np.ones(image.shape, bool)
    if rows.any() or cols.any():
        rows = np.convolve(rows, [1, 1, 1], "same") > 0
        cols = np.convolve(cols, [1, 1, 1], "same") > 0
        valid[rows, :] = False
        valid[:, cols] = False
    _white_bands(image, valid)
    dead = _dead_area(image, valid)
    if dead is not None:
        valid &= ~dead
    return valid


#: An inverted export (solder bright) shows a tiled composite's stitching
#: bands at full scale: runs of rows (or columns) nearly all at the frame's
#: top level, at most this many px wide (None: black bands only) ...
WHITE_BAND_MAX_WIDTH = 32
#: ... and at least this many (a single line at full scale is a detector's hot
#: line that the line repair left, not a gap between tiles: marked as a band,
#: the balls it crossed were cut there, 45 of 15,400 on the robustness frames
#: of `badlines`) ...
WHITE_BAND_MIN_WIDTH = 3
#: ... inside the frame, with the lines beside the run holding under this
#: share of such pixels (a saturated stretch of air is wide, and reaches the
#: frame's edge).
WHITE_BAND_BESIDE = 0.5


def _white_bands(image, valid):
    """Mark a composite's stitching bands stored at full scale invalid (in place).

    A band holds no image, whatever grey the export gave it: an inverted
    display turns its zero counts to the top level. No solder line runs the
    whole width of a frame, and air saturating the detector is a wide area
    at the frame's edge, not a narrow line inside it.
    """
    if WHITE_BAND_MAX_WIDTH is None or image.size == 0:
        return
    # every 8th column holds every row's pixels and every 8th row every
    # column's: a band's share is read off those (a frame-wide pass cost
    # about 4 ms of a 2048 px frame, several times per frame)
    by_row, by_col = image[:, ::8], image[::8, :]
    top = float(max(by_row.max(), by_col.max()))
    lo = float(image[::4, ::4].min())
    if top <= lo:
        return
    level = top - 0.02 * (top - lo)
    for axis, sub in ((1, by_row), (0, by_col)):
        share = np.count_nonzero(sub >= level, axis=axis) / max(sub.shape[axis], 1)
        line = share > 0.9
        if not line.any():
            continue
        n = line.size
        edges = np.flatnonzero(np.diff(np.concatenate(([0], line.view(np.int8), [0]))))
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist()):
            if a == 0 or b == n or not WHITE_BAND_MIN_WIDTH <= b - a <= WHITE_BAND_MAX_WIDTH:
                continue
            beside = np.concatenate((share[max(a - 3, 0):a], share[b:b + 3]))
            if beside.size and beside.max() >= WHITE_BAND_BESIDE:
                continue
            lo_i, hi_i = max(a - 1, 0), min(b + 1, n)
            if axis == 1:
                valid[lo_i:hi_i, :] = False
            else:
                valid[:, lo_i:hi_i] = False


def _dead_area(image, valid):
    """The no-signal areas of a frame (bool, grown 2 px), or None.

    Pixels exactly at the frame's minimum, connected, reaching the frame's
    edge, covering :data:`DEAD_AREA_SHARE` of it, :data:`DEAD_AREA_HALF_WIDTH`
    wide, and solid: nothing inside them (holes under
    :data:`DEAD_AREA_HOLES` of their area). A background that a display
    window took to black is as dark, but the traces, vias and noise that
    stand above the window's floor leave holes in it.
    """
    lo = image.min()
    zero = (image == lo) & valid
    if not (zero[0].any() or zero[-1].any() or zero[:, 0].any() or zero[:, -1].any()):
        return None
    z8 = zero.view(np.uint8)
    n, lab, st, _ = components_with_stats(z8)
    if n <= 1:
        return None
    cand = st[:, cv2.CC_STAT_AREA] >= DEAD_AREA_SHARE * zero.size
    cand[0] = False
    edge = np.zeros(n, bool)
    for line in (lab[0], lab[-1], lab[:, 0], lab[:, -1]):
        edge[line] = True
    cand &= edge
    if not cand.any():
        return None
    dist = cv2.distanceTransform(z8, cv2.DIST_L2, 3)
    wide = np.zeros(n, bool)
    wide[np.unique(lab[dist >= DEAD_AREA_HALF_WIDTH])] = True
    cand &= wide
    for k in np.flatnonzero(cand).tolist():
        x0, y0, w, h, a = st[k]
        own = (lab[y0:y0 + h, x0:x0 + w] == k).astype(np.uint8)
        cnts, hier = cv2.findContours(own, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        holes = sum(cv2.contourArea(c) for c, hh in zip(cnts, hier[0]) if hh[3] >= 0)
        cand[k] = holes <= DEAD_AREA_HOLES * a
    if not cand.any():
        return None
    dead = cand[lab].view(np.uint8)
    return cv2.dilate(dead, np.ones((5, 5), np.uint8)).view(bool)


def _full_scale(image, bits_used=None):
    if image.dtype == np.uint8:
        return 255.0
    if bits_used:
        return float(2 ** int(bits_used) - 1)
    top = float(image.max()) if image.size else 1.0
    for b in (8, 10, 12, 14, 16):
        if top <= 2 ** b - 1:
            return float(2 ** b - 1)
    return top


def _coarse(image, target=512):
    """Area-averaged copy no larger than ``target`` px a side, and its factor."""
    h, w = image.shape
    k = max(1, int(np.ceil(max(h, w) / target)))
    small = cv2.resize(image.astype(np.float32, copy=False), (max(w // k, 1), max(h // k, 1)), interpolation=cv2.INTER_AREA)
    return small, k


def _blob_stats(mask, min_area=4):
    """Count of like-sized compact blobs in a mask and their typical area.

    The count is of blobs near the median area; the typical area is the
    area-weighted median (half the blob pixels lie in blobs this size or
    smaller), so a crowd of small rings cannot stand for a few large balls.
    """
    return _like_sized(components_with_stats(mask.astype(np.uint8))[2], min_area)


def _like_sized(stats, min_area=4):
    """:func:`_blob_stats` from ``connectedComponentsWithStats`` stats (row 0 the background)."""
    area = stats[1:, cv2.CC_STAT_AREA].astype(float)
    bw, bh = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]
    fill = area / np.maximum(bw * bh, 1)
    ok = (area >= min_area) & (fill > 0.5) & (np.maximum(bw, bh) < 3 * np.minimum(bw, bh) + 2)
    if ok.sum() < 3:
        return 0, 0.0
    med = np.median(area[ok])
    similar = ok & (area > 0.5 * med) & (area < 2.0 * med)
    a = np.sort(area[ok])
    c = np.cumsum(a)
    return int(similar.sum()), float(a[np.searchsorted(c, 0.5 * c[-1])])


#: Pixels of a frame's noise statistics beyond which they are taken on row bands.
#: 0.5 Mpx: the polarity of 230 development frames (120 BGA and 80 QFN at 1024 px,
#: 30 QFN at 2048 px, every export) came out the same as from 1.5 Mpx; the
#: noise cue alone moved between decided and undecided on 6 frames near its
#: ratio, where the blob vote decided alike.
NOISE_PIXELS = 1 << 19


def _noise_maps(image, valid, max_pixels=NOISE_PIXELS, band=32):
    """3x3 mean, absolute residual and Sobel gradient of the frame (flattened), with ``valid``.

    Frames larger than ``max_pixels`` are sampled on evenly spaced bands of
    ``band`` full-resolution rows (every value is the one the full frame would
    give: each band carries two rows of context either side); quantiles of
    ~1 Mpx are as good as of 4 Mpx for a polarity vote.
    """
    h, w = image.shape
    every = max(1, int(np.ceil(h * w / max_pixels)))
    if every == 1:
        spans = [(0, h)]
    else:
        spans = [(y, min(y + band, h)) for y in range(0, h, band * every)]
    sm, rs, gr, vb = [], [], [], []
    for y0, y1 in spans:
        a, b = max(y0 - 2, 0), min(y1 + 2, h)
        f = image[a:b].astype(np.float32)
        smooth = cv2.blur(f, (3, 3))
        resid = cv2.absdiff(f, smooth)
        grad = cv2.add(cv2.absdiff(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), 0), cv2.absdiff(cv2.Sobel(smooth, cv2.CV_32F, 0, 1), 0))
        k = slice(y0 - a, y0 - a + (y1 - y0))
        sm.append(smooth[k])
        rs.append(resid[k])
        gr.append(grad[k])
        if valid is not None:
            vb.append(valid[y0:y1])
    cat = (lambda x: x[0]) if len(spans) == 1 else np.concatenate
    return cat(sm), cat(rs), cat(gr), (cat(vb) if valid is not None else None)


#: Noise in the brightest tenth over the darkest tenth (or the reverse) that
#: settles polarity on its own (checked on 36 BGA and 16 QFN development frames).
NOISE_RATIO = 1.3
#: The blob vote overrides the noise cue when the other polarity shows at
#: least this many like-sized blobs at both small top-hat sizes ...
BLOB_OVERRIDE_COUNT = 100
#: ... and this many times as many as the noise cue's polarity (correct noise
#: calls on 64 development frames had ratios up to 15; the reversed JPEG call 47).
BLOB_OVERRIDE_RATIO = 20


#: The bulk of a radiograph is board and package body, which let more through
#: than solder: the median grey level sits this close (a share of the 1-99 %
#: range) to the bright end when solder is dark, and as close to the dark end
#: when it is bright. 224 development frames (8- and 16-bit, JPEG, tiled, BGA
#: and QFN) measured 0.32 or less on their true side, median 0.14.
HISTOGRAM_SKEW = 0.5


def histogram_polarity(image, valid=None, *, skew=HISTOGRAM_SKEW):
    """Polarity from where the bulk of the frame lies between its extremes.

    Solder is the most attenuating material in a board X-ray and covers a
    minority of the frame; the median pixel is board. ``(p99 - p50) /
    (p50 - p1)`` is small when the bulk is bright (solder dark) and large
    when it is dark (solder bright).

    Returns
    -------
    {"dark", "bright"} or None
        None when the ratio is between ``skew`` and ``1 / skew`` (a frame
        filled by solder or by a dense part, or a flat one).
    """
    x = image[valid] if valid is not None and not valid.all() else image.ravel()
    if x.size < 100:
        return None
    step = max(1, x.size // 250_000)
    p1, p50, p99 = np.percentile(x[::step].astype(np.float32), [1, 50, 99])
    lo, hi = float(p50 - p1), float(p99 - p50)
    if hi < skew * lo:
        return "dark"
    if lo < skew * hi:
        return "bright"
    return None


def noise_polarity(image, valid=None, *, ratio=1.3):
    """Polarity from quantum noise: in a radiograph noise grows with the photons counted.

    Poisson noise makes bright (much transmitted) regions of a raw frame
    noisier than dark ones; an inverted display reverses that. The median
    absolute high-pass residual of the brightest and darkest tenths of the
    frame are compared.

    Returns
    -------
    {"dark", "bright"} or None
        None when the two differ by less than ``ratio`` (a smoothed or
        reconstructed export, e.g. a CT slice).
    """
    smooth, resid, grad, vband = _noise_maps(image, valid)
    from .joints import _percentile      # np.percentile, bit-identical, partitions far less

    ok = grad < _percentile(grad.ravel(), 50)
    if vband is not None:
        ok &= vband
    sv, rv = smooth[ok], resid[ok]
    if sv.size < 1000:
        return None
    step = max(1, sv.size // 400_000)
    sv, rv = sv[::step], rv[::step]
    lo, hi = np.percentile(sv, [10, 90])
    if hi <= lo:
        return None
    n_lo, n_hi = np.median(rv[sv <= lo]), np.median(rv[sv >= hi])
    if n_hi > ratio * max(n_lo, 1e-6):
        return "dark"
    if n_lo > ratio * max(n_hi, 1e-6):
        return "bright"
    return None


@functools.lru_cache(maxsize=64)
def _ellipse_half_widths(size):
    """Half-width of each row of OpenCV's ``size`` x ``size`` ellipse kernel, or None if not symmetric runs."""
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    r = size // 2
    out = []
    for row in ker:
        nz = np.flatnonzero(row)
        if nz.size == 0 or nz[0] != r - (nz[-1] - r) or nz.size != nz[-1] - nz[0] + 1:
            return None
        out.append(int(nz[-1] - r))
    return tuple(out)


def _morph_ellipse(src, size, erode):
    """``cv2.erode``/``cv2.dilate`` of a float32 image by the ``size`` ellipse, bit-identical,
    in O(size) passes instead of O(size^2) per pixel.

    The ellipse is a stack of centred row runs: the min (max) over a run of
    half-width ``a`` comes from a sparse table of power-of-two windows (two
    lookups per width), and the rows are then combined by shifting.
    Pixels outside the image are ignored, as OpenCV's default border does.
    """
    half = _ellipse_half_widths(size)
    if half is None or src.dtype != np.float32 or src.ndim != 2:
        ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        return cv2.erode(src, ker) if erode else cv2.dilate(src, ker)
    op = np.minimum if erode else np.maximum
    r = size // 2
    amax = max(half)
    h, w = src.shape
    pad = np.full((h, w + 2 * amax), np.inf if erode else -np.inf, np.float32)
    pad[:, amax:amax + w] = src
    tables = [pad]                      # tables[j][:, x] = op over pad[:, x:x + 2**j]
    for j in range(int(np.log2(2 * amax + 1))):
        t = tables[-1].copy()
        op(t[:, :-(1 << j)], tables[-1][:, 1 << j:], out=t[:, :-(1 << j)])
        tables.append(t)
    rows = {}
    for a in set(half):
        n = 2 * a + 1
        j = int(np.log2(n))
        t = tables[j]
        x0 = amax - a
        rows[a] = op(t[:, x0:x0 + w], t[:, x0 + n - (1 << j):x0 + n - (1 << j) + w])
    out = rows[half[r]].copy()
    for dy in range(1, r + 1):
        top, bot = rows[half[r - dy]], rows[half[r + dy]]
        op(out[:-dy], bot[dy:], out=out[:-dy])
        op(out[dy:], top[:-dy], out=out[dy:])
    return out


#: Kernel size from which the decomposed ellipse morphology beats OpenCV's.
_DECOMPOSE_FROM = 31


def open_ellipse(src, size):
    """``cv2.morphologyEx(src, MORPH_OPEN, ellipse(size))``, bit-identical, fast for large kernels."""
    if size < _DECOMPOSE_FROM or src.dtype != np.float32:
        return cv2.morphologyEx(src, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    return _morph_ellipse(_morph_ellipse(src, size, True), size, False)


def detect_polarity(image, valid=None, *, _f32=None):
    """Decide whether solder is dark or bright in a frame.

    See :func:`_detect_polarity`; returns ``(polarity, diameter_px)``.
    """
    pol, diameter = _detect_polarity(image, valid, _f32=_f32)
    return pol, diameter()


def _detect_polarity(image, valid=None, *, _f32=None):
    """Decide whether solder is dark or bright in a frame; the joint size on demand.

    Solder joints are the many like-sized compact features of a board
    X-ray. Both candidate polarities are tried on a coarse copy with a local
    top-hat; the one that yields more like-sized compact blobs wins.

    Parameters
    ----------
    image : ndarray, 2-D
    valid : ndarray of bool, optional

    Returns
    -------
    polarity : {"dark", "bright"}
    diameter : callable
        ``diameter()``: equivalent diameter of the typical blob at full
        resolution, px. It needs the largest (dearest) top-hat, which the
        polarity vote often does without, so it is computed only when asked
        for (a QFN frame never needs it).
    """
    image_f = image if _f32 is None else _f32
    cues = [None]
    winner, diameter, blobs, k = _vote(image, image_f, valid, 512, cues)
    if FINE_VOTE_BELOW and k > 1 and blobs(winner, 15)[0] < FINE_VOTE_BELOW:
        # balls of a few coarse px (small balls in a wide field) blur into
        # the package body or vanish at the coarse scale, and the gaps
        # between them can outvote them: the vote is taken again on a copy
        # twice as fine and kept where it is decisive. Its smallest top-hat
        # is counted first: unless one polarity is decisive there already
        # (large balls leave it empty, or to their gaps and the noise), the
        # dearer sizes are not looked at
        fine, kf = _blob_counter(image_f, valid, 2 * max(image.shape) // k)
        first = {pol: fine(pol, 15)[0] for pol in ("dark", "bright")}
        lead = "dark" if first["dark"] >= first["bright"] else "bright"
        trail = "bright" if lead == "dark" else "dark"
        if first[lead] >= FINE_VOTE_BELOW and first[trail] < 0.2 * first[lead]:
            fw, fine_diameter, _, _ = _vote(image, image_f, valid, None, cues, counter=(fine, kf))
            other = "bright" if fw == "dark" else "dark"
            least = min(fine(fw, z)[0] for z in (15, 41))
            if least >= FINE_VOTE_BELOW and max(fine(other, z)[0] for z in (15, 41)) < 0.2 * least:
                return fw, fine_diameter
    return winner, diameter


#: The polarity vote is taken again on a copy twice as fine when the coarse
#: vote's winner holds fewer like-sized blobs than this at its smallest
#: top-hat; the polarity holding at least this many there at the two smaller
#: top-hats, and the other under a fifth of them, wins (0: never). The
#: independent renderer's 8-14 px balls in a 2048 px field (scripts/altsim.py
#: --size 2048 --ball-px 8,14, seeds 9,994,000+): at the coarse copy's 4 px
#: per pixel 10 px balls are 2.5 px, blurred into their package body; 5 of
#: 16 frames were error rows (bright balls read dark, the gaps between them
#: taken for 104-344 px "joints", or none found). Frames whose balls leave
#: the coarse smallest top-hat empty (large balls) pay for two top-hats of
#: the finer copy (40-100 ms at 1024-2048 px).
FINE_VOTE_BELOW = 12


#: Top-hat sizes of the polarity vote, px of its copy. Solder joints stay the
#: same blobs whatever the top-hat size; the gaps between balls (what the
#: wrong polarity finds) vanish at larger sizes, so each polarity is scored
#: by its median count over the three sizes.
_TOPHAT_SIZES = (15, 41, 101)


def _blob_counter(image_f, valid, target):
    """``(blobs, k)``: ``blobs(pol, size)``, the (count, typical area) of like-sized compact
    blobs of a polarity at a top-hat size on a copy at most ``target`` px a side (computed on
    first call, kept in ``blobs.found``), and ``k``, the copy's px per pixel."""
    small, k = _coarse(image_f, target=target)
    if valid is not None:
        vs = cv2.resize(valid.astype(np.uint8), small.shape[::-1], interpolation=cv2.INTER_NEAREST).astype(bool)
        if not vs.all():
            small = np.where(vs, small, np.median(small[vs]) if vs.any() else 0)
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    found = {}

    def blobs(pol, size):
        if (pol, size) not in found:
            s = -small if pol == "dark" else small
            th = s - open_ellipse(s, size)
            v = th[th > 0]
            found[pol, size] = (0, 0.0) if v.size < 16 else _blob_stats(th > _otsu(v))
        return found[pol, size]

    blobs.found = found
    return blobs, k


def _scored(blobs, pol):
    """A polarity's vote: the median of its counts over the three top-hat sizes, and the
    typical area (copy px) of the blobs at the size that holds the most."""
    counts = [blobs(pol, z)[0] for z in _TOPHAT_SIZES]
    meds = [blobs(pol, z)[1] for z in _TOPHAT_SIZES]
    order = np.argsort(counts)
    return counts[order[1]], meds[order[2]] if counts[order[2]] else meds[order[1]]


def _typical_diameter(blobs, pol, k):
    """Equivalent diameter of a polarity's typical blob at full resolution, px (0: none)."""
    _, med = _scored(blobs, pol)
    # balls larger than the two smaller top-hats are found by the largest
    # alone: the median count is then 0 but the size is known
    return float(2 * np.sqrt(med / np.pi) * k) if med > 0 else 0.0


def _vote(image, image_f, valid, target, cues, counter=None):
    """The polarity vote of :func:`_detect_polarity` on a copy at most ``target`` px a side.

    ``cues`` is a one-element list holding the noise and grey-level cues'
    verdict once worked out (shared between the coarse and the fine vote).
    ``counter``, a :func:`_blob_counter` result, is voted on instead of a new copy.
    Returns ``(polarity, diameter, blobs, k)``: ``blobs(pol, size)`` the
    (count, typical area) of like-sized blobs at a top-hat size, ``k`` the
    copy's px per pixel.
    """
    blobs, k = counter if counter is not None else _blob_counter(image_f, valid, target)
    sizes = _TOPHAT_SIZES
    found = blobs.found

    # strong, physical evidence wins: then only its polarity needs scoring
    if cues[0] is None:
        cues[0] = (noise_polarity(image, valid, ratio=NOISE_RATIO), histogram_polarity(image, valid))
    by_noise, by_bulk = cues[0]
    if by_noise is None:
        # no noise cue (8-bit windowed, JPEG-smoothed or reconstructed): the
        # grey-level bulk is the next physical cue, open to the same override
        by_noise = by_bulk
    elif by_bulk is not None and by_bulk != by_noise:
        # the two physical cues disagree (JPEG and display floors can reverse
        # the noise cue): the blobs decide
        by_noise = None
    if by_noise is None:
        for pol in ("dark", "bright"):
            for size in sizes[:2]:
                blobs(pol, size)
    else:
        # JPEG compression and near-black display floors flatten noise where
        # the signal is low, which can reverse the noise cue; a whole array of
        # like-sized blobs in the other polarity and almost none in this one
        # outweighs it. The other polarity's counts are taken smallest top-hat
        # first: one count under the bar settles it without the dearer one;
        # and the bar only rises with this polarity's second count, so an
        # other count under the bar of its first settles it without either.
        other = "bright" if by_noise == "dark" else "dark"

        def bar(zs):
            return max(BLOB_OVERRIDE_COUNT, BLOB_OVERRIDE_RATIO * max(max(blobs(by_noise, z)[0] for z in zs), 1))

        if blobs(other, sizes[0])[0] >= bar(sizes[:1]):
            full = bar(sizes[:2])
            if all(blobs(other, z)[0] >= full for z in sizes[:2]):
                by_noise = None
    pols = ("dark", "bright") if by_noise is None else (by_noise,)
    winner = by_noise
    if winner is None:
        # the median of three counts lies between the two smaller-size counts:
        # when those ranges do not overlap the vote is decided without the
        # largest (and by far dearest) opening of the losing polarity
        d = [found["dark", z][0] for z in sizes[:2]]
        b = [found["bright", z][0] for z in sizes[:2]]
        if min(d) >= max(b):
            winner = "dark"
        elif max(d) < min(b):
            winner = "bright"

    if winner is None:
        votes = {p: _scored(blobs, p)[0] for p in pols}
        winner = "dark" if votes["dark"] >= votes["bright"] else "bright"

    def diameter():
        return _typical_diameter(blobs, winner, k)

    return winner, diameter, blobs, k


def _otsu(values, bins=256):
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    p = hist.astype(float) / hist.sum()
    w0 = np.cumsum(p)
    mu = np.cumsum(p * edges[:-1])
    mu_t = mu[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (mu_t * w0 - mu) ** 2 / (w0 * (1 - w0))
    s[~np.isfinite(s)] = 0
    return float(edges[int(np.argmax(s))])


def frame_polarity(image, *, solder="auto", feature_diameter_px=None, valid=None, _f32=None):
    """Display polarity of a frame and its typical joint diameter (on demand), as :func:`prepare` takes them.

    Parameters
    ----------
    image : ndarray, 2-D
        Frame as read.
    solder : {"auto", "dark", "bright"}
        Polarity given by the recipe; ``"auto"`` detects it.
    feature_diameter_px : float, optional
        Joint size given by the recipe, px; detected when None.
    valid : ndarray of bool, optional
        False on stitching borders (:func:`invalid_bands` when None).

    Returns
    -------
    polarity : {"dark", "bright"}
    diameter : callable
        ``diameter()``: typical joint diameter, px (0 when none was found);
        detected only when first called.
    """
    if feature_diameter_px is not None:
        given = float(feature_diameter_px)

        def diameter():
            return given
    if solder in ("dark", "bright") and feature_diameter_px is not None:
        # both answers given (the QFN pass, a full recipe): the detection, a
        # tenth of a second on a 2048 px frame, would be thrown away
        return solder, diameter
    if valid is None:
        valid = invalid_bands(image)
    pol, detected = _detect_polarity(image, valid, _f32=_f32)
    if solder in ("dark", "bright"):
        pol = solder
    return pol, diameter if feature_diameter_px is not None else detected


def bin_frame(image, factor):
    """Mean of each ``factor`` x ``factor`` block of a frame (detector binning), float32.

    Rows and columns past the last whole block are dropped. Binning keeps the
    dose per area (each output pixel is the mean count of its block) and
    halves the quantum noise per factor of 2: it is the detector's own binning
    mode, done after the fact.

    Parameters
    ----------
    image : ndarray, 2-D
        Frame as read.
    factor : int
        Block side, px (>= 1).

    Returns
    -------
    ndarray of float32
        Shape ``(h // factor, w // factor)``.
    """
    b = int(factor)
    h, w = image.shape
    f = image[:h - h % b, :w - w % b].astype(np.float32, copy=False)
    if b == 1:
        return f.copy()
    return cv2.resize(f, (w // b, h // b), interpolation=cv2.INTER_AREA)


#: Blocks per side of the coarse copy in which the open board's level is read
#: for :func:`field_trend`.
TREND_BLOCKS = 16
#: A block is board when its level lies within this many robust spreads
#: (MAD x 1.4826) below the fitted field; blocks under the package, farther
#: below, are left out and the field fitted again.
TREND_BELOW_SIGMAS = 2.5
#: At least this share of the blocks must be board for a field to be fitted.
TREND_MIN_BOARD = 0.2
#: No block's level may stand more than this above the fitted field (log units, 16 %).
TREND_ABOVE_MAX = 0.15
#: A field falling by more than this (log units: a factor 2.7) across the frame
#: is not an illumination field; none is divided out.
TREND_MAX_FALL = 1.0


def field_trend(small, valid=None):
    """Smooth illumination field of a frame: the log of its unattenuated level, up to a constant.

    An uncorrected heel effect or flat field darkens one side or the rim of a
    frame: ``I = F(x, y) T`` with ``F`` smooth. The open board's level is read
    as the 90th percentile of ``log I`` in each of :data:`TREND_BLOCKS` x
    :data:`TREND_BLOCKS` blocks and fitted with ``a + b x + c y + d r^2``
    (a tilt and a radial fall-off about the frame's centre), keeping the
    blocks near or above the fit: those under a package stand far below it.
    A fit whose rim is brighter than its centre is redone as a tilt alone;
    none is returned when the board kept lies in fewer than three quadrants
    of the frame, when a block stands more than :data:`TREND_ABOVE_MAX`
    above the fit (a step, not a field), or when the field falls by more than
    :data:`TREND_MAX_FALL` (a factor 2.7) across it.

    Parameters
    ----------
    small : ndarray of float32, 2-D
        A coarse copy of the frame, solder dark (grey levels > 0).
    valid : ndarray of bool, optional
        False where the coarse copy holds no image.

    Returns
    -------
    ndarray of float32 or None
        ``log F - max(log F)`` on ``small``'s grid (<= 0), or None when too
        few blocks read as board to fit it.
    """
    h, w = small.shape
    nb = TREND_BLOCKS
    if h < 2 * nb or w < 2 * nb:
        return None
    logi = np.log(np.maximum(small, np.float32(0.5)))
    ys = np.linspace(0, h, nb + 1).astype(int)
    xs = np.linspace(0, w, nb + 1).astype(int)
    lv, bx, by = [], [], []
    for i in range(nb):
        for j in range(nb):
            blk = logi[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
            if valid is not None:
                ok = valid[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
                if ok.mean() < 0.9:
                    continue
            lv.append(float(np.percentile(blk, 90)))
            bx.append((xs[j] + xs[j + 1]) / w - 1.0)
            by.append((ys[i] + ys[i + 1]) / h - 1.0)
    lv, bx, by = np.array(lv), np.array(bx), np.array(by)
    if lv.size < TREND_MIN_BOARD * nb * nb:
        return None
    one = np.ones_like(bx)
    design = np.stack([one, bx, by, bx * bx + by * by], 1)
    fit = _upper_fit(design, lv, nb)
    if fit is not None and fit[0][3] > 0:
        # a rim brighter than the centre is no source's fall-off: a tilt alone
        design = design[:, :3]
        fit = _upper_fit(design, lv, nb)
    if fit is None:
        return None
    coef, keep = fit
    # the field is the board's level: board standing well above it means the
    # fit went through something darker (a step from a sliver of board to a
    # package filling the frame is no smooth field)
    if np.max(lv - design @ coef) > TREND_ABOVE_MAX:
        return None
    # the board must be seen round the frame, not on one side only (a zoomed
    # package with a sliver of board beside it would fit any tilt)
    quads = [np.count_nonzero(keep & (bx * sx > 0) & (by * sy > 0)) for sx in (-1, 1) for sy in (-1, 1)]
    if sum(q >= 2 for q in quads) < 3:
        return None
    coef = np.append(coef, 0.0) if coef.size == 3 else coef
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    xx = (2 * xx + 1) / w - 1
    yy = (2 * yy + 1) / h - 1
    field = coef[0] + coef[1] * xx + coef[2] * yy + coef[3] * (xx * xx + yy * yy)
    field -= field.max()
    if field.min() < -TREND_MAX_FALL:
        return None
    return field.astype(np.float32)


def _upper_fit(design, levels, nb):
    """Least squares of ``levels`` on ``design`` over the blocks near or above the fit.

    Returns ``(coefficients, kept)``, or None when fewer than
    :data:`TREND_MIN_BOARD` of the ``nb`` x ``nb`` blocks stay.
    """
    keep = levels >= np.median(levels)
    coef = None
    for _ in range(8):
        if keep.sum() < TREND_MIN_BOARD * nb * nb:
            return None
        coef = np.linalg.lstsq(design[keep], levels[keep], rcond=None)[0]
        res = levels - design @ coef
        spread = 1.4826 * float(np.median(np.abs(res[keep] - np.median(res[keep])))) + 1e-6
        new = res >= -TREND_BELOW_SIGMAS * spread
        if np.array_equal(new, keep):
            break
        keep = new
    if keep.sum() < TREND_MIN_BOARD * nb * nb:
        return None
    return coef, keep


def prepare(image, *, solder="auto", bits_used=None, feature_diameter_px=None, full_scale=None,
            display_offset=0.0, flatten=False):
    """Attenuation map of a frame, with polarity and valid area.

    Parameters
    ----------
    image : ndarray, 2-D
        uint8, uint16 or float frame as read.
    solder : {"auto", "dark", "bright"}
        Display polarity; ``"auto"`` detects it.
    bits_used : int, optional
        Bits of the ADC (sets full scale of an inverted export).
    feature_diameter_px : float, optional
        Expected joint size, px (from the recipe); estimated when None.
    full_scale : float, optional
        Grey level of no attenuation in an inverted (``"bright"``) export;
        from ``bits_used`` or the container when None (a binned copy of a
        frame takes its original's).
    display_offset : float
        Black level of a windowed export, in stored grey units, added to
        every level before the log (see :mod:`xrayinspect.linearise`).
    flatten : bool
        Divide out the frame's illumination field (:func:`field_trend`)
        before the envelope: for envelopes wider than the field is flat (a
        QFN's, built beyond its pad), which would otherwise take the bright
        side's level for the whole frame.

    Returns
    -------
    Prepared
    """
    valid = invalid_bands(image)
    all_valid = bool(valid.all())
    f = image.astype(np.float32)
    pol, diameter = frame_polarity(image, solder=solder, feature_diameter_px=feature_diameter_px, valid=valid, _f32=f)
    diam = diameter()
    if pol == "bright":
        top = full_scale if full_scale is not None else _full_scale(image, bits_used)
        np.subtract(np.float32(top), f, out=f)
    np.maximum(f, np.float32(0.5), out=f)
    if display_offset:
        # the envelope below is built from f, so it carries the offset too
        f += np.float32(display_offset)
    if not all_valid:
        f = np.where(valid, f, np.float32(np.median(f[valid]) if valid.any() else 1.0))
    # local unattenuated level: an upper envelope wider than a joint, built
    # on a coarse copy (a max filter at full size would cost more than scoring)
    small, k = _coarse(f, target=256)
    if flatten:
        vs = None if all_valid else cv2.resize(valid.view(np.uint8), small.shape[::-1],
                                               interpolation=cv2.INTER_NEAREST).view(bool)
        trend = field_trend(small, vs)
        if trend is not None:
            # I = F T: dividing F out leaves T, whose envelope is flat
            gain = np.exp(-trend)
            small = small * gain
            f = f * cv2.resize(gain, f.shape[::-1], interpolation=cv2.INTER_LINEAR)
    size = int(np.clip(1.6 * max(diam, 8.0) / k, 3, 255)) | 1
    if size >= _DECOMPOSE_FROM:
        # the pad-scale envelope of a QFN (size ~245 px): the decomposed
        # dilation is bit-identical and far cheaper than OpenCV's
        env = _morph_ellipse(small, size, False)
    else:
        env = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    env = cv2.GaussianBlur(env, (0, 0), size / 2.0)
    env = np.maximum(env, small)
    env = cv2.resize(env, f.shape[::-1], interpolation=cv2.INTER_LINEAR)
    # log(max(env, f)) - log(f) as one log of the ratio (0 where f >= env)
    att = cv2.divide(env, f)
    np.maximum(att, np.float32(1.0), out=att)
    cv2.log(att, dst=att)
    att_s = cv2.GaussianBlur(att, (0, 0), 1.0)
    if not all_valid:
        att_s[~valid] = 0
    return Prepared(att=att, att_smooth=att_s, valid=valid, polarity=pol, blob_diameter_px=float(diam))

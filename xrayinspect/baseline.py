"""A Fiji-style baseline scorer: what a careful manual ImageJ macro would do.

The recipe most labs use in Fiji for BGA void checks is:

1. Gaussian blur, then a global Otsu threshold (``Image > Adjust > Threshold``,
   method Otsu) to separate the balls from the board;
2. ``Analyze Particles`` (connected components) with a size filter;
3. for every ball, a second Otsu threshold on the pixels inside it: the
   brighter-in-transmission class is the void;
4. void % = void area / ball area x 100, and a pass/fail against the
   IPC-A-610 limits (25 % total, 15 % largest single void).

There is no lattice, so no missing / misaligned / bridge / extra / hip
calls, no flat-field correction and no model of the ball's dome profile
(the thin rim of every ball is brighter than its centre, which per-ball Otsu
cannot tell from a void). It is here as the yardstick that
``scripts/evaluate.py`` measures xrayinspect against.

Examples
--------
>>> from xrayinspect.synth import generate_frame
>>> from xrayinspect.baseline import score_baseline
>>> f = generate_frame(1, package="bga", shape=(384, 384), difficulty="easy")
>>> r = score_baseline(f.image)
>>> r.status, len(r.joints) > 0
('ok', True)
"""

import math
import time

import cv2
import numpy as np
from skimage.filters import threshold_otsu

from .results import FrameResult, JointResult

#: Sigma of the Gaussian blur before the global threshold, px.
BLUR_SIGMA = 1.5
#: Components smaller than this fraction of the median component area are dropped.
MIN_AREA_FRACTION = 0.20
#: The two Otsu classes inside a ball must differ by at least this fraction of
#: the ball's own contrast against the board to call the brighter class a void.
VOID_MARGIN = 0.25
#: Smallest void component kept, px.
MIN_VOID_PX = 3
#: IPC-A-610 style limits, %.
VOID_PCT_LIMIT = 25.0
LARGEST_VOID_PCT_LIMIT = 15.0


def _to_float(image):
    """The frame as float32 (any integer or float dtype)."""
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D grey frame, got shape {img.shape}")
    return img.astype(np.float32)


def global_ball_mask(image, *, sigma=BLUR_SIGMA):
    """Blurred frame and the global Otsu mask of the solder.

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame (any polarity).
    sigma : float
        Gaussian blur sigma, px.

    Returns
    -------
    smooth : ndarray of float32
        The blurred frame, oriented so that solder is *high* (inverted when
        the solder is the dark class).
    mask : ndarray of bool
        Solder pixels: the minority side of the Otsu split.
    """
    f = _to_float(image)
    smooth = cv2.GaussianBlur(f, (0, 0), sigma)
    if float(smooth.max()) <= float(smooth.min()):
        return smooth, np.zeros(smooth.shape, bool)
    t = float(threshold_otsu(smooth))
    above = smooth > t
    # polarity: solder is the minority class of the split
    if above.mean() > 0.5:
        # solder is the dark (below-threshold) class: flip so solder is high
        smooth = np.float32(float(smooth.max()) + float(smooth.min())) - smooth
        above = ~above
    return smooth, above


def _ball_voids(values, board_level):
    """Void mask of one ball from its own Otsu split.

    Parameters
    ----------
    values : ndarray of float32
        Pixels of the ball (solder high).
    board_level : float
        Median level of the board around the balls (solder-high orientation).

    Returns
    -------
    ndarray of bool
        True for void pixels (the lower class in solder-high orientation, i.e.
        the brighter class in transmission), all False when the split is not
        meaningful.
    """
    if values.size < 8 or float(values.max()) <= float(values.min()):
        return np.zeros(values.shape, bool)
    t = float(threshold_otsu(values))
    lo = values <= t
    if not lo.any() or lo.all():
        return np.zeros(values.shape, bool)
    m_lo, m_hi = float(values[lo].mean()), float(values[~lo].mean())
    contrast = max(m_hi - board_level, 1e-6)
    if (m_hi - m_lo) < VOID_MARGIN * contrast:
        return np.zeros(values.shape, bool)
    return lo


def score_baseline(image, *, frame=""):
    """Score a BGA frame the way a Fiji macro would (the comparison baseline).

    Parameters
    ----------
    image : ndarray, 2-D
        Grey frame as read (uint8, uint16 or float), either polarity.
    frame : str
        Name written in the result.

    Returns
    -------
    xrayinspect.results.FrameResult
        One :class:`~xrayinspect.results.JointResult` per ball with
        ``x_px``, ``y_px``, ``diameter_px``, ``area_px``, ``void_pct``,
        ``largest_void_pct``, ``void_count``, ``partial`` (touches the frame
        edge) and the ``"void"`` code when ``void_pct > 25`` or the largest
        void > 15 %. ``grid_row``/``grid_col`` stay -1 and ``hip_score`` 0.

    Notes
    -----
    Steps: Gaussian blur (sigma :data:`BLUR_SIGMA`); global Otsu, solder the
    minority class; 8-connected components, dropping those below
    :data:`MIN_AREA_FRACTION` of the median area; per ball an Otsu split,
    whose brighter-in-transmission class is void when the class means differ
    by at least :data:`VOID_MARGIN` of the ball's contrast to the board.
    """
    t0 = time.perf_counter()
    smooth, mask = global_ball_mask(image)
    h, w = smooth.shape
    r = FrameResult(frame=frame, package="bga", shape=(h, w), profile="fiji-baseline")
    n, lab, stats, cents = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        r.seconds = time.perf_counter() - t0
        return r
    areas = stats[1:, cv2.CC_STAT_AREA].astype(float)
    min_area = MIN_AREA_FRACTION * float(np.median(areas))
    board = float(np.median(smooth[~mask])) if (~mask).any() else float(smooth.min())
    joints = []
    for k in range(1, n):
        area = float(stats[k, cv2.CC_STAT_AREA])
        if area < min_area or area < 4:
            continue
        x, y, bw, bh = (int(v) for v in stats[k, :4])
        own = lab[y:y + bh, x:x + bw] == k
        vals = smooth[y:y + bh, x:x + bw][own]
        vmask = np.zeros(own.shape, bool)
        vmask[own] = _ball_voids(vals, board)
        nv, vlab, vst, _ = cv2.connectedComponentsWithStats(vmask.astype(np.uint8), connectivity=8)
        sizes = vst[1:, cv2.CC_STAT_AREA].astype(float) if nv > 1 else np.zeros(0)
        sizes = sizes[sizes >= MIN_VOID_PX]
        void_pct = 100.0 * float(sizes.sum()) / area
        largest = 100.0 * float(sizes.max()) / area if sizes.size else 0.0
        partial = x == 0 or y == 0 or x + bw >= w or y + bh >= h
        j = JointResult(joint_id=len(joints), kind="ball", x_px=float(cents[k, 0]), y_px=float(cents[k, 1]),
                        diameter_px=float(2.0 * math.sqrt(area / math.pi)), area_px=area,
                        void_pct=void_pct, largest_void_pct=largest, void_count=int(sizes.size),
                        partial=bool(partial))
        if not partial and (void_pct > VOID_PCT_LIMIT or largest > LARGEST_VOID_PCT_LIMIT):
            j.defects = ["void"]
        j.verdict = "fail" if j.defects else "pass"
        joints.append(j)
    r.joints = joints
    r.seconds = time.perf_counter() - t0
    return r

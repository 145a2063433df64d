"""The black level of a windowed 8-bit export, from the balls' own shape.

An export dialog maps a window ``[lo, hi]`` of the detector's grey levels to
0-255, and its auto-window puts ``lo`` near the densest solder. Transmission
is then ``(g + u) / (g_bg + u)`` for a stored grey level ``g`` (``u``, the
window's black level in stored units, is lost), and the log of ``g`` alone
exaggerates the dense centre of every ball against its rim: a relative edge
level lands inside the true edge, masks read 15-25 % small and void % large.

Any spheroid - a reflowed ball of any height, seen at any angle - projects
to ``A0 * sqrt(1 - rho^2)``, whose integral is 2/3 of peak x footprint area.
:func:`estimate_display_offset` finds the smallest ``u`` that brings that
ratio, measured at the scoring edge level, back to the value a linear
detector gives. The ratio depends on blur and size only weakly, and not at
all on the ball's material, height or the dose.

A ball whose pads cut its sphere flat (a reflowed ball's real shape) projects
flat-topped, its ratio is 0.79-0.91 and hardly moves with the black level: the
shape cannot tell it. The physics can bound it from below: no linear frame
shows ball centres near black (:data:`CORE_FLOOR`).
"""

import numpy as np

from .joints import EDGE_FRACTION, segment_joints, typical_joints

#: Integral / (peak x area at the edge level) of a linear frame's typical
#: ball: 2/3 for an unblurred spheroid cut at its footprint, 0.684 at the
#: edge level; blur takes small balls lower. Measured on 16-bit development
#: frames (balls 6-50 px in radius): 0.63-0.72, median 0.68.
Q_TARGET = 0.66
#: A windowed frame whose ratio is at least this is left as it is (within the
#: spread of linear frames).
Q_LINEAR = 0.62
#: ... or, short of that, the level where the ratio has made this share of
#: its rise over the levels tried.
KNEE = 0.8
#: Black levels tried, as fractions of the local unattenuated level.
OFFSETS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
#: At most this many balls (spread over the frame), and this many window pixels in all, are measured.
MAX_BALLS = 400
MAX_PIXELS = 400_000
#: Transmission through the typical ball's centre, at the black level found, is
#: raised to at least this (None: no floor). Solder stops most of the beam,
#: but the scatter, the detector's glare and the tube voltage chosen to see
#: voids leave the centre of a ball 7-53 % of the open board in linear frames
#: (16-bit development frames: xrayinspect.synth 0.08-0.53, scripts/altsim.py
#: 0.07-0.26). An auto-window that puts its black at the densest solder
#: leaves them 0.2-4 %, and where the balls' shape cannot give the level back
#: (a flat top, see above) this floor does. altsim PNG-8 (9,300,000+40):
#: void F1 0.36 -> 0.83, bridge 0.67 -> 0.97; JPEG-8: void 0.48 -> 0.86,
#: hip 0.27 -> 0.53 (at the true level: PNG-8 void 0.91, bridge 1.00). 0.1
#: did as well there but called two via rings of a development frame extra
#: (seed (5200001, 3), whose 16-bit copy's centres stand at 0.17); 0.15 cost
#: the synth 8-bit development frames (137 of 6,700,000+200 and
#: 6,950,000+300) a verdict and 2 false head-in-pillow calls; 0.125 is
#: within a call of no floor on them.
CORE_FLOOR = 0.125


def _profile_windows(f, att, centres, r0):
    """Stored level and unattenuated level around typical balls, as (balls, win, win) stacks.

    ``centres``: (x, y) of each ball, px; ``r0``: the typical ball's radius
    at the edge level, px. Also returns the window's disc (1.35 ``r0``) and
    centre (0.3 ``r0``) masks.
    """
    rr = int(np.ceil(1.35 * r0))
    h, w = f.shape
    x = np.round(centres[:, 0]).astype(int)
    y = np.round(centres[:, 1]).astype(int)
    inside = (x - rr >= 0) & (x + rr < w) & (y - rr >= 0) & (y + rr < h)
    x, y = x[inside], y[inside]
    most = int(min(MAX_BALLS, max(MAX_PIXELS // (2 * rr + 1) ** 2, 8)))
    if x.size > most:
        pick = np.linspace(0, x.size - 1, most).astype(int)
        x, y = x[pick], y[pick]
    oy, ox = np.mgrid[-rr:rr + 1, -rr:rr + 1]
    yy = y[:, None, None] + oy[None]
    xx = x[:, None, None] + ox[None]
    g = f[yy, xx].astype(np.float64)
    env = g * np.exp(att[yy, xx].astype(np.float64))
    dist = np.hypot(oy, ox)
    return g, env, dist <= 1.35 * r0, dist <= 0.3 * r0


def spheroid_ratio(g, env, disk, centre, u):
    """Median over balls of integral / (peak x area above the edge level) at black level ``u``.

    Parameters
    ----------
    g, env : ndarray, shape (balls, win, win)
        Stored grey level (polarity-corrected) and local unattenuated level.
    disk, centre : ndarray of bool, shape (win, win)
        The window around each ball (1.35 typical radii) and its centre
        (0.3 radii), where the peak is read.
    u : float
        Black level added to both, stored grey units.
    """
    a = np.log(np.maximum(env + u, 1e-6) / np.maximum(g + u, 1e-6))
    a = np.where(disk[None], a, 0.0)
    peak = np.percentile(a[:, centre], 90, axis=1)
    ok = peak > 0
    if not ok.any():
        return np.nan
    a, peak = a[ok], peak[ok]
    area = (a > EDGE_FRACTION * peak[:, None, None]).sum((1, 2))
    return float(np.median(a.sum((1, 2)) / (peak * np.maximum(area, 1))))


def estimate_display_offset(f, prep, masks=None):
    """Black level (stored grey units, >= 0) that makes a windowed frame's balls spheroids again.

    Parameters
    ----------
    f : ndarray of float32
        The frame as :func:`xrayinspect.preprocess.prepare` reads it
        (polarity-corrected, floored at 0.5).
    prep : xrayinspect.preprocess.Prepared
        Its attenuation map, prepared without an offset.
    masks : xrayinspect.joints.JointMasks, optional
        The first look's joints on ``prep``, when already found.

    Returns
    -------
    offset : float
        0 when the balls already have a linear frame's shape (and their
        centres are not near black, :data:`CORE_FLOOR`) or when the frame
        holds fewer than 8 typical balls.
    masks : xrayinspect.joints.JointMasks
        The joints as the BGA scoring's first look finds them on ``prep``
        (its search scale and core level): it takes them over when the
        offset is 0 rather than segment the same map again.
    """
    from .bga import CORE_FRACTION, first_look_diameter

    if masks is None:
        masks = segment_joints(prep.att_smooth, prep.valid, diameter_px=first_look_diameter(prep.blob_diameter_px),
                               core_fraction=CORE_FRACTION)
    ids = np.arange(1, masks.n + 1)
    if ids.size < 8:
        return 0.0, masks
    typical, med = typical_joints(masks)
    g, env, disk, centre = _profile_windows(f, prep.att, np.stack([masks.cx[typical], masks.cy[typical]], 1),
                                            np.sqrt(med / np.pi))
    if g.shape[0] < 8:
        return 0.0, masks
    bg = float(np.median(env[:, disk]))
    q0 = spheroid_ratio(g, env, disk, centre, 0.0)
    if not q0 < Q_LINEAR:
        return _core_floor(g, env, centre, 0.0), masks
    fracs = np.array(OFFSETS)
    q = np.array([q0] + [spheroid_ratio(g, env, disk, centre, fr * bg) for fr in fracs[1:]])
    # the first level that reaches a linear frame's ratio, or - small,
    # blurred balls never reach it - where the ratio stops rising (the black
    # level found, the rest of the curve is blur)
    reach = np.flatnonzero(q >= Q_TARGET)
    knee = np.flatnonzero(q >= q0 + KNEE * (q[-1] - q0))
    i = min(reach[0] if reach.size else fracs.size - 1, knee[0] if knee.size else fracs.size - 1)
    u = float(fracs[i] * bg)
    return _core_floor(g, env, centre, u), masks


def _core_floor(g, env, centre, u):
    """``u``, or the black level that brings the median ball centre's transmission up to :data:`CORE_FLOOR`.

    ``g``, ``env``: stored and unattenuated levels around the typical balls
    (see :func:`_profile_windows`); ``centre``: the window's centre mask;
    ``u``: black level found from the balls' shape, stored grey units.
    """
    if CORE_FLOOR is None:
        return u
    gc = np.median(g[:, centre], axis=1)
    ec = np.median(env[:, centre], axis=1)
    need = np.median((CORE_FLOOR * ec - gc) / (1 - CORE_FLOOR))
    return float(max(u, need))

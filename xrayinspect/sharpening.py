"""A viewer's unsharp mask on an export: found from the balls, and undone.

X-ray viewers offer an "enhance" or "sharpen" filter, and exports often keep
it: ``g' = g + a (g - G_s * g)``, a Gaussian ``G_s`` of ``s`` px. It rings at
every edge: a bright halo on the board round each ball and a dark band
inside its rim. A projected ball is thickest through its centre, so a
radiograph's ball profile never falls with radius; the sharpened one does,
and reads as a CT slice with cupping (voids sized as holes, head-in-pillow
not judged, balls missed).

Two facts from the physics tell the cases apart and undo the filter:

* **Photon noise.** A radiograph counts photons: the grey-level noise in a
  ball's centre, where few arrive, is well under that on the board beside it
  (square root of the counts; 0.24-0.78 of it on 16-bit development
  radiographs, 0.15-1.18 on 8-bit ones). A reconstructed slice's noise is
  about even (0.81-1.14).
  A linear filter scales both alike, so the ratio survives it
  (:func:`core_noise_ratio`).
* **Monotone profiles.** The filter's transfer ``1 + a (1 - exp(-s^2 k^2 / 2))``
  never falls below 1, so its inverse is stable. The smallest ``a`` (per
  ``s``) whose inverse leaves the typical ball's profile (the pixelwise median of
  the typical balls' windows, blind to a few balls' voids) rising
  monotonically from centre to board, at the ``s`` whose smallest such ``a``
  is least (the gentlest filter that explains the profile), is taken
  (:func:`estimate_unsharp`).
"""

from dataclasses import dataclass

import numpy as np

#: A frame whose ball centres show at most this share of the board's noise is
#: a projection, not a slice. Development frames: radiographs 0.24-0.78
#: (16-bit, 139 of 6,700,000+200) and 0.15-1.18 (8-bit, 57; 11 over 0.7),
#: altsim 0.0-0.94; CT slices 0.99-1.13 (16-bit, 78 of 6,960,000+60 and
#: 6,970,000+80) and 0.81-1.14 (8-bit, 57; the next above 0.81 is 0.96).
#: Above it a frame is scored as before (its profile decides).
PROJECTION_NOISE_RATIO = 0.7
#: A projection whose typical ball profile falls with radius inside the ball
#: (its edge radius) by at least this share of its contrast has been
#: sharpened. Development radiographs: at most 0.027 with the mean window (195
#: frames of 6,700,000+200; the board beyond large balls may fall by 0.13, so
#: it is not counted); altsim 0.023, sharpened with a 0.5-2, s 1-5 px:
#: 0.015-0.45, over 0.06 in 13 of 18 (None: never undone). With the median
#: window (:data:`TEMPLATE_STAT`): altsim 9,900,000+40 unsharpened at most
#: 0.017 (mean 0.080), sharpened 16-bit 0.02-0.33.
NONMONOTONE_MIN = 0.06
#: A filter's inverse restores a monotone profile when its deepest fall is at most this share of the contrast.
MONOTONE_TOLERANCE = 0.005
#: Filter widths tried, px, and amounts.
SIGMAS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
#: Which width is taken: the one whose smallest restoring amount is least
#: ("least_amount"), or the one whose restored profile keeps the steepest edge
#: ("steepest").
SIGMA_CHOICE = "least_amount"
AMOUNTS = tuple(np.round(np.arange(0.1, 4.01, 0.1), 2))
#: At most this many typical balls are read.
MAX_BALLS = 100
#: The typical ball's window: the pixelwise median over the typical balls'
#: windows ("median"), or their mean ("mean"). A void raises the mean where it
#: lies, and voids gather near the centres: the mean of a frame of voided
#: balls falls from its centre outwards, which no inverse filter undoes.
TEMPLATE_STAT = "median"
#: Pixels of the centre (fraction of the radius) and of the board beside a
#: ball (fractions of the radius, short of the neighbours) whose noise is compared.
CORE_RHO = 0.4
BOARD_RHO = (1.25, 1.45)
#: Fewer than this share of usable (unclipped) centre pixels leaves the noise ratio unknown.
MIN_USABLE = 0.3


@dataclass
class Inspection:
    """What the typical balls say about the frame.

    Attributes
    ----------
    noise_ratio : float
        Centre noise over board noise (NaN when it cannot be read).
    projection : bool
        The noise says projection (:data:`PROJECTION_NOISE_RATIO`).
    nonmonotone : float
        Falls of the mean ball profile with radius inside the ball, share of its contrast.
    amount, sigma_px : float
        The unsharp mask found (0 when none).
    """

    noise_ratio: float = float("nan")
    projection: bool = False
    nonmonotone: float = 0.0
    amount: float = 0.0
    sigma_px: float = 0.0


def _typical(masks):
    """Centres (x, y), px, of typical balls; their edge radius and neighbour distance, px."""
    from scipy.spatial import cKDTree

    from .joints import typical_joints

    if masks.n < 8:
        return None
    typ, med = typical_joints(masks)
    if typ.size < 8:
        return None
    xy = np.stack([masks.cx[typ], masks.cy[typ]], 1)
    nn = float(np.median(cKDTree(xy).query(xy, k=2)[0][:, 1]))
    if typ.size > MAX_BALLS:
        xy = xy[np.linspace(0, typ.size - 1, MAX_BALLS).astype(int)]
    return xy, float(np.sqrt(med / np.pi)), nn


def _windows(img, xy, rr, valid=None):
    """Windows (float32) of half-size ``rr`` px round each centre inside the frame (and clear of
    invalid pixels), and their centres' offsets."""
    h, w = img.shape
    xi, yi = np.round(xy[:, 0]).astype(int), np.round(xy[:, 1]).astype(int)
    ok = (xi - rr >= 0) & (yi - rr >= 0) & (xi + rr < w) & (yi + rr < h)
    oy, ox = np.mgrid[-rr:rr + 1, -rr:rr + 1]
    if valid is not None and not valid.all():
        # a tiled composite's black bands are no part of a ball's surroundings
        ok[ok] = valid[yi[ok][:, None, None] + oy[None], xi[ok][:, None, None] + ox[None]].all((1, 2))
    wins = img[yi[ok][:, None, None] + oy[None], xi[ok][:, None, None] + ox[None]].astype(np.float32)
    return wins, xy[ok, 0] - xi[ok], xy[ok, 1] - yi[ok]


def radial_profile(t, step=0.5):
    """Mean of a centred square window by radius: ``(radius px, mean)`` of the non-empty bins."""
    c = (t.shape[0] - 1) / 2
    yy, xx = np.mgrid[:t.shape[0], :t.shape[1]]
    b = (np.hypot(yy - c, xx - c) / step).astype(int).ravel()
    s = np.bincount(b, t.ravel())
    n = np.bincount(b)
    k = n > 0
    return ((np.arange(s.size) + 0.5) * step)[k], s[k] / n[k]


def nonmonotonicity(t, r_max):
    """Deepest fall of a ball window's radial mean below its level nearer the centre, out to ``r_max`` px.

    As a share of the profile's contrast. ``t`` is signed so that solder is
    low (a radiograph's profile rises from the centre to the board). The
    deepest fall, not the sum of falls: on a large ball the many small
    wiggles of a few balls' noise would add up.
    """
    r, p = radial_profile(t)
    p = p[r <= r_max]
    contrast = float(p.max() - p.min())
    if contrast <= 0:
        return 0.0
    return float((np.maximum.accumulate(p) - p).max() / contrast)


def _padded_highpass(image, sigma_px):
    """``image`` reflect-padded by ``4 sigma + 2`` px, its rfft and the mask's high-pass
    ``1 - exp(-sigma^2 k^2 / 2)`` on that grid; and the pad, px."""
    pad = int(np.ceil(4 * sigma_px)) + 2
    f = np.pad(image.astype(np.float64), pad, mode="reflect")
    ky = np.fft.fftfreq(f.shape[0])[:, None] * (2 * np.pi)
    kx = np.fft.rfftfreq(f.shape[1])[None, :] * (2 * np.pi)
    return np.fft.rfft2(f), 1 - np.exp(-0.5 * sigma_px ** 2 * (kx * kx + ky * ky)), f.shape, pad


def undo_unsharp(image, amount, sigma_px):
    """Invert ``g' = g + amount (g - G_sigma * g)``, in the image's own dtype.

    Parameters
    ----------
    image : ndarray, 2-D
    amount : float
        The mask's gain (dimensionless).
    sigma_px : float
        Its Gaussian's standard deviation, px.

    Returns
    -------
    ndarray
        Same shape; integer images rounded and clipped to their range.
    """
    spec, high, shape, pad = _padded_highpass(image, sigma_px)
    out = np.fft.irfft2(spec / (1 + amount * high), s=shape)[pad:-pad, pad:-pad]
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        return np.clip(np.round(out), info.min, info.max).astype(image.dtype)
    return out.astype(image.dtype)


def _steepest_rise(t, r_max):
    r, p = radial_profile(t)
    k = r <= r_max
    r, p = r[k], p[k]
    return float(np.max(np.diff(p) / np.diff(r)) / max(p.max() - p.min(), 1e-12))


def estimate_unsharp(template, r_max):
    """Amount and sigma (px) of the unsharp mask whose inverse makes a ball's typical window monotone.

    Parameters
    ----------
    template : ndarray, 2-D
        Typical ball window (pixelwise median, or mean, over typical balls), centred, signed so
        solder is low.
    r_max : float
        Radius out to which the profile must rise, px.

    Returns
    -------
    amount, sigma_px : float
        0, 0 when no filter tried restores a monotone profile.
    """
    least = SIGMA_CHOICE == "least_amount"
    best = (0.0, 0.0, -np.inf)
    for s in SIGMAS:
        if least and best[1] > 0 and AMOUNTS[0] >= best[0]:
            break
        spec, high, shape, pad = _padded_highpass(template, s)
        for a in AMOUNTS:
            if least and best[1] > 0 and a >= best[0]:
                break       # the gentlest filter that explains the profile wins (on ties the narrower)
            u = np.fft.irfft2(spec / (1 + a * high), s=shape)[pad:-pad, pad:-pad]
            if nonmonotonicity(u, r_max) <= MONOTONE_TOLERANCE:
                if least:
                    best = (float(a), float(s), 0.0)
                else:
                    rise = _steepest_rise(u, r_max)
                    if rise > best[2]:
                        best = (float(a), float(s), rise)
                break
    return best[0], best[1]


def core_noise_ratio(img, sign, xy, r0, r_board, valid=None):
    """Robust high-pass noise in typical ball centres over that on the board beside them.

    Parameters
    ----------
    img : ndarray, 2-D
        The stored frame.
    sign : float
        +1 when solder is dark in it, -1 when bright.
    xy : ndarray, shape (n, 2)
        Typical ball centres, px.
    r0 : float
        Their edge radius, px.
    r_board : tuple of float
        Radii of the board ring compared, px.
    valid : ndarray of bool, optional
        False on a tiled composite's stitching bands.

    Returns
    -------
    float
        NaN when too few centre pixels are free of clipping, or the board
        shows no noise (an 8-bit or JPEG export can flatten it).
    """
    rr = int(np.ceil(r_board[1])) + 2
    wins, dx, dy = _windows(img, xy, rr, valid)
    if wins.shape[0] < 8:
        return float("nan")
    v = wins * sign
    # high-pass: each pixel less its 3 x 3 mean (the windows' inner pixels)
    box = np.zeros_like(v[:, 1:-1, 1:-1])
    free = np.ones(box.shape, bool)
    lo = v.min()
    for i in range(3):
        for j in range(3):
            shifted = v[:, i:v.shape[1] - 2 + i, j:v.shape[2] - 2 + j]
            box += shifted
            # clipped pixels and their neighbours carry no noise
            free &= shifted > lo
    hp = v[:, 1:-1, 1:-1] - box / 9.0
    oy, ox = np.mgrid[-rr + 1:rr, -rr + 1:rr]
    d = np.hypot(ox[None] - dx[:, None, None], oy[None] - dy[:, None, None])
    c = d <= CORE_RHO * r0
    core = hp[c & free]
    board = hp[(d >= r_board[0]) & (d <= r_board[1]) & free]
    if core.size < MIN_USABLE * c.sum() or board.size < 100:
        return float("nan")

    def mad(x):
        return 1.4826 * float(np.median(np.abs(x - np.median(x))))

    nb = mad(board)
    return mad(core) / nb if nb > 0 else float("nan")


def inspect(image, polarity, masks, valid=None):
    """Noise ratio, projection call and unsharp mask of a frame, from its first-look joints.

    Parameters
    ----------
    image : ndarray, 2-D
        The stored frame.
    polarity : str
        ``"dark"`` (solder dark) or ``"bright"``.
    masks : xrayinspect.joints.JointMasks
        Joints of a first segmentation.
    valid : ndarray of bool, optional
        False on a tiled composite's stitching bands.

    Returns
    -------
    Inspection
    """
    out = Inspection()
    typ = _typical(masks)
    if typ is None:
        return out
    xy, r0, nn = typ
    sign = 1.0 if polarity == "dark" else -1.0
    # the board ring and the profile stop short of the neighbours' edges
    r_board = (BOARD_RHO[0] * r0, min(BOARD_RHO[1] * r0, nn - 1.15 * r0))
    if r_board[1] - r_board[0] >= 1.0:
        out.noise_ratio = core_noise_ratio(image, sign, xy, r0, r_board, valid)
    out.projection = bool(out.noise_ratio <= PROJECTION_NOISE_RATIO)
    if not out.projection or NONMONOTONE_MIN is None:
        return out
    r_max = min(1.5 * r0, nn - 1.2 * r0)
    wins, _, _ = _windows(image, xy, int(np.ceil(2 * r0)) + 12, valid)
    if wins.shape[0] < 8 or r_max < r0:
        return out
    if TEMPLATE_STAT == "median":
        template = sign * np.median(wins, 0).astype(np.float64)
    else:
        template = sign * wins.mean(0, dtype=np.float64)
    out.nonmonotone = nonmonotonicity(template, r0)
    if out.nonmonotone >= NONMONOTONE_MIN:
        out.amount, out.sigma_px = estimate_unsharp(template, r_max)
    return out

"""Board traces that cross a joint's projection, continued through it.

A copper trace on the board (or an inner layer) that runs under a ball adds
its own attenuation along a stripe across the ball. The void search fits a
ball's peak to its densest pixels, which then lie on the stripe, and reads
the rest of the ball as void: 30 % and more on a ball with none. The trace
is seen where it enters and leaves: in the ring just outside the ball it
makes two bumps whose chord runs in the trace's direction. Continued straight
through the ball between them, it can be taken off before voids are sought.

The ring is sampled on each joint's second-moment ellipse (so oblique,
elliptical balls too) and away from every other joint (whose blur tails
would make bumps of their own). The correction is kept only where it
explains the ball: what is left of the ball around its own radial profile
must shrink by a quarter; a spurious pairing leaves a stripe of its own and
is dropped.
"""

import cv2
import numpy as np

from .measure import label_moments, nonzero_yx

__all__ = ["crossing_traces"]

#: Angular samples round the ring (2 degrees each).
RING_SAMPLES = 180
#: The ring lies this far outside the joint's outline, px (three radii, 1 px apart).
RING_GAP = 2.0
#: Ring samples within this of another joint are left out, px (its blur tail).
NEIGHBOUR_CLEARANCE = 3
#: A ring bump smaller than this share of the joint's peak attenuation is not a trace.
MIN_BUMP = 0.10
#: ... and one taller than this share of the typical joint's peak is not a trace
#: either (copper tens of micrometres thick attenuates a small part of what a
#: ball does; a denser band across the ring is a part on the board's far side).
MAX_BUMP = 0.4
#: Correlation of the ring with itself across the chord of the best direction.
MIN_PAIRING = 0.6
#: The two ends of the trace are at least this far apart round the ring, degrees
#: (a bump paired with itself is a trace that only grazes the joint).
MIN_SEPARATION_DEG = 60.0
#: The second end's bump is at least this share of the first's.
MIN_SECOND_END = 0.3
#: Most of the ring must be readable (not beside other joints).
MAX_UNREAD = 0.3
#: The correction is kept when the joint's spread round its radial profile
#: falls below this share of what it was.
MAX_SPREAD_LEFT = 0.75
#: Faint traces are reported (``with_bumps``) only where the joints' outlines
#: are round: the median ratio of their ellipses' axes at most this. In an
#: oblique view (ratios 1.08-1.11 at 30-34 degrees, 1.01-1.04 straight) a
#: head parted from its pillow leaves the pillow in the ring beside it, a
#: crescent that pairs like a trace (development frames: three heads).
BUMPS_ROUND = 1.05
#: Radial bins of that profile.
PROFILE_BINS = 6

_FAR = np.float32(1e9)


def crossing_traces(att, labels, n, peak=None, *, with_bumps=False):
    """Attenuation of the traces that cross each joint, continued through it.

    Parameters
    ----------
    att : ndarray of float32, 2-D
        Attenuation above the local background (dimensionless), traces included.
    labels : ndarray of int, 2-D
        Joint labels ``1..n``, 0 background.
    n : int
        Number of labels.
    peak : ndarray of float, optional
        Peak attenuation of each label (index 0 unused), as segmentation
        measured it; the largest pixel of each label when not given.
    with_bumps : bool
        Also return how high the traces left in place stand where they
        enter each joint.

    Returns
    -------
    ndarray of float32
        The same shape as ``att``: inside a joint crossed by a trace, the
        trace's attenuation interpolated straight through it (>= 0); 0
        elsewhere. ``att - crossing_traces(att, labels, n)`` is what the
        joint alone attenuates.
    ndarray of float, shape (n + 1,)
        Only with ``with_bumps``: for each joint a trace too faint to take off
        crosses (both ends seen, every test above passed but
        :data:`MIN_BUMP`), its bump in the ring as a share of the joint's
        peak; 0 elsewhere, and everywhere in an oblique view
        (:data:`BUMPS_ROUND`).
    """
    out = np.zeros(att.shape, np.float32)
    left = np.zeros(n + 1)
    done = (lambda: (out, left)) if with_bumps else (lambda: out)
    ys, xs = nonzero_yx(labels)
    if n < 1 or ys.size == 0:
        return done()
    lab = labels[ys, xs]
    area, cx, cy, sxx, syy, sxy, _, _ = label_moments(xs.astype(float), ys.astype(float), lab, n)
    area, cx, cy = area[:n + 1].astype(float), cx[:n + 1], cy[:n + 1]
    # (the ring is placed on the spread of the pixel centres, without the
    # pixel's own 1/12 px^2 that label_moments adds)
    sxx, syy, sxy = sxx[:n + 1] - 1 / 12, syy[:n + 1] - 1 / 12, sxy[:n + 1]
    ids = np.nonzero(area > 20)[0]
    ids = ids[ids > 0]
    if not ids.size:
        return done()
    radius = np.sqrt(area / np.pi)
    half_trace = (sxx[ids] + syy[ids]) / 2
    spread = np.sqrt(np.maximum(half_trace ** 2 - (sxx[ids] * syy[ids] - sxy[ids] ** 2), 0.0))
    round_view = np.median(np.sqrt((half_trace + spread) / np.maximum(half_trace - spread, 1e-9))) <= BUMPS_ROUND
    if peak is None:
        peak = np.zeros(n + 1)
        np.maximum.at(peak, lab, att[ys, xs])
    peak = np.asarray(peak, float)[ids]
    axes = _outline_axes(sxx[ids], sxy[ids], syy[ids])
    ring, unread = _ring_profiles(att, labels, ids, cx[ids], cy[ids], radius[ids], axes)
    direction, pairing, end_sum = _best_chords(ring)
    bump = ring.max(1)
    first = ring.argmax(1)
    partner = (end_sum - first) % RING_SAMPLES
    second = ring[np.arange(ids.size), partner]
    apart = np.abs((partner - first + RING_SAMPLES // 2) % RING_SAMPLES
                   - RING_SAMPLES // 2) * (360.0 / RING_SAMPLES)
    typical = float(np.median(peak))
    through = ((bump < MAX_BUMP * typical) & (pairing > MIN_PAIRING) & (unread < MAX_UNREAD)
               & (apart >= MIN_SEPARATION_DEG) & (second > MIN_SECOND_END * bump))
    crossed = through & (bump > MIN_BUMP * peak)
    if round_view:
        left[ids] = np.where(through & ~crossed, bump / np.maximum(peak, 1e-12), 0.0)
    if not crossed.any():
        return done()
    h, w = labels.shape
    for m in np.nonzero(crossed)[0]:
        b = ids[m]
        # the joint's pixels, from a window round it (sorting every joint
        # pixel by label would cost more than the rest of this together)
        reach = int(np.ceil(2.0 * np.abs(axes[m]).sum(1).max())) + 2
        x0, y0 = max(int(cx[b]) - reach, 0), max(int(cy[b]) - reach, 0)
        wy, wx = np.nonzero(labels[y0:min(int(cy[b]) + reach + 1, h), x0:min(int(cx[b]) + reach + 1, w)] == b)
        py_, px_ = wy + y0, wx + x0
        # whitened coordinates: the ring is the unit circle, and a straight
        # trace stays straight (an affine map keeps lines and their ratios)
        inv = np.linalg.inv(axes[m] * (1.0 + RING_GAP / max(radius[b], 1.0)))
        u0, v0 = px_ - cx[b], py_ - cy[b]
        u = inv[0, 0] * u0 + inv[0, 1] * v0
        v = inv[1, 0] * u0 + inv[1, 1] * v0
        trace = _through(ring[m], u, v, direction[m])
        a = att[py_, px_].astype(float)
        rbin = np.minimum((np.hypot(u, v) * PROFILE_BINS).astype(int), PROFILE_BINS - 1)
        if _radial_spread(a - trace, rbin) < MAX_SPREAD_LEFT * _radial_spread(a, rbin):
            out[py_, px_] = trace
    return done()


def _outline_axes(sxx, sxy, syy):
    """Matrix ``A`` per joint with outline ``c + A (cos t, sin t)``: twice the covariance's square root."""
    s = np.sqrt(np.maximum(sxx * syy - sxy * sxy, 0.0))
    t = np.sqrt(np.maximum(sxx + syy + 2.0 * s, 1e-12))
    out = np.empty((sxx.size, 2, 2))
    out[:, 0, 0] = (sxx + s) / t
    out[:, 1, 1] = (syy + s) / t
    out[:, 0, 1] = out[:, 1, 0] = sxy / t
    return 2.0 * out


def _ring_profiles(att, labels, ids, cx, cy, radius, axes):
    """Ring attenuation round each joint less its median, ``(ring (nb, RING_SAMPLES), unread share (nb,))``."""
    phi = np.arange(RING_SAMPLES) * (2.0 * np.pi / RING_SAMPLES)
    rim = np.einsum("bij,jk->bik", axes, np.stack([np.cos(phi), np.sin(phi)]))
    # the largest and the smallest label within the clearance: a sample
    # whose neighbourhood holds a label not the joint's own is in a tail
    k = 2 * NEIGHBOUR_CLEARANCE + 1
    ker = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    lf = labels.astype(np.float32)
    hi_lab = cv2.dilate(lf, ker)
    lo_lab = cv2.erode(np.where(labels > 0, lf, _FAR).astype(np.float32), ker)
    own = ids[:, None].astype(np.float32)
    att = att.astype(np.float32, copy=False)
    total = np.zeros((ids.size, RING_SAMPLES))
    count = np.zeros((ids.size, RING_SAMPLES))
    for gap in (RING_GAP, RING_GAP + 1.0, RING_GAP + 2.0):
        scale = (1.0 + gap / np.maximum(radius, 1.0))[:, None]
        mx = (cx[:, None] + scale * rim[:, 0]).astype(np.float32)
        my = (cy[:, None] + scale * rim[:, 1]).astype(np.float32)
        val = cv2.remap(att, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        hi = cv2.remap(hi_lab, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        lo = cv2.remap(lo_lab, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        ok = ~(((hi > 0) & (hi != own)) | ((lo < _FAR) & (lo != own)))
        total += np.where(ok, val, 0.0)
        count += ok
    read = count > 0
    ring = np.where(read, total / np.maximum(count, 1), np.inf)
    n_read = read.sum(1)
    median = np.sort(ring, 1)[np.arange(ids.size), n_read // 2]
    median = np.where(np.isfinite(median), median, 0.0)[:, None]
    ring = np.where(read, ring - median, 0.0)
    # a 3-sample (6 degree) circular smoothing
    ring = (np.roll(ring, 1, 1) + ring + np.roll(ring, -1, 1)) / 3.0
    return ring, 1.0 - n_read / RING_SAMPLES


def _best_chords(ring):
    """Direction of the chords along which the ring's bumps pair up.

    Returns ``(direction (nb,) radians, pairing (nb,), end_sum (nb,))``: the
    chord of that direction that starts at ring sample ``i`` ends at sample
    ``(end_sum - i) % RING_SAMPLES``.
    """
    na = RING_SAMPLES
    # a chord of direction theta from the angle phi ends at 2 theta - pi - phi:
    # the pairing of every direction is one circular self-convolution
    f = np.fft.rfft(ring, axis=1)
    conv = np.fft.irfft(f * f, n=na, axis=1) / na
    shift = (2 * np.arange(na // 2) - na // 2) % na
    score = conv[:, shift]
    best = score.argmax(1)
    power = (ring ** 2).mean(1)
    pairing = score[np.arange(ring.shape[0]), best] / np.maximum(power, 1e-12)
    return best * (np.pi / (na // 2)), pairing, shift[best]


def _through(ring, u, v, theta):
    """The ring's profile continued along chords of direction ``theta`` to points ``(u, v)`` of the unit disc."""
    du, dv = np.cos(theta), np.sin(theta)
    # p + s d on the unit circle: s^2 + 2 s (p.d) + |p|^2 - 1 = 0
    pd = u * du + v * dv
    root = np.sqrt(np.maximum(pd * pd - (u * u + v * v - 1.0), 0.0))
    s1, s2 = -pd - root, -pd + root

    def at(s):
        f = (np.arctan2(v + s * dv, u + s * du) % (2.0 * np.pi)) * (RING_SAMPLES / (2.0 * np.pi))
        i0 = np.floor(f).astype(int) % RING_SAMPLES
        w = f - np.floor(f)
        return ring[i0] * (1.0 - w) + ring[(i0 + 1) % RING_SAMPLES] * w

    w2 = -s1 / np.maximum(s2 - s1, 1e-6)
    return np.maximum((1.0 - w2) * at(s1) + w2 * at(s2), 0.0)


def _radial_spread(values, rbin):
    """Sum of absolute deviations from the median of each radial bin."""
    med = np.zeros(PROFILE_BINS)
    for q in range(PROFILE_BINS):
        sel = rbin == q
        if sel.any():
            med[q] = np.median(values[sel])
    return float(np.abs(values - med[rbin]).sum())

"""Shape measurements and contours of labelled joints and voids."""

import cv2
import numpy as np


def components_with_stats(mask):
    """8-connected components of a 0/1 mask with their boxes, areas and centroids.

    The same ``(n, labels, stats, centroids)`` as
    ``cv2.connectedComponentsWithStats(mask, connectivity=8)`` (the same
    numbering, checked on frame masks and random masks), by Grana's
    block-based labelling where OpenCV has it: 2.5x faster on a 2048 px
    frame's mask (12 vs 30 ms).
    """
    mask = np.asarray(mask)
    if mask.dtype != np.uint8:
        mask = mask.astype(np.uint8)
    if hasattr(cv2, "connectedComponentsWithStatsWithAlgorithm") and hasattr(cv2, "CCL_GRANA"):
        return cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return cv2.connectedComponentsWithStats(mask, connectivity=8)


def _nonzero_points(image):
    """``(x, y)`` rows (int32, raster order) of the non-zero pixels of a non-empty 2-D array, by
    ``cv2.findNonZero`` on a byte view of it; None when there are none."""
    if image.dtype == np.uint8:
        mask = image
    elif image.dtype == bool:
        mask = image.view(np.uint8)
    else:
        mask = (image != 0).view(np.uint8)
    pts = cv2.findNonZero(mask)
    return None if pts is None else pts.reshape(-1, 2)


def flat_nonzero(image):
    """``np.flatnonzero(image)`` of a 2-D array (intp, raster order), by ``cv2.findNonZero``.

    About 1.5x faster on a 2048 px frame mask (4.9 vs 7.5 ms for 0.8 Mpx set);
    same indices, same order.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        return np.flatnonzero(image)
    pts = _nonzero_points(image)
    if pts is None:
        return np.zeros(0, np.intp)
    return pts[:, 1].astype(np.intp) * image.shape[1] + pts[:, 0]


def nonzero_yx(image):
    """``np.nonzero(image)`` of a 2-D array: row and column (intp) of its non-zero pixels, raster order.

    ``cv2.findNonZero`` on a 0/1 byte mask, about 3x faster than numpy's
    ``nonzero`` on a label image (2048 px frame with ~1 Mpx of joints: 3.5 vs
    12 ms); same pixels, same order.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.size == 0:
        return np.nonzero(image)
    pts = _nonzero_points(image)
    if pts is None:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return pts[:, 1].astype(np.intp), pts[:, 0].astype(np.intp)


def fill_holes(mask):
    """``scipy.ndimage.binary_fill_holes(mask)`` of a 2-D mask, by one flood fill.

    A hole is background not 4-connected to the border (scipy's default
    structure): the background reached by a flood fill from outside a one
    pixel frame is not a hole, every other pixel is mask. Same pixels, a
    fraction of the cost of scipy's iterated dilation on a small box.

    Parameters
    ----------
    mask : ndarray, 2-D
        Non-zero is foreground.

    Returns
    -------
    ndarray of bool
    """
    m = np.asarray(mask)
    if m.ndim != 2 or m.size == 0:
        from scipy import ndimage as ndi

        return ndi.binary_fill_holes(m)
    h, w = m.shape
    outside = np.zeros((h + 2, w + 2), np.uint8)
    outside[1:-1, 1:-1] = m != 0
    # flood the background from the frame's corner with 2: what stays 0 is a hole
    cv2.floodFill(outside, None, (0, 0), 2, flags=4)
    return outside[1:-1, 1:-1] != 2


def label_moments(xs, ys, labels, n):
    """Pixel count, centroid and covariance of every label, from its pixels.

    Parameters
    ----------
    xs, ys : ndarray
        Column and row of each labelled pixel, px.
    labels : ndarray of int
        Label of each pixel (1..n).
    n : int
        Highest label.

    Returns
    -------
    cnt : ndarray
        Pixels per label, at least 1 (so empty labels divide safely).
    mx, my : ndarray
        Centroid per label, px.
    sxx, syy, sxy : ndarray
        Covariance per label, px^2; the variances include the 1/12 px^2 of a
        pixel's own extent, so a one-pixel label is not degenerate.
    dx, dy : ndarray
        Each pixel's offset from its label's centroid, px.
    """
    cnt = np.maximum(np.bincount(labels, minlength=n + 1), 1)
    mx = np.bincount(labels, xs, n + 1) / cnt
    my = np.bincount(labels, ys, n + 1) / cnt
    dx, dy = xs - mx[labels], ys - my[labels]
    sxx = np.bincount(labels, dx * dx, n + 1) / cnt + 1 / 12
    syy = np.bincount(labels, dy * dy, n + 1) / cnt + 1 / 12
    sxy = np.bincount(labels, dx * dy, n + 1) / cnt
    return cnt, mx, my, sxx, syy, sxy, dx, dy


def median(values):
    """``np.median`` of an array, bit-identical, without partitioning all of it (large float arrays).

    The median's one or two middle order statistics lie, for any but a
    pathological array, between the 48th and 52nd percentiles of a regular
    subsample: only the values in that bracket are partitioned (a 3 Mpx
    background: ~5 instead of ~20 ms). The result is their mean in the
    array's dtype, as numpy's. Falls back to ``np.median`` when the bracket
    misses them (or the array holds NaN).
    """
    v = np.asarray(values).ravel()
    n = v.size
    if n < 200_000 or v.dtype.kind != "f":
        return np.median(v)
    k_lo, k_hi = (n - 1) // 2, n // 2
    sub = np.sort(v[::max(1, n // 65_536)])
    lo, hi = sub[int(0.48 * sub.size)], sub[int(0.52 * sub.size)]
    below = np.count_nonzero(v < lo)
    cand = v[(v >= lo) & (v <= hi)]
    if not below <= k_lo < k_hi + 1 <= below + cand.size or below + cand.size + np.count_nonzero(v > hi) != n:
        return np.median(v)
    ks = sorted({k_lo - below, k_hi - below})
    part = np.partition(cand, ks)
    return np.mean(part[k_lo - below:k_hi - below + 1])


def contours_by_label(labels, n, *, simplify_px=0.7):
    """Outer contour of every label, as ``[[x, y], ...]`` lists (px).

    Labels that touch (two balls cut out of one mask, a ball against a via
    ring) are traced one by one: one pass over the union of all labels
    would give the first of them the group's outline and perimeter, and
    none to the others.

    Parameters
    ----------
    labels : ndarray of int32
    n : int
        Highest label.
    simplify_px : float
        Douglas-Peucker tolerance, px (keeps sidecars small).

    Returns
    -------
    contours : list of list, index = label (0 unused)
    perimeter : ndarray of float, shape (n + 1,)
        Perimeter of the outer contour, px.
    """
    out = [[] for _ in range(n + 1)]
    perim = np.zeros(n + 1)
    if n == 0:
        return out, perim
    mask = (labels > 0).view(np.uint8)   # a 0/1 view, no copy
    cs, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not cs:
        return out, perim
    # which outlines run along more than one label, for all outlines at once
    lengths = np.array([len(c) for c in cs])
    starts = np.concatenate(([0], np.cumsum(lengths[:-1])))
    pts = np.concatenate(cs)[:, 0, :]
    on = labels[pts[:, 1], pts[:, 0]]
    first = on[starts]
    shared = np.maximum.reduceat((on != np.repeat(first, lengths)).view(np.uint8), starts) > 0
    for c, k, touching, s in zip(cs, first.tolist(), shared.tolist(), starts.tolist()):
        if k <= 0:
            continue
        if touching:
            # the outline runs along other labels too: each is traced alone in
            # the group's box (one wholly inside the others, in a ring's hole,
            # is on no outer outline: callers trace it on its own)
            bx, by, bw, bh = cv2.boundingRect(c)
            for kk in np.unique(on[s:s + len(c)]).tolist():
                cont, p = contour_in_box(labels, kk, (bx, by, bx + bw, by + bh), simplify_px=simplify_px)
                if p > perim[kk]:
                    perim[kk], out[kk] = p, cont
            continue
        p = cv2.arcLength(c, True)
        if p > perim[k]:
            perim[k] = p
            out[k] = cv2.approxPolyDP(c, simplify_px, True)[:, 0, :].tolist()
    return out, perim


def contour_in_box(labels, k, box, *, simplify_px=0.7):
    """Outer contour (``[[x, y], ...]``, px) and perimeter of label ``k`` alone, looked for within ``box``.

    :func:`contours_by_label` traces the outline of every touching group of
    labels once, for the label it meets first: two balls cut out of one mask
    touch, and the second had no outline. ``box`` is ``(x0, y0, x1, y1)``,
    px, end exclusive, clipped to the image.
    """
    h, w = labels.shape
    x0, y0, x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0), min(int(box[2]), w), min(int(box[3]), h)
    if x1 <= x0 or y1 <= y0:
        return [], 0.0
    piece = (labels[y0:y1, x0:x1] == k).view(np.uint8)
    cs, _ = cv2.findContours(piece, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE, offset=(x0, y0))
    if not cs:
        return [], 0.0
    c = max(cs, key=lambda c: cv2.arcLength(c, True))
    return cv2.approxPolyDP(c, simplify_px, True)[:, 0, :].tolist(), float(cv2.arcLength(c, True))


def circularity(area, perimeter):
    """``4 pi area / perimeter^2``, clipped to [0, 1]; 0 where the perimeter is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(perimeter > 0, 4 * np.pi * area / np.maximum(perimeter, 1e-9) ** 2, 0.0)
    return np.clip(c, 0, 1)


def equivalent_diameter(area):
    """Diameter of the circle with the same area, px."""
    return 2 * np.sqrt(np.maximum(area, 0) / np.pi)

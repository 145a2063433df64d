"""False-colour exports: a grey radiograph shown through a colour palette, turned back into grey levels.

Viewers export what they display, and some display a radiograph through a
palette (a "rainbow" or "thermal" look-up table) to make faint contrast
visible. The luma of such a frame is not the grey it was made from: a
rainbow palette's luma rises and falls twice along the scale, so balls and
board get the same luma and the frame cannot be read. The palette's colours
lie on one curve through colour space, in the order of the grey levels they
show; the curve is found from the frame's own colours (no table of known
palettes is needed) and each pixel put back at its place along it.

The curve is the longest path through the minimum spanning tree of the
frame's colours (gathered in small cells); a colour's level is the rank of
the nearest point on that path among the frame's colours (each colour of a
lossless palette is one grey level, however far apart the palette spaces
them), and the path's darker end (by luma) is the low end of the scale;
should that be the wrong end, the frame reads as the other display polarity,
which scoring detects per frame.

Only a losslessly stored palette is read back: JPEG keeps colour at half
resolution and quantises it coarsely, so a palette frame's colours scatter
tens of colour units off the palette (the 90th percentile 70 units for a
rainbow at quality 90) and no curve through them can be trusted. Such a frame
is left to its luma, which is right for the palettes whose brightness rises
along the scale (grey, "bone", "hot", "viridis", "inferno").
"""

import numpy as np

#: Colours are gathered in cubic cells this many 8-bit colour units wide; a
#: cell's node is the mean colour of its pixels.
CELL = 6
#: Nodes of the palette's curve: at most this many of the fullest cells ...
MAX_NODES = 2048
#: ... each holding at least this share of the frame's pixels.
MIN_NODE_SHARE = 2e-6
#: The frame's colours must lie this close to the curve (Euclidean, in 8-bit
#: colour units) ...
FIT_DISTANCE = 4.0
#: ... for at least this share of its pixels: a frame that is not one palette
#: over one grey (a colour photograph, a composite, a JPEG of a palette frame:
#: 0.04-0.96 on development frames, lossless palette frames 0.999-1.000) is
#: left alone.
FIT_SHARE = 0.99
#: A palette's curve has at least this many nodes (a frame of a few flat
#: colours is a drawing, not a radiograph).
MIN_PATH_NODES = 16

#: Luma bins, 8-bit units wide, in which a folded palette shows two colours ...
FOLD_LUMA_BIN = 8
#: ... among those holding at least this share of the pixels (and 50 pixels:
#: a percentile of fewer is noise) ...
FOLD_MIN_SHARE = 0.002
FOLD_MIN_PIXELS = 50
#: ... as a spread of chroma (Cr or Cb, between the FOLD_PERCENTILES, 8-bit
#: units) of more than this. Development frames (4 BGA, 3 QFN) through 11
#: OpenCV palettes as JPEGs at quality 95 and 75: rainbows (jet, turbo,
#: rainbow) 136-186, palettes whose brightness rises along the scale 14-74.
#: The wide percentiles see a fold whose second branch holds a few % of a
#: bin (a frame using only the upper half of a rainbow: 10-90 % spread 75).
FOLD_CHROMA_SPREAD = 105.0
FOLD_PERCENTILES = (2, 98)

_LUMA = np.array([0.299, 0.587, 0.114])


def _tree_diameter_path(n, edges):
    """The longest (weighted) path through a tree given as ``(i, j, length)`` edges, as node indices."""
    adj = [[] for _ in range(n)]
    for i, j, w in edges:
        adj[i].append((j, w))
        adj[j].append((i, w))

    def farthest(start):
        dist = np.full(n, -1.0)
        parent = np.full(n, -1, int)
        dist[start] = 0.0
        stack = [start]
        while stack:
            u = stack.pop()
            for v, w in adj[u]:
                if dist[v] < 0:
                    dist[v] = dist[u] + w
                    parent[v] = u
                    stack.append(v)
        return int(np.argmax(dist)), parent

    a, _ = farthest(0)
    b, parent = farthest(a)
    path = [b]
    while path[-1] != a:
        path.append(int(parent[path[-1]]))
    return path[::-1]


def fit_palette(rgb):
    """A colour frame's palette curve: each pixel's place along it, and how well the colours lie on it.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Colour samples in R, G, B order, uint8 or uint16.

    Returns
    -------
    levels : ndarray of uint8, shape (rows, cols), or None
        Rank along the curve, 0 (the darker end) to 255; None when no curve
        of :data:`MIN_PATH_NODES` nodes was found.
    fit_share : float
        Share of the pixels within :data:`FIT_DISTANCE` of the curve, 0-1.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import cKDTree

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype.kind not in "ui":
        return None, 0.0
    unit = float(np.iinfo(rgb.dtype).max) / 255.0
    # 8-bit colour units throughout; a 16-bit palette is binned to them
    c8 = rgb.astype(np.uint32) if rgb.dtype == np.uint8 \
        else np.rint(rgb.astype(np.float32) / np.float32(unit)).astype(np.uint32)
    packed = (c8[..., 0] << 16) | (c8[..., 1] << 8) | c8[..., 2]
    colours, inverse, counts = np.unique(packed.ravel(), return_inverse=True, return_counts=True)
    cols = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1).astype(float)
    # nodes: the count-weighted mean colour of each cell, the fullest cells first
    side = 256 // CELL + 1
    q = (cols // CELL).astype(np.int64)
    _, cell_of = np.unique((q[:, 0] * side + q[:, 1]) * side + q[:, 2], return_inverse=True)
    n_cell = np.bincount(cell_of, weights=counts)
    mean = np.stack([np.bincount(cell_of, weights=counts * cols[:, k]) for k in range(3)], axis=1) / n_cell[:, None]
    order = np.argsort(n_cell)[::-1][:MAX_NODES]
    order = order[n_cell[order] >= max(1.0, MIN_NODE_SHARE * packed.size)]
    if order.size < MIN_PATH_NODES:
        return None, 0.0
    nodes = mean[order]
    d = np.sqrt(((nodes[:, None, :] - nodes[None, :, :]) ** 2).sum(-1))
    d[d == 0] = 1e-9                       # distinct nodes: no zero-length edge is lost as "no edge"
    np.fill_diagonal(d, 0.0)
    mst = coo_matrix(minimum_spanning_tree(d))
    path = _tree_diameter_path(len(nodes), zip(mst.row, mst.col, mst.data))
    if len(path) < MIN_PATH_NODES:
        return None, 0.0
    curve = nodes[path]
    # a polyline 1 colour unit fine, so that a colour between two nodes gets its place
    seg = np.sqrt((np.diff(curve, axis=0) ** 2).sum(1))
    along = np.concatenate([[0.0], np.cumsum(seg)])
    steps = np.maximum(1, np.ceil(seg)).astype(int)
    pts, pos = [curve[:1]], [along[:1]]
    for k in range(len(seg)):
        t = (np.arange(1, steps[k] + 1) / steps[k])[:, None]
        pts.append(curve[k] + t * (curve[k + 1] - curve[k]))
        pos.append(along[k] + t[:, 0] * seg[k])
    pts, pos = np.concatenate(pts), np.concatenate(pos)
    dist, idx = cKDTree(pts).query(cols)
    share = float(counts[dist <= FIT_DISTANCE].sum()) / packed.size
    # the colours' order along the curve, not their arc length: each of a lossless
    # palette's colours is one grey level, however far apart the palette spaces them
    _, rank = np.unique(pos[idx], return_inverse=True)
    level = rank / max(float(rank.max()), 1.0)
    if curve[-1] @ _LUMA < curve[0] @ _LUMA:
        level = 1.0 - level
    # 8-bit whatever the container: a palette's levels are a display's, not linear in dose
    lut = np.rint(level * 255.0).astype(np.uint8)
    return lut[inverse].reshape(rgb.shape[:2]), share


def palette_levels(rgb):
    """Grey levels of a losslessly stored false-colour frame, or None when it is not one.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Colour samples in R, G, B order, uint8 or uint16.

    Returns
    -------
    ndarray of uint8, shape (rows, cols), or None
        Each pixel's place along the palette's curve (:func:`fit_palette`);
        None when fewer than :data:`FIT_SHARE` of the pixels lie within
        :data:`FIT_DISTANCE` of it. The levels are the grey the palette was
        applied to up to a monotone mapping (equal when the frame uses every
        level of a 256-colour palette): the frame reads as a windowed 8-bit
        export.
    """
    levels, share = fit_palette(rgb)
    return levels if share >= FIT_SHARE else None


def palette_folds(rgb, max_samples=250_000):
    """Whether a colour frame's palette folds its brightness (one luma, two colours: a rainbow).

    Read from luma and chroma alone, which JPEG keeps well enough for it even
    where it scatters the colours too far for :func:`palette_levels`: such a
    frame's luma is not its grey, and its grey cannot be read back.

    Parameters
    ----------
    rgb : ndarray, shape (rows, cols, 3)
        Colour samples in R, G, B order, uint8 or uint16.
    max_samples : int
        Pixels looked at (an even sample of the frame).

    Returns
    -------
    bool
    """
    rgb = np.asarray(rgb)
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / max_samples)))
    c = rgb[::step, ::step, :3].reshape(-1, 3).astype(np.float32)
    if rgb.dtype != np.uint8:
        c *= np.float32(255.0 / np.iinfo(rgb.dtype).max)
    y = c @ _LUMA.astype(np.float32)
    chroma = (0.713 * (c[:, 0] - y), 0.564 * (c[:, 2] - y))      # Cr, Cb (BT.601) less their offset
    bins = (y // FOLD_LUMA_BIN).astype(int)
    counts = np.bincount(bins)
    for b in np.nonzero(counts >= max(FOLD_MIN_SHARE * y.size, FOLD_MIN_PIXELS))[0]:
        m = bins == b
        for ch in chroma:
            lo, hi = np.percentile(ch[m], FOLD_PERCENTILES)
            if hi - lo > FOLD_CHROMA_SPREAD:
                return True
    return False

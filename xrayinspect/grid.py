"""Fit the BGA pad grid to ball centroids and assign each ball its site.

The lattice ``p = origin + col * u + row * v`` is found in three steps, each
robust to missing balls, stray solder and misaligned balls: the rotation
from the nearest-neighbour directions (folded to 90 degrees with a 4-theta
circular mean), the pitch from their lengths, then an iteratively trimmed
least-squares fit of origin, ``u`` and ``v`` (an affine lattice, so the slight
anisotropy of an oblique view is absorbed), as the JEITA ED-7304 true-
position method does with a least-squares fitted grid.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree


@dataclass
class GridFit:
    """A fitted pad lattice in pixel coordinates.

    Attributes
    ----------
    origin : ndarray, shape (2,)
        Position of site (0, 0), px.
    u, v : ndarray, shape (2,)
        Steps from one column to the next and one row to the next, px.
    rows, cols : int
        Grid size (recipe or inferred).
    pitch_px : float
        Mean lattice step, px.
    angle_deg : float
        Rotation of the rows, degrees counter-clockwise as seen on screen.
    expected : set of tuple
        Sites that should carry a ball.
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    rows: int
    cols: int
    pitch_px: float
    angle_deg: float
    expected: set = field(default_factory=set)
    #: With no recipe: the sites found occupied when the lattice was fitted,
    #: and which sites can be judged empty and which neighbours are known
    #: (:func:`_isolated_holes`), so that lone holes can be looked for again
    #: once joints have been split and assigned (:meth:`holes_among`).
    occupied: set = field(default_factory=set)
    hole_seen: np.ndarray = None
    hole_known: np.ndarray = None
    #: A smooth bend of the lattice (``warp(rc) -> (k, 2)`` px for ``(row,
    #: col)`` pairs), measured on the seated balls when the imaging geometry
    #: curves the rows (:func:`xrayinspect.bga.lattice_warp`); None: straight.
    warp: object = None

    def holes_among(self, occupied):
        """Lone empty sites (missing balls) among ``occupied`` sites and those occupied at the fit.

        Empty with no recipe only (an empty set otherwise): the recipe says
        which sites carry a ball.
        """
        if self.hole_seen is None:
            return set()
        return _isolated_holes(set(occupied) | self.occupied, self.rows, self.cols, self.hole_seen,
                               known=self.hole_known)

    def site_xy(self, row, col):
        """Pixel position of a site (arrays allowed)."""
        row = np.asarray(row, float)[..., None]
        col = np.asarray(col, float)[..., None]
        xy = self.origin + col * self.u + row * self.v
        if self.warp is not None:
            row, col = np.broadcast_arrays(row, col)
            rc = np.stack([row[..., 0], col[..., 0]], -1)
            xy = xy + np.asarray(self.warp(rc.reshape(-1, 2)), float).reshape(rc.shape)
        return xy

    def as_dict(self):
        return {"origin_px": self.origin.tolist(), "u_px": self.u.tolist(), "v_px": self.v.tolist(),
                "rows": self.rows, "cols": self.cols, "pitch_px": self.pitch_px, "angle_deg": self.angle_deg}


#: A smooth field of ball offsets (a cubic in the site's row and column) is
#: taken off the offsets when the lattice has WARP_MIN_BALLS seated balls over
#: WARP_MIN_SPAN pitches of rows and of columns, and the field moves some site
#: by WARP_MIN_SHIFT of the pitch or more (None: not looked for).
WARP_MIN_BALLS = 100
WARP_MIN_SHIFT = 0.08
#: ... over this many pitches of rows and of columns at least (an 8 x 11
#: array's cubic bent towards a misaligned ball: 6,700,000+179)
WARP_MIN_SPAN = 11
#: ... and the field explains (within its 3 sigmas) this share of the balls or
#: more: a bend is smooth, a tiling band's step left in the coordinates is not
#: (robustness `noise` and `invert` frame 27: 116 false misaligned calls).
WARP_MIN_KEPT = 0.9
#: ... and the bend stands this many times the scatter of the balls about it
#: or more (a 4 % pincushion: 38 times; the tiled JPEG frame 27 of the
#: robustness set, its stitching bands' steps left in: 3 times untreated,
#: 5 times with noise added).
WARP_MIN_SNR = 10.0


def lattice_warp(sites, offsets, pitch_px, *, min_points=None):
    """Smooth displacement (px) of each seated ball's site, or None where the lattice is straight.

    An image intensifier bends straight rows outwards (pincushion: 4 % at
    the corner moves a corner ball of a 30 x 30 array a pitch and a half), a
    detector tilted to the beam shrinks the pitch across the frame
    (keystone); a single affine lattice then leaves the outer balls a third
    of a pitch off their sites, which reads as misalignment. The offsets of
    the seated balls are fitted with a cubic in the site's row and column,
    robustly (a misaligned ball is an outlier in it, not part of it).

    Parameters
    ----------
    sites : ndarray of int, shape (m, 2)
        ``(row, col)`` of each seated ball.
    offsets : ndarray, shape (m, 2)
        Ball centroid minus its affine site, px.
    pitch_px : float
        Lattice pitch, px.
    min_points : int, optional
        Fewest balls to fit (default :data:`WARP_MIN_BALLS`).

    Returns
    -------
    callable or None
        ``field(sites) -> (k, 2)`` displacement, px, of any ``(row, col)``
        sites (fractional allowed); None when fewer than
        :data:`WARP_MIN_BALLS` balls, a span under :data:`WARP_MIN_SPAN`, or no
        seated ball's site moves by :data:`WARP_MIN_SHIFT` pitches.
    """
    sites = np.asarray(sites, float).reshape(-1, 2)
    m = len(sites)
    lo, hi = (sites.min(0), sites.max(0)) if m else (np.zeros(2), np.zeros(2))
    if WARP_MIN_BALLS is None or m < (WARP_MIN_BALLS if min_points is None else min_points) \
            or (hi - lo).min() < WARP_MIN_SPAN or not pitch_px > 0:
        return None
    mid, half = 0.5 * (lo + hi), np.maximum(0.5 * (hi - lo), 1.0)

    def design(rc):
        rc = np.asarray(rc, float).reshape(-1, 2)
        r = (rc[:, 0] - mid[0]) / half[0]
        c = (rc[:, 1] - mid[1]) / half[1]
        return np.column_stack([np.ones(len(rc)), c, r, c * c, c * r, r * r, c ** 3, c * c * r, c * r * r, r ** 3])

    A = design(sites)
    keep = np.ones(m, bool)
    for _ in range(4):
        if keep.sum() < 2 * A.shape[1]:
            return None
        coef, *_ = np.linalg.lstsq(A[keep], offsets[keep], rcond=None)
        res = np.hypot(*(offsets - A @ coef).T)
        sigma = 1.4826 * float(np.median(res[keep])) + 1e-6
        keep = res < max(3.0 * sigma, 0.05 * pitch_px)
    if keep.mean() < WARP_MIN_KEPT:
        return None         # not smooth: a step (a stitching band the collapse missed), or no lattice
    # the constant and linear terms are the affine fit's to make: only what bends counts
    bend = A[:, 3:] @ coef[3:]
    if float(np.hypot(*bend.T).max()) < max(WARP_MIN_SHIFT * pitch_px, WARP_MIN_SNR * sigma):
        return None
    return lambda rc: design(rc) @ coef


#: Start the lattice fit from the two steps measured apart (:func:`lattice_steps`),
#: not one pitch at the rows' angle (False).
AFFINE_START = True
#: ... but only where the measured steps put at least as many balls on the
#: lattice as one pitch at the rows' angle does (False: always the steps). A
#: few strays among few balls (a tiled frame whose bands cut every other
#: column) can make the steps' median a vector no lattice has.
AFFINE_START_VOTE = True
#: Where the neighbours' spacing is not within 0.7-1.4 of a recipe's pitch,
#: a basis of the recipe's pitch at the rows' angle is voted on as well (the
#: one that seats more balls starts the fit). Development frame 6,700,000+1
#: (a 4 x 4 array of 90 px balls at a 160 px pitch, chip capacitors on the
#: board's far side across its gaps): their end caps made the neighbours'
#: spacing 92 px and the recipe's pitch was set aside; the lattice was fitted
#: at 92 px (10 sites, 7 false missing; without a recipe the frame still reads
#: as a QFN) (False: the recipe's pitch only where the neighbours agree).
RECIPE_PITCH_VOTE = True


def _neighbours(points):
    """Vectors (px) to each point's four nearest neighbours and their lengths: ``(n, k, 2)``, ``(n, k)``."""
    d, i = cKDTree(points).query(points, k=min(5, len(points)))
    return points[i[:, 1:]] - points[:, None, :], d[:, 1:]


def lattice_orientation(points, neighbours=None):
    """Pitch (px) and rotation (radians, image coordinates) of a square lattice of points.

    ``neighbours``: :func:`_neighbours` of ``points``, when already found.
    """
    vec, length = neighbours if neighbours is not None else _neighbours(points)
    nn = np.median(length[:, 0])
    ok = (length > 0.75 * nn) & (length < 1.3 * nn)
    if not ok.any():
        # fewer than 5 points, or coincident ones (nn = 0): the nearest
        # neighbours alone still give a pitch and an angle
        ok = np.zeros_like(ok)
        ok[:, 0] = length[:, 0] > 0
    if not ok.any():
        return 0.0, 0.0
    vec, length = vec[ok], length[ok]
    theta = np.arctan2(vec[:, 1], vec[:, 0])
    z = np.exp(4j * theta).mean()
    angle = np.angle(z) / 4.0
    return float(np.median(length)), float(angle)


def lattice_steps(points, angle, neighbours=None):
    """Median steps (px) along the two lattice directions, measured apart: ``(u, v)`` or None.

    An oblique view tilted across a rotated array shears and squeezes its
    square lattice (at 35 degrees the rows come 0.82 as close as the columns,
    and no longer at right angles): one pitch for both directions puts every
    row a fifth of a step further off than the last. ``angle`` (radians) is
    the rows' direction; neighbour vectors within 45 degrees of it are the
    column steps, the rest the row steps. ``neighbours``: :func:`_neighbours`
    of ``points``, when already found.
    """
    vec, length = neighbours if neighbours is not None else _neighbours(points)
    if length.shape[1] < 2:
        return None
    nn = np.median(length[:, 0])
    vec, length = vec.reshape(-1, 2), length.ravel()
    vec = vec[(length > 0.6 * nn) & (length < 1.45 * nn)]
    rel = np.mod(np.arctan2(vec[:, 1], vec[:, 0]) - angle, np.pi)
    along_u = (rel < np.pi / 4) | (rel > 3 * np.pi / 4)
    du = np.array([np.cos(angle), np.sin(angle)])
    dv = np.array([-np.sin(angle), np.cos(angle)])
    steps = []
    for sel, axis in ((along_u, du), (~along_u, dv)):
        g = vec[sel]
        if len(g) < 3:
            return None
        g = np.where((g @ axis)[:, None] < 0, -g, g)
        steps.append(np.median(g, 0))
    return steps[0], steps[1]


def fit_lattice(points, *, pitch_px=None, iterations=4):
    """Fit ``origin, u, v`` and integer ``(row, col)`` indices to points.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
        Ball centroids ``(x, y)``, px.
    pitch_px : float, optional
        Known pitch (from the recipe); estimated when None.

    Returns
    -------
    origin, u, v : ndarray
    idx : ndarray of int, shape (n, 2)
        ``(row, col)`` of each point relative to an arbitrary start.
    inlier : ndarray of bool
    """
    # one neighbour search for the angle, the pitch and the two steps
    neighbours = _neighbours(points)
    pitch, ang = lattice_orientation(points, neighbours)
    # the recipe's pitch replaces the neighbours' spacing where they agree;
    # where they do not, it is put to the vote (RECIPE_PITCH_VOTE)
    recipe_voted = False
    if pitch_px and 0.7 < pitch / pitch_px < 1.4:
        pitch = float(pitch_px)
    elif pitch_px and RECIPE_PITCH_VOTE:
        recipe_voted = True
    u = pitch * np.array([np.cos(ang), np.sin(ang)])
    v = pitch * np.array([-np.sin(ang), np.cos(ang)])
    bases = [(u, v)]
    if recipe_voted:
        # the neighbours measured another spacing than the recipe's pitch
        # (parts or their end caps between large balls): the recipe's pitch
        # at the rows' angle is put to the vote as well
        bases.append(tuple(float(pitch_px) / pitch * w for w in (u, v)))
    if AFFINE_START:
        steps = lattice_steps(points, ang, neighbours)
        if steps is not None:
            su, sv = steps
            # trusted where both steps are near the pitch (a recipe's, or the
            # neighbours'): a squeeze of an oblique view, not another lattice
            if all(0.6 < np.hypot(*w) / pitch < 1.4 for w in (su, sv)):
                bases = [(su, sv)] + (bases if AFFINE_START_VOTE else [])
    # start from the point that puts the most others on the lattice (a stray
    # blob near the middle would otherwise shift every index); of the start
    # bases, the one that puts the most there (the steps on a tie)
    c = np.median(points, 0)
    cand = np.argsort(((points - c) ** 2).sum(1))[:12]
    best = -1
    for bu, bv in bases:
        basis = np.stack([bu, bv], 1)
        if abs(np.linalg.det(basis)) < 1e-9:
            continue
        for i in cand:
            rc = np.linalg.solve(basis, (points - points[i]).T).T
            hits = int((np.abs(rc - np.round(rc)).max(1) < 0.2).sum())
            if hits > best:
                best, origin, u, v = hits, points[i].copy(), bu, bv
    if best < 0:
        raise np.linalg.LinAlgError("no lattice basis")
    if recipe_voted and abs(np.hypot(*u) / pitch_px - 1) < 0.05:
        pitch = float(pitch_px)         # (the recipe's basis won: its residual cuts too)
    inlier = np.ones(len(points), bool)
    for it in range(iterations):
        basis = np.stack([u, v], 1)
        rc = np.linalg.solve(basis, (points - origin).T).T     # (col, row) in lattice units
        idx = np.round(rc).astype(int)
        pred = origin + idx[:, :1] * u + idx[:, 1:] * v
        res = np.hypot(*(points - pred).T)
        cut = [0.3, 0.2, 0.12, 0.1][min(it, 3)] * pitch
        inlier = res < max(cut, 1.0)
        if inlier.sum() < 3:
            break
        A = np.column_stack([np.ones(inlier.sum()), idx[inlier, 0], idx[inlier, 1]])
        sol, *_ = np.linalg.lstsq(A, points[inlier], rcond=None)
        origin, u, v = sol[0], sol[1], sol[2]
    basis = np.stack([u, v], 1)
    rc = np.linalg.solve(basis, (points - origin).T).T
    idx = np.round(rc).astype(int)
    if WARP_MIN_BALLS is not None and inlier.sum() >= 3:
        # a lattice bent by the imaging geometry leaves its outer rows further
        # off the straight lattice than the last cut: measured on the points
        # near their sites, the bend decides which are on the lattice
        pred = origin + idx[:, :1] * u + idx[:, 1:] * v
        near = np.hypot(*(points - pred).T) < 0.45 * pitch
        warp = lattice_warp(idx[near, ::-1], (points - pred)[near], pitch)
        if warp is not None:
            res = np.hypot(*(points - pred - warp(idx[:, ::-1])).T)
            inlier = res < max(0.1 * pitch, 1.0)
    return origin, u, v, idx[:, ::-1], inlier


def canonical(origin, u, v, idx):
    """Re-express a lattice so columns run right and rows down, within +-45 degrees.

    Returns
    -------
    origin, u, v, idx
        ``idx`` as ``(row, col)`` with the same points.
    """
    # candidate step vectors: +-u, +-v; columns = the one closest to +x
    cands = {"u": u, "-u": -u, "v": v, "-v": -v}
    name = max(cands, key=lambda k: cands[k][0] / np.linalg.norm(cands[k]))
    ucol = cands[name]
    rows_name = max((k for k in cands if k.strip("-") != name.strip("-")), key=lambda k: cands[k][1])
    vrow = cands[rows_name]
    r, c = idx[:, 0], idx[:, 1]   # r along v, c along u
    along = {"u": c, "-u": -c, "v": r, "-v": -r}
    new_c = along[name]
    new_r = along[rows_name]
    return origin, ucol, vrow, np.stack([new_r, new_c], 1)


def angle_ccw_deg(ucol):
    """Screen angle of the column direction, degrees CCW (y axis points down)."""
    return float(np.degrees(np.arctan2(-ucol[1], ucol[0])))


def inside_frame(xy, shape, margin, valid=None, valid_margin=None):
    """Whether points lie at least ``margin`` px inside the frame (and in valid pixels).

    ``valid`` is read at the point and ``valid_margin`` px (default
    ``margin``) either side of it along both axes, clipped to the frame.
    """
    h, w = shape
    x, y = xy[..., 0], xy[..., 1]
    ok = (x >= margin - 0.5) & (y >= margin - 0.5) & (x <= w - 0.5 - margin) & (y <= h - 0.5 - margin)
    if valid is not None and ok.any():
        xi = np.clip(np.round(x).astype(int), 0, w - 1)
        yi = np.clip(np.round(y).astype(int), 0, h - 1)
        m = int(max(1, margin if valid_margin is None else valid_margin))
        # a site is unusable when an invalid band passes within its radius
        for dx, dy in ((0, 0), (m, 0), (-m, 0), (0, m), (0, -m)):
            ok &= valid[np.clip(yi + dy, 0, h - 1), np.clip(xi + dx, 0, w - 1)]
    return ok


def fit_grid(points, *, shape, pitch_px=None, rows=None, cols=None, depopulated=(), valid=None,
             radius_px=5.0, other_points=None, edge_points=None, lattice_shape=None, covered=None):
    """Fit the package grid and number its sites.

    Parameters
    ----------
    points : ndarray, shape (n, 2)
        Centroids of the ball-like joints, px.
    shape : tuple
        Frame shape, for sites cut by the edge.
    pitch_px : float, optional
        Pitch from the recipe, px.
    rows, cols : int, optional
        Grid size from the recipe; inferred from the balls when None.
    depopulated : iterable of (row, col)
        Sites with no ball by design.
    valid : ndarray of bool, optional
        Usable pixels (stitching bands are not).
    radius_px : float
        Typical ball radius, px: sites closer than this to the edge are not judged.
    other_points : ndarray, shape (m, 2), optional
        Centroids of the other solder blobs (not used for the fit). When the
        seen part of a grid must be placed in the recipe's larger grid, a
        site with any blob on it counts as occupied, so balls the fit left
        out (cut, obstructed) still place the grid.
    edge_points : ndarray, shape (k, 2), optional
        Centroids of the joints cut by the frame's edge or a stitching band,
        px. They are not among ``points``; with no recipe, a site with one on
        it counts as occupied when sparse outer rows and columns are trimmed.
    lattice_shape : tuple, optional
        The frame's shape in the points' coordinates when those are the
        frame's less its stitching bands (default ``shape``): where the
        frame's edges are, for sites cut by them.
    covered : ndarray, optional
        Joint labels in the points' coordinates (non-zero: under some
        blob's mask). When the seen part must be placed in the recipe's
        grid, a site with one within ``radius_px`` counts as occupied (see
        :data:`COVERED_OCCUPIED`).

    Returns
    -------
    fit : GridFit or None
        None when fewer than 4 balls form a lattice.
    idx : ndarray of int, shape (n, 2)
        ``(row, col)`` of each point in the fitted numbering.
    """
    if len(points) < 4:
        return None, np.full((len(points), 2), -1)
    try:
        origin, u, v, idx, inlier = fit_lattice(points, pitch_px=pitch_px)
    except (np.linalg.LinAlgError, ValueError, IndexError):
        return None, np.full((len(points), 2), -1)       # no lattice in these points
    if not (np.isfinite(u).all() and np.isfinite(v).all()) or abs(u[0] * v[1] - u[1] * v[0]) < 1e-6:
        return None, np.full((len(points), 2), -1)
    origin, u, v, idx = canonical(origin, u, v, idx)
    inlier &= _main_cluster(idx, inlier)
    if EDGE_SIDE_TOLERANCE is not None:
        edge_points = _cut_from_their_site(edge_points, origin, u, v,
                                           shape if lattice_shape is None else lattice_shape, radius_px)
    if not (rows and cols) and TRIM_SHARE is not None:
        inlier = _trim_sparse_edges(idx, inlier, origin, u, v, shape, radius_px, valid, edge_points)
    if inlier.sum() < 4:
        return None, np.full((len(points), 2), -1)
    rmin, cmin = idx[inlier].min(0)
    rmax, cmax = idx[inlier].max(0)
    if not (rows and cols) and EDGE_LINE_SHARE is not None:
        rmin, cmin, rmax, cmax = _edge_lines(edge_points, origin, u, v, (rmin, cmin, rmax, cmax))
    nrow, ncol = rmax - rmin + 1, cmax - cmin + 1
    if rows and cols and (nrow > rows or ncol > cols):
        # more lattice than the recipe: keep the recipe-sized window with the most balls
        best = None
        for r0 in range(rmin, max(rmin, rmax - rows + 1) + 1):
            for c0 in range(cmin, max(cmin, cmax - cols + 1) + 1):
                inside = inlier & (idx[:, 0] >= r0) & (idx[:, 0] < r0 + rows) & (idx[:, 1] >= c0) & (idx[:, 1] < c0 + cols)
                if best is None or inside.sum() > best[0].sum():
                    best = (inside, r0, c0)
        inlier = best[0]
        rmin, cmin = idx[inlier].min(0)
        rmax, cmax = idx[inlier].max(0)
        nrow, ncol = rmax - rmin + 1, cmax - cmin + 1
    depop = {tuple(x) for x in depopulated}
    shift = (0, 0)
    if rows and cols and (nrow <= rows and ncol <= cols):
        # place the seen part in the recipe's grid (scored by _place_in_recipe)
        shift, outside = _place_in_recipe(idx[inlier] - [rmin, cmin], nrow, ncol, rows, cols, depop,
                                          origin + rmin * v + cmin * u, u, v, shape, radius_px, valid,
                                          other_points, covered,
                                          edge_shape=shape if lattice_shape is None else lattice_shape)
        if outside.any():
            # lattice points beyond the package's grid are not its balls
            # (parts or strays that happen to sit on the lattice)
            inlier[np.flatnonzero(inlier)[outside]] = False
        nrow, ncol = rows, cols
    elif rows and cols:
        nrow, ncol = max(nrow, rows), max(ncol, cols)
    origin = origin + (rmin - shift[0]) * v + (cmin - shift[1]) * u
    idx = idx - [rmin - shift[0], cmin - shift[1]]
    idx[~inlier] = -1
    fit = GridFit(origin=origin, u=u, v=v, rows=int(nrow), cols=int(ncol),
                  pitch_px=float(0.5 * (np.linalg.norm(u) + np.linalg.norm(v))), angle_deg=angle_ccw_deg(u))
    rr, cc = np.mgrid[0:fit.rows, 0:fit.cols]
    xy = fit.site_xy(rr, cc)
    seen = inside_frame(xy, shape, radius_px, valid)
    occ = {tuple(x) for x in idx[inlier]}
    # (a tiling band is not an edge: sites across it are known, the lattice
    # runs on in the next tile; one within a ball's radius of a band is not
    # judged, a ball there may be cut away)
    edge_shape = shape if lattice_shape is None else lattice_shape
    edge_seen = inside_frame(xy, edge_shape, EDGE_HOLE_MARGIN * radius_px, valid,
                             valid_margin=radius_px) if EDGE_HOLES else seen
    if depop or (rows and cols):
        # a site whose centre is in the frame shows enough of a ball to tell
        # it is there, as without a recipe
        judged = _recipe_judged(xy, shape, edge_shape, radius_px, valid)
        fit.expected = {(r, c) for r in range(fit.rows) for c in range(fit.cols)
                        if judged[r, c] and (r, c) not in depop}
    else:
        # a site cut by the frame's edge is still a hole when the balls around
        # it (some of them cut too) are there: a ball on it would show as much
        # of itself as the frame holds
        if EDGE_HOLES:
            fit.occupied = occ | _edge_sites(edge_points, fit)
            fit.hole_seen = edge_seen
            fit.hole_known = inside_frame(xy, edge_shape, 0.0)
        else:
            fit.occupied, fit.hole_seen = set(occ), seen
        holes = fit.holes_among(set())
        fit.expected = {rc for rc in occ} | holes
    return fit, idx


#: With no recipe, a lone empty site whose centre is in the frame but within a
#: ball's radius of its edge is missing like any other (False: such sites are
#: not judged). The balls cut by the edge around it count as its neighbours.
EDGE_HOLES = True
#: ... when its centre is at least this many ball radii inside the frame: a
#: lattice extrapolated to the edge may put a site a pixel inside it whose
#: ball lies a pixel outside, showing a sliver too thin to find.
EDGE_HOLE_MARGIN = 0.25
#: With a recipe, an expected site is judged (a ball there or missing) on the
#: same terms: its centre EDGE_HOLE_MARGIN ball radii inside the frame (False:
#: a whole ball radius inside, so a missing ball on a column the frame's edge
#: cuts was never called).
RECIPE_EDGE_SITES = True


#: With no recipe, the row or column just outside the fitted lattice is the
#: package's when joints cut by the frame's edge stand on at least this share
#: of its sites beside the lattice (and on 2 or more): a last column the edge
#: cuts by a few px holds no whole ball to fit, and a missing ball there was
#: never looked for (None: the lattice spans whole balls only).
EDGE_LINE_SHARE = 0.5


#: With a recipe, a ball-like blob on the fitted lattice but outside the
#: recipe's grid counts this many empty sites against a placement of the seen
#: part in the grid (None: the grid holds every blob on the lattice), as a
#: ball on a depopulated site does: a part or a stray two rows beyond an array
#: cut by the frame's edge stretched the seen part, and the one placement left
#: put the array two rows off (development frame (6,740,000,
#: 172): 82 false missing sites).
OUTSIDE_WEIGHT = 6
#: ... and a site with some blob's mask (a via ring, a part) within a ball's
#: radius of its centre counts as occupied, not as empty (False: only a
#: blob's centroid within 0.3 of a pitch of the site does). Fresh development frame
#: (6,750,000, 196): the last column of a 9 x 8 array lies under a column of
#: large rings; the seen 9 x 7 part was placed one column over, leaving the
#: empty board beside the array as 9 false missing sites.
COVERED_OCCUPIED = True
#: ... and a site counts as seen in the placement on the terms its call is
#: judged on afterwards (:data:`RECIPE_EDGE_SITES`: its centre a quarter of
#: a ball's radius inside the frame), not only when its whole ball is (False).
#: Fresh development frame (6,790,000, 103): an 8 x 8 array cut by the
#: frame's right edge, the seen 7 x 7 part; the column beyond each side was
#: out of the frame by the whole-ball rule, the two placements tied and the
#: larger shift put the array one column over: its first column, its centres
#: 23 px inside the frame on bare board, read as 7 false missing sites.
PLACE_AS_JUDGED = True


def _recipe_judged(xy, shape, edge_shape, radius_px, valid):
    """Which sites ``xy`` (..., 2; px) a recipe's expected-site call is judged at.

    Those whose centre lies :data:`EDGE_HOLE_MARGIN` ball radii inside
    ``edge_shape`` (the edges that cut the lattice) with
    :data:`RECIPE_EDGE_SITES` and :data:`EDGE_HOLES`, else those whose whole
    ball (``radius_px``) lies inside ``shape``; invalid pixels (``valid``
    False) within a ball's radius leave a site out either way.
    """
    if RECIPE_EDGE_SITES and EDGE_HOLES:
        return inside_frame(xy, edge_shape, EDGE_HOLE_MARGIN * radius_px, valid, valid_margin=radius_px)
    return inside_frame(xy, shape, radius_px, valid)


def _near_mask(labels, xy, radius_px):
    """Whether some mask pixel (``labels`` non-zero) lies within a ball's radius of each point.

    ``xy`` (..., 2) are px; "within" is the elliptical kernel of side
    ``2 ceil(radius_px) + 1`` centred on the rounded point, pixels outside
    the frame left out. Read at the points only: dilating the whole frame
    by a 111 px kernel took 0.25 s at 2048 px.
    """
    import cv2

    k = 2 * int(np.ceil(radius_px)) + 1
    dy, dx = np.nonzero(cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    dy, dx = dy - k // 2, dx - k // 2
    h, w = labels.shape
    xi = np.round(xy[..., 0]).astype(int).ravel()
    yi = np.round(xy[..., 1]).astype(int).ravel()
    out = np.zeros(xi.size, bool)
    todo = np.flatnonzero((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h))
    step = max(1, (1 << 20) // dy.size)            # about a million samples at a time
    for i in range(0, todo.size, step):
        j = todo[i:i + step]
        yy, xx = yi[j, None] + dy[None, :], xi[j, None] + dx[None, :]
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        out[j] = (ok & (labels[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)] != 0)).any(axis=1)
    return out.reshape(xy.shape[:-1])


def _place_in_recipe(rel, nrow, ncol, rows, cols, depop, origin, u, v, shape, radius_px, valid,
                     other_points=None, covered=None, edge_shape=None):
    """Shift ``(row, col)`` of the seen part in the recipe's grid, and which of its balls fall outside it.

    Each placement is scored by the in-frame expected sites it leaves empty,
    plus 6 per ball on a depopulated site (strong evidence against it; an
    empty site may just be hidden) and :data:`OUTSIDE_WEIGHT` per ball
    outside the grid; ties go to the larger shift, as the placements inside
    the grid always did.

    Parameters
    ----------
    rel : ndarray of int, shape (m, 2)
        ``(row, col)`` of the seen balls, from 0 at the seen part's first row and column.
    nrow, ncol : int
        Seen part's rows and columns.
    rows, cols : int
        Recipe grid.
    depop : set of (int, int)
        Depopulated recipe sites.
    origin, u, v : ndarray
        Frame px of the seen part's site (0, 0) and the column and row steps, px.
    shape, radius_px, valid :
        As :func:`fit_grid` (which sites are in the frame).
    other_points : ndarray, shape (k, 2), optional
        Other blobs, px: a site with one on it counts as occupied.
    covered : ndarray, optional
        Joint labels (non-zero: under some blob): a site with such a pixel
        within ``radius_px`` of its centre counts as occupied
        (:data:`COVERED_OCCUPIED`).
    edge_shape : tuple, optional
        Shape whose edges cut the lattice (the frame's, or a tiled
        composite's): with :data:`PLACE_AS_JUDGED`, a site counts as seen
        on the terms the expected sites are judged on afterwards.

    Returns
    -------
    shift : tuple of int
        Recipe row and column of the seen part's site (0, 0).
    outside : ndarray of bool, shape (m,)
        Balls outside the recipe's grid at that shift.
    """
    # the seen part's lattice extended by the recipe's size on every side
    er, ec = nrow + 2 * rows, ncol + 2 * cols
    rr, cc = np.mgrid[-rows:nrow + rows, -cols:ncol + cols]
    xy = origin + cc[..., None] * u + rr[..., None] * v
    if PLACE_AS_JUDGED:
        seen = _recipe_judged(xy, shape, shape if edge_shape is None else edge_shape, radius_px, valid)
    else:
        seen = inside_frame(xy, shape, radius_px, valid)
    occ = np.zeros((er, ec), bool)
    occ[rel[:, 0] + rows, rel[:, 1] + cols] = True
    balls = occ.copy()
    if other_points is not None and len(other_points):
        # each blob marks the site it lies within 0.3 of a pitch of
        pts = np.asarray(other_points, float)
        col, row = np.linalg.solve(np.stack([u, v], 1), (pts - origin).T)
        ri, ci = np.round(row).astype(int), np.round(col).astype(int)
        off = np.hypot(*(pts - (origin + ci[:, None] * u + ri[:, None] * v)).T)
        ok = (off < 0.3 * float(np.linalg.norm(u))) & (ri >= -rows) & (ri < nrow + rows) \
            & (ci >= -cols) & (ci < ncol + cols)
        occ[ri[ok] + rows, ci[ok] + cols] = True
    if COVERED_OCCUPIED and covered is not None:
        # a site under a ring or a part may hold a ball hidden by it; an
        # empty site on clear board holds none
        # (read only where nothing marked the site yet)
        occ[~occ] = _near_mask(covered, xy[~occ], radius_px)
    dep = np.zeros((rows, cols), bool)
    for r, c in depop:
        if 0 <= r < rows and 0 <= c < cols:
            dep[r, c] = True
    gap = seen & ~occ
    # balls inside the window of every shift, from one summed-area table
    table = np.zeros((er + 1, ec + 1), np.int64)
    table[1:, 1:] = balls.cumsum(0).cumsum(1)
    srs = np.arange(-(nrow - 1), rows)
    scs = np.arange(-(ncol - 1), cols)
    r0, c0 = (rows - srs)[:, None], (cols - scs)[None, :]
    in_win = table[r0 + rows, c0 + cols] - table[r0, c0 + cols] - table[r0 + rows, c0] + table[r0, c0]
    outside = int(balls.sum()) - in_win
    whole = ((srs >= 0) & (srs <= rows - nrow))[:, None] & ((scs >= 0) & (scs <= cols - ncol))[None, :]

    def score(i, j):
        sr, sc = int(srs[i]), int(scs[j])
        a, b = rows - sr, cols - sc
        empty = int((gap[a:a + rows, b:b + cols] & ~dep).sum())
        clash = int((occ[a:a + rows, b:b + cols] & dep).sum())
        # ties go to a placement that holds every ball, then to the larger shift
        return (empty + 6 * clash + (OUTSIDE_WEIGHT or 0) * int(outside[i, j]), not whole[i, j], -sr - sc), sr, sc

    best = min(score(i, j) for i, j in zip(*np.nonzero(whole)))
    if OUTSIDE_WEIGHT is not None:
        # a placement leaving balls outside is scored only where those alone
        # would not already lose to the best placement holding every ball
        for i, j in zip(*np.nonzero(~whole & (OUTSIDE_WEIGHT * outside < best[0][0]) & (in_win > 0))):
            best = min(best, score(i, j))
    sr, sc = best[1], best[2]
    r, c = rel[:, 0] + sr, rel[:, 1] + sc
    return (sr, sc), (r < 0) | (r >= rows) | (c < 0) | (c >= cols)


#: A joint cut by the frame's edge stands for a ball on its site only if its
#: centroid lies no nearer that edge than the site, less this share of the
#: pitch: the edge takes a ball's far side off, so what is left of it lies
#: inland of its centre. Via rings cut by the edge beyond the array's last
#: row stand on the outer side of the next row's sites and had added that row
#: to the grid as missing balls (None: any cut joint near a site counts).
EDGE_SIDE_TOLERANCE = 0.1


def _cut_from_their_site(edge_points, origin, u, v, shape, radius_px):
    """The edge joints (centroids, px) that a ball on their nearest site, cut by the frame's edge, could leave.

    Only joints within 1.5 ball radii (``radius_px``) of the frame's border
    (``shape``, in the points' coordinates) are judged; the others are cut by
    a stitching band, whose side is not known here, and kept.
    """
    if edge_points is None or not len(edge_points):
        return edge_points
    pts = np.asarray(edge_points, float)
    frac, near = _lattice_coords(pts, origin, u, v)
    site = origin + near @ np.stack([u, v])            # the nearest site's centre, px
    h, w = shape
    tol = EDGE_SIDE_TOLERANCE * float(np.linalg.norm(u))
    keep = np.ones(len(pts), bool)
    for axis, size in ((0, w), (1, h)):
        # distances (px) of the joint's centroid and of its site from each
        # of the two borders across this axis
        for own, its_site in ((pts[:, axis], site[:, axis]), (size - 1 - pts[:, axis], size - 1 - site[:, axis])):
            keep &= ~((own <= 1.5 * radius_px) & (own < its_site - tol))
    return pts[keep]


def _edge_lines(edge_points, origin, u, v, extent):
    """The lattice's extent ``(rmin, cmin, rmax, cmax)`` grown by the outer lines that edge joints fill."""
    rmin, cmin, rmax, cmax = (int(e) for e in extent)
    if edge_points is None or not len(edge_points):
        return rmin, cmin, rmax, cmax
    rc = _sites_of(edge_points, origin, u, v)
    rows_in = (rc[:, 0] >= rmin) & (rc[:, 0] <= rmax)
    cols_in = (rc[:, 1] >= cmin) & (rc[:, 1] <= cmax)

    def filled(on_line, length):
        n = len({tuple(x) for x in rc[on_line]})
        return n >= 2 and n >= EDGE_LINE_SHARE * length

    grown = (rmin - filled(cols_in & (rc[:, 0] == rmin - 1), cmax - cmin + 1),
             cmin - filled(rows_in & (rc[:, 1] == cmin - 1), rmax - rmin + 1),
             rmax + filled(cols_in & (rc[:, 0] == rmax + 1), cmax - cmin + 1),
             cmax + filled(rows_in & (rc[:, 1] == cmax + 1), rmax - rmin + 1))
    return tuple(int(g) for g in grown)


def _sites_of(points, origin, u, v):
    """Lattice sites ``(row, col)`` (int array, shape (k, 2)) of the points within 0.3 of a step of one.

    A joint cut by the frame's edge keeps its centroid inside its site's disc.
    """
    frac, near = _lattice_coords(points, origin, u, v)
    on = np.hypot(*(np.stack([u, v], 1) @ (frac - near).T)) < 0.3 * float(np.linalg.norm(u))
    return near[on][:, ::-1].astype(int)


def _lattice_coords(points, origin, u, v):
    """Points (px) in lattice units ``(col, row)``, and the nearest whole site's, float arrays (k, 2)."""
    frac = np.linalg.solve(np.stack([u, v], 1), (np.asarray(points, float) - origin).T).T
    return frac, np.round(frac)


def _edge_sites(edge_points, fit):
    """Sites ``(row, col)`` of the fit that hold a joint cut by the frame's edge (centroids, px)."""
    if edge_points is None or not len(edge_points):
        return set()
    return {(int(r), int(c)) for r, c in _sites_of(edge_points, fit.origin, fit.u, fit.v)
            if 0 <= r < fit.rows and 0 <= c < fit.cols}


#: With no recipe, an outer row or column of the fitted lattice holding fewer
#: balls than this share of a typical row's (or column's), per in-frame site,
#: is not the package's: via rings and parts beside the array that fall near
#: lattice positions extended it by a sparse line or two, whose members were
#: then called misaligned balls (None: keep every line).
TRIM_SHARE = 0.3
#: ... among lines of at least this many sites (in the frame or not).
TRIM_MIN_SITES = 8


def _trim_sparse_edges(idx, inlier, origin, u, v, shape, radius_px, valid, edge_points=None):
    """Drop sparse outer rows and columns from the lattice's points, one at a time.

    Parameters
    ----------
    idx : ndarray of int, shape (n, 2)
        ``(row, col)`` of each point.
    inlier : ndarray of bool, shape (n,)
        Points on the lattice.
    origin, u, v : ndarray
        Lattice origin and column and row steps, px.
    shape, radius_px, valid
        As for :func:`inside_frame`: which sites the frame shows.
    edge_points : ndarray, shape (m, 2), optional
        Joints cut by the frame's edge, px: a site with one on it is occupied
        (they are not among the lattice's points, and the row they stand in
        is the package's). Other blobs are not counted: the rings that make
        a sparse line lie near its sites too.

    Returns
    -------
    ndarray of bool
        The inliers left.
    """
    inlier = inlier.copy()
    edge_rc = None
    if edge_points is not None and len(edge_points):
        edge_rc = _sites_of(edge_points, origin, u, v)
    while inlier.sum() >= 4:
        sites = idx[inlier]
        lo, hi = sites.min(0), sites.max(0)
        nrow, ncol = hi - lo + 1
        if nrow < 3 or ncol < 3:
            break
        occ = np.zeros((nrow, ncol), bool)
        occ[tuple((sites - lo).T)] = True
        if edge_rc is not None:
            o = edge_rc - lo
            o = o[(o[:, 0] >= 0) & (o[:, 0] < nrow) & (o[:, 1] >= 0) & (o[:, 1] < ncol)]
            occ[tuple(o.T)] = True
        rr, cc = np.mgrid[0:nrow, 0:ncol]
        xy = origin + (cc + lo[1])[..., None] * u + (rr + lo[0])[..., None] * v
        seen = inside_frame(xy, shape, radius_px, valid) | occ
        worst = None
        for axis in (1, 0):              # per row (sum over columns), per column
            share = occ.sum(axis) / np.maximum(seen.sum(axis), 1)
            typical = float(np.median(share[seen.sum(axis) > 0]))
            length = occ.shape[axis]
            for end in (0, share.size - 1):
                ratio = share[end] / max(typical, 1e-9)
                # a short line is a few balls: one missing and one pushed off
                # its site leave a real row of a 4 x 4 array a quarter full
                if length < TRIM_MIN_SITES:
                    continue
                if ratio < TRIM_SHARE and (worst is None or ratio < worst[0]):
                    worst = (ratio, 0 if axis == 1 else 1, lo[0 if axis == 1 else 1] + end)
        if worst is None:
            break
        _, dim, line = worst
        inlier &= idx[:, dim] != line
    return inlier


def _isolated_holes(occ, rows, cols, seen, known=None):
    """Empty sites with no recipe: missing when most neighbours carry a ball.

    Designed depopulation comes in blocks and rings; a lone empty site in a
    populated neighbourhood is a missing ball.

    Parameters
    ----------
    occ : set of (int, int)
        Sites holding a ball.
    rows, cols : int
    seen : ndarray of bool, shape (rows, cols)
        Sites that can be judged empty.
    known : ndarray of bool, shape (rows, cols), optional
        Sites whose state the frame shows (occupied ones always count); a
        neighbour outside them, beyond the frame's edge, is not counted
        either way. None: every neighbour on the lattice counts.
    """
    holes = set()
    for r in range(rows):
        for c in range(cols):
            if (r, c) in occ or not seen[r, c]:
                continue
            nb = [(r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr or dc)]
            nb = [q for q in nb if 0 <= q[0] < rows and 0 <= q[1] < cols
                  and (known is None or known[q] or q in occ)]
            filled = sum(q in occ for q in nb)
            if len(nb) >= 5 and filled >= len(nb) - 1:
                holes.add((r, c))
            elif NOTCH_HOLES and _notch(occ, r, c, rows, cols, known):
                holes.add((r, c))
    return holes


#: With no recipe, an empty site that notches the straight edge of a
#: depopulated block is a missing ball (False: only sites with all but one
#: neighbour filled are): designed depopulation leaves straight rows and
#: columns, so an empty site whose two neighbours along the block's edge, the
#: next ones beyond them and the three sites behind it all hold balls, while
#: the three on the block's side are empty, is one ball gone from the edge.
NOTCH_HOLES = True


def _notch(occ, r, c, rows, cols, known=None):
    """Whether the empty site ``(r, c)`` notches a straight edge of filled sites (see :data:`NOTCH_HOLES`)."""
    def empty(q):
        # beyond the lattice, or beyond the frame's edge, a site is not empty
        # by sight: the edge must be seen
        inside = 0 <= q[0] < rows and 0 <= q[1] < cols
        return inside and q not in occ and (known is None or bool(known[q]))

    for along, across in (((0, 1), (1, 0)), ((1, 0), (0, 1))):
        line = [(r + k * along[0], c + k * along[1]) for k in (-2, -1, 1, 2)]
        if not all(q in occ for q in line):
            continue
        for side in (1, -1):
            behind = [(r + side * across[0] + k * along[0], c + side * across[1] + k * along[1]) for k in (-1, 0, 1)]
            front = [(r - side * across[0] + k * along[0], c - side * across[1] + k * along[1]) for k in (-1, 0, 1)]
            if all(q in occ for q in behind) and all(empty(q) for q in front):
                return True
    return False


def _main_cluster(idx, inlier, gap=2):
    """Points of the largest group of lattice sites that lie within ``gap`` sites of each other.

    Vias, parts and stray solder far from the package can fall on lattice
    positions by chance; the package is the big connected block.
    """
    from scipy import ndimage as ndi

    keep = np.zeros(len(idx), bool)
    if inlier.sum() == 0:
        return keep
    sites = idx[inlier]
    lo = sites.min(0)
    shape = sites.max(0) - lo + 1
    if shape.prod() > 4_000_000:
        return inlier.copy()
    occ = np.zeros(shape, bool)
    occ[tuple((sites - lo).T)] = True
    grown = ndi.binary_dilation(occ, np.ones((2 * gap + 1, 2 * gap + 1), bool))
    lab, n = ndi.label(grown)
    if n <= 1:
        return inlier.copy()
    sizes = ndi.sum(occ, lab, np.arange(1, n + 1))
    best = int(np.argmax(sizes)) + 1
    own = lab[tuple((sites - lo).T)] == best
    keep[np.nonzero(inlier)[0][own]] = True
    return keep

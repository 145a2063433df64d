"""Random but physically laid-out BGA and QFN scenes, with exact truth.

A scene is a list of *groups*: the solids that make one joint (ball, its
voids, its pads, a bridge neck, a paste pillow) or one designed feature (a
pad with no ball, a thermal via). The renderer evaluates each group on a
sub-pixel patch; the truth of a joint is measured on the same samples from
the analytic solids, so it is exact to the sampling.

All lengths are px unless the name says ``_mm``; heights are px above the
board surface.
"""

from dataclasses import dataclass, field

import numpy as np

from .geometry import Ellipsoid, Slab

DIFFICULTIES = ("easy", "normal", "hard")


@dataclass
class Group:
    """Solids of one joint or feature and what the truth should say of it."""

    solids: list
    role: str = "feature"            # "ball", "pad", "pin" or "feature"
    joint_solids: list = field(default_factory=list)   # indices: the joint footprint
    void_solids: list = field(default_factory=list)    # indices: its voids
    hole_solids: list = field(default_factory=list)    # indices: designed holes (vias)
    truth: dict = field(default_factory=dict)


@dataclass
class Scene:
    """Everything the renderer needs for one frame."""

    shape: tuple
    pixel_size_um: float
    source: tuple                    # (x, y, height) of the focal spot, px
    background: list                 # ("rect"/"line"/"ring", params, material, thickness_px, z_px)
    groups: list
    frame: dict                      # frame-level truth
    recipe: dict                     # recipe TOML content as a dict
    seed: int = 0

    def direction(self, x, y):
        """Unit ray direction from detector pixel ``(x, y)`` to the source."""
        sx, sy, sh = self.source
        d = np.array([sx - x, sy - y, sh], dtype=float)
        return d / np.linalg.norm(d)


def _lattice(origin, pitch, angle_deg):
    """Column and row unit steps of a grid rotated CCW on screen (y down)."""
    a = np.deg2rad(angle_deg)
    ucol = np.array([np.cos(a), -np.sin(a)]) * pitch
    vrow = np.array([np.sin(a), np.cos(a)]) * pitch
    return np.asarray(origin, float), ucol, vrow


def _choose_source(rng, shape, tilt_deg):
    """Focal spot high above the frame, offset so the centre ray is tilted."""
    h, w = shape
    height = 40.0 * max(h, w)
    az = rng.uniform(0, 2 * np.pi)
    off = height * np.tan(np.deg2rad(tilt_deg))
    return (w / 2 + off * np.cos(az), h / 2 + off * np.sin(az), height)


def _add_board_clutter(rng, scene_bg, shape, px_mm, level, avoid=None):
    """Copper traces, via barrels and large parts on and in the board."""
    h, w = shape
    cu_t = 0.035 / px_mm
    for _ in range(int(rng.integers(6, 30) * level)):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        ang = rng.choice([0, 45, 90, 135]) * np.pi / 180 + rng.normal(0, 0.02)
        length = rng.uniform(0.1, 0.8) * max(h, w)
        x1, y1 = x0 + length * np.cos(ang), y0 + length * np.sin(ang)
        width = max(0.08 / px_mm * rng.uniform(0.7, 2.0), 1.0)
        # inner-layer traces sit deeper in the board than outer ones
        scene_bg.append(("line", (x0, y0, x1, y1, width), "copper", cu_t, -rng.uniform(0, 1.5) / px_mm))
    board_t = 1.6 / px_mm
    for _ in range(int(rng.integers(5, 40) * level)):
        x, y = _outside(rng, shape, avoid, 0.3 / px_mm)
        r = rng.uniform(0.1, 0.2) / px_mm
        wall = max(0.025 / px_mm, 0.6)
        scene_bg.append(("ring", (x, y, r, r + wall), "copper", board_t, -0.8 / px_mm))
        scene_bg.append(("ring", (x, y, r, r + 0.12 / px_mm), "copper", cu_t, 0.0))
    # large parts beside the package: ceramic bodies with metal ends
    for _ in range(int(rng.integers(0, 4) * level)):
        cw, ch = rng.uniform(1.0, 4.0) / px_mm, rng.uniform(0.5, 2.5) / px_mm
        x, y = _outside(rng, shape, avoid, max(cw, ch))
        ang = rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.03)
        scene_bg.append(("rect", (x, y, cw, ch, ang), "ceramic", rng.uniform(0.6, 1.5) / px_mm, 0.8 / px_mm))
        # tin-plated terminations: darker than any ball
        for s in (-1, 1):
            ex = x + s * 0.42 * cw * np.cos(ang)
            ey = y + s * 0.42 * cw * np.sin(ang)
            scene_bg.append(("rect", (ex, ey, 0.16 * cw, ch * 1.02, ang), "solder", 0.5 / px_mm, 0.3 / px_mm))


#: Chip capacitor sizes (length, width = height, mm): 0402, 0201, 01005.
CHIP_SIZES_MM = ((1.0, 0.5), (0.6, 0.3), (0.4, 0.2))


def _add_underside_parts(rng, scene_bg, site_xy, rows, cols, pitch_mm, px_mm, angle_deg, board_t):
    """Decoupling capacitors on the far side of the board, under a BGA's balls.

    On a double-sided board the package's decoupling capacitors sit right
    under its ball field, between the escape vias; a radiograph projects
    them across the balls. Each is a multilayer ceramic body (BaTiO3 with
    nickel electrodes, ``ceramic``), two plated end caps and two solder
    fillets on its pads, the largest chip size no longer than 1.4 pitches,
    laid along the grid between two rows or columns.

    Returns the number of parts placed.
    """
    length_mm, width_mm = next(((L, W) for L, W in CHIP_SIZES_MM if L <= 1.4 * pitch_mm), CHIP_SIZES_MM[-1])
    L, W = length_mm / px_mm, width_mm / px_mm
    n_sites = rows * cols
    n = int(rng.integers(max(2, n_sites // 80), max(3, n_sites // 20) + 1))
    z_body = -board_t - 0.5 * W            # hanging under the board
    for _ in range(n):
        along_cols = rng.random() < 0.5
        # centred between two sites across the part, on a site or between two along it
        r = rng.integers(0, max(rows - 1, 1)) + 0.5 * along_cols + 0.5 * (rng.random() < 0.5) * (not along_cols)
        c = rng.integers(0, max(cols - 1, 1)) + 0.5 * (not along_cols) + 0.5 * (rng.random() < 0.5) * along_cols
        x, y = site_xy(r, c)
        # the part's long axis: along the rows (x) or along the columns (y) of the grid
        ang = -np.deg2rad(angle_deg) + (0.0 if along_cols else np.pi / 2) + rng.normal(0, 0.02)
        ux, uy = np.cos(ang), np.sin(ang)
        scene_bg.append(("rect", (x, y, L, W, ang), "ceramic", W * rng.uniform(0.85, 1.0), z_body))
        cap_t = 0.02 / px_mm * rng.uniform(0.8, 1.5)          # Ni barrier + Sn plating, both faces
        fillet_t = 0.2 * width_mm / px_mm * rng.uniform(0.5, 1.5)     # a fifth of the part's height
        for s in (-1, 1):
            ex, ey = x + s * 0.4 * L * ux, y + s * 0.4 * L * uy
            scene_bg.append(("rect", (ex, ey, 0.2 * L, W, ang), "solder", cap_t, z_body))
            fx, fy = x + s * 0.45 * L * ux, y + s * 0.45 * L * uy
            scene_bg.append(("rect", (fx, fy, 0.3 * L, 1.1 * W, ang), "solder", fillet_t, -board_t - 0.05 / px_mm))
    return n


def _outside(rng, shape, avoid, size):
    """A point in the frame away from the rectangle ``avoid`` (x0, y0, x1, y1)."""
    h, w = shape
    for _ in range(50):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if avoid is None:
            return x, y
        x0, y0, x1, y1 = avoid
        if x < x0 - size or x > x1 + size or y < y0 - size or y > y1 + size:
            return x, y
    return -10 * size, -10 * size  # nowhere to put it: off frame


def _level(difficulty):
    return {"easy": 0.3, "normal": 1.0, "hard": 1.6}[difficulty]


def _voids_in_ball(rng, a, c, zc, px_mm, kind):
    """Voids (as cavities) for a ball of semi-axes a (horizontal), c (vertical)."""
    voids = []
    if kind == "none":
        return voids
    n_small = int(rng.integers(0, 7))
    big = []
    if kind == "big":
        big = [rng.uniform(0.38, 0.62) * a]
    elif kind == "medium":
        big = [rng.uniform(0.2, 0.36) * a]
    elif kind == "several":
        big = list(rng.uniform(0.15, 0.3, size=int(rng.integers(2, 5))) * a)
    radii = big + list(rng.uniform(0.05, 0.14, size=n_small) * a)
    placed = []
    for rv in radii:
        rv = min(rv, 0.95 * c)
        for _ in range(30):
            touching = rng.random() < 0.15
            rmax = a - rv
            rad = (rmax - rng.uniform(0, 0.05) * a) if touching else rmax * np.sqrt(rng.uniform(0, 1)) * 0.9
            th = rng.uniform(0, 2 * np.pi)
            vx, vy = rad * np.cos(th), rad * np.sin(th)
            # keep the void inside the spheroid vertically at that radius
            zspan = c * np.sqrt(max(1 - (rad / a) ** 2, 0.0)) - rv
            vz = rng.uniform(-max(zspan, 0), max(zspan, 0))
            ok = all(np.hypot(vx - px, vy - py) > (rv + pr) * 1.02 for px, py, pr in placed)
            if ok and zspan > -0.5 * rv:
                placed.append((vx, vy, rv))
                voids.append((vx, vy, zc + vz, rv))
                break
    return voids


def bga_scene(rng, *, shape=(2048, 2048), difficulty="normal", rows=None, cols=None,
              tilt_deg=None, defects=True, underside_parts=False):
    """Lay out a BGA package on a board with defects and exact truth.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of all randomness.
    shape : tuple of int
        Frame ``(height, width)``, px.
    difficulty : {"easy", "normal", "hard"}
        Clutter, defect subtlety and (in the detector model) noise.
    rows, cols : int, optional
        Grid size; random (4-40) when not given.
    tilt_deg : float, optional
        Oblique angle of the central ray, degrees; mostly 0 when not given.
    defects : bool
        Place defects; when False, every joint is good (voids stay small).
    underside_parts : bool
        Also place decoupling capacitors on the board's other side, under
        the package (a double-sided board): their shadows fall across the
        balls. Drawn from a jumped copy of ``rng``, so the rest of the
        scene (and the detector's noise) is the frame without them.

    Returns
    -------
    Scene
    """
    level = _level(difficulty)
    h, w = shape
    n = int(rng.integers(4, 41)) if rows is None else rows
    rows = n if rows is None else rows
    cols = (n if rng.random() < 0.7 else int(np.clip(n + rng.integers(-4, 5), 4, 40))) if cols is None else cols
    pitch_mm = float(rng.choice([0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.27]))
    ball_d_mm = round(pitch_mm * rng.uniform(0.55, 0.62), 3)
    cut = rng.random() < 0.15 * level
    span = max(rows, cols) - 1
    # pitch in px: the grid fills 55-90 % of the frame, balls at least ~11 px
    pitch_px = max(min(h, w) * rng.uniform(0.55, 0.9) / max(span, 1), 11.0 / 0.58)
    pitch_px = min(pitch_px, 160.0)
    if cut:
        pitch_px *= rng.uniform(1.1, 1.4)
    px_mm = pitch_mm / pitch_px
    angle = float(rng.normal(0, 4.0) if rng.random() < 0.8 else rng.uniform(-15, 15))
    angle = float(np.clip(angle, -15, 15))
    if tilt_deg is None:
        tilt_deg = float(rng.uniform(20, 45)) if rng.random() < 0.12 * level else float(rng.uniform(0, 3))
    source = _choose_source(rng, shape, tilt_deg)

    gw, gh = (cols - 1) * pitch_px, (rows - 1) * pitch_px
    centre = np.array([w / 2, h / 2]) + rng.normal(0, 0.03, 2) * np.array([w, h])
    if cut:
        centre += rng.choice([-1, 1], 2) * rng.uniform(0.1, 0.25, 2) * np.array([w, h])
    _, ucol, vrow = _lattice((0, 0), pitch_px, angle)
    origin = centre - 0.5 * (cols - 1) * ucol - 0.5 * (rows - 1) * vrow

    r0 = 0.5 * ball_d_mm / px_mm                 # ball radius before reflow, px
    standoff = 0.8 * ball_d_mm / px_mm
    pad_r = 0.42 * ball_d_mm / px_mm             # board (and package) pad radius
    cu_t = 0.035 / px_mm
    board_t = 1.6 / px_mm

    depop = set()
    if rng.random() < 0.5:
        # centre depopulation, a common thermal/escape pattern
        k = int(rows * rng.uniform(0.2, 0.45))
        if k >= 2 and rows > 8 and cols > 8:
            r0_, c0_ = (rows - k) // 2, (cols - k) // 2
            depop |= {(r, c) for r in range(r0_, r0_ + k) for c in range(c0_, c0_ + k)}
    if rng.random() < 0.3:
        depop |= {(0, 0)}
    sites = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in depop]

    # defect assignment
    n_sites = len(sites)
    p = (lambda x: x * (1.0 if defects else 0.0))
    labels = {}
    order = rng.permutation(n_sites)
    k = 0
    for code, frac, minimum in (("missing", 0.006, 1), ("misaligned", 0.006, 1), ("hip", 0.008, 1),
                                ("bridge", 0.004, 1), ("void", 0.02, 1)):
        if not defects or rng.random() < 0.35:
            continue
        m = max(minimum, int(rng.poisson(p(frac) * n_sites)))
        for _ in range(m):
            if k < n_sites:
                labels[sites[order[k]]] = code
                k += 1

    def site_xy(r, c):
        return origin + c * ucol + r * vrow

    groups, extra_spots = [], []
    balls = {}
    # warpage lifts corners: head-in-pillow favours the package edge
    for (r, c) in sites:
        sx, sy = site_xy(r, c)
        code = labels.get((r, c))
        g = Group(solids=[], role="ball")
        # pads: board pad at z=0 and package pad at the standoff
        g.solids.append(Slab((sx, sy), 0.5 * cu_t, cu_t, (pad_r,), "disc", material="copper"))
        g.solids.append(Slab((sx, sy), standoff, cu_t * 0.7, (pad_r,), "disc", material="copper"))
        truth = {"grid_row": r, "grid_col": c, "defects": [], "_site_xyz": (sx, sy, standoff / 2)}
        if code == "missing":
            truth["defects"] = ["missing"]
            g.role = "missing"
            g.truth = truth
            groups.append(g)
            continue
        a = r0 * rng.uniform(1.10, 1.16) * (1 + rng.normal(0, 0.012))
        cz = r0 ** 3 / a ** 2                    # volume kept through reflow
        zc = standoff / 2
        bx, by = sx, sy
        if code == "misaligned":
            frac = rng.uniform(0.7, 1.05)
            # towards the open diagonal: a ball pushed at its neighbour would bridge
            th = np.deg2rad(rng.choice([45, 135, 225, 315]) + rng.uniform(-20, 20) - angle)
            bx, by = sx + frac * a * np.cos(th), sy + frac * a * np.sin(th)
            truth["defects"].append("misaligned")
        else:
            jitter = rng.normal(0, 0.03 * a, 2)
            bx, by = sx + jitter[0], sy + jitter[1]
        if code == "hip":
            # head: the ball did not collapse (a sphere); pillow: paste on the pad
            collapse = rng.uniform(1.0, 1.04)
            a = r0 * collapse
            cz = r0 ** 3 / a ** 2
            zc = standoff * rng.uniform(1.0, 1.15) - cz
            pil_r = pad_r * rng.uniform(0.95, 1.25)
            pil_c = 0.05 / px_mm * rng.uniform(0.7, 1.3)
            g.solids.append(Ellipsoid((sx, sy, pil_c * 0.6), (pil_r, pil_r, pil_c), 0.0, "solder"))
            truth["defects"].append("hip")
        ball = Ellipsoid((bx, by, zc), (a, a * rng.uniform(0.99, 1.01), cz), rng.uniform(0, np.pi), "solder")
        g.joint_solids = [len(g.solids)]
        g.solids.append(ball)
        if code == "void":
            vkind = rng.choice(["big", "several", "medium"], p=[0.5, 0.3, 0.2])
        else:
            u_ = rng.random()
            vkind = "none" if u_ < 0.45 else ("small" if u_ < 0.9 or not defects else "medium")
        for vx, vy, vz, rv in _voids_in_ball(rng, a, cz, zc, px_mm, vkind):
            g.void_solids.append(len(g.solids))
            g.solids.append(Ellipsoid((bx + vx, by + vy, vz), (rv, rv, rv), 0.0, "solder", -1))
        g.truth = truth
        balls[(r, c)] = (g, ball)
        groups.append(g)

    # bridges: a solder neck to a right or lower neighbour
    bridges = []
    for (r, c), code in labels.items():
        if code != "bridge" or (r, c) not in balls:
            continue
        nbrs = [(r, c + 1), (r + 1, c), (r, c - 1), (r - 1, c)]
        nbrs = [q for q in nbrs if q in balls and labels.get(q) in (None, "void", "bridge")]
        if not nbrs:
            continue
        q = nbrs[int(rng.integers(len(nbrs)))]
        (g1, b1), (g2, b2) = balls[(r, c)], balls[q]
        x1, y1, z1 = b1.center
        x2, y2, z2 = b2.center
        L = np.hypot(x2 - x1, y2 - y1)
        neck_w = b1.axes[0] * rng.uniform(0.35, 0.6)
        neck = Ellipsoid(((x1 + x2) / 2, (y1 + y2) / 2, (z1 + z2) / 2),
                         (L / 2, neck_w, b1.axes[2] * rng.uniform(0.45, 0.7)),
                         np.arctan2(y2 - y1, x2 - x1), "solder")
        g1.solids.append(neck)
        for gg in (g1, g2):
            if "bridge" not in gg.truth["defects"]:
                gg.truth["defects"].append("bridge")
        g1.truth.setdefault("bridge_with", []).append(list(q))
        g2.truth.setdefault("bridge_with", []).append([r, c])
        bridges.append(((r, c), q))

    # extra solder balls off every site
    if defects and rng.random() < 0.45:
        taken = set()
        for _ in range(int(rng.integers(1, 4))):
            fr, fc = rng.uniform(-0.2, rows - 0.8), rng.uniform(-0.2, cols - 0.8)
            fr, fc = np.floor(fr) + 0.5, np.floor(fc) + 0.5      # between four sites
            ex, ey = origin + fc * ucol + fr * vrow
            er = r0 * rng.uniform(0.22, 0.38)
            ez = standoff * rng.uniform(0.2, 0.8)
            if (fr, fc) in taken:
                # two balls cannot fill one place: a second draw of a centre
                # already holding a stray made one blob that the truth listed
                # as two strays (2 of 160 on development frames), a miss no
                # reader could avoid. Dropped after its draws, so the random
                # stream, and every other frame, stays as it was.
                continue
            taken.add((fr, fc))
            g = Group(solids=[Ellipsoid((ex, ey, ez), (er, er, er), 0.0, "solder")],
                      role="extra", joint_solids=[0], truth={"grid_row": -1, "grid_col": -1, "defects": ["extra"]})
            groups.append(g)

    # package and board features behind and around the balls
    bg = []
    corners = [origin + dc * ucol + dr * vrow for dr in (-0.9, rows - 0.1) for dc in (-0.9, cols - 0.1)]
    cx_, cy_ = np.mean(corners, axis=0)
    pw, ph = (cols - 1 + 1.8) * pitch_px, (rows - 1 + 1.8) * pitch_px
    ang_r = -np.deg2rad(angle)
    bg.append(("rect", (cx_, cy_, pw, ph, ang_r), "fr4", 0.3 / px_mm, standoff + 0.15 / px_mm))     # substrate
    bg.append(("rect", (cx_, cy_, pw * 0.98, ph * 0.98, ang_r), "mould", 0.8 / px_mm, standoff + 0.7 / px_mm))
    dw, dh = pw * rng.uniform(0.35, 0.6), ph * rng.uniform(0.35, 0.6)
    bg.append(("rect", (cx_, cy_, dw, dh, ang_r), "silicon", 0.3 / px_mm, standoff + 0.45 / px_mm))
    # wire bonds: gold wires from the die edge outwards
    n_wires = int(rng.integers(0, 2) * rng.integers(20, 80) * level)
    wire_d = max(0.025 / px_mm, 0.5)
    for i in range(n_wires):
        t = rng.uniform(-0.5, 0.5)
        side = int(rng.integers(4))
        ca, sa = np.cos(ang_r), np.sin(ang_r)
        if side % 2 == 0:
            lx, ly = t * dw, (0.5 if side == 0 else -0.5) * dh
            ox, oy = lx * 1.25, ly + np.sign(ly) * rng.uniform(0.05, 0.15) * ph
        else:
            lx, ly = (0.5 if side == 1 else -0.5) * dw, t * dh
            ox, oy = lx + np.sign(lx) * rng.uniform(0.05, 0.15) * pw, ly * 1.25
        p0 = (cx_ + ca * lx - sa * ly, cy_ + sa * lx + ca * ly)
        p1 = (cx_ + ca * ox - sa * oy, cy_ + sa * ox + ca * oy)
        bg.append(("line", (*p0, *p1, wire_d), "gold", wire_d * 0.785, standoff + 0.5 / px_mm))
    _add_board_clutter(rng, bg, shape, px_mm, level, avoid=(cx_ - pw / 2, cy_ - ph / 2, cx_ + pw / 2, cy_ + ph / 2))
    # dog-bone fan-out: vias at the centre of four balls, sized to the pitch
    if rng.random() < 0.5 * level:
        vr = 0.12 * pitch_px * rng.uniform(0.8, 1.2)
        wall = max(0.025 / px_mm, 0.6)
        for _ in range(int(rng.integers(5, 60) * level)):
            fr, fc = rng.integers(0, rows - 1) + 0.5, rng.integers(0, cols - 1) + 0.5
            x, y = origin + fc * ucol + fr * vrow
            bg.append(("ring", (x, y, vr, vr + wall), "copper", board_t, -0.8 / px_mm))
            bg.append(("ring", (x, y, vr, vr * 1.6), "copper", cu_t, 0.0))

    n_under = 0
    if underside_parts:
        n_under = _add_underside_parts(np.random.Generator(rng.bit_generator.jumped()), bg, site_xy, rows, cols,
                                       pitch_mm, px_mm, angle, board_t)

    recipe = {
        "package": {"type": "bga", "rows": rows, "cols": cols, "pitch_mm": pitch_mm,
                    "ball_diameter_mm": ball_d_mm,
                    "depopulated": sorted([list(x) for x in depop])},
        "image": {"pixel_size_um": round(px_mm * 1000, 4), "solder": "auto"},
        "limits": {"ball_void_pct": 25.0, "ball_largest_void_pct": 15.0, "pad_void_pct": 50.0,
                   "offset_frac": 0.5},
    }
    frame = {"package": "bga", "rows": rows, "cols": cols, "pitch_mm": pitch_mm,
             "pitch_px": float(pitch_px), "angle_deg": angle, "tilt_deg": tilt_deg,
             "origin_px": [float(origin[0]), float(origin[1])], "depopulated": sorted([list(x) for x in depop]),
             "ball_diameter_mm": ball_d_mm, "cut_by_edge": bool(cut), "ball_height_px": float(standoff / 2)}
    if underside_parts:
        frame["underside_parts"] = n_under
    return Scene(shape=shape, pixel_size_um=px_mm * 1000, source=source, background=bg, groups=groups,
                 frame=frame, recipe=recipe)


def qfn_scene(rng, *, shape=(1024, 1024), difficulty="normal", defects=True):
    """Lay out a QFN with thermal pad, thermal vias, perimeter pins and wire bonds.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : tuple of int
        Frame ``(height, width)``, px.
    difficulty : {"easy", "normal", "hard"}
    defects : bool
        Place pin bridges, missing pin solder and heavy pad voiding.

    Returns
    -------
    Scene
    """
    level = _level(difficulty)
    h, w = shape
    body_mm = float(rng.choice([3.0, 4.0, 5.0, 6.0, 7.0]))
    pitch_mm = float(rng.choice([0.4, 0.5, 0.65]))
    pins = int(max(3, min(int((body_mm - 1.7) / pitch_mm) + 1, 16)))
    pad_mm = round(body_mm * rng.uniform(0.45, 0.62), 2)
    px_mm = body_mm / (min(h, w) * rng.uniform(0.55, 0.8))
    angle = float(np.clip(rng.normal(0, 3.0), -15, 15))
    ang_r = -np.deg2rad(angle)
    ca, sa = np.cos(ang_r), np.sin(ang_r)
    cx, cy = w / 2 + rng.normal(0, 0.03) * w, h / 2 + rng.normal(0, 0.03) * h

    def rot(lx, ly):
        return cx + ca * lx - sa * ly, cy + sa * lx + ca * ly

    source = _choose_source(rng, shape, float(rng.uniform(0, 2)))
    body = body_mm / px_mm
    pad = pad_mm / px_mm
    sol_t = 0.07 / px_mm * rng.uniform(0.8, 1.2)
    cu_t = 0.035 / px_mm
    lf_t = 0.2 / px_mm
    groups = []

    # thermal vias on a regular lattice inside the pad
    vias = []
    if rng.random() < 0.75:
        nv = int(rng.integers(2, 6))
        vpitch = pad / (nv + rng.uniform(0.2, 0.8))
        drill = min(0.3 / px_mm, 0.45 * vpitch) * rng.uniform(0.8, 1.1)
        for i in range(nv):
            for j in range(nv):
                lx, ly = (i - (nv - 1) / 2) * vpitch, (j - (nv - 1) / 2) * vpitch
                vias.append((*rot(lx, ly), drill / 2))

    # thermal pad solder: one slab or windowed segments
    g = Group(solids=[], role="pad")
    windowed = rng.random() < 0.3
    if windowed:
        k = int(rng.choice([2, 3]))
        gap = 0.2 / px_mm
        seg = (pad - (k - 1) * gap) / k
        for i in range(k):
            for j in range(k):
                lx, ly = (i - (k - 1) / 2) * (seg + gap), (j - (k - 1) / 2) * (seg + gap)
                g.joint_solids.append(len(g.solids))
                g.solids.append(Slab(rot(lx, ly), sol_t / 2 + cu_t, sol_t, (seg, seg), "rect", ang_r, "solder"))
    else:
        g.joint_solids.append(len(g.solids))
        g.solids.append(Slab((cx, cy), sol_t / 2 + cu_t, sol_t, (pad, pad), "rect", ang_r, "solder"))
    # voids: flat bubbles in the layer, many small, a few large
    heavy = defects and rng.random() < 0.3
    nvoid = int(rng.integers(3, 25))
    for i in range(nvoid):
        big = i < (int(rng.integers(1, 4)) if heavy else int(rng.integers(0, 3)))
        rv = pad * (rng.uniform(0.08, 0.22) if big else rng.uniform(0.01, 0.04))
        lx, ly = rng.uniform(-0.5, 0.5, 2) * (pad - rv)
        vx, vy = rot(lx, ly)
        g.void_solids.append(len(g.solids))
        g.solids.append(Slab((vx, vy), sol_t / 2 + cu_t, sol_t, (rv,), "disc", material="solder", sign=-1))
    for vx, vy, vr in vias:
        # the drill: no solder (it wicked down), no laminate; the barrel is copper
        g.hole_solids.append(len(g.solids))
        g.solids.append(Slab((vx, vy), sol_t / 2 + cu_t, sol_t, (vr,), "disc", material="solder", sign=-1))
        g.solids.append(Slab((vx, vy), -0.8 / px_mm, 1.6 / px_mm, (vr,), "disc", material="fr4", sign=-1))
        g.solids.append(Slab((vx, vy), -0.8 / px_mm, 1.6 / px_mm, (vr, vr + max(0.025 / px_mm, 0.6)), "ring", material="copper"))
    g.truth = {"grid_row": -1, "grid_col": -1, "defects": [], "via_count": len(vias), "windowed": windowed}
    groups.append(g)

    # perimeter pins
    pin_w, pin_l = pitch_mm * 0.5 / px_mm, 0.6 / px_mm * rng.uniform(0.8, 1.2)
    pin_list = []
    for side in range(4):
        for i in range(pins):
            t = (i - (pins - 1) / 2) * pitch_mm / px_mm
            d = body / 2 - pin_l / 2 + 0.05 / px_mm
            lx, ly = [(t, -d), (d, t), (t, d), (-d, t)][side]
            pw, pl = (pin_w, pin_l) if side % 2 == 0 else (pin_l, pin_w)
            pin_list.append((side, i, lx, ly, pw, pl))
    n_pins = len(pin_list)
    pin_defect = {}
    if defects:
        for code, p_ in (("bridge", 0.4), ("missing", 0.3)):
            if rng.random() < p_:
                pin_defect[int(rng.integers(n_pins))] = code
    pin_groups = []
    for k, (side, i, lx, ly, pw, pl) in enumerate(pin_list):
        gp = Group(solids=[], role="pin", truth={"grid_row": -1, "grid_col": -1, "defects": [],
                                                   "side": side, "index": i})
        gp.solids.append(Slab(rot(lx, ly), lf_t / 2 + sol_t + cu_t, lf_t, (pw, pl), "rect", ang_r, "copper"))
        gp.solids.append(Slab(rot(lx, ly), cu_t / 2, cu_t, (pw * 1.1, pl * 1.2), "rect", ang_r, "copper"))
        code = pin_defect.get(k)
        scale = 0.0 if code == "missing" else 1.0
        if code == "missing":
            gp.truth["defects"].append("missing")
            gp.role = "missing_pin"
        else:
            gp.joint_solids.append(len(gp.solids))
            gp.solids.append(Slab(rot(lx, ly), sol_t / 2 + cu_t, sol_t * scale, (pw, pl), "rect", ang_r, "solder"))
            if rng.random() < 0.2:
                rv = min(pw, pl) * rng.uniform(0.1, 0.3)
                vx, vy = rot(lx + rng.uniform(-0.3, 0.3) * pw, ly + rng.uniform(-0.3, 0.3) * pl)
                gp.void_solids.append(len(gp.solids))
                gp.solids.append(Slab((vx, vy), sol_t / 2 + cu_t, sol_t, (rv,), "disc", material="solder", sign=-1))
        pin_groups.append(gp)
        groups.append(gp)
    for k, code in pin_defect.items():
        if code != "bridge":
            continue
        side, i, lx, ly, pw, pl = pin_list[k]
        k2 = k + 1 if i + 1 < pins else k - 1
        if pin_defect.get(k2) == "missing":
            continue
        _, _, lx2, ly2, _, _ = pin_list[k2]
        mx, my = (lx + lx2) / 2, (ly + ly2) / 2
        bw = max(abs(lx2 - lx), abs(ly2 - ly))
        size = (bw, pl * 0.4) if side % 2 == 0 else (pl * 0.4, bw)
        pin_groups[k].solids.append(Slab(rot(mx, my), sol_t / 2 + cu_t, sol_t * 0.8, size, "rect", ang_r, "solder"))
        for kk in (k, k2):
            if "bridge" not in pin_groups[kk].truth["defects"]:
                pin_groups[kk].truth["defects"].append("bridge")

    bg = [("rect", (cx, cy, body, body, ang_r), "mould", 0.85 / px_mm, 0.6 / px_mm),
          ("rect", (cx, cy, pad, pad, ang_r), "copper", lf_t, sol_t + cu_t + lf_t / 2)]
    die = pad * rng.uniform(0.6, 0.9)
    bg.append(("rect", (cx, cy, die, die, ang_r), "silicon", 0.25 / px_mm, 0.5 / px_mm))
    wire_d = max(0.025 / px_mm, 0.5)
    for (side, i, lx, ly, pw, pl) in pin_list:
        if rng.random() < 0.85:
            dx, dy = np.clip(lx, -die / 2, die / 2), np.clip(ly, -die / 2, die / 2)
            bg.append(("line", (*rot(dx * 0.95, dy * 0.95), *rot(lx, ly), wire_d), "gold", wire_d * 0.785, 0.6 / px_mm))
    _add_board_clutter(rng, bg, shape, px_mm, level * 0.6, avoid=(cx - body / 2, cy - body / 2, cx + body / 2, cy + body / 2))
    recipe = {
        "package": {"type": "qfn", "pitch_mm": pitch_mm, "pins_per_side": pins, "pad_mm": [pad_mm, pad_mm]},
        "image": {"pixel_size_um": round(px_mm * 1000, 4), "solder": "auto"},
        "limits": {"ball_void_pct": 25.0, "ball_largest_void_pct": 15.0, "pad_void_pct": 50.0, "offset_frac": 0.5},
    }
    frame = {"package": "qfn", "pitch_mm": pitch_mm, "pins_per_side": pins, "pad_mm": pad_mm,
             "angle_deg": angle, "tilt_deg": 0.0, "via_count": len(vias), "windowed": windowed,
             "pitch_px": pitch_mm / px_mm}
    return Scene(shape=shape, pixel_size_um=px_mm * 1000, source=source, background=bg, groups=groups,
                 frame=frame, recipe=recipe)

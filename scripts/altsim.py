#!/usr/bin/env python
"""An independent BGA radiograph renderer, for checking that scoring generalises.

``xrayinspect.synth`` is the simulator the rules were developed against; a
scorer can learn its quirks. This renderer shares no code with it and makes
different physical choices, each one as defensible for a real board:

* a reflowed ball is a **truncated sphere** between its two pads (the liquid
  solder wets each pad out to its edge and bulges between them), so its
  projection is flat-topped out to where the sphere's chord exceeds the
  stand-off, not the dome of an oblate spheroid; a head-in-pillow ball is an
  un-collapsed sphere (taller, narrower) above a thin pillow of paste;
* attenuation with beam hardening (``mu t / (1 + beta mu t)``), materials
  in mm^-1 (solder, copper pads, traces and via barrels through the board,
  FR-4 with a glass-weave texture, mould compound and die over the array);
* partial volume by rendering on a 3x finer grid and averaging transmission;
* a detector PSF with a wide tail (a Gaussian core plus a broad veiling glare),
  a heel-effect gradient, Poisson counts, read noise, a 14-bit ADC, and either
  display polarity;
* void radii drawn log-normal, a few balls with one large void.

Truth follows ``xrayinspect.synth``'s schema (joints with ``x_px``, ``y_px``,
``diameter_px``, ``void_pct``, ``largest_void_pct``, ``defects``, grid
position; ``frame_verdict``), so :class:`xrayinspect.evaluation.Tally` scores
against it. Void % is the projected area of the union of a ball's voids over
the ball's projected area (the interface's definition), counted on the fine
grid.

Usage::

    python scripts/altsim.py --n 24 --seed 9100000          # score 24 frames, print the table
    python scripts/altsim.py --n 4 --keep /tmp/alt          # keep the frames, truth and outputs
"""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

#: Linear attenuation, mm^-1 (about 60 keV effective): tin-silver-copper solder,
#: copper, FR-4, mould compound, silicon.
MU = {"solder": 9.0, "copper": 2.2, "fr4": 0.06, "mould": 0.09, "silicon": 0.06}
#: Beam hardening: effective attenuation ``A / (1 + BETA * A)``.
BETA = 0.06
SS = 3                     # fine-grid factor for partial volume
LIMITS = {"ball_void_pct": 25.0, "ball_largest_void_pct": 15.0, "offset_frac": 0.5}


def _disc_window(cx, cy, r, shape_f):
    """Fine-grid window ``(y0, y1, x0, x1)`` around a disc and its coordinates (fine px)."""
    h, w = shape_f
    y0, y1 = max(int(cy - r - 2), 0), min(int(cy + r + 3), h)
    x0, x1 = max(int(cx - r - 2), 0), min(int(cx + r + 3), w)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    return (y0, y1, x0, x1), xx + 0.5, yy + 0.5


def _sphere_chord(xx, yy, cx, cy, r):
    """Chord (same units as r) of a sphere of radius ``r`` along the beam."""
    return 2.0 * np.sqrt(np.maximum(r * r - (xx - cx) ** 2 - (yy - cy) ** 2, 0.0))


def _oblique_chord(xf, yf, c, r, z_range, cy, ct, st):
    """Path length (fine px) through a sphere of centre ``c = (x, y, z)`` and radius ``r``,
    cut to heights ``z_range`` (or None), along the ray that reaches image point ``(xf, yf)``.

    The board is tilted by the angle of cosine ``ct`` and sine ``st`` about the
    image x-axis: a point ``(x, y, z)`` projects to ``(x, cy + (y - cy) ct + z st)``.
    """
    y0 = cy + (yf - cy) / ct                     # where the ray meets the board plane z = 0
    wy, wz = c[1] - y0, c[2]
    mid = -wy * st + wz * ct                     # along the ray, direction (0, -st, ct)
    perp2 = (c[0] - xf) ** 2 + wy * wy + wz * wz - mid * mid
    half = np.sqrt(np.maximum(r * r - perp2, 0.0))
    lo, hi = mid - half, mid + half
    if z_range is not None:
        lo, hi = np.maximum(lo, z_range[0] / ct), np.minimum(hi, z_range[1] / ct)
    return np.where(half > 0, np.maximum(hi - lo, 0.0), 0.0)


def _tilted(m, z, cy, ct, st, border=cv2.BORDER_CONSTANT):
    """A board-plane map (fine grid) at height ``z`` (fine px) as the tilted view sees it:
    foreshortened, shifted by ``z st`` and ``1 / ct`` thicker along the ray (``border``:
    how the board goes on beyond the map)."""
    warp = np.float32([[1, 0, 0], [0, 1 / ct, cy - (cy + z * st) / ct]])
    return cv2.warpAffine(m, warp, (m.shape[1], m.shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=border) / np.float32(ct)


def _voids(rng, rs, half_h, big):
    """Void spheres ``(dx, dy, dz, r)`` in a ball of sphere radius ``rs`` truncated at ``+-half_h``."""
    out = []
    n = int(big) + (0 if rng.random() < 0.5 else 1 + rng.poisson(1.5))
    for k in range(n):
        r = rs * (rng.uniform(0.38, 0.62) if (big and k == 0) else
                  float(np.clip(rng.lognormal(np.log(0.13), 0.45), 0.05, 0.3)))
        r = min(r, 0.9 * half_h)
        for _ in range(30):
            rad = rng.uniform(0, max(0.75 * rs - r, 0.0))
            th = rng.uniform(0, 2 * np.pi)
            dz = rng.uniform(-(half_h - r), half_h - r)
            v = (rad * np.cos(th), rad * np.sin(th), dz, r)
            if all((v[0] - o[0]) ** 2 + (v[1] - o[1]) ** 2 + (v[2] - o[2]) ** 2 > (r + o[3]) ** 2 for o in out):
                out.append(v)
                break
    return out


def _free_centre(rng, taken, rows, cols, site):
    """A random centre between four sites not yet ``taken`` (x, y px), or None."""
    r, c = int(rng.integers(0, rows - 1)), int(rng.integers(0, cols - 1))
    if (r, c) in taken:
        return None
    taken.add((r, c))
    (ax, ay), (bx, by) = site(r, c), site(r + 1, c + 1)
    return (ax + bx) / 2, (ay + by) / 2


def render(seed, *, size=1024, export="tiff16", ball_px=(12, 40), sharpen=False, tilt_deg=0.0, angle_deg=None):
    """One frame: ``(image, truth dict)``.

    ``export``: ``"tiff16"`` (the 14-bit counts in a 16-bit image), ``"png8"``
    (windowed to 8 bits as a viewer's export: black and white at percentiles
    of the frame, a display gamma) or ``"jpeg8"`` (that, JPEG-compressed at
    quality 75-95, decoded again). ``ball_px``: range of the ball diameter, px.
    ``sharpen``: the export keeps a viewer's unsharp mask (``g + a (g - G_s
    g)``, amount ``a`` 0.5-2, ``s`` 1-5 px, drawn per frame, in the export's
    grey levels and range; before the JPEG step). ``tilt_deg``: an oblique view,
    the board tilted about the image x-axis with the detector facing the beam
    (a tilting-detector AXI; orthographic: the pitch across the axis
    foreshortened by the cosine, heights shifted by the sine; each ball a 3-D
    truncated sphere traced along the ray, a head-in-pillow ball's head seen
    apart from its pillow; no vias in oblique frames). ``angle_deg``: the
    array's rotation, degrees (drawn in +-12 when None).
    """
    tilt = float(np.deg2rad(tilt_deg))
    ct, st = float(np.cos(tilt)), float(np.sin(tilt))
    rng = np.random.default_rng(seed)
    hf = wf = size * SS
    ball_d_px = rng.uniform(*ball_px)
    pitch_px = ball_d_px * rng.uniform(1.55, 2.0)
    ball_d_mm = rng.choice([0.25, 0.3, 0.4, 0.5, 0.6])
    px_mm = ball_d_mm / ball_d_px                      # mm per px
    rs = ball_d_px / 2                                 # sphere radius, px
    span = 0.8 * size
    n_max = max(int(span / pitch_px), 4)
    rows, cols = int(rng.integers(4, min(n_max, 18) + 1)), int(rng.integers(4, min(n_max, 18) + 1))
    ang = np.deg2rad(rng.uniform(-12, 12))
    if angle_deg is not None:
        ang = np.deg2rad(angle_deg)                    # the array's rotation, set
    ca, sa = np.cos(ang), np.sin(ang)
    cx0, cy0 = size / 2 + rng.uniform(-20, 20), size / 2 + rng.uniform(-20, 20)

    def site(r, c):
        u, v = (c - (cols - 1) / 2) * pitch_px, (r - (rows - 1) / 2) * pitch_px
        return cx0 + ca * u - sa * v, cy0 + sa * u + ca * v

    depop = set()
    if rows >= 8 and cols >= 8 and rng.random() < 0.3:
        k = int(rng.integers(2, min(rows, cols) // 2))
        r0, c0 = (rows - k) // 2, (cols - k) // 2
        depop = {(r, c) for r in range(r0, r0 + k) for c in range(c0, c0 + k)}
    sites = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in depop]
    codes = {}
    pool = list(range(len(sites)))
    rng.shuffle(pool)
    n_def = int(rng.integers(1, max(3, len(sites) // 25) + 1))
    for i in pool[:n_def]:
        codes[sites[i]] = str(rng.choice(["missing", "bridge", "misaligned", "hip", "void"],
                                         p=[0.2, 0.2, 0.2, 0.2, 0.2]))

    A = np.zeros((hf, wf), np.float32)          # attenuation (mu * t) on the fine grid
    solder = np.zeros((hf, wf), np.float32)     # solder thickness, fine px
    # board: FR-4 1.6 mm with a glass-weave texture, traces and via barrels
    yy, xx = np.mgrid[0:hf, 0:wf].astype(np.float32)
    weave = 1 + 0.04 * np.sin(2 * np.pi * xx / (SS * rng.uniform(6, 14))) * np.sin(2 * np.pi * yy / (SS * rng.uniform(6, 14)))
    A += MU["fr4"] * 1.6 * weave
    del yy, xx
    trace_w = max(int(0.1 / px_mm * SS), 2)
    for _ in range(int(rng.integers(5, 25))):
        x0, y0 = rng.uniform(0, wf), rng.uniform(0, hf)
        pts = [(x0, y0)]
        for _ in range(3):
            x0, y0 = (x0 + rng.uniform(-0.4, 0.4) * wf, y0) if rng.random() < 0.5 else (x0, y0 + rng.uniform(-0.4, 0.4) * hf)
            pts.append((x0, y0))
        m = np.zeros((hf, wf), np.uint8)
        cv2.polylines(m, [np.int32(pts)], False, 1, trace_w)
        A += m * np.float32(MU["copper"] * 0.035)
    # package: mould over the array, a die in its middle
    pk = np.zeros((hf, wf), np.uint8)
    half = (np.array([cols, rows]) * pitch_px / 2 + pitch_px * 0.8) * SS
    box = cv2.boxPoints(((cx0 * SS, cy0 * SS), (2 * half[0], 2 * half[1]), np.rad2deg(ang)))
    cv2.fillPoly(pk, [np.int32(box)], 1)
    A_top = A if not tilt else np.zeros((hf, wf), np.float32)     # the package's level
    A_top += pk * np.float32(MU["mould"] * 0.8 + MU["fr4"] * 0.3)
    die = np.zeros((hf, wf), np.uint8)
    box = cv2.boxPoints(((cx0 * SS, cy0 * SS), (half[0], half[1]), np.rad2deg(ang)))
    cv2.fillPoly(die, [np.int32(box)], 1)
    A_top += die * np.float32(MU["silicon"] * 0.3)
    del pk, die

    joints = []
    rp = rs * rng.uniform(0.72, 0.85)                  # pad radius: where the sphere is cut
    half_h = np.sqrt(rs * rs - rp * rp)
    balls = {}
    # a tilted view traces balls and strays in the image (solder_img), and sees
    # the pillows (on the board) and necks (at mid height) from their heights
    solder_img = solder if not tilt else np.zeros((hf, wf), np.float32)
    solder_low = solder if not tilt else np.zeros((hf, wf), np.float32)

    def seen_y(y, z):
        """Image row (px) of a point at board row ``y`` and height ``z`` (px)."""
        return cy0 + (y - cy0) * ct + z * st

    for r, c in sites:
        sx, sy = site(r, c)
        code = codes.get((r, c))
        # copper pads, board and package side, always there
        for layer in (A, A_top):
            (w0, w1, v0, v1), xf, yf = _disc_window(sx * SS, sy * SS, rp * SS, (hf, wf))
            layer[w0:w1, v0:v1] += ((xf - sx * SS) ** 2 + (yf - sy * SS) ** 2 <= (rp * SS) ** 2) * np.float32(MU["copper"] * 0.03)
        t = {"grid_row": r, "grid_col": c, "defects": [], "kind": "ball", "partial": False,
             "site_x_px": sx, "site_y_px": seen_y(sy, half_h), "diameter_px": 2 * rs}
        if code == "missing":
            t.update(defects=["missing"], x_px=sx, y_px=seen_y(sy, half_h), void_pct=0.0, largest_void_pct=0.0,
                     area_px=0.0)
            joints.append(t)
            continue
        bx, by = sx + rng.normal(0, 0.04 * rs), sy + rng.normal(0, 0.04 * rs)
        if code == "misaligned":
            th = rng.uniform(0, 2 * np.pi)
            off = rng.uniform(0.65, 1.0) * rs
            bx, by = sx + off * np.cos(th), sy + off * np.sin(th)
            t["defects"].append("misaligned")
        R, hh = rs, half_h
        if code == "hip":
            # the ball never collapsed: a sphere of the ball's volume, above a pillow of paste
            vol = np.pi * (2 * hh) * (rs * rs - (2 * hh) ** 2 / 12.0)   # truncated sphere's volume
            R = (3 * vol / (4 * np.pi)) ** (1 / 3)
            hh = R
            t["defects"].append("hip")
            (w0, w1, v0, v1), xf, yf = _disc_window(sx * SS, sy * SS, 1.15 * rp * SS, (hf, wf))
            pil = ((xf - sx * SS) ** 2 + (yf - sy * SS) ** 2 <= (1.15 * rp * SS) ** 2) * np.float32(0.04 / px_mm * SS)
            solder_low[w0:w1, v0:v1] = np.maximum(solder_low[w0:w1, v0:v1], pil)
        if not tilt:
            (w0, w1, v0, v1), xf, yf = _disc_window(bx * SS, by * SS, R * SS, (hf, wf))
            chord = np.minimum(_sphere_chord(xf, yf, bx * SS, by * SS, R * SS), 2 * hh * SS)
            inside = (xf - bx * SS) ** 2 + (yf - by * SS) ** 2 <= (R * SS) ** 2
        else:
            # the ball's centre at mid height, cut by its pads; traced along the ray
            (w0, w1, v0, v1), xf, yf = _disc_window(bx * SS, seen_y(by, half_h) * SS, R * SS, (hf, wf))
            centre = (bx * SS, by * SS, half_h * SS)
            chord = _oblique_chord(xf, yf, centre, R * SS, ((half_h - hh) * SS, (half_h + hh) * SS), cy0 * SS, ct, st)
            inside = chord > 0
        vunion = np.zeros(chord.shape, bool)
        largest = 0.0
        for dx, dy, dz, rv in _voids(rng, R, hh, code == "void"):
            if not tilt:
                vc = _sphere_chord(xf, yf, (bx + dx) * SS, (by + dy) * SS, rv * SS)
            else:
                vc = _oblique_chord(xf, yf, ((bx + dx) * SS, (by + dy) * SS, (half_h + dz) * SS), rv * SS, None,
                                    cy0 * SS, ct, st)
            chord = np.maximum(chord - vc, 0.0)
            vm = (vc > 0) & inside
            vunion |= vm
            largest = max(largest, float(vm.sum()))
        area = float(inside.sum())
        solder_img[w0:w1, v0:v1] = np.maximum(solder_img[w0:w1, v0:v1], chord)
        t.update(x_px=bx, y_px=seen_y(by, half_h), diameter_px=2 * R, area_px=area / SS ** 2,
                 void_pct=100 * float(vunion.sum()) / area, largest_void_pct=100 * largest / area,
                 offset_px=float(np.hypot(bx - sx, by - sy)))
        joints.append(t)
        balls[(r, c)] = (bx, by, R, hh)
    # bridges: a neck of solder to the right or lower neighbour
    for (r, c), code in codes.items():
        if code != "bridge" or (r, c) not in balls:
            continue
        for nb in ((r, c + 1), (r + 1, c), (r, c - 1), (r - 1, c)):
            if nb in balls and codes.get(nb) in (None, "bridge", "void"):
                (x1, y1, _, hh1), (x2, y2, _, _) = balls[(r, c)], balls[nb]
                neck = np.zeros((hf, wf), np.uint8)
                cv2.line(neck, (int(x1 * SS), int(y1 * SS)), (int(x2 * SS), int(y2 * SS)), 1,
                         max(int(rng.uniform(0.35, 0.6) * rs * SS), 2))
                solder = np.maximum(solder, neck * np.float32(rng.uniform(0.4, 0.7) * 2 * hh1 * SS))
                for j in joints:
                    if (j["grid_row"], j["grid_col"]) in ((r, c), nb) and "bridge" not in j["defects"]:
                        j["defects"].append("bridge")
                break
    # stray solder balls between sites
    taken = set()
    for _ in range(int(rng.integers(0, 3))):
        spot = _free_centre(rng, taken, rows, cols, site)
        if spot is None:
            continue
        (ex, ey), er = spot, rs * rng.uniform(0.2, 0.35)
        if not tilt:
            (w0, w1, v0, v1), xf, yf = _disc_window(ex * SS, ey * SS, er * SS, (hf, wf))
            stray = _sphere_chord(xf, yf, ex * SS, ey * SS, er * SS)
        else:
            # a sphere lying on the board
            (w0, w1, v0, v1), xf, yf = _disc_window(ex * SS, seen_y(ey, er) * SS, er * SS, (hf, wf))
            stray = _oblique_chord(xf, yf, (ex * SS, ey * SS, er * SS), er * SS, None, cy0 * SS, ct, st)
        # (the necks above made ``solder`` a new array: the straight view draws there)
        target = solder if not tilt else solder_img
        target[w0:w1, v0:v1] = np.maximum(target[w0:w1, v0:v1], stray)
        joints.append({"grid_row": -1, "grid_col": -1, "defects": ["extra"], "kind": "ball", "partial": False,
                       "x_px": ex, "y_px": seen_y(ey, er), "diameter_px": 2 * er, "void_pct": 0.0,
                       "largest_void_pct": 0.0})
    # via barrels (dog-bone vias beside some pads): copper rings seen end-on through the board
    for _ in range(int(rng.integers(0, 12)) if not tilt else 0):
        spot = _free_centre(rng, taken, rows, cols, site)
        if spot is None:
            continue
        (vx, vy), vr = spot, min(0.15 / px_mm, 0.3 * rs)
        (w0, w1, v0, v1), xf, yf = _disc_window(vx * SS, vy * SS, vr * SS, (hf, wf))
        d2 = (xf - vx * SS) ** 2 + (yf - vy * SS) ** 2
        ring = (d2 <= (vr * SS) ** 2) & (d2 >= ((vr - 0.025 / px_mm) * SS) ** 2)
        # down a 1.6 mm barrel; its plating, thinner than the wall drawn, at half density
        A[w0:w1, v0:v1] += ring * np.float32(MU["copper"] * 1.6 * 0.5)
    if tilt:
        cyf = cy0 * SS
        solder = np.maximum(solder_img, _tilted(solder, half_h * SS, cyf, ct, st)) + _tilted(solder_low, 0.0, cyf, ct, st)
        A = _tilted(A, 0.0, cyf, ct, st, cv2.BORDER_REFLECT) + _tilted(A_top, 2 * half_h * SS, cyf, ct, st)
        del solder_img, solder_low, A_top
    A += solder * np.float32(MU["solder"] * px_mm / SS)
    A = A / (1 + BETA * A)
    T = cv2.resize(np.exp(-A), (size, size), interpolation=cv2.INTER_AREA)
    del A, solder
    # detector: heel effect, PSF core + glare, Poisson counts, read noise, 14-bit ADC
    i0 = rng.uniform(3000, 15000)
    g = np.linspace(1 - rng.uniform(0, 0.15), 1, size, dtype=np.float32)
    prim = T * (g[None, :] if rng.random() < 0.5 else g[:, None]) * np.float32(i0)
    sig = rng.uniform(0.6, 1.3)
    glare = rng.uniform(0.03, 0.1)
    img = (1 - glare) * cv2.GaussianBlur(prim, (0, 0), sig) + glare * cv2.GaussianBlur(prim, (0, 0), 10 * sig)
    cnt = rng.poisson(np.maximum(img, 0)).astype(np.float32) + rng.normal(0, 3, img.shape).astype(np.float32)
    full = 2 ** 14 - 1
    dn = 100 + cnt * np.float32((full - 200) / (1.1 * i0))
    bright = bool(rng.random() < 0.5)
    if bright:
        dn = full - dn
    image = np.clip(np.round(dn), 0, full).astype(np.uint16)
    window = None
    if export in ("png8", "jpeg8"):
        ex = np.random.default_rng((seed, 8))
        lo, hi = np.percentile(dn, [ex.uniform(0, 0.3), ex.uniform(99.7, 100)])
        gamma = float(ex.uniform(0.8, 1.25))
        x = np.clip((dn - lo) / max(hi - lo, 1.0), 0, 1) ** np.float32(gamma)
        image = np.round(x * 255).astype(np.uint8)
        # the black level the window took away, in grey levels of the
        # solder-dark image (exact for gamma 1): zero counts sit at dn 100
        zero = 100.0 if not bright else full - 100.0
        window = {"lo": float(lo), "hi": float(hi), "gamma": gamma,
                  "black_level_grey": float(255 * abs(lo - zero) / max(hi - lo, 1.0)) if not bright
                  else float(255 * abs(zero - hi) / max(hi - lo, 1.0))}
    enhance = None
    if sharpen:
        sh = np.random.default_rng((seed, 9))
        enhance = {"amount": float(sh.choice([0.5, 1.0, 1.5, 2.0])), "sigma_px": float(sh.choice([1.0, 2.0, 3.0, 5.0]))}
        g = image.astype(np.float32)
        g = g + enhance["amount"] * (g - cv2.GaussianBlur(g, (0, 0), enhance["sigma_px"]))
        image = np.clip(np.round(g), 0, np.iinfo(image.dtype).max).astype(image.dtype)
    if window is not None:
        if export == "jpeg8":
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(ex.integers(75, 96))])
            image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    # truth verdicts, as the limits read the truth's areas
    fail = False
    for t in joints:
        # rendered with pixel i covering [i, i + 1); the tables put pixel i's centre at i
        for k in ("x_px", "y_px", "site_x_px", "site_y_px"):
            if k in t:
                t[k] = float(t[k]) - 0.5
        if "missing" not in t["defects"] and "extra" not in t["defects"] and (
                t["void_pct"] > LIMITS["ball_void_pct"] or t["largest_void_pct"] > LIMITS["ball_largest_void_pct"]):
            t["defects"].append("void")
        t["defects"] = list(dict.fromkeys(t["defects"]))
        fail |= bool(t["defects"])
    truth = {"schema": "altsim-1", "seed": seed, "package": "bga", "frame_verdict": "fail" if fail else "pass",
             "pixel_size_um": 1000 * px_mm, "bright": bright, "export": export, "window": window, "blur_sigma_px": sig,
             "sharpen": enhance,
             "scene": {"rows": rows, "cols": cols, "pitch_px": pitch_px, "angle_deg": float(np.rad2deg(ang)),
                       "tilt_deg": float(tilt_deg),
                       "ball_diameter_px": ball_d_px, "pad_over_ball": rp / rs, "depopulated": sorted(depop)},
             "joints": joints}
    return image, truth


def _tilt_of(spec, seed):
    """A frame's tilt (degrees) from ``"t"`` or a range ``"lo,hi"`` drawn with the frame's seed."""
    lo, hi = (float(v) for v in (spec.split(",") * 2)[:2])
    return lo if lo == hi else float(np.random.default_rng((seed, 10)).uniform(lo, hi))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--seed", type=int, default=9_100_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--keep", type=Path, default=None, help="write frames and truth here")
    ap.add_argument("--exports", default="tiff16", help="comma-separated exports, taken in turn (tiff16,png8,jpeg8)")
    ap.add_argument("--ball-px", default="12,40", help="range of ball diameters, px (default 12,40)")
    ap.add_argument("--sharpen", action="store_true", help="exports keep a viewer's unsharp mask")
    ap.add_argument("--tilt", default="0", help="oblique view: tilt of the board, degrees, or a range lo,hi drawn per frame")
    args = ap.parse_args(argv)
    from xrayinspect.evaluation import CODES, Tally
    from xrayinspect.pipeline import score_frame

    tally = Tally()
    for i in range(args.n):
        exports = args.exports.split(",")
        image, truth = render(args.seed + i, size=args.size, export=exports[i % len(exports)],
                              ball_px=tuple(float(v) for v in args.ball_px.split(",")), sharpen=args.sharpen,
                              tilt_deg=_tilt_of(args.tilt, args.seed + i))
        if args.keep:
            import tifffile
            args.keep.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(args.keep / f"alt_{args.seed + i}.tif", image)      # (a JPEG as decoded)
            (args.keep / f"alt_{args.seed + i}.truth.json").write_text(json.dumps(truth, default=float))
        res = score_frame(image, frame=f"alt_{args.seed + i}")
        tally.add(truth, res)
        print(f"{args.seed + i}: {truth['scene']['rows']}x{truth['scene']['cols']} ball {truth['scene']['ball_diameter_px']:.1f} px"
              f" {'bright' if truth['bright'] else 'dark'} {truth['export']}: verdict {res.verdict} (truth {truth['frame_verdict']}),"
              f" {len(res.joints)} rows", file=sys.stderr, flush=True)
    s = tally.summary()
    print("| metric | value |\n|---|---|")
    for k in ("detection_f1", "centroid_median_px", "void_abs_err_mean_pp", "void_abs_err_p95_pp", "void_bias_pp"):
        print(f"| {k} | {s[k]:.4f} |")
    for c in CODES:
        print(f"| F1 {c} (n={s[f'n_{c}']}) | {s[f'f1_{c}']:.4f} |")
    print(f"| frame verdict (n={s['frames']}) | {s['frame_verdict_acc']:.4f} |")


if __name__ == "__main__":
    main()

"""Render a scene to detector transmission I/I0 and measure its exact truth.

Transmission follows Beer-Lambert, ``T = exp(-sum_i mu_i L_i)``, with the
path lengths ``L_i`` of every material evaluated analytically on a sub-pixel
grid and averaged to pixels as transmitted intensity (so partial-volume edges
are right). The board, package and large parts are rendered on a 2x grid.
"""

import cv2
import numpy as np
from scipy import ndimage as ndi

from .geometry import block_mean, sample_grid
from .materials import MU_PER_MM

_BG_SS = 2


def _background_mu_l(scene):
    """Attenuation ``sum mu L`` (dimensionless) of the large features, at 2x."""
    h, w = scene.shape
    ss = _BG_SS
    acc = np.zeros((h * ss, w * ss), np.float32)
    px_mm = scene.pixel_size_um / 1000.0
    d = scene.direction(w / 2, h / 2)
    k = d[:2] / d[2]
    # the whole board under everything
    acc += MU_PER_MM["fr4"] * 1.6
    H, W = acc.shape
    for kind, p, mat, thick, z in scene.background:
        mu_l = MU_PER_MM[mat] * thick * px_mm / d[2]
        sx, sy = -z * k[0], -z * k[1]
        if kind == "rect":
            x, y, rw, rh, ang = p
            pts = cv2.boxPoints((((x + sx) * ss, (y + sy) * ss), (rw * ss, rh * ss), np.rad2deg(ang)))
            pad = 2
        elif kind == "line":
            x0, y0, x1, y1, width = p
            pts = np.array([[x0 + sx, y0 + sy], [x1 + sx, y1 + sy]]) * ss
            pad = int(width * ss) + 2
        else:
            x, y, r_in, r_out = p
            pts = np.array([[x + sx, y + sy]]) * ss
            pad = int(r_out * ss) + 3
        # draw only inside the feature's bounding box: full-frame layers are slow
        bx0 = int(max(np.floor(pts[:, 0].min()) - pad, 0))
        by0 = int(max(np.floor(pts[:, 1].min()) - pad, 0))
        bx1 = int(min(np.ceil(pts[:, 0].max()) + pad + 1, W))
        by1 = int(min(np.ceil(pts[:, 1].max()) + pad + 1, H))
        if bx1 <= bx0 or by1 <= by0:
            continue
        layer = np.zeros((by1 - by0, bx1 - bx0), np.float32)
        q = np.round((pts - [bx0, by0]) * 16).astype(np.int32)
        if kind == "rect":
            cv2.fillPoly(layer, [q], 1.0, lineType=cv2.LINE_8, shift=4)
        elif kind == "line":
            cv2.line(layer, tuple(q[0]), tuple(q[1]), 1.0, max(int(round(width * ss)), 1), cv2.LINE_8, shift=4)
        else:
            thick_px = max(int(round((r_out - r_in) * ss)), 1)
            r_mid = int(round(0.5 * (r_in + r_out) * ss * 16))
            cv2.circle(layer, tuple(q[0]), r_mid, 1.0, thick_px, cv2.LINE_8, shift=4)
            # a thin barrel wall covers only part of a pixel: scale its path
            mu_l *= min(1.0, (r_out - r_in) * ss / thick_px)
        acc[by0:by1, bx0:bx1] += layer * np.float32(mu_l)
    return acc


def _group_box(scene, group):
    """Pixel box ``(x0, y0, w, h)`` around a group's shadow, and its ray."""
    h, w = scene.shape
    pts = []
    d0 = None
    for s in group.solids:
        if d0 is None:
            c = s.center[:2]
            d0 = scene.direction(*c)
        cx, cy = s.projected_center(d0)
        e = s.extent(d0)
        pts += [(cx - e, cy - e), (cx + e, cy + e)]
    pts = np.array(pts)
    x0, y0 = np.floor(pts.min(0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0)), d0


def group_paths(scene, group, ss, box=None):
    """Per-material path lengths (px) of one group on its sub-pixel grid.

    Returns
    -------
    u, v : ndarray
        Sample coordinates, px.
    paths : dict of str to ndarray
        Net path length per material (cavities subtracted, clipped at 0).
    box : tuple
        ``(x0, y0, w, h)`` of the patch, px.
    d : ndarray
        Ray direction used.
    """
    if box is None:
        box, d = _group_box(scene, group)
    else:
        _, d = _group_box(scene, group)
    x0, y0, bw, bh = box
    u, v = sample_grid(x0, y0, bw, bh, ss)
    paths = {}
    per_solid = []
    for s in group.solids:
        L = s.path_length(u, v, d)
        per_solid.append(L)
        paths[s.material] = paths.get(s.material, 0.0) + s.sign * L
    paths = {m: np.maximum(L, 0.0) for m, L in paths.items()}
    paths["_per_solid"] = per_solid
    return u, v, paths, box, d


def _truth_of(scene, group, u, v, per_solid, ss):
    """Exact projected areas, centroid and voids of one joint."""
    h, w = scene.shape
    t = {k: val for k, val in group.truth.items() if not k.startswith("_")}
    joint = np.zeros(u.shape, bool)
    for i in group.joint_solids:
        joint |= per_solid[i] > 0
    for i in group.hole_solids:
        joint &= ~(per_solid[i] > 0)
    voids = np.zeros(u.shape, bool)
    for i in group.void_solids:
        voids |= per_solid[i] > 0
    voids &= joint
    n = joint.sum()
    area = n / ss ** 2
    t["area_px"] = float(area)
    t["diameter_px"] = float(2 * np.sqrt(area / np.pi))
    if n:
        t["x_px"], t["y_px"] = float(u[joint].mean()), float(v[joint].mean())
        outside = (u[joint] < -0.5) | (u[joint] > w - 0.5) | (v[joint] < -0.5) | (v[joint] > h - 0.5)
        t["partial"] = bool(outside.any())
        t["visible_frac"] = float(1 - outside.mean())
        lab, nlab = ndi.label(voids)
        sizes = np.bincount(lab.ravel())[1:] if nlab else np.zeros(0)
        t["void_pct"] = float(100.0 * voids.sum() / n)
        t["largest_void_pct"] = float(100.0 * sizes.max() / n) if nlab else 0.0
        # voids under ~2 px^2 are below any detector's resolution; count what shows
        t["void_count"] = int((sizes >= 2 * ss ** 2).sum())
        t["void_count_all"] = int(nlab)
    else:
        t.update(void_pct=0.0, largest_void_pct=0.0, void_count=0, void_count_all=0, partial=False,
                 visible_frac=1.0)
    return t


def render_scene(scene, *, ss=4):
    """Transmission image and per-joint truth of a scene.

    Parameters
    ----------
    scene : Scene
    ss : int
        Sub-pixel samples per axis for the joints (truth uses the same).

    Returns
    -------
    transmission : ndarray of float32, shape scene.shape
        I / I0 in (0, 1].
    joints : list of dict
        Truth per joint (and per missing site), positions in px.
    """
    h, w = scene.shape
    px_mm = scene.pixel_size_um / 1000.0
    bg = _background_mu_l(scene)
    T = block_mean(np.exp(-bg), _BG_SS).astype(np.float32)
    joints = []
    for group in scene.groups:
        if not group.solids:
            continue
        u, v, paths, box, d = group_paths(scene, group, ss)
        x0, y0, bw, bh = box
        if x0 >= w or y0 >= h or x0 + bw <= 0 or y0 + bh <= 0:
            continue
        per_solid = paths.pop("_per_solid")
        mu_l = np.zeros(u.shape)
        for m, L in paths.items():
            mu_l += MU_PER_MM[m] * px_mm * L
        patch = block_mean(np.exp(-mu_l), ss)
        # clip the patch to the frame
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + bw, w), min(y0 + bh, h)
        T[cy0:cy1, cx0:cx1] *= patch[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0].astype(np.float32)
        if group.role == "feature":
            continue
        t = _truth_of(scene, group, u, v, per_solid, ss)
        site = group.truth.get("_site_xyz")
        if site is not None:
            sx, sy, sz = site
            t["site_x_px"] = float(sx - sz * d[0] / d[2])
            t["site_y_px"] = float(sy - sz * d[1] / d[2])
            if group.role == "missing":
                t["x_px"], t["y_px"] = t["site_x_px"], t["site_y_px"]
                t["area_px"] = t["diameter_px"] = 0.0
                inside = -0.5 <= t["x_px"] <= w - 0.5 and -0.5 <= t["y_px"] <= h - 0.5
                if not inside:
                    continue
                t["partial"] = False
        if group.role == "missing_pin" and "x_px" not in t:
            # a pin land with no solder has no joint solid to measure: its row
            # is the land's place (it was left out of the truth before)
            cx, cy = group.solids[0].projected_center(d)
            t.update(x_px=float(cx), y_px=float(cy), area_px=0.0, diameter_px=0.0,
                     partial=not (-0.5 <= cx <= w - 0.5 and -0.5 <= cy <= h - 0.5),
                     visible_frac=1.0, void_pct=0.0, largest_void_pct=0.0, void_count=0, void_count_all=0)
        if "x_px" not in t:
            continue
        t["kind"] = {"ball": "ball", "missing": "ball", "extra": "ball", "pad": "pad",
                     "pin": "pin", "missing_pin": "pin"}[group.role]
        if group.role == "missing_pin":
            cx, cy = group.solids[0].projected_center(d)
            t["x_px"], t["y_px"] = float(cx), float(cy)
        if t["x_px"] < -0.5 or t["x_px"] > w - 0.5 or t["y_px"] < -0.5 or t["y_px"] > h - 0.5:
            if group.role not in ("ball", "extra"):
                continue
        t["offset_px"] = float(np.hypot(t["x_px"] - t.get("site_x_px", t["x_px"]),
                                        t["y_px"] - t.get("site_y_px", t["y_px"])))
        joints.append(t)
    for i, t in enumerate(joints):
        t["joint_id"] = i
    np.clip(T, 1e-6, 1.0, out=T)
    return T, joints


def render_slice(scene, z, *, ss=4):
    """Linear attenuation in one horizontal slice at height ``z`` (px), as a CT or laminography slice shows it.

    Parameters
    ----------
    scene : Scene
    z : float
        Slice height above the board surface, px (e.g. mid-ball).
    ss : int
        Sub-pixel samples per axis.

    Returns
    -------
    mu : ndarray of float32
        Linear attenuation (1/mm) per pixel, averaged over its sub-samples.
    joints : list of dict
        Truth per joint in that slice: cross-section area, centroid, void % of
        the cross-section (the slice definition of voiding).
    """
    h, w = scene.shape
    mu = np.zeros((h, w), np.float32)
    joints = []
    up = np.array([0.0, 0.0, 1.0])
    for group in scene.groups:
        if not group.solids:
            continue
        box, _ = _group_box(scene, group)
        x0, y0, bw, bh = box
        if x0 >= w or y0 >= h or x0 + bw <= 0 or y0 + bh <= 0:
            continue
        u, v = sample_grid(x0, y0, bw, bh, ss)
        inside = {}
        per = []
        for s in group.solids:
            m = s.contains(u, v, z) if hasattr(s, "contains") else np.zeros(u.shape, bool)
            per.append(m)
            inside.setdefault(s.material, np.zeros(u.shape, float))
            inside[s.material] += s.sign * m
        patch = np.zeros(u.shape)
        for m, occ in inside.items():
            patch += MU_PER_MM[m] * np.clip(occ, 0, 1)
        pm = block_mean(patch, ss).astype(np.float32)
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + bw, w), min(y0 + bh, h)
        mu[cy0:cy1, cx0:cx1] = np.maximum(mu[cy0:cy1, cx0:cx1], pm[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0])
        if group.role == "missing" and group.truth.get("_site_xyz") is not None:
            sx, sy, _ = group.truth["_site_xyz"]
            if -0.5 <= sx <= w - 0.5 and -0.5 <= sy <= h - 0.5:
                t = {k: val for k, val in group.truth.items() if not k.startswith("_")}
                t.update(kind="ball", x_px=float(sx), y_px=float(sy), site_x_px=float(sx), site_y_px=float(sy),
                         area_px=0.0, diameter_px=0.0, void_pct=0.0, largest_void_pct=0.0, void_count=0,
                         partial=False, offset_px=0.0)
                joints.append(t)
            continue
        if group.role == "feature" or not group.joint_solids:
            continue
        joint = np.zeros(u.shape, bool)
        for i in group.joint_solids:
            joint |= per[i]
        voids = np.zeros(u.shape, bool)
        for i in group.void_solids:
            voids |= per[i]
        voids &= joint
        n = joint.sum()
        if not n:
            continue
        t = {k: val for k, val in group.truth.items() if not k.startswith("_")}
        t["kind"] = {"ball": "ball", "extra": "ball", "pad": "pad", "pin": "pin"}.get(group.role, "ball")
        t["area_px"] = float(n / ss ** 2)
        t["diameter_px"] = float(2 * np.sqrt(t["area_px"] / np.pi))
        t["x_px"], t["y_px"] = float(u[joint].mean()), float(v[joint].mean())
        out = (u[joint] < -0.5) | (u[joint] > w - 0.5) | (v[joint] < -0.5) | (v[joint] > h - 0.5)
        t["partial"] = bool(out.any())
        lab, nlab = ndi.label(voids)
        sizes = np.bincount(lab.ravel())[1:] if nlab else np.zeros(0)
        t["void_pct"] = float(100.0 * voids.sum() / n)
        t["largest_void_pct"] = float(100.0 * sizes.max() / n) if nlab else 0.0
        t["void_count"] = int((sizes >= 2 * ss ** 2).sum())
        site = group.truth.get("_site_xyz")
        if site is not None:
            t["site_x_px"], t["site_y_px"] = float(site[0]), float(site[1])
        t["offset_px"] = float(np.hypot(t["x_px"] - t.get("site_x_px", t["x_px"]), t["y_px"] - t.get("site_y_px", t["y_px"])))
        joints.append(t)
    for i, t in enumerate(joints):
        t["joint_id"] = i
    return mu, joints

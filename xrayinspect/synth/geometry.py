"""Analytic ray path lengths through the solids of a board scene.

Every solid is evaluated on a grid of detector sample points ``(u, v)`` (px)
for a ray direction ``d`` (unit 3-vector, ``d[2] > 0``: from the detector up
to the source). Heights ``z`` are in px above the detector plane, so a point
``(x, y, z)`` shows at pixel ``(x, y) - z * d[:2] / d[2]``.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ellipsoid:
    """A solid ellipsoid, rotated about the vertical axis.

    Parameters
    ----------
    center : tuple of float
        ``(x, y, z)`` centre, px.
    axes : tuple of float
        Semi-axes ``(a, b, c)`` along the rotated x, rotated y and z, px.
    angle : float
        Rotation about z, radians, counter-clockwise in (x, y).
    material : str
        Key of :data:`xrayinspect.synth.materials.MU_PER_MM`.
    sign : int
        +1 for solid, -1 for a cavity (a void removes its material).
    """

    center: tuple
    axes: tuple
    angle: float = 0.0
    material: str = "solder"
    sign: int = 1

    def projected_center(self, d):
        """Pixel position ``(x, y)`` of the centre seen along ``d``."""
        x, y, z = self.center
        return x - z * d[0] / d[2], y - z * d[1] / d[2]

    def extent(self, d):
        """Half-size of a box (px) that holds the shadow along ``d``."""
        a, b, c = self.axes
        r = max(a, b)
        return r + c * np.hypot(d[0], d[1]) / d[2] + 1.0

    def path_length(self, u, v, d):
        """Chord length (px) of the rays through ``(u, v)`` along ``d``."""
        cx, cy, cz = self.center
        a, b, c = self.axes
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        # ray origin relative to the centre, rotated into the body frame and
        # scaled so the ellipsoid is the unit sphere
        qx, qy = self._unit_xy(u, v)
        qz = -cz / c
        ex = (ca * d[0] + sa * d[1]) / a
        ey = (-sa * d[0] + ca * d[1]) / b
        ez = d[2] / c
        A = ex * ex + ey * ey + ez * ez
        B = 2.0 * (qx * ex + qy * ey + qz * ez)
        C = qx * qx + qy * qy + qz * qz - 1.0
        disc = B * B - 4.0 * A * C
        return np.sqrt(np.maximum(disc, 0.0)) / A

    def contains(self, u, v, z):
        """Whether points ``(u, v)`` at height ``z`` (px) lie inside the solid."""
        qx, qy = self._unit_xy(u, v)
        return qx * qx + qy * qy + ((z - self.center[2]) / self.axes[2]) ** 2 <= 1.0

    def _unit_xy(self, u, v):
        """``(u, v)`` in the body frame, scaled so the horizontal semi-axes are 1."""
        cx, cy, _ = self.center
        a, b, _ = self.axes
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        px, py = u - cx, v - cy
        return (ca * px + sa * py) / a, (-sa * px + ca * py) / b


@dataclass(frozen=True)
class Slab:
    """A flat layer of constant thickness with a disc, ring or rectangle footprint.

    Parameters
    ----------
    center : tuple of float
        ``(x, y)`` centre of the footprint, px.
    z : float
        Height of the layer's mid-plane, px.
    thickness : float
        Layer thickness, px.
    size : tuple of float
        ``(radius,)`` for a disc, ``(r_inner, r_outer)`` for a ring,
        ``(width, height)`` for a rectangle, px.
    shape : str
        ``"disc"``, ``"ring"`` or ``"rect"``.
    angle : float
        Rotation of a rectangle, radians.
    """

    center: tuple
    z: float
    thickness: float
    size: tuple
    shape: str = "disc"
    angle: float = 0.0
    material: str = "copper"
    sign: int = 1

    def projected_center(self, d):
        x, y = self.center
        return x - self.z * d[0] / d[2], y - self.z * d[1] / d[2]

    def extent(self, d):
        r = max(self.size) if self.shape != "rect" else 0.5 * np.hypot(*self.size)
        return r + 0.5 * self.thickness * np.hypot(d[0], d[1]) / d[2] + 1.0

    def footprint(self, u, v, d):
        """Boolean mask of rays that cross the layer's mid-plane inside it."""
        x, y = self.projected_center(d)
        px, py = u - x, v - y
        if self.shape == "disc":
            return px * px + py * py <= self.size[0] ** 2
        if self.shape == "ring":
            r2 = px * px + py * py
            return (r2 >= self.size[0] ** 2) & (r2 <= self.size[1] ** 2)
        ca, sa = np.cos(self.angle), np.sin(self.angle)
        lx = ca * px + sa * py
        ly = -sa * px + ca * py
        return (np.abs(lx) <= 0.5 * self.size[0]) & (np.abs(ly) <= 0.5 * self.size[1])

    def path_length(self, u, v, d):
        """Path length (px) through the layer; a thin-layer approximation."""
        return self.footprint(u, v, d) * (self.thickness / d[2])

    def contains(self, u, v, z):
        """Whether points ``(u, v)`` at height ``z`` (px) lie inside the layer."""
        if abs(z - self.z) > 0.5 * self.thickness:
            return np.zeros(np.shape(u), bool)
        return self.footprint(u, v, np.array([0.0, 0.0, 1.0]))


def sample_grid(x0, y0, w, h, ss):
    """Sub-pixel sample coordinates of a patch.

    Parameters
    ----------
    x0, y0 : int
        Top-left pixel of the patch.
    w, h : int
        Patch size, px.
    ss : int
        Samples per pixel along each axis.

    Returns
    -------
    u, v : ndarray of float64, shape (h * ss, w * ss)
        Sample positions in pixel coordinates (pixel centres at integers).
    """
    off = (np.arange(ss) + 0.5) / ss - 0.5
    xs = (x0 + np.arange(w)[:, None] + off[None, :]).ravel()
    ys = (y0 + np.arange(h)[:, None] + off[None, :]).ravel()
    return np.meshgrid(xs, ys)


def block_mean(a, ss):
    """Mean over ``ss x ss`` blocks: sub-pixel samples back to pixels."""
    h, w = a.shape[0] // ss, a.shape[1] // ss
    return a.reshape(h, ss, w, ss).mean(axis=(1, 3))

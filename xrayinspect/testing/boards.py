"""Small synthetic attenuation maps of a ball array, for unit tests of the core."""

import cv2
import numpy as np


def dome_board(n_side, pitch, radius, *, blur_sigma=0.0, noise=0.0, label_shrink=0.0, seed=0):
    """A square array of dome-shaped balls on a bare board.

    Parameters
    ----------
    n_side : int
        Balls per row and per column.
    pitch : int
        Ball spacing, px (the array starts one pitch from the top-left corner).
    radius : float
        Ball radius, px; a ball attenuates ``sqrt(1 - rho^2)`` (peak 1).
    blur_sigma : float
        Gaussian blur of the map, px (0: none).
    noise : float
        Standard deviation of added Gaussian noise (attenuation units).
    label_shrink : float
        The labels cover the disc of ``radius - label_shrink`` px.
    seed : int
        Seed of the noise.

    Returns
    -------
    att : ndarray of float, 2-D
        Attenuation map, ``(n_side + 1) * pitch`` px square.
    labels : ndarray of int32, 2-D
        Ball labels ``1..n_side**2`` in row-major order, 0 elsewhere.
    centres : dict
        ``{label: (x, y)}`` in px (off the pixel grid by (+0.3, -0.2)).
    """
    size = pitch * (n_side + 1)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    att = np.zeros((size, size))
    labels = np.zeros((size, size), np.int32)
    centres = {}
    k = 0
    for r in range(n_side):
        for c in range(n_side):
            k += 1
            cx, cy = pitch * (c + 1) + 0.3, pitch * (r + 1) - 0.2
            d2 = (xx - cx) ** 2 + (yy - cy) ** 2
            inside = d2 <= radius ** 2
            att[inside] = np.sqrt(1 - d2[inside] / radius ** 2)
            labels[d2 <= (radius - label_shrink) ** 2] = k
            centres[k] = (cx, cy)
    if blur_sigma > 0:
        att = cv2.GaussianBlur(att, (0, 0), blur_sigma)
    if noise > 0:
        att = att + np.random.default_rng(seed).normal(0, noise, att.shape)
    return att, labels, centres

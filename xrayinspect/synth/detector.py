"""Detector and export model: from transmission to the pixels a machine saves.

Order follows the physics: flat-field non-uniformity of the source and
detector, focal-spot and detector blur, scatter (a broad low-pass copy of the
primary beam), Poisson quantum noise on the photon counts plus Gaussian read
noise, the ADC (12-14 bits in a 16-bit container), then what the export
does: display polarity, windowing to 8 bits, JPEG, tiles stitched with black
borders.
"""

import cv2
import numpy as np

_NOISE = {"easy": (8000, 30000), "normal": (2500, 12000), "hard": (700, 3000)}
_BLUR = {"easy": (0.4, 0.8), "normal": (0.5, 1.2), "hard": (0.9, 1.8)}


def expose(transmission, rng, *, difficulty="normal", bits=None, polarity="dark"):
    """Photon counts through the detector chain, as 16-bit digital numbers.

    Parameters
    ----------
    transmission : ndarray of float32
        I / I0 per pixel.
    rng : numpy.random.Generator
    difficulty : {"easy", "normal", "hard"}
        Sets the dose (photons per pixel) and the blur.
    bits : int, optional
        ADC bits actually used (12, 14 or 16); random when not given.
    polarity : {"dark", "bright"}
        ``"bright"`` inverts the output (solder bright), as many viewers show it.

    Returns
    -------
    image : ndarray of uint16
    meta : dict
        Dose, blur sigma (px), scatter fraction, bits.
    """
    h, w = transmission.shape
    i0 = rng.uniform(*_NOISE[difficulty])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / float(max(h, w)) ** 2
    flat = (1 - rng.uniform(0.1, 0.35) * r2) * (1 + rng.uniform(-0.08, 0.08) * (xx / w - 0.5)
                                                  + rng.uniform(-0.08, 0.08) * (yy / h - 0.5))
    primary = transmission * flat.astype(np.float32) * np.float32(i0)
    sigma = rng.uniform(*_BLUR[difficulty])
    primary = cv2.GaussianBlur(primary, (0, 0), sigma)
    scatter_frac = rng.uniform(0.03, 0.12)
    small = cv2.resize(primary, (max(w // 16, 1), max(h // 16, 1)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 4.0)
    scatter = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    counts = primary + np.float32(scatter_frac) * scatter
    counts = rng.poisson(counts).astype(np.float32)
    counts += rng.normal(0, rng.uniform(2, 8), counts.shape).astype(np.float32)
    if bits is None:
        bits = int(rng.choice([12, 14, 16], p=[0.4, 0.4, 0.2]))
    full = 2 ** bits - 1
    gain = full * rng.uniform(0.75, 0.92) / (i0 * (1 + scatter_frac))
    dn = counts * np.float32(gain) + np.float32(rng.uniform(0, 0.02) * full)
    if polarity == "bright":
        dn = np.float32(full) - dn
    img = np.clip(np.round(dn), 0, full).astype(np.uint16)
    return img, {"dose_photons": float(i0), "blur_sigma_px": float(sigma), "scatter_frac": float(scatter_frac),
                 "bits_used": bits}


def to_8bit(image16, rng):
    """Window a 16-bit frame to 8 bits as an export dialog would (percentile window, gamma)."""
    lo, hi = np.percentile(image16, [rng.uniform(0, 0.5), rng.uniform(99.5, 100)])
    x = np.clip((image16.astype(np.float32) - lo) / max(hi - lo, 1.0), 0, 1)
    x = x ** np.float32(rng.uniform(0.85, 1.15))
    return np.round(x * 255).astype(np.uint8)


def jpeg_roundtrip(image8, quality):
    """Apply JPEG compression artefacts at ``quality`` (0-100)."""
    ok, buf = cv2.imencode(".jpg", image8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def tile_with_borders(image, rng):
    """Split into 2x2 or 3x2 tiles and stitch them back with black borders.

    Returns
    -------
    tiled : ndarray
    x_map, y_map : callable
        Map an original x (or y) coordinate, px, to the tiled frame.
    bands : list of tuple
        ``("x"|"y", start, width)`` of each black band in the tiled frame.
    """
    h, w = image.shape
    nx, ny = int(rng.integers(2, 4)), 2
    gap = int(rng.integers(4, 16))
    xcuts = sorted(int(w * (i + rng.uniform(-0.1, 0.1)) / nx) for i in range(1, nx))
    ycuts = sorted(int(h * (i + rng.uniform(-0.1, 0.1)) / ny) for i in range(1, ny))
    out = np.zeros((h + gap * len(ycuts), w + gap * len(xcuts)), image.dtype)
    xs = [0] + xcuts + [w]
    ys = [0] + ycuts + [h]
    for j in range(len(ys) - 1):
        for i in range(len(xs) - 1):
            out[ys[j] + j * gap:ys[j + 1] + j * gap, xs[i] + i * gap:xs[i + 1] + i * gap] = \
                image[ys[j]:ys[j + 1], xs[i]:xs[i + 1]]

    def x_map(x):
        return x + gap * sum(x >= c - 0.5 for c in xcuts)

    def y_map(y):
        return y + gap * sum(y >= c - 0.5 for c in ycuts)

    bands = [("x", c + i * gap, gap) for i, c in enumerate(xcuts)] + [("y", c + j * gap, gap) for j, c in enumerate(ycuts)]
    return out, x_map, y_map, bands


def ct_export(mu, rng, *, bits=16, difficulty="normal"):
    """A reconstructed CT/laminography slice as exported: bright solder on dark, halos, streaks.

    The slice is blurred by the reconstruction, gets the edge overshoot of a
    filtered back-projection (a bright rim inside each dense object and a dark
    halo outside), faint streaks between dense objects in line (beam
    hardening / metal artefacts), and noise that does not depend on the
    signal (reconstruction noise, unlike a radiograph's Poisson noise).

    Parameters
    ----------
    mu : ndarray of float32
        Linear attenuation of the slice, 1/mm.
    rng : numpy.random.Generator
    bits : {8, 16}

    Returns
    -------
    image : ndarray of uint8 or uint16
    meta : dict
    """
    h, w = mu.shape
    img = cv2.GaussianBlur(mu, (0, 0), rng.uniform(0.6, 1.2))
    halo = rng.uniform(0.2, 0.5)
    img = img + np.float32(halo) * (img - cv2.GaussianBlur(img, (0, 0), 3.0))
    # streaks along the rows and columns through the densest objects
    dense = (mu > 0.6 * mu.max()).astype(np.float32) if mu.max() > 0 else np.zeros_like(mu)
    rows = dense.mean(axis=1)
    cols = dense.mean(axis=0)
    amp = rng.uniform(0.02, 0.06) * float(mu.max())
    img = img + np.float32(amp) * (rows[:, None] / max(rows.max(), 1e-6) * 0.5
                                   + cols[None, :] / max(cols.max(), 1e-6) * 0.5).astype(np.float32)
    noise = {"easy": 0.01, "normal": 0.025, "hard": 0.05}[difficulty] * float(mu.max() or 1)
    img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    full = 255 if bits == 8 else 2 ** 16 - 1
    lo, hi = float(np.percentile(img, 0.5)), float(img.max())
    out = np.clip((img - lo) / max(hi - lo, 1e-6), 0, 1) * full * rng.uniform(0.85, 0.98)
    out = np.round(out).astype(np.uint8 if bits == 8 else np.uint16)
    return out, {"bits_used": bits, "halo": float(halo), "streak": float(amp), "noise": float(noise)}

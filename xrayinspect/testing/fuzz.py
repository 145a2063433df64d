"""Seed files and mutators for fuzzing :func:`xrayinspect.io.read_frame`.

Shared by ``tests/test_fuzz_readers.py`` (hypothesis, a few hundred cases) and
``scripts/fuzz_readers.py`` (10,000+ seeded cases).
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["seed_files", "mutate", "check_one"]


def seed_files() -> dict[str, bytes]:
    """Small valid frames in each format, as bytes (deterministic)."""
    import cv2
    import tifffile

    rng = np.random.default_rng(0)
    g8 = rng.integers(0, 256, (24, 20), dtype=np.uint8)
    g16 = rng.integers(0, 4096, (24, 20), dtype=np.uint16)
    rgb = rng.integers(0, 256, (20, 18, 3), dtype=np.uint8)

    def tif(a, **kw):
        buf = io.BytesIO()
        tifffile.imwrite(buf, a, metadata=None, **kw)
        return buf.getvalue()

    def enc(ext, a, params=()):
        ok, buf = cv2.imencode(ext, a, list(params))
        assert ok
        return buf.tobytes()

    return {
        "tif16": tif(g16),
        "tif8_lzw": tif(g8, compression="lzw"),
        "tif_deflate_tiled": tif(np.tile(g16, (2, 2)), compression="zlib", tile=(16, 16)),
        "tif_jpeg": tif(g8, compression="jpeg"),
        "tif_float": tif(g16.astype(np.float32)),
        "tif_pages": tif(np.stack([g8, g8]), photometric="minisblack"),
        "png8": enc(".png", g8),
        "png16": enc(".png", g16),
        "png_rgb": enc(".png", rgb),
        "jpeg": enc(".jpg", g8),
        "jpeg_rgb": enc(".jpg", rgb),
        "bmp": enc(".bmp", g8),
    }


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """One random structural mutation: flip bytes, truncate, splice, or insert."""
    b = bytearray(data)
    if not b:
        return rng.bytes(int(rng.integers(0, 16)))
    op = int(rng.integers(0, 6))
    if op == 0:  # flip a few bytes
        for _ in range(int(rng.integers(1, 9))):
            b[int(rng.integers(0, len(b)))] = int(rng.integers(0, 256))
    elif op == 1:  # truncate
        b = b[: int(rng.integers(0, len(b)))]
    elif op == 2:  # flip bytes in the header, where sizes and offsets live
        for _ in range(int(rng.integers(1, 5))):
            b[int(rng.integers(0, min(len(b), 64)))] = int(rng.integers(0, 256))
    elif op == 3:  # insert random bytes
        pos = int(rng.integers(0, len(b)))
        b[pos:pos] = rng.bytes(int(rng.integers(1, 32)))
    elif op == 4:  # delete a slice
        pos = int(rng.integers(0, len(b)))
        del b[pos : pos + int(rng.integers(1, 64))]
    else:  # write an extreme 16/32-bit value somewhere in the first 256 bytes
        pos = int(rng.integers(0, max(1, min(len(b), 256) - 4)))
        val = [0, 0xFFFF, 0x7FFF, 0xFFFFFFFF, 30000, 1][int(rng.integers(0, 6))]
        b[pos : pos + 4] = int(val).to_bytes(4, "little" if rng.random() < 0.5 else "big")
    return bytes(b)


def check_one(path, max_pixels: int = 4_000_000):
    """Read ``path``; return ``(outcome, exception)``.

    ``outcome`` is ``"read"``, ``"refused"`` (a FrameReadError) or ``"crash"``
    (anything else, returned as ``exception``).

    Allowed outcomes: a 2-D uint8/uint16/float32 array with matching meta, or
    a :class:`~xrayinspect.errors.FrameReadError`.
    """
    from xrayinspect.errors import FrameReadError
    from xrayinspect.io import read_frame

    try:
        img, meta = read_frame(path, max_pixels=max_pixels)
    except FrameReadError:
        return "refused", None
    except Exception as exc:  # noqa: BLE001 - this is what we hunt for
        return "crash", exc
    if img.ndim != 2 or img.dtype not in (np.uint8, np.uint16, np.float32) or meta.shape != img.shape:
        return "crash", AssertionError(f"bad result: shape {img.shape} dtype {img.dtype} meta {meta}")
    return "read", None

"""Read and write X-ray frames.

This is the only module that calls ``tifffile`` (and the only one that
decodes image files at all). Every reader problem ends as a
:class:`~xrayinspect.errors.FrameReadError` whose message is one line,
``"<path>: <reason>"``; no decoder exception type ever leaks out of
:func:`read_frame`.

Conventions of the arrays returned by :func:`read_frame`:

- 2-D, ``(rows, cols)``, C-contiguous, as stored on disk (no crop, flip,
  rotation or EXIF re-orientation);
- ``uint8`` or ``uint16`` (or ``float32`` for floating-point frames);
- grey, with higher values meaning more transmission (less attenuation):
  MinIsWhite TIFFs and MONOCHROME1 DICOMs are inverted to that convention;
- 10/12/14-bit detector data in a 16-bit container keeps its raw values;
  :attr:`FrameMeta.bits_used` records the true depth.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import FrameReadError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FRAME_SUFFIXES",
    "MIN_FRAME_SIDE",
    "FrameMeta",
    "iter_frames",
    "read_frame",
    "write_frame",
]

#: Largest frame (width x height, pixels) read without an explicit larger limit.
DEFAULT_MAX_PIXELS = 200_000_000

#: Smallest accepted frame side, pixels.
MIN_FRAME_SIDE = 16

#: File suffixes searched for when an input is a folder (case-insensitive).
FRAME_SUFFIXES = (".tif", ".tiff", ".png", ".bmp", ".jpg", ".jpeg", ".dcm")

# Pixel sizes outside this range (micrometres) are taken as not meaningful.
_PLAUSIBLE_UM = (0.5, 500.0)
# Resolutions (dots per inch) that image software writes by default; a frame
# tagged with one of these carries no real pixel size.
_DEFAULT_DPI = (72, 96, 100, 150, 200, 240, 300, 600, 1200, 2400)
_COMMON_DEPTHS = (8, 10, 12, 14, 16)
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, R G B

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_JPEG_MAGIC = b"\xff\xd8\xff"
_BMP_MAGIC = b"BM"


@dataclass(frozen=True)
class FrameMeta:
    """What :func:`read_frame` learned about a frame besides its pixels.

    Attributes
    ----------
    path : str
        The file read.
    format : str
        ``"tiff"``, ``"png"``, ``"bmp"``, ``"jpeg"`` or ``"dicom"``, from the
        file's signature (not its extension).
    dtype : str
        Sample type as stored in the file, e.g. ``"uint16"``.
    bits_used : int
        True bit depth of the returned values, e.g. 12 for 12-bit detector
        data in a 16-bit container (32 for float frames).
    pixel_size_um : float or None
        Pixel size in micrometres from the file's metadata (TIFF resolution
        tags, PNG ``pHYs``, BMP/JFIF density, DICOM ``PixelSpacing`` or
        ``ImagerPixelSpacing``, or the JSON description :func:`write_frame`
        stores); ``None`` when absent, a software default (72 dpi ...) or
        implausible (outside 0.5 to 500 um).
    photometric : str
        ``"minisblack"`` or ``"miniswhite"`` as stored, or ``"rgb"`` when a
        colour (or palette) frame was converted to grey.
    inverted : bool
        True if a MinIsWhite/MONOCHROME1 frame was inverted so that higher
        values mean more transmission.
    n_pages : int
        Pages (TIFF) or frames (DICOM) in the file; 1 for other formats.
    page : int
        The page returned, from 0.
    was_rgb : bool
        True if the stored frame had colour samples that were converted to
        grey (BT.601 luma weights, alpha dropped).
    shape : tuple of int
        ``(rows, cols)`` of the returned array, pixels.
    """

    path: str
    format: str
    dtype: str
    bits_used: int
    pixel_size_um: float | None
    photometric: str
    inverted: bool
    n_pages: int
    page: int
    was_rgb: bool
    shape: tuple


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


class _Fail(Exception):
    """Internal: a reason why the frame cannot be read (becomes FrameReadError)."""


def _fmt_mpx(n_pixels: int) -> str:
    mpx = n_pixels / 1e6
    if mpx >= 10:
        return f"{mpx:.0f}"
    if mpx >= 0.1:
        return f"{mpx:.1f}".rstrip("0").rstrip(".")
    return f"{mpx:.3g}"


def _check_size(width: int, height: int, max_pixels: int | None) -> None:
    """Refuse a frame from its header-declared size, before decoding."""
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise _Fail(f"frame is {width}x{height} pixels, an empty image")
    if max_pixels is not None and width * height > max_pixels:
        raise _Fail(
            f"frame is {width}x{height} = {_fmt_mpx(width * height)} Mpx, over the "
            f"limit of {_fmt_mpx(max_pixels)} Mpx (raise it with --max-megapixels)"
        )
    if width < MIN_FRAME_SIDE or height < MIN_FRAME_SIDE:
        raise _Fail(
            f"frame is {width}x{height} pixels, too small "
            f"(at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} needed)"
        )


def _plausible_um(value_um) -> float | None:
    try:
        v = float(value_um)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v) or not (_PLAUSIBLE_UM[0] <= v <= _PLAUSIBLE_UM[1]):
        return None
    return v


def _um_from_density(per_unit: float, unit: str) -> float | None:
    """Pixel size (um) from a density in pixels per ``unit`` ("inch"/"cm"/"m")."""
    try:
        per_unit = float(per_unit)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(per_unit) or per_unit <= 0:
        return None
    dpi = {"inch": per_unit, "cm": per_unit * 2.54, "m": per_unit * 0.0254}[unit]
    if unit == "inch" and any(abs(dpi - d) < 1e-6 for d in _DEFAULT_DPI):
        return None
    if unit == "m" and any(abs(dpi - d) < 0.05 for d in _DEFAULT_DPI):
        return None  # PNG/BMP store 72 dpi as 2835 px/m
    if unit == "cm" and any(abs(dpi - d) < 0.02 for d in _DEFAULT_DPI) and per_unit != round(per_unit):
        return None  # a software default converted to cm (72 dpi = 28.3465 px/cm)
    um = {"inch": 25400.0, "cm": 10000.0, "m": 1e6}[unit] / per_unit
    return _plausible_um(um)


def _depth_from_max(vmax: int, container_bits: int) -> int:
    """Smallest common detector depth (8/10/12/14/16) holding ``vmax``."""
    need = max(int(vmax), 1).bit_length()
    for d in _COMMON_DEPTHS:
        if d >= need and d <= container_bits:
            return d
    return max(need, container_bits) if need <= container_bits else need


def _bits_used(img: np.ndarray, declared: int | None) -> int:
    """True bit depth of an integer image: declared if consistent, else from the max."""
    if img.dtype.kind == "f":
        return 32
    container = img.dtype.itemsize * 8
    vmax = int(img.max()) if img.size else 0
    if declared is not None and 1 <= declared <= container and vmax < (1 << declared):
        return int(declared)
    if container == 8:
        return 8
    return _depth_from_max(vmax, container)


def false_colour(img: np.ndarray) -> bool:
    """Whether a colour frame is in colour all over (a palette export), not grey with coloured marks.

    Parameters
    ----------
    img : ndarray, shape (rows, cols, samples >= 3)
        Integer colour samples.

    Returns
    -------
    bool
        True when more than :data:`xrayinspect.annotations.OVERLAY_MAX_SHARE`
        of the pixels carry colour (:data:`~xrayinspect.annotations.OVERLAY_CHROMA`).
    """
    from .annotations import OVERLAY_CHROMA, OVERLAY_MAX_SHARE

    c = img[..., :3]
    full = float(np.iinfo(c.dtype).max)
    step = max(1, int(np.sqrt(c.shape[0] * c.shape[1] / 250_000)))     # a sample is enough for a share
    c = c[::step, ::step]
    spread = c.max(axis=-1).astype(np.float32) - c.min(axis=-1).astype(np.float32)
    return bool(np.count_nonzero(spread >= OVERLAY_CHROMA * full) > OVERLAY_MAX_SHARE * spread.size)


def _to_grey(img: np.ndarray, order: str, lossy: bool = False) -> np.ndarray:
    """Colour ``(rows, cols, samples)`` to grey with BT.601 luma; alpha dropped.

    A false-colour frame (colour all over, :func:`false_colour`) gets its grey
    back along its palette (:func:`xrayinspect.palette.palette_levels`); stored
    ``lossy`` (JPEG) through a palette whose brightness folds it is refused.

    A coloured overlay on a grey frame (:func:`xrayinspect.annotations.colour_overlay`)
    is filled in from the grey around it.
    """
    n = img.shape[2]
    if n == 1:
        return img[:, :, 0]
    if n == 2:  # grey + alpha
        return img[:, :, 0]
    if img.dtype.kind in "ui" and false_colour(img):
        # a palette's luma is not the grey it shows (a rainbow's rises and falls twice)
        from .palette import palette_folds, palette_levels

        rgb = np.ascontiguousarray(img[:, :, 2::-1] if order == "bgr" else img[:, :, :3])
        # a JPEG scatters a palette frame's colours too far to read the palette
        # back (xrayinspect.palette); the fit is not tried (1.2 s on 2048 px)
        levels = None if lossy else palette_levels(rgb)
        if levels is not None:
            return levels
        if lossy and palette_folds(rgb):
            raise _Fail("a false-colour frame through a rainbow-like palette, stored lossy (JPEG): its "
                        "colours no longer lie on the palette, and its brightness is not its grey; "
                        "export it grey, or through the palette as PNG/TIFF")
    if order == "bgr":
        b, g, r = (img[:, :, i].astype(np.float32) for i in range(3))
    else:
        r, g, b = (img[:, :, i].astype(np.float32) for i in range(3))
    grey = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    if img.dtype.kind in "ui":
        info = np.iinfo(img.dtype)
        grey = np.clip(np.rint(grey), info.min, info.max).astype(img.dtype)
    # a viewer's coloured marks (text, measurements, a cross-hair) on the grey
    # radiograph are not image: filled in from the grey around them
    from .annotations import colour_overlay, fill_in

    overlay = colour_overlay(img)
    if overlay is not None:
        grey = fill_in(grey, overlay)
    return grey


def _normalise_dtype(img: np.ndarray) -> np.ndarray:
    """Map any decoded sample type onto uint8, uint16 or float32."""
    dt = img.dtype
    if dt == np.bool_:
        return img.astype(np.uint8) * np.uint8(255)
    if dt == np.uint8 or dt == np.uint16:
        return img
    if dt.kind == "f":
        out = img.astype(np.float32, copy=False)
        if not np.isfinite(out).all():
            raise _Fail("contains NaN or inf")
        return out
    if dt.kind == "c":
        raise _Fail(f"complex samples ({dt}) are not an X-ray image")
    if dt.kind in "ui":
        if img.size == 0:
            return img.astype(np.uint16)
        lo, hi = int(img.min()), int(img.max())
        if dt.kind == "i" and lo < 0:
            # signed data: offset-binary shift keeps order and fits uint16
            bits = dt.itemsize * 8
            if bits <= 16:
                return (img.astype(np.int32) + (1 << (bits - 1))).astype(np.uint16)
            lo_hi = hi - lo
            if lo_hi <= 65535:
                return (img.astype(np.int64) - lo).astype(np.uint16)
            return img.astype(np.float32)
        if hi <= 255 and dt.itemsize == 1:
            return img.astype(np.uint8)
        if hi <= 65535:
            return img.astype(np.uint16)
        return img.astype(np.float32)
    raise _Fail(f"unsupported sample type {dt}")


def _invert(img: np.ndarray, bits: int) -> np.ndarray:
    if img.dtype.kind == "f":
        return (float(img.max()) + float(img.min()) - img).astype(np.float32)
    top = (1 << bits) - 1
    return (np.asarray(top, dtype=img.dtype) - img).astype(img.dtype)


def _check_shape(img: np.ndarray) -> None:
    if img.ndim != 2:
        raise _Fail(f"decoded to {img.ndim}-D data of shape {img.shape}, not a single 2-D frame")
    _check_size(img.shape[1], img.shape[0], None)


def _description_json(text) -> dict:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return {}
    text = text.strip().rstrip("\x00")
    if not text.startswith("{"):
        return {}
    try:
        d = json.loads(text)
    except ValueError:
        return {}
    return d if isinstance(d, dict) else {}


# --------------------------------------------------------------------------
# format readers: each returns (image, dict of meta fields)
# --------------------------------------------------------------------------


def _read_tiff(path: str, page: int, max_pixels: int | None):
    import tifffile

    with tifffile.TiffFile(path) as tif:
        n_pages = len(tif.pages)
        if n_pages == 0:
            raise _Fail("TIFF holds no image pages")
        if page >= n_pages:
            raise _Fail(f"page {page} requested but the file has {n_pages} page(s)")
        p = tif.pages[page]
        if not isinstance(p, tifffile.TiffPage):
            p = p.aspage()
        _check_size(p.imagewidth, p.imagelength, max_pixels)
        shape = tuple(int(s) for s in p.shape)
        if len(shape) < 2 or len(shape) > 3:
            raise _Fail(f"page holds {len(shape)}-D data of shape {shape}, not a single 2-D frame")
        if int(getattr(p, "imagedepth", 1) or 1) > 1:
            raise _Fail(f"page holds a volume of depth {p.imagedepth}, not a single 2-D frame")
        fsize = os.fstat(tif.filehandle.fileno()).st_size if hasattr(tif.filehandle, "fileno") else None
        if fsize is not None:
            for off, cnt in zip(p.dataoffsets, p.databytecounts):
                if off + cnt > fsize:
                    raise _Fail("truncated TIFF (image data runs past the end of the file)")
        photometric = int(p.photometric) if p.photometric is not None else 1
        tags = p.tags
        desc = _description_json(p.description)
        declared = desc.get("bits_used")
        declared = int(declared) if isinstance(declared, (int, float)) and not isinstance(declared, bool) else None
        if declared is None:
            bps = p.bitspersample
            container = np.dtype(p.dtype).itemsize * 8 if p.dtype is not None else bps
            if p.dtype is not None and np.dtype(p.dtype).kind in "ui" and bps < container:
                declared = int(bps)
            for code in (341, 281):  # SMaxSampleValue, MaxSampleValue
                t = tags.get(code)
                if t is None:
                    continue
                v = t.value
                v = max(v) if isinstance(v, (tuple, list)) else v
                try:
                    v = int(v)
                except (TypeError, ValueError):
                    continue
                if 0 < v < (1 << container) - 1:
                    declared = v.bit_length()
                    break
        pixel_um = _plausible_um(desc.get("pixel_size_um"))
        if pixel_um is None:
            xres = tags.get(282)
            unit = tags.get(296)
            unit = int(unit.value) if unit is not None else 2
            if xres is not None and unit in (2, 3):
                v = xres.value
                try:
                    per_unit = v[0] / v[1] if isinstance(v, tuple) else float(v)
                except (ZeroDivisionError, TypeError, IndexError):
                    per_unit = 0.0
                pixel_um = _um_from_density(per_unit, "inch" if unit == 2 else "cm")
        stored_dtype = str(np.dtype(p.dtype)) if p.dtype is not None else "unknown"
        img = p.asarray()
        colormap = p.colormap if photometric == 3 else None
        axes = p.axes

    was_rgb = False
    order = "rgb"
    if img.ndim == 3:
        if axes.startswith("S") and img.shape[0] <= 4:
            img = np.moveaxis(img, 0, -1)
        elif img.shape[-1] > 4:
            raise _Fail(f"page holds 3-D data of shape {img.shape}, not a single 2-D frame")
        if photometric == 5 and img.shape[-1] >= 4:
            raise _Fail("CMYK (separated) TIFF is not an X-ray image")
        was_rgb = img.shape[-1] >= 3
        img = _to_grey(img, order)
    elif img.ndim != 2:
        raise _Fail(f"page holds {img.ndim}-D data of shape {img.shape}, not a single 2-D frame")
    if colormap is not None and img.dtype.kind in "ui":
        cmap = np.asarray(colormap)
        if cmap.ndim == 2 and cmap.shape[0] >= 3 and int(img.max()) < cmap.shape[1]:
            rgb = np.stack([cmap[i][img] for i in range(3)], axis=-1)
            if rgb.dtype == np.uint16 and int(rgb.max()) <= 255 * 257 and np.all(rgb % 257 == 0):
                rgb = (rgb // 257).astype(np.uint8)
            img = _to_grey(rgb, "rgb")
            was_rgb = True
    img = _normalise_dtype(img)
    _check_shape(img)
    bits = _bits_used(img, declared)
    inverted = False
    if was_rgb:
        phot = "rgb"
    elif photometric == 0:
        phot = "miniswhite"
        img = _invert(img, bits)
        inverted = True
    else:
        phot = "minisblack"
    return img, dict(
        format="tiff", dtype=stored_dtype, bits_used=bits, pixel_size_um=pixel_um,
        photometric=phot, inverted=inverted, n_pages=n_pages, was_rgb=was_rgb,
    )


def _png_chunks(data: bytes):
    """Walk PNG chunks up to IDAT: (IHDR fields, pHYs, sBIT, has IEND)."""
    pos = 8
    ihdr = phys = sbit = None
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if ctype == b"IHDR" and len(body) >= 13:
            ihdr = struct.unpack(">IIBBBBB", body[:13])
        elif ctype == b"pHYs" and len(body) >= 9:
            phys = struct.unpack(">IIB", body[:9])
        elif ctype == b"sBIT" and len(body) >= 1:
            sbit = body[0]
        elif ctype == b"IDAT" or ctype == b"IEND":
            break
        pos += 12 + length
    return ihdr, phys, sbit


def _jpeg_header(data: bytes):
    """Walk JPEG markers: (height, width, precision, n_components, density um or None)."""
    pos = 2
    n = len(data)
    density_um = None
    while True:
        while pos < n and data[pos] != 0xFF:
            pos += 1  # tolerate junk between segments
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            raise _Fail("truncated JPEG (no frame header)")
        marker = data[pos]
        pos += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9 or marker == 0xDA:
            raise _Fail("corrupt JPEG (no frame header before the image data)")
        if pos + 2 > n:
            raise _Fail("truncated JPEG (no frame header)")
        seglen = struct.unpack(">H", data[pos:pos + 2])[0]
        if seglen < 2:
            raise _Fail("corrupt JPEG (bad segment length)")
        seg = data[pos + 2:pos + seglen]
        if marker == 0xE0 and seg[:5] == b"JFIF\x00" and len(seg) >= 12:
            units, xd = seg[7], struct.unpack(">H", seg[8:10])[0]
            if units in (1, 2):
                density_um = _um_from_density(xd, "inch" if units == 1 else "cm")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if len(seg) < 6:
                raise _Fail("truncated JPEG (short frame header)")
            prec, h, w, nc = struct.unpack(">BHHB", seg[:6])
            return h, w, prec, nc, density_um
        pos += seglen


def _bmp_header(data: bytes):
    if len(data) < 26:
        raise _Fail("truncated BMP header")
    offbits = struct.unpack("<I", data[10:14])[0]
    hsize = struct.unpack("<I", data[14:18])[0]
    if hsize == 12:
        w, h, _planes, bpp = struct.unpack("<HHHH", data[18:26])
        comp, ppm = 0, 0
    else:
        if len(data) < 54 or hsize < 40:
            raise _Fail("truncated or unsupported BMP header")
        w, h, _planes, bpp, comp = struct.unpack("<iiHHI", data[18:34])
        ppm = struct.unpack("<i", data[38:42])[0]
    h = abs(h)
    if comp in (0, 3) and w > 0 and h > 0 and bpp in (1, 4, 8, 16, 24, 32):
        stride = ((w * bpp + 31) // 32) * 4
        if offbits + stride * h > len(data):
            _check_size(w, h, None) if w < MIN_FRAME_SIDE or h < MIN_FRAME_SIDE else None
            raise _Fail("truncated BMP (pixel data runs past the end of the file)")
    return w, h, ppm


def _decode_cv2_or_pil(data: bytes, fmt: str):
    """Decode with OpenCV (IMREAD_UNCHANGED), falling back to Pillow."""
    import cv2

    arr = None
    try:
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        arr = None
    if arr is not None and arr.size:
        if arr.ndim == 3:
            return arr, "bgr"
        return arr, "grey"
    import io as _io

    from PIL import Image

    try:
        with Image.open(_io.BytesIO(data)) as im:
            im.load()
            mode = im.mode
            if mode == "P" or mode == "PA":
                im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
            elif mode == "1":
                im = im.convert("L")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            out = np.array(im)
    except Exception as exc:  # Pillow raises many types
        raise _Fail(f"could not decode {fmt.upper()} (corrupt or truncated): {_short(exc)}") from None
    if out.ndim == 3:
        return out, "rgb"
    return out, "grey"


def _read_raster(path: str, data: bytes, fmt: str, page: int, max_pixels: int | None):
    if page != 0:
        raise _Fail(f"page {page} requested but a {fmt.upper()} file has 1 page")
    pixel_um = None
    declared = None
    if fmt == "png":
        ihdr, phys, sbit = _png_chunks(data)
        if ihdr is None:
            raise _Fail("truncated or corrupt PNG (no IHDR header)")
        w, h = ihdr[0], ihdr[1]
        _check_size(w, h, max_pixels)
        if data.rstrip(b"\x00")[-8:-4] != b"IEND":
            raise _Fail("truncated PNG (no IEND chunk at the end)")
        if phys is not None and phys[2] == 1 and phys[0] > 0:
            pixel_um = _um_from_density(phys[0], "m")
        if sbit is not None and 1 <= sbit <= 16:
            declared = int(sbit)
    elif fmt == "jpeg":
        h, w, _prec, _nc, pixel_um = _jpeg_header(data)
        _check_size(w, h, max_pixels)
        if data.rfind(b"\xff\xd9") < 4:
            raise _Fail("truncated JPEG (no end-of-image marker)")
    else:  # bmp
        w, h, ppm = _bmp_header(data)
        _check_size(w, h, max_pixels)
        if ppm > 0:
            pixel_um = _um_from_density(ppm, "m")
    img, order = _decode_cv2_or_pil(data, fmt)
    stored_dtype = str(img.dtype)
    was_rgb = False
    if img.ndim == 3:
        was_rgb = img.shape[2] >= 3
        img = _to_grey(img, order, lossy=fmt == "jpeg")
    img = _normalise_dtype(img)
    _check_shape(img)
    bits = _bits_used(img, declared)
    return img, dict(
        format=fmt, dtype=stored_dtype, bits_used=bits, pixel_size_um=pixel_um,
        photometric="rgb" if was_rgb else "minisblack", inverted=False, n_pages=1,
        was_rgb=was_rgb,
    )


def _read_dicom(path: str, page: int, max_pixels: int | None, force: bool):
    try:
        import pydicom
    except ImportError:
        raise _Fail(
            "DICOM file, but pydicom is not installed: pip install 'xrayinspect[dicom]'"
        ) from None
    head = pydicom.dcmread(path, stop_before_pixels=True, force=force)
    rows, cols = head.get("Rows"), head.get("Columns")
    if rows is None or cols is None:
        raise _Fail("DICOM file has no image (no Rows/Columns)")
    _check_size(int(cols), int(rows), max_pixels)
    n_frames = int(head.get("NumberOfFrames", 1) or 1)
    if page >= n_frames:
        raise _Fail(f"page {page} requested but the file has {n_frames} frame(s)")
    ds = pydicom.dcmread(path, force=force)
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise _Fail("DICOM file has no pixel data")
    if not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        ds.file_meta = getattr(ds, "file_meta", None) or pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    arr = ds.pixel_array
    stored_dtype = str(arr.dtype)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    if n_frames > 1:
        arr = arr[page]
    was_rgb = False
    if arr.ndim == 3 and spp > 1:
        was_rgb = spp >= 3
        arr = _to_grey(arr, "rgb")
    if arr.ndim != 2:
        raise _Fail(f"DICOM pixel data has shape {arr.shape}, not a single 2-D frame")
    bits_stored = ds.get("BitsStored")
    declared = int(bits_stored) if bits_stored else None
    if arr.dtype.kind == "i" and arr.size and int(arr.min()) < 0 and declared:
        arr = (arr.astype(np.int32) + (1 << (declared - 1))).astype(np.uint16)
    img = _normalise_dtype(arr)
    _check_shape(img)
    bits = _bits_used(img, declared)
    phot_in = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    inverted = False
    if was_rgb:
        phot = "rgb"
    elif phot_in == "MONOCHROME1":
        img = _invert(img, bits)
        inverted = True
        phot = "miniswhite"
    else:
        phot = "minisblack"
    pixel_um = None
    for key in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        v = ds.get(key)
        if v is None:
            continue
        try:
            vals = [float(x) for x in (v if isinstance(v, (list, tuple)) or hasattr(v, "__len__") and not isinstance(v, str) else [v])]
        except (TypeError, ValueError):
            continue
        if vals:
            # PixelSpacing is (row spacing, column spacing) in mm: x uses the column
            pixel_um = _plausible_um(vals[-1] * 1000.0)
            if pixel_um is not None:
                break
    return img, dict(
        format="dicom", dtype=stored_dtype, bits_used=bits, pixel_size_um=pixel_um,
        photometric=phot, inverted=inverted, n_pages=n_frames, was_rgb=was_rgb,
    )


def _short(exc: BaseException, limit: int = 160) -> str:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if len(msg) > limit:
        msg = msg[: limit - 3] + "..."
    return f"{type(exc).__name__}: {msg}" if type(exc).__name__ not in msg else msg


def _sniff(head: bytes) -> str | None:
    if head.startswith(_PNG_MAGIC):
        return "png"
    if any(head.startswith(m) for m in _TIFF_MAGICS):
        return "tiff"
    if head.startswith(_JPEG_MAGIC):
        return "jpeg"
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_BMP_MAGIC) and len(head) >= 18:
        hsize = struct.unpack("<I", head[14:18])[0]
        if hsize in (12, 40, 52, 56, 64, 108, 124):
            return "bmp"
    return None


def read_frame(path, *, page: int = 0, max_pixels: int | None = DEFAULT_MAX_PIXELS):
    """Read one X-ray frame as a 2-D grey array.

    The format is detected from the file's signature (magic bytes), so a file
    with the wrong extension still reads. Colour frames become grey (BT.601
    luma, alpha dropped); MinIsWhite TIFF and MONOCHROME1 DICOM are inverted
    so that higher values mean more transmission; 10-16-bit data stays as
    raw ``uint16`` values with the true depth in ``meta.bits_used``.

    Parameters
    ----------
    path : str or os.PathLike
        A TIFF (8/16-bit integer or 32/64-bit float, any compression that
        tifffile and imagecodecs decode, striped or tiled), PNG, BMP, JPEG or
        DICOM/DICONDE file (DICOM needs ``pip install 'xrayinspect[dicom]'``).
    page : int, optional
        Page of a multi-page TIFF, or frame of a multi-frame DICOM, from 0.
        Pages are never stacked; ``meta.n_pages`` tells how many there are.
    max_pixels : int or None, optional
        Refuse frames whose header declares more than this many pixels
        (width x height), checked before any pixel is decoded. Default
        :data:`DEFAULT_MAX_PIXELS` (200 megapixels); ``None`` for no limit.

    Returns
    -------
    image : ndarray, shape (rows, cols)
        ``uint8``, ``uint16`` or (for float frames) ``float32``, C-contiguous.
    meta : FrameMeta
        Format, stored dtype, true bit depth, pixel size in micrometres (or
        None), photometric, inversion, page count and colour conversion.

    Raises
    ------
    FrameReadError
        For every unreadable or unusable file (missing, a folder, empty,
        unreadable, unknown signature, truncated, corrupt, over
        ``max_pixels``, smaller than 16x16 pixels, not 2-D, NaN or inf
        samples, DICOM without pixel data, ...). The message is one line
        ``"<path>: <reason>"``. No other exception type escapes for a bad
        file.
    TypeError, ValueError
        For bad arguments (``page`` not a non-negative int, ``max_pixels`` not
        a positive int or None).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from xrayinspect.io import read_frame, write_frame
    >>> folder = tempfile.mkdtemp()
    >>> frame = np.full((64, 80), 3000, dtype=np.uint16)
    >>> _ = write_frame(os.path.join(folder, "f.tif"), frame, pixel_size_um=12.5, bits_used=12)
    >>> image, meta = read_frame(os.path.join(folder, "f.tif"))
    >>> image.shape, image.dtype.name, meta.bits_used, meta.pixel_size_um
    ((64, 80), 'uint16', 12, 12.5)
    """
    if isinstance(page, bool) or not isinstance(page, (int, np.integer)):
        raise TypeError(f"page must be an int, got {type(page).__name__}")
    if page < 0:
        raise ValueError(f"page must be >= 0, got {page}")
    if max_pixels is not None:
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
            raise TypeError(f"max_pixels must be an int or None, got {type(max_pixels).__name__}")
        if max_pixels <= 0:
            raise ValueError(f"max_pixels must be > 0, got {max_pixels}")
    page = int(page)
    try:
        spath = os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}") from None
    if isinstance(spath, bytes):
        spath = os.fsdecode(spath)
    try:
        image, fields = _read(spath, page, max_pixels)
    except FrameReadError:
        raise
    except _Fail as exc:
        raise FrameReadError(spath, str(exc)) from None
    except MemoryError:
        raise FrameReadError(spath, "out of memory while decoding the frame") from None
    except RecursionError as exc:
        raise FrameReadError(spath, f"could not decode: {_short(exc)}") from None
    except Exception as exc:  # any decoder failure becomes a FrameReadError
        raise FrameReadError(spath, f"could not decode: {_short(exc)}") from None
    image = np.ascontiguousarray(image)
    if not image.flags.writeable:
        image = image.copy()
    meta = FrameMeta(path=spath, page=page, shape=tuple(int(s) for s in image.shape), **fields)
    return image, meta


def _read(spath: str, page: int, max_pixels: int | None):
    try:
        st = os.stat(spath)
    except FileNotFoundError:
        if os.path.islink(spath):
            raise _Fail("broken symbolic link (target not found)") from None
        raise _Fail("file not found") from None
    except PermissionError:
        raise _Fail("permission denied") from None
    except (OSError, ValueError) as exc:
        raise _Fail(f"cannot access file: {_short(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise _Fail("is a directory, not a frame file")
    if not stat.S_ISREG(st.st_mode):
        raise _Fail("not a regular file")
    if st.st_size == 0:
        raise _Fail("empty file (0 bytes)")
    try:
        with open(spath, "rb") as fh:
            head = fh.read(132)
    except PermissionError:
        raise _Fail("permission denied") from None
    except OSError as exc:
        raise _Fail(f"cannot read file: {_short(exc)}") from None
    fmt = _sniff(head)
    if fmt is None:
        magics = (_PNG_MAGIC, _JPEG_MAGIC, *_TIFF_MAGICS)
        if len(head) < 8 and any(m.startswith(head) or head.startswith(m) for m in magics):
            raise _Fail(f"truncated file ({len(head)} bytes)")
        if (
            spath.lower().endswith(".dcm")
            and head[:2] in (b"\x08\x00", b"\x02\x00")
        ):
            return _read_dicom(spath, page, max_pixels, force=True)
        raise _Fail("not an image (unknown file signature)")
    if fmt == "tiff":
        if len(head) < 16:
            raise _Fail(f"truncated TIFF ({len(head)} bytes)")
        return _read_tiff(spath, page, max_pixels)
    if fmt == "dicom":
        return _read_dicom(spath, page, max_pixels, force=False)
    try:
        with open(spath, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise _Fail(f"cannot read file: {_short(exc)}") from None
    return _read_raster(spath, data, fmt, page, max_pixels)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF)


def _png_add_chunks(png: bytes, chunks: list[bytes]) -> bytes:
    """Insert ancillary chunks right after IHDR (before any IDAT)."""
    ihdr_end = 8 + 12 + struct.unpack(">I", png[8:12])[0]
    # drop chunks of the same type the encoder may already have written
    kinds = {c[4:8] for c in chunks}
    out = [png[:ihdr_end]]
    pos = ihdr_end
    while pos < len(png):
        length = struct.unpack(">I", png[pos:pos + 4])[0]
        ctype = png[pos + 4:pos + 8]
        end = pos + 12 + length
        if ctype not in kinds:
            out.append(png[pos:end])
        pos = end
    return out[0] + b"".join(chunks) + b"".join(out[1:])


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def _atomic_write(path: Path, write) -> None:
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode)
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_frame(
    path,
    image,
    *,
    pixel_size_um: float | None = None,
    bits_used: int | None = None,
    photometric: str = "minisblack",
    jpeg_quality: int = 90,
    compression: str | None = None,
) -> Path:
    """Write a 2-D grey frame, choosing the format from the extension.

    The file is written atomically (a temporary file in the same folder,
    then :func:`os.replace`), so a reader never sees a half-written frame.
    :func:`read_frame` reads back the same values, pixel size and bit depth
    (JPEG: approximate values, no bit depth).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the suffix picks the format: ``.tif``/``.tiff`` (uint8,
        uint16 or float32), ``.png`` (uint8 or uint16), ``.jpg``/``.jpeg``
        (uint8 only, lossy) or ``.bmp`` (uint8 only).
    image : array_like, shape (rows, cols)
        The frame, higher values meaning more transmission.
    pixel_size_um : float, optional
        Pixel size in micrometres. Stored as TIFF XResolution/YResolution in
        pixels per centimetre plus a JSON ImageDescription, or as a PNG
        ``pHYs`` chunk (pixels per metre). Not stored in JPEG or BMP.
    bits_used : int, optional
        True bit depth of the samples (1 to 16), e.g. 12 for 12-bit data in
        uint16. Default: from the largest value (8, 10, 12, 14 or 16). Stored
        in TIFF (JSON description and MaxSampleValue) and PNG (``sBIT``).
    photometric : {"minisblack", "miniswhite"}, optional
        ``"miniswhite"`` (TIFF only) stores ``2**bits_used - 1 - image`` with
        the MinIsWhite tag, as some detectors do; :func:`read_frame` inverts
        it back.
    jpeg_quality : int, optional
        JPEG quality, 1 to 100.
    compression : str, optional
        TIFF compression passed to tifffile (e.g. ``"zlib"``, ``"lzw"``);
        default uncompressed.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        For a dtype the format cannot hold.
    ValueError
        For a non-2-D image, an unknown suffix, NaN/inf samples, or
        out-of-range ``pixel_size_um``, ``bits_used`` or ``jpeg_quality``.
    OSError
        If the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (rows, cols), got shape {img.shape}")
    if img.dtype == np.bool_:
        img = img.astype(np.uint8) * np.uint8(255)
    if img.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise TypeError(
            f"image dtype must be uint8, uint16 or float32, got {img.dtype}; convert it first"
        )
    if img.dtype == np.float64:
        img = img.astype(np.float32)
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        raise ValueError("image contains NaN or inf; replace them before writing")
    if photometric not in ("minisblack", "miniswhite"):
        raise ValueError(f"photometric must be 'minisblack' or 'miniswhite', got {photometric!r}")
    if pixel_size_um is not None:
        pixel_size_um = float(pixel_size_um)
        if not math.isfinite(pixel_size_um) or pixel_size_um <= 0:
            raise ValueError(f"pixel_size_um must be a positive number of micrometres, got {pixel_size_um}")
    if img.dtype.kind == "u":
        container = img.dtype.itemsize * 8
        vmax = int(img.max()) if img.size else 0
        if bits_used is None:
            bits_used = 8 if container == 8 else _depth_from_max(vmax, container)
        bits_used = int(bits_used)
        if not 1 <= bits_used <= container:
            raise ValueError(f"bits_used must be 1..{container} for {img.dtype}, got {bits_used}")
        if vmax >= (1 << bits_used):
            raise ValueError(
                f"bits_used={bits_used} but the image holds {vmax} (needs {vmax.bit_length()} bits)"
            )
    else:
        bits_used = None
    suffixes = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
    if suffix not in suffixes:
        raise ValueError(f"cannot write {path.name!r}: suffix must be one of {', '.join(suffixes)}")
    if photometric == "miniswhite" and suffix not in (".tif", ".tiff"):
        raise ValueError("photometric='miniswhite' is only supported for TIFF")

    if suffix in (".tif", ".tiff"):
        import tifffile

        data = img
        if photometric == "miniswhite":
            data = _invert(img, bits_used or 8)
        desc = {}
        if bits_used is not None:
            desc["bits_used"] = bits_used
        if pixel_size_um is not None:
            desc["pixel_size_um"] = pixel_size_um
        kwargs = dict(
            photometric=photometric,
            description=json.dumps(desc) if desc else None,
            metadata=None,
            compression=compression,
        )
        if pixel_size_um is not None:
            kwargs["resolution"] = (1e4 / pixel_size_um, 1e4 / pixel_size_um)
            kwargs["resolutionunit"] = "CENTIMETER"
        if bits_used is not None:
            kwargs["extratags"] = [(281, "H", 1, (1 << bits_used) - 1, True)]

        def _write(fh):
            tifffile.imwrite(fh, data, **kwargs)

        _atomic_write(path, _write)
        return path

    import cv2

    if img.dtype == np.float32:
        raise TypeError(f"{suffix} cannot hold float32 samples; write a .tif or convert to uint8/uint16")
    if suffix == ".png":
        ok, buf = cv2.imencode(".png", img)
        if not ok:
            raise ValueError(f"OpenCV could not encode {path.name}")
        chunks = []
        if bits_used is not None and bits_used < img.dtype.itemsize * 8:
            chunks.append(_png_chunk(b"sBIT", bytes([bits_used])))
        if pixel_size_um is not None:
            ppm = max(1, round(1e6 / pixel_size_um))
            chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", ppm, ppm, 1)))
        blob = _png_add_chunks(buf.tobytes(), chunks) if chunks else buf.tobytes()
    else:
        if img.dtype != np.uint8:
            raise TypeError(f"{suffix} holds 8-bit samples only, got {img.dtype}; write .tif or .png for 16-bit")
        if suffix in (".jpg", ".jpeg"):
            q = int(jpeg_quality)
            if not 1 <= q <= 100:
                raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
        else:
            ok, buf = cv2.imencode(".bmp", img)
        if not ok:
            raise ValueError(f"OpenCV could not encode {path.name}")
        blob = buf.tobytes()
    _atomic_write(path, lambda fh: fh.write(blob))
    return path


# --------------------------------------------------------------------------
# finding frames
# --------------------------------------------------------------------------


def iter_frames(inputs) -> Iterator[tuple[Path, str]]:
    """Find the frames named by files and folders.

    Folders are searched recursively for :data:`FRAME_SUFFIXES`
    (case-insensitive), in sorted order, skipping hidden (dot) files and
    folders; symbolic links to folders are followed, but each real folder is
    visited once (no loops). A file given explicitly is always yielded,
    whatever its suffix (the reader goes by content), and so is an input that
    does not exist (reading it then reports "file not found"). A file reached
    twice (two inputs, or links) is yielded once.

    Parameters
    ----------
    inputs : str, os.PathLike or iterable of them
        Files and folders.

    Yields
    ------
    path : pathlib.Path
        The frame file, as found (not resolved).
    name : str
        Its path relative to the folder input it was found under, with ``/``
        separators, or its file name when the input is a file. This is the
        ``frame`` column of ``frames.csv``.
    """
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]
    seen: set[str] = set()

    def _key(p: str) -> str:
        try:
            return os.path.realpath(p)
        except (OSError, ValueError):
            return os.path.abspath(p)

    for item in inputs:
        root = Path(os.fsdecode(os.fspath(item)))
        if not root.is_dir():
            key = _key(str(root))
            if key not in seen:
                seen.add(key)
                yield root, root.name
            continue
        found: list[tuple[str, Path]] = []
        visited: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real = _key(dirpath)
            if real in visited:
                dirnames[:] = []
                continue
            visited.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in filenames:
                if fn.startswith(".") or not fn.lower().endswith(FRAME_SUFFIXES):
                    continue
                full = Path(dirpath) / fn
                if full.is_dir():
                    continue
                rel = full.relative_to(root).as_posix()
                found.append((rel, full))
        for rel, full in sorted(found, key=lambda t: t[0]):
            key = _key(str(full))
            if key in seen:
                continue
            seen.add(key)
            yield full, rel

"""A corpus of awkward and broken frame files, for reader, batch and CLI tests.

:func:`make_bad_inputs` writes each kind into a folder and returns a manifest
saying whether :func:`xrayinspect.io.read_frame` should read it (``"ok"``) or
refuse it with a :class:`~xrayinspect.errors.FrameReadError` (``"error"``).
Everything is deterministic (seeded) and small (well under 2 MB in all).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

__all__ = ["make_bad_inputs", "huge_header_tiff_bytes"]


def huge_header_tiff_bytes(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny (< 200 bytes) little-endian TIFF whose IFD declares ``width x height``.

    The single 8-bit strip holds only 16 bytes, so a reader that decodes
    before checking the declared size would allocate ``width*height`` bytes.

    Parameters
    ----------
    width, height : int
        Declared size, pixels.

    Returns
    -------
    bytes
        The file's content.
    """
    entries = [
        (256, 4, 1, width),  # ImageWidth LONG
        (257, 4, 1, height),  # ImageLength LONG
        (258, 3, 1, 8),  # BitsPerSample SHORT
        (259, 3, 1, 1),  # Compression none
        (262, 3, 1, 1),  # MinIsBlack
        (273, 4, 1, 0),  # StripOffsets (patched below)
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, 16),  # StripByteCounts
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    strip_offset = ifd_offset + ifd_size
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        if tag == 273:
            value = strip_offset
        if typ == 3:
            out += struct.pack("<HHIHH", tag, typ, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, typ, count, value)
    out += struct.pack("<I", 0)
    out += bytes(16)
    return bytes(out)


def _frame(shape=(64, 64), dtype=np.uint16, seed=0, top=4095) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    img = 0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 0.05 * rng.standard_normal(shape)
    img = np.clip(img, 0, 1) * top
    return img.astype(dtype)


def make_bad_inputs(folder) -> dict[str, tuple[Path, str]]:
    """Write the corpus of awkward inputs into ``folder``.

    Parameters
    ----------
    folder : str or os.PathLike
        Destination folder (created if missing). Use a fresh folder each time.

    Returns
    -------
    dict
        ``{name: (path, expect)}`` where ``expect`` is ``"ok"`` (read_frame
        returns a 2-D frame) or ``"error"`` (read_frame raises
        FrameReadError). ``unreadable_permissions`` is ``"ok"`` when running
        as root (root reads files whatever their mode); the DICOM kinds are
        present only when pydicom can be imported.
    """
    import cv2
    import tifffile

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    m: dict[str, tuple[Path, str]] = {}

    def put(name: str, filename: str, data: bytes, expect: str) -> None:
        p = folder / filename
        p.write_bytes(data)
        m[name] = (p, expect)

    def tiff_bytes(arr, **kw) -> bytes:
        import io

        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, metadata=None, **kw)
        return buf.getvalue()

    def enc(ext: str, arr, params=()) -> bytes:
        ok, buf = cv2.imencode(ext, arr, list(params))
        assert ok
        return buf.tobytes()

    g16 = _frame()
    g8 = _frame(dtype=np.uint8, top=255, seed=1)
    png8 = enc(".png", g8)
    jpg8 = enc(".jpg", g8, (cv2.IMWRITE_JPEG_QUALITY, 90))
    tif16 = tiff_bytes(g16)

    # --- broken or not-an-image files -----------------------------------
    put("empty_file", "empty.tif", b"", "error")
    put("truncated_tiff", "truncated.tif", tif16[: len(tif16) // 2], "error")
    put("truncated_png", "truncated.png", png8[: len(png8) // 2], "error")
    put("truncated_jpeg", "truncated.jpg", jpg8[: len(jpg8) // 2], "error")
    put("magic_only_jpeg", "magic_only.jpg", b"\xff\xd8\xff", "error")
    put("wrong_magic", "gif_named.tif", b"GIF89a" + bytes(200), "error")
    put("text_named_png", "text.png", b"this is not an image\n" * 10, "error")
    put("png_magic_then_garbage", "garbage.png",
        b"\x89PNG\r\n\x1a\n" + np.random.default_rng(3).bytes(500), "error")
    put("random_bytes", "random.tif", np.random.default_rng(4).bytes(1000), "error")
    f32 = g16.astype(np.float32) / 4095
    nan = f32.copy()
    nan[10, 10] = np.nan
    put("float32_nan", "nan.tif", tiff_bytes(nan), "error")
    inf = f32.copy()
    inf[5, 7] = np.inf
    put("float32_inf", "inf.tif", tiff_bytes(inf), "error")
    put("one_by_one", "one.png", enc(".png", np.zeros((1, 1), np.uint8)), "error")
    put("thin_3x100000", "thin.tif", tiff_bytes(np.zeros((3, 100000), np.uint8)), "error")
    put("huge_header_30000x30000", "huge.tif", huge_header_tiff_bytes(), "error")
    d = folder / "x.tif"
    d.mkdir(exist_ok=True)
    m["directory_named_tif"] = (d, "error")
    m["missing_file"] = (folder / "does_not_exist.tif", "error")

    # --- readable but awkward --------------------------------------------
    put("png_named_tif", "png_named.tif", png8, "ok")
    put("jpeg_named_png", "jpeg_named.png", jpg8, "ok")
    rgb = np.dstack([g8, np.flipud(g8), np.fliplr(g8)])
    put("rgb_png", "rgb.png", enc(".png", rgb), "ok")
    rgba = np.dstack([rgb, np.full_like(g8, 200)])
    put("rgba_png", "rgba.png", enc(".png", rgba), "ok")
    put("float32_finite", "float.tif", tiff_bytes(f32), "ok")
    put("all_zero", "zeros.tif", tiff_bytes(np.zeros((64, 64), np.uint16)), "ok")
    put("saturated", "saturated.png", enc(".png", np.full((64, 64), 65535, np.uint16)), "ok")
    put("multipage_tiff", "multipage.tif", tiff_bytes(np.stack([g16, g16 // 2, g16 // 3]), photometric="minisblack"), "ok")
    put("tiled_tiff", "tiled.tif", tiff_bytes(_frame((100, 90)), tile=(32, 32)), "ok")
    put("lzw_tiff", "lzw.tif", tiff_bytes(g16, compression="lzw"), "ok")
    put("deflate_tiff", "deflate.tif", tiff_bytes(g16, compression="zlib"), "ok")
    put("jpeg_tiff", "jpeg.tif", tiff_bytes(g8, compression="jpeg"), "ok")
    put("bits12_in_16", "bits12.tif", tiff_bytes(g16), "ok")
    put("miniswhite_tiff", "miniswhite.tif", tiff_bytes(4095 - g16, photometric="miniswhite"), "ok")
    noise = np.random.default_rng(5).integers(0, 65536, (64, 64), dtype=np.uint16)
    put("noise_only", "noise.tif", tiff_bytes(noise), "ok")
    put("png16", "g16.png", enc(".png", g16), "ok")
    put("bmp8", "g8.bmp", enc(".bmp", g8), "ok")
    put("jpeg8", "g8.jpg", jpg8, "ok")
    put("int16_signed_tiff", "signed.tif", tiff_bytes(g16.astype(np.int16) - 2048), "ok")
    put("uppercase_suffix", "UPPER.TIF", tif16, "ok")
    name = os.fsdecode(b"frame_\xff\xfe_latin1_\xe9.png")
    try:
        put("non_utf8_name", name, png8, "ok")
    except (OSError, UnicodeEncodeError):  # a file system that refuses such names
        pass
    put("very_long_name", "L" * 240 + ".png", png8, "ok")
    put("non_ascii_name", "Lötstelle_ボール.png", png8, "ok")

    p = folder / "unreadable.tif"
    p.write_bytes(tif16)
    os.chmod(p, 0)
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    m["unreadable_permissions"] = (p, "ok" if is_root else "error")

    try:
        import pydicom  # noqa: F401
    except ImportError:
        pydicom = None
    if pydicom is not None:
        m["dicom_no_pixel_data"] = (_write_dicom(folder / "nopixels.dcm", None), "error")
        m["dicom_monochrome1"] = (
            _write_dicom(folder / "mono1.dcm", 4095 - g16, photometric="MONOCHROME1"), "ok"
        )
        m["dicom_named_png"] = (_write_dicom(folder / "dicom_named.png", g16), "ok")
    return m


def _write_dicom(path: Path, pixels, *, photometric="MONOCHROME2", bits_stored=12,
                 pixel_spacing_mm=(0.05, 0.05)) -> Path:
    """Write a small uncompressed DX-style DICOM (pixels ``None``: no pixel data)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # DX for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path.name)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "Board^Test"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = (64, 64) if pixels is None else pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [f"{pixel_spacing_mm[0]:g}", f"{pixel_spacing_mm[1]:g}"]
    if pixels is not None:
        ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path

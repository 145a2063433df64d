"""Tests of xrayinspect.io: reading, writing, finding frames, the bad-input corpus."""

import os
from pathlib import Path

import numpy as np
import pytest

from xrayinspect.errors import FrameReadError
from xrayinspect.io import (
    DEFAULT_MAX_PIXELS,
    FRAME_SUFFIXES,
    FrameMeta,
    iter_frames,
    read_frame,
    write_frame,
)
from xrayinspect.testing.bad_inputs import make_bad_inputs


def _ramp(shape=(48, 64), dtype=np.uint16, top=4095, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, top + 1, shape).astype(dtype)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    m = make_bad_inputs(folder)
    yield m
    for p, _ in m.values():  # let pytest clean up the unreadable file
        if p.exists() and not p.is_dir():
            os.chmod(p, 0o644)


def test_corpus_has_enough_kinds(corpus):
    assert len(corpus) >= 30
    assert {e for _, e in corpus.values()} == {"ok", "error"}


def test_every_corpus_kind(corpus):
    wrong = []
    for name, (path, expect) in corpus.items():
        try:
            img, meta = read_frame(path)
        except FrameReadError as exc:
            assert "\n" not in str(exc)
            assert str(exc).startswith(str(path))
            got = "error"
        else:
            assert img.ndim == 2 and img.dtype in (np.uint8, np.uint16, np.float32)
            assert isinstance(meta, FrameMeta) and meta.shape == img.shape
            got = "ok"
        if got != expect:
            wrong.append((name, expect, got))
    assert not wrong


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("empty_file", "empty file"),
        ("truncated_tiff", "truncated"),
        ("truncated_png", "truncated"),
        ("truncated_jpeg", "truncated"),
        ("wrong_magic", "not an image (unknown file signature)"),
        ("text_named_png", "unknown file signature"),
        ("float32_nan", "contains NaN or inf"),
        ("float32_inf", "contains NaN or inf"),
        ("one_by_one", "too small"),
        ("thin_3x100000", "too small"),
        ("directory_named_tif", "directory"),
        ("missing_file", "not found"),
        (
            "huge_header_30000x30000",
            "frame is 30000x30000 = 900 Mpx, over the limit of 200 Mpx (raise it with --max-megapixels)",
        ),
    ],
)
def test_error_reasons(corpus, kind, fragment):
    path, _ = corpus[kind]
    with pytest.raises(FrameReadError) as ei:
        read_frame(path)
    assert fragment in str(ei.value)
    assert ei.value.path == str(path)


def test_huge_header_refused_before_allocating(corpus, monkeypatch):
    import tifffile

    def boom(*a, **k):
        raise AssertionError("decoded a frame over the limit")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", boom)
    with pytest.raises(FrameReadError, match="over the limit"):
        read_frame(corpus["huge_header_30000x30000"][0])


def test_max_pixels_argument(tmp_path):
    p = write_frame(tmp_path / "a.png", _ramp(dtype=np.uint8, top=255))
    with pytest.raises(FrameReadError, match="over the limit"):
        read_frame(p, max_pixels=1000)
    read_frame(p, max_pixels=None)
    assert DEFAULT_MAX_PIXELS == 200_000_000
    with pytest.raises(ValueError):
        read_frame(p, max_pixels=0)
    with pytest.raises(ValueError):
        read_frame(p, page=-1)


def test_unreadable_permissions(corpus):
    path, expect = corpus["unreadable_permissions"]
    if os.geteuid() == 0:
        assert expect == "ok"
        read_frame(path)
    else:
        with pytest.raises(FrameReadError, match="permission denied"):
            read_frame(path)


def test_rgb_and_rgba_become_grey(corpus):
    for kind in ("rgb_png", "rgba_png"):
        img, meta = read_frame(corpus[kind][0])
        assert img.ndim == 2 and meta.was_rgb and meta.photometric == "rgb"


def test_rgb_luma_weights(tmp_path):
    import cv2

    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[..., 0] = 200  # R
    bgr = rgb[..., ::-1].copy()
    p = tmp_path / "red.png"
    cv2.imwrite(str(p), bgr)
    img, _ = read_frame(p)
    assert int(img[0, 0]) == round(0.299 * 200)


def test_wrong_extension_reads_by_magic(corpus):
    _, meta = read_frame(corpus["png_named_tif"][0])
    assert meta.format == "png"
    _, meta = read_frame(corpus["jpeg_named_png"][0])
    assert meta.format == "jpeg"


def test_multipage_reads_page_never_stacks(corpus):
    p = corpus["multipage_tiff"][0]
    a, m0 = read_frame(p)
    b, m1 = read_frame(p, page=1)
    assert a.ndim == 2 and m0.n_pages == 3 and m1.page == 1
    assert a.mean() > b.mean()
    with pytest.raises(FrameReadError, match="page 3"):
        read_frame(p, page=3)


def test_miniswhite_inverted(corpus):
    img, meta = read_frame(corpus["miniswhite_tiff"][0])
    ref, _ = read_frame(corpus["bits12_in_16"][0])
    assert meta.inverted and meta.photometric == "miniswhite" and meta.bits_used == 12
    np.testing.assert_array_equal(img, ref)


def test_12_bit_in_16(corpus):
    img, meta = read_frame(corpus["bits12_in_16"][0])
    assert img.dtype == np.uint16 and meta.bits_used == 12 and meta.dtype == "uint16"
    assert img.max() < 4096


def test_compressed_and_tiled(corpus):
    ref, _ = read_frame(corpus["bits12_in_16"][0])
    for kind in ("lzw_tiff", "deflate_tiff"):
        img, _ = read_frame(corpus[kind][0])
        np.testing.assert_array_equal(img, ref)
    img, _ = read_frame(corpus["tiled_tiff"][0])
    assert img.shape == (100, 90)
    img, _ = read_frame(corpus["jpeg_tiff"][0])
    assert img.dtype == np.uint8


def test_signed_int16_shifted(corpus):
    img, _ = read_frame(corpus["int16_signed_tiff"][0])
    assert img.dtype == np.uint16


def test_odd_names(corpus):
    for kind in ("non_ascii_name", "very_long_name", "uppercase_suffix"):
        img, _ = read_frame(corpus[kind][0])
        assert img.shape == (64, 64)
    if "non_utf8_name" in corpus:
        read_frame(corpus["non_utf8_name"][0])


@pytest.mark.parametrize("photometric", ["minisblack", "miniswhite"])
@pytest.mark.parametrize("dtype, top, bits", [(np.uint8, 255, 8), (np.uint16, 4095, 12), (np.uint16, 65535, 16)])
def test_roundtrip_tiff(tmp_path, dtype, top, bits, photometric):
    a = _ramp(dtype=dtype, top=top)
    p = write_frame(tmp_path / "f.tif", a, pixel_size_um=12.5, bits_used=bits, photometric=photometric)
    b, meta = read_frame(p)
    np.testing.assert_array_equal(a, b)
    assert b.dtype == a.dtype
    assert meta.bits_used == bits and meta.pixel_size_um == pytest.approx(12.5)
    assert meta.photometric == photometric and meta.inverted == (photometric == "miniswhite")


def test_roundtrip_tiff_float32_and_compression(tmp_path):
    a = np.random.default_rng(1).random((32, 40)).astype(np.float32)
    b, meta = read_frame(write_frame(tmp_path / "f.tiff", a))
    np.testing.assert_array_equal(a, b)
    assert b.dtype == np.float32
    c = _ramp()
    d, _ = read_frame(write_frame(tmp_path / "z.tif", c, compression="zlib"))
    np.testing.assert_array_equal(c, d)


@pytest.mark.parametrize("dtype, top, bits", [(np.uint8, 255, 8), (np.uint16, 4095, 12), (np.uint16, 65535, 16)])
def test_roundtrip_png(tmp_path, dtype, top, bits):
    a = _ramp(dtype=dtype, top=top)
    b, meta = read_frame(write_frame(tmp_path / "f.png", a, pixel_size_um=25.0, bits_used=bits))
    np.testing.assert_array_equal(a, b)
    assert meta.format == "png" and meta.bits_used == bits
    assert meta.pixel_size_um == pytest.approx(25.0)


def test_roundtrip_jpeg_and_bmp(tmp_path):
    a = (np.add.outer(np.arange(48), np.arange(64)) * 2).astype(np.uint8)
    b, meta = read_frame(write_frame(tmp_path / "f.jpg", a, jpeg_quality=95))
    assert meta.format == "jpeg" and np.abs(b.astype(int) - a).mean() < 3
    c, meta = read_frame(write_frame(tmp_path / "f.bmp", a))
    assert meta.format == "bmp"
    np.testing.assert_array_equal(a, c)
    with pytest.raises(TypeError):
        write_frame(tmp_path / "g.jpg", a.astype(np.uint16))
    with pytest.raises(TypeError):
        write_frame(tmp_path / "g.bmp", a.astype(np.uint16))


def test_write_validation(tmp_path):
    a = _ramp()
    with pytest.raises(ValueError):
        write_frame(tmp_path / "f.gif", a)
    with pytest.raises(ValueError):
        write_frame(tmp_path / "f.tif", a[None])
    with pytest.raises(ValueError):
        write_frame(tmp_path / "f.tif", a, bits_used=8)  # values need 12 bits
    with pytest.raises(ValueError):
        write_frame(tmp_path / "f.png", a, photometric="miniswhite")
    with pytest.raises(ValueError):
        write_frame(tmp_path / "f.tif", np.array([[np.nan] * 20] * 20, np.float32))


def test_write_is_atomic_and_leaves_no_temp(tmp_path):
    a = _ramp()
    write_frame(tmp_path / "f.tif", a)
    write_frame(tmp_path / "f.tif", a // 2)  # overwrite
    assert sorted(os.listdir(tmp_path)) == ["f.tif"]
    np.testing.assert_array_equal(read_frame(tmp_path / "f.tif")[0], a // 2)
    assert os.stat(tmp_path / "f.tif").st_mode & 0o044  # not left 0600


def test_default_dpi_is_not_a_pixel_size(tmp_path):
    import tifffile

    p = tmp_path / "dpi.tif"
    tifffile.imwrite(p, _ramp(), resolution=(72, 72), resolutionunit="INCH")
    assert read_frame(p)[1].pixel_size_um is None
    tifffile.imwrite(p, _ramp(), resolution=(1000, 1000), resolutionunit="CENTIMETER")
    assert read_frame(p)[1].pixel_size_um == pytest.approx(10.0)


def test_truncated_tiny_file(tmp_path):
    p = tmp_path / "t.png"
    p.write_bytes(b"\x89PN")
    with pytest.raises(FrameReadError, match="truncated"):
        read_frame(p)


# ---------------------------------------------------------------- DICOM


def _dicom(path, pixels, **kw):
    pytest.importorskip("pydicom")
    from xrayinspect.testing.bad_inputs import _write_dicom

    return _write_dicom(Path(path), pixels, **kw)


def test_dicom_roundtrip_monochrome2(tmp_path):
    a = _ramp(shape=(40, 50))
    p = _dicom(tmp_path / "a.dcm", a, pixel_spacing_mm=(0.02, 0.025))
    b, meta = read_frame(p)
    np.testing.assert_array_equal(a, b)
    assert meta.format == "dicom" and meta.bits_used == 12
    assert meta.pixel_size_um == pytest.approx(25.0) and not meta.inverted


def test_dicom_monochrome1_inverted(tmp_path):
    a = _ramp(shape=(40, 50))
    p = _dicom(tmp_path / "m1.dcm", 4095 - a, photometric="MONOCHROME1")
    b, meta = read_frame(p)
    np.testing.assert_array_equal(a, b)
    assert meta.inverted and meta.photometric == "miniswhite"


def test_dicom_without_pixels(tmp_path):
    p = _dicom(tmp_path / "n.dcm", None)
    with pytest.raises(FrameReadError, match="no pixel data"):
        read_frame(p)


def test_dicom_without_pydicom(tmp_path, monkeypatch):
    import sys

    p = _dicom(tmp_path / "a.dcm", _ramp())
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(FrameReadError, match=r"xrayinspect\[dicom\]"):
        read_frame(p)


# ---------------------------------------------------------------- iter_frames


def test_iter_frames(tmp_path):
    root = tmp_path / "in"
    (root / "b" / "c").mkdir(parents=True)
    (root / ".hidden").mkdir()
    a = _ramp(dtype=np.uint8, top=255)
    for rel in ("z.png", "b/a.TIF", "b/c/x.jpg", ".hidden/h.png", "b/.dot.png"):
        write_frame(root / rel, a) if not rel.endswith(".TIF") else write_frame(root / "b" / "a.tif", a)
    os.rename(root / "b" / "a.tif", root / "b" / "a.TIF")
    (root / "notes.txt").write_text("x")
    (root / "dir.tif").mkdir()
    os.symlink(root, root / "b" / "loop")  # a symlink loop
    got = list(iter_frames(root))
    assert [n for _, n in got] == ["b/a.TIF", "b/c/x.jpg", "z.png"]
    assert all(isinstance(p, Path) for p, _ in got)
    # a file input gives its own name; duplicates are dropped
    got2 = list(iter_frames([root / "z.png", root]))
    assert [n for _, n in got2] == ["z.png", "b/a.TIF", "b/c/x.jpg"]
    assert {s.lower() for s in FRAME_SUFFIXES} >= {".tif", ".png", ".dcm"}


def test_iter_frames_missing_input_is_yielded(tmp_path):
    got = list(iter_frames(str(tmp_path / "nope.tif")))
    assert [n for _, n in got] == ["nope.tif"]
    with pytest.raises(FrameReadError, match="not found"):
        read_frame(got[0][0])

"""Photo decoding: real files of every awkward kind decode, or fail with a short reason, fast."""

from __future__ import annotations

import io
import os
import struct
import sys
import time
import zlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from clippo_desktop.engine.errors import ImageDecodeError
from clippo_desktop.engine.imageio import (
    SUPPORTED_EXTENSIONS, DecodedPhoto, is_supported, read_photo, read_thumbnail,
)
from clippo_desktop.engine.preprocess import resize_exact

pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data")


def pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An asymmetric test picture, uint8 (height, width, 3): smooth gradients plus a block."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                    (x + 2 * y) % 256], axis=-1).astype(np.uint8)
    img[: height // 3, : width // 4] = (250, 20, 20)  # marks the top-left corner
    return img


def pil_reference(path: Path, rotate: bool) -> np.ndarray:
    """What the pipeline should give, computed independently with PIL's own helpers."""
    image = Image.open(path)
    if rotate:
        image = ImageOps.exif_transpose(image)
    return resize_exact(np.asarray(image.convert("RGB")))


def exif_with(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R5"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:04 13:22:01"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "S", (33.0, 51.0, 54.0), "E", (151.0, 12.0, 36.0)
    return exif


def expect_failure(path: Path, reason: str, **kw) -> ImageDecodeError:
    with pytest.raises(ImageDecodeError) as info:
        read_photo(path, **kw)
    assert reason in info.value.message, info.value.message
    return info.value


# --- golden photos: default == exact == big_vision ------------------------------------------

@pytest.mark.parametrize("k", range(4))
def test_golden_photo_files_decode_like_big_vision(golden, tmp_path, k):
    data = golden[f"photo{k}_file_bytes"].tobytes()
    path = tmp_path / (f"photo{k}.jpg" if data[:2] == b"\xff\xd8" else f"photo{k}.png")
    path.write_bytes(data)
    exact = read_photo(path, mode="exact")
    default = read_photo(path, mode="default")
    ref = golden[f"photo{k}_resized_uint8"]
    h, w, _ = golden[f"photo{k}_decoded_uint8"].shape
    assert (exact.width, exact.height) == (w, h)
    if path.suffix == ".png":  # PNG decodes identically in PIL and TF
        assert np.array_equal(exact.pixels, ref)
        assert np.array_equal(default.pixels, exact.pixels)
    else:  # TF's fast IDCT differs from libjpeg-accurate by ~1 level on average
        assert np.abs(exact.pixels.astype(int) - ref).mean() < 2.0


# --- EXIF orientation and metadata ------------------------------------------------------------

@pytest.mark.parametrize("orientation", range(1, 9))
def test_default_mode_applies_exif_orientation_and_exact_mode_ignores_it(tmp_path, orientation):
    path = tmp_path / "oriented.jpg"
    Image.fromarray(pattern(120, 80)).save(path, exif=exif_with(orientation), quality=95)
    default = read_photo(path)
    exact = read_photo(path, mode="exact")
    assert np.array_equal(default.pixels, pil_reference(path, rotate=True))
    assert np.array_equal(exact.pixels, pil_reference(path, rotate=False))
    expected_size = (80, 120) if orientation >= 5 else (120, 80)
    assert (default.width, default.height) == expected_size == (exact.width, exact.height)


@pytest.mark.parametrize("orientation", [1, 6])
def test_center_crop_mode_frames_the_upright_photo_without_distortion(tmp_path, orientation):
    # a 3:1 photo whose outer thirds are red and blue and whose middle square is green: the crop
    # sees only the green square (turned upright first), where the squash shows all three bands
    img = np.zeros((80, 240, 3), np.uint8)
    img[:, :80], img[:, 80:160], img[:, 160:] = (255, 0, 0), (0, 255, 0), (0, 0, 255)
    path = tmp_path / "bands.png"
    Image.fromarray(img).save(path, exif=exif_with(orientation))
    crop = read_photo(path, mode="center_crop")
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    h, w = upright.shape[:2]
    s = min(h, w)
    expected = resize_exact(upright[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s])
    assert np.array_equal(crop.pixels, expected)
    if orientation == 1:
        assert (crop.pixels == (0, 255, 0)).all()  # only the green middle third
        assert (read_photo(path).pixels[:, 0] == (255, 0, 0)).all()  # the squash keeps the red edge
    assert (crop.width, crop.height) == ((240, 80) if orientation == 1 else (80, 240))


def test_jpeg_with_orientation_6_and_gps_reports_metadata(tmp_path):
    path = tmp_path / "IMG_0001.JPG"
    Image.fromarray(pattern(120, 80)).save(path, exif=exif_with(6))
    photo = read_photo(path)
    assert isinstance(photo, DecodedPhoto)
    assert photo.pixels.shape == (224, 224, 3) and photo.pixels.dtype == np.uint8
    assert (photo.width, photo.height, photo.format) == (80, 120, "JPEG")
    assert photo.taken_at == datetime(2021, 7, 4, 13, 22, 1)
    assert photo.camera == "Canon EOS R5"
    lat, lon = photo.gps
    assert lat == pytest.approx(-(33 + 51 / 60 + 54 / 3600)) and lon == pytest.approx(151.21)


def test_camera_joins_make_and_model_when_model_lacks_the_make(tmp_path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple\x00", "iPhone 12 "
    path = tmp_path / "a.jpg"
    Image.fromarray(pattern(32, 32)).save(path, exif=exif)
    photo = read_photo(path)
    assert photo.camera == "Apple iPhone 12" and photo.gps is None and photo.taken_at is None


def test_broken_exif_never_fails_the_photo(tmp_path):
    path = tmp_path / "broken_exif.jpg"
    Image.fromarray(pattern(64, 48)).save(path, exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7fjunkjunk")
    photo = read_photo(path)
    assert (photo.width, photo.height) == (64, 48)
    assert photo.taken_at is None and photo.camera is None and photo.gps is None


def test_impossible_exif_date_and_gps_are_dropped(tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (123.0, 0.0, 0.0), "E", (10.0, 0.0, 0.0)
    path = tmp_path / "odd.jpg"
    Image.fromarray(pattern(32, 32)).save(path, exif=exif)
    photo = read_photo(path)
    assert photo.taken_at is None and photo.gps is None


# --- pixel formats ----------------------------------------------------------------------------

def test_16_bit_grey_png_keeps_the_high_byte(tmp_path):
    values = (np.arange(40 * 50).reshape(40, 50) * 31).astype(np.uint16)  # (40, 50)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    photo = read_photo(path, mode="exact")
    high = np.repeat((values >> 8).astype(np.uint8)[:, :, None], 3, axis=2)
    assert np.array_equal(photo.pixels, resize_exact(high))


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    photo = read_photo(path)
    assert photo.pixels.shape == (224, 224, 3)
    r, g, b = photo.pixels.reshape(-1, 3).mean(axis=0)
    assert r > 200 and g < 60 and b < 60


def test_palette_png_with_transparency_keeps_palette_colours_without_compositing(tmp_path):
    image = Image.new("P", (20, 20), 0)
    image.putpalette([200, 10, 10, 0, 0, 255] + [0, 0, 0] * 254)
    image.paste(1, (10, 0, 20, 20))
    path = tmp_path / "palette.png"
    image.save(path, transparency=0)
    photo = read_photo(path)
    assert photo.pixels[100, 10].tolist() == [200, 10, 10]  # transparent index keeps its RGB
    assert photo.pixels[100, 200].tolist() == [0, 0, 255]


def test_grey_jpeg_is_replicated_to_rgb(tmp_path):
    path = tmp_path / "grey.jpg"
    Image.fromarray(pattern(60, 40)[:, :, 0]).save(path)
    px = read_photo(path).pixels
    assert np.array_equal(px[..., 0], px[..., 1]) and np.array_equal(px[..., 1], px[..., 2])


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_dropped_not_composited(tmp_path, mode):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., :3] = (10, 200, 30)  # fully transparent (alpha 0) but coloured
    image = Image.fromarray(rgba, "RGBA")
    if mode == "LA":
        image = Image.fromarray(np.dstack([np.full((16, 16), 77, np.uint8),
                                           np.zeros((16, 16), np.uint8)]), "LA")
    path = tmp_path / f"alpha_{mode}.png"
    image.save(path)
    expected = [10, 200, 30] if mode == "RGBA" else [77, 77, 77]
    assert (read_photo(path).pixels.reshape(-1, 3) == expected).all()


def test_gif_decodes_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 20), (255, 0, 0)), Image.new("RGB", (20, 20), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100)
    photo = read_photo(path)
    assert photo.format == "GIF"
    assert (photo.pixels.reshape(-1, 3) == [255, 0, 0]).all()


def test_heic_written_with_pillow_heif_decodes(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "iphone.HEIC"
    Image.new("RGB", (96, 64), (30, 160, 90)).save(path, quality=90)
    photo = read_photo(path)
    assert photo.format == "HEIF" and (photo.width, photo.height) == (96, 64)
    assert np.abs(photo.pixels.reshape(-1, 3).mean(axis=0) - [30, 160, 90]).max() < 8


def test_heic_default_mode_uses_an_embedded_preview_large_enough(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "with_preview.heic"
    Image.new("RGB", (1200, 800), (200, 40, 40)).save(path, quality=80, thumbnails=[300])
    default, exact = read_photo(path), read_photo(path, mode="exact")
    assert (default.width, default.height) == (1200, 800)
    assert np.abs(default.pixels.astype(int) - exact.pixels.astype(int)).mean() < 8


def test_png_named_jpg_still_decodes(tmp_path):
    path = tmp_path / "actually_png.jpg"
    Image.fromarray(pattern(50, 30)).save(path, format="PNG")
    photo = read_photo(path)
    assert photo.format == "PNG"
    assert np.array_equal(photo.pixels, resize_exact(pattern(50, 30)))


# --- failures -------------------------------------------------------------------------------

def test_truncated_jpeg_is_skipped_and_reported(tmp_path):
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 300, 3), np.uint8)).save(full)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    expect_failure(cut, "truncated or corrupt image")


def test_truncated_png_is_skipped_and_reported(tmp_path):
    full = tmp_path / "full.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (100, 100, 3), np.uint8)).save(full)
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[:3000])
    expect_failure(cut, "truncated or corrupt image")


def test_zero_byte_file_is_reported_as_empty(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    expect_failure(path, "empty file")


def test_random_bytes_are_not_an_image(tmp_path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 5000, np.uint8).tobytes())
    expect_failure(path, "not an image")


def test_random_bytes_named_raw_fail_cleanly(tmp_path):
    path = tmp_path / "noise.nef"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 5000, np.uint8).tobytes())
    with pytest.raises(ImageDecodeError):
        read_photo(path)


def test_missing_file_and_directory_are_reported(tmp_path):
    expect_failure(tmp_path / "gone.jpg", "file not found")
    (tmp_path / "folder.jpg").mkdir()
    expect_failure(tmp_path / "folder.jpg", "not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_named_jpg_is_refused_quickly_without_opening(tmp_path):
    fifo = tmp_path / "trap.jpg"
    os.mkfifo(fifo)
    start = time.perf_counter()
    expect_failure(fifo, "not a regular file")
    with pytest.raises(ImageDecodeError, match="not a regular file"):
        read_thumbnail(fifo, 128)
    assert time.perf_counter() - start < 2.0


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with one tiny IDAT: no pixels behind it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


def test_decompression_bomb_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(100_000, 100_000))
    start = time.perf_counter()
    expect_failure(path, "too large")
    with pytest.raises(ImageDecodeError, match="too large"):
        read_thumbnail(path, 256)
    assert time.perf_counter() - start < 2.0  # 30 GB were never allocated


def test_max_pixels_limit_names_the_size(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(8000, 8000))
    err = expect_failure(path, "too large", max_pixels=50_000_000)
    assert err.message == "too large: 8000x8000 pixels exceeds the 50 MP limit"


def test_unknown_mode_is_rejected(tmp_path):
    path = tmp_path / "x.png"
    Image.fromarray(pattern(8, 8)).save(path)
    with pytest.raises(ValueError, match="preprocess mode"):
        read_photo(path, mode="fast")


# --- thumbnails, extensions, big photos -------------------------------------------------------

def test_thumbnail_is_upright_rgb_and_bounded(tmp_path):
    path = tmp_path / "o6.jpg"
    Image.fromarray(pattern(300, 200)).save(path, exif=exif_with(6))
    thumb = read_thumbnail(path, 100)
    assert thumb.mode == "RGB" and max(thumb.size) <= 100
    assert thumb.size[1] > thumb.size[0]  # rotated to portrait


def test_supported_extensions_are_case_insensitive():
    for ext in (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                ".heic", ".heif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf"):
        assert ext in SUPPORTED_EXTENSIONS
    assert is_supported("IMG_2041.JPG") and is_supported(Path("a/b.Cr3"))
    assert not is_supported("notes.txt") and not is_supported("jpg")


def camera_like_jpeg(path: Path, width: int, height: int) -> None:
    """A photo-like JPEG: smooth content upscaled from a thumbnail, plus sensor-like noise."""
    rng = np.random.default_rng(5)
    small = Image.fromarray(pattern(width // 100, height // 100, seed=1))
    big = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC)).astype(np.int16)
    noise = rng.integers(-6, 7, (height, width, 1), dtype=np.int16)
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(path, quality=90)


def test_24_megapixel_jpeg_decodes_in_default_mode_close_to_exact(tmp_path):
    path = tmp_path / "camera.jpg"
    camera_like_jpeg(path, 6000, 4000)
    start = time.perf_counter()
    default = read_photo(path)
    default_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    exact = read_photo(path, mode="exact")
    exact_ms = (time.perf_counter() - start) * 1e3
    diff = np.abs(default.pixels.astype(int) - exact.pixels.astype(int)).mean()
    print(f"\n24 MP JPEG: default {default_ms:.0f} ms, exact {exact_ms:.0f} ms, "
          f"mean |default - exact| = {diff:.2f} levels", file=sys.stderr)
    assert (default.width, default.height) == (6000, 4000)
    assert diff < 6.0


# --- camera RAW (a minimal DNG written here: a CFA raw IFD plus an RGB or JPEG preview) -------

def _ifd(entries: list[tuple[int, int, object]], at: int) -> bytes:
    """One little-endian TIFF IFD placed at offset `at`, its out-of-line values right after it."""
    fmt = {1: "B", 3: "H", 4: "I"}
    head = struct.pack("<H", len(entries))
    tail = b""
    end = at + 2 + 12 * len(entries) + 4
    for tag, kind, value in sorted(entries):
        raw = (value.encode() + b"\0") if kind == 2 else struct.pack(f"<{len(value)}{fmt[kind]}", *value)
        count = len(raw) if kind in (1, 2) else len(value)
        if len(raw) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + raw.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, end + len(tail))
            tail += raw + b"\0" * (len(raw) % 2)
    return head + struct.pack("<I", 0) + tail


def write_dng(path: Path, preview: np.ndarray, orientation: int = 1, jpeg: bool = False) -> None:
    h, w, _ = preview.shape
    if jpeg:
        buf = io.BytesIO()
        Image.fromarray(preview).save(buf, "JPEG", quality=95)
        pdata = buf.getvalue()
    else:
        pdata = preview.tobytes()
    raw_w, raw_h = 64, 48
    rdata = np.random.default_rng(0).integers(0, 4000, (raw_h, raw_w)).astype("<u2").tobytes()
    p_off = 8
    r_off = p_off + len(pdata) + len(pdata) % 2
    sub_off = r_off + len(rdata)
    sub = _ifd([(254, 4, [0]), (256, 4, [raw_w]), (257, 4, [raw_h]), (258, 3, [16]), (259, 3, [1]),
                (262, 3, [32803]), (273, 4, [r_off]), (277, 3, [1]), (278, 4, [raw_h]),
                (279, 4, [len(rdata)]), (33421, 3, [2, 2]), (33422, 1, [0, 1, 1, 2]),
                (50717, 4, [4095])], sub_off)
    ifd0_off = sub_off + len(sub)
    ifd0 = _ifd([(254, 4, [1]), (256, 4, [w]), (257, 4, [h]), (258, 3, [8, 8, 8]),
                 (259, 3, [7 if jpeg else 1]), (262, 3, [6 if jpeg else 2]), (271, 2, "Nikon"),
                 (272, 2, "Z 6"), (273, 4, [p_off]), (274, 3, [orientation]), (277, 3, [3]),
                 (278, 4, [h]), (279, 4, [len(pdata)]), (330, 4, [sub_off]),
                 (50706, 1, [1, 4, 0, 0]), (50708, 2, "Nikon Z 6")], ifd0_off)
    header = b"II*\0" + struct.pack("<I", ifd0_off)
    path.write_bytes(header + pdata + b"\0" * (len(pdata) % 2) + rdata + sub + ifd0)


@pytest.mark.parametrize("jpeg", [False, True], ids=["bitmap-preview", "jpeg-preview"])
def test_raw_files_decode_their_embedded_preview_upright(tmp_path, jpeg):
    preview = np.zeros((30, 40, 3), np.uint8)
    preview[:, :20], preview[:, 20:] = (250, 10, 10), (10, 10, 250)  # red left, blue right
    path = tmp_path / "DSC_0001.dng"
    write_dng(path, preview, orientation=6, jpeg=jpeg)
    photo = read_photo(path)
    assert photo.format == "DNG" and photo.camera == "Nikon Z 6"
    assert (photo.width, photo.height) == (48, 64)  # sensor size, rotated by the orientation
    top, bottom = photo.pixels[0].mean(axis=0), photo.pixels[-1].mean(axis=0)
    assert top[0] > 200 and bottom[2] > 200  # rotated 90 degrees clockwise: red on top
    assert read_thumbnail(path, 20).size == (15, 20)

"""Safe photo decoding for the indexer and the GUI: any file in, 224x224 pixels or a reason out.

Photo folders hold everything: truncated downloads, FIFOs named .jpg, 100 MP panoramas, CMYK
scans, 16-bit PNGs, iPhone HEICs, camera RAWs and files that only pretend to be images. The
indexer must never hang, crash or run out of memory on any of them, so every path here either
returns a `DecodedPhoto` or raises `ImageDecodeError` whose message is a short reason the catalog
records ("not a regular file", "too large: ...", "truncated or corrupt image: ...").

Three modes (preprocess.PREPROCESS_MODES):
  exact    big_vision's pipeline: full decode, alpha dropped, grey -> RGB, EXIF rotation
           ignored, then resize_exact. On PNGs this is bit-identical to the golden vectors.
  default  the desktop pipeline: EXIF rotation applied, JPEGs decoded at a DCT-reduced scale
           (Image.draft) still >= DRAFT_FACTOR x the target size, HEICs from their embedded
           preview when one is >= the target size, then resize_exact. ~5-40x faster on camera
           files with bounded memory, and what a user expects to see.
  center_crop  default's decoding, then the centred square of the short side (preprocess.
           center_square), then resize_exact: undistorted, the long side's ends left out.

Files are opened read-only and never written; pixel counts are checked from the header before
any pixel buffer is allocated. Metadata (size, format, date taken, camera, GPS) is best effort:
broken EXIF never fails a photo.
"""

from __future__ import annotations

import io
import os
import re
import stat
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageDecodeError
from .preprocess import PREPROCESS_MODES, center_square, resize_exact

__all__ = ["DecodedPhoto", "read_photo", "read_thumbnail", "is_supported",
           "SUPPORTED_EXTENSIONS", "RAW_EXTENSIONS", "DEFAULT_MAX_PIXELS", "DRAFT_FACTOR"]

RAW_EXTENSIONS = frozenset({".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf"})
SUPPORTED_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp",
                                  ".tif", ".tiff", ".heic", ".heif"}) | RAW_EXTENSIONS
DEFAULT_MAX_PIXELS = 200_000_000
# JPEGs are DCT-downscaled to the smallest 1/1, 1/2, 1/4, 1/8 scale whose sides stay >= this
# many times the target size. 2x leaves bilinear some real pixels to interpolate; on a 24 MP
# camera-sized JPEG it picks the same 1/8 scale as 1x (decode ~6x faster than exact mode).
DRAFT_FACTOR = 2

# EXIF tags (ids from the EXIF 2.32 / TIFF 6 specs).
_ORIENTATION, _MAKE, _MODEL, _DATETIME = 0x0112, 0x010F, 0x0110, 0x0132
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
# EXIF orientation -> the PIL transpose that shows the photo upright.
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}
# libraw's sizes.flip -> EXIF orientation.
_LIBRAW_FLIP = {0: 1, 3: 3, 5: 8, 6: 6}
_DATE_RE = re.compile(r"(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


@dataclass(frozen=True)
class DecodedPhoto:
    """One photo ready for the encoder, plus what the catalog stores about it."""

    pixels: np.ndarray  # uint8 (size, size, 3)
    width: int  # original size, as displayed (after EXIF orientation)
    height: int
    format: str  # PIL format name ("JPEG", "PNG", "HEIF", ...) or the RAW extension ("NEF")
    taken_at: datetime | None  # EXIF DateTimeOriginal, camera-local time (naive)
    camera: str | None  # "Make Model"
    gps: tuple[float, float] | None  # (latitude, longitude) in degrees


@dataclass(frozen=True)
class _Meta:
    orientation: int = 1
    taken_at: datetime | None = None
    camera: str | None = None
    gps: tuple[float, float] | None = None


def is_supported(path: str | os.PathLike) -> bool:
    """True when the file name has an extension we index (case-insensitive)."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


# --- opening ------------------------------------------------------------------------------

_plugins_lock = threading.Lock()
_plugins_ready = False


def _ensure_plugins() -> None:
    """Register the HEIF opener once per process (a HEIC named .jpg must still open)."""
    global _plugins_ready
    if _plugins_ready:
        return
    with _plugins_lock:
        if not _plugins_ready:
            try:
                import pillow_heif

                pillow_heif.register_heif_opener()
            except ImportError:  # pragma: no cover - pillow-heif is a pinned dependency
                pass
            _plugins_ready = True


def _check_regular(path: Path) -> os.stat_result:
    """stat before open: a FIFO or device named .jpg must never be opened (it would block)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ImageDecodeError("file not found") from None
    except PermissionError:
        raise ImageDecodeError("permission denied") from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ImageDecodeError("not a regular file")
    if st.st_size == 0:
        raise ImageDecodeError("empty file")
    return st


def _open_readonly(path: Path) -> io.BufferedReader:
    """Open read-only; O_NONBLOCK so a file swapped for a FIFO after the stat cannot hang us."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        raise ImageDecodeError("permission denied") from None
    except OSError as exc:
        raise ImageDecodeError(f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ImageDecodeError("not a regular file")
    return os.fdopen(fd, "rb")


def _too_large(width: int, height: int, max_pixels: int) -> ImageDecodeError:
    return ImageDecodeError(f"too large: {width}x{height} pixels exceeds the "
                            f"{max_pixels / 1e6:g} MP limit")


@contextmanager
def _decode_errors() -> Iterator[None]:
    """Turn whatever a decoder raises on hostile input into ImageDecodeError with a reason."""
    try:
        yield
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "the image"
        raise ImageDecodeError(f"too large: {size} exceeds the decoder's "
                               "decompression-bomb limit") from None
    except UnidentifiedImageError:
        raise ImageDecodeError("not an image (unrecognised format)") from None
    except MemoryError:
        raise ImageDecodeError("too large: out of memory while decoding") from None
    except Exception as exc:  # plugins raise OSError, SyntaxError, ValueError, struct.error...
        detail = str(exc).strip() or type(exc).__name__
        raise ImageDecodeError(f"truncated or corrupt image: {detail[:200]}") from None


@dataclass
class _Source:
    image: Image.Image  # opened, not yet loaded
    format: str
    meta: _Meta
    size: tuple[int, int]  # original (width, height) as stored, before orientation


@contextmanager
def _open_source(path: str | os.PathLike, max_pixels: int) -> Iterator[_Source]:
    path = Path(path)
    _check_regular(path)
    _ensure_plugins()
    if path.suffix.lower() in RAW_EXTENSIONS:
        with _decode_errors():
            source = _open_raw(path)
            _check_pixels(source.image.size, max_pixels)
            yield source
        return
    with _open_readonly(path) as f, _decode_errors():
        image = Image.open(f)  # reads the header only; PIL's own bomb check runs here
        _check_pixels(image.size, max_pixels)
        yield _Source(image, image.format or "UNKNOWN", _read_meta(image), image.size)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"truncated or corrupt image: size {width}x{height}")
    if width * height > max_pixels:
        raise _too_large(width, height, max_pixels)


def _open_raw(path: Path) -> _Source:
    """Camera RAW: the embedded preview (JPEG or bitmap) via libraw; sensor data is not decoded."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            flip = int(raw.sizes.flip)
            sensor_size = (int(raw.sizes.width), int(raw.sizes.height))
            thumb = raw.extract_thumb()
    except rawpy.LibRawNoThumbnailError:
        raise ImageDecodeError("RAW file has no embedded preview") from None
    except (rawpy.LibRawFileUnsupportedError, rawpy.LibRawUnsupportedThumbnailError):
        raise ImageDecodeError("not a supported RAW file") from None
    except rawpy.LibRawError as exc:
        raise ImageDecodeError(f"truncated or corrupt image: {type(exc).__name__}") from None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        image = Image.open(io.BytesIO(thumb.data))
    else:
        image = Image.fromarray(np.asarray(thumb.data))
    meta = _read_meta(image)
    if meta.taken_at is None and meta.camera is None:
        meta = _raw_header_meta(path) or meta
    meta = _Meta(_LIBRAW_FLIP.get(flip, 1), meta.taken_at, meta.camera, meta.gps)
    return _Source(image, path.suffix[1:].upper(), meta, sensor_size)


def _raw_header_meta(path: Path) -> _Meta | None:
    """TIFF-based RAWs (DNG, NEF, CR2, ARW) carry EXIF that PIL can read without decoding."""
    try:
        with _open_readonly(path) as f, Image.open(f) as header:
            return _read_meta(header)
    except Exception:
        return None


# --- metadata -----------------------------------------------------------------------------

def _read_meta(image: Image.Image) -> _Meta:
    """Orientation, date, camera and GPS from EXIF; anything unreadable is simply absent."""
    try:
        exif = image.getexif()
    except Exception:
        return _Meta()
    orientation = _safe(lambda: int(exif.get(_ORIENTATION, 1)), 1)
    if orientation not in range(1, 9):
        orientation = 1
    sub = _safe(lambda: exif.get_ifd(_EXIF_IFD), {})
    taken = None
    for value in (sub.get(_DATETIME_ORIGINAL), sub.get(_DATETIME_DIGITIZED), exif.get(_DATETIME)):
        taken = _parse_date(value)
        if taken is not None:
            break
    camera = _safe(lambda: _camera(exif.get(_MAKE), exif.get(_MODEL)), None)
    gps = _safe(lambda: _gps(exif.get_ifd(_GPS_IFD)), None)
    return _Meta(orientation, taken, camera, gps)


def _safe(fn, default):
    try:
        return fn()
    except Exception:
        return default


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", " ").strip() if value is not None else ""


def _parse_date(value) -> datetime | None:
    found = _DATE_RE.search(_text(value))
    if not found:
        return None
    try:
        return datetime(*(int(g) for g in found.groups()))
    except ValueError:  # "0000:00:00 00:00:00" and friends
        return None


def _camera(make, model) -> str | None:
    make, model = _text(make), _text(model)
    if make and model.lower().startswith(make.lower().split()[0]):
        return model  # "Canon" + "Canon EOS R5" -> "Canon EOS R5"
    return " ".join(p for p in (make, model) if p) or None


def _gps(gps: dict) -> tuple[float, float] | None:
    def degrees(value) -> float:
        parts = [float(v) for v in (value if isinstance(value, (tuple, list)) else (value,))]
        return sum(p / 60**i for i, p in enumerate(parts[:3]))

    if _GPS_LAT not in gps or _GPS_LON not in gps:
        return None
    lat, lon = degrees(gps[_GPS_LAT]), degrees(gps[_GPS_LON])
    if _text(gps.get(_GPS_LAT_REF)).upper().startswith("S"):
        lat = -lat
    if _text(gps.get(_GPS_LON_REF)).upper().startswith("W"):
        lon = -lon
    if not (np.isfinite(lat) and np.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return (lat, lon)


# --- pixels -------------------------------------------------------------------------------

def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any PIL mode -> uint8 (H, W, 3), the way TF's decode does it: alpha dropped, not composited."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image)
        if mode == "F":
            grey = np.clip(values, 0, 255).astype(np.uint8)
        else:  # 16-bit: keep the high byte, like libpng's strip_16
            grey = (np.clip(values.astype(np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGBA", "RGBX"):
        return np.asarray(image)[:, :, :3]
    if mode == "LA":
        return np.repeat(np.asarray(image)[:, :, :1], 3, axis=2)
    if mode != "RGB":
        image = image.convert("RGBA" if mode in ("P", "PA") else "RGB")
        return np.asarray(image)[:, :, :3]
    return np.asarray(image)


def _orient(image: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE.get(orientation)
    return image.transpose(method) if method is not None else image


def read_photo(path: str | os.PathLike, mode: str = "default", size: int = 224,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedPhoto:
    """Decode one photo to uint8 (size, size, 3) plus metadata, or raise ImageDecodeError."""
    if mode not in PREPROCESS_MODES:
        raise ValueError(f"unknown preprocess mode {mode!r}; expected one of {PREPROCESS_MODES}")
    with _open_source(path, max_pixels) as src:
        width, height = src.size
        desktop = mode != "exact"
        rotate = desktop and src.meta.orientation != 1
        if desktop and src.format in ("JPEG", "MPO"):
            src.image.draft("RGB", (DRAFT_FACTOR * size, DRAFT_FACTOR * size))
        elif desktop and src.format == "HEIF":
            # An embedded, already antialiased preview >= size on both sides, when there is one:
            # a full 12 MP HEVC decode costs ~1 s.
            src.image.draft("RGB", (size, size))
        src.image.load()
        image = _orient(src.image, src.meta.orientation) if rotate else src.image
        rgb = _to_rgb_array(image)  # (H, W, 3) upright
        pixels = resize_exact(center_square(rgb) if mode == "center_crop" else rgb, size)
    if src.meta.orientation in (5, 6, 7, 8):
        width, height = height, width
    return DecodedPhoto(pixels, width, height, src.format, src.meta.taken_at, src.meta.camera,
                        src.meta.gps)


def read_thumbnail(path: str | os.PathLike, max_side: int,
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """An upright RGB PIL image whose longer side is at most max_side (for the GUI grid)."""
    with _open_source(path, max_pixels) as src:
        src.image.draft("RGB", (max_side, max_side))
        src.image.load()
        image = Image.fromarray(_to_rgb_array(src.image))
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
        return _orient(image, src.meta.orientation)

"""Image preprocessing exactly as CLIPPO was trained: squash-resize to 224, then [-1, 1].

big_vision resizes with `tf.image.resize(..., "bilinear", antialias=False)` in float32 with
half-pixel centres, squashing both sides to 224 (no crop, aspect ratio not kept), and then
truncates back to uint8 (docs/clippo-spec.md §5). PIL's BILINEAR is antialiased and would shift
the input distribution, so we reimplement the TF formula in numpy: per output axis, two source
indices and one weight, then four corner gathers and two lerps. Cost depends only on the output
size, not on the photo size.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["FULL_FRAME", "PREPROCESS_MODES", "center_square", "frame", "resize_exact", "value_range"]

# "exact": decode like big_vision (no EXIF rotation, full decode) then resize_exact.
# "default": the desktop pipeline (EXIF rotation, JPEG DCT downscaling), then resize_exact.
# "center_crop": the desktop pipeline, then the centred square of the short side, then
#   resize_exact: no aspect distortion, the long side's ends cut (CLIP's framing; for models
#   whose photo side is an ImageNet classifier, which was trained on undistorted crops).
PREPROCESS_MODES = ("exact", "default", "center_crop")


@lru_cache(maxsize=64)
def _axis_plan(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF half-pixel bilinear sampling for one axis: (lower int64, upper int64, frac float32), each (n_out,)."""
    scale = np.float32(n_in) / np.float32(n_out)
    centre = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(centre)
    frac = (centre - floor).astype(np.float32)
    lower = np.clip(floor.astype(np.int64), 0, n_in - 1)
    upper = np.clip(floor.astype(np.int64) + 1, 0, n_in - 1)
    for a in (lower, upper, frac):
        a.setflags(write=False)
    return lower, upper, frac


def resize_exact(img: np.ndarray, size: int = 224) -> np.ndarray:
    """uint8 (H, W, C) -> uint8 (size, size, C), bit-identical to big_vision's resize(size)."""
    img = np.ascontiguousarray(img)
    if img.ndim != 3 or img.dtype != np.uint8:
        raise ValueError(f"resize_exact expects uint8 (H, W, C), got {img.dtype} {img.shape}")
    h, w, _ = img.shape
    if h == 0 or w == 0:
        raise ValueError(f"cannot resize an empty image of shape {img.shape}")
    c = img.shape[2]
    y0, y1, fy = _axis_plan(h, size)  # (size,)
    x0, x1, wx = _flat_columns(w, size, c)  # (size*C,) byte offsets within a row, and weights
    flat = img.reshape(h, w * c)  # (H, W*C): gathering single bytes is ~3x faster than pixels
    top_rows, bottom_rows = np.take(flat, y0, axis=0), np.take(flat, y1, axis=0)  # (size, W*C)
    tl = np.take(top_rows, x0, axis=1).astype(np.float32)  # (size, size*C)
    tr = np.take(top_rows, x1, axis=1).astype(np.float32)
    bl = np.take(bottom_rows, x0, axis=1).astype(np.float32)
    br = np.take(bottom_rows, x1, axis=1).astype(np.float32)
    top = tl + (tr - tl) * wx  # TF's order: lerp along x on both rows, then along y
    bottom = bl + (br - bl) * wx
    out = top + (bottom - top) * fy[:, None]  # (size, size*C) float32
    return out.astype(np.uint8).reshape(size, size, c)  # truncation, as tf.cast does


@lru_cache(maxsize=64)
def _flat_columns(n_in: int, n_out: int, channels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column plan for a (rows, W*C) view: left/right byte offsets and x weights, each (n_out*C,)."""
    lower, upper, frac = _axis_plan(n_in, n_out)
    ch = np.arange(channels)
    left = (lower[:, None] * channels + ch).ravel()
    right = (upper[:, None] * channels + ch).ravel()
    weight = np.repeat(frac, channels)
    for a in (left, right, weight):
        a.setflags(write=False)
    return left, right, weight


# frame() of a mode that shows the model the whole photo: (left, top, width, height) fractions
FULL_FRAME = (0.0, 0.0, 1.0, 1.0)


def _square_box(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the centred square of a height x width image (odd leftovers go to
    the far side)."""
    s = min(height, width)
    return (height - s) // 2, (width - s) // 2, s


def center_square(img: np.ndarray) -> np.ndarray:
    """(H, W, C) -> the centred (s, s, C) view, s = min(H, W)."""
    top, left, s = _square_box(*img.shape[:2])
    return img[top:top + s, left:left + s]


def frame(mode: str, width: int, height: int) -> tuple[float, float, float, float]:
    """The part of an upright (width x height) photo that `mode` shows the model, as fractions
    (left, top, width, height): all of it, except center_crop's square. For overlays (explain)."""
    if mode != "center_crop" or width <= 0 or height <= 0:
        return FULL_FRAME
    top, left, s = _square_box(height, width)
    return (left / width, top / height, s / width, s / height)


def value_range(pixels: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [-1, 1], evaluated as big_vision does: -1 + (p / 255) * 2."""
    p = np.asarray(pixels)
    if p.dtype != np.uint8:
        raise ValueError(f"value_range expects uint8 pixels, got {p.dtype}")
    return np.float32(-1) + (p.astype(np.float32) / np.float32(255)) * np.float32(2)

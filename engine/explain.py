"""Explain a match: where in a photo the query matches, as a heatmap over the patch grid.

Method (no extra model, only the encoder): occlusion sensitivity on a coarse grid.
The photo is preprocessed exactly as for indexing (the model's own mode and size) and embedded
once; then G×G copies are embedded in one batch, each with one grid cell painted mid-grey
(0 after value scaling, i.e. "no information"). A cell's heat is how much the cosine between
the photo and the query vector drops when that cell is hidden: relu(s_full - s_cell). Cells the
match depends on light up; cells whose removal *raises* the score stay dark. The G×G map is
spread onto the model's patch grid (its architecture's `grid`: 14×14 for /16 at 224, 7×7 for a
prebuilt graph with 49 patches) so the overlay lines up with patches; G never exceeds that grid.

G is 7 (2×2 patches per cell: 50 encodes) for small models and coarser for big ones, so it
takes ~1-2 s on CPU: Ti/16 ~1 s, S/16 ~3 s at G=5, B/16 ~5 s at G=4. When the query gives no
signal (every drop <= 0, e.g. the photo is the query), the map falls back to the encoder's
`patch_attention` output (the MAP head's attention, or a prebuilt graph's saliency): where the
model looked.

Plain numpy, no Qt; the window runs it on a worker thread through app/tasks.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ModelIntegrityError
from .preprocess import FULL_FRAME

GREY = 128   # uint8 value that maps to ~0 in [-1, 1]


@dataclass(frozen=True)
class Heatmap:
    grid: np.ndarray        # float32 (gh, gw) in [0, 1] over the patch grid
    method: str             # "occlusion" | "attention"
    score: float            # cosine of the unoccluded photo to the query (nan without query)
    # the part of the photo the grid covers, as fractions (left, top, width, height): all of it
    # unless the model's preprocessing crops (preprocess.frame)
    frame: tuple[float, float, float, float] = FULL_FRAME


def grid_for(gflops: float) -> int:
    """Occlusion grid side for a model's cost per image (keeps explain at a few seconds)."""
    return 7 if gflops < 5 else 5 if gflops < 15 else 4


def explain_grid(arch) -> int:
    """Occlusion grid side for an architecture: by its cost, and no finer than its patch grid."""
    return max(1, min(grid_for(arch.gflops_per_image()), arch.grid))


def occluded_batch(pixels: np.ndarray, g: int) -> np.ndarray:
    """pixels uint8 (S,S,3) -> uint8 (g*g, S, S, 3), copy k with cell k greyed out."""
    s = pixels.shape[0]
    edges = np.linspace(0, s, g + 1).round().astype(int)              # (g+1,)
    out = np.repeat(pixels[None], g * g, axis=0)                        # (g*g, S, S, 3)
    for r in range(g):
        for c in range(g):
            out[r * g + c, edges[r]:edges[r + 1], edges[c]:edges[c + 1]] = GREY
    return out


def spread(cells: np.ndarray, side: int) -> np.ndarray:
    """(g, g) cell values -> (side, side) by nearest cell (each patch takes its cell's value)."""
    g = cells.shape[0]
    idx = np.minimum((np.arange(side) + 0.5) * g / side, g - 1).astype(int)   # (side,)
    return cells[idx][:, idx]


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.clip(np.asarray(x, np.float32), 0, None)
    top = float(x.max()) if x.size else 0.0
    return x / top if top > 1e-12 else np.zeros_like(x)


def explain(encoder, pixels: np.ndarray, query: np.ndarray | None, *, grid: int = 7,
            patch_grid: int | None = None) -> Heatmap:
    """Heatmap of `query` (unit (E,)) on `pixels` (uint8 (S,S,3), model-preprocessed).

    `patch_grid` is the side of the model's patch grid (its architecture's `grid`); without it,
    the side is read from the length of the encoder's `patch_attention`, which must be square.
    """
    emb, attn = encoder.encode_with_attention(pixels[None])          # (1, E), (1, N)
    n = attn.shape[1]
    side = patch_grid or math.isqrt(n)
    if side * side != n:
        raise ModelIntegrityError(f"The model's patch_attention has {n} values, not the {side}x{side} "
                                  "grid its manifest declares.", "Re-build or re-import the model package.")
    attention = _unit(attn[0].reshape(side, side))                   # (side, side)
    if query is None:
        return Heatmap(attention, "attention", float("nan"))
    q = np.asarray(query, np.float32).reshape(-1)                    # (E,)
    full = float(emb[0] @ q)
    occluded = encoder.encode(occluded_batch(pixels, grid))          # (g*g, E)
    drops = full - occluded @ q                                      # (g*g,)
    if float(drops.max()) <= 1e-6:
        return Heatmap(attention, "attention", full)
    cells = _unit(drops.reshape(grid, grid))                         # (g, g)
    return Heatmap(spread(cells, side), "occlusion", full)

"""CLIPPO's text renderer: a query becomes a 224x224 picture of Unifont glyphs.

The model never sees tokens; it sees text drawn exactly the way big_vision's `render_unifont`
drew its training data (docs/clippo-spec.md §4). Any pixel of difference is a distribution shift,
so this module reproduces that algorithm bit for bit (tested against the golden renderings):
ASCII-only lowercasing, UTF-8 with U+FFFD for bad bytes, a 768-code-point cap, per-glyph
trimming, the "widest glyph among all kept characters" line rule, 14 lines, ink 0 on 127.

It is vectorised over glyph columns (gather the kept columns, give each a line and an x, then
scatter), so a 100-character query renders in ~0.2 ms once the font is loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable

import numpy as np

from .glyphs import FONT_SHA256, GLYPH_SIZE, TRIM_MIN_WIDTH, TRIM_SPACING, glyph_table

__all__ = ["RENDERER_VERSION", "FONT_SHA256", "RendererSettings", "DEFAULT_SETTINGS",
           "text_to_codepoints", "render_text", "render_texts"]

# Bump when the pixels for some input change (the catalog re-embeds text-derived data on a bump).
RENDERER_VERSION = 1

_REPLACEMENT = 0xFFFD
_ROW_SHIFTS = np.arange(GLYPH_SIZE, dtype=np.uint16)[None, :, None]  # (1, 16, 1)


@dataclass(frozen=True)
class RendererSettings:
    """big_vision `render_unifont` options; the defaults are the ones every CLIPPO model used."""

    image_size: int = 224
    font_size: int = 16
    max_chars: int = 768
    lower: bool = True
    text_brightness: int = 0
    background_brightness: int = 127
    spacing: int = 1
    min_width: int = 4
    monospace: bool = False

    def __post_init__(self) -> None:
        if self.font_size != GLYPH_SIZE:
            raise ValueError(f"font_size={self.font_size} is not supported; only 16 (Unifont's "
                             "native size, used by every CLIPPO model) is")
        if not self.monospace and (self.spacing, self.min_width) != (TRIM_SPACING, TRIM_MIN_WIDTH):
            raise ValueError(f"spacing={self.spacing}, min_width={self.min_width} is not supported; "
                             "only spacing=1, min_width=4 (the CLIPPO defaults) is")
        if self.image_size < 2 * GLYPH_SIZE:  # a line must fit the widest glyph plus one more
            raise ValueError(f"image_size={self.image_size} must be at least {2 * GLYPH_SIZE}")
        if self.max_chars < 0:
            raise ValueError(f"max_chars={self.max_chars} must be >= 0")
        for name in ("text_brightness", "background_brightness"):
            if not 0 <= getattr(self, name) <= 255:
                raise ValueError(f"{name}={getattr(self, name)} must be in 0..255")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RendererSettings":
        """Build from a manifest dict; unknown keys are rejected by name, missing ones default."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown renderer setting(s): {', '.join(unknown)}")
        return cls(**data)


DEFAULT_SETTINGS = RendererSettings()


def text_to_codepoints(text: str | bytes, settings: RendererSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Spec §4.3: int64 (n,) code points, n <= max_chars, ASCII-lowercased, bad input -> U+FFFD."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        # Each malformed UTF-8 subsequence becomes one U+FFFD (Python's "maximal subpart" rule).
        # A code point takes at most 4 bytes, so a prefix decodes the kept code points the same.
        text = bytes(text[: 4 * settings.max_chars + 4]).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        raise TypeError(f"render_text expects str or bytes, not {type(text).__name__}")
    text = text[: settings.max_chars]
    # utf-32 keeps lone surrogates (which have no UTF-8 form) so we can replace them below.
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.int64)
    cps[(cps >= 0xD800) & (cps <= 0xDFFF)] = _REPLACEMENT
    if settings.lower:
        cps[(cps >= 0x41) & (cps <= 0x5A)] += 0x20
    return cps  # (n,)


def _render_codepoints(cps: np.ndarray, settings: RendererSettings, out: np.ndarray) -> None:
    """Draw code points (n,) into `out` uint8 (S, S, 3), already filled with the background."""
    n = len(cps)
    if n == 0:
        return
    table = glyph_table()
    size = settings.image_size
    n_lines = size // GLYPH_SIZE
    gid = table.lookup(cps)  # (n,) glyph rows
    if settings.monospace:
        start = np.zeros(n, np.int64)
        width = np.full(n, GLYPH_SIZE, np.int64)
    else:
        start = table.trim_start[gid].astype(np.int64)  # (n,)
        width = table.trim_width[gid].astype(np.int64)  # (n,)
    widest = int(width.max())  # over ALL kept characters, visible or not (spec §4.5)
    cum_end = np.cumsum(width)  # (n,) inclusive
    # big_vision divides in float32 then floors; for these sizes it equals integer division.
    line = np.floor(cum_end.astype(np.float32) / np.float32(size - widest)).astype(np.int64)
    visible = line < n_lines
    if not visible.any():
        return
    k = int(np.count_nonzero(visible))  # lines never decrease, so the visible ones are a prefix
    gid, start, width, line, cum_end = gid[:k], start[:k], width[:k], line[:k], cum_end[:k]
    cum_start = cum_end - width  # (k,) exclusive
    first_of_line = np.searchsorted(line, line, side="left")  # (k,) index of each line's first char
    x0 = cum_start - cum_start[first_of_line]  # (k,) x of each char within its line

    # One entry per drawn column: which char, which glyph column, where it lands.
    char = np.repeat(np.arange(k), width)  # (m,)
    offset = np.arange(len(char)) - np.repeat(cum_start, width)  # (m,) 0..width-1
    masks = table.columns[gid[char], start[char] + offset]  # (m,) uint16 column bitmasks
    used = int(line[-1]) + 1  # lines that hold ink; the rest stay background
    canvas = np.zeros((used, size), np.uint16)  # (used, S) column masks
    canvas[line[char], x0[char] + offset] = masks
    bits = ((canvas[:, None, :] >> _ROW_SHIFTS) & 1).astype(np.uint8)  # (used, 16, S)
    # big_vision's uint8 arithmetic: bit * (ink - bg) + bg, wrapping mod 256 -> exactly ink or bg.
    delta = np.uint8((settings.text_brightness - settings.background_brightness) % 256)
    rows = bits.reshape(used * GLYPH_SIZE, size) * delta + np.uint8(settings.background_brightness)
    for channel in range(3):  # R = G = B (per-channel writes beat a broadcast by ~5x)
        out[: used * GLYPH_SIZE, :, channel] = rows


def render_text(text: str | bytes, settings: RendererSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Render one text as uint8 (S, S, 3), R=G=B, ink `text_brightness` on the background."""
    size = settings.image_size
    out = np.full((size, size, 3), settings.background_brightness, np.uint8)
    _render_codepoints(text_to_codepoints(text, settings), settings, out)
    return out


def render_texts(texts: Iterable[str | bytes], settings: RendererSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Render several texts as uint8 (N, S, S, 3)."""
    texts = list(texts)
    size = settings.image_size
    out = np.full((len(texts), size, size, 3), settings.background_brightness, np.uint8)
    for i, text in enumerate(texts):
        _render_codepoints(text_to_codepoints(text, settings), settings, out[i])
    return out

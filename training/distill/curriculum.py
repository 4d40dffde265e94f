"""Batches for distillation: a text curriculum on cheap row crops, and augmented photos.

Texts are rendered by the app's renderer at the student's canvas size, then cut to the rows that
hold ink (rounded up to 32 px, the trunk's stride), because a fully convolutional trunk can read
a 32x160 strip for ~1/5 of the cost of the square canvas. A share of texts keeps the full canvas
so that attention pooling learns to ignore the blank area the app will feed it.

The curriculum is a list of phases `(until_samples, {level: weight})`: words first, then
phrases, then captions. Caption batches are drawn as parallel groups (the same Multi30k line in
two languages) so the translation contrastive term has positives in every batch.

Character targets: for a single-row text, `column_targets` says which character lies under each
8-pixel column (the renderer's own glyph widths, so they match the pixels exactly).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from clippo_desktop.engine.glyphs import GLYPH_SIZE, glyph_table
from clippo_desktop.engine.render import RendererSettings, render_text, text_to_codepoints

STRIDE = 32
CHAR_STRIDE = 8
DEFAULT_PHASES = ((20_000, {"word": 1.0}),
                  (60_000, {"word": 0.5, "phrase": 0.5}),
                  (None, {"word": 0.25, "phrase": 0.35, "caption": 0.4}))


def parse_phases(spec: str | None):
    """"word:20000,phrase:60000,caption" -> phases; None -> DEFAULT_PHASES."""
    if not spec:
        return DEFAULT_PHASES
    out, levels = [], []
    for part in spec.split(","):
        level, _, until = part.partition(":")
        levels.append(level)
        w = {lv: 1.0 for lv in levels}
        out.append((int(until) if until else None, w))
    return tuple(out)


def phase_weights(phases, samples_seen: int) -> dict[str, float]:
    for until, weights in phases:
        if until is None or samples_seen < until:
            return weights
    return phases[-1][1]


class Charset:
    """Character -> class id. 0 = blank (no glyph under the column), 1 = any rarer character."""

    def __init__(self, chars: list[str]):
        self.chars = chars
        self.index = {c: i + 2 for i, c in enumerate(chars)}

    @classmethod
    def from_texts(cls, texts, size: int = 1022) -> "Charset":
        counts = Counter(c for t in texts for c in t.lower())
        return cls([c for c, _ in counts.most_common(size)])

    def __len__(self) -> int:
        return len(self.chars) + 2


def column_targets(text: str, settings: RendererSettings, charset: Charset) -> np.ndarray | None:
    """int64 (S/8,) class under each 8-px column of the first line; None if the text wraps."""
    cps = text_to_codepoints(text, settings)
    if len(cps) == 0:
        return np.zeros(settings.image_size // CHAR_STRIDE, np.int64)
    table = glyph_table()
    width = table.trim_width[table.lookup(cps)].astype(np.int64)  # (n,)
    cum_end = np.cumsum(width)
    line = np.floor(cum_end.astype(np.float32) / np.float32(settings.image_size - int(width.max())))
    if line.max() > 0:
        return None
    start = cum_end - width  # (n,)
    centres = np.arange(settings.image_size // CHAR_STRIDE) * CHAR_STRIDE + CHAR_STRIDE // 2  # (W,)
    which = np.searchsorted(cum_end, centres, side="right")  # (W,) char index under each centre
    out = np.zeros(len(centres), np.int64)
    inside = which < len(cps)
    chars = [chr(int(c)) for c in cps]
    for j in np.nonzero(inside)[0]:
        i = which[j]
        if start[i] <= centres[j] and chars[i] != " ":
            out[j] = charset.index.get(chars[i], 1)
    return out


def ink_rows(img: np.ndarray, background: int) -> int:
    """Number of pixel rows from the top that hold ink, rounded up to the trunk stride."""
    rows = np.nonzero((img[:, :, 0] != background).any(axis=1))[0]
    used = int(rows[-1]) + 1 if len(rows) else GLYPH_SIZE
    return max(STRIDE, -(-used // STRIDE) * STRIDE)


@dataclass
class TextBatch:
    pixels: np.ndarray  # uint8 (B, h, S, 3)
    target: np.ndarray  # float32 (B, 512) teacher embeddings
    cls: np.ndarray  # int64 (B,) training-class position or -1
    chars: np.ndarray  # int64 (B, S/8), -100 where unknown
    pair: np.ndarray  # int64 (B,) index of this row's translation in the batch, or -1


class TextSampler:
    def __init__(self, rows: list[dict], emb: np.ndarray, settings: RendererSettings, charset: Charset,
                 class_pos: dict[int, int], full_canvas: float = 0.15, seed: int = 0):
        self.rows, self.emb, self.settings, self.charset = rows, emb, settings, charset
        self.class_pos, self.full_canvas = class_pos, full_canvas
        self.rng = np.random.default_rng(seed)
        self.by_level: dict[str, np.ndarray] = {}
        for level in ("word", "phrase"):
            self.by_level[level] = np.array([i for i, r in enumerate(rows) if r["level"] == level])
        groups: dict[int, list[int]] = {}
        for i, r in enumerate(rows):
            if r["level"] == "caption" and r["group"] >= 0:
                groups.setdefault(r["group"], []).append(i)
        self.groups = [g for g in groups.values() if len(g) >= 2]
        self.single_captions = np.array([i for i, r in enumerate(rows) if r["level"] == "caption" and r["group"] < 0])

    def _pick(self, weights: dict[str, float], n: int) -> tuple[list[int], list[int]]:
        levels = [lv for lv in weights if lv != "caption" or self.groups]
        p = np.array([weights[lv] for lv in levels], np.float64)
        counts = self.rng.multinomial(n, p / p.sum())
        idx, pair = [], []
        for level, k in zip(levels, counts):
            if level == "caption":
                for _ in range(k // 2):
                    a, b = self.rng.choice(self.groups[int(self.rng.integers(len(self.groups)))], 2, replace=False)
                    pair += [len(idx) + 1, len(idx)]
                    idx += [int(a), int(b)]
                if k % 2 and len(self.single_captions):
                    idx.append(int(self.rng.choice(self.single_captions)))
                    pair.append(-1)
            else:
                chosen = self.rng.choice(self.by_level[level], k)
                idx += [int(i) for i in chosen]
                pair += [-1] * k
        return idx, pair

    def batch(self, weights: dict[str, float], n: int) -> TextBatch:
        idx, pair = self._pick(weights, n)
        s = self.settings
        imgs = [render_text(self.rows[i]["text"], s) for i in idx]  # (S, S, 3) each
        h = s.image_size if self.rng.random() < self.full_canvas else max(
            ink_rows(im, s.background_brightness) for im in imgs)
        chars = np.full((len(idx), s.image_size // CHAR_STRIDE), -100, np.int64)
        for k, i in enumerate(idx):
            if self.rows[i]["level"] != "caption":
                t = column_targets(self.rows[i]["text"], s, self.charset)
                if t is not None:
                    chars[k] = t
        return TextBatch(
            pixels=np.stack([im[:h] for im in imgs]),
            target=self.emb[idx].astype(np.float32),
            cls=np.array([self.class_pos.get(self.rows[i]["cls"], -1) for i in idx], np.int64),
            chars=chars, pair=np.array(pair, np.int64))


class PhotoSampler:
    """Training photos (uint8 224 crops) with teacher targets; random crop + flip, resized later."""

    def __init__(self, pixels: np.ndarray, targets: np.ndarray, probs: np.ndarray, seed: int = 0):
        self.pixels, self.targets, self.probs = pixels, targets, probs  # (N,224,224,3), (N,512), (N,700)
        self.rng = np.random.default_rng(seed + 1)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = self.rng.integers(0, len(self.pixels), n)
        out = []
        for i in idx:
            img = self.pixels[i]
            side = int(224 * np.sqrt(self.rng.uniform(0.55, 1.0)))
            y, x = self.rng.integers(0, 224 - side + 1, 2)
            crop = img[y:y + side, x:x + side]
            out.append(crop[:, ::-1] if self.rng.random() < 0.5 else crop)
        return out, self.targets[idx], self.probs[idx]

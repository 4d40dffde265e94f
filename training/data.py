"""Training pairs: where they come from, how they are split, and how batches are drawn.

A *pair* is (photo, caption) or (text, text). Sources are named by SPEC strings:

    captions:DIR         photos with `photo.jpg.txt` or XMP sidecar captions (recursive)
    manifest:FILE        CSV (`path,caption`) or JSONL ({"path","caption"[, "teacher": [...]]})
    classes:DIR          folder per class; the class name becomes a caption through templates
    sentences:FILE       neighbouring sentences of a plain-text file (.gz allowed)
    parallel:FA,FB       line-aligned files (Multi30k style, .gz allowed): cross-lingual pairs

Batches are a pure function of (seed, step): `MixedBatchSampler` draws a fixed share of text-text
pairs per global batch from per-pool epoch permutations, shuffles the batch and hands each rank
its slice, so resuming at step s needs no iterator state and sharding needs no DistributedSampler.
Items are decoded in DataLoader workers: photos via `engine.imageio.read_photo` (the model's
preprocessing mode), texts via `engine.render.render_text`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from clippo_desktop.engine.errors import UsageError

from .sidecars import read_caption

log = logging.getLogger(__name__)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp", ".gif"}
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass(frozen=True)
class Pair:
    kind: str  # "image" (a is a photo path) or "text" (a is a text)
    a: str
    b: str  # caption or second text
    group: str = ""  # retrieval identity: pairs with the same group share the same `a`
    label: str = ""  # class name for classes:DIR
    teacher: tuple[float, ...] | None = None  # per-example teacher embedding of `a`


# -- sources ------------------------------------------------------------------------------------
def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def captions_folder(folder: Path) -> list[Pair]:
    pairs = []
    for photo in _photos(folder):
        caption = read_caption(photo)
        if caption:
            pairs.append(Pair("image", str(photo), caption, group=str(photo)))
    return pairs


def manifest_file(path: Path) -> list[Pair]:
    base, pairs = path.parent, []
    if path.suffix.lower() == ".jsonl":
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    else:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    for n, row in enumerate(rows):
        if "path" not in row or "caption" not in row:
            raise UsageError(f"{path}: row {n + 1} lacks 'path' or 'caption'.",
                             "A manifest needs the columns path and caption.")
        photo = Path(row["path"])
        photo = photo if photo.is_absolute() else base / photo
        teacher = tuple(float(x) for x in row["teacher"]) if row.get("teacher") else None
        pairs.append(Pair("image", str(photo), str(row["caption"]), group=str(photo), teacher=teacher))
    return pairs


def classes_folder(folder: Path, templates: Sequence[str]) -> list[Pair]:
    pairs = []
    for cls_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = cls_dir.name.replace("_", " ")
        for i, photo in enumerate(_photos(cls_dir)):
            caption = templates[i % len(templates)].replace("{}", name)
            pairs.append(Pair("image", str(photo), caption, group=str(photo), label=cls_dir.name))
    return pairs


def sentence_pairs(path: Path) -> list[Pair]:
    """Neighbouring sentences inside each paragraph (blank lines separate paragraphs)."""
    with _open_text(path) as f:
        paragraphs = re.split(r"\n\s*\n", f.read())
    pairs = []
    for para in paragraphs:
        sents = [s.strip() for s in _SENTENCE_END.split(" ".join(para.split())) if s.strip()]
        pairs += [Pair("text", x, y, group=x) for x, y in zip(sents, sents[1:])]
    return pairs


def parallel_pairs(path_a: Path, path_b: Path) -> list[Pair]:
    with _open_text(path_a) as fa, _open_text(path_b) as fb:
        lines_a, lines_b = fa.read().splitlines(), fb.read().splitlines()
    if len(lines_a) != len(lines_b):
        raise UsageError(f"Parallel files {path_a} and {path_b} have {len(lines_a)} and {len(lines_b)} lines.",
                         "Parallel data must be line-aligned.")
    return [Pair("text", x.strip(), y.strip(), group=x.strip())
            for x, y in zip(lines_a, lines_b) if x.strip() and y.strip()]


def parse_spec(spec: str, templates: Sequence[str] = ("a photo of a {}",)) -> list[Pair]:
    """Load the pairs a SPEC names (see the module docstring)."""
    kind, sep, arg = spec.partition(":")
    if not sep or not arg:
        raise UsageError(f"Bad data spec {spec!r}.",
                         "Use captions:DIR, manifest:FILE, classes:DIR, sentences:FILE or parallel:FA,FB.")
    if kind == "parallel":
        a, _, b = arg.partition(",")
        paths = [Path(a).expanduser(), Path(b).expanduser()]
    else:
        paths = [Path(arg).expanduser()]  # `captions:~/Pictures`: the shell does not expand it
    for p in paths:
        if not p.exists():
            raise UsageError(f"Data spec {spec!r}: {p} does not exist.")
    loaders = {
        "captions": lambda: captions_folder(paths[0]),
        "manifest": lambda: manifest_file(paths[0]),
        "classes": lambda: classes_folder(paths[0], templates),
        "sentences": lambda: sentence_pairs(paths[0]),
        "parallel": lambda: parallel_pairs(paths[0], paths[1]),
    }
    if kind not in loaders:
        raise UsageError(f"Unknown data spec kind {kind!r} in {spec!r}.", f"Known: {', '.join(loaders)}.")
    pairs = loaders[kind]()
    if not pairs:
        raise UsageError(f"Data spec {spec!r} gave no pairs.", "Check the folder's captions or the file.")
    return pairs


def split_pairs(pairs: list[Pair], val_fraction: float, val_max: int) -> tuple[list[Pair], list[Pair]]:
    """Deterministic split by a hash of the group, so a photo's captions stay on one side."""
    train, val = [], []
    for p in pairs:
        h = int.from_bytes(hashlib.sha1(p.group.encode("utf-8")).digest()[:8], "big") / 2**64
        (val if h < val_fraction and len(val) < val_max else train).append(p)
    return train, val


# -- batches ------------------------------------------------------------------------------------
class MixedBatchSampler(Sampler):
    """Yields, for each micro-step from `start`, this rank's list of (pair index, item seed).

    Global micro-batch = n_text text pairs + the rest image pairs, each pool walked through its
    own per-epoch permutation; the global batch is shuffled and rank r takes rows [r*b, (r+1)*b).
    """

    def __init__(self, pairs: Sequence[Pair], global_batch: int, text_share: float, seed: int,
                 rank: int = 0, world: int = 1, start: int = 0, stop: int | None = None):
        if global_batch % world:
            raise UsageError(f"Batch {global_batch} is not divisible by {world} processes.")
        self.pools = [[i for i, p in enumerate(pairs) if p.kind == k] for k in ("image", "text")]
        img, txt = (len(p) for p in self.pools)
        if img == 0 and txt == 0:
            raise UsageError("No training pairs.")
        n_text = global_batch if img == 0 else 0 if txt == 0 else int(round(text_share * global_batch))
        self.counts = [global_batch - n_text, n_text]
        self.global_batch, self.seed, self.rank, self.world = global_batch, seed, rank, world
        self.start, self.stop = start, stop

    def _pool_rows(self, pool: int, step: int) -> list[int]:
        ids, n = self.pools[pool], self.counts[pool]
        rows = []
        for k in range(step * n, (step + 1) * n):
            epoch, pos = divmod(k, len(ids))
            perm = np.random.default_rng([self.seed, pool, epoch]).permutation(len(ids))
            rows.append(ids[perm[pos]])
        return rows

    def global_rows(self, step: int) -> list[tuple[int, int]]:
        rows = self._pool_rows(0, step) + self._pool_rows(1, step)
        order = np.random.default_rng([self.seed, 2, step]).permutation(len(rows))
        base = (self.seed * 1_000_003 + step) * self.global_batch
        return [(rows[j], base + i) for i, j in enumerate(order)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        b = self.global_batch // self.world
        step = self.start
        while self.stop is None or step < self.stop:
            yield self.global_rows(step)[self.rank * b:(self.rank + 1) * b]
            step += 1

    def __len__(self) -> int:
        return (self.stop - self.start) if self.stop is not None else 2**31


class PairDataset(Dataset):
    """Decodes one pair into uint8 images: a photo (or rendered text) and a rendered text."""

    def __init__(self, pairs: Sequence[Pair], image_size: int = 224, preprocess: str = "default",
                 augment: bool = False, teacher_dim: int = 0):
        self.pairs, self.size, self.mode, self.augment = list(pairs), image_size, preprocess, augment
        self.teacher_dim = teacher_dim

    def __len__(self) -> int:
        return len(self.pairs)

    def _render(self, text: str) -> np.ndarray:
        from clippo_desktop.engine.render import DEFAULT_SETTINGS, RendererSettings, render_text

        settings = DEFAULT_SETTINGS if self.size == 224 else RendererSettings(image_size=self.size)
        return render_text(text, settings)  # (S, S, 3) uint8

    def _photo(self, path: str, seed: int) -> np.ndarray:
        from clippo_desktop.engine.errors import ImageDecodeError
        from clippo_desktop.engine.imageio import read_photo

        try:
            pixels = read_photo(path, mode=self.mode, size=self.size).pixels  # (S, S, 3) uint8
        except ImageDecodeError as exc:
            log.warning("skipping unreadable photo %s: %s (a grey image stands in)", path, exc)
            return np.full((self.size, self.size, 3), 127, np.uint8)
        return augment_photo(pixels, seed) if self.augment else pixels

    def __getitem__(self, key) -> dict:
        index, seed = key if isinstance(key, tuple) else (key, 0)
        p = self.pairs[index]
        a = self._photo(p.a, seed) if p.kind == "image" else self._render(p.a)
        teacher = np.zeros(self.teacher_dim, np.float32)
        if self.teacher_dim and p.teacher is not None:
            teacher[:] = p.teacher
        chars = len(p.b) + (len(p.a) if p.kind == "text" else 0)
        return {"a": a, "b": self._render(p.b), "is_text": p.kind == "text", "chars": chars,
                "teacher": teacher, "has_teacher": p.teacher is not None, "index": index}


def augment_photo(pixels: np.ndarray, seed: int) -> np.ndarray:
    """Random horizontal flip and a small random resized crop (scale 0.8-1), seeded per item."""
    from clippo_desktop.engine.preprocess import resize_exact

    rng = np.random.default_rng(seed)
    s = pixels.shape[0]
    scale = rng.uniform(0.8, 1.0)
    ch, cw = max(1, int(s * np.sqrt(scale))), max(1, int(s * np.sqrt(scale)))
    y, x = int(rng.integers(0, s - ch + 1)), int(rng.integers(0, s - cw + 1))
    out = resize_exact(np.ascontiguousarray(pixels[y:y + ch, x:x + cw]), s)  # (S, S, 3)
    return out[:, ::-1].copy() if rng.random() < 0.5 else out


def collate(items: list[dict]) -> dict:
    return {
        "a": torch.from_numpy(np.stack([it["a"] for it in items])),  # (b, S, S, 3) uint8
        "b": torch.from_numpy(np.stack([it["b"] for it in items])),  # (b, S, S, 3) uint8
        "is_text": torch.tensor([it["is_text"] for it in items]),
        "chars": int(sum(it["chars"] for it in items)),
        "teacher": torch.from_numpy(np.stack([it["teacher"] for it in items])),  # (b, Et)
        "has_teacher": torch.tensor([it["has_teacher"] for it in items]),
        "index": torch.tensor([it["index"] for it in items]),
    }


def make_loader(dataset: PairDataset, sampler: MixedBatchSampler, num_workers: int,
                prefetch_factor: int = 2, pin_memory: bool = False) -> DataLoader:
    kw = dict(persistent_workers=True, prefetch_factor=prefetch_factor) if num_workers > 0 else {}
    return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, collate_fn=collate,
                      pin_memory=pin_memory, **kw)


def to_model_input(pixels: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B,S,S,3) -> float32 in [-1,1] on `device` (value_range, done on the accelerator)."""
    x = pixels.to(device, non_blocking=True).float()
    return (x / 255.0) * 2.0 - 1.0  # same float32 ops as engine.preprocess.value_range

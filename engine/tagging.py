"""Zero-shot tagging: the best labels of a vocabulary for each photo, in the user's own words.

Labels are turned into prompts with the model's manifest templates and embedded once per
(model, vocabulary, templates): kept in memory, and on disk under `<data dir>/cache/labels/`
(np.save without pickle, written atomically), because a 500-label vocabulary with 6 templates
is ~3,000 renders + encodes, minutes on a B/16. Scores are the classifier's cosines
(zeroshot.ZeroShotClassifier), so `tag` agrees exactly with zero-shot classification.

Photos already in the library use their stored embedding; any other file is encoded on the fly.
Results can be stored in the catalog as machine tags (source='machine', model id, score).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sqlalchemy import select

from .atomic import atomic_write
from .catalog.models import Embedding, Model
from .catalog.records import TagRecord
from .errors import ClippoError, UsageError
from .vocabularies import Vocabulary
from .zeroshot import ZeroShotClassifier

log = logging.getLogger(__name__)
PROMPT_CHUNK = 64
PHOTO_CHUNK = 16
Progress = Callable[[int, int], None]      # (done, total)


@dataclass(frozen=True)
class PhotoTags:
    path: str
    tags: list[tuple[str, float]] = field(default_factory=list)   # best first
    photo_id: int | None = None
    error: str | None = None              # why this photo could not be tagged


def _templates_digest(templates: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(templates).encode("utf-8", "surrogatepass")).hexdigest()[:12]


class Tagger:
    """Tags photos with one model. Label embeddings are cached per vocabulary."""

    def __init__(self, model, *, variant: str | None = None, cache_dir: Path | None = None):
        self.model, self.variant = model, variant
        self.model_id = model.model_id(variant)
        self.templates = tuple(model.manifest.prompt_templates) or ("{}",)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._memory: dict[tuple[str, str, str], ZeroShotClassifier] = {}
        self._lock = threading.Lock()

    # ---- label embeddings ----------------------------------------------------------------

    def _key(self, vocab: Vocabulary) -> tuple[str, str, str]:
        return (self.model_id, vocab.digest, _templates_digest(self.templates))

    def _disk_path(self, key: tuple[str, str, str]) -> Path | None:
        if self.cache_dir is None:
            return None
        model = hashlib.sha256(key[0].encode()).hexdigest()[:16]
        return self.cache_dir / f"{model}-{key[1]}-{key[2]}.npy"

    def _load_disk(self, path: Path | None, vocab: Vocabulary) -> np.ndarray | None:
        if path is None or not path.is_file():
            return None
        try:
            emb = np.load(path, allow_pickle=False)   # (C, E)
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable label cache %s: %s", path, exc)
            return None
        if (emb.dtype != np.float32 or emb.shape != (len(vocab), self.model.dim)
                or not np.isfinite(emb).all()):
            log.warning("ignoring label cache %s: wrong shape or values", path)
            return None
        return emb

    def _save_disk(self, path: Path | None, emb: np.ndarray) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as f:
                np.save(f, emb, allow_pickle=False)
        except (OSError, ClippoError) as exc:   # a cache that cannot be written is only slower
            log.warning("cannot write label cache %s: %s", path, exc)

    def classifier(self, vocab: Vocabulary, progress: Progress | None = None) -> ZeroShotClassifier:
        """The zero-shot classifier for a vocabulary (memory, then disk, then encoded)."""
        key = self._key(vocab)
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self._disk_path(key)
        emb = self._load_disk(path, vocab)
        temperature = float(self.model.manifest.temperature)
        if emb is not None:
            clf = ZeroShotClassifier(vocab.labels, emb, temperature)
        else:
            total = len(vocab) * len(self.templates)

            def encode(prompts: list[str]) -> np.ndarray:
                parts = []
                for i in range(0, len(prompts), PROMPT_CHUNK):
                    parts.append(self.model.encode_texts(prompts[i: i + PROMPT_CHUNK], self.variant))
                    if progress is not None:
                        progress(min(i + PROMPT_CHUNK, total), total)
                return np.concatenate(parts)     # (C*T, E)

            clf = ZeroShotClassifier.build(vocab.labels, self.templates, encode, temperature)
            self._save_disk(path, np.ascontiguousarray(clf.class_embeddings, np.float32))
        with self._lock:
            self._memory[key] = clf
        return clf

    # ---- tagging -------------------------------------------------------------------------

    def tag_embeddings(self, embeddings: np.ndarray, vocab: Vocabulary, *, paths: Sequence[str],
                       photo_ids: Sequence[int | None] | None = None, top: int = 5,
                       threshold: float | None = None,
                       progress: Progress | None = None) -> list[PhotoTags]:
        """Top labels (best first) for photo embeddings (N, E)."""
        if top < 1:
            raise UsageError("--top must be at least 1.")
        if not len(paths):
            return []
        clf = self.classifier(vocab, progress)
        emb = np.asarray(embeddings, np.float32).reshape(len(paths), self.model.dim)  # (N, E)
        scores = clf.scores(emb)                                            # (N, C)
        ids = list(photo_ids) if photo_ids is not None else [None] * len(paths)
        out = []
        for path, pid, row in zip(paths, ids, scores):
            order = np.argsort(-row, kind="stable")[:top]
            tags = [(clf.labels[i], float(row[i])) for i in order
                    if threshold is None or row[i] >= threshold]
            out.append(PhotoTags(path, tags, pid))
        return out

    def tag_paths(self, paths: Sequence[str], vocab: Vocabulary, *, catalog=None, top: int = 5,
                  threshold: float | None = None,
                  progress: Progress | None = None) -> list[PhotoTags]:
        """Tag photo files; library photos reuse stored embeddings, others are encoded now."""
        paths = [os.path.abspath(os.fsdecode(p)) for p in paths]
        ids: list[int | None] = [None] * len(paths)
        vectors: list[np.ndarray | None] = [None] * len(paths)
        errors: list[str | None] = [None] * len(paths)
        if catalog is not None:
            for i, p in enumerate(paths):
                rec = catalog.get_photo_by_path(p)
                if rec is not None:
                    ids[i] = rec.id
            stored = stored_embeddings(catalog, self.model_id, [i for i in ids if i is not None])
            for i, pid in enumerate(ids):
                if pid is not None and pid in stored and _unchanged(catalog, pid, paths[i]):
                    vectors[i] = stored[pid]
        todo = [i for i, v in enumerate(vectors) if v is None]
        for start in range(0, len(todo), PHOTO_CHUNK):
            for i in todo[start: start + PHOTO_CHUNK]:
                try:
                    vectors[i] = self.model.encode_photos([paths[i]], self.variant)[0]  # (E,)
                except ClippoError as exc:
                    errors[i] = exc.message
        ok = [i for i in range(len(paths)) if errors[i] is None]
        emb = np.stack([vectors[i] for i in ok]) if ok else np.zeros((0, self.model.dim), np.float32)
        tagged = iter(self.tag_embeddings(emb, vocab, paths=[paths[i] for i in ok],
                                          photo_ids=[ids[i] for i in ok], top=top,
                                          threshold=threshold, progress=progress))
        return [next(tagged) if errors[i] is None else PhotoTags(paths[i], [], ids[i], errors[i])
                for i in range(len(paths))]


def _unchanged(catalog, photo_id: int, path: str) -> bool:
    """The stored embedding still describes the file (same size and mtime)."""
    rec = catalog.get_photos([photo_id])
    try:
        st = os.stat(path)
    except OSError:
        return False
    return bool(rec) and rec[0].size == st.st_size and rec[0].mtime_ns == st.st_mtime_ns


def stored_embeddings(catalog, model_id: str, photo_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """photo id -> float32 (E,) for photos embedded with this model."""
    if not photo_ids:
        return {}
    out: dict[int, np.ndarray] = {}
    with catalog._read() as s:       # noqa: SLF001 - read-only query the Catalog has no method for
        row = s.scalar(select(Model.id).where(Model.model_id == model_id))
        if row is None:
            return {}
        for i in range(0, len(photo_ids), 500):
            part = [int(x) for x in photo_ids[i: i + 500]]
            for pid, blob in s.execute(select(Embedding.photo_id, Embedding.vector)
                                       .where(Embedding.model_row_id == row,
                                              Embedding.photo_id.in_(part))):
                out[pid] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    return out


def store_machine_tags(catalog, results: Sequence[PhotoTags], model_id: str) -> int:
    """Replace each library photo's machine tags with these; returns how many were stored."""
    records = []
    for r in results:
        if r.photo_id is None or r.error is not None:
            continue
        keep = {label for label, _ in r.tags}
        for old in catalog.list_tags(photo_id=r.photo_id):
            if old.source == "machine" and old.label not in keep:
                catalog.remove_tags(r.photo_id, old.label, "machine")
        records.extend(TagRecord(r.photo_id, label, "machine", model_id, score)
                       for label, score in r.tags)
    catalog.add_tags(records)
    return len(records)

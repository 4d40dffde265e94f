"""The decode -> encode -> commit loop that turns a list of photos into stored embeddings.

Decoding (PIL releases the GIL) runs on a small thread pool that stays a bounded number of
batches ahead of the encoder, so the encoder rarely waits and memory stays bounded
((ahead + 1) x batch_size decoded 224x224 photos). Each batch is committed in ONE catalog
transaction (embeddings + metadata + failures + generation bump) and then added to the
in-memory vector index; the index is saved every `save_every` batches / `save_every_s`
seconds and at the end. A killed process therefore loses at most the batch in flight, and a
rerun finds every committed photo unchanged. Bad files become (path, reason) and never stop
the run. Cancellation stops after the current batch, with everything before it committed.

Test hook (crash tests only): CLIPPO_TEST_KILL_AT="PHASE:K" SIGKILLs this process at batch K
(1-based) in PHASE: "decoded", "encoded", "commit" (inside the catalog transaction, before
COMMIT), "committed" (before the vector index is updated/saved), "save" (inside the index
save, at its atomic rename). "scan:K" (in engine/scanner.py) kills at the K-th folder walked.
Unset in normal use: then it costs one dict lookup per batch.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from .catalog import Catalog, PhotoInfo, PhotoMeta, content_hash
from .errors import ImageDecodeError
from .imageio import DecodedPhoto, read_photo

KILL_ENV = "CLIPPO_TEST_KILL_AT"


@dataclass(frozen=True)
class WorkItem:
    photo_id: int
    path: str
    hash_for: tuple[int, int, int] | None = None   # (root id, size, mtime_ns): hash it here


@dataclass
class PipelineResult:
    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    generation: int | None = None


@dataclass
class PipelineSettings:
    batch_size: int = 16            # photos per encoder call and per commit
    decode_workers: int = 2
    ahead: int = 2                  # batches decoded ahead of the encoder
    save_every: int = 50            # batches between vector index saves
    save_every_s: float = 120.0
    max_pixels: int | None = None   # None: imageio's default cap


def _decode(item: WorkItem, mode: str, size: int, max_pixels: int | None
            ) -> tuple[DecodedPhoto | str, str | None]:
    """(DecodedPhoto or the reason it could not be read, content hash if asked). Never raises."""
    digest = None
    try:
        if item.hash_for is not None:      # on the decode threads: off the critical path
            digest = content_hash(item.path)
    except OSError:
        digest = None                      # read_photo below says what is wrong
    return _read(item, mode, size, max_pixels), digest


def _read(item: WorkItem, mode: str, size: int, max_pixels: int | None) -> DecodedPhoto | str:
    try:
        kw = {} if max_pixels is None else {"max_pixels": max_pixels}
        return read_photo(item.path, mode=mode, size=size, **kw)
    except ImageDecodeError as exc:
        reason = str(exc)
        return "vanished before it could be read" if reason == "file not found" else reason
    except Exception as exc:      # a decoder bug must not stop the run either
        return f"unexpected decoder error: {type(exc).__name__}: {str(exc)[:200]}"


def _meta(photo_id: int, d: DecodedPhoto) -> PhotoMeta:
    lat, lon = d.gps if d.gps else (None, None)
    return PhotoMeta(photo_id, d.width, d.height, d.format, d.taken_at, d.camera, lat, lon)


def _batches(items: Sequence[WorkItem], n: int) -> Iterator[Sequence[WorkItem]]:
    for i in range(0, len(items), n):
        yield items[i: i + n]


class _KillHook:
    """The crash-test hook described in the module docstring (inert unless the env var is set)."""

    def __init__(self, catalog: Catalog):
        phase, _, batch = os.environ.get(KILL_ENV, "").partition(":")
        self.phase, self.batch = phase, int(batch) if batch.isdigit() else -1
        self.catalog = catalog

    def wants(self, phase: str, batch: int) -> bool:
        return self.phase == phase and self.batch == batch

    def at(self, phase: str, batch: int) -> None:
        if not self.wants(phase, batch):
            return
        if phase == "commit":       # die after the INSERTs, before SQLite's COMMIT
            from sqlalchemy import event
            event.listen(self.catalog._engine, "commit", lambda conn: _die())
        elif phase == "save":       # die with the temp file written, before os.replace
            sys.addaudithook(lambda event, args: _die() if event == "os.rename" else None)
        else:
            _die()


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _store_hashes(catalog: Catalog, results) -> None:
    """Record content hashes computed on the decode threads (same size/mtime: status kept)."""
    by_root: dict[int, list[PhotoInfo]] = {}
    for it, (_, digest) in results:
        if it.hash_for is not None and digest is not None:
            root_id, size, mtime_ns = it.hash_for
            by_root.setdefault(root_id, []).append(PhotoInfo(it.path, size, mtime_ns, digest))
    for root_id, infos in by_root.items():
        catalog.upsert_photos(root_id, infos)


def run_pipeline(items: Sequence[WorkItem], *, catalog: Catalog, model_row_id: int, encoder,
                 vectors, preprocess: str, image_size: int,
                 settings: PipelineSettings | None = None,
                 on_batch: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> PipelineResult:
    """Decode, encode and commit `items`; returns counts and (path, reason) failures.

    encoder: `.encode(uint8 (N,S,S,3)) -> float32 (N,E)`; vectors: a VectorIndex or None.
    on_batch(done, failed) is called after each commit with running totals.
    """
    s = settings or PipelineSettings()
    result = PipelineResult()
    hook = _KillHook(catalog)
    batches = _batches(list(items), s.batch_size)
    pending: deque[list[tuple[WorkItem, Future]]] = deque()
    pool = ThreadPoolExecutor(max(1, s.decode_workers), thread_name_prefix="clippo-decode")

    def fill() -> None:
        while len(pending) < s.ahead + 1:
            batch = next(batches, None)
            if batch is None:
                return
            pending.append([(it, pool.submit(_decode, it, preprocess, image_size, s.max_pixels))
                            for it in batch])

    number, last_save, since_save = 0, time.monotonic(), 0
    try:
        fill()
        while pending:
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            batch = pending.popleft()
            fill()
            number += 1
            results = [(it, f.result()) for it, f in batch]
            _store_hashes(catalog, results)
            decoded = [(it, d) for it, (d, _) in results]
            hook.at("decoded", number)
            good = [(it, d) for it, d in decoded if isinstance(d, DecodedPhoto)]
            bad = [(it.path, d) for it, d in decoded if isinstance(d, str)]
            bad_ids = [it.photo_id for it, d in decoded if isinstance(d, str) and it.photo_id]
            if good:
                pixels = np.stack([d.pixels for _, d in good])          # (B, S, S, 3) uint8
                emb = encoder.encode(pixels)                             # (B, E) float32
            else:
                emb = np.zeros((0, 0), np.float32)
            hook.at("encoded", number)
            ids = [it.photo_id for it, _ in good]
            hook.at("commit", number)
            result.generation = catalog.store_embeddings(
                model_row_id, list(zip(ids, emb)), [_meta(it.photo_id, d) for it, d in good], bad)
            hook.at("committed", number)
            result.indexed += len(good)
            result.failed.extend(bad)
            since_save += 1
            if vectors is not None and ids:
                vectors.add(ids, emb)
            if vectors is not None and bad_ids:
                vectors.remove(bad_ids)          # a changed file that no longer decodes
            if vectors is not None and (since_save >= s.save_every or hook.wants("save", number)
                                        or time.monotonic() - last_save >= s.save_every_s):
                hook.at("save", number)
                vectors.save(catalog.index_generation(model_row_id))
                last_save, since_save = time.monotonic(), 0
            if on_batch is not None:
                on_batch(result.indexed, len(result.failed))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if vectors is not None and since_save:
        vectors.save(catalog.index_generation(model_row_id))
    return result

"""Incremental indexing: compare folders with the catalog, then run the pipeline on what changed.

For each target (a whole root, or a folder/file inside one, as the watcher asks for):

- a root that is missing, unreadable or suddenly empty (an unmounted drive leaves an empty
  mount point) is marked offline and nothing under it is touched; when it is back it is marked
  online and rescanned, and everything unchanged is kept;
- a file with the catalog's (size, mtime_ns) is unchanged: never decoded again. That includes
  files that failed before: a known failure is counted as unchanged and not retried until the
  file changes (`clippo-desktop status` lists all failures);
- a new path whose content hash equals that of a catalog path that is gone is a move or a
  rename: the row gets the new path and keeps its id, embedding and tags (no re-encoding);
- catalog paths that are gone (and not under a folder that could not be read) are removed,
  from the catalog and from the vector index;
- new and changed files, and photos left pending by an interrupted run or lacking an
  embedding for the current model, go through engine/pipeline.py.
"""

from __future__ import annotations

import bisect
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from .catalog import Catalog, PhotoInfo, PhotoState, RootRecord, content_hash
from .pipeline import PipelineSettings, WorkItem, run_pipeline
from .scanner import FileEntry, scan

log = logging.getLogger(__name__)


@dataclass
class IndexSummary:
    """What one indexing run did. `failed` lists (path, reason) of this run's new failures."""

    indexed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    cancelled: bool = False
    offline: list[str] = field(default_factory=list)       # roots found missing this run

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IndexProgress:
    """One progress report: phase is 'scanning', 'indexing' or 'rebuilding'."""

    phase: str
    found: int
    done: int
    failed: int
    total: int
    rate: float                 # photos/s in the indexing phase
    eta_s: float | None


Progress = Callable[[IndexProgress], None]


@dataclass(frozen=True)
class Target:
    root: RootRecord
    sub: str | None = None      # a folder or file under the root; None = the whole root


@dataclass
class _Plan:
    new: list[tuple[int, FileEntry]] = field(default_factory=list)       # (root id, file)
    changed: list[tuple[int, FileEntry]] = field(default_factory=list)
    problems: list[tuple[int, FileEntry]] = field(default_factory=list)
    missing: dict[str, PhotoState] = field(default_factory=dict)
    scanned_roots: list[int] = field(default_factory=list)
    sub_prefixes: dict[int, list[str] | None] = field(default_factory=dict)
    found: int = 0
    matched: set[int] = field(default_factory=set)      # ids with the catalog's size/mtime


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip(os.sep) + os.sep)


def _keys_under(keys: list[str], prefix: str) -> list[str]:
    """The sorted paths `_under(path, prefix)`: `prefix` itself and one contiguous run below it."""
    out = [prefix] if (i := bisect.bisect_left(keys, prefix)) < len(keys) and keys[i] == prefix \
        else []
    base = prefix.rstrip(os.sep) + os.sep
    lo = bisect.bisect_left(keys, base)
    hi = bisect.bisect_left(keys, base[:-1] + chr(ord(os.sep) + 1))
    return out + keys[lo:hi]


def _looks_unmounted(root: str, known: dict) -> bool:
    """An empty root folder while the catalog has photos there: a drive that is not mounted."""
    if not known:
        return False
    try:
        with os.scandir(root) as it:
            return next(it, None) is None
    except OSError:
        return True


class Indexer:
    """One incremental run over some targets. Used by Library; not thread-safe by itself."""

    def __init__(self, catalog: Catalog, model_row_id: int, encoder, vectors, *,
                 preprocess: str, image_size: int, settings: PipelineSettings | None = None,
                 progress: Progress | None = None, cancel: threading.Event | None = None):
        self.catalog, self.model_row_id = catalog, model_row_id
        self.encoder, self.vectors = encoder, vectors
        self.preprocess, self.image_size = preprocess, image_size
        self.settings = settings or PipelineSettings()
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.summary = IndexSummary()
        self._hashes: dict[str, str] = {}
        self._known: dict[int, tuple[dict[str, PhotoState], list[str]]] = {}

    def _report(self, phase: str, found: int, done: int = 0, failed: int = 0, total: int = 0,
                started: float | None = None) -> None:
        if self.progress is None:
            return
        rate, eta = 0.0, None
        if started is not None and done:
            rate = done / max(time.monotonic() - started, 1e-9)
            eta = (total - done - failed) / rate if rate > 0 else None
        self.progress(IndexProgress(phase, found, done, failed, total, rate, eta))

    def run(self, targets: Sequence[Target]) -> IndexSummary:
        start = time.monotonic()
        plan = _Plan()
        for target in _dedupe(targets):
            if self.cancel.is_set():
                break
            self._scan_target(target, plan)
        if self.cancel.is_set():
            self.summary.cancelled = True
            self.summary.seconds = time.monotonic() - start
            return self.summary
        self._match_moves(plan)
        work = self._apply(plan)
        self.summary.unchanged += len(plan.matched - work.resumed)
        total = len(work.items)
        self._report("indexing", plan.found, 0, 0, total)
        t0 = time.monotonic()
        result = run_pipeline(
            work.items, catalog=self.catalog, model_row_id=self.model_row_id,
            encoder=self.encoder, vectors=self.vectors, preprocess=self.preprocess,
            image_size=self.image_size, settings=self.settings, cancel=self.cancel,
            on_batch=lambda done, failed: self._report("indexing", plan.found, done, failed,
                                                       total, t0))
        self.summary.indexed = result.indexed
        self.summary.failed.extend(result.failed)
        self.summary.cancelled = result.cancelled
        if not result.cancelled:
            for root_id in plan.scanned_roots:
                self.catalog.set_root_scanned(root_id)
        self.summary.seconds = time.monotonic() - start
        return self.summary

    # ---- scanning and diffing -----------------------------------------------------------------

    def _scan_target(self, target: Target, plan: _Plan) -> None:
        root = target.root
        # One catalog read per root and run: the watcher passes one target per changed path,
        # and re-reading a 100k-photo root for each of 1,000 events took minutes.
        if root.id not in self._known:
            rows = self.catalog.photos_under_root(root.id)
            self._known[root.id] = (rows, sorted(rows))
        known, keys = self._known[root.id]
        if not os.path.isdir(root.path) or (target.sub is None and _looks_unmounted(root.path, known)):
            if root.online:
                log.warning("library folder %s is missing; marking it offline (its photos are "
                            "kept until it is back)", root.path)
                self.catalog.set_root_online(root.id, False)
            self.summary.offline.append(root.path)
            return
        if not root.online:
            log.info("library folder %s is back online; rescanning it", root.path)
            self.catalog.set_root_online(root.id, True)
        top = target.sub or root.path
        if target.sub is not None:
            known = {p: known[p] for p in _keys_under(keys, target.sub)}
        found = scan(top, cancel=self.cancel,
                     on_found=lambda n: self._report("scanning", plan.found + n))
        if found.cancelled:
            return
        if target.sub is None and any(p == root.path for p, _ in found.failed):
            self.catalog.set_root_online(root.id, False)      # unreadable root: keep its data
            self.summary.offline.append(root.path)
            self.summary.failed.extend(found.failed)
            return
        plan.found += len(found.files)
        self.summary.failed.extend(found.failed)
        if target.sub is None:
            plan.scanned_roots.append(root.id)
        prefixes = plan.sub_prefixes.setdefault(root.id, [])
        if prefixes is not None:
            if target.sub is None:
                plan.sub_prefixes[root.id] = None
            else:
                prefixes.append(target.sub)
        seen = set()
        for f in found.files:
            seen.add(f.path)
            state = known.get(f.path)
            same = state is not None and (state.size, state.mtime_ns) == (f.size, f.mtime_ns)
            if f.problem is not None:
                if same and state.status == "failed":
                    self.summary.unchanged += 1
                else:
                    plan.problems.append((root.id, f))
            elif state is None:
                plan.new.append((root.id, f))
            elif not same:
                plan.changed.append((root.id, f))
            else:
                plan.matched.add(state.id)
        unreadable = [p for p, _ in found.failed]
        for path, state in known.items():
            if path not in seen and not any(_under(path, u) for u in unreadable):
                plan.missing[path] = state

    def _match_moves(self, plan: _Plan) -> None:
        """Hash new files; a hash equal to a missing path's is a move: re-point that row.

        With nothing missing there is nothing to match, and hashing (two 64 KiB reads per
        file) moves to the decode threads of the pipeline, overlapped with encoding.
        """
        if not plan.missing:
            return
        by_hash: dict[str, list[str]] = {}
        for path, state in sorted(plan.missing.items()):
            if state.content_hash:
                by_hash.setdefault(state.content_hash, []).append(path)
        still_new = []
        for root_id, f in plan.new:
            try:
                digest = content_hash(f.path)
            except OSError as exc:
                self.summary.failed.append((f.path, _vanished(exc)))
                continue
            candidates = by_hash.get(digest)
            if candidates:
                old = candidates.pop(0)
                state = plan.missing.pop(old)
                self.catalog.move_photo(state.id, f.path, root_id=root_id, size=f.size,
                                        mtime_ns=f.mtime_ns)
                self.summary.moved += 1                # keeps its embedding: not re-encoded
            else:
                self._hashes[f.path] = digest
                still_new.append((root_id, f))
        plan.new = still_new

    # ---- writing the plan ---------------------------------------------------------------------

    def _apply(self, plan: _Plan) -> "_Work":
        work = _Work()
        if plan.missing:
            ids = [s.id for s in plan.missing.values()]
            self.catalog.delete_photos(ids)
            if self.vectors is not None:
                self.vectors.remove(ids)
            self.summary.removed += len(ids)
        for _, f in plan.changed:       # hash now: the stored hash is the old content's
            try:
                self._hashes[f.path] = content_hash(f.path)
            except OSError:
                pass                       # decoding will report it
        by_root: dict[int, list[PhotoInfo]] = {}
        for root_id, f in plan.new + plan.changed:
            by_root.setdefault(root_id, []).append(
                PhotoInfo(f.path, f.size, f.mtime_ns, self._hashes.get(f.path)))
        queued: dict[int, WorkItem] = {}
        for root_id, infos in by_root.items():
            ids = self.catalog.upsert_photos(root_id, infos)
            for photo_id, info in zip(ids, infos):
                hash_for = None if info.content_hash else (root_id, info.size, info.mtime_ns)
                queued[photo_id] = WorkItem(photo_id, info.path, hash_for)
        for root_id, f in plan.problems:
            self.catalog.upsert_photos(root_id, [PhotoInfo(f.path, f.size, f.mtime_ns)])
            self.catalog.mark_failed(f.path, f.problem)
            self.summary.failed.append((f.path, f.problem))
        for root_id, prefixes in plan.sub_prefixes.items():
            for rec in self.catalog.photos_needing_embedding(self.model_row_id, root_id):
                if rec.id in queued:
                    continue
                if prefixes is None or any(_under(rec.path, p) for p in prefixes):
                    hash_for = None if rec.content_hash else (root_id, rec.size, rec.mtime_ns)
                    queued[rec.id] = WorkItem(rec.id, rec.path, hash_for)
                    work.resumed.add(rec.id)
        work.items = sorted(queued.values(), key=lambda w: w.path)
        return work


@dataclass
class _Work:
    items: list[WorkItem] = field(default_factory=list)
    resumed: set[int] = field(default_factory=set)


def _vanished(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "vanished before it could be read"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read file: {exc.strerror or exc}"


def _dedupe(targets: Sequence[Target]) -> list[Target]:
    """Drop targets inside another target of the same root (a root-wide one covers all)."""
    out: list[Target] = []
    for t in sorted(targets, key=lambda t: (t.root.id, t.sub is not None, t.sub or "")):
        covered = any(o.root.id == t.root.id and (o.sub is None or (t.sub is not None and
                                                                   _under(t.sub, o.sub)))
                      for o in out)
        if not covered:
            out.append(t)
    return out

"""`Library`: the one object the CLI and the GUI use to open, index and inspect a photo library.

A library is a data directory holding `catalog.db` (the source of truth), `vectors/<model>/`
(the saved vector index per model, a cache) and `models/`. Two ways to open it:

    with Library.open(data_dir) as lib:                 # writer: takes library.lock
        lib.add_roots(["~/Pictures"])
        summary = lib.index(progress=print)

    with Library.open(data_dir, writer=False) as lib:   # reader: no lock, never blocks
        ids, scores = lib.vectors.search(query_vec, k=20)
        photos = lib.photos(ids.tolist())

The read path is just three attributes: `.catalog` (engine.catalog.Catalog), `.model`
(the InstalledModel, resolved on first use for readers) and `.vectors` (the model's
VectorIndex, opened on first use and rebuilt from the catalog if stale; `reload_vectors()`
drops it so the next use sees what a writer added since). All writes go through one lock in
this object, so the watcher's worker and the caller's thread never write at once.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .catalog import Catalog, PhotoRecord, RootRecord
from .errors import ReadOnlyError, UsageError
from .indexer import Indexer, IndexProgress, IndexSummary, Progress, Target
from .lockfile import LibraryLock
from .models import InstalledModel, ModelRegistry
from .paths import resolve_data_dir
from .pipeline import PipelineSettings

CATALOG_FILE = "catalog.db"
VECTORS_DIR = "vectors"
THRESHOLD_ENV = "CLIPPO_DESKTOP_EXACT_THRESHOLD"   # tuning/test knob for VectorIndex


def vector_dir(data_dir: str | os.PathLike, model_id: str) -> Path:
    """Where the vector index of a model id lives (file-name-safe on every OS)."""
    return Path(data_dir) / VECTORS_DIR / re.sub(r"[^A-Za-z0-9._-]", "_", model_id)


@dataclass(frozen=True)
class RootStatus:
    path: str
    online: bool
    watch: bool
    last_scan_at: float | None
    counts: dict[str, int]          # {'pending': n, 'indexed': n, 'failed': n}


@dataclass(frozen=True)
class ModelStatus:
    name: str
    model_id: str
    dim: int
    vectors: int                    # embeddings stored in the catalog
    index_bytes: int                # saved vector index files on disk
    active: bool                    # the model this Library was opened with


@dataclass(frozen=True)
class LibraryStatus:
    data_dir: str
    catalog_bytes: int
    roots: list[RootStatus]
    counts: dict[str, int]
    models: list[ModelStatus]
    failed: list[tuple[str, str]]


def _dir_bytes(path: Path) -> int:
    try:
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    except OSError:
        return 0


def _norm(path: str | os.PathLike) -> str:
    return os.fsdecode(os.path.abspath(os.path.expanduser(os.fsdecode(path))))


class Library:
    def __init__(self, data_dir: Path, catalog: Catalog, registry: ModelRegistry,
                 model_name: str | None, writer: bool, lock: LibraryLock | None,
                 threads: int | None, exact_threshold: int | None,
                 rebuild_progress: Callable[[int, int], None] | None):
        self.data_dir = data_dir
        self.catalog = catalog
        self.registry = registry
        self.writer = writer
        self.threads = threads
        self.settings = PipelineSettings()
        self._model_name = model_name
        self._model: InstalledModel | None = None
        self._model_row: int | None = None
        self._vectors = None
        self._lock = lock
        self._exact_threshold = exact_threshold
        self._rebuild_progress = rebuild_progress
        self._write_lock = threading.RLock()
        self._state_lock = threading.RLock()
        self._query_cache = None
        self._tagger = None

    @classmethod
    def open(cls, data_dir: str | os.PathLike | None = None, *, model: str | None = None,
             writer: bool = True, threads: int | None = None, exact_threshold: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> "Library":
        """Open a library. A writer takes the lock (LibraryLockedError if taken) and resolves
        the model now (ModelNotFoundError if none); a reader takes no lock and needs an
        existing catalog. `progress(done, total)` reports a vector index rebuild."""
        data_dir = resolve_data_dir(data_dir)
        if exact_threshold is None and os.environ.get(THRESHOLD_ENV, "").isdigit():
            exact_threshold = int(os.environ[THRESHOLD_ENV])
        lock = None
        if writer:
            lock = LibraryLock(data_dir)
            lock.acquire()
        elif not (data_dir / CATALOG_FILE).is_file():
            raise UsageError(f"There is no library in {data_dir} yet.",
                             "Index your photos first: clippo-desktop --index ~/Pictures")
        catalog = None
        try:
            catalog = Catalog.open(data_dir / CATALOG_FILE)
            lib = cls(data_dir, catalog, ModelRegistry(data_dir), model, writer, lock, threads,
                      exact_threshold, progress)
            if writer:
                lib.model_row_id     # resolve the model and record it in the catalog now
            return lib
        except BaseException:
            if catalog is not None:
                catalog.close()
            if lock is not None:
                lock.release()
            raise

    # ---- model and vectors (the read path) ----------------------------------------------------

    @property
    def model(self) -> InstalledModel:
        with self._state_lock:
            if self._model is None:
                self._model = (self.registry.get(self._model_name) if self._model_name
                               else self.registry.default())
            return self._model

    @property
    def model_row_id(self) -> int | None:
        """The catalog's row for the model (created by writers; None for a reader if absent)."""
        with self._state_lock:
            if self._model_row is None:
                m = self.model
                if self.writer:
                    self._model_row = self.catalog.ensure_model(m.model_id(), m.name, m.dim,
                                                                m.renderer_version)
                else:
                    self._model_row = next((r.id for r in self.catalog.list_models()
                                            if r.model_id == m.model_id()), None)
            return self._model_row

    @property
    def vectors(self):
        """The model's VectorIndex, opened (or rebuilt from the catalog) on first use."""
        with self._state_lock:
            if self._vectors is None:
                self._vectors = self._open_vectors(self._rebuild_progress)
            return self._vectors

    def _open_vectors(self, progress):
        from .vectors import VectorIndex

        row = self.model_row_id
        if row is None:
            raise UsageError(f"The library has no photos indexed with model {self.model.name!r}.",
                             f"Index them: clippo-desktop --index DIR --model {self.model.name}")
        kw = {} if self._exact_threshold is None else {"exact_threshold": self._exact_threshold}
        folder = vector_dir(self.data_dir, self.model.model_id())
        if self.writer:                 # temp files of a save that was killed half-way
            for stale in folder.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
        return VectorIndex.open(folder,
                                self.catalog.index_generation(row),
                                lambda: self.catalog.load_all_vectors(row), progress, **kw)

    def reload_vectors(self) -> None:
        """Forget the loaded vector index; the next `.vectors` reopens it (readers use this)."""
        with self._state_lock:
            self._vectors = None

    def searcher(self):
        """A Searcher over the current vectors; its query cache lives as long as the library."""
        from .query_cache import QueryCache
        from .search import Searcher

        with self._state_lock:
            if self._query_cache is None:
                self._query_cache = QueryCache()
            return Searcher(self.catalog, self.vectors, self.model, cache=self._query_cache)

    def tagger(self):
        """The zero-shot Tagger for the model, with label embeddings cached under the data dir."""
        from .tagging import Tagger

        with self._state_lock:
            if self._tagger is None or self._tagger.model is not self.model:
                self._tagger = Tagger(self.model, cache_dir=self.data_dir / "cache" / "labels")
            return self._tagger

    def photos(self, ids: Sequence[int]) -> list[PhotoRecord]:
        return self.catalog.get_photos(list(ids))

    def roots(self) -> list[RootRecord]:
        return self.catalog.list_roots()

    # ---- roots (writes) ------------------------------------------------------------------------

    def _need_writer(self) -> None:
        if not self.writer:
            raise ReadOnlyError("This library was opened read-only.",
                                "Open it with writer=True to change it.")

    def _root_for(self, path: str) -> RootRecord | None:
        for r in self.catalog.list_roots():
            if path == r.path or path.startswith(r.path.rstrip(os.sep) + os.sep):
                return r
        return None

    def add_roots(self, paths: Iterable[str | os.PathLike], watch: bool = False
                  ) -> list[RootRecord]:
        """Add folders (a folder inside an existing root is covered by it). Returns the roots."""
        self._need_writer()
        out = []
        with self._write_lock:
            for raw in paths:
                path = _norm(raw)
                if not os.path.isdir(path):
                    raise UsageError(f"{path} is not a folder.", "Check the path and try again.")
                root = self._root_for(path)
                if root is None:
                    root = self.catalog.add_root(path, watch=watch)
                    self._absorb_inner_roots(root)
                if watch and not root.watch:
                    self.catalog.set_root_watch(root.id, True)
                out.append(next(r for r in self.catalog.list_roots() if r.id == root.id))
        return out

    def _absorb_inner_roots(self, outer: RootRecord) -> None:
        """Roots inside a new, larger root hand their photos (and embeddings) over to it."""
        for inner in self.catalog.list_roots():
            if inner.id != outer.id and inner.path.startswith(outer.path.rstrip(os.sep) + os.sep):
                for path, state in self.catalog.photos_under_root(inner.id).items():
                    self.catalog.move_photo(state.id, path, root_id=outer.id)
                self.catalog.remove_root(inner.id)
                if inner.watch:
                    self.catalog.set_root_watch(outer.id, True)

    def remove_root(self, path: str | os.PathLike) -> int:
        """Forget a folder and its photos (the files are untouched). Returns photos removed."""
        self._need_writer()
        path = _norm(path)
        with self._write_lock:
            root = next((r for r in self.catalog.list_roots() if r.path == path), None)
            if root is None:
                raise UsageError(f"{path} is not a library folder.",
                                 "See the folders with `clippo-desktop status`.")
            ids = list(s.id for s in self.catalog.photos_under_root(root.id).values())
            gone = self.catalog.remove_root(root.id)
            if self._vectors is not None:
                self._vectors.remove(ids)
                self._vectors.save(self.catalog.index_generation(self.model_row_id))
            return gone

    def set_watch(self, path: str | os.PathLike, flag: bool) -> None:
        self._need_writer()
        root = self._root_for(_norm(path))
        if root is None:
            raise UsageError(f"{path} is not in a library folder.", "Add it with --index first.")
        with self._write_lock:
            self.catalog.set_root_watch(root.id, flag)

    # ---- indexing -------------------------------------------------------------------------------

    def _indexer(self, progress: Progress | None, cancel: threading.Event | None) -> Indexer:
        model = self.model
        rebuild = None
        if progress is not None:
            def rebuild(done: int, total: int) -> None:
                progress(IndexProgress("rebuilding", 0, done, 0, total, 0.0, None))
        with self._state_lock:
            if self._vectors is None:
                self._vectors = self._open_vectors(rebuild or self._rebuild_progress)
        encoder = model.encoder(threads=self.threads) if self.threads else model.encoder()
        return Indexer(self.catalog, self.model_row_id, encoder, self._vectors,
                       preprocess=model.manifest.preprocess,
                       image_size=model.manifest.architecture.image_size,
                       settings=self.settings, progress=progress, cancel=cancel)

    def index(self, roots: Iterable[str | os.PathLike] | None = None, *,
              progress: Progress | None = None, cancel: threading.Event | None = None
              ) -> IndexSummary:
        """Incrementally index all roots (or the given ones, which must be library folders)."""
        self._need_writer()
        with self._write_lock:
            known = self.catalog.list_roots()
            if roots is None:
                chosen = known
            else:
                chosen = []
                for raw in roots:
                    root = self._root_for(_norm(raw))
                    if root is None:
                        raise UsageError(f"{raw} is not a library folder.",
                                         "Add it first with --index DIR.")
                    chosen.append(root)
            return self._indexer(progress, cancel).run([Target(r) for r in chosen])

    def index_paths(self, paths: Iterable[str | os.PathLike], *,
                    progress: Progress | None = None, cancel: threading.Event | None = None
                    ) -> IndexSummary:
        """Re-check just these files/folders (what the watcher saw change); moves included."""
        self._need_writer()
        with self._write_lock:
            targets = []
            for raw in paths:
                path = _norm(raw)
                root = self._root_for(path)
                if root is not None:
                    targets.append(Target(root, None if path == root.path else path))
            if not targets:
                return IndexSummary()
            return self._indexer(progress, cancel).run(targets)

    # ---- status ---------------------------------------------------------------------------------

    def status(self) -> LibraryStatus:
        roots = [RootStatus(r.path, r.online, r.watch, r.last_scan_at,
                            self.catalog.status_counts(r.id)) for r in self.catalog.list_roots()]
        try:
            active = self.model.model_id()
        except Exception:        # no model installed: status still works
            active = None
        models = [ModelStatus(m.name, m.model_id, m.dim, self.catalog.embedding_count(m.id),
                              _dir_bytes(vector_dir(self.data_dir, m.model_id)),
                              m.model_id == active) for m in self.catalog.list_models()]
        db = self.data_dir / CATALOG_FILE
        size = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
        return LibraryStatus(str(self.data_dir), size, roots, self.catalog.status_counts(),
                             models, self.catalog.failed_photos())

    # ---- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        with self._write_lock:
            self.catalog.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Library", "LibraryStatus", "RootStatus", "ModelStatus", "IndexSummary",
           "IndexProgress", "vector_dir", "CATALOG_FILE", "VECTORS_DIR"]

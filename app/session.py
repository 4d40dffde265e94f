"""The window's handle on one library: plain calls into the engine, made from worker threads.

Every method here may block (disk, SQLite, ONNX), so the window only calls them inside
`TaskRunner.run(...)` ops; writes go to the runner's single writer thread. Nothing here imports
Qt, so it is tested like engine code. It owns no engine logic either: it opens the `Library`
facade and hands its catalog, model and vectors to `Searcher`, `Tagger` and `xmp`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from clippo_desktop.engine.errors import ClippoError, ModelNotFoundError
from clippo_desktop.engine.imageio import read_photo
from clippo_desktop.engine.library import Library, LibraryStatus
from clippo_desktop.engine.models import InstalledModel, ModelRegistry
from clippo_desktop.engine.paths import resolve_data_dir
from clippo_desktop.engine.preprocess import frame
from clippo_desktop.engine.query import ParsedQuery, Term
from clippo_desktop.engine.search import SearchResults, Searcher
from clippo_desktop.engine.tagging import PhotoTags, Tagger
from clippo_desktop.engine.vocabularies import default_vocabulary, from_labels

from clippo_desktop.engine.explain import Heatmap, explain, explain_grid

# The GUI leaves a core to the event loop: the indexer's encoder gets one thread.
INDEX_THREADS = 1


@dataclass(frozen=True)
class ModelInfo:
    name: str
    active: bool
    bundled: bool
    dim: int
    bytes: int
    license: str
    source: str
    variant: str
    architecture: str


@dataclass(frozen=True)
class OpenState:
    """What the window needs after opening: which model, which folders, how many photos."""

    data_dir: str
    model: str | None                 # None: no model installed
    models: list[ModelInfo]
    status: LibraryStatus | None
    error: ClippoError | None = None  # why the library could not open (no model, locked...)


@dataclass(frozen=True)
class PhotoDetails:
    path: str
    bytes: int | None
    width: int | None
    height: int | None
    taken_at: str | None
    camera: str | None
    format: str | None
    in_library: bool
    tags: list[tuple[str, float | None]] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


def model_info(m: InstalledModel, active: str | None) -> ModelInfo:
    man = m.manifest
    files = getattr(man, "files", {}) or {}
    variant_file = man.variant_file(None)
    size = getattr(files.get(variant_file), "bytes", 0) or 0
    return ModelInfo(m.name, m.name == active, m.bundled, m.dim, int(size), str(man.license or "?"),
                     str((man.provenance or {}).get("source", "?")), variant_file,
                     man.architecture.summary())


class LibrarySession:
    """One open library (or none yet), shared by the window's tasks."""

    def __init__(self, data_dir: str | os.PathLike | None = None):
        self.data_dir = resolve_data_dir(data_dir)
        self.registry = ModelRegistry(self.data_dir)
        self.library: Library | None = None
        self._searcher: Searcher | None = None
        self._tagger: Tagger | None = None
        self._lock = threading.RLock()
        self.watcher = None
        self.on_watch_summary: Callable[[object], None] | None = None

    # ---- lifetime (writer thread) -------------------------------------------------------------

    def open(self, model: str | None = None) -> OpenState:
        """Open the library as the writer; without a model, report that instead of failing."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.close()
        error = None
        try:
            lib = Library.open(self.data_dir, model=model, writer=True, threads=INDEX_THREADS)
        except ModelNotFoundError as exc:
            lib, error = None, exc
        if lib is not None:
            error = self._preload(lib)
        with self._lock:
            self.library = lib
            self._searcher = self._tagger = None
        self.sync_watcher()
        return self.state(error)

    @staticmethod
    def _preload(lib: Library) -> ClippoError | None:
        """Create the ONNX sessions now (indexing's and queries'), while the window says
        "Opening…": ONNX Runtime holds the GIL while it builds a session (~70 ms for a tiny
        model, far more for B/16), which would otherwise freeze the UI mid-indexing."""
        try:
            lib.model.encoder(threads=INDEX_THREADS).load()
            lib.model.encoder().load()
        except ClippoError as exc:        # e.g. a damaged model file: say so, keep the library
            return exc
        return None

    def state(self, error: ClippoError | None = None) -> OpenState:
        lib = self.library
        active = lib.model.name if lib is not None else None
        models = [model_info(m, active) for m in self.registry.list()]
        return OpenState(str(self.data_dir), active, models,
                         lib.status() if lib is not None else None, error)

    def sync_watcher(self) -> None:
        """Run the engine's Watcher while any folder is watched; stop it when none is."""
        from clippo_desktop.engine.watcher import Watcher

        lib = self.library
        wanted = lib is not None and any(r.watch for r in lib.roots())
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        if wanted:
            self.watcher = Watcher(lib, on_summary=self.on_watch_summary)
            self.watcher.start()

    def close(self) -> None:
        if self.watcher is not None:      # cancels its run after the current batch
            self.watcher.stop()
            self.watcher = None
        with self._lock:
            lib, self.library = self.library, None
            self._searcher = self._tagger = None
        if lib is not None:
            lib.close()

    def require(self) -> Library:
        lib = self.library
        if lib is None:
            raise ModelNotFoundError("No model is installed yet.",
                                     "Import a checkpoint with Models → Import checkpoint….")
        return lib

    # ---- reading (pool threads) ---------------------------------------------------------------

    def searcher(self) -> Searcher:
        lib = self.require()
        with self._lock:
            if self._searcher is None:
                self._searcher = lib.searcher()
            return self._searcher

    def search(self, query: str | None = None, *, example: str | None = None, top: int = 500,
               offset: int = 0, folder: str | None = None, after=None, before=None,
               sort: str = "relevance", min_score: float | None = None) -> SearchResults:
        """Text query, or `example` photo path (library or not): ranked hits."""
        if example is not None:
            q: str | ParsedQuery = ParsedQuery((Term("image", os.path.abspath(example)),),
                                               os.path.basename(example))
        else:
            q = query or ""
        return self.searcher().search(q, top=top, offset=offset, folder=folder, after=after,
                                      before=before, sort=sort, min_score=min_score)

    def details(self, path: str) -> PhotoDetails:
        from clippo_desktop.engine.xmp import read_keywords

        lib = self.require()
        rec = lib.catalog.get_photo_by_path(path)
        try:
            size = os.stat(path).st_size
        except OSError:
            size = None
        try:
            keywords = read_keywords(path)
        except (ClippoError, OSError):
            keywords = []
        if rec is None:
            return PhotoDetails(path, size, None, None, None, None, None, False, [], keywords)
        tags = [(t.label, t.score) for t in lib.catalog.list_tags(photo_id=rec.id)]
        tags.sort(key=lambda t: -(t[1] if t[1] is not None else 2.0))
        return PhotoDetails(path, size, rec.width, rec.height,
                            rec.taken_at.strftime("%Y-%m-%d %H:%M") if rec.taken_at else None,
                            rec.camera, rec.format, True, tags, keywords)

    def tagger(self) -> Tagger:
        lib = self.require()
        with self._lock:
            if self._tagger is None:
                self._tagger = lib.tagger()
            return self._tagger

    def tag(self, paths: Sequence[str], labels: Sequence[str] | None, top: int = 8,
            progress: Callable[[int, int], None] | None = None) -> list[PhotoTags]:
        vocab = from_labels(labels) if labels else default_vocabulary()
        return self.tagger().tag_paths(list(paths), vocab, catalog=self.require().catalog,
                                       top=top, progress=progress)

    def explain(self, path: str, query: str | None) -> Heatmap:
        lib = self.require()
        model = lib.model
        arch = model.manifest.architecture
        photo = read_photo(path, mode=model.manifest.preprocess, size=arch.image_size)
        q = self.searcher().embed(query)[1] if query else None                             # (E,)
        heat = explain(model.encoder(), photo.pixels, q, grid=explain_grid(arch), patch_grid=arch.grid)
        return dataclasses.replace(heat, frame=frame(model.manifest.preprocess, photo.width, photo.height))

    # ---- writing (writer thread) --------------------------------------------------------------

    def write_xmp(self, labels_by_path: dict[str, list[str]]) -> list[tuple[str, str | None]]:
        """Write each photo's labels to its sidecar: [(path, error or None)]."""
        from clippo_desktop.engine.xmp import write_keywords

        lib = self.library
        roots = [r.path for r in lib.roots()] if lib is not None else []
        out = []
        for path, labels in labels_by_path.items():
            root = next((r for r in roots if path.startswith(r.rstrip(os.sep) + os.sep)), None)
            try:
                write_keywords(path, labels, root=root)
                out.append((path, None))
            except ClippoError as exc:
                out.append((path, str(exc)))
        return out

    def add_roots(self, paths: Sequence[str], watch: bool = False) -> LibraryStatus:
        lib = self.require()
        lib.add_roots(paths, watch=watch)
        return lib.status()

    def remove_root(self, path: str) -> LibraryStatus:
        lib = self.require()
        lib.remove_root(path)
        return lib.status()

    def set_watch(self, path: str, flag: bool) -> LibraryStatus:
        lib = self.require()
        lib.set_watch(path, flag)
        self.sync_watcher()
        return lib.status()

    def status(self) -> LibraryStatus:
        return self.require().status()

    def index(self, progress=None, cancel: threading.Event | None = None):
        return self.require().index(progress=progress, cancel=cancel)

    def import_model(self, path: str, name: str, progress: Callable[[str], None]) -> OpenState:
        from clippo_desktop.engine.model_import import import_checkpoint

        import_checkpoint(Path(path), name, self.registry, progress=progress)
        if self.library is None:          # first model: it becomes the active one
            self.registry.set_default(name)
            return self.open(name)
        return self.state()

    def switch_model(self, name: str) -> OpenState:
        self.registry.set_default(name)
        return self.open(name)

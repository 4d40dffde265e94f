"""The main window: search field, filters, results grid, preview, tagging panel, status bar.

It wires widgets to `LibrarySession` calls, always through `TaskRunner`: reads on the pool,
writes (open, add/remove folders, index, import, switch model, sidecars, close) on the one
writer thread. Results carry a generation number so a slow search can never overwrite a newer
one. Closing while indexing cancels after the current batch ("Finishing…"), then closes the
library on the writer thread and only then lets the window go: nothing is lost.
"""

from __future__ import annotations

import gc
import os

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMainWindow, QPushButton,
                               QSplitter, QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from clippo_desktop.engine.errors import QueryError
from clippo_desktop.engine.search import SearchResults

from . import errors
from .drops import read_drop
from .empty_state import EmptyState
from clippo_desktop.engine.explain import Heatmap
from .filters import FilterBar
from .grid import ResultsModel, ResultsView, ThumbnailLoader
from .icon import app_icon
from .indexing import FailedDialog, Indexing, IndexingBar
from .library_dialog import LibraryDialog
from .models_dialog import ModelsDialog
from .preview import PreviewPane
from .searchbar import SearchField
from .session import LibrarySession, OpenState
from .tagging_panel import TaggingPanel
from .tasks import TaskRunner
from .thumbcache import ThumbCache

PAGE = 500


class MainWindow(QMainWindow):
    library_did_open = Signal(object)        # OpenState
    search_did_finish = Signal(object)       # SearchResults
    window_did_close = Signal()
    watcher_did_index = Signal(object)       # IndexSummary, emitted from the watcher's thread

    def __init__(self, data_dir=None, *, thumb_root=None, auto_index: bool = True):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("clippo-desktop")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self.runner = TaskRunner(self, error_handler=lambda exc: errors.report(self, exc))
        self.session = LibrarySession(data_dir)
        # The watcher calls back on its own thread; a signal queues it onto the UI thread.
        self.session.on_watch_summary = self.watcher_did_index.emit
        self.watcher_did_index.connect(self._watcher_indexed)
        self.state: OpenState | None = None
        self.auto_index = auto_index
        self.example: str | None = None
        self._generation = 0
        self._closing = self._closed = False
        self._build(ThumbCache(thumb_root))
        self.statusBar().showMessage("Opening the library…")
        self.runner.run(lambda ctx: self.session.open(), self._opened, writer=True)

    # ---- layout --------------------------------------------------------------------------------

    def _build(self, cache: ThumbCache) -> None:
        self.search = SearchField()
        self.example_chip = QToolButton()
        self.example_chip.setObjectName("exampleChip")
        self.example_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.example_chip.hide()
        self.example_chip.setToolTip("Searching by example — click to clear")
        self.library_btn = QPushButton("Library…")
        self.models_btn = QPushButton("Models…")
        self.tag_btn = QPushButton("Tag photos…")
        self.filters = FilterBar()
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.example_chip)
        for b in (self.tag_btn, self.library_btn, self.models_btn):
            top.addWidget(b)
        self.loader = ThumbnailLoader(self.runner, cache, parent=self)
        self.results = ResultsModel(self.loader, self)
        self.grid = ResultsView(self.results)
        self.preview = PreviewPane(self.runner, self.session)
        self.empty = EmptyState()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.grid)
        split.addWidget(self.preview)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 480])
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(split)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(10, 10, 10, 4)
        lay.addLayout(top)
        lay.addWidget(self.filters)
        lay.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.count_label = QLabel()
        self.count_label.setObjectName("countLabel")
        self.statusBar().addWidget(self.count_label, 1)
        self.indexing = Indexing(self.runner, self.session, self)
        self.index_bar = IndexingBar(self.indexing)
        self.statusBar().addPermanentWidget(self.index_bar)
        self.tagging = TaggingPanel(self.runner, self.session, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.tagging)
        self.tagging.hide()
        self.library_dialog = LibraryDialog(self)
        self.models_dialog = ModelsDialog(self)
        self._connect()

    def _connect(self) -> None:
        self.search.query_did_change.connect(self._query_changed)
        self.search.example_did_drop.connect(self.search_by_example)
        self.example_chip.clicked.connect(lambda: self._set_example(None, search=True))
        self.filters.filters_did_change.connect(self.run_search)
        self.filters.cutoff_did_change.connect(self._apply_cutoff)
        self.results.more_wanted.connect(self._fetch_more)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.preview.find_similar.connect(self.search_by_example)
        self.preview.explain_wanted.connect(self.explain)
        self.library_btn.clicked.connect(self._open_library_dialog)
        self.models_btn.clicked.connect(self._open_models_dialog)
        self.tag_btn.clicked.connect(self._tag_from_dialog)
        self.empty.add_folder_wanted.connect(self.choose_folder)
        self.empty.import_model_wanted.connect(self._open_models_dialog)
        self.library_dialog.add_wanted.connect(lambda p: self.add_folders([p]))
        self.library_dialog.remove_wanted.connect(self.remove_folder)
        self.library_dialog.watch_wanted.connect(self.set_watch)
        self.models_dialog.switch_wanted.connect(self.switch_model)
        self.models_dialog.import_wanted.connect(self.import_model)
        self.index_bar.failed_btn.clicked.connect(self.show_failed)
        self.indexing.indexing_did_finish.connect(self._indexing_finished)
        self.indexing.indexing_did_fail.connect(self._indexing_failed)
        self.search.setFocus()
        self.grid.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.search.returnPressed.connect(self.grid.setFocus)
        self.addAction(self._shortcut("Ctrl+F", self.search.setFocus))

    def _shortcut(self, keys: str, slot):
        from PySide6.QtGui import QAction

        action = QAction(self)
        action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        return action

    # ---- library state -------------------------------------------------------------------------

    def _opened(self, state: OpenState) -> None:
        # Everything loaded so far (Qt, numpy, SQLAlchemy, ONNX sessions) lives as long as the
        # window: move it out of the collector's view, so a full collection (which holds the
        # GIL, ~70 ms over 100k objects) cannot stall the event loop while indexing runs.
        gc.collect()
        gc.freeze()
        self._apply_state(state)
        self.library_did_open.emit(state)
        if state.error is not None and state.model is not None:
            errors.report(self, state.error)
            return
        if state.model and state.status and state.status.roots and self.auto_index:
            self.indexing.start()

    def _apply_state(self, state: OpenState) -> None:
        self.state = state
        self.models_dialog.set_models(state.models)
        status = state.status
        self.library_dialog.set_status(status)
        self.filters.set_folders([r.path for r in status.roots] if status else [])
        self.index_bar.set_failed(len(status.failed) if status else 0)
        has_photos = bool(status and status.counts.get("indexed"))
        if state.model is None:
            self.empty.show_no_model()
        elif not (status and status.roots):
            self.empty.show_no_folders(state.model)
        elif not has_photos:
            self.empty.show_hint("Indexing your photos…", "Results appear here as soon as the "
                                 "first photos are indexed.", state.model)
        self.pages.setCurrentIndex(1 if state.model and has_photos else 0)
        self.filters.setVisible(has_photos)
        for w in (self.search, self.filters, self.tag_btn):
            w.setEnabled(state.model is not None)
        n = status.counts.get("indexed", 0) if status else 0
        self.statusBar().clearMessage()
        if not self.results.rowCount():
            self.count_label.setText(f"{n:,} photos · model {state.model}" if state.model else "")

    def refresh_state(self) -> None:
        self.runner.run(lambda ctx: self.session.state(), self._apply_state, writer=True)

    # ---- searching -----------------------------------------------------------------------------

    def _query_changed(self, text: str) -> None:
        if text.strip():
            self._set_example(None)
        self.run_search()

    def _set_example(self, path: str | None, *, search: bool = False) -> None:
        self.example = path
        self.example_chip.setVisible(path is not None)
        if path:
            self.example_chip.setText(f"Like: {os.path.basename(path)}  ✕")
        if search:
            self.run_search()

    def search_by_example(self, path: str) -> None:
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self._set_example(path, search=True)

    def _search_args(self, offset: int) -> dict:
        args = dict(self.filters.values(), top=PAGE, offset=offset)
        if self.example:
            args["example"] = self.example
        else:
            args["query"] = self.search.text().strip()
        return args

    def run_search(self) -> None:
        if self.state is None or self.state.model is None:
            return
        self._generation += 1
        gen = self._generation
        args = self._search_args(0)
        if not args.get("example") and not args.get("query"):
            self.results.set_hits([])
            self.count_label.setText("Type to search, or drop a photo on the search field.")
            return
        self.count_label.setText("Searching…")
        self.runner.run(lambda ctx: self.session.search(**args),
                        lambda res: self._searched(gen, res, append=False), self._search_failed)

    def _fetch_more(self) -> None:
        gen = self._generation
        args = self._search_args(len(self.results.hits))
        if not args.get("example") and not args.get("query"):
            return
        self.runner.run(lambda ctx: self.session.search(**args),
                        lambda res: self._searched(gen, res, append=True), self._search_failed)

    def _searched(self, gen: int, res: SearchResults, *, append: bool) -> None:
        if gen != self._generation:
            return
        more = len(res.results) == PAGE
        if append:
            self.results.append_hits(res.results, more)
        else:
            self.results.set_hits(res.results, more)
            self._apply_cutoff(self.filters.slider.value())
            if self.results.rowCount():
                self.pages.setCurrentIndex(1)
        self._update_count(res)
        self.search_did_finish.emit(res)

    def _update_count(self, res: SearchResults | None = None) -> None:
        shown, loaded = self.results.rowCount(), len(self.results.hits)
        text = f"{shown:,} photos"
        if shown != loaded:
            text += f" (of {loaded:,}; weaker matches hidden)"
        if res is not None:
            text += f" · searched {res.total:,} in {res.seconds * 1000:.0f} ms"
        self.count_label.setText(text)

    def _search_failed(self, exc: BaseException) -> None:
        if isinstance(exc, QueryError):        # half-typed queries: say so quietly
            self.count_label.setText(exc.message)
        else:
            self.count_label.setText("Search failed.")
            errors.report(self, exc)

    def _apply_cutoff(self, _value: int) -> None:
        lo, hi = self.results.score_range()
        self.results.set_min_score(self.filters.cutoff(lo, hi))
        self._update_count()

    def _current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        self.preview.show_photo(self.results.hit(current.row()).path if current.isValid() else None)

    def explain(self, path: str) -> None:
        query = None if self.example else (self.search.text().strip() or None)

        def done(heat: Heatmap) -> None:
            if heat.method == "occlusion":
                note = (f"Red: where “{query}” matches (score {heat.score:.2f}); "
                        "regions whose removal lowers the score most.")
            else:
                note = ("Where the model looks (attention over patches)"
                        + ("; the query gives no regional signal here." if query else "."))
            self.preview.show_heat(path, heat.grid, note, heat.frame)
        self.runner.run(lambda ctx: self.session.explain(path, query), done)

    # ---- library changes (writer thread) -------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folders([folder])

    def add_folders(self, paths: list[str]) -> None:
        self.statusBar().showMessage("Adding folder…", 3000)
        self.runner.run(lambda ctx: self.session.add_roots(paths),
                        lambda _s: self._after_change(index=True), writer=True)

    def remove_folder(self, path: str) -> None:
        self.runner.run(lambda ctx: self.session.remove_root(path),
                        lambda _s: (self._after_change(index=False), self.run_search()), writer=True)

    def set_watch(self, path: str, flag: bool) -> None:
        self.runner.run(lambda ctx: self.session.set_watch(path, flag),
                        lambda _s: self._after_change(index=False), writer=True)

    def _after_change(self, *, index: bool) -> None:
        self.refresh_state()
        if index:
            self.indexing.start()

    def _indexing_finished(self, summary) -> None:
        msg = f"Indexed {summary.indexed:,} photos"
        if summary.failed:
            msg += f", {len(summary.failed)} failed"
        if summary.cancelled:
            msg = "Indexing stopped after the current batch. " + msg
        self.statusBar().showMessage(msg, 8000)
        if not self._closing:
            self.refresh_state()
            self.run_search()

    def _watcher_indexed(self, summary) -> None:
        if self._closing or not (summary.indexed or summary.removed or summary.moved):
            return
        self.statusBar().showMessage(f"Watched folders changed: {summary.indexed} indexed, "
                                     f"{summary.removed} removed.", 6000)
        self.refresh_state()
        self.run_search()

    def _indexing_failed(self, exc: BaseException) -> None:
        self.statusBar().showMessage("Indexing failed.", 8000)
        errors.report(self, exc)

    def show_failed(self) -> None:
        self.runner.run(lambda ctx: self.session.status().failed,
                        lambda failed: FailedDialog(failed, self).open())

    def _open_library_dialog(self) -> None:
        self.library_dialog.show()
        self.refresh_state()

    def _open_models_dialog(self) -> None:
        self.models_dialog.show()

    def import_model(self, path: str, name: str) -> None:
        self.models_dialog.progress.setText("Importing…")
        self.runner.run(lambda ctx: self.session.import_model(path, name, ctx.progress),
                        self._model_changed, self._model_failed,
                        lambda msg: self.models_dialog.progress.setText(str(msg)), writer=True)

    def switch_model(self, name: str) -> None:
        self.indexing.cancel()
        self.models_dialog.progress.setText(f"Switching to {name}…")
        self.runner.run(lambda ctx: self.session.switch_model(name), self._model_changed,
                        self._model_failed, writer=True)

    def _model_changed(self, state: OpenState) -> None:
        self.models_dialog.progress.setText(f"Active model: {state.model}. Re-indexing…"
                                            if state.status and state.status.roots else "")
        self._apply_state(state)
        self.results.set_hits([])
        if state.status and state.status.roots:
            self.indexing.start()

    def _model_failed(self, exc: BaseException) -> None:
        self.models_dialog.progress.setText("Failed.")
        errors.report(self, exc)

    # ---- tagging and drops ---------------------------------------------------------------------

    def _tag_from_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Photos to tag", "",
                                                "Photos (*.jpg *.jpeg *.png *.webp *.heic *.tif *.tiff)")
        if files:
            self.tag_photos(files)

    def tag_photos(self, paths: list[str]) -> None:
        self.tagging.load_default_labels()
        self.tagging.tag_photos(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        content = read_drop(event.mimeData())
        if content.photos or content.folders:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        content = read_drop(event.mimeData())
        if not (content.photos or content.folders) or self.state is None or self.state.model is None:
            event.ignore()
            return
        event.acceptProposedAction()
        if content.folders:
            self.add_folders(content.folders)
        if content.photos:
            self.tag_photos(content.photos)

    # ---- closing -------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        event.ignore()
        if self._closing:
            return
        self._closing = True
        if self.indexing.running:
            self.statusBar().showMessage("Finishing… (saving the current batch)")
            self.index_bar.label.setText("Finishing…")
        self.indexing.cancel()
        self.runner.cancel_all()
        self.runner.run(lambda ctx: self.session.close(), self._library_closed,
                        lambda exc: self._library_closed(None), writer=True)

    def _library_closed(self, _result) -> None:
        self._closed = True
        self.runner.shutdown()
        self.window_did_close.emit()
        self.close()

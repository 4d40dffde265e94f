"""Live indexing: run the library's incremental index on the writer thread, show it in the status bar.

The status bar shows the phase, count, rate and time left, with Pause and Cancel. Pause is
"cancel after the current batch, resume later": everything indexed so far is committed, and
Resume starts an incremental run that skips it (so nothing is lost or done twice). Progress
reports are throttled to ten a second, so a fast scan cannot flood the event loop.
Failed files (with reasons) are listed in a dialog from the catalog.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from clippo_desktop.engine.indexer import IndexProgress, IndexSummary

from .session import LibrarySession
from .tasks import TaskHandle, TaskRunner

MIN_INTERVAL_S = 0.1


def describe_progress(p: IndexProgress) -> str:
    if p.phase == "scanning":
        return f"Scanning… {p.found:,} photos found"
    if p.phase == "rebuilding":
        return f"Rebuilding the search index… {p.done:,}/{p.total:,}"
    text = f"Indexing {p.done:,} of {p.total:,}"
    if p.failed:
        text += f" ({p.failed} failed)"
    if p.rate > 0:
        text += f" · {p.rate:.1f} photos/s"
    if p.eta_s is not None and p.done < p.total:
        m, s = divmod(int(p.eta_s + 0.5), 60)
        text += f" · {m}:{s:02d} left" if m < 60 else f" · {m // 60} h {m % 60} min left"
    return text


class Indexing(QObject):
    """Starts, pauses, resumes and cancels the one indexing run."""

    indexing_did_progress = Signal(object)      # IndexProgress
    indexing_did_finish = Signal(object)        # IndexSummary
    indexing_did_fail = Signal(object)          # exception
    state_did_change = Signal(str)              # "running" | "paused" | "idle"

    def __init__(self, runner: TaskRunner, session: LibrarySession, parent: QObject | None = None):
        super().__init__(parent)
        self.runner, self.session = runner, session
        self.handle: TaskHandle | None = None
        self.state = "idle"
        self._pausing = False
        self.last: IndexProgress | None = None

    @property
    def running(self) -> bool:
        return self.handle is not None

    def start(self) -> None:
        if self.handle is not None:
            return
        self._pausing = False
        session = self.session

        def op(ctx) -> IndexSummary:
            last = [0.0, ""]

            def progress(p: IndexProgress) -> None:
                now = time.monotonic()
                if p.phase != last[1] or now - last[0] >= MIN_INTERVAL_S or p.done == p.total:
                    last[0], last[1] = now, p.phase
                    ctx.progress(p)
            return session.index(progress=progress, cancel=ctx.cancel_event)

        self.handle = self.runner.run(op, self._finished, self._failed, self._progress, writer=True)
        self._set_state("running")

    def pause(self) -> None:
        if self.handle is not None:
            self._pausing = True
            self.handle.cancel()

    def cancel(self) -> None:
        if self.handle is not None:
            self._pausing = False
            self.handle.cancel()
        elif self.state == "paused":
            self._set_state("idle")

    def toggle_pause(self) -> None:
        if self.state == "paused":
            self.start()
        else:
            self.pause()

    def _progress(self, p: IndexProgress) -> None:
        self.last = p
        self.indexing_did_progress.emit(p)

    def _finished(self, summary: IndexSummary) -> None:
        self.handle = None
        self._set_state("paused" if summary.cancelled and self._pausing else "idle")
        self.indexing_did_finish.emit(summary)

    def _failed(self, exc: BaseException) -> None:
        self.handle = None
        self._set_state("idle")
        self.indexing_did_fail.emit(exc)

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_did_change.emit(state)


class IndexingBar(QWidget):
    """The status-bar strip: text, progress bar, Pause/Resume, Cancel, Failed files."""

    def __init__(self, indexing: Indexing, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("indexingBar")
        self.indexing = indexing
        self.label = QLabel()
        self.label.setObjectName("indexingLabel")
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.pause_btn = QPushButton("Pause")
        self.cancel_btn = QPushButton("Cancel")
        self.failed_btn = QPushButton()
        self.failed_btn.setFlat(True)
        self.failed_btn.hide()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.bar, self.pause_btn, self.cancel_btn, self.failed_btn):
            lay.addWidget(w)
        self.pause_btn.clicked.connect(indexing.toggle_pause)
        self.cancel_btn.clicked.connect(indexing.cancel)
        indexing.indexing_did_progress.connect(self.show_progress)
        indexing.state_did_change.connect(self._state)
        self._state("idle")

    def show_progress(self, p: IndexProgress) -> None:
        self.label.setText(describe_progress(p))
        if p.phase == "scanning" or not p.total:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, p.total)
            self.bar.setValue(p.done + p.failed)

    def set_failed(self, count: int) -> None:
        self.failed_btn.setText(f"{count} failed…")
        self.failed_btn.setVisible(count > 0)

    def _state(self, state: str) -> None:
        running = state == "running"
        self.bar.setVisible(running)
        self.pause_btn.setVisible(state in ("running", "paused"))
        self.pause_btn.setText("Resume" if state == "paused" else "Pause")
        self.cancel_btn.setVisible(state in ("running", "paused"))
        if state == "running":
            self.label.setText("Starting…")
        elif state == "paused":
            self.label.setText("Paused — Resume continues where it stopped")


class FailedDialog(QDialog):
    """Files that could not be indexed, with the reason for each."""

    def __init__(self, failed: list[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("failedDialog")
        self.setWindowTitle("Files that could not be indexed")
        self.resize(760, 360)
        table = QTableWidget(len(failed), 2)
        table.setHorizontalHeaderLabels(["File", "Reason"])
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.setColumnWidth(0, 320)
        for i, (path, reason) in enumerate(failed):
            table.setItem(i, 0, QTableWidgetItem(path))
            table.setItem(i, 1, QTableWidgetItem(reason))
        self.table = table
        note = QLabel("These files are skipped until they change. Fix or replace them and "
                      "they are indexed on the next run.")
        note.setWordWrap(True)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(table)
        lay.addWidget(box)

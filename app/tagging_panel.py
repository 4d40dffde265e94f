"""The tagging panel: photos dropped on the window, their best zero-shot tags, and XMP output.

Each dropped photo (in the library or not: others are encoded on the fly) gets the top labels
of the editable label list, with scores, as checkable rows. The label list is plain text, one
label per line, in any language, prefilled from the built-in vocabulary; "Tag again" re-scores
with the edited list. "Write to XMP sidecars" writes each photo's checked labels next to it
(photo.jpg.xmp), merged with what is already there, on the writer thread.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QHeaderView, QLabel, QPlainTextEdit, QPushButton,
                               QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from clippo_desktop.engine.tagging import PhotoTags
from clippo_desktop.engine.vocabularies import default_vocabulary

from . import errors
from .session import LibrarySession
from .tasks import TaskRunner

TOP = 8


class TaggingPanel(QDockWidget):
    tags_did_arrive = Signal(object)        # list[PhotoTags]
    sidecars_did_write = Signal(object)     # list[(path, error|None)]

    def __init__(self, runner: TaskRunner, session: LibrarySession, parent: QWidget | None = None):
        super().__init__("Tag photos", parent)
        self.setObjectName("taggingPanel")
        self.runner, self.session = runner, session
        self.paths: list[str] = []
        self.results: list[PhotoTags] = []
        body = QWidget()
        self.status = QLabel("Drop photos on the window to tag them.")
        self.status.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("tagTree")
        self.tree.setHeaderLabels(["Tag", "Score"])
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.labels = QPlainTextEdit()
        self.labels.setObjectName("labelList")
        self.labels.setPlaceholderText("One label per line, in any language")
        self.labels_title = QLabel("Labels (one per line)")
        self.retag_btn = QPushButton("Tag again")
        self.write_btn = QPushButton("Write to XMP sidecars")
        self.write_btn.setObjectName("writeXmp")
        self.write_btn.setEnabled(False)
        lower = QWidget()
        lower_lay = QVBoxLayout(lower)
        lower_lay.setContentsMargins(0, 0, 0, 0)
        lower_lay.addWidget(self.labels_title)
        lower_lay.addWidget(self.labels)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(lower)
        split.setSizes([320, 200])
        buttons = QHBoxLayout()
        buttons.addWidget(self.retag_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.write_btn)
        lay = QVBoxLayout(body)
        lay.addWidget(self.status)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)
        self.setWidget(body)
        self.retag_btn.clicked.connect(self.retag)
        self.write_btn.clicked.connect(self.write_sidecars)
        self._vocab_loaded = False

    def load_default_labels(self) -> None:
        """Fill the label list from the built-in vocabulary (read off the UI thread)."""
        if self._vocab_loaded:
            return
        self._vocab_loaded = True
        self.runner.run(lambda ctx: "\n".join(default_vocabulary().labels),
                        lambda text: self.labels.toPlainText().strip() or self.labels.setPlainText(text),
                        lambda exc: None)

    def set_labels(self, labels: list[str]) -> None:
        self._vocab_loaded = True
        self.labels.setPlainText("\n".join(labels))

    def current_labels(self) -> list[str]:
        return [ln.strip() for ln in self.labels.toPlainText().splitlines() if ln.strip()]

    def tag_photos(self, paths: list[str]) -> None:
        self.paths = list(paths)
        self.show()
        self.raise_()
        self.retag()

    def retag(self) -> None:
        if not self.paths:
            return
        labels = self.current_labels() or None
        paths = list(self.paths)
        self.tree.clear()
        self.write_btn.setEnabled(False)
        self.status.setText(f"Tagging {len(paths)} photo{'s' * (len(paths) != 1)}…")
        self.runner.run(lambda ctx: self.session.tag(paths, labels, TOP,
                                                     progress=lambda d, t: ctx.progress((d, t))),
                        lambda res, p=paths: p == self.paths and self._show(res),
                        self._failed,
                        lambda dt: self.status.setText(f"Preparing labels… {dt[0]}/{dt[1]}"))

    def _failed(self, exc: BaseException) -> None:
        self.status.setText("Tagging failed.")
        errors.report(self, exc)

    def _show(self, results: list[PhotoTags]) -> None:
        self.results = results
        self.tree.clear()
        for r in results:
            top = QTreeWidgetItem([os.path.basename(r.path), ""])
            top.setToolTip(0, r.path)
            top.setData(0, Qt.ItemDataRole.UserRole, r.path)
            if r.error:
                top.setText(1, "failed")
                top.addChild(QTreeWidgetItem([r.error, ""]))
            for i, (label, score) in enumerate(r.tags):
                child = QTreeWidgetItem([label, f"{score:.3f}"])
                child.setCheckState(0, Qt.CheckState.Checked if i < 3 else Qt.CheckState.Unchecked)
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        ok = sum(1 for r in results if not r.error)
        self.status.setText(f"Top tags for {ok} photo{'s' * (ok != 1)}. Tick the tags to write.")
        self.write_btn.setEnabled(ok > 0)
        self.tags_did_arrive.emit(results)

    def checked(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            labels = [top.child(j).text(0) for j in range(top.childCount())
                      if top.child(j).checkState(0) == Qt.CheckState.Checked]
            if labels:
                out[top.data(0, Qt.ItemDataRole.UserRole)] = labels
        return out

    def write_sidecars(self) -> None:
        wanted = self.checked()
        if not wanted:
            self.status.setText("Tick at least one tag to write.")
            return
        self.status.setText("Writing sidecars…")
        self.runner.run(lambda ctx: self.session.write_xmp(wanted), self._written, self._failed,
                        writer=True)

    def _written(self, outcome: list) -> None:
        bad = [(p, e) for p, e in outcome if e]
        done = len(outcome) - len(bad)
        text = f"Wrote {done} sidecar{'s' * (done != 1)}."
        if bad:
            text += " Failed: " + "; ".join(f"{os.path.basename(p)}: {e}" for p, e in bad[:3])
        self.status.setText(text)
        self.sidecars_did_write.emit(outcome)

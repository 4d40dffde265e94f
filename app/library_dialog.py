"""The library dialog: the folders being searched, whether each is online, and watching.

It only shows state and asks; the window performs each change on the writer thread and calls
`set_status` with the library's new status.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QHeaderView,
                               QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from clippo_desktop.engine.library import LibraryStatus


class LibraryDialog(QDialog):
    add_wanted = Signal(str)
    remove_wanted = Signal(str)
    watch_wanted = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("libraryDialog")
        self.setWindowTitle("Library folders")
        self.resize(720, 320)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Folder", "State", "Photos", "Watch"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.itemChanged.connect(self._item_changed)
        add = QPushButton("Add folder…")
        remove = QPushButton("Remove")
        add.clicked.connect(self._add)
        remove.clicked.connect(self._remove)
        note = QLabel("Watched folders are re-indexed automatically when photos are added, "
                      "changed or removed. Removing a folder forgets its photos; the files "
                      "are never touched.")
        note.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(note)
        lay.addWidget(self.table)
        lay.addLayout(buttons)
        self._filling = False

    def set_status(self, status: LibraryStatus | None) -> None:
        self._filling = True
        roots = status.roots if status is not None else []
        self.table.setRowCount(len(roots))
        for i, r in enumerate(roots):
            path = QTableWidgetItem(r.path)
            path.setFlags(path.flags() & ~Qt.ItemFlag.ItemIsEditable)
            state = QTableWidgetItem("online" if r.online else "offline")
            state.setFlags(state.flags() & ~Qt.ItemFlag.ItemIsEditable)
            counts = r.counts
            n = QTableWidgetItem(f"{counts.get('indexed', 0):,}"
                                 + (f" (+{counts['pending']:,} pending)" if counts.get("pending") else "")
                                 + (f", {counts['failed']} failed" if counts.get("failed") else ""))
            n.setFlags(n.flags() & ~Qt.ItemFlag.ItemIsEditable)
            watch = QTableWidgetItem()
            watch.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            watch.setCheckState(Qt.CheckState.Checked if r.watch else Qt.CheckState.Unchecked)
            watch.setData(Qt.ItemDataRole.UserRole, r.path)
            for col, item in enumerate((path, state, n, watch)):
                self.table.setItem(i, col, item)
        self._filling = False

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 3:
            return
        self.watch_wanted.emit(item.data(Qt.ItemDataRole.UserRole),
                               item.checkState() == Qt.CheckState.Checked)

    def _add(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_wanted.emit(folder)

    def _remove(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.remove_wanted.emit(self.table.item(row, 0).text())

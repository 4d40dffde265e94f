"""The search field: searches as you type (debounced), and takes dropped photos or text.

Typing restarts a 250 ms timer; when it fires, `query_did_change(text)` asks for a search.
Dropping a photo file here asks for a search by example (`example_did_drop(path)`); dropping
text replaces the query and searches for it at once. Any language works: the text goes to the
model's renderer as typed.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from .drops import read_drop

DEBOUNCE_MS = 250


class SearchField(QLineEdit):
    query_did_change = Signal(str)
    example_did_drop = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("searchField")
        self.setPlaceholderText("Search your photos in any language — or drop a photo here")
        self.setClearButtonEnabled(True)
        self.setAcceptDrops(True)
        self.setMinimumHeight(34)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.fire)
        self.textEdited.connect(lambda _t: self._timer.start())
        self.returnPressed.connect(self.fire)

    def fire(self) -> None:
        self._timer.stop()
        self.query_did_change.emit(self.text())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not read_drop(event.mimeData()).empty:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        content = read_drop(event.mimeData())
        if content.photos:
            event.acceptProposedAction()
            self.example_did_drop.emit(content.photos[0])
        elif content.text:
            event.acceptProposedAction()
            self.setText(content.text)
            self.fire()
        else:
            event.ignore()

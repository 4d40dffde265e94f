"""The bar under the search field: relevance slider, sort order, folder and date filters.

The slider works on the results already shown (it hides weak matches instantly, no new
search): position 0 shows everything, 100 only the best match; in between it cuts at that
fraction of the current results' score range. Sort, folder and dates change the search itself.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (QComboBox, QDateEdit, QHBoxLayout, QLabel, QSlider, QWidget)

ANY_DATE = QDate(1900, 1, 1)


def _date_edit(tip: str) -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setMinimumDate(ANY_DATE)
    edit.setSpecialValueText("any")
    edit.setDate(ANY_DATE)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setToolTip(tip)
    return edit


class FilterBar(QWidget):
    filters_did_change = Signal()         # sort / folder / dates: search again
    cutoff_did_change = Signal(int)       # slider 0..100: filter what is shown

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("relevanceSlider")
        self.slider.setRange(0, 100)
        self.slider.setFixedWidth(140)
        self.slider.setToolTip("Hide weaker matches")
        self.slider.valueChanged.connect(self.cutoff_did_change)
        self.sort = QComboBox()
        self.sort.addItem("Best match", "relevance")
        self.sort.addItem("Date taken", "date")
        self.folder = QComboBox()
        self.folder.addItem("All folders", None)
        self.folder.setMinimumContentsLength(16)
        self.folder.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.after = _date_edit("Taken on or after this date")
        self.before = _date_edit("Taken before the end of this date")
        for label, w in (("Relevance", self.slider), ("Sort", self.sort), ("Folder", self.folder),
                         ("From", self.after), ("To", self.before)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        row.addStretch(1)
        self.sort.currentIndexChanged.connect(lambda _i: self.filters_did_change.emit())
        self.folder.currentIndexChanged.connect(lambda _i: self.filters_did_change.emit())
        self.after.dateChanged.connect(lambda _d: self.filters_did_change.emit())
        self.before.dateChanged.connect(lambda _d: self.filters_did_change.emit())

    def set_folders(self, paths: list[str]) -> None:
        current = self.folder.currentData()
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", None)
        for p in paths:
            self.folder.addItem(p, p)
        i = self.folder.findData(current)
        self.folder.setCurrentIndex(max(i, 0))
        self.folder.blockSignals(False)

    def values(self) -> dict:
        """Keyword arguments for LibrarySession.search."""
        def day(edit: QDateEdit, end: bool) -> datetime | None:
            d = edit.date()
            if d == ANY_DATE:
                return None
            d = d.addDays(1) if end else d
            return datetime(d.year(), d.month(), d.day())
        return {"sort": self.sort.currentData(), "folder": self.folder.currentData(),
                "after": day(self.after, False), "before": day(self.before, True)}

    def cutoff(self, lo: float, hi: float) -> float | None:
        v = self.slider.value()
        return None if v == 0 else lo + (hi - lo) * v / 100.0

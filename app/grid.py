"""The results grid: a list model of search hits, lazy thumbnails, and a cell painter.

Smooth at 100k results because nothing scales with the result count except a list of hits and
an index array: the view asks `data()` only for rows it paints, so only visible thumbnails are
requested; requests queue LIFO (the newest, i.e. visible, first), at most three decode at a time
through TaskRunner, and the queue is dropped whenever the user scrolls, so a fling never leaves
thousands of stale decodes behind. Decoded thumbnails sit in an LRU of QPixmaps.

The view is a QListView laid out as a wrapping left-to-right grid with uniform item sizes
(ListMode + wrapping): that layout computes rows arithmetically, where IconMode keeps free
geometry for every item.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import (QAbstractListModel, QModelIndex, QObject, QRect, QSize, Qt, Signal)
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from clippo_desktop.engine.search import SearchHit

from .qimages import to_qimage
from .tasks import TaskRunner
from .thumbcache import ThumbCache

HitRole = Qt.ItemDataRole.UserRole + 1
ScoreRole = Qt.ItemDataRole.UserRole + 2
THUMB = 128
CELL = QSize(152, 176)


class ThumbnailLoader(QObject):
    """Loads thumbnails off the UI thread, newest request first, a few at a time."""

    thumbnail_did_load = Signal(str)

    def __init__(self, runner: TaskRunner, cache: ThumbCache, *, parallel: int = 3,
                 capacity: int = 1500, parent: QObject | None = None):
        super().__init__(parent)
        self.runner, self.cache = runner, cache
        self.parallel, self.capacity = parallel, capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._queue: OrderedDict[str, None] = OrderedDict()
        self._running: set[str] = set()
        self._failed: set[str] = set()
        self.loaded = 0

    def pixmap(self, path: str) -> QPixmap | None:
        pix = self._pixmaps.get(path)
        if pix is not None:
            self._pixmaps.move_to_end(path)
            return pix
        if path not in self._failed and path not in self._running:
            self._queue[path] = None
            self._queue.move_to_end(path)
            self._pump()
        return None

    def drop_pending(self) -> None:
        self._queue.clear()

    def _pump(self) -> None:
        while self._queue and len(self._running) < self.parallel:
            path, _ = self._queue.popitem(last=True)
            self._running.add(path)
            cache = self.cache
            self.runner.run(lambda ctx, p=path: to_qimage(cache.get(p, "normal")),
                            lambda img, p=path: self._done(p, img),
                            lambda exc, p=path: self._failed_one(p))

    def _done(self, path: str, image) -> None:
        self._running.discard(path)
        self._pixmaps[path] = QPixmap.fromImage(image)
        self.loaded += 1
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.thumbnail_did_load.emit(path)
        self._pump()

    def _failed_one(self, path: str) -> None:
        self._running.discard(path)
        self._failed.add(path)
        self._pump()


class ResultsModel(QAbstractListModel):
    """Search hits, filtered by a minimum score; asks for the next page when scrolled to the end."""

    more_wanted = Signal()

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None):
        super().__init__(parent)
        self.loader = loader
        self.hits: list[SearchHit] = []
        self._scores = np.zeros(0, np.float32)       # (N,)
        self._visible = np.zeros(0, np.int64)        # (V,) rows of self.hits shown
        self._where: dict[str, list[int]] = {}         # path -> indexes into self.hits
        self.min_score: float | None = None
        self.has_more = False
        loader.thumbnail_did_load.connect(self._thumbnail_loaded)

    # ---- contents ------------------------------------------------------------------------------

    def set_hits(self, hits: Sequence[SearchHit], has_more: bool = False) -> None:
        self.beginResetModel()
        self.hits, self._scores, self._where = [], np.zeros(0, np.float32), {}
        self._add(hits)
        self.has_more = has_more
        self._refilter()
        self.endResetModel()

    def append_hits(self, hits: Sequence[SearchHit], has_more: bool) -> None:
        self.beginResetModel()        # a reset keeps it simple; the view keeps its scroll position
        self._add(hits)
        self.has_more = has_more
        self._refilter()
        self.endResetModel()

    def _add(self, hits: Sequence[SearchHit]) -> None:
        """Per-hit Python work only for the new page, so appending stays O(page)."""
        base = len(self.hits)
        self.hits.extend(hits)
        self._scores = np.concatenate([self._scores, np.fromiter((h.score for h in hits),
                                                                 np.float32, len(hits))])  # (N,)
        for i, h in enumerate(hits):
            self._where.setdefault(h.path, []).append(base + i)

    def set_min_score(self, value: float | None) -> None:
        self.beginResetModel()
        self.min_score = value
        self._refilter()
        self.endResetModel()

    def _refilter(self) -> None:
        if self.min_score is None:
            self._visible = np.arange(len(self.hits))
        else:
            self._visible = np.flatnonzero(self._scores >= self.min_score)          # (V,)

    def score_range(self) -> tuple[float, float]:
        if not len(self._scores):
            return 0.0, 1.0
        return float(self._scores.min()), float(self._scores.max())

    def hit(self, row: int) -> SearchHit:
        return self.hits[int(self._visible[row])]

    # ---- Qt model API --------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._visible)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        hit = self.hit(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(hit.path)
        if role == Qt.ItemDataRole.DecorationRole:
            return self.loader.pixmap(hit.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{hit.path}\nscore {hit.score:.3f}"
        if role == ScoreRole:
            return hit.score
        if role == HitRole:
            return hit
        return None

    def canFetchMore(self, parent: QModelIndex = QModelIndex()) -> bool:
        return not parent.isValid() and self.has_more

    def fetchMore(self, parent: QModelIndex = QModelIndex()) -> None:
        if self.has_more:
            self.has_more = False        # until the next page arrives
            self.more_wanted.emit()

    def _thumbnail_loaded(self, path: str) -> None:
        for i in self._where.get(path, ()):
            row = int(np.searchsorted(self._visible, i))             # _visible is sorted
            if row < len(self._visible) and self._visible[row] == i:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class ResultDelegate(QStyledItemDelegate):
    """A thumbnail in a square, the file name under it, and the score in a corner badge."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return CELL

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(4, 4, -4, -4)
        pal = option.palette
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(r, 8, 8)
        box = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 6, THUMB, THUMB)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():
            scaled = pix.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            painter.drawPixmap(target, pix)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(box, 6, 6)
        score = index.data(ScoreRole)
        if score is not None:
            font = QFont(option.font)
            font.setPointSizeF(max(font.pointSizeF() - 1.5, 7.0))
            painter.setFont(font)
            text = f"{score:.2f}"
            w = painter.fontMetrics().horizontalAdvance(text) + 10
            badge = QRect(box.left() + 4, box.top() + 4, w, painter.fontMetrics().height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 160))
            painter.drawRoundedRect(badge, 6, 6)
            painter.setPen(QColor("white"))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(option.font)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(pal.color(QPalette.ColorRole.HighlightedText if selected
                                 else QPalette.ColorRole.Text))
        name_rect = QRect(r.left() + 4, box.bottom() + 6, r.width() - 8, r.bottom() - box.bottom() - 6)
        name = painter.fontMetrics().elidedText(index.data(Qt.ItemDataRole.DisplayRole) or "",
                                                Qt.TextElideMode.ElideMiddle, name_rect.width())
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        painter.restore()


class ResultsView(QListView):
    """The grid itself; scrolling drops thumbnail requests for rows no longer on screen."""

    def __init__(self, model: ResultsModel, parent=None):
        super().__init__(parent)
        self.setObjectName("resultsGrid")
        self.setModel(model)
        self.setItemDelegate(ResultDelegate(self))
        self.setViewMode(QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)
        self.setGridSize(CELL)
        self.setMovement(QListView.Movement.Static)
        self.setSpacing(0)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(40)
        self.verticalScrollBar().valueChanged.connect(lambda _v: model.loader.drop_pending())

    def resizeEvent(self, event) -> None:
        """Stretch the columns to fill the width, so no strip is left empty on the right."""
        width = self.viewport().width()
        cols = max(1, width // CELL.width())
        self.setGridSize(QSize(width // cols, CELL.height()))
        super().resizeEvent(event)

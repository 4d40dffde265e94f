"""The preview pane: a larger image, its metadata and tags, and what to do with the photo.

Selecting a result loads (off the UI thread) a 720 px image and the catalog's details for it.
"Explain match" computes where the current text query matches (app/explain.py) and lays the
heatmap over the image as a semi-transparent colour map. Results that arrive after the user
has moved on to another photo are dropped.
"""

from __future__ import annotations

import html
import os
import sys

import numpy as np
from PySide6.QtCore import QProcess, QRect, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

from clippo_desktop.engine.imageio import read_thumbnail
from clippo_desktop.engine.preprocess import FULL_FRAME

from .qimages import to_qimage
from .session import LibrarySession, PhotoDetails
from .tasks import TaskRunner

PREVIEW_SIDE = 720


def heat_colours(grid: np.ndarray) -> QImage:
    """(h, w) values in [0, 1] -> an RGBA QImage: transparent blue -> opaque yellow-red."""
    v = np.clip(np.asarray(grid, np.float32), 0, 1)                        # (h, w)
    r = np.clip(1.5 * v, 0, 1)
    g = np.clip(1.5 - np.abs(2.0 * v - 1.0) * 1.5, 0, 1) * (v > 0.25)
    b = np.clip(1.0 - 2.0 * v, 0, 1)
    a = 0.15 + 0.55 * v
    rgba = (np.stack([r, g, b, a], axis=-1) * 255).astype(np.uint8)         # (h, w, 4)
    rgba = np.ascontiguousarray(rgba)
    h, w = v.shape
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def show_in_folder(path: str) -> None:
    if sys.platform == "darwin":
        QProcess.startDetached("open", ["-R", path])
    elif os.name == "nt":
        QProcess.startDetached("explorer", ["/select,", os.path.normpath(path)])
    else:
        QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))


class ImageView(QLabel):
    """A label that keeps its pixmap fitted, with an optional heatmap over it."""

    def __init__(self):
        super().__init__()
        self.setObjectName("previewImage")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(QSize(260, 220))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._heat: QImage | None = None
        self._frame = FULL_FRAME  # where the heat goes, as fractions of the image

    def set_image(self, image: QImage | None) -> None:
        self._image, self._heat = image, None
        self._refresh()

    def set_heat(self, heat: QImage | None, frame: tuple[float, float, float, float] = FULL_FRAME) -> None:
        """`frame`: the part of the photo the heat covers, (left, top, width, height) fractions."""
        self._heat, self._frame = heat, frame
        self._refresh()

    def heat_rect(self, width: int, height: int) -> QRect:
        """The heat's rectangle on a pixmap of width x height."""
        l, t, w, h = self._frame
        return QRect(round(l * width), round(t * height), round(w * width), round(h * height))

    @property
    def has_heat(self) -> bool:
        return self._heat is not None

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._refresh()

    def _refresh(self) -> None:
        if self._image is None or self._image.isNull():
            self.clear()
            return
        size = self._image.size().scaled(self.size() - QSize(8, 8), Qt.AspectRatioMode.KeepAspectRatio)
        img = self._image.scaled(size, Qt.AspectRatioMode.IgnoreAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        if self._heat is not None:
            img = img.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)  # a copy to paint on
            p = QPainter(img)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(self.heat_rect(img.width(), img.height()), self._heat)
            p.end()
        # a new pixmap each time: QLabel ignores a pixmap whose cache key it already shows, so
        # painting onto a shared copy left a changed heat map unshown
        self.setPixmap(QPixmap.fromImage(img))


class PreviewPane(QWidget):
    find_similar = Signal(str)
    explain_wanted = Signal(str)

    def __init__(self, runner: TaskRunner, session: LibrarySession, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("previewPane")
        self.runner, self.session = runner, session
        self.path: str | None = None
        self.image = ImageView()
        self.meta = QLabel()
        self.meta.setObjectName("previewMeta")
        self.meta.setWordWrap(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.explain_note = QLabel()
        self.explain_note.setWordWrap(True)
        self.explain_note.setStyleSheet("color: palette(mid);")
        self.similar_btn = QPushButton("Find similar")
        self.open_btn = QPushButton("Open")
        self.folder_btn = QPushButton("Show in folder")
        self.explain_btn = QPushButton("Explain match")
        self.explain_btn.setCheckable(True)
        self.explain_btn.setToolTip("Show where in the photo the current query matches")
        buttons = QHBoxLayout()
        for b in (self.similar_btn, self.explain_btn, self.open_btn, self.folder_btn):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.image, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.explain_note)
        lay.addWidget(self.meta)
        self.similar_btn.clicked.connect(lambda: self.path and self.find_similar.emit(self.path))
        self.open_btn.clicked.connect(lambda: self.path and QDesktopServices.openUrl(QUrl.fromLocalFile(self.path)))
        self.folder_btn.clicked.connect(lambda: self.path and show_in_folder(self.path))
        self.explain_btn.toggled.connect(self._explain_toggled)
        self.show_photo(None)

    def show_photo(self, path: str | None) -> None:
        self.path = path
        for b in (self.similar_btn, self.open_btn, self.folder_btn, self.explain_btn):
            b.setEnabled(path is not None)
        self.explain_btn.blockSignals(True)
        self.explain_btn.setChecked(False)
        self.explain_btn.blockSignals(False)
        self.explain_note.clear()
        self.image.set_image(None)
        if path is None:
            self.meta.setText("<i>Select a photo to see it here.</i>")
            return
        self.meta.setText(html.escape(path))
        self.runner.run(lambda ctx: to_qimage(read_thumbnail(path, PREVIEW_SIDE)),
                        lambda img, p=path: p == self.path and self.image.set_image(img),
                        lambda exc: None)
        self.runner.run(lambda ctx: self.session.details(path),
                        lambda d, p=path: p == self.path and self._show_details(d),
                        lambda exc: None)

    def _show_details(self, d: PhotoDetails) -> None:
        def row(k: str, v) -> str:
            return f"<tr><td style='color:gray;padding-right:8px'>{k}</td><td>{html.escape(str(v))}</td></tr>"
        rows = [row("File", os.path.basename(d.path))]
        if d.width and d.height:
            rows.append(row("Size", f"{d.width} × {d.height}" + (f" · {d.bytes / 1e6:.1f} MB" if d.bytes else "")))
        elif d.bytes:
            rows.append(row("Size", f"{d.bytes / 1e6:.1f} MB"))
        rows.append(row("Taken", d.taken_at or "unknown"))
        if d.camera:
            rows.append(row("Camera", d.camera))
        if d.format:
            rows.append(row("Format", d.format))
        rows.append(row("Folder", os.path.dirname(d.path)))
        tags = ", ".join(label for label, _ in d.tags[:12]) or "none yet"
        rows.append(row("Tags", tags))
        if d.keywords:
            rows.append(row("Keywords", ", ".join(d.keywords[:12])))
        if not d.in_library:
            rows.append(row("", "Not in the library"))
        self.meta.setText("<table>" + "".join(rows) + "</table>")

    def _explain_toggled(self, on: bool) -> None:
        if not on:
            self.image.set_heat(None)
            self.explain_note.clear()
        elif self.path:
            self.explain_note.setText("Explaining…")
            self.explain_wanted.emit(self.path)

    def show_heat(self, path: str, grid: np.ndarray, note: str,
                  frame: tuple[float, float, float, float] = FULL_FRAME) -> None:
        if path != self.path:
            return
        self.explain_btn.blockSignals(True)
        self.explain_btn.setChecked(True)
        self.explain_btn.blockSignals(False)
        self.image.set_heat(heat_colours(grid), frame)
        self.explain_note.setText(note)

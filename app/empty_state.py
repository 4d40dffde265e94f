"""What the grid area says when there is nothing to show yet: what to do next, and the model."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from .icon import app_icon


class EmptyState(QWidget):
    add_folder_wanted = Signal()
    import_model_wanted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.logo = QLabel()
        self.logo.setPixmap(app_icon().pixmap(96, 96))
        self.logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel()
        self.title.setObjectName("emptyTitle")
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel()
        self.detail.setObjectName("emptyDetail")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.button = QPushButton()
        self.button.setObjectName("emptyButton")
        self.button.setMinimumHeight(34)
        self.model_label = QLabel()
        self.model_label.setObjectName("emptyModel")
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.model_label.setStyleSheet("color: gray;")
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        for w in (self.logo, self.title, self.detail):
            lay.addWidget(w)
        lay.addSpacing(12)
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(12)
        lay.addWidget(self.model_label)
        lay.addStretch(3)
        self.button.clicked.connect(self._clicked)
        self.mode = "folder"

    def _clicked(self) -> None:
        (self.import_model_wanted if self.mode == "model" else self.add_folder_wanted).emit()

    def show_no_model(self) -> None:
        self.mode = "model"
        self.title.setText("No model installed")
        self.detail.setText("clippo-desktop needs a CLIPPO model to understand your photos. "
                            "Import a checkpoint (.npz) to start.")
        self.button.setText("Import a checkpoint…")
        self.button.show()
        self.model_label.setText("No model installed — Import a checkpoint…")

    def show_no_folders(self, model: str) -> None:
        self.mode = "folder"
        self.title.setText("Add a folder to search your photos")
        self.detail.setText("Photos stay where they are. They are indexed on this computer, "
                            "and nothing leaves it. You can also drop a folder on this window.")
        self.button.setText("Add Folder…")
        self.button.show()
        self.model_label.setText(f"Active model: {model}")

    def show_hint(self, title: str, detail: str, model: str | None) -> None:
        self.mode = "none"
        self.title.setText(title)
        self.detail.setText(detail)
        self.button.hide()
        self.model_label.setText(f"Active model: {model}" if model else "")

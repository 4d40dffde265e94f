"""The models dialog: which model is active, what each one is, and importing a checkpoint.

Manifest facts (architecture, embedding size, file size, licence, source) come from the
session's `ModelInfo`; the window does the import and the switch on the writer thread, then
re-indexes so every photo has an embedding from the active model.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout,
                               QInputDialog, QLabel, QPushButton, QVBoxLayout, QWidget)

from .session import ModelInfo


def suggested_name(path: str) -> str:
    stem = re.sub(r"[^a-z0-9_-]+", "_", Path(path).stem.lower()).strip("_-")
    return (stem or "model")[:40]


class ModelsDialog(QDialog):
    switch_wanted = Signal(str)
    import_wanted = Signal(str, str)           # (checkpoint path, name)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("modelsDialog")
        self.setWindowTitle("Models")
        self.resize(560, 300)
        self.models: list[ModelInfo] = []
        self.combo = QComboBox()
        self.combo.currentIndexChanged.connect(self._show_info)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.progress = QLabel()
        self.progress.setWordWrap(True)
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setToolTip("Make it the active model and re-index the library with it")
        self.import_btn = QPushButton("Import checkpoint…")
        self.use_btn.clicked.connect(lambda: self.switch_wanted.emit(self.combo.currentData()))
        self.import_btn.clicked.connect(self._import)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.combo, 1)
        top.addWidget(self.use_btn)
        bottom = QHBoxLayout()
        bottom.addWidget(self.import_btn)
        bottom.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.info, 1)
        lay.addWidget(self.progress)
        lay.addLayout(bottom)

    def set_models(self, models: list[ModelInfo]) -> None:
        self.models = list(models)
        self.combo.blockSignals(True)
        self.combo.clear()
        for m in models:
            self.combo.addItem(m.name + ("  (active)" if m.active else ""), m.name)
        active = next((i for i, m in enumerate(models) if m.active), 0)
        self.combo.setCurrentIndex(active)
        self.combo.blockSignals(False)
        self._show_info()

    def _show_info(self, _i: int = 0) -> None:
        i = self.combo.currentIndex()
        if not (0 <= i < len(self.models)):
            self.info.setText("No model installed yet. Import a CLIPPO checkpoint (.npz).")
            self.use_btn.setEnabled(False)
            return
        m = self.models[i]
        self.use_btn.setEnabled(not m.active)
        rows = [("Architecture", m.architecture), ("Embedding size", f"{m.dim}"),
                ("File", f"{m.variant} · {m.bytes / 1e6:.1f} MB"), ("Licence", m.license),
                ("Source", m.source), ("Bundled", "yes" if m.bundled else "no")]
        self.info.setText("<table>" + "".join(
            f"<tr><td style='color:gray;padding-right:10px'>{k}</td><td>{html.escape(v)}</td></tr>"
            for k, v in rows) + "</table>")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a CLIPPO checkpoint", "",
                                              "big_vision checkpoints (*.npz)")
        if not path:
            return
        name, ok = QInputDialog.getText(self, "Model name", "Name for the imported model:",
                                        text=suggested_name(path))
        if ok and name.strip():
            self.import_wanted.emit(path, name.strip())

"""`run_gui(data_dir)`: what `clippo-desktop` with no command runs (see clippo_desktop.launcher)."""

from __future__ import annotations

import os
import sys

QUIT_AFTER_ENV = "CLIPPO_DESKTOP_QUIT_AFTER_MS"  # smoke tests: close the window after N ms


def run_gui(data_dir=None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .icon import app_icon
    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("clippo-desktop")
    app.setOrganizationName("clippo-desktop")
    app.setDesktopFileName("clippo-desktop")
    app.setWindowIcon(app_icon())
    window = MainWindow(data_dir)
    window.show()
    quit_after = os.environ.get(QUIT_AFTER_ENV, "")
    if quit_after.isdigit():
        QTimer.singleShot(int(quit_after), window.close)
    return int(app.exec())

"""`run_gui(data_dir)`: what `clippo-desktop` with no command runs (see clippo_desktop.launcher)."""

from __future__ import annotations

import logging
import sys


def run_gui(data_dir=None) -> int:
    from PySide6.QtWidgets import QApplication

    from .icon import app_icon
    from .window import MainWindow

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("clippo-desktop")
    app.setOrganizationName("clippo-desktop")
    app.setDesktopFileName("clippo-desktop")
    app.setWindowIcon(app_icon())
    window = MainWindow(data_dir)
    window.show()
    return int(app.exec())

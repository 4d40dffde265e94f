"""The application icon (resources/icons/clippo-desktop.svg, also used by packaging)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from clippo_desktop.engine.paths import resources_dir


def app_icon() -> QIcon:
    folder = resources_dir() / "icons"
    icon = QIcon()
    for name in ("clippo-desktop.svg", "clippo-desktop.png"):
        if (folder / name).is_file():
            icon.addFile(str(folder / name))
    return icon

"""What a drop carries: photo files, folders, or text (decided by name, without touching disk)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QMimeData

from clippo_desktop.engine.imageio import is_supported


@dataclass
class DropContent:
    photos: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)     # non-photo local paths: maybe folders
    text: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.photos or self.folders or self.text)


def read_drop(mime: QMimeData) -> DropContent:
    """Local file URLs with a photo extension are photos; other local paths are folder candidates
    (the writer checks they are folders); anything else with text is a text query."""
    out = DropContent()
    if mime.hasUrls():
        for url in mime.urls():
            if not url.isLocalFile():
                continue
            path = url.toLocalFile()
            (out.photos if is_supported(path) else out.folders).append(path.rstrip("/") or path)
    if not (out.photos or out.folders) and mime.hasText():
        text = mime.text().strip()
        out.text = text or None
    return out

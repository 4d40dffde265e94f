"""How the window tells the user something failed: one dialog saying what happened and what to do.

Engine errors (`ClippoError`) carry both sentences (`message`, `hint`); anything else is a bug,
shown with its type and a pointer to the log. Tests replace `show_error` (monkeypatch the module
attribute) to capture errors without a modal dialog; callers always go through `report`.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

from clippo_desktop.engine.errors import ClippoError

log = logging.getLogger(__name__)


def describe(exc: BaseException) -> tuple[str, str]:
    """(what happened, what to do) for any exception."""
    if isinstance(exc, ClippoError):
        return exc.message, exc.hint or "Try again; if it keeps happening, check the log."
    return (f"Something unexpected went wrong: {type(exc).__name__}: {exc}",
            "Try again. If it keeps happening, please report it with the log "
            "(run clippo-desktop from a terminal to see it).")


_unparented: list[QMessageBox] = []     # boxes without a parent must outlive this call


def show_error(parent: QWidget | None, exc: BaseException) -> QMessageBox:
    what, todo = describe(exc)
    box = QMessageBox(QMessageBox.Icon.Critical if not isinstance(exc, ClippoError)
                      else QMessageBox.Icon.Warning, "clippo-desktop", what, parent=parent)
    box.setInformativeText(todo)
    box.setObjectName("errorDialog")
    if parent is None:
        _unparented.append(box)
        box.finished.connect(lambda _r: _unparented.remove(box))
    box.open()          # window-modal, does not block the event loop
    return box


def report(parent: QWidget | None, exc: BaseException) -> None:
    """Log and show an error (looks `show_error` up at call time, so tests can replace it)."""
    log.warning("%s", exc, exc_info=not isinstance(exc, ClippoError))
    show_error(parent, exc)

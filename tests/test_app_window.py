"""The main window against a real library indexed with the golden model (pytest-qt, offscreen)."""

from __future__ import annotations

import shutil
import warnings

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import QApplication

from clippo_desktop.app import errors
from clippo_desktop.engine.errors import ModelIntegrityError
from tests.app_fixtures import *  # noqa: F401,F403
from tests.onnx_fixtures import bundled_dir, lite_package  # noqa: F401

LABELS = ["goldfish", "shark", "bird", "dog", "car", "猫", "Hund"]


def drop(widget, mime: QMimeData) -> QDropEvent:
    """Send a real drag-enter, drag-move and drop to a widget, as a file manager's drag does."""
    pos = widget.rect().center()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # PySide flags the QPoint overloads
        QApplication.sendEvent(widget, QDragEnterEvent(pos, *args))
        QApplication.sendEvent(widget, QDragMoveEvent(pos, *args))
    event = QDropEvent(QPointF(pos), *args)
    QApplication.sendEvent(widget, event)
    return event


def urls(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def type_text(widget, text: str) -> None:
    """Key presses carrying text (any script; QTest.keyClicks only maps Latin-1 to keys)."""
    for ch in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, Qt.Key.Key_unknown,
                                                     Qt.KeyboardModifier.NoModifier, ch))


def search(qtbot, w, text: str):
    with qtbot.waitSignal(w.search_did_finish, timeout=30_000) as sig:
        type_text(w.search, text)                # debounced: one search after typing stops
    return sig.args[0]


def test_typing_a_query_shows_results_in_the_grid(qtbot, open_window, indexed_dir):
    w = open_window(indexed_dir)
    res = search(qtbot, w, "a goldfish")
    assert w.results.rowCount() == 20 == len(res.results)
    assert w.pages.currentIndex() == 1 and w.grid.isVisible()
    scores = [w.results.hit(i).score for i in range(20)]
    assert scores == sorted(scores, reverse=True)
    assert "20 photos" in w.count_label.text()
    qtbot.waitUntil(lambda: w.loader.loaded > 0, timeout=30_000)     # thumbnails arrive lazily


def test_any_language_is_searched_as_typed(qtbot, open_window, indexed_dir):
    w = open_window(indexed_dir)
    res = search(qtbot, w, "夜の猫 — кошка")
    assert res.query == "夜の猫 — кошка" and w.results.rowCount() == 20


def test_relevance_slider_hides_weaker_matches(qtbot, open_window, indexed_dir):
    w = open_window(indexed_dir)
    search(qtbot, w, "a bird on a branch")
    lo, hi = w.results.score_range()
    w.filters.slider.setValue(50)
    shown = w.results.rowCount()
    assert 1 <= shown < 20
    cut = lo + (hi - lo) * 0.5
    assert all(w.results.hit(i).score >= cut for i in range(shown))
    assert "weaker matches hidden" in w.count_label.text()
    w.filters.slider.setValue(0)
    assert w.results.rowCount() == 20


def test_dropping_a_photo_opens_the_tagging_panel_with_tags(qtbot, open_window, indexed_dir,
                                                            shared_dir, tmp_path):
    w = open_window(indexed_dir)
    outside = copy_photos(shared_dir, tmp_path / "elsewhere", 1, start=100)[0]   # not in library
    w.tagging.set_labels(LABELS)
    with qtbot.waitSignal(w.tagging.tags_did_arrive, timeout=60_000) as sig:
        event = drop(w, urls(outside))
    assert event.isAccepted()
    assert w.tagging.isVisible()
    [tags] = sig.args[0]
    assert tags.path == str(outside) and tags.error is None
    assert len(tags.tags) == len(LABELS)          # top 8 of 7 labels: all, best first
    assert {label for label, _ in tags.tags} <= set(LABELS)
    top = w.tagging.tree.topLevelItem(0)
    assert top.childCount() == len(tags.tags)
    assert float(top.child(0).text(1)) == pytest.approx(tags.tags[0][1], abs=1e-3)

    with qtbot.waitSignal(w.tagging.sidecars_did_write, timeout=30_000) as sig:
        qtbot.mouseClick(w.tagging.write_btn, Qt.MouseButton.LeftButton)
    assert sig.args[0] == [(str(outside), None)]
    from clippo_desktop.engine.xmp import read_keywords
    assert read_keywords(outside) == [label for label, _ in tags.tags[:3]]


def test_dropping_a_photo_on_the_search_field_searches_by_example(qtbot, open_window, indexed_dir,
                                                                  app_photos):
    w = open_window(indexed_dir)
    photo = sorted(app_photos.glob("*.jpg"))[5]
    with qtbot.waitSignal(w.search_did_finish, timeout=30_000) as sig:
        drop(w.search, urls(photo))
    res = sig.args[0]
    assert res.terms[0].kind == "image"
    assert res.results[0].path == str(photo) and res.results[0].score == pytest.approx(1.0, abs=1e-3)
    assert w.example == str(photo) and w.example_chip.isVisible()
    assert not w.tagging.isVisible()


def test_dropping_text_on_the_search_field_searches_for_it(qtbot, open_window, indexed_dir):
    w = open_window(indexed_dir)
    mime = QMimeData()
    mime.setText("a shark in the sea")
    with qtbot.waitSignal(w.search_did_finish, timeout=30_000) as sig:
        drop(w.search, mime)
    assert sig.args[0].query == "a shark in the sea" and w.search.text() == "a shark in the sea"


def test_find_similar_and_explain_work_on_the_selected_result(qtbot, open_window, indexed_dir):
    w = open_window(indexed_dir)
    search(qtbot, w, "a dog")
    w.grid.setCurrentIndex(w.results.index(2))
    path = w.results.hit(2).path
    assert w.preview.path == path
    qtbot.waitUntil(lambda: "Taken" in w.preview.meta.text(), timeout=30_000)
    w.preview.explain_btn.setChecked(True)
    qtbot.waitUntil(lambda: w.preview.image.has_heat, timeout=60_000)
    assert "a dog" in w.preview.explain_note.text()
    with qtbot.waitSignal(w.search_did_finish, timeout=30_000) as sig:
        qtbot.mouseClick(w.preview.similar_btn, Qt.MouseButton.LeftButton)
    assert sig.args[0].results[0].path == path


def test_a_corrupt_model_shows_an_error_dialog(qtbot, open_window, indexed_dir, tmp_path,
                                               monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(indexed_dir, data)
    from clippo_desktop.engine.models import ModelRegistry
    onnx = ModelRegistry(data).get("golden").onnx_path()
    blob = bytearray(onnx.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    onnx.write_bytes(bytes(blob))
    shown = []
    monkeypatch.setattr(errors, "show_error", lambda parent, exc: shown.append(exc))
    w = open_window(data)                       # the model is loaded while opening
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert isinstance(shown[0], ModelIntegrityError)
    type_text(w.search, "a dog")                # and searching says it again
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=30_000)
    assert isinstance(shown[1], ModelIntegrityError) and w.count_label.text() == "Search failed."
    what, todo = errors.describe(shown[0])
    assert "golden" in what or "model" in what.lower()
    assert todo and "import" in todo.lower() or "reinstall" in todo.lower()


def test_an_error_dialog_says_what_happened_and_what_to_do(qtbot):
    errors.show_error(None, ModelIntegrityError("The model file is damaged.", "Re-import it."))
    qtbot.waitUntil(lambda: any(w.objectName() == "errorDialog" and w.isVisible()
                                for w in QApplication.topLevelWidgets()), timeout=5000)
    box = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "errorDialog")
    assert box.text() == "The model file is damaged." and box.informativeText() == "Re-import it."
    box.close()


def test_first_run_without_a_model_says_how_to_import_one(qtbot, open_window, tmp_path):
    w = open_window(tmp_path / "nothing-here")
    assert w.pages.currentIndex() == 0
    assert w.empty.title.text() == "No model installed"
    assert "Import a checkpoint" in w.empty.button.text()
    assert not w.search.isEnabled()


def test_first_run_with_a_bundled_default_model_asks_for_a_folder_not_for_a_model(qtbot, open_window,
                                                                                 bundled_dir, tmp_path):  # noqa: F811
    w = open_window(tmp_path / "fresh-install")
    assert w.state.model == "lite" and w.state.error is None
    assert w.empty.title.text() == "Add a folder to search your photos"
    assert w.empty.model_label.text() == "Active model: lite"
    assert w.search.isEnabled()
    assert [(m.name, m.bundled, m.active) for m in w.state.models] == [("lite", True, True)]


def test_first_run_with_a_model_but_no_folders_asks_for_a_folder(qtbot, open_window, data_dir):
    w = open_window(data_dir)
    assert w.empty.title.text() == "Add a folder to search your photos"
    assert w.empty.model_label.text() == "Active model: golden"
    assert not w.windowIcon().isNull()


def test_the_heat_overlay_covers_only_the_part_of_the_photo_the_model_saw(qtbot):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QImage

    from clippo_desktop.app.preview import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    view.resize(608, 208)
    photo = QImage(600, 200, QImage.Format.Format_RGB32)
    photo.fill(QColor("white"))
    heat = QImage(7, 7, QImage.Format.Format_ARGB32)
    heat.fill(QColor(255, 0, 0, 255))
    view.set_image(photo)
    view.set_heat(heat, (1 / 3, 0.0, 1 / 3, 1.0))  # a centre-cropping model saw the middle square
    assert view.heat_rect(600, 200) == QRect(200, 0, 200, 200)
    shown = view.pixmap().toImage()
    assert shown.width() == 600
    assert QColor(shown.pixel(100, 100)) == QColor("white") and QColor(shown.pixel(500, 100)) == QColor("white")
    assert QColor(shown.pixel(300, 100)) == QColor(255, 0, 0)
    view.set_heat(heat)  # a squashing model saw all of it
    assert QColor(view.pixmap().toImage().pixel(100, 100)) == QColor(255, 0, 0)

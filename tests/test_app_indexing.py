"""Live indexing from the window: progress, cancel/pause/resume, responsiveness, clean close."""

from __future__ import annotations

import time
import warnings

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from clippo_desktop.engine.library import Library
from tests.app_fixtures import *  # noqa: F401,F403


def drop_folder(w, folder) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    pos = w.rect().center()
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        QApplication.sendEvent(w, QDragEnterEvent(pos, *args))
    QApplication.sendEvent(w, QDropEvent(QPointF(pos), *args))


def counts(data_dir) -> dict:
    with Library.open(data_dir, writer=False) as lib:
        return lib.status().counts


def test_dropping_a_folder_adds_it_starts_indexing_and_progress_updates(qtbot, open_window,
                                                                        data_dir, shared_dir, tmp_path):
    folder = tmp_path / "holiday"
    copy_photos(shared_dir, folder, 24)
    w = open_window(data_dir)
    assert w.empty.title.text() == "Add a folder to search your photos"
    seen, labels = [], []
    w.indexing.indexing_did_progress.connect(lambda p: (seen.append(p), labels.append(w.index_bar.label.text())))
    with qtbot.waitSignal(w.indexing.indexing_did_finish, timeout=120_000) as sig:
        drop_folder(w, folder)
    summary = sig.args[0]
    assert summary.indexed == 24 and not summary.cancelled
    indexing = [p for p in seen if p.phase == "indexing"]
    assert indexing and indexing[-1].done == 24 and indexing[-1].total == 24
    assert any(t.startswith("Indexing ") and "photos/s" in t for t in labels)
    qtbot.waitUntil(lambda: w.pages.currentIndex() == 1, timeout=30_000)   # results page now
    assert w.state.status.roots[0].path == str(folder)
    assert w.filters.folder.findData(str(folder)) >= 0


def test_cancelling_stops_indexing_and_resume_finishes_without_redoing_work(qtbot, open_window,
                                                                          data_dir, shared_dir,
                                                                          tmp_path):
    folder = tmp_path / "many"
    copy_photos(shared_dir, folder, 40)
    w = open_window(data_dir)
    with qtbot.waitSignal(w.indexing.state_did_change, timeout=30_000,
                          check_params_cb=lambda s: s == "running"):
        w.add_folders([str(folder)])
    assert w.index_bar.cancel_btn.isVisible() and w.index_bar.pause_btn.text() == "Pause"
    with qtbot.waitSignal(w.indexing.indexing_did_finish, timeout=120_000) as sig:
        qtbot.mouseClick(w.index_bar.pause_btn, Qt.MouseButton.LeftButton)
    assert sig.args[0].cancelled
    assert w.indexing.state == "paused" and w.index_bar.pause_btn.text() == "Resume"
    first = sig.args[0].indexed
    with qtbot.waitSignal(w.indexing.indexing_did_finish, timeout=120_000) as sig:
        qtbot.mouseClick(w.index_bar.pause_btn, Qt.MouseButton.LeftButton)    # Resume
    assert not sig.args[0].cancelled and first + sig.args[0].indexed == 40
    with qtbot.waitSignal(w.indexing.state_did_change, timeout=30_000):
        w.indexing.start()
        w.indexing.cancel()
    qtbot.waitUntil(lambda: w.indexing.state == "idle", timeout=60_000)
    assert not w.index_bar.cancel_btn.isVisible()


def test_the_event_loop_stays_responsive_while_indexing(qtbot, open_window, data_dir, shared_dir,
                                                        tmp_path, record_property):
    folder = tmp_path / "fifty"
    copy_photos(shared_dir, folder, 50, start=40)
    w = open_window(data_dir)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    with qtbot.waitSignal(w.indexing.state_did_change, timeout=30_000,
                          check_params_cb=lambda s: s == "running"):
        w.add_folders([str(folder)])
    timer.start()
    with qtbot.waitSignal(w.indexing.indexing_did_finish, timeout=180_000) as sig:
        pass
    timer.stop()
    assert sig.args[0].indexed == 50
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    worst = max(gaps) * 1000
    record_property("max_event_loop_stall_ms", round(worst, 1))
    print(f"\nindexing 50 photos: {len(ticks)} ticks, longest event-loop stall {worst:.1f} ms")
    assert len(ticks) > 20
    assert worst < 100, f"the UI thread stalled for {worst:.0f} ms while indexing"


def test_closing_while_indexing_finishes_the_batch_and_loses_nothing(qtbot, open_window, data_dir,
                                                                     shared_dir, tmp_path):
    folder = tmp_path / "closing"
    copy_photos(shared_dir, folder, 48, start=100)
    w = open_window(data_dir)
    done = []
    w.indexing.indexing_did_progress.connect(
        lambda p: p.phase == "indexing" and p.done > 0 and done.append(p.done))
    w.add_folders([str(folder)])
    qtbot.waitUntil(lambda: bool(done) or w.indexing.state == "idle" and w.indexing.last is not None,
                    timeout=120_000)
    was_running = w.indexing.running
    w.close()
    assert not w._closed or not was_running
    if was_running:
        assert "Finishing" in w.index_bar.label.text()
    qtbot.waitUntil(lambda: w._closed, timeout=120_000)
    c = counts(data_dir)
    assert c["indexed"] >= (done[0] if done else 0)
    assert c["indexed"] + c["pending"] <= 48
    with Library.open(data_dir) as lib:        # the lock was released; resume finishes the rest
        lib.index()
        assert lib.status().counts["indexed"] == 48


def test_watching_a_folder_indexes_a_photo_added_later(qtbot, open_window, data_dir, shared_dir,
                                                        tmp_path):
    folder = tmp_path / "watched"
    copy_photos(shared_dir, folder, 3, start=200)
    with Library.open(data_dir) as lib:
        lib.add_roots([folder])
        lib.index()
    w = open_window(data_dir)
    w.library_dialog.set_status(w.state.status)
    watch_item = w.library_dialog.table.item(0, 3)
    assert w.library_dialog.table.item(0, 1).text() == "online"
    watch_item.setCheckState(Qt.CheckState.Checked)          # what a click on the box does
    qtbot.waitUntil(lambda: w.session.watcher is not None, timeout=30_000)
    with qtbot.waitSignal(w.watcher_did_index, timeout=60_000,
                          check_params_cb=lambda s: s.indexed == 1):
        copy_photos(shared_dir, folder, 1, start=300)
    qtbot.waitUntil(lambda: w.state.status.counts.get("indexed") == 4, timeout=30_000)

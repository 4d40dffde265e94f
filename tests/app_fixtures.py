"""Fixtures for the window tests: a real library indexed with the golden model, and helpers.

The golden checkpoint is imported once per session (tests/library_fixtures.py); 20 real
ImageNet-sample photos are copied and indexed once through the engine's `Library` facade.
Tests that only read share that library (each window is closed, releasing its lock, before the
next opens it); tests that change folders get a fresh data dir. Thumbnails go to a temp
freedesktop cache, never the user's.
Import into a test module with `from tests.app_fixtures import *`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.library_fixtures import data_dir, golden_model_dir  # noqa: F401 - re-exported fixtures

__all__ = ["golden_model_dir", "data_dir", "app_photos", "indexed_dir", "open_window",
           "copy_photos"]


def copy_photos(shared: Path, dest: Path, n: int, start: int = 0) -> list[Path]:
    src = sorted((shared / "data" / "imagenet-sample-1k" / "images").glob("*.jpg"))[start:start + n]
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for p in src:
        shutil.copyfile(p, dest / p.name)
        out.append(dest / p.name)
    return out


@pytest.fixture(scope="session")
def app_photos(tmp_path_factory, shared_dir) -> Path:
    folder = tmp_path_factory.mktemp("app-photos") / "photos"
    copy_photos(shared_dir, folder, 20)
    return folder


@pytest.fixture(scope="session")
def indexed_dir(tmp_path_factory, golden_model_dir, app_photos) -> Path:  # noqa: F811
    """A data dir whose library holds app_photos, indexed with 'golden'."""
    from clippo_desktop.engine.library import Library

    d = tmp_path_factory.mktemp("app-lib") / "data"
    shutil.copytree(golden_model_dir, d / "models" / "golden")
    with Library.open(d) as lib:
        lib.add_roots([app_photos])
        summary = lib.index()
    assert summary.indexed == 20, summary
    return d


@pytest.fixture
def open_window(qtbot, tmp_path):
    """open_window(data_dir) -> a shown MainWindow whose library has opened; closed after."""
    from clippo_desktop.app.window import MainWindow

    windows = []

    def make(data_dir: Path, auto_index: bool = False):
        # Not qtbot.addWidget: it deletes widgets before fixtures tear down, and the window
        # must first close its library on the writer thread (closeEvent defers the close).
        w = MainWindow(data_dir, thumb_root=tmp_path / "thumbs", auto_index=auto_index)
        with qtbot.waitSignal(w.library_did_open, timeout=30_000):
            w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        if not w._closed:
            w.close()
            qtbot.waitUntil(lambda w=w: w._closed, timeout=60_000)
        w.deleteLater()

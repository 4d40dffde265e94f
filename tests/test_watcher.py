"""The watcher with a real watchdog observer on a temp folder: add, change, move, remove."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from clippo_desktop.engine.library import Library
from clippo_desktop.engine.watcher import Watcher
from tests.library_fixtures import *  # noqa: F401,F403
from tests.photo_factory import write_photo


def wait_for(condition, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.timeout(90)
def test_watcher_sees_a_file_added_changed_moved_and_removed(data_dir, tmp_path):
    photos = tmp_path / "photos"
    write_photo(photos / "first.jpg", 1)
    with Library.open(data_dir) as lib:
        lib.add_roots([photos], watch=True)
        lib.index()
        summaries = []
        watcher = Watcher(lib, interval=3600, debounce=0.3, on_summary=summaries.append)
        watcher.start()
        try:
            assert watcher.polling == []

            def record(path):
                return lib.catalog.get_photo_by_path(str(path))

            added = write_photo(photos / "sub" / "added.jpg", 2)
            write_photo(photos / ".hidden" / "ignored.jpg", 3)
            assert wait_for(lambda: record(added) is not None and record(added).status == "indexed")
            first_id = record(added).id
            old_vector = lib.vectors.search(lib.model.encode_photos([str(added)])[0], k=1)[0]
            assert old_vector.tolist() == [first_id]

            mtime = record(added).mtime_ns
            write_photo(added, 99)                                   # new content, same path
            assert wait_for(lambda: record(added).mtime_ns != mtime
                            and record(added).status == "indexed")
            ids, vecs = lib.catalog.load_all_vectors(lib.model_row_id)       # (N,), (N, E)
            stored = vecs[ids.tolist().index(first_id)]
            assert np.allclose(stored, lib.model.encode_photos([str(added)])[0], atol=1e-5)

            moved = photos / "moved.jpg"
            os.rename(added, moved)
            assert wait_for(lambda: record(moved) is not None)
            assert record(moved).id == first_id and record(added) is None

            os.unlink(moved)
            # The catalog row goes first, then the vector (same watcher batch, two steps).
            assert wait_for(lambda: record(moved) is None and first_id not in lib.vectors.ids().tolist())
            assert lib.catalog.get_photo_by_path(str(photos / ".hidden" / "ignored.jpg")) is None
            assert summaries and all(not s.failed for s in summaries)
        finally:
            watcher.stop()


@pytest.mark.timeout(60)
def test_periodic_rescan_brings_an_offline_root_back(data_dir, tmp_path):
    photos = tmp_path / "photos"
    write_photo(photos / "a.jpg", 1)
    with Library.open(data_dir) as lib:
        lib.add_roots([photos], watch=True)
        lib.index()
        os.rename(photos, tmp_path / "away")
        lib.index()
        assert lib.roots()[0].online is False
        watcher = Watcher(lib, interval=0.5, debounce=0.2)
        watcher.start()                     # the root is gone: no observer, rescans only
        try:
            os.rename(tmp_path / "away", photos)
            assert wait_for(lambda: lib.roots()[0].online)
            assert lib.status().counts["indexed"] == 1
        finally:
            watcher.stop()

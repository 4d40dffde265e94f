"""Many watcher events in one batch cost one catalog read, not one per event.

The soak (bench/soak.py) found that a churn of 1,000 files in a 20,000-photo library took the
watcher 5 minutes: `Indexer` re-read every photo of the root for each changed path. Now the
root's rows are read once per run and each path's share is found by bisection.
"""

from __future__ import annotations

import os

from clippo_desktop.engine.library import Library
from tests.library_fixtures import *  # noqa: F401,F403
from tests.photo_factory import write_photo


def test_a_batch_of_watcher_paths_reads_the_root_once_and_is_applied_exactly(data_dir, tmp_path):
    root = tmp_path / "photos"
    paths = [write_photo(root / f"d{i % 4}" / f"p{i:03d}.jpg", i, (48, 36)) for i in range(80)]
    with Library.open(data_dir) as lib:
        lib.add_roots([root])
        assert lib.index().indexed == 80
        changed = []
        for p in paths[:10]:                                 # deleted
            os.unlink(p)
            changed.append(p)
        for p in paths[10:20]:                               # renamed into a new folder
            new = root / "moved" / p.name
            new.parent.mkdir(exist_ok=True)
            os.replace(p, new)
            changed += [p, new]
        for i in range(10):                                  # added
            changed.append(write_photo(root / "new" / f"n{i}.jpg", 1000 + i, (48, 36)))
        changed.append(root / "moved")
        calls = []
        real = lib.catalog.photos_under_root
        lib.catalog.photos_under_root = lambda root_id: calls.append(root_id) or real(root_id)
        try:
            summary = lib.index_paths(changed)
        finally:
            del lib.catalog.photos_under_root
        assert len(calls) == 1
        assert (summary.removed, summary.moved, summary.indexed) == (10, 10, 10)
        on_disk = {str(p) for p in root.rglob("*.jpg")}
        rows = lib.catalog.photos_under_root(lib.roots()[0].id)
        assert set(rows) == on_disk and len(lib.vectors) == 80

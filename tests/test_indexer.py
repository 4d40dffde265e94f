"""Indexing real files with the golden model: first run, reruns, moves, offline roots, bad input."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from clippo_desktop.engine.errors import LibraryLockedError, ModelNotFoundError, UsageError
from clippo_desktop.engine.library import Library, vector_dir
from tests.library_fixtures import *  # noqa: F401,F403
from tests.photo_factory import (UNDECODABLE, make_bad_files, make_good_tree, make_skipped_files,
                                 make_symlink_loop, write_photo)


def embedded_at(data_dir: Path) -> dict[bytes, float]:
    """path bytes -> created_at of its embedding, read with plain sqlite3."""
    with sqlite3.connect(data_dir / "catalog.db") as db:
        return {bytes(p): t for p, t in db.execute(
            "SELECT p.path, e.created_at FROM embeddings e JOIN photos p ON p.id = e.photo_id")}


def photo_ids(lib) -> dict[str, int]:
    root = lib.roots()[0]
    return {p: s.id for p, s in lib.catalog.photos_under_root(root.id).items()}


@pytest.fixture
def library(data_dir, tmp_path):
    photos = tmp_path / "photos"
    good = make_good_tree(photos)
    with Library.open(data_dir) as lib:
        lib.add_roots([photos])
        yield lib, photos, good


def test_first_run_indexes_good_photos_and_lists_every_bad_file_with_a_reason(data_dir, tmp_path):
    photos = tmp_path / "photos"
    good = make_good_tree(photos)
    make_skipped_files(photos)
    make_symlink_loop(photos)
    bad = make_bad_files(photos)
    with Library.open(data_dir) as lib:
        lib.add_roots([photos])
        summary = lib.index()
        failed = dict(summary.failed)
        assert summary.indexed == len(good) and not summary.cancelled
        assert set(failed) == set(bad.values())
        assert failed[bad["zero"]] == "empty file"
        assert failed[bad["fifo"]] == failed[bad["device"]] == "not a regular file"
        assert failed[bad["broken_link"]] == "broken symbolic link"
        assert failed[bad["bomb"]].startswith("too large")
        assert "truncated" in failed[bad["truncated"]]
        assert failed[bad["not_image"]].startswith("not an image")
        assert failed[bad["corrupt"]]
        records = {r.path: r for r in lib.photos(list(photo_ids(lib).values()))}
        assert {p for p, r in records.items() if r.status == "indexed"} == set(good)
        heic = records[str(photos / "2022/phone/IMG_0001.heic")]
        assert (heic.format, heic.width, heic.height) == ("HEIF", 96, 72)
        assert records[str(photos / "2021/summer/beach.jpg")].taken_at is not None
        assert any(p.endswith(UNDECODABLE) for p in records)
        assert sorted(lib.vectors.ids().tolist()) == sorted(
            r.id for r in records.values() if r.status == "indexed")
        assert lib.status().counts == {"pending": 0, "indexed": len(good), "failed": len(bad)}


def test_stored_embeddings_equal_the_models_own_photo_encoding(library):
    lib, photos, good = library
    lib.index()
    ids, vecs = lib.catalog.load_all_vectors(lib.model_row_id)            # (N,), (N, E)
    paths = [r.path for r in lib.photos(ids.tolist())]
    expected = lib.model.encode_photos(paths)                              # (N, E)
    np.testing.assert_allclose(vecs, expected, atol=1e-5)


def test_incremental_rerun_encodes_nothing(library, data_dir):
    lib, photos, good = library
    make_bad_files(photos)
    lib.index()
    before = embedded_at(data_dir)
    summary = lib.index()
    assert (summary.indexed, summary.moved, summary.removed, summary.failed) == (0, 0, 0, [])
    assert summary.unchanged == len(good) + 8          # known failures count as unchanged
    assert embedded_at(data_dir) == before


def test_a_changed_file_is_encoded_again_and_nothing_else(library, data_dir):
    lib, photos, good = library
    lib.index()
    before = embedded_at(data_dir)
    target = photos / "top.PNG"
    write_photo(target, 777)
    summary = lib.index()
    assert (summary.indexed, summary.unchanged) == (1, len(good) - 1)
    after = embedded_at(data_dir)
    changed = {p for p in after if after[p] != before[p]}
    assert changed == {os.fsencode(str(target))}


def test_a_photo_that_changes_into_garbage_stops_matching_searches(library, data_dir):
    lib, photos, good = library
    lib.index()
    target = photos / "top.PNG"
    target_id = photo_ids(lib)[str(target)]
    assert target_id in set(lib.vectors.ids().tolist())
    target.write_bytes(b"not an image any more, but the same name")
    summary = lib.index()
    assert [p for p, _ in summary.failed] == [str(target)]
    assert os.fsencode(str(target)) not in embedded_at(data_dir)
    assert target_id not in set(lib.vectors.ids().tolist())
    lib.reload_vectors()  # a fresh open agrees with the catalog
    assert target_id not in set(lib.vectors.ids().tolist())
    assert len(lib.vectors) == len(good) - 1


def test_rename_and_move_keep_the_embedding_and_delete_removes_it(library, data_dir):
    lib, photos, good = library
    lib.index()
    ids = photo_ids(lib)
    before = embedded_at(data_dir)
    renamed = photos / "2021/summer/beach-renamed.jpg"
    os.rename(photos / "2021/summer/beach.jpg", renamed)
    moved = photos / "elsewhere/snow.png"
    moved.parent.mkdir()
    os.rename(photos / "2021/winter/snow.png", moved)
    os.unlink(photos / "top.PNG")
    summary = lib.index()
    assert (summary.indexed, summary.moved, summary.removed) == (0, 2, 1)
    after_ids = photo_ids(lib)
    assert after_ids[str(renamed)] == ids[str(photos / "2021/summer/beach.jpg")]
    assert after_ids[str(moved)] == ids[str(photos / "2021/winter/snow.png")]
    assert str(photos / "top.PNG") not in after_ids
    after = embedded_at(data_dir)
    assert after[os.fsencode(str(moved))] == before[os.fsencode(str(photos / "2021/winter/snow.png"))]
    assert ids[str(photos / "top.PNG")] not in lib.vectors.ids().tolist()
    assert sorted(lib.vectors.ids().tolist()) == sorted(after_ids.values())


def test_a_missing_root_goes_offline_keeps_its_data_and_comes_back_without_reencoding(
        library, data_dir, tmp_path):
    lib, photos, good = library
    lib.index()
    before = embedded_at(data_dir)
    away = tmp_path / "unplugged"
    os.rename(photos, away)
    summary = lib.index()
    assert summary.removed == 0 and summary.offline == [str(photos)]
    assert lib.roots()[0].online is False
    assert len(embedded_at(data_dir)) == len(good)
    assert len(lib.vectors) == len(good)
    os.rename(away, photos)
    summary = lib.index()
    assert (summary.indexed, summary.removed, summary.unchanged) == (0, 0, len(good))
    assert lib.roots()[0].online is True
    assert embedded_at(data_dir) == before


def test_an_empty_mount_point_is_treated_as_offline_not_as_deleted(library, data_dir, tmp_path):
    lib, photos, good = library
    lib.index()
    os.rename(photos, tmp_path / "elsewhere")
    photos.mkdir()                       # what an unmounted drive's mount point looks like
    summary = lib.index()
    assert summary.removed == 0 and lib.roots()[0].online is False
    assert lib.status().counts["indexed"] == len(good)


def test_a_known_failure_is_not_retried_until_the_file_changes(library):
    lib, photos, good = library
    broken = photos / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    assert [p for p, _ in lib.index().failed] == [str(broken)]
    summary = lib.index()
    assert summary.failed == [] and summary.indexed == 0
    write_photo(broken, 5)               # fixed by the user
    summary = lib.index()
    assert (summary.indexed, summary.failed) == (1, [])
    assert lib.catalog.get_photo_by_path(str(broken)).status == "indexed"


def test_a_file_vanishing_between_scan_and_decode_is_recorded_and_skipped(library):
    lib, photos, good = library
    victim = str(photos / "2021/summer/sunset.JPG")

    def progress(p):
        if p.phase == "indexing" and p.done == 0 and os.path.exists(victim):
            os.unlink(victim)

    summary = lib.index(progress=progress)
    assert summary.failed == [(victim, "vanished before it could be read")]
    assert summary.indexed == len(good) - 1
    assert lib.index().removed == 1      # the next run forgets it


def test_cancel_stops_after_the_current_batch_and_a_rerun_resumes(data_dir, tmp_path):
    photos = tmp_path / "photos"
    for i in range(40):
        write_photo(photos / f"p{i:02d}.jpg", i, (48, 36))
    cancel = threading.Event()
    batches = []

    def progress(p):
        if p.phase == "indexing" and p.done:
            batches.append(p.done)
            cancel.set()

    with Library.open(data_dir) as lib:
        lib.settings.batch_size = 8
        lib.add_roots([photos])
        first = lib.index(progress=progress, cancel=cancel)
        assert first.cancelled and first.indexed == 8 and batches == [8]
        assert lib.status().counts == {"pending": 32, "indexed": 8, "failed": 0}
        second = lib.index()
        assert (second.indexed, second.unchanged) == (32, 8)
        assert len(lib.vectors) == 40


def test_progress_reports_found_done_rate_and_eta(library):
    lib, photos, good = library
    seen = []
    lib.index(progress=seen.append)
    phases = {p.phase for p in seen}
    assert {"scanning", "indexing"} <= phases
    last = [p for p in seen if p.phase == "indexing"][-1]
    assert (last.done, last.total, last.found) == (len(good), len(good), len(good))
    assert last.rate > 0 and last.eta_s == 0


def test_a_second_writer_is_refused_and_a_reader_is_not_blocked(library, data_dir):
    lib, photos, good = library
    lib.index()
    with pytest.raises(LibraryLockedError, match="is using this library"):
        Library.open(data_dir)
    with Library.open(data_dir, writer=False) as reader:
        found, scores = reader.vectors.search(reader.model.encode_texts(["x"])[0], k=3)
        assert len(reader.photos(found.tolist())) == 3
        with pytest.raises(Exception, match="read-only"):
            reader.add_roots([photos])


def test_opening_without_any_model_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelNotFoundError, match="model import"):
        Library.open(tmp_path / "empty")
    with pytest.raises(UsageError, match="--index"):
        Library.open(tmp_path / "nothing", writer=False)


def test_a_folder_inside_a_root_is_covered_and_a_larger_root_absorbs_smaller_ones(library):
    lib, photos, good = library
    lib.index()
    inner = lib.add_roots([photos / "2021"])
    assert [r.path for r in inner] == [str(photos)] and len(lib.roots()) == 1
    outer_dir = photos.parent
    before = photo_ids(lib)
    lib.add_roots([outer_dir])
    assert [r.path for r in lib.roots()] == [str(outer_dir)]
    summary = lib.index()
    assert summary.indexed == 0 and photo_ids(lib) == before


def test_a_corrupted_index_file_is_rebuilt_on_open_with_progress(data_dir, tmp_path):
    photos = tmp_path / "photos"
    make_good_tree(photos)
    with Library.open(data_dir, exact_threshold=0) as lib:
        lib.add_roots([photos])
        lib.index()
        model_id, ids = lib.model.model_id(), sorted(lib.vectors.ids().tolist())
    folder = vector_dir(data_dir, model_id)
    graph = next(folder.glob("hnsw-*.bin"))
    raw = bytearray(graph.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = os.urandom(64)
    graph.write_bytes(bytes(raw))
    calls = []
    with Library.open(data_dir, writer=False, exact_threshold=0,
                      progress=lambda done, total: calls.append((done, total))) as lib:
        assert lib.vectors.rebuilt and lib.vectors.uses_hnsw
        assert sorted(lib.vectors.ids().tolist()) == ids
        assert calls and calls[-1] == (len(ids), len(ids))
    with Library.open(data_dir, writer=False, exact_threshold=0) as lib:
        assert not lib.vectors.rebuilt      # the rebuilt index was saved


def test_index_paths_rechecks_only_the_given_paths(library, data_dir):
    lib, photos, good = library
    lib.index()
    new = write_photo(photos / "2021/summer/new.jpg", 50)
    os.unlink(photos / "2022/写真/猫.jpg")
    summary = lib.index_paths([new, photos / "2022/写真/猫.jpg"])
    assert (summary.indexed, summary.removed) == (1, 1)
    other = write_photo(photos / "deep/other.jpg", 51)
    assert lib.index_paths([photos / "2021"]).indexed == 0
    assert lib.index_paths([other.parent]).indexed == 1

"""The catalog against a real SQLite file: paths, batches, moves, deletes, tags, hashing."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from datetime import datetime

import numpy as np
import pytest

from clippo_desktop.engine.catalog import (Catalog, PhotoInfo, PhotoMeta, TagRecord,
                                           content_hash)
from clippo_desktop.engine.errors import CatalogError

DIM = 8


@pytest.fixture
def cat(tmp_path):
    with Catalog.open(tmp_path / "data" / "catalog.db") as c:
        yield c


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _library(cat: Catalog, tmp_path, n: int = 3):
    root = cat.add_root(tmp_path / "photos")
    ids = cat.upsert_photos(root.id, [PhotoInfo(f"{root.path}/p{i}.jpg", 100 + i, 10 + i, f"h{i}")
                                      for i in range(n)])
    model = cat.ensure_model("tiny-abc", "tiny", DIM, 1)
    return root, ids, model


def test_new_catalog_uses_wal_and_enforces_foreign_keys(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.store_embeddings(model, [(ids[0], _vec(0))])
    conn = sqlite3.connect(cat.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    cat.delete_photos([ids[0]])                          # cascades to embeddings
    assert cat.embedding_count(model) == 0


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs a bytes filesystem")
def test_non_utf8_filename_round_trips_exactly(cat, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/caf\xe9 \xff.jpg"
    with open(raw, "wb") as f:
        f.write(b"\xff\xd8 not really a jpeg")
    path = os.fsdecode(raw)
    root = cat.add_root(folder)
    [pid] = cat.upsert_photos(root.id, [PhotoInfo(path, 20, 1, content_hash(path))])
    stored = cat.get_photos([pid])[0].path
    assert os.fsencode(stored) == raw and os.path.exists(stored)
    assert list(cat.photos_under_root(root.id)) == [path]
    assert cat.get_photo_by_path(path).id == pid


def test_upsert_keeps_unchanged_photos_and_resets_changed_ones_to_pending(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.store_embeddings(model, [(i, _vec(i)) for i in ids])
    again = cat.upsert_photos(root.id, [PhotoInfo(f"{root.path}/p0.jpg", 100, 10),
                                        PhotoInfo(f"{root.path}/p1.jpg", 999, 10, "new")])
    assert again == ids[:2]
    state = cat.photos_under_root(root.id)
    assert state[f"{root.path}/p0.jpg"].status == "indexed"
    assert state[f"{root.path}/p0.jpg"].content_hash == "h0"      # None keeps the old hash
    assert state[f"{root.path}/p1.jpg"] == (ids[1], 999, 10, "new", "pending")


def test_batch_commit_stores_vectors_metadata_and_failures_together(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    gen0 = cat.index_generation(model)
    taken = datetime(2024, 5, 1, 12, 30)
    gen = cat.store_embeddings(
        model, [(ids[0], _vec(0)), (ids[1], _vec(1))],
        meta=[PhotoMeta(ids[0], 4000, 3000, "JPEG", taken, "Pixel 8", 48.85, 2.35)],
        failed=[(f"{root.path}/p2.jpg", "truncated JPEG"), (f"{root.path}/new.png", "not an image")])
    assert gen == gen0 + 1 == cat.index_generation(model)
    assert cat.status_counts() == {"pending": 0, "indexed": 2, "failed": 2}
    p0 = cat.get_photos([ids[0]])[0]
    assert (p0.width, p0.format, p0.taken_at, p0.camera, p0.gps_lon) == (4000, "JPEG", taken, "Pixel 8", 2.35)
    assert dict(cat.failed_photos())[f"{root.path}/p2.jpg"] == "truncated JPEG"
    got_ids, vecs = cat.load_all_vectors(model)
    assert got_ids.dtype == np.int64 and vecs.dtype == np.float32 and vecs.shape == (2, DIM)
    np.testing.assert_array_equal(vecs[got_ids.tolist().index(ids[1])], _vec(1))


def test_a_failing_batch_commits_nothing(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    with pytest.raises(CatalogError, match="not under any library folder"):
        cat.store_embeddings(model, [(ids[0], _vec(0))], failed=[("/elsewhere/x.jpg", "bad")])
    assert cat.embedding_count(model) == 0
    assert cat.status_counts()["indexed"] == 0 and cat.index_generation(model) == 0


def test_wrong_sized_vector_is_refused(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    with pytest.raises(ValueError, match="shape"):
        cat.store_embeddings(model, [(ids[0], np.zeros(DIM + 1))])


def test_moved_photo_keeps_its_id_embedding_and_tags(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.store_embeddings(model, [(ids[0], _vec(0))])
    cat.add_tags([TagRecord(ids[0], "dog", "machine", "tiny-abc", 0.8)])
    [found] = cat.find_by_content_hash("h0")
    cat.move_photo(found.id, f"{root.path}/sub/renamed.jpg", mtime_ns=77)
    moved = cat.get_photos([ids[0]])[0]
    assert (moved.path, moved.mtime_ns, moved.status) == (f"{root.path}/sub/renamed.jpg", 77, "indexed")
    assert cat.load_all_vectors(model)[0].tolist() == [ids[0]]
    assert cat.list_tags(label="dog")[0].photo_id == ids[0]


def test_move_onto_a_stale_row_replaces_it(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.move_photo(ids[0], f"{root.path}/p1.jpg")
    assert cat.get_photos(ids) [0].path == f"{root.path}/p1.jpg"
    assert [p.id for p in cat.get_photos(ids)] == [ids[0], ids[2]]


def test_deleting_photos_cascades_and_invalidates_the_vector_index(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    gen = cat.store_embeddings(model, [(i, _vec(i)) for i in ids])
    cat.add_tags([TagRecord(ids[1], "cat")])
    assert cat.delete_photos([ids[1], 12345]) == 1
    assert cat.index_generation(model) == gen + 1
    assert cat.load_all_vectors(model)[0].tolist() == [ids[0], ids[2]]
    assert cat.list_tags() == []


def test_roots_can_go_offline_and_be_removed_with_their_photos(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.set_root_online(root.id, False)
    cat.set_root_watch(root.id, True)
    cat.set_root_scanned(root.id, 123.0)
    [r] = cat.list_roots()
    assert (r.online, r.watch, r.last_scan_at) == (False, True, 123.0)
    assert cat.photos_under_root(root.id)                 # offline keeps the data
    assert cat.add_root(tmp_path / "photos").id == root.id
    assert cat.remove_root(root.id) == 3
    assert cat.list_roots() == [] and cat.status_counts()["pending"] == 0


def test_photos_needing_embedding_skips_failed_and_embedded_ones(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.store_embeddings(model, [(ids[0], _vec(0))])
    cat.mark_failed(f"{root.path}/p1.jpg", "zero-byte file")
    assert [p.id for p in cat.photos_needing_embedding(model)] == [ids[2]]
    other = cat.ensure_model("big-def", "big", DIM, 1)
    assert [p.id for p in cat.photos_needing_embedding(other)] == [ids[0], ids[2]]


def test_models_are_never_mixed_across_dimensions(cat):
    a = cat.ensure_model("m-1", "m", DIM, 1)
    assert cat.ensure_model("m-1", "m", DIM, 2) == a
    assert cat.list_models()[0].renderer_version == 2
    with pytest.raises(CatalogError, match="never mixed"):
        cat.ensure_model("m-1", "m", DIM * 2, 2)


def test_tags_upsert_and_remove(cat, tmp_path):
    root, ids, model = _library(cat, tmp_path)
    cat.add_tags([TagRecord(ids[0], "sea", "machine", "tiny-abc", 0.5)])
    cat.add_tags([TagRecord(ids[0], "sea", "machine", "tiny-abc", 0.9), TagRecord(ids[0], "sea")])
    tags = cat.list_tags(photo_id=ids[0])
    assert [(t.source, t.score) for t in tags] == [("machine", 0.9), ("user", None)]
    assert cat.remove_tags(ids[0], "sea", "user") == 1
    with pytest.raises(ValueError):
        cat.add_tags([TagRecord(ids[0], "x", "robot")])


def test_readers_on_other_threads_see_committed_batches_while_writing(cat, tmp_path):
    root, _, model = _library(cat, tmp_path, n=0)
    errors, seen = [], []

    def read():
        try:
            for _ in range(30):
                ids, vecs = cat.load_all_vectors(model)
                assert len(ids) % 10 == 0 and vecs.shape == (len(ids), DIM)
                seen.append(len(ids))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    for b in range(20):
        ids = cat.upsert_photos(root.id, [PhotoInfo(f"{root.path}/{b}-{i}.jpg", 1, 1) for i in range(10)])
        cat.store_embeddings(model, [(i, _vec(i)) for i in ids])
    reader.join()
    assert not errors and cat.embedding_count(model) == 200


def test_content_hash_follows_content_not_name(tmp_path):
    data = np.random.default_rng(0).bytes(300_000)
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "b.jpg").write_bytes(data)
    (tmp_path / "c.jpg").write_bytes(data[:-1] + b"\x00")           # differs in the tail
    (tmp_path / "tiny.png").write_bytes(b"x")
    assert content_hash(tmp_path / "a.jpg") == content_hash(tmp_path / "b.jpg")
    assert content_hash(tmp_path / "a.jpg") != content_hash(tmp_path / "c.jpg")
    assert len(content_hash(tmp_path / "tiny.png")) == 32


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_content_hash_of_a_fifo_raises_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        content_hash(fifo)

"""Catalog schema versions: a frozen v1 file migrates to today's schema without losing data."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from clippo_desktop.engine.catalog import SCHEMA_VERSION, Catalog, TagRecord
from clippo_desktop.engine.errors import CatalogError

FIXTURE = Path(__file__).parent / "fixtures" / "catalog_v1.sql"


def _load_v1(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text("utf-8"))
    conn.close()
    return path


def _schema(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    out = {t: sorted((r[1], r[2].upper(), r[3], r[5]) for r in conn.execute(f"PRAGMA table_info({t})"))
           for t in tables}
    out["indexes"] = sorted(r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='index' AND name NOT LIKE 'sqlite_%'"))
    conn.close()
    return out


def test_v1_catalog_migrates_to_current_version_keeping_its_data(tmp_path):
    db = _load_v1(tmp_path / "catalog.db")
    with Catalog.open(db) as cat:
        assert SCHEMA_VERSION == 2 and cat.schema_version() == 2
        roots = cat.list_roots()
        assert [r.path for r in roots] == ["/photos"] and roots[0].watch and roots[0].online
        photos = cat.photos_under_root(roots[0].id)
        latin1 = "/photos/holiday/" + os.fsdecode(b"caf\xe9.jpg")
        assert set(photos) == {"/photos/holiday/beach.jpg", latin1, "/photos/broken.jpg"}
        assert os.fsencode(latin1) == b"/photos/holiday/caf\xe9.jpg"
        assert cat.status_counts() == {"pending": 0, "indexed": 2, "failed": 1}
        beach = cat.get_photos([1])[0]
        assert (beach.camera, beach.width, beach.taken_at.year) == ("Canon EOS R6", 640, 2023)
        assert beach.gps_lat is None        # v2 column, NULL until re-scanned
        ids, vecs = cat.load_all_vectors(1)
        assert ids.tolist() == [1, 2]
        np.testing.assert_array_equal(vecs[1], [1, 0, 0, 0])
        assert cat.index_generation(1) == 7
        cat.add_tags([TagRecord(1, "beach", "user")])          # v2 table works
        assert [t.label for t in cat.list_tags(photo_id=1)] == ["beach"]
        assert cat.integrity_check() == "ok"
        assert cat.backups == [tmp_path / "catalog.db.bak-v1"]


def test_migration_backup_is_a_readable_copy_of_the_old_version(tmp_path):
    db = _load_v1(tmp_path / "catalog.db")
    Catalog.open(db).close()
    backup = tmp_path / "catalog.db.bak-v1"
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='tags'").fetchone()[0] == 0
    conn.close()


def test_migrated_schema_matches_a_freshly_created_one(tmp_path):
    migrated = _load_v1(tmp_path / "old.db")
    Catalog.open(migrated).close()
    fresh = tmp_path / "new.db"
    Catalog.open(fresh).close()
    assert _schema(migrated) == _schema(fresh)


def test_reopening_a_current_catalog_makes_no_backup(tmp_path):
    db = tmp_path / "catalog.db"
    Catalog.open(db).close()
    with Catalog.open(db) as cat:
        assert cat.backups == []
    assert not list(tmp_path.glob("*.bak-v*"))


def test_catalog_from_a_newer_app_is_refused_with_upgrade_advice(tmp_path):
    db = tmp_path / "catalog.db"
    Catalog.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="Upgrade clippo-desktop"):
        Catalog.open(db)


def test_garbage_catalog_file_says_to_move_it_away_and_names_the_backup(tmp_path):
    db = _load_v1(tmp_path / "catalog.db")
    Catalog.open(db).close()                      # leaves catalog.db.bak-v1
    for extra in tmp_path.glob("catalog.db-*"):   # WAL/SHM of the good file
        extra.unlink()
    db.write_bytes(b"this is not an sqlite database" * 100)
    with pytest.raises(CatalogError) as info:
        Catalog.open(db)
    text = str(info.value)
    assert "move" in text and str(db) in text and "catalog.db.bak-v1" in text


def test_foreign_sqlite_file_is_not_taken_for_a_catalog(tmp_path):
    db = tmp_path / "catalog.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.close()
    with pytest.raises(CatalogError, match="not a clippo-desktop catalog"):
        Catalog.open(db)

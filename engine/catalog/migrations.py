"""Schema versions and the stepwise migrations between them.

The version lives in `PRAGMA user_version` (in the database header, so it changes in the same
transaction as the schema). A new catalog is created from models.py at `SCHEMA_VERSION`; an
older one runs `STEPS[v - 1]` for each v up to it, each step in its own transaction and each
preceded by a copy of the database made with SQLite's backup API (`catalog.db.bak-v{v}`).
Steps are raw SQL on purpose: models.py describes only the newest schema.

When an encoder or renderer change makes stored vectors wrong, the step for it deletes the
affected embeddings and bumps `index_generations`, so the photos are re-embedded, never mixed.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """v1 -> v2: tagging arrived, and the indexer now reads GPS from EXIF.

    The tags table is new. gps_lat/gps_lon are added as NULL: existing photos get them on
    their next re-scan, so no embedding is touched.
    """
    conn.execute("ALTER TABLE photos ADD COLUMN gps_lat DOUBLE")
    conn.execute("ALTER TABLE photos ADD COLUMN gps_lon DOUBLE")
    conn.execute("""
        CREATE TABLE tags (
            id INTEGER NOT NULL,
            photo_id INTEGER NOT NULL,
            label VARCHAR NOT NULL,
            source VARCHAR(8) NOT NULL,
            model_id VARCHAR,
            score DOUBLE,
            created_at DOUBLE NOT NULL,
            PRIMARY KEY (id),
            CONSTRAINT uq_tags_photo_label_source UNIQUE (photo_id, label, source),
            CONSTRAINT tag_source CHECK (source IN ('machine', 'user')),
            FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE
        )""")
    conn.execute("CREATE INDEX ix_tags_label ON tags (label)")


# STEPS[i] migrates version i + 1 to i + 2.
STEPS: list[Callable[[sqlite3.Connection], None]] = [_v1_to_v2]
assert len(STEPS) == SCHEMA_VERSION - 1, "every schema version needs a migration step"


def read_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def backup_path(db_path: Path, version: int) -> Path:
    return db_path.with_name(f"{db_path.name}.bak-v{version}")


def backup(db_path: Path, version: int) -> Path:
    """Copy the live database (WAL included) with the sqlite backup API."""
    dest = backup_path(db_path, version)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(db_path)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()
    tmp.replace(dest)
    return dest


def migrate(db_path: Path) -> list[Path]:
    """Bring an existing catalog up to SCHEMA_VERSION; return the backups made.

    The caller has checked that the version is between 1 and SCHEMA_VERSION.
    """
    backups: list[Path] = []
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = OFF")   # ALTERs must not cascade
        version = read_version(conn)
        while version < SCHEMA_VERSION:
            backups.append(backup(db_path, version))
            step = STEPS[version - 1]
            log.info("migrating catalog %s from v%d to v%d: %s", db_path, version, version + 1,
                     (step.__doc__ or "").strip().splitlines()[0])
            conn.execute("BEGIN IMMEDIATE")
            try:
                step(conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            version += 1
    finally:
        conn.close()
    return backups

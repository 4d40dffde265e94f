"""Opening the catalog file: pragmas, version checks, migrations, and error translation.

Every connection gets WAL (readers never block the writer), foreign keys (deletes cascade to
embeddings and tags), a busy timeout (a reader briefly holding a lock is waited for, not an
error) and synchronous=NORMAL (durable at each checkpoint, safe against corruption in WAL).
SQLite failures are turned into the engine's typed errors with a sentence on what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from ..errors import CatalogError, ReadOnlyError, StorageFullError
from .migrations import SCHEMA_VERSION, backup_path, migrate, read_version
from .models import Base

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
PAGE_SIZE = 8192          # a 768-d float32 vector (3 KiB) fits in one page: faster loads


def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cur.execute(f"PRAGMA page_size = {PAGE_SIZE}")       # only takes effect on a new file
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def _damaged(path: Path, exc: BaseException) -> CatalogError:
    backups = sorted(path.parent.glob(path.name + ".bak-v*"))
    where = (f"The newest backup is {backups[-1]}; copy it to {path} to go back to it, or "
             if backups else "")
    return CatalogError(
        f"The catalog {path} is damaged or is not a clippo-desktop catalog ({exc}).",
        hint=f"{where}move {path} away and run again: the library will be rebuilt by "
             "re-indexing your folders. Your photos are never modified.")


@contextlib.contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Re-raise SQLite errors as CatalogError / StorageFullError / ReadOnlyError."""
    try:
        yield
    except sa_exc.IntegrityError:
        raise
    except (sa_exc.DBAPIError, sqlite3.DatabaseError) as exc:
        text = str(getattr(exc, "orig", exc)).lower()
        if "full" in text:
            raise StorageFullError(f"The disk holding {path} is full.",
                                   hint="Free some space and run again.") from exc
        if "readonly" in text or "read-only" in text:
            raise ReadOnlyError(f"The catalog {path} cannot be written.",
                                hint="Check the folder's permissions, or pick another "
                                     "--data-dir.") from exc
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            raise _damaged(path, exc) from exc
        raise CatalogError(f"The catalog {path} failed: {exc}",
                           hint="Try again; if it keeps failing, run `clippo-desktop status`."
                           ) from exc


def _inspect(path: Path) -> tuple[int, int]:
    """(user_version, number of tables) of an existing file, with no side effects."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = read_version(conn)
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'"
                                  ).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "unable to open" in str(exc) and not os.access(path.parent, os.W_OK):
            # WAL needs its -shm file beside the catalog: not damaged, just on read-only media.
            raise ReadOnlyError(f"The catalog {path} cannot be opened: its folder "
                                f"{path.parent} is read-only.",
                                hint="Make the folder writable, or copy the library to a "
                                     "writable place and use --data-dir.") from exc
        raise _damaged(path, exc) from exc
    return version, int(tables)


def _create(path: Path) -> None:
    """Build a new catalog beside `path` and rename it into place.

    pysqlite runs DDL outside any transaction, so creating the schema in place could leave a
    half-made file (a full disk or a kill between two CREATE TABLEs) that later opens refuse as
    "not a clippo-desktop catalog". A new catalog therefore appears whole or not at all.
    """
    tmp = path.with_name(path.name + ".new")
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{tmp}")
    event.listen(engine, "connect", _on_connect)
    try:
        with translate_errors(path):
            with engine.begin() as conn:
                Base.metadata.create_all(conn)
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        engine.dispose()
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    engine.dispose()                 # the last connection checkpoints and removes the WAL
    os.replace(tmp, path)
    log.info("created catalog %s at schema v%d", path, SCHEMA_VERSION)


def open_engine(path: Path) -> tuple[Engine, list[Path]]:
    """Create or migrate the catalog at `path`; return the engine and any backups made."""
    path = Path(path)
    backups: list[Path] = []
    if path.exists() and path.stat().st_size > 0:
        version, tables = _inspect(path)
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"The catalog {path} was written by a newer clippo-desktop "
                f"(schema v{version}; this version understands up to v{SCHEMA_VERSION}).",
                hint="Upgrade clippo-desktop, or use another --data-dir.")
        if version == 0 and tables:
            raise CatalogError(f"{path} is an SQLite file but not a clippo-desktop catalog.",
                               hint="Move it away or pick another --data-dir.")
        if 0 < version < SCHEMA_VERSION:
            try:
                backups = migrate(path)
            except sqlite3.DatabaseError as exc:
                raise _damaged(path, exc) from exc
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path)
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _on_connect)
    with translate_errors(path):
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            if read_version(raw) == 0:
                Base.metadata.create_all(conn)
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")
                log.info("created catalog %s at schema v%d", path, SCHEMA_VERSION)
    return engine, backups


__all__ = ["open_engine", "translate_errors", "backup_path", "BUSY_TIMEOUT_MS"]

"""`Catalog`: the one place that reads and writes the library database.

Each call opens a short-lived session, so readers on other threads never share one; writes
additionally take a lock, so there is one writer at a time (SQLite WAL lets reads go on
meanwhile). A batch of embeddings, the status of the photos they belong to, the failures of
that batch and the bump of the model's index generation go in ONE commit: a killed process
loses at most the batch in flight, and the vector index can always tell whether it is stale.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import time
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from ..errors import CatalogError
from .connection import open_engine, translate_errors
from .models import STATUSES, TAG_SOURCES, Embedding, IndexGeneration, Model, Photo, Root, Tag
from .records import (ModelRecord, PhotoInfo, PhotoMeta, PhotoRecord, PhotoState, RootRecord,
                      TagRecord)

CHUNK = 500      # ids per IN (...) clause


def _chunks(items: Sequence, n: int = CHUNK) -> Iterator[Sequence]:
    for i in range(0, len(items), n):
        yield items[i: i + n]


def _photo_record(p: Photo) -> PhotoRecord:
    return PhotoRecord(p.id, p.root_id, p.path, p.size, p.mtime_ns, p.content_hash, p.width,
                       p.height, p.format, p.taken_at, p.camera, p.gps_lat, p.gps_lon,
                       p.status, p.fail_reason, p.added_at, p.updated_at)


def _root_record(r: Root) -> RootRecord:
    return RootRecord(r.id, r.path, r.watch, r.online, r.added_at, r.last_scan_at)


class Catalog:
    """The library database. Open with `Catalog.open(path)`; close with `.close()`."""

    def __init__(self, path: Path, engine, backups: list[Path]):
        self.path = path
        self.backups = backups          # made by migrations during this open
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Catalog":
        """Create, or open and migrate, the catalog file. Raises CatalogError if unusable."""
        path = Path(path)
        engine, backups = open_engine(path)
        return cls(path, engine, backups)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with translate_errors(self.path), self._sessions() as session:
            yield session

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with self._write_lock, translate_errors(self.path), self._sessions.begin() as session:
            yield session

    # ---- roots ---------------------------------------------------------------------------

    def add_root(self, path: str | os.PathLike, watch: bool = False) -> RootRecord:
        """Add a library folder (or return the existing one with that path)."""
        path = os.fsdecode(os.path.abspath(path))
        with self._write() as s:
            root = s.scalar(select(Root).where(Root.path == path))
            if root is None:
                root = Root(path=path, watch=watch, online=True, added_at=time.time())
                s.add(root)
                s.flush()
            return _root_record(root)

    def remove_root(self, root_id: int) -> int:
        """Forget a folder and every photo under it; returns how many photos went."""
        with self._write() as s:
            ids = list(s.scalars(select(Photo.id).where(Photo.root_id == root_id)))
            self._delete_photos(s, ids)
            s.execute(delete(Root).where(Root.id == root_id))
            return len(ids)

    def list_roots(self) -> list[RootRecord]:
        with self._read() as s:
            return [_root_record(r) for r in s.scalars(select(Root).order_by(Root.id))]

    def set_root_online(self, root_id: int, online: bool) -> None:
        with self._write() as s:
            s.execute(update(Root).where(Root.id == root_id).values(online=online))

    def set_root_watch(self, root_id: int, watch: bool) -> None:
        with self._write() as s:
            s.execute(update(Root).where(Root.id == root_id).values(watch=watch))

    def set_root_scanned(self, root_id: int, when: float | None = None) -> None:
        with self._write() as s:
            s.execute(update(Root).where(Root.id == root_id)
                      .values(last_scan_at=time.time() if when is None else when))

    # ---- photos --------------------------------------------------------------------------

    def photos_under_root(self, root_id: int) -> dict[str, PhotoState]:
        """path -> PhotoState for every photo of a root (what a scan diffs against)."""
        with self._read() as s:
            rows = s.execute(select(Photo.path, Photo.id, Photo.size, Photo.mtime_ns,
                                    Photo.content_hash, Photo.status)
                             .where(Photo.root_id == root_id))
            return {r[0]: PhotoState(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def upsert_photos(self, root_id: int, photos: Sequence[PhotoInfo]) -> list[int]:
        """Insert new paths; a path whose size or mtime changed goes back to 'pending'.

        Returns the photo ids in input order. Unchanged paths keep their status.
        """
        if not photos:
            return []
        now = time.time()
        with self._write() as s:
            for part in _chunks(photos):
                stmt = sqlite_insert(Photo).values([
                    dict(root_id=root_id, path=p.path, size=p.size, mtime_ns=p.mtime_ns,
                         content_hash=p.content_hash, status="pending", added_at=now,
                         updated_at=now) for p in part])
                ex = stmt.excluded
                changed = or_(Photo.size != ex.size, Photo.mtime_ns != ex.mtime_ns)
                s.execute(stmt.on_conflict_do_update(index_elements=[Photo.path], set_=dict(
                    root_id=ex.root_id, size=ex.size, mtime_ns=ex.mtime_ns,
                    content_hash=func.coalesce(ex.content_hash, Photo.content_hash),
                    status=case((changed, "pending"), else_=Photo.status),
                    fail_reason=case((changed, None), else_=Photo.fail_reason),
                    updated_at=now)))
            return self._ids_for_paths(s, [p.path for p in photos])

    @staticmethod
    def _ids_for_paths(s: Session, paths: Sequence[str]) -> list[int]:
        found: dict[str, int] = {}
        for part in _chunks(paths):
            found.update((path, photo_id) for path, photo_id in
                         s.execute(select(Photo.path, Photo.id).where(Photo.path.in_(part))))
        return [found[p] for p in paths]

    def get_photos(self, ids: Sequence[int]) -> list[PhotoRecord]:
        """Records for photo ids, in the order given; unknown ids are left out."""
        by_id: dict[int, PhotoRecord] = {}
        with self._read() as s:
            for part in _chunks(list(ids)):
                by_id.update((p.id, _photo_record(p))
                             for p in s.scalars(select(Photo).where(Photo.id.in_(part))))
        return [by_id[i] for i in ids if i in by_id]

    def get_photo_by_path(self, path: str) -> PhotoRecord | None:
        with self._read() as s:
            p = s.scalar(select(Photo).where(Photo.path == os.fsdecode(path)))
            return None if p is None else _photo_record(p)

    def find_by_content_hash(self, content_hash: str) -> list[PhotoRecord]:
        """Photos with this content hash (a moved or renamed file, or duplicates)."""
        with self._read() as s:
            return [_photo_record(p) for p in s.scalars(
                select(Photo).where(Photo.content_hash == content_hash).order_by(Photo.id))]

    def move_photo(self, photo_id: int, new_path: str, *, root_id: int | None = None,
                   size: int | None = None, mtime_ns: int | None = None) -> None:
        """Give a photo a new path, keeping its id, embeddings and tags.

        A stale row already at `new_path` (the file that used to be there) is deleted.
        """
        new_path = os.fsdecode(new_path)
        with self._write() as s:
            stale = s.scalar(select(Photo.id).where(Photo.path == new_path, Photo.id != photo_id))
            if stale is not None:
                self._delete_photos(s, [stale])
            values: dict = dict(path=new_path, updated_at=time.time())
            for key, value in (("root_id", root_id), ("size", size), ("mtime_ns", mtime_ns)):
                if value is not None:
                    values[key] = value
            if s.execute(update(Photo).where(Photo.id == photo_id).values(**values)).rowcount != 1:
                raise CatalogError(f"No photo with id {photo_id} to move.",
                                   hint="Rescan the folder to refresh the catalog.")

    def delete_photos(self, ids: Iterable[int]) -> int:
        """Delete photos (their embeddings and tags cascade); returns how many went."""
        with self._write() as s:
            return self._delete_photos(s, list(ids))

    @staticmethod
    def _delete_photos(s: Session, ids: list[int]) -> int:
        gone, models = 0, set()
        for part in _chunks(ids):
            models.update(s.scalars(select(Embedding.model_row_id)
                                    .where(Embedding.photo_id.in_(part)).distinct()))
            gone += s.execute(delete(Photo).where(Photo.id.in_(part))).rowcount
        for model_row_id in models:
            Catalog._bump(s, model_row_id)
        return gone

    def mark_failed(self, path: str, reason: str, *, size: int = 0, mtime_ns: int = 0) -> int:
        """Record that a file could not be indexed; inserts it under its root if new."""
        path = os.fsdecode(path)
        with self._write() as s:
            return self._mark_failed(s, path, reason, size, mtime_ns)

    def _mark_failed(self, s: Session, path: str, reason: str, size: int, mtime_ns: int) -> int:
        now = time.time()
        photo_id = s.scalar(select(Photo.id).where(Photo.path == path))
        if photo_id is not None:
            s.execute(update(Photo).where(Photo.id == photo_id)
                      .values(status="failed", fail_reason=reason, updated_at=now))
            return photo_id
        root_id = self._root_for(s, path)
        photo = Photo(root_id=root_id, path=path, size=size, mtime_ns=mtime_ns, status="failed",
                      fail_reason=reason, added_at=now, updated_at=now)
        s.add(photo)
        s.flush()
        return photo.id

    @staticmethod
    def _root_for(s: Session, path: str) -> int:
        best = None
        for root in s.scalars(select(Root)):
            prefix = root.path.rstrip(os.sep) + os.sep
            if path.startswith(prefix) and (best is None or len(root.path) > len(best.path)):
                best = root
        if best is None:
            raise CatalogError(f"{path!r} is not under any library folder.",
                               hint="Add its folder with --index first.")
        return best.id

    def status_counts(self, root_id: int | None = None) -> dict[str, int]:
        """{'pending': n, 'indexed': n, 'failed': n}, for one root or the whole library."""
        query = select(Photo.status, func.count()).group_by(Photo.status)
        if root_id is not None:
            query = query.where(Photo.root_id == root_id)
        with self._read() as s:
            counts = dict.fromkeys(STATUSES, 0)
            counts.update({status: n for status, n in s.execute(query)})
            return counts

    def failed_photos(self, root_id: int | None = None) -> list[tuple[str, str]]:
        query = select(Photo.path, Photo.fail_reason).where(Photo.status == "failed")
        if root_id is not None:
            query = query.where(Photo.root_id == root_id)
        with self._read() as s:
            return [(p, r or "") for p, r in s.execute(query.order_by(Photo.path))]

    def photos_needing_embedding(self, model_row_id: int, root_id: int | None = None,
                                 limit: int | None = None) -> list[PhotoRecord]:
        """Photos not failed that have no embedding for this model yet."""
        has = select(Embedding.photo_id).where(Embedding.model_row_id == model_row_id)
        query = select(Photo).where(Photo.status != "failed", Photo.id.not_in(has))
        if root_id is not None:
            query = query.where(Photo.root_id == root_id)
        with self._read() as s:
            return [_photo_record(p) for p in s.scalars(query.order_by(Photo.id).limit(limit))]

    # ---- models, embeddings, generations --------------------------------------------------

    def ensure_model(self, model_id: str, name: str, dim: int, renderer_version: int) -> int:
        """Row id for a model, creating it. The same model_id with another dim is refused."""
        with self._write() as s:
            model = s.scalar(select(Model).where(Model.model_id == model_id))
            if model is None:
                model = Model(model_id=model_id, name=name, dim=dim,
                              renderer_version=renderer_version)
                s.add(model)
                s.flush()
                s.add(IndexGeneration(model_row_id=model.id, generation=0))
            elif model.dim != dim:
                raise CatalogError(
                    f"Model {model_id} is recorded with {model.dim}-d embeddings, not {dim}-d.",
                    hint="Install the model under another name; embeddings are never mixed.")
            else:   # the renderer only changes text embeddings: photo vectors stay valid
                model.name, model.renderer_version = name, renderer_version
            return model.id

    def list_models(self) -> list[ModelRecord]:
        with self._read() as s:
            return [ModelRecord(m.id, m.model_id, m.name, m.dim, m.renderer_version)
                    for m in s.scalars(select(Model).order_by(Model.id))]

    def store_embeddings(self, model_row_id: int, items: Sequence[tuple[int, np.ndarray]],
                         meta: Sequence[PhotoMeta] = (),
                         failed: Sequence[tuple[str, str]] = ()) -> int:
        """One indexing batch in one commit; returns the model's new index generation.

        items: (photo_id, float32 (D,)) -> embeddings, and those photos become 'indexed';
        meta: what decoding found out; failed: (path, reason) of the batch's bad files.
        """
        dim = self._dim(model_row_id)
        now = time.time()
        rows = []
        for photo_id, vector in items:
            v = np.ascontiguousarray(vector, dtype="<f4")
            if v.shape != (dim,):
                raise ValueError(f"embedding for photo {photo_id} has shape {v.shape}, "
                                 f"model expects ({dim},)")
            rows.append(dict(photo_id=int(photo_id), model_row_id=model_row_id,
                             vector=v.tobytes(), created_at=now))
        with self._write() as s:
            if rows:
                stmt = sqlite_insert(Embedding)
                s.execute(stmt.on_conflict_do_update(
                    index_elements=[Embedding.photo_id, Embedding.model_row_id],
                    set_=dict(vector=stmt.excluded.vector, created_at=now)), rows)
                s.execute(update(Photo), [dict(id=r["photo_id"], status="indexed",
                                               fail_reason=None, updated_at=now) for r in rows])
            if meta:
                s.execute(update(Photo), [
                    dict(id=m.photo_id, width=m.width, height=m.height, format=m.format,
                         taken_at=m.taken_at, camera=m.camera, gps_lat=m.gps_lat,
                         gps_lon=m.gps_lon) for m in meta])
            dropped = set()
            for path, reason in failed:
                photo_id = self._mark_failed(s, os.fsdecode(path), reason, 0, 0)
                # A file that changed into something undecodable must not keep matching
                # searches with its old embedding, for any model.
                gone = s.execute(delete(Embedding).where(Embedding.photo_id == photo_id)
                                 .returning(Embedding.model_row_id)).scalars().all()
                dropped.update(gone)
            for other in dropped - {model_row_id}:
                self._bump(s, other)
            changed = bool(rows) or model_row_id in dropped
            return self._bump(s, model_row_id) if changed else self._generation(s, model_row_id)

    def _dim(self, model_row_id: int) -> int:
        with self._read() as s:
            dim = s.scalar(select(Model.dim).where(Model.id == model_row_id))
        if dim is None:
            raise CatalogError(f"No model with row id {model_row_id} in the catalog.",
                               hint="Call ensure_model() first.")
        return dim

    def load_all_vectors(self, model_row_id: int) -> tuple[np.ndarray, np.ndarray]:
        """All of a model's vectors: ids int64 (N,), vectors float32 (N, D), in storage order."""
        dim = self._dim(model_row_id)
        row_bytes = dim * 4
        with translate_errors(self.path), self._engine.connect() as conn:
            raw = conn.connection.driver_connection
            # One statement = one consistent snapshot; the count sizes the output up front,
            # so the blobs are copied once into the matrix (peak memory ~1x, not 2x).
            cur = raw.execute("SELECT photo_id, vector, (SELECT count(*) FROM embeddings "
                              "WHERE model_row_id = ?1) FROM embeddings WHERE model_row_id = ?1",
                              (model_row_id,))
            first = cur.fetchone()
            if first is None:
                return np.zeros(0, np.int64), np.zeros((0, dim), np.float32)
            vectors = np.empty((int(first[2]), dim), dtype="<f4")                 # (N, D)
            buf = memoryview(vectors).cast("B")
            ids: list[int] = []
            for photo_id, blob, _ in itertools.chain([first], cur):
                if len(blob) != row_bytes:
                    raise CatalogError(
                        f"The stored embedding of photo {photo_id} has {len(blob)} bytes, "
                        f"not {row_bytes}.", hint="Re-index the library with --index.")
                offset = len(ids) * row_bytes
                buf[offset: offset + row_bytes] = blob
                ids.append(photo_id)
        return np.array(ids, dtype=np.int64), vectors                             # (N,), (N, D)

    def embedding_count(self, model_row_id: int) -> int:
        with self._read() as s:
            return s.scalar(select(func.count()).select_from(Embedding)
                            .where(Embedding.model_row_id == model_row_id))

    @staticmethod
    def _generation(s: Session, model_row_id: int) -> int:
        return s.scalar(select(IndexGeneration.generation)
                        .where(IndexGeneration.model_row_id == model_row_id)) or 0

    @staticmethod
    def _bump(s: Session, model_row_id: int) -> int:
        s.execute(sqlite_insert(IndexGeneration).values(model_row_id=model_row_id, generation=1)
                  .on_conflict_do_update(index_elements=[IndexGeneration.model_row_id],
                                         set_=dict(generation=IndexGeneration.generation + 1)))
        return Catalog._generation(s, model_row_id)

    def index_generation(self, model_row_id: int) -> int:
        """The generation a saved vector index must carry to be trusted as up to date."""
        with self._read() as s:
            return self._generation(s, model_row_id)

    def bump_index_generation(self, model_row_id: int) -> int:
        """Invalidate saved vector indexes of this model (forces a rebuild on next open)."""
        with self._write() as s:
            return self._bump(s, model_row_id)

    # ---- tags ------------------------------------------------------------------------------

    def add_tags(self, tags: Sequence[TagRecord]) -> None:
        """Add or refresh tags; (photo_id, label, source) is unique."""
        if not tags:
            return
        now = time.time()
        for t in tags:
            if t.source not in TAG_SOURCES:
                raise ValueError(f"tag source must be one of {TAG_SOURCES}, not {t.source!r}")
        with self._write() as s:
            stmt = sqlite_insert(Tag)
            s.execute(stmt.on_conflict_do_update(
                index_elements=[Tag.photo_id, Tag.label, Tag.source],
                set_=dict(model_id=stmt.excluded.model_id, score=stmt.excluded.score,
                          created_at=now)),
                [dict(photo_id=t.photo_id, label=t.label, source=t.source, model_id=t.model_id,
                      score=t.score, created_at=now) for t in tags])

    def list_tags(self, photo_id: int | None = None, label: str | None = None
                  ) -> list[TagRecord]:
        query = select(Tag).order_by(Tag.photo_id, Tag.label, Tag.source)
        if photo_id is not None:
            query = query.where(Tag.photo_id == photo_id)
        if label is not None:
            query = query.where(Tag.label == label)
        with self._read() as s:
            return [TagRecord(t.photo_id, t.label, t.source, t.model_id, t.score, t.created_at)
                    for t in s.scalars(query)]

    def remove_tags(self, photo_id: int, label: str, source: str | None = None) -> int:
        query = delete(Tag).where(Tag.photo_id == photo_id, Tag.label == label)
        if source is not None:
            query = query.where(Tag.source == source)
        with self._write() as s:
            return s.execute(query).rowcount

    # ---- health ------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """'ok', or SQLite's list of problems."""
        with translate_errors(self.path), self._engine.connect() as conn:
            rows = conn.exec_driver_sql("PRAGMA integrity_check").fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def schema_version(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA user_version").scalar())

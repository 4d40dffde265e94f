"""The catalog's tables as SQLAlchemy 2.0 typed models (schema version 2).

These rows never leave engine/catalog/: store.py converts them to the plain dataclasses in
records.py. Older schemas live only as raw SQL in migrations.py and tests/fixtures/, because
migrations must keep working after these classes change.

Paths are stored as the bytes `os.fsencode` gives (a BLOB), so a Linux filename that is not
valid UTF-8 survives the round trip exactly (as a str with surrogateescape characters).
Timestamps written by the app are epoch seconds (float); `taken_at` is the EXIF local time.
"""

from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import (CheckConstraint, ForeignKey, Index, LargeBinary, String,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

STATUSES = ("pending", "indexed", "failed")
TAG_SOURCES = ("machine", "user")


class FsPath(TypeDecorator):
    """A filesystem path as str in Python, as `os.fsencode` bytes in SQLite."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else os.fsencode(value)

    def process_result_value(self, value, dialect):
        return None if value is None else os.fsdecode(bytes(value))


class Base(DeclarativeBase):
    pass


class Root(Base):
    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    watch: Mapped[bool] = mapped_column(default=False)
    online: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[float]
    last_scan_at: Mapped[float | None]


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'indexed', 'failed')", name="photo_status"),
        Index("ix_photos_content_hash", "content_hash"),
        Index("ix_photos_root_id", "root_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(FsPath, unique=True)
    size: Mapped[int]
    mtime_ns: Mapped[int]
    content_hash: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None]
    height: Mapped[int | None]
    format: Mapped[str | None] = mapped_column(String(16))
    taken_at: Mapped[datetime | None]
    camera: Mapped[str | None]
    gps_lat: Mapped[float | None]          # v2
    gps_lon: Mapped[float | None]          # v2
    status: Mapped[str] = mapped_column(String(8), default="pending")
    fail_reason: Mapped[str | None]
    added_at: Mapped[float]
    updated_at: Mapped[float]


class Model(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[str] = mapped_column(unique=True)
    name: Mapped[str]
    dim: Mapped[int]
    renderer_version: Mapped[int]


class Embedding(Base):
    __tablename__ = "embeddings"
    __table_args__ = (Index("ix_embeddings_model_row_id", "model_row_id"),)

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"),
                                          primary_key=True)
    model_row_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"),
                                              primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)     # float32 (dim,) little-endian
    created_at: Mapped[float]


class Tag(Base):                            # v2
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("photo_id", "label", "source", name="uq_tags_photo_label_source"),
        CheckConstraint("source IN ('machine', 'user')", name="tag_source"),
        Index("ix_tags_label", "label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    label: Mapped[str]
    source: Mapped[str] = mapped_column(String(8))
    model_id: Mapped[str | None]
    score: Mapped[float | None]
    created_at: Mapped[float]


class IndexGeneration(Base):
    """Bumped in the same transaction as every change to a model's vectors."""

    __tablename__ = "index_generations"

    model_row_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"),
                                              primary_key=True)
    generation: Mapped[int] = mapped_column(default=0)

"""Plain dataclasses that cross from the catalog into the indexer, search, CLI and GUI.

The ORM rows in models.py stay inside engine/catalog/; everything a caller sees is one of
these, so nothing outside can lazy-load, expire or write a row by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True)
class RootRecord:
    id: int
    path: str
    watch: bool
    online: bool
    added_at: float
    last_scan_at: float | None


@dataclass(frozen=True)
class PhotoRecord:
    id: int
    root_id: int
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    width: int | None
    height: int | None
    format: str | None
    taken_at: datetime | None
    camera: str | None
    gps_lat: float | None
    gps_lon: float | None
    status: str
    fail_reason: str | None
    added_at: float
    updated_at: float


class PhotoState(NamedTuple):
    """What a scan compares against the filesystem: one per path in photos_under_root()."""

    id: int
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str


@dataclass(frozen=True)
class PhotoInfo:
    """A photo as the scanner sees it on disk, for upsert_photos()."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str | None = None


@dataclass(frozen=True)
class PhotoMeta:
    """What decoding learned about a photo; written with its embedding in one commit."""

    photo_id: int
    width: int | None = None
    height: int | None = None
    format: str | None = None
    taken_at: datetime | None = None
    camera: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None


@dataclass(frozen=True)
class ModelRecord:
    id: int
    model_id: str
    name: str
    dim: int
    renderer_version: int


@dataclass(frozen=True)
class TagRecord:
    photo_id: int
    label: str
    source: str = "user"           # 'machine' | 'user'
    model_id: str | None = None
    score: float | None = None
    created_at: float | None = None

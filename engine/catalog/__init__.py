"""The photo catalog: SQLite through SQLAlchemy 2.0, the library's source of truth.

Import from here: `Catalog`, the record dataclasses, `content_hash`, `SCHEMA_VERSION`.
The ORM models in models.py are internal to this package.
"""

from .hashing import content_hash
from .migrations import SCHEMA_VERSION
from .records import (ModelRecord, PhotoInfo, PhotoMeta, PhotoRecord, PhotoState, RootRecord,
                      TagRecord)
from .store import Catalog

__all__ = ["Catalog", "SCHEMA_VERSION", "content_hash", "ModelRecord", "PhotoInfo", "PhotoMeta",
           "PhotoRecord", "PhotoState", "RootRecord", "TagRecord"]

"""Typed engine errors.

Every failure a user can meet is one of these. Each message says what happened and what to
do next; the CLI and the GUI decide how to show it (stderr + exit code, or a dialog). Nothing
below the CLI calls sys.exit.
"""

from __future__ import annotations


class ClippoError(Exception):
    """Base class. `hint` is the "what to do next" sentence, also folded into str(self)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} {hint}")


class UsageError(ClippoError):
    """The user asked for something malformed (bad option value, bad query syntax)."""

    exit_code = 2


class CheckpointError(ClippoError):
    """A checkpoint file is missing, corrupt, or not a CLIPPO/big_vision checkpoint."""


class ModelNotFoundError(ClippoError):
    """No installed or bundled model has that name."""


class ModelExistsError(ClippoError):
    """A model with that name is already installed."""


class NotFineTunableError(UsageError):
    """The model is a prebuilt graph without canonical weights, so training cannot start from it."""


class ModelIntegrityError(ClippoError):
    """A model package fails its manifest checks (checksum, missing file, bad manifest)."""


class DownloadError(ClippoError):
    """A download failed, was cut short, or does not match its expected size or hash."""


class ImageDecodeError(ClippoError):
    """A photo could not be decoded (corrupt, truncated, not an image, too large)."""


class QueryError(UsageError):
    """A search query is empty or malformed."""


class LibraryLockedError(ClippoError):
    """Another process owns this library."""


class CatalogError(ClippoError):
    """The catalog database is corrupt, too new, or cannot be written."""


class StorageFullError(ClippoError):
    """The disk holding the data directory is full."""


class ReadOnlyError(ClippoError):
    """A folder we must write to (data directory, sidecar folder) is read-only."""

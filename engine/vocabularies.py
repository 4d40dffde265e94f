"""Tag vocabularies: the built-in list of common photo concepts and the user's own lists.

A vocabulary is an ordered list of labels. User lists are plain text files, one label per line,
in any language (labels are rendered as text, so Japanese or Arabic labels work as they are);
blank lines and lines starting with `#` are skipped, a UTF-8 byte-order mark is tolerated and
duplicates keep their first position. `Vocabulary.digest` names the list's content, so label
embeddings can be cached per (model, vocabulary).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import UsageError
from .paths import resources_dir

DEFAULT_NAME = "default_en"
MAX_LABEL_CHARS = 200


@dataclass(frozen=True)
class Vocabulary:
    name: str
    labels: tuple[str, ...]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for label in self.labels:
            h.update(label.encode("utf-8", "surrogatepass") + b"\n")
        return h.hexdigest()[:24]

    def __len__(self) -> int:
        return len(self.labels)


def _clean(labels: Iterable[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for label in labels:
        label = " ".join(label.split())
        if label:
            out.setdefault(label[:MAX_LABEL_CHARS], None)
    return tuple(out)


def from_labels(labels: Iterable[str], name: str = "labels") -> Vocabulary:
    vocab = Vocabulary(name, _clean(labels))
    if not vocab.labels:
        raise UsageError("No labels to tag with.", "Give at least one label.")
    return vocab


def parse_vocabulary(text: str, name: str = "labels") -> Vocabulary:
    lines = text.lstrip("\ufeff").splitlines()
    return from_labels((ln for ln in lines if not ln.lstrip().startswith("#")), name)


def load_vocabulary(path: str | os.PathLike) -> Vocabulary:
    """Read a user list (UTF-8, BOM tolerated). Bad bytes are an error naming the line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"Cannot read the label list {path}: {exc.strerror or exc}.",
                         "Check the file name.") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path} is not UTF-8 text (line {line}).",
                         "Save the list as UTF-8, one label per line.") from exc
    vocab = parse_vocabulary(text, path.stem)
    return vocab


def default_vocabulary() -> Vocabulary:
    """The built-in English list of about 500 everyday photo concepts."""
    return load_vocabulary(resources_dir() / "vocabularies" / f"{DEFAULT_NAME}.txt")

"""Search the library: a query in, ranked photos out, with filters, paging and date sorting.

`Searcher` ties together the model (to embed query terms, cached in a `QueryCache`), the vector
index (nearest neighbours) and the catalog (paths, dates, content hashes, filters). It never
takes the writer lock: searching while another process indexes is fine.

How a search runs:
1. The query is parsed (query.py) and each term embedded once per model (LRU cache); the query
   vector is normalise(sum of weight * term embedding).
2. Filters (folder, date taken, file type) become a set of allowed photo ids (one SQL query,
   cached until the index changes), passed to the index as `filter_ids`.
3. The index is asked for more neighbours than the page needs; exact duplicates (same content
   hash) collapse into the best-scoring one, and `min_score` cuts the tail. If collapsing left
   too few, the index is asked again for twice as many.
4. The page's photo records are read from the catalog.

`sort="date"` orders a relevance pool (the best `date_pool` hits above `min_score`) by date
taken, newest first, undated photos last; paging walks that fixed pool, so pages never overlap.
`total` is the number of photos searched (those passing the filters).
"""

from __future__ import annotations

import os
import threading
import time as _time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Iterable, Sequence

import numpy as np
from sqlalchemy import func, select

from .catalog.models import Photo
from .errors import ImageDecodeError, QueryError, UsageError
from .query import ParsedQuery, Term, parse_query
from .query_cache import QueryCache, image_key

SORTS = ("relevance", "date")
DATE_POOL = 1000
_FORMAT_ALIASES = {"JPG": ("JPEG", "MPO"), "JPEG": ("JPEG", "MPO"), "JPE": ("JPEG", "MPO"),
                   "TIF": ("TIFF",), "HEIC": ("HEIF",), "HEIF": ("HEIF",)}


@dataclass(frozen=True)
class SearchHit:
    photo_id: int
    path: str
    score: float
    taken_at: datetime | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    duplicates: int = 0          # other photos in the library with the same bytes


@dataclass(frozen=True)
class SearchResults:
    query: str
    model: str
    results: list[SearchHit]
    total: int                   # photos searched (after filters)
    offset: int = 0
    terms: tuple[Term, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class Filters:
    folder: str | None = None
    after: datetime | None = None
    before: datetime | None = None
    formats: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.folder, self.after, self.before, self.formats))


def _as_datetime(value: date | datetime | str | None, what: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min)
    return parse_date(value, what)


def parse_date(text: str, what: str = "date") -> datetime:
    """'2021', '2021-06', '2021-06-15' or an ISO date-time -> the moment it starts."""
    text = text.strip()
    try:
        if len(text) == 4 and text.isdigit():
            return datetime(int(text), 1, 1)
        if len(text) == 7 and text[4] == "-":
            return datetime(int(text[:4]), int(text[5:]), 1)
        return datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a {what} I understand.",
                         "Write it as YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM.") from None


def normalise_formats(formats: Iterable[str] | str | None) -> tuple[str, ...] | None:
    """'jpg,png' or ['JPEG', 'heic'] -> ('JPEG', 'MPO', 'PNG', ...) as the catalog stores them."""
    if formats is None:
        return None
    if isinstance(formats, str):
        formats = formats.split(",")
    out: list[str] = []
    for f in formats:
        key = f.strip().lstrip(".").upper()
        if key:
            out.extend(_FORMAT_ALIASES.get(key, (key,)))
    if not out:
        raise UsageError("The file type filter is empty.", "Give types like jpeg,png,heic.")
    return tuple(dict.fromkeys(out))


def make_filters(folder=None, after=None, before=None, formats=None) -> Filters:
    after_dt, before_dt = _as_datetime(after, "date"), _as_datetime(before, "date")
    if after_dt and before_dt and after_dt >= before_dt:
        raise UsageError(f"--after {after_dt:%Y-%m-%d} is not before --before {before_dt:%Y-%m-%d}.",
                         "Swap the two dates.")
    if folder is not None:
        folder = os.path.abspath(os.path.expanduser(os.fsdecode(folder)))
        if "\x00" in folder:
            raise UsageError("The folder filter contains a NUL character.",
                             "Give the folder's path as it is shown in your file manager.")
    return Filters(folder, after_dt, before_dt, normalise_formats(formats))


def _folder_clause(folder: str):
    """Photo.path under `folder`: a range over the path BLOB, so the unique index serves it."""
    prefixes = {folder.rstrip(os.sep) + os.sep}
    real = os.path.realpath(folder)
    prefixes.add(real.rstrip(os.sep) + os.sep)
    nxt = chr(ord(os.sep) + 1)
    clauses = [(Photo.path >= p) & (Photo.path < p[:-1] + nxt) for p in prefixes]
    return clauses[0] if len(clauses) == 1 else clauses[0] | clauses[1]


def filter_photo_ids(catalog, filters: Filters) -> set[int]:
    """Ids of indexed photos passing the filters (one SQL query)."""
    query = select(Photo.id).where(Photo.status == "indexed")
    if filters.folder is not None:
        query = query.where(_folder_clause(filters.folder))
    if filters.after is not None:
        query = query.where(Photo.taken_at >= filters.after)
    if filters.before is not None:
        query = query.where(Photo.taken_at < filters.before)
    if filters.formats is not None:
        query = query.where(func.upper(Photo.format).in_(filters.formats))
    with catalog._read() as s:       # noqa: SLF001 - read-only query the Catalog has no method for
        return set(s.scalars(query))


_ROW_COLUMNS = (Photo.id, Photo.content_hash, Photo.path, Photo.taken_at, Photo.format,
                Photo.width, Photo.height)


def photo_rows(catalog, ids: Sequence[int]) -> dict[int, tuple]:
    """id -> (id, content_hash, path, taken_at, format, width, height), one query per 500."""
    out: dict[int, tuple] = {}
    with catalog._read() as s:       # noqa: SLF001 - read-only query the Catalog has no method for
        for i in range(0, len(ids), 500):
            part = [int(x) for x in ids[i: i + 500]]
            out.update((r[0], tuple(r)) for r in
                       s.execute(select(*_ROW_COLUMNS).where(Photo.id.in_(part))))
    return out


def duplicated_hashes(catalog) -> dict[str, int]:
    """content hash -> number of indexed photos, for hashes held by two or more."""
    query = (select(Photo.content_hash, func.count()).where(Photo.status == "indexed",
                                                            Photo.content_hash.is_not(None))
             .group_by(Photo.content_hash).having(func.count() > 1))
    with catalog._read() as s:       # noqa: SLF001
        return {h: n for h, n in s.execute(query)}


class Searcher:
    """Search one model's vector index. Safe to share between threads."""

    def __init__(self, catalog, index, model, *, variant: str | None = None,
                 cache: QueryCache | None = None, date_pool: int = DATE_POOL):
        if index is not None and getattr(index, "dim", model.dim) != model.dim:
            raise UsageError(f"The vector index holds {index.dim}-d vectors but model "
                             f"{model.name!r} makes {model.dim}-d ones.",
                             "Search with the model the library was indexed with (--model).")
        self.catalog, self.index, self.model, self.variant = catalog, index, model, variant
        self.model_id = model.model_id(variant)
        self.cache = cache if cache is not None else QueryCache()
        self.date_pool = int(date_pool)
        self._filter_cache: OrderedDict[tuple, set[int]] = OrderedDict()
        self._lock = threading.Lock()

    # ---- query embedding -------------------------------------------------------------------

    def parse(self, query: str | Sequence[str] | ParsedQuery) -> ParsedQuery:
        return query if isinstance(query, ParsedQuery) else parse_query(query)

    def embed_terms(self, terms: Sequence[Term]) -> np.ndarray:
        """(T, E) unit embeddings of the terms, from the cache where possible."""
        keys = []
        for t in terms:
            if t.kind == "text":
                keys.append((self.model_id, "text", t.value))
            else:
                try:
                    keys.append((self.model_id, "image", *image_key(t.value)))
                except OSError as exc:
                    raise QueryError(f"Cannot read the query photo {t.value}: {exc.strerror}.",
                                     "Check the path.") from exc
        out: list[np.ndarray | None] = [self.cache.get(k) for k in keys]
        texts = list(dict.fromkeys(terms[i].value for i, v in enumerate(out)
                                   if v is None and terms[i].kind == "text"))
        if texts:
            z = self.model.encode_texts(texts, self.variant)                          # (n, E)
            fresh = {t: self.cache.put((self.model_id, "text", t), row) for t, row in zip(texts, z)}
            out = [fresh.get(terms[i].value) if v is None and terms[i].kind == "text" else v
                   for i, v in enumerate(out)]
        for i, v in enumerate(out):
            if v is None and (row := self._stored(terms[i].value)) is not None:
                out[i] = self.cache.put(keys[i], row)
            elif v is None:
                try:
                    row = self.model.encode_photos([terms[i].value], self.variant)[0]  # (E,)
                except ImageDecodeError as exc:
                    raise QueryError(f"The query photo {terms[i].value} cannot be read: {exc}",
                                     "Use a JPEG, PNG, WebP, HEIC or RAW photo.") from exc
                out[i] = self.cache.put(keys[i], row)
        return np.stack(out)

    def _stored(self, path: str) -> np.ndarray | None:
        """A library photo's stored embedding, when the file is unchanged since indexing.

        It is what the index holds, so the photo finds itself with score 1 (an int8 encoder's
        output depends slightly on the batch a photo was encoded in)."""
        from .tagging import stored_embeddings

        rec = self.catalog.get_photo_by_path(path) if self.catalog is not None else None
        if rec is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if (st.st_size, st.st_mtime_ns) != (rec.size, rec.mtime_ns):
            return None
        return stored_embeddings(self.catalog, self.model_id, [rec.id]).get(rec.id)

    def embed(self, query: str | Sequence[str] | ParsedQuery) -> tuple[ParsedQuery, np.ndarray]:
        """The parsed query and its unit query vector (E,)."""
        parsed = self.parse(query)
        z = self.embed_terms(parsed.terms)                                # (T, E)
        w = np.array([t.weight for t in parsed.terms], np.float64)        # (T,)
        w /= np.abs(w).max()              # scale-free, and 1e308-sized weights cannot overflow
        q = (w[:, None] * z.astype(np.float64)).sum(axis=0)                # (E,)
        norm = float(np.linalg.norm(q))
        if not np.isfinite(norm) or norm < 1e-6:
            raise QueryError("The query's terms cancel each other out.",
                             "Change a weight or remove a subtracted term.")
        return parsed, (q / norm).astype(np.float32)

    # ---- filters ---------------------------------------------------------------------------

    def _allowed(self, filters: Filters) -> set[int] | None:
        if not filters.active:
            return None
        key = (filters, getattr(self.index, "generation", 0), len(self.index))
        with self._lock:
            if key in self._filter_cache:
                self._filter_cache.move_to_end(key)
                return self._filter_cache[key]
        allowed = filter_photo_ids(self.catalog, filters)
        with self._lock:
            self._filter_cache[key] = allowed
            while len(self._filter_cache) > 8:
                self._filter_cache.popitem(last=False)
        return allowed

    # ---- search ----------------------------------------------------------------------------

    def search(self, query: str | Sequence[str] | ParsedQuery, *, top: int = 50, offset: int = 0,
               folder=None, after=None, before=None, formats=None,
               min_score: float | None = None, sort: str = "relevance") -> SearchResults:
        started = _time.perf_counter()
        if sort not in SORTS:
            raise UsageError(f"Unknown sort {sort!r}.", f"Use one of: {', '.join(SORTS)}.")
        if top < 0 or offset < 0:
            raise UsageError("--top and --offset must be zero or more.")
        if min_score is not None and min_score != min_score:
            raise UsageError("--min-score is not a number (NaN).", "Give a cosine such as 0.2.")
        filters = make_filters(folder, after, before, formats)
        parsed, q = self.embed(query)
        allowed = self._allowed(filters)
        total = len(self.index) if allowed is None else len(allowed)
        need = offset + top if sort == "relevance" else max(self.date_pool, offset + top)
        picked = self._collect(q, need, allowed, total, min_score)
        if sort == "relevance":
            picked = picked[offset: offset + top]
        hits = self._hits(picked)
        if sort == "date":
            hits.sort(key=lambda h: (h.taken_at is None, -(h.taken_at.timestamp() if h.taken_at
                                                           else 0.0), -h.score))
            hits = hits[offset: offset + top]
        return SearchResults(parsed.source, self.model.name, hits, total, offset, parsed.terms,
                             _time.perf_counter() - started)

    def _collect(self, q: np.ndarray, need: int, allowed: set[int] | None, total: int,
                 min_score: float | None) -> list[tuple[float, tuple]]:
        """The best `need` (score, row) pairs, exact duplicates collapsed, best first."""
        if need <= 0 or total == 0:
            return []
        k = min(total, max(2 * need, need + 32))
        while True:
            ids, scores = self.index.search(q, k, filter_ids=allowed)  # (k,), (k,)
            ids, scores = ids.tolist(), scores.tolist()
            rows = photo_rows(self.catalog, ids)
            out, seen = [], set()
            for pid, score in zip(ids, scores):
                if min_score is not None and score < min_score:
                    break
                row = rows.get(pid)
                if row is None:     # removed from the catalog since the index was built
                    continue
                if row[1] is not None and row[1] in seen:
                    continue
                seen.add(row[1])
                out.append((float(score), row))
                if len(out) >= need:
                    return out
            cut = min_score is not None and scores and scores[-1] < min_score
            if k >= total or len(ids) < k or cut:
                return out
            k = min(total, 2 * k)

    def _duplicate_counts(self) -> dict[str, int]:
        key = ("dups", getattr(self.index, "generation", 0), len(self.index))
        with self._lock:
            if key in self._filter_cache:
                return self._filter_cache[key]
        counts = duplicated_hashes(self.catalog)
        with self._lock:
            self._filter_cache[key] = counts
        return counts

    def _hits(self, picked: list[tuple[float, tuple]]) -> list[SearchHit]:
        copies = self._duplicate_counts()
        return [SearchHit(pid, path, score, taken, fmt, w, h, copies.get(chash, 1) - 1)
                for score, (pid, chash, path, taken, fmt, w, h) in picked]

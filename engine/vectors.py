"""Nearest-neighbour search over one model's photo embeddings.

The catalog is the source of truth for vectors; this module is a cache that makes search fast.
`VectorIndex` keeps every vector of one model in an in-memory float32 matrix (ids + rows) and,
once the library is larger than `EXACT_THRESHOLD`, an hnswlib graph ('ip' space on unit
vectors, labels = photo ids). `search()` is the one entry point: exact (one matrix product)
for small libraries and small filters, HNSW above the threshold. The threshold and `EF_SEARCH`
come from `bench/vectors.py` (see docs/performance.md).

Only the hnswlib graph is persisted (it is the expensive part: ~1,000 inserts/s on 2 cores).
It is written atomically under a generation-numbered name, then a JSON sidecar naming it, its
size and crc32 and the catalog generation it reflects. The catalog bumps that generation in
the same transaction as every vector change, so on open a mismatch, a missing or damaged file,
or an hnswlib error all lead to a rebuild from the catalog's vectors, never a crash.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zlib
from pathlib import Path
from typing import Callable, Iterable

import hnswlib
import numpy as np

log = logging.getLogger(__name__)

EXACT_THRESHOLD = 25_000   # up to here exact p50 <= ~10 ms on 2 cores (bench/vectors.py)
EF_SEARCH = 192            # recall@10 >= 0.98 at 100k on clustered data (bench/vectors.py)
HNSW_M = 16
EF_CONSTRUCTION = 200
NUM_THREADS = 2
SIDECAR = "index.json"
FORMAT_VERSION = 1

Progress = Callable[[int, int], None]           # (done, total)
LoadVectors = Callable[[], tuple[np.ndarray, np.ndarray]]  # -> ids int64 (N,), vecs float32 (N,D)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)  # (..., 1)
    return vectors / np.maximum(norms, 1e-12)


def _crc32_file(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class VectorIndex:
    """Exact + HNSW search over the unit vectors of one model, keyed by photo id."""

    def __init__(self, directory: Path | str, dim: int, *, exact_threshold: int = EXACT_THRESHOLD,
                 ef_search: int = EF_SEARCH, m: int = HNSW_M):
        self.directory = Path(directory)
        self.dim = int(dim)
        self.exact_threshold = int(exact_threshold)
        self.ef_search = int(ef_search)
        self.m = int(m)
        self.generation = 0
        self.rebuilt = False               # True when open() had to rebuild the graph
        self._lock = threading.RLock()
        self._ids = np.zeros(0, np.int64)                  # (n,)
        self._vecs = np.zeros((0, self.dim), np.float32)   # (capacity, D); rows [0, n) live
        self._n = 0
        self._row: dict[int, int] = {}                     # photo id -> row
        self._hnsw: hnswlib.Index | None = None
        self._hnsw_deleted: set[int] = set()               # labels marked deleted in the graph

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path | str, catalog_generation: int, load_vectors_fn: LoadVectors,
             progress: Progress | None = None, **kw) -> "VectorIndex":
        """Load the matrix from the catalog; load the saved graph or rebuild it if stale."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        ids, vecs = load_vectors_fn()
        ids = np.asarray(ids, dtype=np.int64)
        vecs = np.asarray(vecs, dtype=np.float32)
        if vecs.ndim != 2 or len(vecs) != len(ids):
            raise ValueError(f"load_vectors_fn returned ids {ids.shape} and vectors {vecs.shape}")
        index = cls(directory, vecs.shape[1], **kw)                       # vecs (N, D)
        index._set_matrix(ids, vecs)
        index.generation = int(catalog_generation)
        if index._n <= index.exact_threshold:
            return index
        reason = index._try_load_graph(int(catalog_generation))
        if reason is not None:
            log.warning("rebuilding vector index in %s: %s", directory, reason)
            index._build_graph(progress)
            index.rebuilt = True
            index.save(int(catalog_generation))
        return index

    def _set_matrix(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        sample = vecs[:: max(1, len(vecs) // 256)]
        if len(sample) and not np.allclose(np.linalg.norm(sample, axis=1), 1.0, atol=1e-3):
            vecs = _normalise(vecs)
        if len(np.unique(ids)) != len(ids):
            raise ValueError("duplicate photo ids in the catalog's vectors")
        self._ids, self._vecs, self._n = ids.copy(), vecs, len(ids)
        self._row = dict(zip(ids.tolist(), range(len(ids))))

    def _try_load_graph(self, generation: int) -> str | None:
        """Load the saved graph; return why it cannot be used, or None on success."""
        try:
            meta = json.loads((self.directory / SIDECAR).read_text("utf-8"))
        except FileNotFoundError:
            return "no saved index"
        except (OSError, ValueError) as exc:
            return f"unreadable {SIDECAR} ({exc})"
        try:
            if meta.get("format") != FORMAT_VERSION or meta.get("mode") != "hnsw":
                return "saved index has another format"
            if meta["generation"] != generation:
                return f"generation {meta['generation']} != catalog generation {generation}"
            if meta["count"] != self._n or meta["dim"] != self.dim:
                return "saved index holds a different number of vectors"
            path = self.directory / meta["file"]
            if not path.is_file() or path.stat().st_size != meta["bytes"]:
                return "index file missing or of the wrong size"
            if _crc32_file(path) != meta["crc32"]:
                return "index file checksum mismatch"
            graph = hnswlib.Index(space="ip", dim=self.dim)
            graph.load_index(str(path), max_elements=0, allow_replace_deleted=True)
            graph.set_num_threads(NUM_THREADS)
            labels = np.asarray(graph.get_ids_list(), dtype=np.int64)
            live = np.isin(labels, self._ids)
            if int(live.sum()) != self._n:
                return "index labels differ from the catalog's photo ids"
            probe = self._ids[:: max(1, self._n // 16)]
            stored = np.asarray(graph.get_items(probe), dtype=np.float32)  # (p, D)
            rows = [self._row[int(i)] for i in probe]
            if not np.allclose(stored, self._vecs[rows], atol=1e-4):
                return "index vectors differ from the catalog's"
        except (KeyError, TypeError, RuntimeError, ValueError, OSError) as exc:
            return f"index file unusable ({exc})"
        self._hnsw = graph
        self._hnsw_deleted = set(labels[~live].tolist())
        return None

    def _new_graph(self, capacity: int) -> hnswlib.Index:
        graph = hnswlib.Index(space="ip", dim=self.dim)
        graph.init_index(max_elements=max(capacity, 1024), M=self.m,
                         ef_construction=EF_CONSTRUCTION, allow_replace_deleted=True)
        graph.set_num_threads(NUM_THREADS)
        return graph

    def _build_graph(self, progress: Progress | None = None, chunk: int = 5000) -> None:
        graph = self._new_graph(int(self._n * 1.25))
        for start in range(0, self._n, chunk):
            stop = min(start + chunk, self._n)
            graph.add_items(self._vecs[start:stop], self._ids[start:stop], num_threads=NUM_THREADS)
            if progress is not None:
                progress(stop, self._n)
        self._hnsw, self._hnsw_deleted = graph, set()

    # ---- changes -------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    @property
    def uses_hnsw(self) -> bool:
        return self._hnsw is not None and self._n > self.exact_threshold

    def ids(self) -> np.ndarray:
        return self._ids[: self._n].copy()

    def add(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        """Add or replace vectors (N, D) for photo ids (N,); vectors are normalised here."""
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        vecs = _normalise(np.asarray(vectors).reshape(len(ids), self.dim))  # (N, D)
        if len(np.unique(ids)) != len(ids):
            raise ValueError("add() got the same photo id twice in one call")
        with self._lock:
            existing = np.array([i in self._row for i in ids.tolist()], dtype=bool)
            self._reserve(self._n + int((~existing).sum()))
            for i, v in zip(ids[existing].tolist(), vecs[existing]):
                self._vecs[self._row[i]] = v
            self._append(ids[~existing], vecs[~existing])
            if self._hnsw is not None:
                self._graph_add(ids, vecs, existing)
            elif self._n > self.exact_threshold:
                self._build_graph()

    def _reserve(self, need: int) -> None:
        """Make rows [0, need) writable; the matrix from the catalog may be read-only."""
        if need <= len(self._vecs) and self._vecs.flags.writeable:
            return
        cap = max(need, int(self._n * 1.5), 1024)
        vecs = np.empty((cap, self.dim), np.float32)     # (capacity, D)
        vecs[: self._n] = self._vecs[: self._n]
        ids = np.empty(cap, np.int64)
        ids[: self._n] = self._ids[: self._n]
        self._vecs, self._ids = vecs, ids

    def _append(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        need = self._n + len(ids)
        self._vecs[self._n: need] = vecs
        self._ids[self._n: need] = ids
        for offset, i in enumerate(ids.tolist()):
            self._row[i] = self._n + offset
        self._n = need

    def _graph_add(self, ids: np.ndarray, vecs: np.ndarray, existing: np.ndarray) -> None:
        graph = self._hnsw
        revived = np.array([i in self._hnsw_deleted for i in ids.tolist()], dtype=bool)
        fresh = ~existing & ~revived
        for i in ids[revived].tolist():
            graph.unmark_deleted(i)
            self._hnsw_deleted.discard(i)
        update = existing | revived
        if update.any():   # replace in place: label already has a slot in the graph
            graph.add_items(vecs[update], ids[update], num_threads=NUM_THREADS)
        if fresh.any():
            need = graph.element_count + int(fresh.sum())
            if need > graph.get_max_elements():
                graph.resize_index(max(need, int(graph.get_max_elements() * 1.5)))
            graph.add_items(vecs[fresh], ids[fresh], num_threads=NUM_THREADS, replace_deleted=True)

    def remove(self, ids: Iterable[int]) -> None:
        """Forget photo ids; unknown ids are ignored. The graph marks them deleted."""
        with self._lock:
            for i in (int(x) for x in ids):
                row = self._row.pop(i, None)
                if row is None:
                    continue
                last = self._n - 1
                if row != last:    # move the last row into the hole: the matrix stays dense
                    moved = int(self._ids[last])
                    self._reserve(self._n)
                    self._vecs[row] = self._vecs[last]
                    self._ids[row] = moved
                    self._row[moved] = row
                self._n = last
                if self._hnsw is not None:
                    self._hnsw.mark_deleted(i)
                    self._hnsw_deleted.add(i)

    # ---- search --------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int = 10, filter_ids: Iterable[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k photo ids and cosine scores for query (D,) -> ((k,), (k,)) or (Q, D) -> (Q, k).

        Exact below the threshold or for small filters, HNSW otherwise. Fewer than k results
        come back when fewer than k photos qualify.
        """
        q = np.asarray(query, dtype=np.float32)
        single = q.ndim == 1
        q = _normalise(q.reshape(-1, self.dim))  # (Q, D)
        with self._lock:
            rows = None
            if filter_ids is not None:
                rows = np.fromiter((self._row[i] for i in set(map(int, filter_ids))
                                    if i in self._row), dtype=np.int64)
            size = self._n if rows is None else len(rows)
            k = min(int(k), size)
            if k <= 0:
                out_ids, out_scores = np.zeros((len(q), 0), np.int64), np.zeros((len(q), 0), np.float32)
            elif self.uses_hnsw and size > self.exact_threshold:
                out_ids, out_scores = self._search_hnsw(q, k, rows)
            else:
                out_ids, out_scores = self._search_exact(q, k, rows)
        return (out_ids[0], out_scores[0]) if single else (out_ids, out_scores)

    def _search_exact(self, q: np.ndarray, k: int, rows: np.ndarray | None):
        vecs = self._vecs[: self._n] if rows is None else self._vecs[rows]   # (n, D)
        ids = self._ids[: self._n] if rows is None else self._ids[rows]      # (n,)
        scores = q @ vecs.T                                                  # (Q, n)
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]                 # (Q, k) unordered
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        return ids[top], np.take_along_axis(top_scores, order, axis=1)

    def _search_hnsw(self, q: np.ndarray, k: int, rows: np.ndarray | None):
        ef = max(self.ef_search, 2 * k)
        allowed = None
        if rows is not None:
            allowed = set(self._ids[rows].tolist())
            ef = min(max(ef, int(ef * self._n / max(len(rows), 1))), 4 * self.ef_search + 2 * k)
        self._hnsw.set_ef(ef)
        try:
            labels, dist = self._hnsw.knn_query(
                q, k=k, num_threads=NUM_THREADS,
                filter=None if allowed is None else allowed.__contains__)
        except RuntimeError:     # graph could not find k neighbours: answer exactly instead
            return self._search_exact(q, k, rows)
        return labels.astype(np.int64), (1.0 - dist).astype(np.float32)

    # ---- saving --------------------------------------------------------------------------

    def save(self, generation: int) -> None:
        """Persist the graph atomically as the state of catalog `generation`."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            meta = {"format": FORMAT_VERSION, "generation": int(generation), "count": self._n,
                    "dim": self.dim, "mode": "exact"}
            old = self._saved_file()
            if self._hnsw is not None:
                name = f"hnsw-{int(generation)}.bin"
                path = self.directory / name
                tmp = self.directory / f".{name}.{os.getpid()}.tmp"
                self._hnsw.save_index(str(tmp))
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, path)
                _fsync_dir(self.directory)
                meta.update(mode="hnsw", file=name, bytes=path.stat().st_size,
                            crc32=_crc32_file(path), m=self.m)
            _atomic_write_bytes(self.directory / SIDECAR, json.dumps(meta, indent=1).encode())
            self.generation = int(generation)
            if old is not None and old.name != meta.get("file"):
                old.unlink(missing_ok=True)

    def _saved_file(self) -> Path | None:
        try:
            meta = json.loads((self.directory / SIDECAR).read_text("utf-8"))
            return self.directory / meta["file"] if meta.get("file") else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def memory_bytes(self) -> int:
        """Approximate RAM: the matrix plus the graph (vectors + links)."""
        graph = 0
        if self._hnsw is not None:
            per = self.dim * 4 + self.m * 2 * 4 + 8 + 4 + 16
            graph = self._hnsw.get_max_elements() * per
        return int(self._vecs.nbytes + self._ids.nbytes + graph)

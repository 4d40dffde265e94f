"""Nearest-neighbour search over one model's photo embeddings.

The catalog is the source of truth for vectors; this module is a cache that makes search fast.
`VectorIndex` keeps every vector of one model in a float32 matrix (ids + rows) and, once the
library is larger than `EXACT_THRESHOLD`, an hnswlib graph ('ip' space on unit vectors, labels =
photo ids). `search()` is the one entry point: exact (one matrix product) for small libraries,
small filters and while the graph is not ready yet, HNSW otherwise. The threshold and
`EF_SEARCH` come from `bench/vectors.py` (see docs/performance.md).

Opening fast (bench/open_library.py): `save(generation)` writes the graph and a raw snapshot of
the matrix (vector_files.py), tagged with the catalog generation, which the catalog bumps in
the same transaction as every vector change. `open()` with a matching generation memory-maps
that snapshot and never reads the catalog; the graph is checked (crc32) and loaded in a
background thread while search stays exact. hnswlib's load holds the GIL, so it waits for the
first search (or `GRAPH_LOAD_DELAY_S`) to be served. A mismatch, a damaged file or an hnswlib
error leads to reading the catalog and/or rebuilding the graph, never a crash. Small libraries
(< `BACKGROUND_MIN` vectors) do all of this synchronously inside `open()`.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

import hnswlib
import numpy as np

from . import graph_ops, vector_files
from .vector_files import FORMAT_VERSION, SIDECAR

log = logging.getLogger(__name__)

EXACT_THRESHOLD = 25_000   # up to here exact p50 <= ~10 ms on 2 cores (bench/vectors.py)
EF_SEARCH = 384            # recall@10 >= 0.97 at 200k, text-like queries (bench/vectors.py)
HNSW_M = 16
EF_CONSTRUCTION = 200
NUM_THREADS = 2
BACKGROUND_MIN = 20_000    # from this many vectors on, the graph is loaded/built in a thread
GRAPH_LOAD_DELAY_S = 1.0   # the GIL-holding graph load waits this long for a first search
SAVE_WAIT_S = 60.0         # save() waits this long for a graph that is being loaded

Progress = Callable[[int, int], None]           # (done, total)
LoadVectors = Callable[[], tuple[np.ndarray, np.ndarray]]  # -> ids int64 (N,), vecs float32 (N,D)

def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)  # (..., 1)
    return vectors / np.maximum(norms, 1e-12)


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
        self.rebuilt = False               # True when the saved graph could not be used
        self.from_snapshot = False         # True when open() mapped the saved matrix
        self._lock = threading.RLock()
        self._ids = np.zeros(0, np.int64)                  # (n,)
        self._vecs = np.zeros((0, self.dim), np.float32)   # (capacity, D); rows [0, n) live
        self._n = 0
        self._row_map: dict[int, int] | None = {}          # photo id -> row; None: not built
        self._hnsw: hnswlib.Index | None = None
        self._hnsw_deleted: set[int] = set()               # labels marked deleted in the graph
        self._dirty = False                 # changed since open() or the last save()
        self._saved_matrix: dict | None = None   # sidecar entries of files that hold the
        self._saved_graph: dict | None = None    # current matrix / graph exactly
        self._touched: set[int] | None = None    # ids changed while a graph job runs
        self._job: threading.Thread | None = None
        self._job_kind = ""                      # "load" or "build"
        self._graph_failed = False
        self._go = threading.Event()             # lets a background graph load start
        self._ready = threading.Event()          # set when no graph job is pending
        self._ready.set()
        self._load_vectors_fn: LoadVectors | None = None
        self._snapshot_meta: dict = {}           # the sidecar entry of the mapped snapshot

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path | str, catalog_generation: int, load_vectors_fn: LoadVectors,
             progress: Progress | None = None, *, background: bool | None = None,
             **kw) -> "VectorIndex":
        """Open the saved index of catalog generation `catalog_generation`.

        The matrix comes from the saved snapshot when its generation matches (load_vectors_fn
        is then not called), else from load_vectors_fn. The graph is loaded, or rebuilt with
        `progress`, synchronously below BACKGROUND_MIN vectors and in a background thread above
        (`background` forces either); see `wait_ready()`.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        gen = int(catalog_generation)
        meta, why = vector_files.read_sidecar(directory)
        if meta is not None and meta.get("generation") != gen:
            meta, why = None, f"generation {meta.get('generation')} != catalog generation {gen}"
        snap = vector_files.map_matrix(directory, meta) if meta is not None else why
        if isinstance(snap, tuple):
            ids, vecs = snap                                               # (N,), (N, D)
            index = cls(directory, vecs.shape[1], **kw)
            index._set_matrix(ids, vecs, trusted=True)
            index.from_snapshot = True
            index._saved_matrix = index._snapshot_meta = dict(meta["matrix"])
        else:
            log.info("vector index %s: reading vectors from the catalog (%s)", directory, snap)
            ids, vecs = load_vectors_fn()
            ids = np.asarray(ids, dtype=np.int64)
            vecs = np.asarray(vecs, dtype=np.float32)
            if vecs.ndim != 2 or len(vecs) != len(ids):
                raise ValueError(f"load_vectors_fn returned ids {ids.shape}, vectors {vecs.shape}")
            index = cls(directory, vecs.shape[1], **kw)                   # vecs (N, D)
            index._set_matrix(ids, vecs)
        index.generation = gen
        index._load_vectors_fn = load_vectors_fn
        graph_meta = meta if meta is not None and meta.get("mode") == "hnsw" else None
        reason = why if meta is None else "no saved graph"
        with index._lock:
            index._start_job(graph_meta, reason, progress, index.from_snapshot, background)
        return index

    def _set_matrix(self, ids: np.ndarray, vecs: np.ndarray, trusted: bool = False) -> None:
        """Use ids (N,) and vectors (N, D); `trusted`: our own snapshot (unit rows, unique ids)."""
        if not trusted:
            sample = vecs[:: max(1, len(vecs) // 256)]
            if len(sample) and not np.allclose(np.linalg.norm(sample, axis=1), 1.0, atol=1e-3):
                vecs = _normalise(vecs)
            if len(np.unique(ids)) != len(ids):
                raise ValueError("duplicate photo ids in the catalog's vectors")
        self._ids, self._vecs, self._n = np.array(ids, np.int64), vecs, len(ids)
        self._row_map = None     # built on first use: a plain search does not need it

    @property
    def _row(self) -> dict[int, int]:
        if self._row_map is None:
            self._row_map = dict(zip(self._ids[: self._n].tolist(), range(self._n)))
        return self._row_map

    def _start_job(self, graph_meta: dict | None, reason: str, progress: Progress | None,
                   verify_matrix: bool, background: bool | None) -> None:
        """Check the snapshot and load or build the graph, here or in a thread (lock held)."""
        need_graph = self._n > self.exact_threshold
        if not need_graph and not verify_matrix:
            return
        graph_file: BinaryIO | None = None
        if need_graph and graph_meta is not None:
            if graph_meta.get("count") != self._n or graph_meta.get("dim") != self.dim:
                reason = "saved index holds a different number of vectors"
            else:
                opened = vector_files.open_graph_file(self.directory, graph_meta)
                graph_file, reason = (None, opened) if isinstance(opened, str) else (opened, "")
        run_bg = self._n >= BACKGROUND_MIN if background is None else bool(background)
        self._touched = set()
        self._ready.clear()
        self._go.clear()
        self._job_kind = "load" if graph_file is not None else "build"
        mapped = (self._vecs, self._ids) if verify_matrix else None    # as mapped, before changes
        args = (graph_file, graph_meta, reason, progress, mapped, need_graph, run_bg)
        if run_bg:
            self._job = threading.Thread(target=self._run_job, args=args, daemon=True,
                                         name=f"vector-index {self.directory.name}")
            self._job.start()
        else:
            self._run_job(*args)

    def _run_job(self, graph_file: BinaryIO | None, graph_meta: dict | None, reason: str,
                 progress: Progress | None, mapped: tuple | None, need_graph: bool,
                 background: bool) -> None:
        t0 = time.perf_counter()
        try:
            if mapped is not None and not self._verify_matrix(*mapped):
                reason = "the matrix snapshot was damaged"
                if graph_file is not None:
                    graph_file.close()
                graph_file = None
            if need_graph and graph_file is not None:
                try:
                    reason = vector_files.check_crc(graph_file, graph_meta.get("crc32"))
                    if not reason:
                        if background:         # let the caller's first search go first
                            self._go.wait(GRAPH_LOAD_DELAY_S)
                        graph = vector_files.load_graph(graph_file, self.dim, NUM_THREADS)
                        reason = graph if isinstance(graph, str) else self._install_loaded(
                            graph, {k: graph_meta[k] for k in ("file", "bytes", "crc32")})
                finally:
                    graph_file.close()
            if need_graph and self._hnsw is None:
                if reason:        # else: the library just grew past the exact threshold
                    log.warning("rebuilding the vector index in %s: %s", self.directory, reason)
                    self.rebuilt = True
                self._job_kind = "build"
                self._install_built(self._build_rows(progress))
            with self._lock:
                missing = self._saved_matrix is None or (self._hnsw is not None
                                                         and self._saved_graph is None)
                if not self._dirty and missing:
                    self._save_locked(self.generation)
            log.info("vector index %s ready in %.2f s (%s)", self.directory,
                     time.perf_counter() - t0, "hnsw" if self._hnsw is not None else "exact")
        except Exception:
            self._graph_failed = True
            if not background:
                raise
            log.exception("vector index %s: preparing the graph failed; search stays exact",
                          self.directory)
        finally:
            with self._lock:
                self._touched = None
            self._ready.set()

    def _verify_matrix(self, vecs: np.ndarray, ids: np.ndarray) -> bool:
        """Check the mapped snapshot's crc32s; if damaged, reload it from the catalog."""
        snap = self._snapshot_meta
        if (snap.get("vectors_crc32") in (None, vector_files.matrix_crc(vecs))
                and snap.get("ids_crc32") in (None, vector_files.matrix_crc(ids))):
            return True
        log.error("vector index %s: the matrix snapshot is damaged; reading the catalog",
                  self.directory)
        with self._lock:             # rare: block changes so none is lost in the swap
            ids, vecs = self._load_vectors_fn()
            self._set_matrix(np.asarray(ids, np.int64), np.asarray(vecs, np.float32))
            self._saved_matrix, self.from_snapshot = None, False
            self._dirty = True       # the catalog may be ahead of self.generation now
            self._touched = set()
        return False

    def _install_loaded(self, graph: hnswlib.Index, entry: dict) -> str:
        """Check a loaded graph against the matrix and make it live; '' or why not."""
        with self._lock:
            touched = self._touched or set()
            ids = self._ids[: self._n]                                     # (n,)
            untouched = ids[~np.isin(ids, list(touched))] if touched else ids
            labels = np.asarray(graph.get_ids_list(), dtype=np.int64)
            if not np.isin(untouched, labels).all():
                return "index labels differ from the catalog's photo ids"
            probe = untouched[:: max(1, len(untouched) // 16)]
            try:
                stored = np.asarray(graph.get_items(probe), dtype=np.float32)   # (p, D)
            except RuntimeError as exc:
                return f"index file unusable ({exc})"
            mine = self._vecs[[self._row[int(i)] for i in probe]]           # (p, D)
            if len(probe) and not np.allclose(stored, mine, atol=1e-4):
                return "index vectors differ from the catalog's"
            changed = bool(touched)
            self._hnsw_deleted = set()
            for label in labels[~np.isin(labels, ids)].tolist():
                try:
                    graph.mark_deleted(label)
                    changed = True
                except RuntimeError:      # already marked deleted in the file
                    pass
                self._hnsw_deleted.add(label)
            self._reconcile(graph, touched)
            self._hnsw, self._touched = graph, None
            self._saved_graph = None if changed else entry
        return ""

    def _install_built(self, graph: hnswlib.Index) -> None:
        with self._lock:
            self._hnsw_deleted = set()
            self._reconcile(graph, self._touched or set())
            self._hnsw, self._saved_graph, self._touched = graph, None, None

    def _reconcile(self, graph: hnswlib.Index, touched: set[int]) -> None:
        """Apply to `graph` the changes made to `touched` ids while it was loading/building."""
        live_ids = [i for i in touched if i in self._row]
        for i in touched.difference(live_ids):
            try:
                graph.mark_deleted(i)
                self._hnsw_deleted.add(i)
            except RuntimeError:          # not in the graph, or deleted there already
                pass
        if not live_ids:
            return
        ids = np.array(live_ids, dtype=np.int64)                            # (t,)
        vecs = np.asarray(self._vecs[[self._row[i] for i in live_ids]], np.float32)   # (t, D)
        live = graph_ops.live_mask(graph, live_ids, self._hnsw_deleted)     # (t,)
        graph_ops.upsert(graph, ids, vecs, live, self._hnsw_deleted, NUM_THREADS)

    def _build_rows(self, progress: Progress | None = None, chunk: int = 5000) -> hnswlib.Index:
        """A new graph of the current rows; changes meanwhile are left to _reconcile."""
        with self._lock:
            ids0 = self._ids[: self._n].copy()                             # (n,)
        graph = graph_ops.new_graph(self.dim, int(len(ids0) * 1.25), self.m,
                                     EF_CONSTRUCTION, NUM_THREADS)
        for start in range(0, len(ids0), chunk):
            with self._lock:      # rows move on remove(): gather this chunk's ids under the lock
                part = [i for i in ids0[start: start + chunk].tolist() if i in self._row]
                vecs = np.asarray(self._vecs[[self._row[i] for i in part]], np.float32)  # (b, D)
            if part:              # hnswlib releases the GIL while inserting
                graph.add_items(vecs, np.array(part, np.int64), num_threads=NUM_THREADS)
            if progress is not None:
                progress(min(start + chunk, len(ids0)), len(ids0))
        return graph

    def _build_graph(self, progress: Progress | None = None, chunk: int = 5000) -> None:
        """Build the graph of the current rows here and now (used by benchmarks)."""
        self._install_built(self._build_rows(progress, chunk))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the graph is loaded or rebuilt (or known unusable); True when done."""
        self._go.set()
        return self._ready.wait(timeout)

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
            self._changed()
            if self._hnsw is not None:
                graph_ops.upsert(self._hnsw, ids, vecs, existing, self._hnsw_deleted, NUM_THREADS)
                self._saved_graph = None
            elif self._touched is not None:
                self._touched.update(ids.tolist())
            elif self._n > self.exact_threshold and not self._graph_failed:
                self._start_job(None, "", None, False, None)

    def _changed(self) -> None:
        self._dirty = True
        self._saved_matrix = None

    def _reserve(self, need: int) -> None:
        """Make rows [0, need) writable; a mapped snapshot is copied into RAM here."""
        if need <= len(self._vecs) and self._vecs.flags.writeable:
            return
        cap = max(need, int(self._n * 1.5), 1024) if need > len(self._vecs) else max(need, 1024)
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
                self._changed()
                if self._hnsw is not None:
                    self._hnsw.mark_deleted(i)
                    self._hnsw_deleted.add(i)
                    self._saved_graph = None
                elif self._touched is not None:
                    self._touched.add(i)

    # ---- search --------------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int = 10, filter_ids: Iterable[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k photo ids and cosine scores for query (D,) -> ((k,), (k,)) or (Q, D) -> (Q, k).

        Exact below the threshold, for small filters and until the graph is ready; HNSW
        otherwise. Fewer than k results come back when fewer than k photos qualify.
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
        if not self._go.is_set():   # the first answer is out: a pending graph load may start
            self._go.set()
        return (out_ids[0], out_scores[0]) if single else (out_ids, out_scores)

    def _search_exact(self, q: np.ndarray, k: int, rows: np.ndarray | None):
        vecs = self._vecs[: self._n] if rows is None else self._vecs[rows]   # (n, D)
        ids = self._ids[: self._n] if rows is None else self._ids[rows]      # (n,)
        scores = np.asarray(q @ vecs.T)                                      # (Q, n)
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
        """Persist matrix and graph atomically as the state of catalog `generation`.

        Parts unchanged since they were last written are not written again. A graph that is
        still being loaded is waited for (up to SAVE_WAIT_S); one still being rebuilt is left
        out, and the next open rebuilds it from the saved matrix in the background.
        """
        job = self._job
        if (job is not None and job is not threading.current_thread() and self._job_kind == "load"
                and not self._ready.is_set()):
            self._go.set()
            self._ready.wait(SAVE_WAIT_S)
        with self._lock:
            self._save_locked(int(generation))

    def _save_locked(self, generation: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT_VERSION, "generation": generation, "count": self._n,
                "dim": self.dim, "mode": "exact", "m": self.m}
        if not vector_files.still_there(self.directory, self._saved_matrix, vector_files.MATRIX_KEYS):
            self._saved_matrix = vector_files.write_matrix(
                self.directory, generation, self._ids[: self._n], self._vecs[: self._n])
        meta["matrix"] = self._saved_matrix
        if self._hnsw is not None:
            if not vector_files.still_there(self.directory, self._saved_graph,
                                            vector_files.GRAPH_KEYS):
                self._saved_graph = vector_files.write_graph(self.directory, generation, self._hnsw)
            meta.update(mode="hnsw", **self._saved_graph)
        vector_files.write_sidecar(self.directory, meta)
        vector_files.remove_unreferenced(self.directory, meta)
        self.generation = generation
        self._dirty = False

    def memory_bytes(self) -> int:
        """Approximate RAM: the matrix (mapped or not) plus the graph (vectors + links)."""
        graph = 0
        if self._hnsw is not None:
            per = self.dim * 4 + self.m * 2 * 4 + 8 + 4 + 16
            graph = self._hnsw.get_max_elements() * per
        return int(self._vecs.nbytes + self._ids.nbytes + graph)

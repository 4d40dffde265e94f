"""The on-disk form of a VectorIndex: a JSON sidecar, the hnswlib graph and a matrix snapshot.

Why a matrix snapshot: the catalog (SQLite) is the source of truth for vectors, but reading
100k 768-d blobs out of it takes seconds. A raw float32 copy of the index's matrix, written with
every save and tagged with the catalog generation it reflects, can be memory-mapped in
milliseconds instead. Files are named by generation and written atomically; the sidecar, written
last, names the ones that belong together with their sizes and crc32s, so a crash at any point
leaves either the old set or the new one. Anything that does not check out is reported as a
reason string and the caller falls back to the catalog.

Layout of a folder: `index.json`, `hnsw-{gen}.bin` (only above the exact-search threshold),
`vectors-{gen}.f32` (N x D little-endian float32, no header), `ids-{gen}.npy` (int64 (N,)).
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from pathlib import Path
from typing import BinaryIO

import hnswlib
import numpy as np

from .atomic import atomic_write, fsync_dir, write_bytes_atomic

SIDECAR = "index.json"
FORMAT_VERSION = 2          # 1: graph only (the matrix came from the catalog on every open)
READABLE_FORMATS = (1, 2)
_PATTERNS = ("hnsw-*.bin", "vectors-*.f32", "ids-*.npy")


def crc32_stream(f: BinaryIO, chunk: int = 8 << 20) -> int:
    """crc32 of a file object from its start (zlib and reads release the GIL)."""
    f.seek(0)
    crc, buf = 0, bytearray(chunk)
    view = memoryview(buf)
    while n := f.readinto(buf):
        crc = zlib.crc32(view[:n], crc)
    return crc


def crc32_file(path: Path) -> int:
    with open(path, "rb") as f:
        return crc32_stream(f)


def read_sidecar(directory: Path) -> tuple[dict | None, str]:
    """The sidecar's contents, or None and why it cannot be used."""
    try:
        meta = json.loads((directory / SIDECAR).read_text("utf-8"))
    except FileNotFoundError:
        return None, "no saved index"
    except (OSError, ValueError) as exc:
        return None, f"unreadable {SIDECAR} ({exc})"
    if not isinstance(meta, dict) or meta.get("format") not in READABLE_FORMATS:
        return None, "saved index has another format"
    return meta, ""


def write_sidecar(directory: Path, meta: dict) -> None:
    write_bytes_atomic(directory / SIDECAR, json.dumps(meta, indent=1).encode("utf-8"))


# ---- matrix snapshot ----------------------------------------------------------------------------

def matrix_crc(vecs: np.ndarray, chunk_rows: int = 16384) -> int:
    """crc32 of a float32 (N, D) matrix or int64 (N,) ids as stored on disk (GIL-free)."""
    crc, dtype = 0, "<f4" if vecs.dtype == np.float32 else "<i8"
    for start in range(0, len(vecs), chunk_rows):
        block = np.ascontiguousarray(vecs[start: start + chunk_rows], dtype=dtype)   # (b, ...)
        crc = zlib.crc32(memoryview(block).cast("B"), crc)
    return crc


def write_matrix(directory: Path, generation: int, ids: np.ndarray, vecs: np.ndarray,
                 chunk_rows: int = 16384) -> dict:
    """Write ids (N,) and vectors (N, D) atomically; return their sidecar entry."""
    n, dim = vecs.shape
    name, ids_name = f"vectors-{generation}.f32", f"ids-{generation}.npy"
    with atomic_write(directory / name) as f:
        for start in range(0, n, chunk_rows):
            block = np.ascontiguousarray(vecs[start: start + chunk_rows], dtype="<f4")  # (b, D)
            f.write(memoryview(block).cast("B"))
    crc = matrix_crc(vecs, chunk_rows)
    with atomic_write(directory / ids_name) as f:
        np.save(f, np.ascontiguousarray(ids, dtype="<i8"), allow_pickle=False)
    return {"vectors": name, "vectors_bytes": n * dim * 4, "vectors_crc32": crc,
            "ids": ids_name, "ids_bytes": (directory / ids_name).stat().st_size,
            "ids_crc32": matrix_crc(np.asarray(ids, np.int64)),
            "count": int(n), "dim": int(dim)}


def map_matrix(directory: Path, meta: dict) -> tuple[np.ndarray, np.ndarray] | str:
    """Memory-map the snapshot named by a sidecar: (ids (N,), vectors (N, D) read-only), or why not.

    Only sizes and shapes are checked here (cheap); the crc32 is the caller's to verify later.
    """
    snap = meta.get("matrix")
    if not isinstance(snap, dict):
        return "no matrix snapshot"
    try:
        n, dim = int(snap["count"]), int(snap["dim"])
        if n != meta.get("count") or dim != meta.get("dim"):
            return "matrix snapshot disagrees with the sidecar"
        vec_path, ids_path = directory / snap["vectors"], directory / snap["ids"]
        if vec_path.stat().st_size != n * dim * 4 or vec_path.stat().st_size != snap["vectors_bytes"]:
            return "matrix snapshot has the wrong size"
        if ids_path.stat().st_size != snap["ids_bytes"]:
            return "id snapshot has the wrong size"
        ids = np.load(ids_path, allow_pickle=False)
        if ids.shape != (n,) or ids.dtype != np.int64:
            return "id snapshot has the wrong shape"
        if n == 0:
            return ids, np.zeros((0, dim), np.float32)
        vecs = np.memmap(vec_path, dtype="<f4", mode="r", shape=(n, dim))   # (N, D)
    except FileNotFoundError:
        return "matrix snapshot missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"matrix snapshot unusable ({exc})"
    return ids, vecs


# ---- graph --------------------------------------------------------------------------------------

def write_graph(directory: Path, generation: int, graph: hnswlib.Index) -> dict:
    """Save the graph atomically; return its sidecar entry (file, bytes, crc32)."""
    name = f"hnsw-{generation}.bin"
    path = directory / name
    tmp = directory / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        graph.save_index(str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
            crc = crc32_stream(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(directory)
    return {"file": name, "bytes": path.stat().st_size, "crc32": crc}


def open_graph_file(directory: Path, meta: dict) -> BinaryIO | str:
    """Open the sidecar's graph file (held open so a later save cannot pull it away), or why not."""
    try:
        f = open(directory / meta["file"], "rb")
    except FileNotFoundError:
        return "index file missing"
    except (OSError, KeyError, TypeError) as exc:
        return f"index file unusable ({exc})"
    if os.fstat(f.fileno()).st_size != meta.get("bytes"):
        f.close()
        return "index file of the wrong size"
    return f


def check_crc(f: BinaryIO, expected: int | None) -> str:
    """'' when the open file's crc32 matches (or none is recorded), else why not (GIL-free)."""
    try:
        if expected is not None and crc32_stream(f) != expected:
            return "index file checksum mismatch"
    except OSError as exc:
        return f"index file unreadable ({exc})"
    return ""


def load_graph(f: BinaryIO, dim: int, num_threads: int) -> hnswlib.Index | str:
    """Load the graph from an open file, or say why not.

    hnswlib's load_index holds the GIL for its whole run (~0.5 s per 100k x 768 on 2 cores), so
    callers in a background thread still stall the others for that long. On Linux the open file
    is loaded through /proc/self/fd: it is the file that was checked, even if a concurrent save
    replaced or removed the name since.
    """
    proc_path = f"/proc/self/fd/{f.fileno()}"
    path = proc_path if os.path.exists(proc_path) else f.name
    try:
        graph = hnswlib.Index(space="ip", dim=dim)
        graph.load_index(path, max_elements=0, allow_replace_deleted=True)
        graph.set_num_threads(num_threads)
        return graph
    except (RuntimeError, ValueError, OSError, MemoryError) as exc:
        return f"index file unusable ({exc})"


def still_there(directory: Path, entry: dict | None, keys: tuple[tuple[str, str], ...]) -> bool:
    """Whether the files a sidecar entry names still exist with their recorded sizes."""
    if entry is None:
        return False
    try:
        return all((directory / entry[name]).stat().st_size == entry[size] for name, size in keys)
    except (OSError, KeyError, TypeError):
        return False


GRAPH_KEYS = (("file", "bytes"),)
MATRIX_KEYS = (("vectors", "vectors_bytes"), ("ids", "ids_bytes"))


def remove_unreferenced(directory: Path, meta: dict) -> None:
    """Delete older generations' graph and snapshot files that the sidecar no longer names.

    Newer ones are left alone: they may belong to another process's later save.
    """
    snap = meta.get("matrix") or {}
    keep = {meta.get("file"), snap.get("vectors"), snap.get("ids")}
    for pattern in _PATTERNS:
        for path in directory.glob(pattern):
            try:
                older = int(path.name.split("-", 1)[1].split(".", 1)[0]) < meta["generation"]
            except ValueError:
                older = False
            if older and path.name not in keep:
                try:
                    path.unlink()
                except OSError:      # e.g. still mapped on Windows: the next save retries
                    pass

"""An LRU cache of query-term embeddings, so retyping, paging and re-sorting cost nothing.

Keys name the model (its id changes with its ONNX file, so a new model never reuses another's
vectors) and the term: the exact text sent to the encoder, or an image's absolute path with its
size and mtime (an edited photo is re-encoded). Values are read-only float32 (E,) vectors.
Thread-safe: the GUI searches from a worker thread while the UI thread may page.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Hashable

import numpy as np

DEFAULT_SIZE = 512


def image_key(path: str) -> tuple:
    """(path, size, mtime_ns) of an image term; a changed file gets a new key."""
    st = os.stat(path)
    return (os.path.abspath(path), st.st_size, st.st_mtime_ns)


class QueryCache:
    def __init__(self, maxsize: int = DEFAULT_SIZE):
        self.maxsize = int(maxsize)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, vector: np.ndarray) -> np.ndarray:
        vector = np.array(vector, dtype=np.float32, copy=True)  # (E,)
        vector.setflags(write=False)
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

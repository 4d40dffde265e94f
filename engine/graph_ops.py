"""Edits of an hnswlib graph that keep one live slot per photo id.

hnswlib has three ways a label can be present: live, marked deleted, or gone (its slot reused by
`replace_deleted`). Adding a label the wrong way either throws or creates a duplicate, so every
insert into a VectorIndex graph goes through `upsert`, which knows the three cases.
"""

from __future__ import annotations

import hnswlib
import numpy as np


def new_graph(dim: int, capacity: int, m: int, ef_construction: int, threads: int) -> hnswlib.Index:
    graph = hnswlib.Index(space="ip", dim=dim)
    graph.init_index(max_elements=max(capacity, 1024), M=m, ef_construction=ef_construction,
                     allow_replace_deleted=True)
    graph.set_num_threads(threads)
    return graph


def upsert(graph: hnswlib.Index, ids: np.ndarray, vecs: np.ndarray, live: np.ndarray,
           deleted: set[int], threads: int) -> None:
    """Put vectors (N, D) under labels ids (N,).

    live (N,) bool: the label is live in the graph (updated in place). Labels in `deleted` (the
    caller's set of labels marked deleted; updated here) are revived; the rest are added, reusing
    deleted slots and growing the graph as needed.
    """
    revived = np.zeros(len(ids), dtype=bool)
    for k, i in enumerate(ids.tolist()):
        if not live[k] and i in deleted:
            deleted.discard(i)
            try:
                graph.unmark_deleted(i)
                revived[k] = True
            except RuntimeError:      # its slot went to another label: add it afresh
                pass
    update, fresh = live | revived, ~(live | revived)
    if update.any():                  # replace in place: the label has a slot already
        graph.add_items(vecs[update], ids[update], num_threads=threads)
    if fresh.any():
        need = graph.element_count + int(fresh.sum())
        if need > graph.get_max_elements():
            graph.resize_index(max(need, int(graph.get_max_elements() * 1.5)))
        graph.add_items(vecs[fresh], ids[fresh], num_threads=threads, replace_deleted=True)


def live_mask(graph: hnswlib.Index, ids: list[int], deleted: set[int]) -> np.ndarray:
    """(N,) bool: which labels are live in the graph (one lookup each; for small batches)."""
    live = np.zeros(len(ids), dtype=bool)
    for k, i in enumerate(ids):
        try:
            live[k] = i not in deleted and len(graph.get_items([i])) == 1
        except RuntimeError:          # not in the graph
            pass
    return live

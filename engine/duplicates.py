"""Exact and near-duplicate photos.

Exact duplicates share a content hash (same bytes): they are listed in their own groups.
Near-duplicates are different files whose embeddings are within a cosine threshold (re-encoded,
resized, lightly edited or burst shots). Instead of comparing all pairs (n^2), each photo asks
the vector index for its k nearest neighbours; pairs above the threshold are joined with
union-find, so a chain a~b~c forms one group. Each near group is scored with the minimum and
mean pairwise cosine of its members. Exact copies take part through one representative (the
lowest id), so a byte copy never makes a near-duplicate group on its own.

The default threshold (0.95) is for trained CLIPPO models; see docs/performance.md for what
the tests' random-weight golden model needs (it packs distinct photos much closer together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sqlalchemy import func, select

from .catalog.models import Embedding, Model, Photo
from .errors import UsageError

DEFAULT_THRESHOLD = 0.95
NEIGHBOURS = 8
BATCH = 256
MAX_PAIRWISE = 256      # members used to score a very large group


@dataclass(frozen=True)
class ExactGroup:
    content_hash: str
    photo_ids: list[int]
    paths: list[str]


@dataclass(frozen=True)
class NearGroup:
    photo_ids: list[int]
    paths: list[str]
    min_similarity: float
    mean_similarity: float


@dataclass(frozen=True)
class DuplicateReport:
    threshold: float
    exact: list[ExactGroup]
    near: list[NearGroup]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:                       # path compression
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def exact_groups(catalog, model_id: str | None = None) -> list[ExactGroup]:
    """Photos sharing a content hash, largest groups first."""
    query = select(Photo.content_hash, Photo.id, Photo.path).where(
        Photo.status == "indexed", Photo.content_hash.is_not(None))
    dup_hashes = (select(Photo.content_hash).where(Photo.status == "indexed")
                  .group_by(Photo.content_hash).having(func.count() > 1))
    query = query.where(Photo.content_hash.in_(dup_hashes))
    if model_id is not None:
        embedded = (select(Embedding.photo_id).join(Model, Model.id == Embedding.model_row_id)
                    .where(Model.model_id == model_id))
        query = query.where(Photo.id.in_(embedded))
    groups: dict[str, ExactGroup] = {}
    with catalog._read() as s:       # noqa: SLF001 - read-only query the Catalog has no method for
        for h, pid, path in s.execute(query.order_by(Photo.content_hash, Photo.id)):
            g = groups.setdefault(h, ExactGroup(h, [], []))
            g.photo_ids.append(pid)
            g.paths.append(path)
    out = [g for g in groups.values() if len(g.photo_ids) > 1]
    return sorted(out, key=lambda g: (-len(g.photo_ids), g.photo_ids[0]))


def _model_row(catalog, model_id: str) -> int:
    for m in catalog.list_models():
        if m.model_id == model_id:
            return m.id
    raise UsageError(f"The library has no embeddings from model {model_id}.",
                     "Index the library with this model first (--index DIR --model NAME).")


def find_duplicates(catalog, index, model_id: str, *, threshold: float = DEFAULT_THRESHOLD,
                    neighbours: int = NEIGHBOURS,
                    progress: Callable[[int, int], None] | None = None) -> DuplicateReport:
    """Exact groups (same bytes) and near-duplicate groups (cosine >= threshold)."""
    if not -1.0 <= threshold <= 1.0:
        raise UsageError(f"--threshold {threshold} is not a cosine similarity.",
                         "Use a number between -1 and 1, e.g. 0.95.")
    exact = exact_groups(catalog, model_id)
    ids, vecs = catalog.load_all_vectors(_model_row(catalog, model_id))   # (N,), (N, D)
    rep = {pid: g.photo_ids[0] for g in exact for pid in g.photo_ids}     # copy -> representative
    row = {int(pid): r for r, pid in enumerate(ids.tolist())}
    reps = np.array([i for i in ids.tolist() if rep.get(i, i) == i], np.int64)
    uf = _UnionFind()
    k = min(neighbours + 1, len(index))
    for start in range(0, len(reps), BATCH):
        batch = reps[start: start + BATCH]
        nn_ids, nn_scores = index.search(vecs[[row[int(i)] for i in batch]], k)   # (B, k)
        for pid, line_ids, line_scores in zip(batch.tolist(), nn_ids.tolist(), nn_scores.tolist()):
            for other, score in zip(line_ids, line_scores):
                other = rep.get(other, other)
                if other != pid and score >= threshold and other in row:
                    uf.union(pid, other)
        if progress is not None:
            progress(min(start + BATCH, len(reps)), len(reps))
    members: dict[int, list[int]] = {}
    for pid in uf.parent:
        members.setdefault(uf.find(pid), []).append(pid)
    near = [_score(sorted(m), vecs, row) for m in members.values() if len(m) > 1]
    paths = {r.id: r.path for r in catalog.get_photos([p for g in near for p in g.photo_ids])}
    near = [NearGroup(g.photo_ids, [paths.get(p, "") for p in g.photo_ids], g.min_similarity,
                      g.mean_similarity) for g in near]
    near.sort(key=lambda g: (-g.mean_similarity, -len(g.photo_ids), g.photo_ids[0]))
    return DuplicateReport(float(threshold), exact, near)


def _score(member_ids: list[int], vecs: np.ndarray, row: dict[int, int]) -> NearGroup:
    sample = member_ids[:MAX_PAIRWISE]
    v = vecs[[row[i] for i in sample]].astype(np.float32)           # (m, D)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T                                                   # (m, m)
    upper = sims[np.triu_indices(len(sample), k=1)]                  # (m(m-1)/2,)
    return NearGroup(member_ids, [], float(upper.min()), float(upper.mean()))

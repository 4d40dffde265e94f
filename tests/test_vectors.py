"""VectorIndex: exact and HNSW search behind one call, atomic saves, rebuilds instead of crashes."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from clippo_desktop.engine import vectors
from clippo_desktop.engine.catalog import Catalog, PhotoInfo
from clippo_desktop.engine.vectors import SIDECAR, VectorIndex

D = 48


def clustered(n: int, seed: int = 0, topics: int = 40) -> np.ndarray:
    """Unit vectors around random topic centres with a shared direction (like photo embeddings)."""
    rng = np.random.default_rng(seed)
    unit = lambda m: (lambda v: v / np.linalg.norm(v, axis=1, keepdims=True))(rng.standard_normal((m, D)))
    common, centres = unit(1), unit(topics)
    x = 0.5 * common + centres[rng.integers(topics, size=n)] + 0.8 * unit(n)    # (n, D)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def brute_force(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return ids[np.argsort(-(x @ q))[:k]]


def saved(directory, n=2000, threshold=500, gen=3, seed=0):
    x = clustered(n, seed)
    ids = np.arange(100, 100 + n, dtype=np.int64)
    index = VectorIndex(directory, D, exact_threshold=threshold)
    index.add(ids, x)
    index.save(gen)
    return ids, x, index


def test_exact_search_returns_the_true_top_k_in_order(tmp_path):
    x = clustered(300)
    ids = np.arange(1, 301) * 7
    index = VectorIndex(tmp_path, D)
    index.add(ids, x * 3.0)                       # normalised on the way in
    found, scores = index.search(x[5], k=10)
    assert found.tolist() == brute_force(x, ids, x[5], 10).tolist()
    assert found[0] == ids[5] and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert np.all(np.diff(scores) <= 0)
    batch_ids, batch_scores = index.search(x[:4], k=3)
    assert batch_ids.shape == batch_scores.shape == (4, 3)
    assert index.search(x[0], k=1000)[0].shape == (300,)


def test_add_replaces_existing_ids_and_remove_ignores_unknown_ones(tmp_path):
    x = clustered(50)
    index = VectorIndex(tmp_path, D)
    index.add(range(50), x)
    index.add([7], x[20:21])                      # photo 7 now looks like photo 20
    assert len(index) == 50
    assert set(index.search(x[20], k=2)[0].tolist()) == {7, 20}
    index.remove([20, 999])
    assert len(index) == 49 and 20 not in index.ids()
    assert index.search(x[20], k=1)[0].tolist() == [7]


def test_hnsw_takes_over_above_the_threshold_with_recall_at_least_095(tmp_path):
    ids, x, index = saved(tmp_path, n=3000, threshold=500)
    assert index.uses_hnsw
    queries = clustered(50, seed=9)
    found, _ = index.search(queries, k=10)
    recall = np.mean([len(set(f) & set(brute_force(x, ids, q, 10))) / 10 for f, q in zip(found, queries)])
    assert recall >= 0.95


def test_filter_limits_results_in_both_exact_and_hnsw_modes(tmp_path):
    ids, x, index = saved(tmp_path, n=2000, threshold=500)
    small = set(ids[::50].tolist())               # 40 ids: answered exactly
    large = set(ids[::2].tolist())                # 1000 ids: answered by the graph
    for allowed in (small, large):
        found, _ = index.search(x[1], k=10, filter_ids=allowed | {-5})
        assert len(found) == 10 and set(found.tolist()) <= allowed
    found, _ = index.search(x[0], k=10, filter_ids=large)
    assert found[0] == ids[0]


def test_saved_index_opens_without_rebuilding_when_generations_match(tmp_path):
    ids, x, index = saved(tmp_path, gen=3)
    before = index.search(x[:5], k=10)[0]
    reopened = VectorIndex.open(tmp_path, 3, lambda: (ids, x), exact_threshold=500)
    assert not reopened.rebuilt and reopened.uses_hnsw and reopened.generation == 3
    np.testing.assert_array_equal(reopened.search(x[:5], k=10)[0], before)
    assert not list(tmp_path.glob("*.tmp")) and len(list(tmp_path.glob("hnsw-*.bin"))) == 1


def test_generation_mismatch_rebuilds_with_progress_and_saves(tmp_path):
    ids, x, _ = saved(tmp_path, gen=3)
    calls = []
    index = VectorIndex.open(tmp_path, 4, lambda: (ids, x), progress=lambda d, t: calls.append((d, t)),
                             exact_threshold=500)
    assert index.rebuilt and calls[-1] == (2000, 2000)
    assert json.loads((tmp_path / SIDECAR).read_text())["generation"] == 4
    assert [p.name for p in tmp_path.glob("hnsw-*.bin")] == ["hnsw-4.bin"]
    assert not VectorIndex.open(tmp_path, 4, lambda: (ids, x), exact_threshold=500).rebuilt


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage_sidecar", "delete"])
def test_damaged_index_files_are_rebuilt_not_fatal(tmp_path, damage):
    ids, x, _ = saved(tmp_path, gen=3)
    graph = tmp_path / "hnsw-3.bin"
    data = bytearray(graph.read_bytes())
    if damage == "truncate":
        graph.write_bytes(data[: len(data) // 3])
    elif damage == "flip":
        data[len(data) // 2: len(data) // 2 + 4096] = b"\xff" * 4096
        graph.write_bytes(bytes(data))
    elif damage == "garbage_sidecar":
        (tmp_path / SIDECAR).write_text("{not json")
    else:
        graph.unlink()
    index = VectorIndex.open(tmp_path, 3, lambda: (ids, x), exact_threshold=500)
    assert index.rebuilt
    assert index.search(x[7], k=1)[0].tolist() == [ids[7]]


def test_index_that_disagrees_with_the_catalog_ids_is_rebuilt(tmp_path):
    ids, x, _ = saved(tmp_path, gen=3)
    for snapshot in [*tmp_path.glob("vectors-*.f32")]:
        snapshot.unlink()                         # so the matrix comes from the catalog
    other_ids = ids.copy()
    other_ids[0] = 1                              # same count, different photo
    index = VectorIndex.open(tmp_path, 3, lambda: (other_ids, x), exact_threshold=500)
    assert index.rebuilt and index.search(x[0], k=1)[0].tolist() == [1]


def test_removed_then_readded_and_new_ids_never_duplicate_in_the_graph(tmp_path):
    ids, x, index = saved(tmp_path, n=1200, threshold=500)
    index.remove(ids[:300])
    index.add(ids[:10], x[:10])                   # revive deleted labels
    index.add(np.arange(5000, 5100), clustered(100, seed=5))  # new labels reuse deleted slots
    index.save(4)
    live = set(index.ids().tolist())
    reopened = VectorIndex.open(tmp_path, 4, lambda: (index.ids(), index._vecs[: len(index)]),
                                exact_threshold=500)
    assert not reopened.rebuilt
    found, _ = reopened.search(clustered(30, seed=6), k=20)
    for row in found:
        assert len(set(row.tolist())) == 20 and set(row.tolist()) <= live
    assert reopened.search(x[3], k=1)[0].tolist() == [ids[3]]


def test_small_library_is_exact_and_needs_no_graph_file(tmp_path):
    x = clustered(100)
    index = VectorIndex(tmp_path, D, exact_threshold=500)
    index.add(range(100), x)
    index.save(1)
    assert not index.uses_hnsw and not list(tmp_path.glob("hnsw-*.bin"))
    reopened = VectorIndex.open(tmp_path, 99, lambda: (np.arange(100), x), exact_threshold=500)
    assert not reopened.rebuilt and reopened.search(x[9], k=1)[0].tolist() == [9]


def test_index_opens_from_a_real_catalog_and_follows_its_generation(tmp_path):
    x = clustered(600)
    with Catalog.open(tmp_path / "catalog.db") as cat:
        root = cat.add_root(tmp_path / "photos")
        ids = cat.upsert_photos(root.id, [PhotoInfo(f"{root.path}/{i}.jpg", 1, 1) for i in range(600)])
        model = cat.ensure_model("tiny", "tiny", D, 1)
        cat.store_embeddings(model, list(zip(ids, x)))
        opened = lambda: VectorIndex.open(tmp_path / "vec", cat.index_generation(model),
                                          lambda: cat.load_all_vectors(model), exact_threshold=500)
        first = opened()
        assert first.rebuilt and len(first) == 600      # nothing saved yet
        assert not opened().rebuilt
        cat.delete_photos(ids[:1])                       # catalog changed, index not saved
        again = opened()
        assert again.rebuilt and ids[0] not in again.ids()


# ---- opening from the saved matrix snapshot -----------------------------------------------------

def never_called():
    raise AssertionError("the catalog was read although the snapshot matched")


def test_open_with_a_matching_snapshot_never_reads_the_catalog(tmp_path):
    ids, x, index = saved(tmp_path, gen=3)
    before = index.search(x[:5], k=10)[0]
    reopened = VectorIndex.open(tmp_path, 3, never_called, exact_threshold=500)
    assert reopened.from_snapshot and not reopened.rebuilt and len(reopened) == 2000
    assert not reopened._vecs.flags.writeable               # mapped, not copied
    np.testing.assert_array_equal(reopened.search(x[:5], k=10)[0], before)
    assert sorted(reopened.ids().tolist()) == ids.tolist()


@pytest.mark.parametrize("damage", ["generation", "truncate_vectors", "truncate_ids", "no_matrix"])
def test_a_stale_or_truncated_snapshot_falls_back_to_the_catalog(tmp_path, damage):
    ids, x, _ = saved(tmp_path, gen=3)
    gen = 4 if damage == "generation" else 3
    if damage.startswith("truncate"):
        path = next(tmp_path.glob("vectors-*.f32" if damage == "truncate_vectors" else "ids-*.npy"))
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "no_matrix":                   # a sidecar written before snapshots existed
        meta = json.loads((tmp_path / SIDECAR).read_text())
        del meta["matrix"]
        meta["format"] = 1
        (tmp_path / SIDECAR).write_text(json.dumps(meta))
    calls = []
    index = VectorIndex.open(tmp_path, gen, lambda: calls.append(1) or (ids, x), exact_threshold=500)
    assert calls == [1] and not index.from_snapshot
    assert index.rebuilt == (damage == "generation")          # the graph itself was fine
    assert index.search(x[11], k=1)[0].tolist() == [ids[11]]
    again = VectorIndex.open(tmp_path, gen, never_called, exact_threshold=500)  # snapshot rewritten
    assert again.from_snapshot and not again.rebuilt
    assert again.search(x[12], k=1)[0].tolist() == [ids[12]]


def test_a_corrupted_graph_gives_exact_results_at_once_and_hnsw_after_the_background_rebuild(
        tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "GRAPH_LOAD_DELAY_S", 60.0)
    ids, x, _ = saved(tmp_path, n=3000, gen=3)
    graph = next(tmp_path.glob("hnsw-*.bin"))
    raw = bytearray(graph.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 64] = b"\x00" * 64
    graph.write_bytes(bytes(raw))
    calls = []
    index = VectorIndex.open(tmp_path, 3, never_called, progress=lambda d, t: calls.append((d, t)),
                             exact_threshold=500, background=True)
    queries = clustered(20, seed=4)
    found, _ = index.search(queries, k=10)              # answered before any graph is ready
    assert not index.uses_hnsw
    assert all(f.tolist() == brute_force(x, ids, q, 10).tolist() for f, q in zip(found, queries))
    assert index.wait_ready(timeout=120)
    assert index.rebuilt and index.uses_hnsw and calls[-1] == (3000, 3000)
    found, _ = index.search(queries, k=10)
    recall = np.mean([len(set(f) & set(brute_force(x, ids, q, 10))) / 10 for f, q in zip(found, queries)])
    assert recall >= 0.95
    assert not VectorIndex.open(tmp_path, 3, never_called, exact_threshold=500).rebuilt   # saved


def test_results_before_and_after_the_graph_is_ready_agree_on_the_top_10(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "GRAPH_LOAD_DELAY_S", 60.0)
    ids, x, _ = saved(tmp_path, n=3000, gen=3)
    index = VectorIndex.open(tmp_path, 3, never_called, exact_threshold=500, background=True)
    queries = clustered(30, seed=8)
    exact, _ = index.search(queries, k=10)
    assert not index.uses_hnsw
    assert index.wait_ready(timeout=60) and index.uses_hnsw and not index.rebuilt
    approx, _ = index.search(queries, k=10)
    overlap = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert overlap >= 0.95


def test_changes_made_while_the_graph_loads_reach_the_graph(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "GRAPH_LOAD_DELAY_S", 60.0)
    ids, x, _ = saved(tmp_path, n=3000, gen=3)
    index = VectorIndex.open(tmp_path, 3, never_called, exact_threshold=500, background=True)
    new = clustered(20, seed=21)
    index.remove(ids[:50])                               # gone: must not come back from the graph
    index.add(ids[60:70], new[:10])                      # replaced vectors
    index.add(np.arange(9000, 9010), new[10:])           # new photos
    assert not index.uses_hnsw
    assert index.wait_ready(timeout=60) and index.uses_hnsw and not index.rebuilt
    for i, v in zip([*ids[60:70], *range(9000, 9010)], new):
        assert index.search(v, k=1)[0].tolist() == [i]
    found, _ = index.search(x[:50], k=10)
    assert not set(found.ravel().tolist()) & set(ids[:50].tolist())
    assert len(index) == 3000 - 50 + 10


def test_add_and_remove_after_a_mapped_open_copy_on_write_and_save_a_new_generation(tmp_path):
    ids, x, _ = saved(tmp_path, n=1200, gen=3)
    snapshot = next(tmp_path.glob("vectors-*.f32")).read_bytes()
    index = VectorIndex.open(tmp_path, 3, never_called, exact_threshold=500)
    index.remove(ids[:100])
    extra = clustered(5, seed=33)
    index.add(np.arange(7000, 7005), extra)
    assert index._vecs.flags.writeable and len(index) == 1105
    assert next(tmp_path.glob("vectors-*.f32")).read_bytes() == snapshot   # file untouched
    index.save(4)
    assert sorted(p.name for p in tmp_path.glob("*-*.*")) == ["hnsw-4.bin", "ids-4.npy",
                                                                "vectors-4.f32"]
    reopened = VectorIndex.open(tmp_path, 4, never_called, exact_threshold=500)
    assert reopened.from_snapshot and not reopened.rebuilt and len(reopened) == 1105
    assert set(reopened.ids().tolist()) == set(ids[100:].tolist()) | set(range(7000, 7005))
    assert reopened.search(extra[2], k=1)[0].tolist() == [7002]
    assert reopened.search(x[500], k=1)[0].tolist() == [ids[500]]


@pytest.mark.parametrize("damaged", ["vectors-*.f32", "ids-*.npy"])
def test_a_damaged_matrix_snapshot_is_replaced_from_the_catalog(tmp_path, damaged):
    ids, x, _ = saved(tmp_path, n=1200, gen=3)
    path = next(tmp_path.glob(damaged))
    raw = bytearray(path.read_bytes())
    raw[4096: 4096 + 512] = b"\x7f" * 512                 # same size, different bytes
    path.write_bytes(bytes(raw))
    calls = []
    index = VectorIndex.open(tmp_path, 3, lambda: calls.append(1) or (ids, x), exact_threshold=500)
    assert calls == [1] and index.rebuilt and index.uses_hnsw
    for row in (0, 22, 500, 700):                       # 22, 500: in the damaged bytes
        assert index.search(x[row], k=1)[0].tolist() == [ids[row]]


def test_a_library_that_grows_past_the_threshold_builds_its_graph_in_the_background(
        tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "BACKGROUND_MIN", 1000)
    x = clustered(1500, seed=2)
    index = VectorIndex(tmp_path, D, exact_threshold=500)
    index.add(range(400), x[:400])
    index.add(range(400, 1500), x[400:])                # crosses the threshold: a graph job
    index.add([5], x[6:7])                              # a change while the graph is built
    assert set(index.search(x[6], k=2)[0].tolist()) == {5, 6}
    assert index.wait_ready(timeout=60) and index.uses_hnsw and not index.rebuilt
    assert set(index.search(x[6], k=2)[0].tolist()) == {5, 6}


def test_a_save_during_a_background_rebuild_leaves_the_graph_for_later(tmp_path):
    ids, x, _ = saved(tmp_path, n=3000, gen=3)
    next(tmp_path.glob("hnsw-*.bin")).unlink()
    gate = threading.Event()
    index = VectorIndex.open(tmp_path, 3, never_called, progress=lambda d, t: gate.wait(60),
                             exact_threshold=500, background=True)
    extra = clustered(1, seed=77)
    index.add([8000], extra)
    index.save(4)                                        # must not wait for the rebuild
    meta = json.loads((tmp_path / SIDECAR).read_text())
    assert meta["generation"] == 4 and meta["mode"] == "exact" and not index.uses_hnsw
    gate.set()
    assert index.wait_ready(timeout=60) and index.uses_hnsw
    meta = json.loads((tmp_path / SIDECAR).read_text())
    assert meta["generation"] == 4 and meta["mode"] == "hnsw"   # saved once the graph was ready
    reopened = VectorIndex.open(tmp_path, 4, never_called, exact_threshold=500)
    assert not reopened.rebuilt and reopened.uses_hnsw
    assert reopened.search(extra[0], k=1)[0].tolist() == [8000]

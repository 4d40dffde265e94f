"""Exact duplicates (same bytes) and near-duplicates (close embeddings) in a real library."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clippo_desktop.engine.cli import main
from clippo_desktop.engine.duplicates import _UnionFind, find_duplicates
from clippo_desktop.engine.errors import UsageError
from tests.search_fixtures import *  # noqa: F401,F403

# The golden model has random weights: distinct photos reach cosine ~0.99 with it, while a
# resized re-encode stays above 0.994 (see docs/performance.md), so the tests use 0.994.
GOLDEN_THRESHOLD = 0.994


@pytest.fixture(scope="module")
def report(search_lib):
    catalog, index = search_lib.open()
    try:
        yield find_duplicates(catalog, index, search_lib.model.model_id(),
                              threshold=GOLDEN_THRESHOLD)
    finally:
        catalog.close()


def test_byte_copies_are_reported_as_exact_duplicates(search_lib, report):
    assert [sorted(g.paths) for g in report.exact] == [sorted(search_lib.exact_copy)]


def test_resized_reencode_is_a_near_duplicate_group_with_its_original(search_lib, report):
    groups = [set(g.paths) for g in report.near]
    assert set(search_lib.near_copy) in groups
    g = report.near[groups.index(set(search_lib.near_copy))]
    assert GOLDEN_THRESHOLD <= g.min_similarity <= g.mean_similarity <= 1.0


def test_exact_copies_never_form_a_near_duplicate_group_by_themselves(search_lib, report):
    original, copy = search_lib.exact_copy
    assert not any(original in g.paths and copy in g.paths for g in report.near)


def test_near_groups_match_all_pairs_above_the_threshold(search_lib, report):
    catalog, index = search_lib.open()
    try:
        row = {m.model_id: m.id for m in catalog.list_models()}[search_lib.model.model_id()]
        ids, vecs = catalog.load_all_vectors(row)
    finally:
        catalog.close()
    copy_id = search_lib.ids[search_lib.exact_copy[1]]
    keep = ids != copy_id
    ids, vecs = ids[keep], vecs[keep]
    sims = vecs @ vecs.T                                                  # (N, N)
    uf = _UnionFind()
    for i, j in zip(*np.nonzero(np.triu(sims >= GOLDEN_THRESHOLD, k=1))):
        uf.union(int(ids[i]), int(ids[j]))
    brute = {}
    for pid in uf.parent:
        brute.setdefault(uf.find(pid), set()).add(pid)
    assert sorted(map(sorted, brute.values())) == sorted(sorted(g.photo_ids) for g in report.near)


def test_groups_are_sorted_by_similarity(report):
    means = [g.mean_similarity for g in report.near]
    assert means == sorted(means, reverse=True)


def test_a_threshold_of_one_finds_no_near_duplicates_and_bad_thresholds_are_refused(search_lib):
    catalog, index = search_lib.open()
    try:
        assert find_duplicates(catalog, index, search_lib.model.model_id(), threshold=1.0).near == []
        with pytest.raises(UsageError):
            find_duplicates(catalog, index, search_lib.model.model_id(), threshold=1.5)
    finally:
        catalog.close()


def test_cli_duplicates_json_lists_exact_and_near_groups(search_lib, capsys):
    code = main(["--data-dir", str(search_lib.data_dir), "duplicates", "--threshold",
                 str(GOLDEN_THRESHOLD), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["threshold"] == GOLDEN_THRESHOLD
    assert [sorted(g["paths"]) for g in doc["exact"]] == [sorted(search_lib.exact_copy)]
    assert sorted(search_lib.near_copy) in [sorted(g["paths"]) for g in doc["near"]]

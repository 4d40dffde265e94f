"""Search over a real library: rankings against brute force from `embed`, filters, paging, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest

from clippo_desktop.engine.catalog import content_hash
from clippo_desktop.engine.cli import main
from clippo_desktop.engine.errors import QueryError
from clippo_desktop.engine.search import Searcher
from tests.search_fixtures import *  # noqa: F401,F403


def run_cli(capsysbinary, lib, *argv) -> tuple[int, bytes, str]:
    code = main(["--data-dir", str(lib.data_dir), *argv])
    out = capsysbinary.readouterr()
    return code, out.out, out.err.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def searcher(search_lib):
    catalog, index = search_lib.open()
    yield Searcher(catalog, index, search_lib.model)
    catalog.close()


@pytest.fixture(scope="module")
def photo_vectors(search_lib):
    """Embeddings of every library photo from the real `embed` command (one process)."""
    cmd = [sys.executable, "-c", "import sys; from clippo_desktop.engine.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "--data-dir", str(search_lib.data_dir), "embed"]
    for p in search_lib.paths:
        cmd += ["--image", p]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    items = json.loads(out)["items"]
    return np.array([it["embedding"] for it in items], np.float32)      # (N, E)


def embed_texts(search_lib, capsysbinary, *texts):
    argv = ["embed"]
    for t in texts:
        argv += ["--text", t]
    code, out, _ = run_cli(capsysbinary, search_lib, *argv)
    assert code == 0
    return np.array([it["embedding"] for it in json.loads(out)["items"]], np.float32)


def brute_force(search_lib, photo_vectors, q):
    """Ranked [(hash, score)] with exact duplicates collapsed, like the engine promises."""
    q = q / np.linalg.norm(q)
    scores = photo_vectors @ q                                             # (N,)
    seen, out = set(), []
    for i in np.argsort(-scores, kind="stable"):
        h = content_hash(search_lib.paths[i])
        if h not in seen:
            seen.add(h)
            out.append((h, float(scores[i])))
    return out


def assert_same_ranking(hits, expected):
    assert len(hits) == len(expected)
    for hit, (h, score) in zip(hits, expected):
        assert hit.score == pytest.approx(score, abs=2e-5)
        if content_hash(hit.path) != h:     # only a tie may swap two photos
            assert abs(hit.score - score) < 2e-5


def test_text_search_equals_brute_force_cosine_ranking_from_embed(search_lib, searcher,
                                                                 photo_vectors, capsysbinary):
    q = embed_texts(search_lib, capsysbinary, "a dog playing in the snow")[0]
    res = searcher.search("a dog playing in the snow", top=100)
    expected = brute_force(search_lib, photo_vectors, q)
    assert_same_ranking(res.results, expected)
    assert res.model == "golden" and res.total == len(search_lib.paths)


def test_image_query_equals_brute_force_ranking(search_lib, searcher, photo_vectors):
    probe = search_lib.paths[5]
    res = searcher.search([probe], top=10)
    expected = brute_force(search_lib, photo_vectors, photo_vectors[5])[:10]
    assert_same_ranking(res.results, expected)
    assert res.results[0].path == probe and res.results[0].score == pytest.approx(1, abs=1e-4)


def test_weighted_combined_query_equals_brute_force(search_lib, searcher, photo_vectors,
                                                    capsysbinary):
    probe = search_lib.paths[7]
    t = embed_texts(search_lib, capsysbinary, "golden retriever", "indoor")
    q = 2 * t[0] + photo_vectors[7] - t[1]
    res = searcher.search(["2:golden retriever", "+", probe, "-", "indoor"], top=15)
    assert [x.kind for x in res.terms] == ["text", "image", "text"]
    assert_same_ranking(res.results, brute_force(search_lib, photo_vectors, q)[:15])
    same = searcher.search(f'"2:golden retriever" + {probe} - indoor', top=15)
    assert [h.photo_id for h in same.results] == [h.photo_id for h in res.results]


def test_folder_filter_returns_only_photos_under_that_folder(search_lib, searcher):
    trip = str(search_lib.photos / "trip")
    res = searcher.search("cat", top=100, folder=trip)
    expected = {p for p in search_lib.paths if p.startswith(trip + os.sep)}
    assert {h.path for h in res.results} == expected
    assert res.total == len(expected)
    sub = searcher.search("cat", top=100, folder=search_lib.photos / "home" / "sub")
    assert sub.results and all("/home/sub/" in h.path for h in sub.results)
    assert not searcher.search("cat", folder=str(search_lib.photos / "tri")).results


def test_date_filters_use_date_taken_with_inclusive_after_and_exclusive_before(search_lib,
                                                                               searcher):
    res = searcher.search("beach", top=100, after="2019-06-01", before="2019-07-01")
    want = {p for p, d in search_lib.taken.items() if d and datetime(2019, 6, 1) <= d < datetime(2019, 7, 1)}
    assert len(want) == 2 and {h.path for h in res.results} == want
    later = searcher.search("beach", top=100, after="2020")
    assert {h.path for h in later.results} == {p for p, d in search_lib.taken.items()
                                               if d and d >= datetime(2020, 1, 1)}
    assert all(h.taken_at is not None for h in later.results)


def test_type_filter_accepts_aliases_and_keeps_only_those_formats(search_lib, searcher):
    pngs = searcher.search("tree", formats="png")
    assert [h.path for h in pngs.results] == [search_lib.png]
    jpegs = searcher.search("tree", top=100, formats=["jpg"])
    assert search_lib.png not in {h.path for h in jpegs.results} and len(jpegs.results) > 20


def test_min_score_cuts_the_tail(search_lib, searcher):
    everything = searcher.search("a red car", top=100)
    cut = everything.results[5].score
    res = searcher.search("a red car", top=100, min_score=cut)
    assert [h.photo_id for h in res.results] == [h.photo_id for h in everything.results
                                                 if h.score >= cut]


def test_exact_duplicates_collapse_into_one_hit_that_counts_the_copies(search_lib, searcher):
    original, copy = search_lib.exact_copy
    res = searcher.search([original], top=100)
    paths = [h.path for h in res.results]
    assert (original in paths) != (copy in paths)
    first = res.results[0]
    assert first.path in (original, copy) and first.duplicates == 1
    assert len(paths) == len(search_lib.paths) - 1


def test_pages_are_consecutive_slices_of_the_full_ranking(search_lib, searcher):
    full = [h.photo_id for h in searcher.search("sunset", top=30).results]
    pages = [h.photo_id for off in (0, 10, 20)
             for h in searcher.search("sunset", top=10, offset=off).results]
    assert pages == full


def test_sort_by_date_orders_newest_first_with_undated_last(search_lib, searcher):
    res = searcher.search("sunset", top=100, sort="date")
    dated = [h.taken_at for h in res.results if h.taken_at]
    assert dated == sorted(dated, reverse=True) and len(dated) == 6
    assert all(h.taken_at is None for h in res.results[len(dated):])
    page = searcher.search("sunset", top=3, offset=2, sort="date")
    assert [h.photo_id for h in page.results] == [h.photo_id for h in res.results[2:5]]


def test_repeating_or_paging_a_query_reuses_the_cached_embedding(search_lib):
    catalog, index = search_lib.open()
    try:
        s = Searcher(catalog, index, search_lib.model)
        s.search("a bowl of soup", top=5)
        misses = s.cache.misses
        s.search("a bowl of soup", top=5, offset=5)
        s.search("a bowl of soup", top=5, sort="date")
        assert s.cache.misses == misses and s.cache.hits >= 2
    finally:
        catalog.close()


def test_query_whose_terms_cancel_out_is_a_query_error(searcher):
    with pytest.raises(QueryError, match="cancel"):
        searcher.search(["cat", "-", "cat"])


def test_cli_search_json_has_query_model_and_scored_results(search_lib, searcher, capsysbinary):
    code, out, _ = run_cli(capsysbinary, search_lib, "search", "a red car", "--top", "5", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["query"] == "a red car" and doc["model"] == "golden"
    engine = searcher.search("a red car", top=5)
    assert [r["score"] for r in doc["results"]] == pytest.approx([h.score for h in engine.results],
                                                                 abs=1e-5)
    assert all(set(r) >= {"path", "score"} for r in doc["results"])


def test_cli_paths_prints_raw_bytes_and_json_replaces_undecodable_names(search_lib, capsysbinary):
    odd = search_lib.extra["odd"]
    code, out, _ = run_cli(capsysbinary, search_lib, "search", odd, "--top", "1", "--paths")
    assert code == 0 and out == os.fsencode(odd) + b"\n"
    code, out, _ = run_cli(capsysbinary, search_lib, "search", odd, "--top", "1", "--json")
    assert json.loads(out.decode("utf-8"))["results"][0]["path"].endswith("caf\ufffd_coco.jpg")


def test_cli_exit_codes_for_empty_results_and_malformed_queries(search_lib, capsysbinary):
    args = ("search", "cat", "--in", str(search_lib.photos / "nowhere"))
    assert run_cli(capsysbinary, search_lib, *args)[0] == 0
    assert run_cli(capsysbinary, search_lib, *args, "--fail-empty")[0] == 1
    code, _, err = run_cli(capsysbinary, search_lib, "search", "cat", "+")
    assert code == 2 and "operator" in err
    code, _, err = run_cli(capsysbinary, search_lib, "search", "cat", "--after", "june")
    assert code == 2 and "june" in err

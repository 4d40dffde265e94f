"""API misuse: nonsense arguments to search, tag and the Library give a UsageError that says
what to do, or a sane (possibly empty) result; never another exception.

tests/test_hostile_queries.py fuzzes the query text; here Hypothesis fuzzes every other
search argument (top, offset, min_score, sort, dates, folder, formats) together.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clippo_desktop.engine.errors import ClippoError, UsageError
from clippo_desktop.engine.search import Searcher
from clippo_desktop.engine.tagging import Tagger
from clippo_desktop.engine.vocabularies import from_labels
from tests.library_fixtures import *  # noqa: F401,F403
from tests.search_fixtures import *  # noqa: F401,F403


@pytest.fixture(scope="module")
def searcher(search_lib):
    catalog, index = search_lib.open()
    yield Searcher(catalog, index, search_lib.model)
    catalog.close()


@pytest.mark.parametrize("kw", [dict(top=-1), dict(offset=-5), dict(sort="random"),
                                dict(sort=""), dict(after="2021", before="2020"),
                                dict(after="2020-05-05", before="2020-05-05"),
                                dict(after="yesterday"), dict(before="2021-13"),
                                dict(after="2021-02-30"), dict(formats=""), dict(formats=", ,"),
                                dict(min_score=float("nan")), dict(folder="/tmp/\x00evil")],
                         ids=lambda kw: ",".join(f"{k}={v!r}" for k, v in kw.items()))
def test_nonsense_search_arguments_are_a_usage_error_that_says_what_to_do(searcher, kw):
    with pytest.raises(UsageError) as info:
        searcher.search("a dog", **kw)
    assert info.value.message and str(info.value)


@pytest.mark.parametrize("kw", [dict(top=0), dict(offset=10**12), dict(min_score=float("inf")),
                                dict(min_score=2.0), dict(folder="/no/such/folder"),
                                dict(formats="xyz"), dict(after="2999"), dict(before="1900"),
                                dict(top=10**9, offset=10**9)],
                         ids=lambda kw: ",".join(f"{k}={v!r}" for k, v in kw.items()))
def test_out_of_range_search_arguments_give_an_empty_result(searcher, kw):
    assert searcher.search("a dog", **kw).results == []


def test_a_huge_top_returns_the_whole_library_once(searcher, search_lib):
    res = searcher.search("a dog", top=10**9)
    ids = [h.photo_id for h in res.results]
    assert len(ids) == len(set(ids)) and 0 < len(ids) <= len(search_lib.paths)
    assert res.results == searcher.search("a dog", top=10**9, min_score=-math.inf).results


def test_tagging_with_an_empty_vocabulary_or_top_zero_is_a_usage_error(search_lib):
    tagger = Tagger(search_lib.model)
    with pytest.raises(UsageError):
        tagger.tag_paths(search_lib.paths[:1], from_labels([]))
    with pytest.raises(UsageError):
        tagger.tag_paths(search_lib.paths[:1], from_labels(["cat"]), top=0)


def test_tagging_missing_files_and_folders_reports_them_per_photo(search_lib, tmp_path):
    tagger = Tagger(search_lib.model)
    out = tagger.tag_paths([str(tmp_path / "nope.jpg"), str(tmp_path), search_lib.paths[0]],
                           from_labels(["cat", "dog"]), top=1)
    assert [bool(r.error) for r in out] == [True, True, False]
    assert len(out[2].tags) == 1


def test_library_misuse_gives_usage_errors(data_dir, tmp_path):
    from clippo_desktop.engine.library import Library

    with pytest.raises(UsageError, match="no library"):
        Library.open(tmp_path / "empty", writer=False)
    (tmp_path / "file.jpg").write_bytes(b"x")
    with Library.open(data_dir) as lib:
        for bad in (tmp_path / "missing", tmp_path / "file.jpg"):
            with pytest.raises(UsageError, match="is not a folder"):
                lib.add_roots([bad])
        with pytest.raises(UsageError, match="not a library folder"):
            lib.index([tmp_path])
        with pytest.raises(UsageError, match="not a library folder"):
            lib.remove_root(tmp_path)


dates = st.one_of(st.none(), st.sampled_from(["2019", "2021-06", "2020-02-29", "2021-02-29",
                                              "0000", "9999-12-31", "", " ", "2021-00"]),
                  st.text(max_size=12))
floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))
ints = st.one_of(st.integers(-5, 100), st.integers(-(2**63), 2**63))
search_kwargs = st.fixed_dictionaries({
    "top": ints, "offset": ints, "min_score": floats, "after": dates, "before": dates,
    "sort": st.one_of(st.sampled_from(["relevance", "date"]), st.text(max_size=8)),
    "formats": st.one_of(st.none(), st.sampled_from(["jpg", "png,heic", "", "JPEG"]),
                         st.text(max_size=10)),
    "folder": st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["/", "~", "."]))})


def _misuse(searcher, kw) -> None:
    try:
        res = searcher.search("a photo", **kw)
    except ClippoError as exc:
        assert isinstance(exc, UsageError) and str(exc)
        return
    assert len(res.results) <= max(kw["top"], 0)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(search_kwargs)
def test_random_search_arguments_give_results_or_a_usage_error(searcher, kw):
    _misuse(searcher, kw)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(search_kwargs)
def test_thousands_of_random_search_arguments_give_results_or_a_usage_error(searcher, kw):
    _misuse(searcher, kw)

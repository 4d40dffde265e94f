"""Hostile queries give results or a QueryError, never another exception or a crash."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clippo_desktop.engine.errors import QueryError
from clippo_desktop.engine.search import Searcher
from tests.search_fixtures import *  # noqa: F401,F403

HOSTILE = [
    "x" * 100_000,
    "cat\x00dog",
    "\x00",
    "\x01\x02\x1b[31mred\x1b[0m\x7f",
    "\u202eevil\u202c",
    "قطة على الأريكة",
    "חתול + כלב",
    "👨‍👩‍👧‍👦 family",
    "🏳️‍🌈" * 500,
    "e\u0301" * 1000,
    os.fsdecode(b"caf\xe9 \xff\xfe"),
    "\ud800\udfff",
    "\ufeff",
    "+ - + -",
    "- -",
    "+",
    "-",
    "1:",
    ":",
    "nan:cat",
    "inf:cat",
    "1e308:cat + 1e308:dog",
    '"""',
    "./",
    "/",
    "~",
    "/dev/zero",
    "/etc/passwd",
    "../../../../../../etc/shadow.jpg",
    "%s%s%n",
    "' OR 1=1 --",
    "\\",
    "a" + " + a" * 2000,
]


@pytest.fixture(scope="module")
def searcher(search_lib):
    catalog, index = search_lib.open()
    yield Searcher(catalog, index, search_lib.model)
    catalog.close()


def _search(searcher, query):
    try:
        res = searcher.search(query, top=5)
    except QueryError as exc:
        assert str(exc)
        return None
    assert len(res.results) <= 5
    assert all(-1.001 <= h.score <= 1.001 for h in res.results)
    return res


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_gives_results_or_a_query_error(searcher, query):
    _search(searcher, query)


def test_long_text_query_returns_results(searcher):
    assert _search(searcher, "x" * 100_000).results


def test_whitespace_only_query_says_type_something(searcher):
    with pytest.raises(QueryError, match="Type something"):
        searcher.search(" \t\n ")


text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=300)
pieces = st.lists(st.one_of(text, st.sampled_from(["+", "-", "2:", "0:", '"', "./x.jpg", "~/"])),
                  max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(text, pieces.map(" ".join), pieces))
def test_random_queries_never_raise_anything_but_query_error(searcher, query):
    _search(searcher, query)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(text, pieces.map(" ".join), pieces))
def test_thousands_of_random_queries_never_raise_anything_but_query_error(searcher, query):
    _search(searcher, query)

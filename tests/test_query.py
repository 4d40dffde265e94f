"""The query language: terms, weights, operators and the errors for malformed queries."""

from __future__ import annotations

import pytest

from clippo_desktop.engine.errors import QueryError
from clippo_desktop.engine.query import Term, parse_query


def test_plain_text_without_operators_is_one_term_kept_as_typed():
    q = parse_query("  a photo of  a cat ")
    assert q.terms == (Term("text", "a photo of  a cat", 1.0),)
    assert q.is_plain_text


@pytest.mark.parametrize("text", ["rock-n-roll", "C++ code", "-20°C", "a+b", "1-2-3", "x -y"])
def test_plus_and_minus_inside_words_are_text(text):
    assert parse_query(text).terms == (Term("text", text, 1.0),)


def test_spaced_operators_combine_terms_with_signs():
    q = parse_query("a - b + c")
    assert [(t.value, t.weight) for t in q.terms] == [("a", 1.0), ("b", -1.0), ("c", 1.0)]


def test_rclip_style_query_with_weight_image_and_subtraction(tmp_path):
    photo = tmp_path / "pool.jpg"
    photo.write_bytes(b"not decoded while parsing")
    q = parse_query('"2:golden retriever" + ./pool.jpg - "indoor"', cwd=tmp_path)
    assert q.terms == (Term("text", "golden retriever", 2.0), Term("image", str(photo), 1.0),
                       Term("text", "indoor", -1.0))


def test_shell_arguments_are_tokens_and_operators(tmp_path):
    photo = tmp_path / "pool.jpg"
    photo.write_bytes(b"x")
    q = parse_query(["0.5:golden retriever", "+", str(photo), "-", "indoor"])
    assert [(t.kind, t.weight) for t in q.terms] == [("text", 0.5), ("image", 1.0), ("text", -1.0)]
    assert parse_query(["golden", "retriever"]).terms == (Term("text", "golden retriever"),)


def test_home_relative_image_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "me.png").write_bytes(b"x")
    assert parse_query("~/me.png").terms == (Term("image", str(tmp_path / "me.png")),)


def test_missing_photo_path_is_an_error_but_path_like_words_are_text(tmp_path):
    with pytest.raises(QueryError, match="No photo"):
        parse_query("./nope.jpg", cwd=tmp_path)
    assert parse_query("/r/pics funny", cwd=tmp_path).terms[0].kind == "text"


def test_quoted_operator_is_text():
    assert parse_query('cats "+" dogs').terms == (Term("text", "cats + dogs"),)


@pytest.mark.parametrize("query, message", [
    ("cat +", "ends with the operator"),
    ("- cat", "at the start"),
    ("cat + - dog", "after another operator"),
    ("2: + dog", "has no term"),
    ('"unclosed', "unclosed double quote"),
    ("1e999:cat", "not a usable number"),
    ('cat + ""', "empty"),
    ("0:cat", "weight 0"),
])
def test_malformed_queries_raise_query_error_saying_what_is_wrong(query, message):
    with pytest.raises(QueryError, match=message):
        parse_query(query)


@pytest.mark.parametrize("query", ["", "   ", "\n\t", [], ["", " "]])
def test_empty_query_asks_the_user_to_type_something(query):
    with pytest.raises(QueryError, match="Type something"):
        parse_query(query)


def test_undecodable_shell_bytes_become_replacement_characters():
    q = parse_query("caf\udce9 noir")
    assert q.terms[0].value == "caf\ufffd noir"
    assert parse_query("\ud800x").terms[0].value == "\ufffdx"


def test_weighted_single_term_is_not_plain_text():
    q = parse_query("3:sunset")
    assert q.terms == (Term("text", "sunset", 3.0),) and not q.is_plain_text

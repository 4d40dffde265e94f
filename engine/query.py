"""The search query language: text, example photos, weights, `+` and `-`.

Users already know rclip's syntax, so we accept it: `"2:golden retriever" + ./pool.jpg - indoor`.

Rules (the GUI's help text and `clippo-desktop search --help` say the same):

* A query is a list of terms joined by operators. From the shell every argument is a token, so
  `search "2:golden retriever" + ./pool.jpg - indoor` works as typed. A single string (the GUI's
  search box, or one quoted shell argument) is split into tokens at whitespace, keeping "double
  quoted" parts whole.
* `+` and `-` are operators only when they stand alone, i.e. surrounded by spaces. `rock-n-roll`,
  `-20°C` and `C++` are text. If no operator appears, the whole query is one text term, typed
  exactly as given (so `a photo of a cat` is not four terms).
* A term is an example photo when it starts with `./`, `../`, `/` or `~` and names an existing
  file; text otherwise. A term that looks like a photo path (path prefix and an image extension)
  but names no file is an error, so a typo does not silently become a text search.
* `N:` in front of a term sets its weight (a finite number, e.g. `2:`, `0.5:`, `-1:`); `-` before
  a term negates it. The query embedding is normalise(sum of weight * embedding).
* At most 64 terms. Text is searched as typed: any language, any script. Characters that cannot be shown
  (lone surrogates from undecodable shell bytes) become U+FFFD; the renderer caps the length.

Malformed queries raise `QueryError` saying what is wrong.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import QueryError

OPERATORS = ("+", "-")
MAX_TERMS = 64
EMPTY_MESSAGE = "Type something to search for."
_WEIGHT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*:(.*)$", re.S)
_PATH_PREFIXES = ("./", "../", "/", "~", ".\\", "..\\")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                   ".heic", ".heif", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf")


@dataclass(frozen=True)
class Term:
    kind: str            # "text" | "image"
    value: str           # the text, or the absolute image path
    weight: float = 1.0


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[Term, ...]
    source: str          # the query as typed, for display

    @property
    def is_plain_text(self) -> bool:
        return len(self.terms) == 1 and self.terms[0].kind == "text" and self.terms[0].weight == 1


def clean_text(text: str) -> str:
    """Make any str encodable: surrogate escapes / lone surrogates become U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def _tokenize(query: str) -> list[tuple[str, bool]]:
    """Split at whitespace outside double quotes: [(token, was_quoted)]."""
    tokens: list[tuple[str, bool]] = []
    buf: list[str] = []
    quoted = in_quotes = False
    for ch in query:
        if ch == '"':
            in_quotes, quoted = not in_quotes, True
        elif ch.isspace() and not in_quotes:
            if buf or quoted:
                tokens.append(("".join(buf), quoted))
            buf, quoted = [], False
        else:
            buf.append(ch)
    if in_quotes:
        raise QueryError("The query has an unclosed double quote.",
                         'Close it, e.g. "golden retriever" + ./pool.jpg.')
    if buf or quoted:
        tokens.append(("".join(buf), quoted))
    return tokens


def _split_terms(tokens: Sequence[tuple[str, bool]]) -> list[tuple[int, str]]:
    """Group tokens into (sign, term text); only unquoted lone `+`/`-` are operators."""
    out: list[tuple[int, str]] = []
    sign, words = 1, []
    pending_op: str | None = None
    for tok, quoted in tokens:
        if tok in OPERATORS and not quoted:
            if not words:
                where = "at the start" if not out else f"after another operator ({pending_op})"
                raise QueryError(f"The operator '{tok}' {where} has no term before it.",
                                 "Put a term between operators: cat + dog - indoor.")
            out.append((sign, " ".join(words)))
            sign, words, pending_op = (1 if tok == "+" else -1), [], tok
        else:
            words.append(tok)
    if not words:
        raise QueryError(f"The query ends with the operator '{pending_op}'.",
                         "Add a term after it, or remove it.")
    out.append((sign, " ".join(words)))
    return out


def _split_weight(raw: str) -> tuple[float, str]:
    match = _WEIGHT.match(raw)
    if not match:
        return 1.0, raw
    number, rest = match.group(1), match.group(2).strip()
    weight = float(number)
    if not math.isfinite(weight):
        raise QueryError(f"The weight {number!r} is not a usable number.",
                         "Use a finite number such as 2: or 0.5:.")
    if not rest:
        raise QueryError(f"The weight {number}: has no term after it.",
                         'Write the term right after the colon, e.g. "2:golden retriever".')
    return weight, rest


def _image_term(raw: str, cwd: Path | None) -> str | None:
    """The absolute path when `raw` names an image file; None when it is text."""
    if not raw.startswith(_PATH_PREFIXES):
        return None
    try:
        path = Path(os.path.expanduser(raw))
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        if path.is_file():
            return os.path.abspath(path)
        looks_like_photo = raw.lower().endswith(_IMAGE_SUFFIXES)
    except (OSError, ValueError):   # NUL bytes, names too long, permission denied
        looks_like_photo = raw.lower().endswith(_IMAGE_SUFFIXES)
    if looks_like_photo:
        raise QueryError(f"No photo at {clean_text(raw)!r}.",
                         "Check the path, or quote the words to search them as text.")
    return None


def parse_query(query: str | Sequence[str], *, cwd: Path | None = None) -> ParsedQuery:
    """Parse a query string or a list of shell arguments into weighted terms."""
    if isinstance(query, str):
        source = query
        if not query.strip():
            raise QueryError(EMPTY_MESSAGE)
        tokens = _tokenize(query)
        has_ops = any(t in OPERATORS and not q for t, q in tokens) and len(tokens) > 1
        if not has_ops and not any(q for _, q in tokens):
            tokens = [(query.strip(), False)]   # plain text: keep the spacing as typed
    else:
        args = [str(a) for a in query]
        source = " ".join(args)
        if not any(a.strip() for a in args):
            raise QueryError(EMPTY_MESSAGE)
        # Each shell argument is one token; a lone argument may itself hold a whole query.
        if len(args) == 1:
            return parse_query(args[0], cwd=cwd)
        tokens = [(a.strip(), a.strip() not in OPERATORS) for a in args if a.strip()]
        has_ops = True
    terms: list[Term] = []
    for sign, raw in _split_terms(tokens) if has_ops or len(tokens) > 1 else [(1, tokens[0][0])]:
        weight, body = _split_weight(raw)
        body = body.strip()
        if len(body) >= 2 and body[0] == body[-1] == '"':
            body = body[1:-1].strip()
        if not body:
            raise QueryError("One of the query's terms is empty.", "Remove the empty quotes.")
        path = _image_term(body, cwd)
        terms.append(Term("image", path, sign * weight) if path is not None
                     else Term("text", clean_text(body), sign * weight))
    if len(terms) > MAX_TERMS:
        raise QueryError(f"The query has {len(terms)} terms; at most {MAX_TERMS} are allowed.",
                         "Combine fewer words and photos.")
    if all(t.weight == 0 for t in terms):
        raise QueryError("Every term of the query has weight 0.", "Give at least one term a weight.")
    return ParsedQuery(tuple(terms), clean_text(source))

"""The fifth caption grammar (detail_grammar.py: inflected German and French forms, participles).

What a reader would learn wrongly from: German adjectives with the ending of another gender or
case, French colours or participles that disagree with their noun, a plural subject with a
singular verb, "des" before an adjective that needs "de", and repeated sentences.
"""

from __future__ import annotations

import random
import re

import pytest

from clippo_desktop.training.distill import corpus as corpus_mod
from clippo_desktop.training.distill import detail_grammar as grammar


@pytest.mark.parametrize("stem, gender, noun, dative", [
    ("weiß", "n", "Hemd", "weißem Hemd"), ("rot", "f", "Kappe", "roter Kappe"),
    ("schwarz", "m", "Hut", "schwarzem Hut"), ("blau", "p", "Bluejeans", "blauen Bluejeans"),
    ("leuchtend gelb", "f", "Jacke", "leuchtend gelber Jacke"), ("pinkfarben", "n", "Kleid", "pinkfarbenem Kleid")])
def test_german_adjectives_without_an_article_take_the_strong_dative(stem, gender, noun, dative):
    assert grammar.de_strong_dative(stem, gender, noun) == dative


_DE_GENDER = {row[2]: row[3] for row in grammar._PEOPLE}
_DE_PLURAL = {row[4] for row in grammar._PEOPLE}


def _de_subject(cap: str) -> tuple[list[str], str]:
    """The words before the caption's first person noun, and that noun."""
    words = cap.rstrip(".").split()
    i = next(i for i, w in enumerate(words) if w in _DE_GENDER or w in _DE_PLURAL)
    return words[:i], words[i]


def test_german_subject_adjectives_agree_with_article_and_gender():
    checked = 0
    for cap in grammar.captions("de", 4000, random.Random(1)):
        before, noun = _de_subject(cap)
        art = before[0].lower() if before else ""
        determiners = ("ein", "eine", "der", "die", "das", "zwei", "drei", "einige", "mehrere")
        adjs = before[1:] if art in determiners else before
        adjs = [a for a in adjs if a not in ("in", "gekleidet") and not a[0].isupper()]
        if art in ("ein", "eine"):
            gender = _DE_GENDER[noun]
            assert art == ("eine" if gender == "f" else "ein"), cap
            end = {"m": "er", "f": "e", "n": "es"}[gender]
            assert all(a.endswith(end) and not a.endswith("ee") for a in adjs), cap
            checked += bool(adjs)
        elif art in ("der", "die", "das"):
            assert art == {"m": "der", "f": "die", "n": "das"}[_DE_GENDER[noun]], cap
            assert all(a.endswith("e") for a in adjs), cap
    assert checked > 400


def test_german_dressed_in_a_colour_declines_like_an_adjective():
    caps = grammar.captions("de", 4000, random.Random(2))
    found = [m for c in caps for m in re.findall(r"(\w+) in [A-Z]\w+ (gekleidet\w*) (\w+)", c)]
    assert len(found) > 300
    for art, form, noun in found:
        if art.lower() == "ein":
            assert form == {"m": "gekleideter", "n": "gekleidetes"}[_DE_GENDER[noun]], (art, form, noun)
        else:
            assert form == "gekleidete", (art, form, noun)


def test_german_garments_take_the_strong_dative_ending_of_their_gender():
    caps = grammar.captions("de", 4000, random.Random(5))
    gender = {row[2]: row[3] for row in grammar._GARMENTS}
    worn = [m for c in caps for m in re.findall(rf"(\w+) ({'|'.join(gender)})\b", c)]
    assert len(worn) > 1000
    for adj, noun in worn:
        assert adj.endswith({"m": "em", "n": "em", "f": "er", "p": "en"}[gender[noun]]), (adj, noun)


def _acts(col: int, gender: str = "m", plural: bool = False) -> list[str]:
    return [grammar.fr_agree(a[col], gender, plural) if col >= 4 else a[col] for a in grammar._ACTS]


@pytest.mark.parametrize("lang, sg, pl, counts", [
    ("de", 2, 3, {"zwei", "drei", "einige", "mehrere"}), ("fr", 4, 5, {"deux", "trois", "des", "de", "plusieurs"})])
def test_plural_subjects_get_plural_verbs_and_singular_subjects_singular_ones(lang, sg, pl, counts):
    checked = {True: 0, False: 0}
    for cap in grammar.captions(lang, 4000, random.Random(6)):
        low = cap.rstrip(".")
        first = low.split()[0].lower()
        plural = first in counts or (lang == "de" and _de_subject(cap)[1] in _DE_PLURAL - set(_DE_GENDER))
        if lang == "de" and not plural and first not in ("ein", "eine", "der", "die", "das"):
            plural = True  # a bare plural: "Junge Männer ..."
        forms = {}
        for gender in ("m", "f"):
            for number in (False, True):
                for f in _acts(sg, gender, number):
                    forms.setdefault(f, set()).add(False)
                for f in _acts(pl, gender, number):
                    forms.setdefault(f, set()).add(True)
        hits = [f for f in forms if f" {f}" in low]
        if not hits:  # a French participle caption has no finite verb
            assert lang == "fr", cap
            continue
        longest = max(hits, key=len)
        assert forms[longest] == {plural}, (cap, plural, longest)
        checked[plural] += 1
    assert checked[True] > 500 and checked[False] > 1000


@pytest.mark.parametrize("colour, gender, plural, word", [
    (("white", "weiß", "Weiß", "blanc", "blanche"), "f", False, "blanche"),
    (("white", "weiß", "Weiß", "blanc", "blanche"), "f", True, "blanches"),
    (("gray", "grau", "Grau", "gris", "grise"), "m", True, "gris"),
    (("brown", "braun", "Braun", "marron", "marron"), "f", True, "marron"),
    (("dark blue", "dunkelblau", "", "bleu foncé", "bleu foncé"), "f", True, "bleu foncé")])
def test_french_colours_agree_except_compounds_and_marron(colour, gender, plural, word):
    assert grammar.fr_colour(colour, gender, plural) == word


@pytest.mark.parametrize("phrase, gender, plural, agreed", [
    ("est assis sur un banc", "f", False, "est assise sur un banc"),
    ("sont assis sur un banc", "f", True, "sont assises sur un banc"),
    ("sont allongés sur la pelouse", "f", True, "sont allongées sur la pelouse"),
    ("accroupi par terre", "m", True, "accroupis par terre"),
    ("une femme vêtu de noir", "f", False, "une femme vêtue de noir"),
    ("tenant une pancarte", "f", True, "tenant une pancarte")])
def test_french_past_participles_agree_with_the_subject_and_present_ones_never(phrase, gender, plural, agreed):
    assert grammar.fr_agree(phrase, gender, plural) == agreed


def test_french_captions_agree_and_use_de_before_a_plural_adjective():
    caps = grammar.captions("fr", 4000, random.Random(7))
    pre = {w + ("" if w.endswith("x") else "s") for look in grammar._LOOKS if look[4] for w in look[2:4]}
    assert not [c for c in caps if c.split()[0].lower() == "des" and c.split()[1] in pre]
    assert sum(c.split()[0].lower() == "de" for c in caps) > 20
    fem = {row[5] for row in grammar._PEOPLE if row[6] == "f"} | {row[7] for row in grammar._PEOPLE if row[6] == "f"}
    for cap in caps:
        words = cap.rstrip(".").split()
        if "vêtu" in cap or "vêtue" in cap:
            noun = next(w for w in words if w in fem or any(w in (r[5], r[7]) for r in grammar._PEOPLE))
            assert ("vêtue" in words or "vêtues" in words) == (noun in fem), cap
    assert sum(" tenant " in c or " marchant " in c or " sautant " in c for c in caps) > 100


def test_the_grammar_is_a_registered_corpus_extension_filtered_per_language():
    rows = grammar.detail_rows(scale=0.05)
    assert {r["level"] for r in rows} == {"caption5"} and "caption5" in corpus_mod.EXTENSIONS
    by_lang = {lang: sum(r["lang"] == lang for r in rows) for lang in ("en", "de", "fr")}
    assert by_lang == {lang: int(n * 0.05) for lang, n in grammar.N_CAPTIONS5.items()}
    assert "caption5" in corpus_mod.PER_LANGUAGE_FILTER
    assert sum(" das " in r["text"] for r in rows if r["lang"] == "de") > 50

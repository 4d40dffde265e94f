"""The fourth caption grammar (activity_grammar.py, run G's new text).

What a reader would learn wrongly from: a plural subject with a singular verb (or the reverse)
in any of the three languages, a wrong English third-person ending, German garments with the
wrong dative article, a place after a German separable particle, French colours that disagree
with the garment, and repeated sentences.
"""

from __future__ import annotations

import random
import re

import pytest

from clippo_desktop.training.distill import activity_grammar as grammar
from clippo_desktop.training.distill import corpus as corpus_mod


@pytest.mark.parametrize("base, third", [
    ("catch a ball", "catches a ball"), ("play basketball", "plays basketball"), ("carry a box", "carries a box"),
    ("do a backflip", "does a backflip"), ("fix a bike", "fixes a bike"), ("go down a slide", "goes down a slide"),
    ("push a cart", "pushes a cart"), ("have lunch", "has lunch"), ("fish", "fishes"), ("juggle", "juggles")])
def test_english_third_person_singular_endings(base, third):
    assert grammar.third_person(base) == third


def _english_number(low: str) -> bool:
    """True when an English caption's subject is plural (it opens with a count or 'two dogs')."""
    counts = {c[0] for c in grammar._COUNTS}
    return low.split()[0] in counts


def test_english_plural_subjects_get_plural_verbs_and_singular_subjects_singular_ones():
    checked = {True: 0, False: 0}
    for cap in grammar.captions("en", 4000, random.Random(1)):
        low = cap[0].lower() + cap[1:].rstrip(".")
        plural = _english_number(low)
        if " in its mouth" in low or " in their mouths" in low:
            assert (" in their mouths" in low) == plural, cap
        tails = [p[0] for p in grammar._PLACES] + [m[i] for m in grammar._DOG_MOUTH for i in (0, 1)]
        ends = [low] + [low[:-len(t) - 1] for t in tails if low.endswith(" " + t)]
        matches = []  # (length of the verb form that ends the caption, the number it allows)
        for ing, base, *_ in grammar._ACTS + grammar._DOG_ACTS:
            for form, number in ((f"is {ing}", False), (grammar.third_person(base), False),
                                 (f"are {ing}", True), (base, True), (ing, plural)):
                matches += [(len(form), number) for end in ends if end.endswith(" " + form)]
        longest = max(matches)[0] if matches else 0
        forms = {number for n, number in matches if n == longest}  # a bare participle fits either number
        assert forms == {plural}, (cap, plural, forms)
        checked[plural] += 1
    assert checked[True] > 800 and checked[False] > 1500


def _finite(table, idx: int) -> set[str]:
    """The finite verb of each verb phrase in column idx (after a French reflexive 'se')."""
    out = set()
    for row in table:
        words = row[idx].split()
        out.add(words[1] if words[0] == "se" else words[0])
    return out


@pytest.mark.parametrize("lang, sg, pl, counts", [
    ("de", 2, 3, {"zwei", "drei", "vier", "mehrere", "einige", "viele"}),
    ("fr", 4, 5, {"deux", "trois", "quatre", "plusieurs", "quelques", "des"})])
def test_german_and_french_plural_subjects_get_plural_verbs(lang, sg, pl, counts):
    sg_verbs = _finite(grammar._ACTS, sg) | _finite(grammar._DOG_ACTS, sg)
    pl_verbs = _finite(grammar._ACTS, pl) | _finite(grammar._DOG_ACTS, pl)
    assert not sg_verbs & pl_verbs
    checked = {True: 0, False: 0}
    for cap in grammar.captions(lang, 4000, random.Random(2)):
        words = re.findall(r"[\w'-]+", cap.rstrip("."))
        plural = words[0].lower() in counts
        found_sg = [w for w in words[1:] if w in sg_verbs]
        found_pl = [w for w in words[1:] if w in pl_verbs]
        assert (found_pl and not found_sg) if plural else (found_sg and not found_pl), (cap, plural)
        checked[plural] += 1
    assert checked[True] > 800 and checked[False] > 1500


def test_german_garments_take_the_dative_article_of_their_gender():
    caps = grammar.captions("de", 4000, random.Random(5))
    gender = {row[2]: row[3] for row in grammar._GARMENTS}
    nouns = "|".join(gender)
    worn = [m for c in caps for m in re.findall(rf" (?:in|und) (einem|einer) (\w+) ({nouns})\b", c)]
    assert len(worn) > 800
    for art, adj, noun in worn:
        assert adj.endswith("en") or adj == "rosa", (art, adj, noun)
        assert art == ("einer" if gender[noun] == "f" else "einem"), (art, adj, noun)
    plural = [n for n, g in gender.items() if g == "p"]
    assert not [c for c in caps if re.search(rf"(einem|einer) \w+ ({'|'.join(plural)})\b", c)]
    assert sum(bool(re.search(rf" in \w+en ({'|'.join(plural)})\b", c)) for c in caps) > 100


def test_a_german_place_goes_before_a_separable_particle():
    assert grammar.with_place("sieht sich eine Parade an", "im Park") == "sieht sich eine Parade im Park an"
    assert grammar.with_place("kauft ein", "in der Stadt") == "kauft in der Stadt ein"
    assert grammar.with_place("spielt Tennis", "im Park") == "spielt Tennis im Park"
    caps = grammar.captions("de", 4000, random.Random(6))
    places = "|".join(re.escape(p[1]) for p in grammar._PLACES)
    assert not [c for c in caps if re.search(rf"\b(hinunter|hinterher|an|auf|aus|ein) ({places})\.?$", c)
                and not re.search(rf"(zeigt|zeigen) auf etwas ({places})", c)]
    assert sum(bool(re.search(rf"({places}) (an|ein|auf|aus|hinunter)\.?$", c)) for c in caps) > 20


def test_french_colours_agree_with_the_garment():
    caps = grammar.captions("fr", 4000, random.Random(7))
    gender = {row[4]: row[5] for row in grammar._GARMENTS}
    fem = {c[3] for c in grammar._COLOURS}
    masc = {c[2] for c in grammar._COLOURS}
    worn = [m for c in caps for m in re.findall(r" (?:en|et) ([\w-]+) (\w+)", c) if m[0] in gender]
    assert len(worn) > 800
    for noun, colour in worn:
        assert colour in (fem if gender[noun] == "f" else masc), (noun, colour)


def test_french_de_is_elided_before_a_vowel_or_mute_h():
    assert grammar._de_fr("enfants") == "d'" and grammar._de_fr("hommes âgés") == "d'"
    assert grammar._de_fr("hockeyeurs") == "de " and grammar._de_fr("pompiers") == "de "


def test_the_grammar_is_a_registered_corpus_extension_with_its_own_level():
    rows = grammar.activity_rows(scale=0.05)
    assert {r["level"] for r in rows} == {"caption4"} and "caption4" in corpus_mod.EXTENSIONS
    by_lang = {lang: sum(r["lang"] == lang for r in rows) for lang in ("en", "de", "fr")}
    assert by_lang == {lang: int(n * 0.05) for lang, n in grammar.N_CAPTIONS4.items()}

"""A third caption grammar: two actions, two actors, fronted places and "while" clauses.

The second grammar (caption_grammar.py) gives one person one action in one place; human captions
also join two actions ("sits on a bench and reads a book"), put a person with an animal or
another person ("a woman feeding a giraffe"), open with the place ("On the beach, ...") and add
what happens meanwhile. This module builds those sentence shapes from the second grammar's
word lists plus interaction verbs, in English, German (verb-second after a fronted place,
verb-final after "während") and French. All text is our own and may train the shipped model.

    rows = clause_rows(seed=2)   # [{"text", "lang", "level": "caption3"}], deterministic
"""

from __future__ import annotations

import random

from . import caption_grammar as g

N_CAPTIONS3 = {"en": 40000, "de": 25000, "fr": 25000}
LEVEL = "caption3"

_EN_TOGETHER = ("friends", "tourists", "students", "children", "people", "kids", "workers", "players")
_EN_WITH_WHOM = ("feeding a giraffe", "petting a dog", "hugging a child", "talking to a woman",
                 "playing with a cat", "walking with a dog", "holding hands with a girl",
                 "throwing a ball to a dog", "taking a picture of a horse", "watching a bird",
                 "sitting next to a dog", "carrying a child on his shoulders", "helping a boy ride a bike",
                 "talking to a police officer", "dancing with a man", "shaking hands with a man",
                 "brushing a horse", "pushing a child on a swing", "reading to a little girl",
                 "feeding ducks", "riding a horse with a child", "playing catch with a boy")
# English -ing actions without "his" (coordinated after another one)
_EN_ACTS = tuple(a for a in g._EN_ACTS if "his" not in a)


def _en(rng: random.Random) -> str:
    r = rng.random()
    who, plural = g._en_person(rng)
    aux = rng.choice(("", " are" if plural else " is"))
    if r < 0.3:
        a, b = rng.sample(_EN_ACTS, 2)
        s = f"{who}{aux} {a} and {b}"
    elif r < 0.55:
        s = f"{who}{aux} {rng.choice(_EN_WITH_WHOM)}"
        if rng.random() < 0.5:
            s += f" {rng.choice(g._EN_PLACES)}"
    elif r < 0.72:
        place = rng.choice(g._EN_PLACES)
        s = f"{place[0].upper() + place[1:]}, {who}{aux or (' are' if plural else ' is')} {rng.choice(_EN_ACTS)}"
    elif r < 0.88:
        other, _ = g._en_person(rng)
        s = f"{who}{aux} {rng.choice(_EN_ACTS)} while {other} {rng.choice(_EN_ACTS)}"
    else:
        food = rng.choice(("eating pizza", "having lunch", "playing cards", "taking a selfie", "drinking coffee",
                           "posing for a photo", "sitting on a bench", "walking down the street"))
        s = f"{rng.choice(g._EN_COUNTS)} {rng.choice(_EN_TOGETHER)} {food} together"
    return s


# German: a verb phrase "verb rest" is verb-final as "rest verb" (the particle verbs of the
# second grammar keep their particle next to the verb, so the split is exact for these lists)
_DE_SIMPLE = tuple(a for a in g._DE_ACTS if not a[0].endswith(" zu"))
_DE_WITH_WHOM = (("füttert eine Giraffe", "füttern eine Giraffe"), ("streichelt einen Hund", "streicheln einen Hund"),
                 ("umarmt ein Kind", "umarmen ein Kind"), ("spricht mit einer Frau", "sprechen mit einer Frau"),
                 ("spielt mit einer Katze", "spielen mit einer Katze"), ("geht mit einem Hund", "gehen mit einem Hund"),
                 ("wirft einem Hund einen Ball zu", "werfen einem Hund einen Ball zu"),
                 ("fotografiert ein Pferd", "fotografieren ein Pferd"), ("beobachtet einen Vogel", "beobachten einen Vogel"),
                 ("sitzt neben einem Hund", "sitzen neben einem Hund"), ("tanzt mit einem Mann", "tanzen mit einem Mann"),
                 ("hilft einem Jungen", "helfen einem Jungen"), ("füttert Enten", "füttern Enten"),
                 ("liest einem kleinen Mädchen vor", "lesen einem kleinen Mädchen vor"),
                 ("schiebt ein Kind auf einer Schaukel", "schieben ein Kind auf einer Schaukel"))
_DE_TOGETHER = ("Freunde", "Touristen", "Studenten", "Kinder", "Menschen", "Arbeiter", "Spieler")


def _verb_final(vp: str) -> str:
    verb, _, rest = vp.partition(" ")
    return f"{rest} {verb}" if rest else verb


def _de(rng: random.Random) -> str:
    r = rng.random()
    who, plural = g._de_person(rng)
    n = 1 if plural else 0
    if r < 0.3:
        a, b = rng.sample(_DE_SIMPLE, 2)
        s = f"{who} {a[n]} und {b[n]}"
    elif r < 0.55:
        s = f"{who} {rng.choice(_DE_WITH_WHOM)[n]}"
        if rng.random() < 0.5:
            s += f" {rng.choice(g._DE_PLACES)}"
    elif r < 0.72:
        # verb second: "Am Strand spielt ein Mann Gitarre"
        verb, _, rest = rng.choice(_DE_SIMPLE)[n].partition(" ")
        place = rng.choice(g._DE_PLACES)
        s = f"{place[0].upper() + place[1:]} {verb} {who}" + (f" {rest}" if rest else "")
    elif r < 0.88:
        other, other_pl = g._de_person(rng)
        s = f"{who} {rng.choice(_DE_SIMPLE)[n]}, während {other} {_verb_final(rng.choice(_DE_SIMPLE)[1 if other_pl else 0])}"
    else:
        act = rng.choice(("essen zusammen Pizza", "machen ein Selfie", "trinken Kaffee", "sitzen auf einer Bank",
                          "posieren für ein Foto", "gehen die Straße entlang", "spielen Karten"))
        s = f"{rng.choice(('Zwei', 'Drei', 'Vier', 'Mehrere', 'Viele', 'Einige'))} {rng.choice(_DE_TOGETHER)} {act}"
    return s


_FR_WITH_WHOM = (("nourrit une girafe", "nourrissent une girafe"), ("caresse un chien", "caressent un chien"),
                 ("serre un enfant dans ses bras", "serrent un enfant dans leurs bras"),
                 ("parle avec une femme", "parlent avec une femme"), ("joue avec un chat", "jouent avec un chat"),
                 ("se promène avec un chien", "se promènent avec un chien"),
                 ("lance une balle à un chien", "lancent une balle à un chien"),
                 ("photographie un cheval", "photographient un cheval"), ("observe un oiseau", "observent un oiseau"),
                 ("est assis à côté d'un chien", "sont assis à côté d'un chien"),
                 ("danse avec un homme", "dansent avec un homme"), ("aide un garçon", "aident un garçon"),
                 ("donne à manger aux canards", "donnent à manger aux canards"),
                 ("lit une histoire à une petite fille", "lisent une histoire à une petite fille"),
                 ("pousse un enfant sur une balançoire", "poussent un enfant sur une balançoire"))
_FR_TOGETHER = ("amis", "touristes", "étudiants", "enfants", "jeunes", "ouvriers", "joueurs")


def _fr(rng: random.Random) -> str:
    r = rng.random()
    who, plural = g._fr_person(rng)
    n = 1 if plural else 0
    if r < 0.3:
        a, b = rng.sample(g._FR_ACTS, 2)
        s = f"{who} {a[n]} et {b[n]}"
    elif r < 0.55:
        s = f"{who} {rng.choice(_FR_WITH_WHOM)[n]}"
        if rng.random() < 0.5:
            s += f" {rng.choice(g._FR_PLACES)}"
    elif r < 0.72:
        place = rng.choice(g._FR_PLACES)
        s = f"{place[0].upper() + place[1:]}, {who} {rng.choice(g._FR_ACTS)[n]}"
    elif r < 0.88:
        other, other_pl = g._fr_person(rng)
        conj = "pendant qu'" if other[0] in "aeiouéh" else "pendant que "
        s = f"{who} {rng.choice(g._FR_ACTS)[n]} {conj}{other} {rng.choice(g._FR_ACTS)[1 if other_pl else 0]}"
    else:
        act = rng.choice(("mangent une pizza ensemble", "prennent un selfie", "boivent un café",
                          "sont assis sur un banc", "posent pour une photo", "marchent dans la rue",
                          "jouent aux cartes"))
        s = f"{rng.choice(('Deux', 'Trois', 'Quatre', 'Plusieurs', 'Des', 'Quelques'))} {rng.choice(_FR_TOGETHER)} {act}"
    return s


_MAKERS = {"en": _en, "de": _de, "fr": _fr}


def captions(lang: str, n: int, rng: random.Random) -> list[str]:
    """Up to n distinct captions in `lang` (en, de or fr), deterministic for the generator's state."""
    return g.captions(lang, n, rng, _MAKERS)


def clause_rows(seed: int = 2, scale: float = 1.0) -> list[dict]:
    """All third-grammar captions as corpus rows (before the held-out filter and de-duplication)."""
    return g.grammar_rows(_MAKERS, N_CAPTIONS3, LEVEL, seed, scale)

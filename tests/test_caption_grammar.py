"""The second caption grammar and corpus extensions (run F's new text).

The grammar is checked for what a reader would learn wrongly from: German case endings, French
and German plural subjects with singular verbs, repeated sentences. Extensions are checked for the
promises train_lite relies on: cached once, never a base-corpus text or a held-out name, and the
held-out slice of the base corpus unchanged.
"""

from __future__ import annotations

import importlib
import json
import random
import re

import numpy as np
import pytest

from clippo_desktop.training.distill import caption_grammar as grammar
from clippo_desktop.training.distill import corpus as corpus_mod


@pytest.mark.parametrize("module, n", [("caption_grammar", 2000), ("activity_grammar", 3000),
                                       ("detail_grammar", 3000)])
def test_captions_are_distinct_and_the_same_for_the_same_seed(module, n):
    gram = importlib.import_module(f"clippo_desktop.training.distill.{module}")
    for lang in ("en", "de", "fr"):
        a = gram.captions(lang, n, random.Random(3))
        assert len(a) == n and len(set(a)) == n
        assert a == gram.captions(lang, n, random.Random(3))
        assert a != gram.captions(lang, n, random.Random(4))


def test_german_clothing_takes_the_dative_ending_of_its_gender():
    caps = grammar.captions("de", 4000, random.Random(0))
    worn = [m for c in caps for m in re.findall(r" in (einem|einer) (\w+) ([\w-]+)", c)]
    assert len(worn) > 500
    gender = dict(grammar._DE_CLOTHES)
    for art, adj, noun in worn:
        assert adj.endswith("en"), (art, adj, noun)
        assert art == ("einer" if gender[noun] == "f" else "einem"), (art, adj, noun)


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_plural_subjects_get_plural_verbs_and_singular_subjects_singular_ones(lang):
    people, acts, extras = ((grammar._DE_PEOPLE, grammar._DE_ACTS, grammar._DE_WITH) if lang == "de" else
                            (grammar._FR_PEOPLE, grammar._FR_ACTS, grammar._FR_WITH))
    worn = r"in (einem|einer) \w+ [\w-]+ " if lang == "de" else r"en [\w-]+ \w+ "
    checked = {True: 0, False: 0}
    for cap in grammar.captions(lang, 4000, random.Random(1)):
        low = cap[0].lower() + cap[1:]
        heads = [(p, pl) for p, pl in people if low.startswith(p + " ")]
        if not heads:
            continue  # an animal, a room, a meal or a vehicle
        head, plural = max(heads, key=lambda h: len(h[0]))
        rest = low[len(head) + 1:]
        rest = re.sub("^" + worn, "", rest)
        rest = next((rest[len(w) + 1:] for w in extras if rest.startswith(w + " ")), rest)
        sg = [a[0] for a in acts if rest.startswith(a[0])]
        pl = [a[1] for a in acts if rest.startswith(a[1])]
        assert (pl if plural else sg), (cap, plural)
        checked[plural] += 1
    assert checked[True] > 300 and checked[False] > 1000
    for text, plural in people:  # counted nouns are plural in the table
        if text.split()[0] in ("zwei", "drei", "mehrere", "viele", "deux", "trois", "plusieurs", "des"):
            assert plural, text


def test_french_clothing_colours_agree_with_the_garment():
    caps = grammar.captions("fr", 4000, random.Random(2))
    gender = dict(grammar._FR_CLOTHES)
    colours = {m: f for m, f in grammar._FR_COLORS}
    worn = [m for c in caps for m in re.findall(r" en ([\w-]+) (\w+)", c) if m[0] in gender]
    assert len(worn) > 300
    for noun, colour in worn:
        forms = {f for m, f in grammar._FR_COLORS} if gender[noun] == "f" else set(colours)
        assert colour in forms, (noun, colour)


def _fake_teacher(texts):
    """A deterministic stand-in embedding (the real teacher is a training-only dependency)."""
    out = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(8) for t in texts])
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _write_base(folder, n=3100):
    rows = [{"text": f"base text {i}", "lang": "en", "level": "word" if i % 2 else "caption"} for i in range(n)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    np.save(folder / "corpus_text.npy", _fake_teacher([r["text"] for r in rows]).astype(np.float16))
    return rows


def test_an_extension_drops_base_texts_duplicates_and_held_out_names_and_is_cached(tmp_path, monkeypatch):
    from clippo_desktop.training.distill import sources

    monkeypatch.setattr(sources, "held_out_names", lambda: {"goldfish"})
    calls = []
    rows = [{"text": t, "lang": "en", "level": "extra"} for t in
            ("base text 1", "a goldfish in a bowl", "a man on a bike", "A MAN ON A BIKE", "two dogs")]
    monkeypatch.setitem(corpus_mod.EXTENSIONS, "extra", lambda: calls.append(1) or rows)
    got, emb = corpus_mod.extension_targets(tmp_path, "extra", ["base text 1"], encode=_fake_teacher, log=print)
    assert [r["text"] for r in got] == ["a man on a bike", "two dogs"]
    assert emb.dtype == np.float16 and emb.shape == (2, 8)
    again, emb2 = corpus_mod.extension_targets(tmp_path, "extra", ["base text 1"], encode=None, log=print)
    assert again == got and np.array_equal(emb, emb2) and calls == [1]
    with pytest.raises(ValueError, match="unknown corpus extension 'nope'; known: .*caption2"):
        corpus_mod.extension_targets(tmp_path, "nope", [])


def test_a_corpus_with_an_extension_keeps_the_base_held_out_slice_and_samples_the_new_level(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from clippo_desktop.training.distill import sources
    from clippo_desktop.training.distill.train_lite import Corpus

    monkeypatch.setattr(sources, "held_out_names", lambda: set())
    _write_base(tmp_path)
    rows = [{"text": f"new caption {i}", "lang": "de", "level": "extra"} for i in range(50)]
    monkeypatch.setitem(corpus_mod.EXTENSIONS, "extra", lambda: rows)
    corpus_mod.extension_targets(tmp_path, "extra", [], encode=_fake_teacher)
    plain, extended = Corpus(tmp_path), Corpus(tmp_path, extensions=["extra"])
    assert np.array_equal(plain.val, extended.val)
    assert set(plain.by_level) == {"word", "caption"} and set(extended.by_level) == {"word", "caption", "extra"}
    picked = extended.sample("extra", 200, random.Random(0))
    assert {extended.texts[i] for i in picked} <= {r["text"] for r in rows}
    assert np.allclose(np.linalg.norm(extended.targets[picked], axis=1), 1.0, atol=1e-3)


def test_german_clauses_put_the_verb_second_after_a_place_and_last_after_waehrend():
    from clippo_desktop.training.distill import clause_grammar as clauses

    finite = {a[i].split()[0] for a in clauses._DE_SIMPLE for i in (0, 1)}
    fronted = whiles = 0
    for cap in clauses.captions("de", 4000, random.Random(5)):
        place = next((p for p in grammar._DE_PLACES if cap.startswith(p[0].upper() + p[1:] + " ")), None)
        if place is not None:
            assert cap[len(place) + 1:].split()[0] in finite, cap
            fronted += 1
        if ", während " in cap:
            sub = cap.split(", während ", 1)[1].rstrip(".")
            assert any(sub.endswith(clauses._verb_final(a[i])) for a in clauses._DE_SIMPLE for i in (0, 1)), cap
            whiles += 1
    assert fronted > 300 and whiles > 300
    assert clauses._verb_final("lässt einen Drachen steigen") == "einen Drachen steigen lässt"
    assert clauses._verb_final("kocht") == "kocht"


def test_french_clauses_elide_que_before_a_vowel():
    from clippo_desktop.training.distill import clause_grammar as clauses

    caps = [c for c in clauses.captions("fr", 4000, random.Random(6)) if "pendant qu" in c]
    assert len(caps) > 300
    for cap in caps:
        rest = cap.split("pendant qu", 1)[1]
        assert rest.startswith("'u") or rest.startswith("e ") and rest[2] not in "aeiouéh", cap


def test_every_recipe_stage_mixes_only_levels_its_corpus_has():
    pytest.importorskip("torch")
    from clippo_desktop.training.distill import (activity_grammar, caption_grammar, clause_grammar, descriptions,
                                                 detail_grammar, object_grammar)
    from clippo_desktop.training.distill.recipe import STAGES, stage_config

    produces = {"caption2": caption_grammar.LEVEL, "caption3": clause_grammar.LEVEL,
                "caption4": activity_grammar.LEVEL, "caption5": detail_grammar.LEVEL, "describe": descriptions.LEVEL,
                "objects": object_grammar.LEVEL}
    assert set(produces) == set(corpus_mod.EXTENSIONS)
    for stage in STAGES:
        cfg = stage_config(stage)
        levels = {"word", "phrase", "bag", "caption"} | {produces[e] for e in cfg.extensions}
        assert set(cfg.final_mix) <= levels, stage.name
        if cfg.final_mix:
            assert abs(sum(cfg.final_mix.values()) - 1.0) < 1e-9, stage.name


def test_a_mix_naming_a_level_without_texts_is_refused_before_training():
    pytest.importorskip("torch")
    from clippo_desktop.training.distill.train_lite import check_mix

    check_mix({"word": 0.5, "caption2": 0.5}, {"word": [1], "caption2": [2]})
    with pytest.raises(ValueError, match="final_mix names levels the corpus has no texts for: caption3; "
                                         "add the corpus extension that makes them to `extensions`"):
        check_mix({"word": 0.5, "caption3": 0.5}, {"word": [1], "caption2": [2]})


def test_object_captions_place_everyday_things_and_are_the_same_for_the_same_seed():
    from clippo_desktop.training.distill.object_grammar import LEVEL, object_rows

    rows = object_rows(seed=6, n=4000)
    texts = [r["text"] for r in rows]
    assert rows == object_rows(seed=6, n=4000) and texts != [r["text"] for r in object_rows(seed=7, n=4000)]
    assert {r["lang"] for r in rows} == {"en"} and {r["level"] for r in rows} == {LEVEL}
    assert len(set(texts)) > 0.9 * len(texts)
    low = [t.lower() for t in texts]
    # the words run L's English texts nearly lacked, and the relations photo captions open with
    for phrase in ("on top of", "next to", "beside", "she is", "toothbrush", "fork", "skis", "scissors",
                   "fire hydrant", "a close up of", "an aerial view of"):
        assert sum(phrase in t for t in low) >= 10, phrase
    for t in low:
        assert "  " not in t and t == t.strip() and not re.search(r"\ba [aeiou]", t), t
        # "there is" takes one thing, "there are" several
        assert not re.match(r"there is (two|three|four|five|several|many|some|a few|lots of)\b", t), t
    assert 0.05 < sum(t.isupper() for t in texts) / len(texts) < 0.15

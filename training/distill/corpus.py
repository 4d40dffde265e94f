"""The shippable text corpus of the CLIPPO-Lite reader, with its teacher targets.

Every text here may train a model that ships (training/DATA.md): wordfreq word lists
(Apache-2.0 code, CC BY-SA 4.0 data), word bags sampled from them, photo-caption
sentences in English, German and French generated from this module's own word lists, the English names of the 700 training
ImageNet classes (WordNet lemmas) and COCO train2017 captions (CC BY 4.0). Nothing comes from
Multi30k, Babel-ImageNet or ImageNet photos. Babel-ImageNet is read only to *drop* texts that
mention a held-out class name in any language.

    rows = build_corpus(seed=0)            # list of {"text", "lang", "level"}
    cache = build_targets(rows, folder)    # corpus.jsonl + corpus_text.npy (float16, USE-m)

Levels: `word` (single words, 14 languages), `bag` (2-5 frequent words of one language, the
multilingual stand-in for sentences), `phrase` ("a photo of a {class}", two-word templates),
`caption` (captions generated in English, German and French, and COCO train captions).
"""

from __future__ import annotations

import functools
import json
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np

from . import sources

# wordfreq has no Thai list; the other 14 USE-m languages.
WORD_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "zh", "ja", "ko")
N_WORDS = {"en": 20000, "de": 12000, "fr": 12000, "es": 12000, "zh": 10000, "ja": 10000, "ru": 10000,
           "ar": 8000}
N_WORDS_OTHER = 6000
N_BAGS = 70000
N_CAPTIONS = 40000
N_CAPTIONS_DE_FR = 15000
_LETTERS = re.compile(r"^[^\W\d_]+$", re.UNICODE)

# Our own little grammar of photo captions (English): subjects, what they do, where.
_SUBJECTS = """man woman boy girl child baby person people family couple dog puppy cat kitten horse
cow sheep bird duck goose chicken fish elephant giraffe zebra bear lion tiger monkey rabbit deer
car truck bus train bicycle motorcycle boat ship airplane helicopter rocket tractor tree flower
house building bridge tower church castle mountain lake river beach ocean road street city
table chair bed sofa lamp window door clock phone laptop computer book cake pizza sandwich
bowl cup plate bottle glass apple banana orange vegetables fruit soup coffee player team
crowd soldier teacher student doctor chef farmer musician singer dancer skier surfer
skateboarder runner climber kite umbrella ball guitar piano flag sign statue fountain fire
snow rain sunset garden park field forest desert island village market kitchen bathroom
bedroom office restaurant station airport stadium museum library""".split()
_ADJ = """red blue green yellow black white brown gray orange pink purple small big large tiny
huge old young new happy sad wet dry dark bright colorful empty crowded busy quiet sleeping
running wooden metal broken beautiful cute fluffy tall short long""".split()
_VERBS = """standing sitting lying walking running jumping playing eating drinking sleeping
swimming flying riding driving climbing reading writing cooking smiling looking waiting
dancing singing holding carrying pulling pushing watching throwing catching""".split()
_PLACES = ("the street", "the beach", "the park", "the snow", "the grass", "the water", "the road",
           "the field", "the kitchen", "the table", "the bed", "the sofa", "the floor", "the sky",
           "the city", "the forest", "the mountains", "the river", "the lake", "a room", "a garden",
           "a building", "the station", "the airport", "the market", "the desert", "the night",
           "the rain", "the sun", "a window", "the shop", "a bridge", "the ice", "the sand", "the stage")
_PREPS = ("on", "in", "near", "next to", "under", "behind", "in front of", "at", "by", "across")
_FORMS = ("a photo of a {}", "a picture of a {}", "a close-up of a {}", "a {}", "the {}", "{}",
          "my {}", "an image of a {}", "a blurry photo of a {}", "a drawing of a {}")


# The same little grammar in German and French (nouns carry their gender), so the reader sees
# caption-like sentences in the two languages of the Multi30k rows without any Multi30k text.
_DE_NOUNS = (("Mann", "m"), ("Frau", "f"), ("Junge", "m"), ("Mädchen", "n"), ("Kind", "n"), ("Baby", "n"),
             ("Hund", "m"), ("Katze", "f"), ("Pferd", "n"), ("Vogel", "m"), ("Kuh", "f"), ("Schaf", "n"),
             ("Elefant", "m"), ("Giraffe", "f"), ("Bär", "m"), ("Auto", "n"), ("Zug", "m"), ("Bus", "m"),
             ("Fahrrad", "n"), ("Boot", "n"), ("Flugzeug", "n"), ("Motorrad", "n"), ("Lastwagen", "m"),
             ("Mensch", "m"), ("Arbeiter", "m"), ("Musiker", "m"), ("Sängerin", "f"), ("Tänzerin", "f"),
             ("Spieler", "m"), ("Radfahrer", "m"), ("Koch", "m"), ("Polizist", "m"), ("Ente", "f"),
             ("Blume", "f"), ("Baum", "m"), ("Haus", "n"), ("Brücke", "f"), ("Pizza", "f"), ("Kuchen", "m"))
_DE_ADJ = ("schwarz", "weiß", "braun", "rot", "blau", "grün", "gelb", "klein", "groß", "alt", "jung",
           "nass", "glücklich", "müde", "bunt")
_DE_VERBS = ("steht", "sitzt", "liegt", "läuft", "rennt", "springt", "spielt", "isst", "trinkt", "schläft",
             "schwimmt", "fährt", "klettert", "liest", "kocht", "lächelt", "wartet", "tanzt", "singt",
             "hält einen Ball", "trägt eine Tasche", "schaut in die Kamera", "arbeitet", "spielt Gitarre")
_DE_VERBS_PL = ("stehen", "sitzen", "liegen", "laufen", "rennen", "spielen", "essen", "trinken",
                "schlafen", "schwimmen", "fahren", "warten", "tanzen", "singen", "arbeiten", "reden")
_DE_PLACES = ("auf der Straße", "am Strand", "im Park", "im Schnee", "auf dem Gras", "im Wasser",
              "auf einer Wiese", "in der Küche", "auf dem Tisch", "im Bett", "auf dem Sofa",
              "auf dem Boden", "in der Stadt", "im Wald", "in den Bergen", "am Fluss", "am See",
              "vor einem Gebäude", "neben einem Auto", "unter einem Baum", "auf einer Bühne", "im Regen",
              "in der Nacht", "am Bahnhof", "auf dem Markt", "im Sand", "auf dem Gehweg", "im Garten")
_FR_NOUNS = (("homme", "m"), ("femme", "f"), ("garçon", "m"), ("fille", "f"), ("enfant", "m"),
             ("bébé", "m"), ("chien", "m"), ("chat", "m"), ("cheval", "m"), ("oiseau", "m"), ("vache", "f"),
             ("mouton", "m"), ("éléphant", "m"), ("girafe", "f"), ("ours", "m"), ("voiture", "f"),
             ("train", "m"), ("bus", "m"), ("vélo", "m"), ("bateau", "m"), ("avion", "m"), ("moto", "f"),
             ("camion", "m"), ("personne", "f"), ("ouvrier", "m"), ("musicien", "m"), ("chanteuse", "f"),
             ("danseuse", "f"), ("joueur", "m"), ("cycliste", "m"), ("cuisinier", "m"), ("policier", "m"),
             ("canard", "m"), ("fleur", "f"), ("arbre", "m"), ("maison", "f"), ("pizza", "f"), ("gâteau", "m"))
_FR_ADJ = (("noir", "noire"), ("blanc", "blanche"), ("brun", "brune"), ("rouge", "rouge"), ("bleu", "bleue"),
           ("vert", "verte"), ("jaune", "jaune"), ("mouillé", "mouillée"), ("heureux", "heureuse"),
           ("fatigué", "fatiguée"), ("jeune", "jeune"), ("vieux", "vieille"))
_FR_VERBS = ("court", "saute", "joue", "mange", "boit", "dort", "nage", "marche", "attend", "danse",
             "chante", "lit", "regarde la caméra", "tient un ballon", "porte un sac", "travaille",
             "joue de la guitare", "roule", "se repose", "sourit")
_FR_VERBS_PL = ("courent", "sautent", "jouent", "mangent", "boivent", "dorment", "nagent", "marchent",
                "attendent", "dansent", "chantent", "travaillent", "parlent")
_FR_PLACES = ("dans la rue", "sur la plage", "dans le parc", "dans la neige", "sur l'herbe", "dans l'eau",
              "dans un champ", "dans la cuisine", "sur la table", "sur le lit", "sur le canapé", "par terre",
              "dans la ville", "dans la forêt", "à la montagne", "près de la rivière", "au bord du lac",
              "devant un bâtiment", "à côté d'une voiture", "sous un arbre", "sur une scène",
              "sous la pluie", "la nuit", "à la gare", "au marché", "dans le sable", "sur le trottoir")


def _de_noun_phrase(rng: random.Random) -> str:
    noun, g = rng.choice(_DE_NOUNS)
    art = {"m": "ein", "f": "eine", "n": "ein"}[g]
    if rng.random() < 0.5:
        adj = rng.choice(_DE_ADJ) + {"m": "er", "f": "e", "n": "es"}[g]
        return f"{art} {adj} {noun}"
    return f"{art} {noun}"


def _fr_noun_phrase(rng: random.Random) -> str:
    noun, g = rng.choice(_FR_NOUNS)
    art = "un" if g == "m" else "une"
    if rng.random() < 0.5:
        adj = rng.choice(_FR_ADJ)[0 if g == "m" else 1]
        return f"{art} {noun} {adj}"
    return f"{art} {noun}"


def generated_captions_de_fr(lang: str, n: int, rng: random.Random) -> list[str]:
    """German or French caption-like sentences (our own grammar; deterministic for a seed)."""
    np_, verbs, verbs_pl, places, und = ((_de_noun_phrase, _DE_VERBS, _DE_VERBS_PL, _DE_PLACES, "und")
                                        if lang == "de" else
                                        (_fr_noun_phrase, _FR_VERBS, _FR_VERBS_PL, _FR_PLACES, "et"))
    def make(rng: random.Random) -> str:
        kind = rng.random()
        if kind < 0.6:
            return f"{np_(rng)} {rng.choice(verbs)} {rng.choice(places)}"
        if kind < 0.8:
            return f"{np_(rng)} {und} {np_(rng)} {rng.choice(verbs_pl)} {rng.choice(places)}"
        return f"{np_(rng)} {rng.choice(verbs)}"

    return _distinct(n, make, rng, capital=0.7, period=0.5)


def _distinct(n: int, make, rng: random.Random, capital: float, period: float) -> list[str]:
    """Up to n distinct sentences from make(rng), some capitalised, some with a full stop."""
    out: set[str] = set()
    for _ in range(n * 3):
        if len(out) >= n:
            break
        s = make(rng)
        s = s[0].upper() + s[1:] if rng.random() < capital else s
        out.add(s + ("." if rng.random() < period else ""))
    return sorted(out)


def generated_captions(n: int, rng: random.Random) -> list[str]:
    """English caption-like sentences from the lists above (deterministic for a seed)."""
    places = _PLACES

    def make(rng: random.Random) -> str:
        subj = rng.choice(_SUBJECTS)
        adj = rng.choice(_ADJ) + " " if rng.random() < 0.5 else ""
        if rng.random() < 0.2:
            head = f"two {adj}{subj}s" if not subj.endswith(("s", "people", "sheep", "fish")) else f"two {adj}{subj}"
            verb = "are " + rng.choice(_VERBS)
        else:
            art = "an" if (adj or subj)[0] in "aeiou" else "a"
            head, verb = f"{art} {adj}{subj}", "is " + rng.choice(_VERBS)
        kind = rng.random()
        if kind < 0.45:
            s = f"{head} {verb} {rng.choice(_PREPS)} {rng.choice(places)}"
        elif kind < 0.7:
            s = f"{head} {rng.choice(_PREPS)} {rng.choice(places)}"
        elif kind < 0.85:
            s = f"{head} and a {rng.choice(_SUBJECTS)} {rng.choice(_PREPS)} {rng.choice(places)}"
        else:
            s = f"{head} {verb}"
        if rng.random() < 0.3:
            s = s.replace(" is ", " ", 1).replace(" are ", " ", 1)
        return s

    return _distinct(n, make, rng, capital=0.5, period=0.4)


def word_lists(held, scale: float = 1.0) -> dict[str, list[str]]:
    """Frequent words per language (wordfreq), letters only, held-out names removed."""
    import wordfreq

    out = {}
    for lang in WORD_LANGS:
        n = max(50, int(N_WORDS.get(lang, N_WORDS_OTHER) * scale))
        words = [w for w in wordfreq.top_n_list(lang, int(n * 1.3)) if _LETTERS.match(w) and not held(w)]
        if lang not in ("zh", "ja", "ko"):
            words = [w for w in words if len(w) >= 2]
        out[lang] = words[:n]
    return out


class _Rows:
    """Corpus rows collected once each (case-insensitive), with held-out texts counted and dropped."""

    def __init__(self, held, seen: list[str] = ()):
        self.held, self.seen = held, {t.lower() for t in seen}
        self.rows: list[dict] = []
        self.stats: Counter = Counter()

    def add(self, text: str, lang: str, level: str) -> None:
        key = text.lower()
        if not text.strip() or key in self.seen:
            return
        if self.held(text, lang):
            self.stats[f"dropped_{level}"] += 1
            return
        self.seen.add(key)
        self.rows.append({"text": text, "lang": lang, "level": level})


def build_corpus(seed: int = 0, scale: float = 1.0) -> tuple[list[dict], dict]:
    """All training texts (no targets yet) and statistics of what the held-out filter dropped.

    `scale` < 1 builds a proportionally smaller corpus (tests)."""
    rng = random.Random(seed)
    held = sources.HeldOutFilter(sources.held_out_names())
    kept = _Rows(held)
    add, rows, stats = kept.add, kept.rows, kept.stats
    words = word_lists(held, scale)
    for lang, ws in words.items():
        for w in ws:
            add(w, lang, "word")
    for lang, ws in words.items():
        top = ws[:4000]
        joiner = "" if lang in ("zh", "ja") and rng.random() < 0.5 else " "
        for _ in range(int(N_BAGS * scale) // len(words)):
            k = rng.choice((2, 2, 3, 3, 4, 5))
            add(joiner.join(rng.choice(top) for _ in range(k)), lang, "bag")
    en_names = [n for c, n in sources.class_names("en").items() if not sources.is_held_out(c)]
    for name in en_names:
        add(name, "en", "phrase")
        for form in rng.sample(_FORMS[:-1], 3):
            add(form.format(name), "en", "phrase")
    for subj in _SUBJECTS:
        for form in _FORMS:
            add(form.format(subj), "en", "phrase")
        for adj in rng.sample(_ADJ, 6):
            add(f"{adj} {subj}", "en", "phrase")
    for cap in generated_captions(int(N_CAPTIONS * scale), rng):
        add(cap, "en", "caption")
    for lang in ("de", "fr"):
        for cap in generated_captions_de_fr(lang, int(N_CAPTIONS_DE_FR * scale), rng):
            add(cap, lang, "caption")
    for photo in sources.coco_photos("train2017"):
        for cap in photo.captions:
            add(cap, "en", "caption")
    stats.update(Counter(f"n_{r['level']}" for r in rows))
    return rows, dict(stats)


def _write_cache(jl: Path, npy: Path, rows: list[dict], emb: np.ndarray) -> None:
    """Targets first, rows last (each atomically): a cache with both files is complete."""
    from clippo_desktop.engine.atomic import atomic_write, write_text_atomic

    with atomic_write(npy) as f:
        np.save(f, emb.astype(np.float16), allow_pickle=False)
    write_text_atomic(jl, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _read_cache(jl: Path, npy: Path) -> tuple[list[dict], np.ndarray]:
    rows = [json.loads(line) for line in jl.read_text("utf-8").splitlines()]
    return rows, np.load(npy, allow_pickle=False)


def _teacher_encode(threads: int):
    from .teachers import TextTeacher

    return functools.partial(TextTeacher(threads=threads).encode, batch_size=256)


def build_targets(folder: Path, threads: int = 2, log=print) -> tuple[list[dict], np.ndarray]:
    """Write corpus.jsonl + corpus_text.npy (USE-m, float16) once; load them afterwards."""
    from clippo_desktop.engine.atomic import write_text_atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    jl, npy = folder / "corpus.jsonl", folder / "corpus_text.npy"
    if not (jl.is_file() and npy.is_file()):
        rows, stats = build_corpus()
        log(f"corpus: {len(rows)} texts {stats}")
        emb = _teacher_encode(threads)([r["text"] for r in rows])
        write_text_atomic(folder / "corpus_stats.json", json.dumps(stats, indent=1))
        _write_cache(jl, npy, rows, emb)
    return _read_cache(jl, npy)


# Corpus extensions: name -> function returning candidate rows. Each is stored beside the base
# corpus as <name>.jsonl + <name>_text.npy, so adding one never changes the base corpus (or the
# held-out slice drawn from it) that earlier stages trained on.
def _caption2_rows() -> list[dict]:
    from .caption_grammar import caption_rows

    return caption_rows()


def _caption3_rows() -> list[dict]:
    from .clause_grammar import clause_rows

    return clause_rows()


def _caption4_rows() -> list[dict]:
    from .activity_grammar import activity_rows

    return activity_rows()


def _caption5_rows() -> list[dict]:
    from .detail_grammar import detail_rows

    return detail_rows()


def _objects_rows() -> list[dict]:
    from .object_grammar import object_rows

    return object_rows()


def _describe_rows() -> list[dict]:
    from .descriptions import description_rows

    return description_rows()


EXTENSIONS = {"caption2": _caption2_rows, "caption3": _caption3_rows, "caption4": _caption4_rows,
              "caption5": _caption5_rows, "describe": _describe_rows, "objects": _objects_rows}
# Extensions filtered per language (sources.LanguageHeldOut: a text may not name a held-out class
# in its own language or in an evaluation language). The earlier ones keep the all-language filter,
# so their caches, and the runs trained on them, stay reproducible.
PER_LANGUAGE_FILTER = {"caption5", "objects"}


def held_out_filter(name: str):
    """The held-out filter extension `name` is built with."""
    if name in PER_LANGUAGE_FILTER:
        return sources.LanguageHeldOut()
    return sources.HeldOutFilter(sources.held_out_names())


def extension_targets(folder: Path, name: str, base_texts: list[str], threads: int = 2,
                      log=print, encode=None) -> tuple[list[dict], np.ndarray]:
    """Rows and USE-m targets (float16) of corpus extension `name`, computed once and cached.

    Texts already in the base corpus, duplicates and texts naming a held-out class are dropped
    (by `held_out_filter(name)`). `encode` (texts -> unit vectors) defaults to the text teacher."""
    if name not in EXTENSIONS:
        raise ValueError(f"unknown corpus extension {name!r}; known: {', '.join(sorted(EXTENSIONS))}")
    folder = Path(folder)
    jl, npy = folder / f"{name}.jsonl", folder / f"{name}_text.npy"
    if not (jl.is_file() and npy.is_file()):
        kept = _Rows(held_out_filter(name), seen=base_texts)
        for r in EXTENSIONS[name]():
            kept.add(r["text"], r["lang"], r["level"])
        rows = kept.rows
        log(f"corpus extension {name}: {len(rows)} texts, {sum(kept.stats.values())} dropped (held-out names)")
        _write_cache(jl, npy, rows, (encode or _teacher_encode(threads))([r["text"] for r in rows]))
    return _read_cache(jl, npy)

"""A fifth caption grammar: the inflected forms and participle phrases people captions use.

Our first four grammars say "eine Frau in einer weißen Jacke" and "une femme marche". Photo
captions in German and French are mostly written differently: adjectives without an article in
the strong dative ("in weißem Hemd", "mit roter Kappe"), adjectives in the nominative after
"ein"/"der" ("ein blonder Mann", "das kleine Mädchen"), participle attributes ("ein in Schwarz
gekleideter Mann", "un homme vêtu de noir"), French present participles as the caption's verb
("une femme tenant un parapluie", "des enfants sautant dans l'eau"), and onlookers ("während
Zuschauer zusehen", "sous le regard de la foule"). Reading these forms is what the reader lacked:
on the Multi30k *validation* lines (a development set; test_2016 stays the evaluation), 777 of
1,014 German lines had a word no training text contained, most of them such inflections.

Every concept is one row with its English, German and French forms (as in activity_grammar.py),
and all text is our own. German texts may contain "das" and English ones "top": this extension
is filtered per language (corpus.PER_LANGUAGE_FILTER), see sources.held_out_names_for.

    rows = detail_rows(seed=5)   # [{"text", "lang", "level": "caption5"}], deterministic
"""

from __future__ import annotations

import random

from . import caption_grammar as g
from .activity_grammar import _article, en_garments, third_person

N_CAPTIONS5 = {"en": 25000, "de": 45000, "fr": 35000}
LEVEL = "caption5"

# (en sg, en pl, German noun, gender m/f/n, German plural, French noun, gender m/f, French plural)
_PEOPLE = (
    ("man", "men", "Mann", "m", "Männer", "homme", "m", "hommes"),
    ("woman", "women", "Frau", "f", "Frauen", "femme", "f", "femmes"),
    ("boy", "boys", "Junge", "m", "Jungen", "garçon", "m", "garçons"),
    ("girl", "girls", "Mädchen", "n", "Mädchen", "fille", "f", "filles"),
    ("child", "children", "Kind", "n", "Kinder", "enfant", "m", "enfants"),
    ("person", "people", "Person", "f", "Personen", "personne", "f", "personnes"),
    ("cyclist", "cyclists", "Fahrradfahrer", "m", "Fahrradfahrer", "cycliste", "m", "cyclistes"),
    ("swimmer", "swimmers", "Schwimmer", "m", "Schwimmer", "nageur", "m", "nageurs"),
    ("waitress", "waitresses", "Kellnerin", "f", "Kellnerinnen", "serveuse", "f", "serveuses"),
    ("worker", "workers", "Arbeiter", "m", "Arbeiter", "ouvrier", "m", "ouvriers"),
    ("musician", "musicians", "Musiker", "m", "Musiker", "musicien", "m", "musiciens"),
    ("player", "players", "Spieler", "m", "Spieler", "joueur", "m", "joueurs"),
    ("skier", "skiers", "Skifahrer", "m", "Skifahrer", "skieur", "m", "skieurs"),
    ("snowboarder", "snowboarders", "Snowboarder", "m", "Snowboarder", "snowboardeur", "m", "snowboardeurs"),
    ("biker", "bikers", "Motorradfahrer", "m", "Motorradfahrer", "motard", "m", "motards"),
    ("hiker", "hikers", "Wanderer", "m", "Wanderer", "randonneur", "m", "randonneurs"),
    ("lady", "ladies", "Dame", "f", "Damen", "dame", "f", "dames"),
    ("baby", "babies", "Baby", "n", "Babys", "bébé", "m", "bébés"),
    ("teenager", "teenagers", "Teenager", "m", "Teenager", "adolescent", "m", "adolescents"),
)
# (en, German stem, French masculine, French feminine, French before the noun?)
_LOOKS = (
    ("blond", "blond", "blond", "blonde", False), ("young", "jung", "jeune", "jeune", True),
    ("little", "klein", "petit", "petite", True), ("tall", "groß", "grand", "grande", True),
    ("old", "alt", "vieux", "vieille", True), ("smiling", "lächelnd", "souriant", "souriante", False),
    ("bearded", "bärtig", "barbu", "barbue", False), ("asian", "asiatisch", "asiatique", "asiatique", False),
    ("dark-haired", "dunkelhaarig", "brun", "brune", False), ("muscular", "muskulös", "musclé", "musclée", False),
    ("happy", "fröhlich", "joyeux", "joyeuse", False), ("tired", "müd", "fatigué", "fatiguée", False),
)
# (en, German stem, German colour noun or "" , French masculine, French feminine)
_COLOURS = (
    ("red", "rot", "Rot", "rouge", "rouge"), ("blue", "blau", "Blau", "bleu", "bleue"),
    ("green", "grün", "Grün", "vert", "verte"), ("yellow", "gelb", "Gelb", "jaune", "jaune"),
    ("black", "schwarz", "Schwarz", "noir", "noire"), ("white", "weiß", "Weiß", "blanc", "blanche"),
    ("gray", "grau", "Grau", "gris", "grise"), ("brown", "braun", "Braun", "marron", "marron"),
    ("pink", "pinkfarben", "Pink", "rose", "rose"), ("purple", "lilafarben", "Lila", "violet", "violette"),
    ("light brown", "hellbraun", "", "marron clair", "marron clair"),
    ("dark blue", "dunkelblau", "Dunkelblau", "bleu foncé", "bleu foncé"),
    ("bright yellow", "leuchtend gelb", "", "jaune vif", "jaune vif"),
    ("colorful", "bunt", "", "coloré", "colorée"),
)
_DE_COLOUR_NOUNS = [c[2] for c in _COLOURS if c[2]]  # "in Schwarz gekleidet"; not every colour has one
# (en, en plural?, German noun in the dative, gender m/f/n/p, French noun, gender m/f, French plural?)
_GARMENTS = (
    ("shirt", False, "Hemd", "n", "chemise", "f", False), ("blouse", False, "Bluse", "f", "chemisier", "m", False),
    ("jacket", False, "Jacke", "f", "veste", "f", False), ("cap", False, "Kappe", "f", "casquette", "f", False),
    ("beanie", False, "Mütze", "f", "bonnet", "m", False), ("dress", False, "Kleid", "n", "robe", "f", False),
    ("hat", False, "Hut", "m", "chapeau", "m", False), ("scarf", False, "Schal", "m", "écharpe", "f", False),
    ("vest", False, "Weste", "f", "gilet", "m", False), ("hoodie", False, "Kapuzenpullover", "m", "sweat à capuche", "m", False),
    ("sweater", False, "Pullover", "m", "pull", "m", False), ("suit", False, "Anzug", "m", "costume", "m", False),
    ("helmet", False, "Helm", "m", "casque", "m", False), ("headband", False, "Stirnband", "n", "bandeau", "m", False),
    ("bikini", False, "Bikini", "m", "bikini", "m", False), ("uniform", False, "Uniform", "f", "uniforme", "m", False),
    ("jeans", True, "Bluejeans", "p", "jean", "m", False), ("boots", True, "Stiefeln", "p", "bottes", "f", True),
    ("sandals", True, "Sandalen", "p", "sandales", "f", True), ("gloves", True, "Handschuhen", "p", "gants", "m", True),
    ("shorts", True, "Shorts", "p", "short", "m", False), ("pants", True, "Hosen", "p", "pantalon", "m", False),
)
# (en -ing, en base, German sg, German pl, French sg, French pl, French present participle)
_ACTS = (
    ("holding a sign", "hold a sign", "hält ein Schild", "halten ein Schild",
     "tient une pancarte", "tiennent une pancarte", "tenant une pancarte"),
    ("holding an umbrella", "hold an umbrella", "hält einen Regenschirm", "halten Regenschirme",
     "tient un parapluie", "tiennent des parapluies", "tenant un parapluie"),
    ("walking down the street", "walk down the street", "geht die Straße entlang", "gehen die Straße entlang",
     "marche dans la rue", "marchent dans la rue", "marchant dans la rue"),
    ("walking on the sidewalk", "walk on the sidewalk", "geht auf dem Gehsteig", "gehen auf dem Gehsteig",
     "marche sur le trottoir", "marchent sur le trottoir", "marchant sur le trottoir"),
    ("jumping into the pool", "jump into the pool", "springt in den Pool", "springen in den Pool",
     "saute dans la piscine", "sautent dans la piscine", "sautant dans la piscine"),
    ("jumping in the air", "jump in the air", "springt in die Luft", "springen in die Luft",
     "saute en l'air", "sautent en l'air", "sautant en l'air"),
    ("singing on stage", "sing on stage", "singt auf der Bühne", "singen auf der Bühne",
     "chante sur scène", "chantent sur scène", "chantant sur scène"),
    ("posing for a picture", "pose for a picture", "posiert für ein Foto", "posieren für ein Foto",
     "pose pour une photo", "posent pour une photo", "posant pour une photo"),
    ("swimming in the ocean", "swim in the ocean", "schwimmt im Meer", "schwimmen im Meer",
     "nage dans l'océan", "nagent dans l'océan", "nageant dans l'océan"),
    ("eating a sandwich", "eat a sandwich", "isst ein Sandwich", "essen Sandwiches",
     "mange un sandwich", "mangent des sandwichs", "mangeant un sandwich"),
    ("drinking coffee", "drink coffee", "trinkt Kaffee", "trinken Kaffee",
     "boit un café", "boivent un café", "buvant un café"),
    ("smoking a cigarette", "smoke a cigarette", "raucht eine Zigarette", "rauchen Zigaretten",
     "fume une cigarette", "fument des cigarettes", "fumant une cigarette"),
    ("dancing in the street", "dance in the street", "tanzt auf der Straße", "tanzen auf der Straße",
     "danse dans la rue", "dansent dans la rue", "dansant dans la rue"),
    ("looking at the camera", "look at the camera", "schaut in die Kamera", "schauen in die Kamera",
     "regarde l'objectif", "regardent l'objectif", "regardant l'objectif"),
    ("sitting on a bench", "sit on a bench", "sitzt auf einer Bank", "sitzen auf einer Bank",
     "est assis sur un banc", "sont assis sur un banc", "assis sur un banc"),
    ("standing on a walkway", "stand on a walkway", "steht auf einem Fußweg", "stehen auf einem Fußweg",
     "se tient sur une passerelle", "se tiennent sur une passerelle", "debout sur une passerelle"),
    ("lying on the grass", "lie on the grass", "liegt auf dem Rasen", "liegen auf dem Rasen",
     "est allongé sur la pelouse", "sont allongés sur la pelouse", "allongé sur la pelouse"),
    ("crouching on the ground", "crouch on the ground", "kauert auf dem Boden", "kauern auf dem Boden",
     "est accroupi par terre", "sont accroupis par terre", "accroupi par terre"),
    ("performing a trick", "perform a trick", "vollführt ein Kunststück", "vollführen Kunststücke",
     "exécute une figure", "exécutent des figures", "exécutant une figure"),
    ("doing a trick on a ramp", "do a trick on a ramp", "macht einen Trick auf einer Rampe",
     "machen Tricks auf einer Rampe", "fait une figure sur une rampe", "font des figures sur une rampe",
     "faisant une figure sur une rampe"),
    ("throwing a frisbee", "throw a frisbee", "wirft eine Frisbeescheibe", "werfen eine Frisbeescheibe",
     "lance un frisbee", "lancent un frisbee", "lançant un frisbee"),
    ("riding a horse", "ride a horse", "reitet auf einem Pferd", "reiten auf Pferden",
     "monte à cheval", "montent à cheval", "montant à cheval"),
    ("riding a bike through the mud", "ride a bike through the mud", "fährt mit dem Rad durch den Schlamm",
     "fahren mit dem Rad durch den Schlamm", "roule à vélo dans la boue", "roulent à vélo dans la boue",
     "roulant à vélo dans la boue"),
    ("playing the violin", "play the violin", "spielt Geige", "spielen Geige",
     "joue du violon", "jouent du violon", "jouant du violon"),
    ("playing the trumpet", "play the trumpet", "spielt Trompete", "spielen Trompete",
     "joue de la trompette", "jouent de la trompette", "jouant de la trompette"),
    ("reading a newspaper", "read a newspaper", "liest eine Zeitung", "lesen Zeitung",
     "lit un journal", "lisent le journal", "lisant un journal"),
    ("carrying a bag", "carry a bag", "trägt eine Tasche", "tragen Taschen",
     "porte un sac", "portent des sacs", "portant un sac"),
    ("pushing a stroller", "push a stroller", "schiebt einen Kinderwagen", "schieben Kinderwagen",
     "pousse une poussette", "poussent des poussettes", "poussant une poussette"),
    ("waiting in line", "wait in line", "wartet in einer Schlange", "warten in einer Schlange",
     "fait la queue", "font la queue", "faisant la queue"),
    ("talking to each other", "talk to each other", "redet mit jemandem", "reden miteinander",
     "parle avec quelqu'un", "se parlent", "discutant"),
    ("having fun in the snow", "have fun in the snow", "hat Spaß im Schnee", "haben Spaß im Schnee",
     "s'amuse dans la neige", "s'amusent dans la neige", "s'amusant dans la neige"),
    ("enjoying the sun", "enjoy the sun", "genießt die Sonne", "genießen die Sonne",
     "profite du soleil", "profitent du soleil", "profitant du soleil"),
    ("sliding down a hill on a sled", "slide down a hill on a sled", "fährt mit einem Schlitten den Hügel hinunter",
     "fahren mit Schlitten den Hügel hinunter", "descend une colline en luge", "descendent une colline en luge",
     "descendant une colline en luge"),
    ("running across the field", "run across the field", "läuft über das Spielfeld", "laufen über das Spielfeld",
     "court sur le terrain", "courent sur le terrain", "courant sur le terrain"),
    ("walking through the water", "walk through the water", "läuft durch das Wasser", "laufen durch das Wasser",
     "marche dans l'eau", "marchent dans l'eau", "marchant dans l'eau"),
    ("looking out the window", "look out the window", "schaut aus dem Fenster", "schauen aus dem Fenster",
     "regarde par la fenêtre", "regardent par la fenêtre", "regardant par la fenêtre"),
)
# (en, German, French)
_PLACES = (
    ("on a dirt road", "auf einer unbefestigten Straße", "sur un chemin de terre"),
    ("on a cobblestone street", "auf einer gepflasterten Straße", "dans une rue pavée"),
    ("on a busy street", "auf einer belebten Straße", "dans une rue fréquentée"),
    ("in a grassy field", "auf einer grasbewachsenen Wiese", "dans un champ herbeux"),
    ("on a snowy hill", "auf einem schneebedeckten Hügel", "sur une colline enneigée"),
    ("in a parking lot", "auf einem Parkplatz", "sur un parking"),
    ("at an outdoor market", "auf einem Freiluftmarkt", "dans un marché en plein air"),
    ("in front of a brick wall", "vor einer Ziegelmauer", "devant un mur de briques"),
    ("on a porch", "auf einer Veranda", "sur une terrasse"), ("at dusk", "in der Dämmerung", "au crépuscule"),
    ("in a big city", "in einer Großstadt", "dans une grande ville"), ("by the railing", "am Geländer", "près de la rambarde"),
    ("in a puddle", "in einer Pfütze", "dans une flaque"), ("on the shore", "am Ufer", "sur le rivage"),
    ("in the deep snow", "im Tiefschnee", "dans la neige profonde"), ("at a race track", "auf einer Rennstrecke", "sur un circuit"),
    ("near a lamppost", "neben einem Laternenpfahl", "près d'un lampadaire"),
    ("at a sports event", "bei einer Sportveranstaltung", "lors d'un événement sportif"),
)
# (en, German, French): the onlookers
_WATCHERS = (
    ("as onlookers watch", "während Zuschauer zusehen", "sous le regard des spectateurs"),
    ("while a crowd watches", "während eine Menschenmenge zusieht", "pendant que la foule regarde"),
    ("as others look on", "während andere zusehen", "sous le regard des autres"),
    ("in front of a crowd", "vor einer Menschenmenge", "devant une foule"),
    ("while a man watches", "während ein Mann zusieht", "pendant qu'un homme regarde"),
)

# German endings: nominative after ein (mixed), after der/die/das (weak), strong dative (no article)
_DE_EIN = {"m": ("ein", "er"), "f": ("eine", "e"), "n": ("ein", "es")}
_DE_DER = {"m": "der", "f": "die", "n": "das"}
_DE_DAT = {"m": "em", "n": "em", "f": "er", "p": "en"}


def de_strong_dative(stem: str, gender: str, noun: str) -> str:
    """German adjective + noun in the dative without an article ("weißem Hemd", "roter Kappe")."""
    words = stem.split()
    return " ".join(words[:-1] + [words[-1] + _DE_DAT[gender], noun])


def fr_colour(colour: tuple, gender: str, plural: bool) -> str:
    """A French colour agreeing with its noun; compounds ("bleu foncé") and "marron" stay invariable."""
    word = colour[4] if gender == "f" else colour[3]
    if " " in word or word == "marron" or not plural or word.endswith(("s", "x")):
        return word
    return word + "s"


def _en(rng: random.Random) -> str:
    row = rng.choice(_PEOPLE)
    plural = rng.random() < 0.3
    look = rng.choice(_LOOKS)[0] + " " if rng.random() < 0.35 else ""
    if plural:
        who = f"{rng.choice(('two', 'three', 'some', 'several'))} {look}{row[1]}"
    else:
        who = f"{_article(look or row[0])} {look}{row[0]}"
    r = rng.random()
    if r < 0.3:
        who += f" dressed in {rng.choice(_COLOURS)[0]}"
    elif r < 0.7:
        who += f" {rng.choice(('in', 'wearing', 'with'))} {en_garments(_GARMENTS, _COLOURS, 0.3, rng)}"
    act = rng.choice(_ACTS)
    verb = rng.choice((act[0], ("are " if plural else "is ") + act[0], act[1] if plural else third_person(act[1])))
    s = f"{who} {verb}"
    if rng.random() < 0.4:
        s += " " + rng.choice(_PLACES)[0]
    if rng.random() < 0.25:
        s += " " + rng.choice(_WATCHERS)[0]
    return s


def _de_garments(rng: random.Random) -> str:
    out = []
    for _, _, noun, gender, *_ in rng.sample(_GARMENTS, 2 if rng.random() < 0.3 else 1):
        out.append(de_strong_dative(rng.choice(_COLOURS)[1], gender, noun))
    return " und ".join(out)


def _de_who(rng: random.Random) -> tuple[str, bool]:
    _, _, noun, gender, plural_noun, *_ = rng.choice(_PEOPLE)
    plural = rng.random() < 0.3
    attrs = []  # adjective stems that decline before the noun
    dressed = rng.random() < 0.25
    if dressed:
        attrs.append(f"in {rng.choice(_DE_COLOUR_NOUNS)} gekleidet")
    elif rng.random() < 0.4:
        attrs.append(rng.choice(_LOOKS)[1])
    if plural:
        count = rng.choice(("zwei", "drei", "einige", "mehrere", ""))
        adj = " ".join(a + "e" for a in attrs)
        who = " ".join(w for w in (count, adj, plural_noun) if w)
    elif rng.random() < 0.25:  # definite article: weak ending -e
        who = " ".join([_DE_DER[gender]] + [a + "e" for a in attrs] + [noun])
    else:
        art, end = _DE_EIN[gender]
        who = " ".join([art] + [a + end for a in attrs] + [noun])
    if not dressed and rng.random() < 0.5:
        who += f" {rng.choice(('in', 'mit'))} {_de_garments(rng)}"
    return who, plural


def _de(rng: random.Random) -> str:
    who, plural = _de_who(rng)
    s = f"{who} {rng.choice(_ACTS)[3 if plural else 2]}"
    if rng.random() < 0.4:
        s += " " + rng.choice(_PLACES)[1]
    if rng.random() < 0.25:
        watch = rng.choice(_WATCHERS)[1]
        s += (", " if watch.startswith("während") else " ") + watch
    return s


def _fr_garments(rng: random.Random, mode: str) -> str:
    """French garments with agreeing colours, after "vêtu" (mode "de": "d'une chemise blanche",
    "de bottes noires"), "en" (no article: "en chemise blanche") or "portant" ("des bottes noires")."""
    out = []
    for _, _, _, _, noun, gender, plural in rng.sample(_GARMENTS, 2 if rng.random() < 0.3 else 1):
        colour = fr_colour(rng.choice(_COLOURS), gender, plural)
        art = "un" if gender == "m" else "une"
        if mode == "de":
            det = "de " if plural else f"d'{art} "
        elif mode == "en":
            det = ""
        else:
            det = "des " if plural else f"{art} "
        out.append(f"{det}{noun} {colour}")
    return " et ".join(out)


_FR_AGREEING = {"assis": "assis", "allongé": "allongé", "allongés": "allongé", "accroupi": "accroupi",
                "accroupis": "accroupi", "vêtu": "vêtu"}


def fr_agree(phrase: str, gender: str, plural: bool) -> str:
    """A French phrase whose past participles agree with the subject ("sont assis" -> "sont assises")."""
    out = []
    for word in phrase.split(" "):
        base = _FR_AGREEING.get(word)
        if base is not None:
            word = base + ("e" if gender == "f" else "")
            word += "s" if plural and not word.endswith("s") else ""
        out.append(word)
    return " ".join(out)


def _fr_who(rng: random.Random) -> tuple[str, bool, str]:
    """A French subject, whether it is plural, and its gender (for agreeing participles)."""
    _, _, _, _, _, noun, gender, plural_noun = rng.choice(_PEOPLE)
    plural = rng.random() < 0.3
    head, before = (plural_noun if plural else noun), False
    if rng.random() < 0.4:
        look = rng.choice(_LOOKS)
        adj = look[3] if gender == "f" else look[2]
        if plural and not adj.endswith(("s", "x")):
            adj += "s"
        head, before = (f"{adj} {head}", True) if look[4] else (f"{head} {adj}", False)
    if plural:
        det = rng.choice(("deux", "trois", "des", "plusieurs"))
        who = f"{'de' if det == 'des' and before else det} {head}"  # "de jeunes hommes"
    else:
        who = f"{'un' if gender == 'm' else 'une'} {head}"
    r = rng.random()
    if r < 0.25:
        who += f" vêtu de {rng.choice(_COLOURS)[3]}"
    elif r < 0.45:
        who += f" vêtu {_fr_garments(rng, 'de')}"
    elif r < 0.65:
        mode = rng.choice(("en", "portant"))
        who += f" {mode} {_fr_garments(rng, mode)}"
    return fr_agree(who, gender, plural), plural, gender


def _fr(rng: random.Random) -> str:
    who, plural, gender = _fr_who(rng)
    act = rng.choice(_ACTS)
    vp = act[6] if rng.random() < 0.5 else act[5] if plural else act[4]
    s = f"{who} {fr_agree(vp, gender, plural)}"
    if rng.random() < 0.4:
        s += " " + rng.choice(_PLACES)[2]
    if rng.random() < 0.25:
        s += " " + rng.choice(_WATCHERS)[2]
    return s


_MAKERS = {"en": _en, "de": _de, "fr": _fr}


def captions(lang: str, n: int, rng: random.Random) -> list[str]:
    """Up to n distinct captions in `lang` (en, de or fr), deterministic for the generator's state."""
    return g.captions(lang, n, rng, _MAKERS)


def detail_rows(seed: int = 5, scale: float = 1.0) -> list[dict]:
    """All fifth-grammar captions as corpus rows (before the held-out filter and de-duplication)."""
    return g.grammar_rows(_MAKERS, N_CAPTIONS5, LEVEL, seed, scale)

"""A fourth caption grammar: who people are, how they look, and what they do (sports, work, events).

Run F's reader matched 0.70 of Multi30k's rendered en->de/fr pairs. Those captions describe
people much more finely than our first three grammars do: age and occupation ("an elderly
woman", "a construction worker"), hair and two garments ("with blond hair in a red shirt and
blue jeans"), sports and music ("dribbling the ball", "playing the drums"), work ("sweeping the
street"), events ("marching in a parade") and dogs ("with a stick in its mouth"). This module
writes such sentences from parallel word tables of our own: each concept is one row with its
English, German and French forms, so the three languages cover the same vocabulary. All text
is our own and may train the shipped model.

    rows = activity_rows(seed=4)   # [{"text", "lang", "level": "caption4"}], deterministic
"""

from __future__ import annotations

import random
from functools import partial

from . import caption_grammar as g

N_CAPTIONS4 = {"en": 40000, "de": 30000, "fr": 30000}
LEVEL = "caption4"

# (en sg, en pl, de sg with article, de pl, fr sg with article, fr pl)
_PEOPLE = (
    ("man", "men", "ein Mann", "Männer", "un homme", "hommes"),
    ("woman", "women", "eine Frau", "Frauen", "une femme", "femmes"),
    ("young man", "young men", "ein junger Mann", "junge Männer", "un jeune homme", "jeunes hommes"),
    ("young woman", "young women", "eine junge Frau", "junge Frauen", "une jeune femme", "jeunes femmes"),
    ("old man", "old men", "ein alter Mann", "alte Männer", "un homme âgé", "hommes âgés"),
    ("elderly woman", "elderly women", "eine ältere Frau", "ältere Frauen", "une femme âgée", "femmes âgées"),
    ("little girl", "little girls", "ein kleines Mädchen", "kleine Mädchen", "une petite fille", "petites filles"),
    ("little boy", "little boys", "ein kleiner Junge", "kleine Jungen", "un petit garçon", "petits garçons"),
    ("girl", "girls", "ein Mädchen", "Mädchen", "une fille", "filles"),
    ("boy", "boys", "ein Junge", "Jungen", "un garçon", "garçons"),
    ("child", "children", "ein Kind", "Kinder", "un enfant", "enfants"),
    ("teenager", "teenagers", "ein Jugendlicher", "Jugendliche", "un adolescent", "adolescents"),
    ("toddler", "toddlers", "ein Kleinkind", "Kleinkinder", "un bambin", "bambins"),
    ("construction worker", "construction workers", "ein Bauarbeiter", "Bauarbeiter",
     "un ouvrier du bâtiment", "ouvriers du bâtiment"),
    ("firefighter", "firefighters", "ein Feuerwehrmann", "Feuerwehrleute", "un pompier", "pompiers"),
    ("doctor", "doctors", "ein Arzt", "Ärzte", "un médecin", "médecins"),
    ("nurse", "nurses", "eine Krankenschwester", "Krankenschwestern", "une infirmière", "infirmières"),
    ("waiter", "waiters", "ein Kellner", "Kellner", "un serveur", "serveurs"),
    ("farmer", "farmers", "ein Bauer", "Bauern", "un agriculteur", "agriculteurs"),
    ("artist", "artists", "ein Künstler", "Künstler", "un artiste", "artistes"),
    ("dancer", "dancers", "eine Tänzerin", "Tänzerinnen", "une danseuse", "danseuses"),
    ("singer", "singers", "ein Sänger", "Sänger", "un chanteur", "chanteurs"),
    ("drummer", "drummers", "ein Schlagzeuger", "Schlagzeuger", "un batteur", "batteurs"),
    ("street performer", "street performers", "ein Straßenkünstler", "Straßenkünstler",
     "un artiste de rue", "artistes de rue"),
    ("vendor", "vendors", "ein Verkäufer", "Verkäufer", "un vendeur", "vendeurs"),
    ("climber", "climbers", "ein Kletterer", "Kletterer", "un grimpeur", "grimpeurs"),
    ("runner", "runners", "ein Läufer", "Läufer", "un coureur", "coureurs"),
    ("basketball player", "basketball players", "ein Basketballspieler", "Basketballspieler",
     "un basketteur", "basketteurs"),
    ("football player", "football players", "ein Footballspieler", "Footballspieler",
     "un joueur de football américain", "joueurs de football américain"),
    ("hockey player", "hockey players", "ein Eishockeyspieler", "Eishockeyspieler", "un hockeyeur", "hockeyeurs"),
    ("tourist", "tourists", "ein Tourist", "Touristen", "un touriste", "touristes"),
    ("photographer", "photographers", "ein Fotograf", "Fotografen", "un photographe", "photographes"),
    ("soldier", "soldiers", "ein Soldat", "Soldaten", "un soldat", "soldats"),
    ("bride", "brides", "eine Braut", "Bräute", "une mariée", "mariées"),
    ("person", "people", "eine Person", "Menschen", "une personne", "personnes"),
)
_COUNTS = (("two", "zwei", "deux"), ("three", "drei", "trois"), ("four", "vier", "quatre"),
           ("several", "mehrere", "plusieurs"), ("some", "einige", "quelques"), ("many", "viele", "des"))
# (en, German stem taking the dative -en, French masculine, French feminine)
_COLOURS = (("red", "rot", "rouge", "rouge"), ("blue", "blau", "bleu", "bleue"), ("green", "grün", "vert", "verte"),
            ("yellow", "gelb", "jaune", "jaune"), ("black", "schwarz", "noir", "noire"),
            ("white", "weiß", "blanc", "blanche"), ("gray", "grau", "gris", "grise"), ("brown", "braun", "marron", "marron"),
            ("pink", "rosa", "rose", "rose"), ("dark", "dunkl", "foncé", "foncée"), ("striped", "gestreift", "rayé", "rayée"))
# (en, en plural?, German noun, German gender m/f/n/p, French noun, French gender m/f)
_GARMENTS = (("shirt", False, "Hemd", "n", "chemise", "f"), ("jacket", False, "Jacke", "f", "veste", "f"),
             ("jeans", True, "Jeans", "p", "jean", "m"), ("shorts", True, "Shorts", "p", "short", "m"),
             ("tank top", False, "Trägershirt", "n", "débardeur", "m"), ("dress", False, "Kleid", "n", "robe", "f"),
             ("skirt", False, "Rock", "m", "jupe", "f"), ("coat", False, "Mantel", "m", "manteau", "m"),
             ("hat", False, "Hut", "m", "chapeau", "m"), ("apron", False, "Schürze", "f", "tablier", "m"),
             ("jersey", False, "Trikot", "n", "maillot", "m"), ("costume", False, "Kostüm", "n", "costume", "m"),
             ("uniform", False, "Uniform", "f", "uniforme", "m"), ("hoodie", False, "Kapuzenpulli", "m", "sweat", "m"),
             ("top", False, "Oberteil", "n", "haut", "m"), ("pants", True, "Hosen", "p", "pantalon", "m"))
# hair: (en, German dative plural adjective, French masculine plural adjective)
_HAIR = (("blond", "blonden", "blonds"), ("dark", "dunklen", "bruns"), ("curly", "lockigen", "bouclés"),
         ("long", "langen", "longs"), ("short", "kurzen", "courts"), ("red", "roten", "roux"),
         ("gray", "grauen", "gris"), ("brown", "braunen", "châtains"))

# (en -ing, en base form, German sg, German pl, French sg, French pl)
_ACTS = (
    ("playing basketball", "play basketball", "spielt Basketball", "spielen Basketball", "joue au basket", "jouent au basket"),
    ("playing volleyball", "play volleyball", "spielt Volleyball", "spielen Volleyball", "joue au volley", "jouent au volley"),
    ("playing football", "play football", "spielt Football", "spielen Football",
     "joue au football américain", "jouent au football américain"),
    ("playing hockey", "play hockey", "spielt Eishockey", "spielen Eishockey", "joue au hockey", "jouent au hockey"),
    ("playing rugby", "play rugby", "spielt Rugby", "spielen Rugby", "joue au rugby", "jouent au rugby"),
    ("kicking a ball", "kick a ball", "schießt einen Ball", "schießen einen Ball", "frappe un ballon", "frappent un ballon"),
    ("dribbling the ball", "dribble the ball", "dribbelt mit dem Ball", "dribbeln mit dem Ball",
     "dribble avec le ballon", "dribblent avec le ballon"),
    ("throwing a ball", "throw a ball", "wirft einen Ball", "werfen einen Ball", "lance un ballon", "lancent un ballon"),
    ("catching a ball", "catch a ball", "fängt einen Ball", "fangen einen Ball", "attrape un ballon", "attrapent un ballon"),
    ("running a race", "run a race", "läuft ein Rennen", "laufen ein Rennen", "court une course", "courent une course"),
    ("climbing a rock wall", "climb a rock wall", "klettert an einer Felswand", "klettern an einer Felswand",
     "escalade une paroi rocheuse", "escaladent une paroi rocheuse"),
    ("jumping into the water", "jump into the water", "springt ins Wasser", "springen ins Wasser",
     "saute dans l'eau", "sautent dans l'eau"),
    ("swimming in a lake", "swim in a lake", "schwimmt in einem See", "schwimmen in einem See",
     "nage dans un lac", "nagent dans un lac"),
    ("riding a bike down a hill", "ride a bike down a hill", "fährt mit dem Fahrrad einen Hügel hinunter",
     "fahren mit dem Fahrrad einen Hügel hinunter", "descend une colline à vélo", "descendent une colline à vélo"),
    ("doing a trick on a skateboard", "do a trick on a skateboard", "macht einen Trick auf dem Skateboard",
     "machen einen Trick auf dem Skateboard", "fait une figure en skateboard", "font une figure en skateboard"),
    ("practicing karate", "practice karate", "übt Karate", "üben Karate", "pratique le karaté", "pratiquent le karaté"),
    ("fishing", "fish", "angelt", "angeln", "pêche", "pêchent"),
    ("paddling a kayak", "paddle a kayak", "paddelt in einem Kajak", "paddeln in einem Kajak",
     "fait du kayak", "font du kayak"),
    ("hiking", "hike", "wandert", "wandern", "fait de la randonnée", "font de la randonnée"),
    ("doing a backflip", "do a backflip", "macht einen Rückwärtssalto", "machen einen Rückwärtssalto",
     "fait un salto arrière", "font un salto arrière"),
    ("playing the drums", "play the drums", "spielt Schlagzeug", "spielen Schlagzeug",
     "joue de la batterie", "jouent de la batterie"),
    ("playing the piano", "play the piano", "spielt Klavier", "spielen Klavier", "joue du piano", "jouent du piano"),
    ("playing the flute", "play the flute", "spielt Flöte", "spielen Flöte", "joue de la flûte", "jouent de la flûte"),
    ("singing into a microphone", "sing into a microphone", "singt in ein Mikrofon", "singen in ein Mikrofon",
     "chante dans un micro", "chantent dans un micro"),
    ("performing on stage", "perform on stage", "tritt auf der Bühne auf", "treten auf der Bühne auf",
     "se produit sur scène", "se produisent sur scène"),
    ("juggling", "juggle", "jongliert", "jonglieren", "jongle", "jonglent"),
    ("painting a picture", "paint a picture", "malt ein Bild", "malen ein Bild", "peint un tableau", "peignent un tableau"),
    ("taking photographs", "take photographs", "fotografiert", "fotografieren", "prend des photos", "prennent des photos"),
    ("fixing a bike", "fix a bike", "repariert ein Fahrrad", "reparieren ein Fahrrad", "répare un vélo", "réparent un vélo"),
    ("working on a roof", "work on a roof", "arbeitet auf einem Dach", "arbeiten auf einem Dach",
     "travaille sur un toit", "travaillent sur un toit"),
    ("digging a hole", "dig a hole", "gräbt ein Loch", "graben ein Loch", "creuse un trou", "creusent un trou"),
    ("sweeping the street", "sweep the street", "fegt die Straße", "fegen die Straße", "balaie la rue", "balaient la rue"),
    ("cleaning a window", "clean a window", "putzt ein Fenster", "putzen ein Fenster",
     "nettoie une fenêtre", "nettoient une fenêtre"),
    ("painting a wall", "paint a wall", "streicht eine Wand", "streichen eine Wand", "peint un mur", "peignent un mur"),
    ("grilling meat", "grill meat", "grillt Fleisch", "grillen Fleisch", "fait griller de la viande",
     "font griller de la viande"),
    ("serving food", "serve food", "serviert Essen", "servieren Essen", "sert à manger", "servent à manger"),
    ("selling vegetables", "sell vegetables", "verkauft Gemüse", "verkaufen Gemüse",
     "vend des légumes", "vendent des légumes"),
    ("driving a tractor", "drive a tractor", "fährt einen Traktor", "fahren einen Traktor",
     "conduit un tracteur", "conduisent un tracteur"),
    ("pushing a cart", "push a cart", "schiebt einen Wagen", "schieben einen Wagen", "pousse un chariot", "poussent un chariot"),
    ("carrying a box", "carry a box", "trägt einen Karton", "tragen einen Karton", "porte un carton", "portent un carton"),
    ("loading a truck", "load a truck", "belädt einen Lastwagen", "beladen einen Lastwagen",
     "charge un camion", "chargent un camion"),
    ("sewing", "sew", "näht", "nähen", "coud", "cousent"),
    ("writing on a whiteboard", "write on a whiteboard", "schreibt an eine Tafel", "schreiben an eine Tafel",
     "écrit sur un tableau blanc", "écrivent sur un tableau blanc"),
    ("waiting at a bus stop", "wait at a bus stop", "wartet an einer Bushaltestelle", "warten an einer Bushaltestelle",
     "attend à un arrêt de bus", "attendent à un arrêt de bus"),
    ("shopping", "shop", "kauft ein", "kaufen ein", "fait des courses", "font des courses"),
    ("drinking a beer", "drink a beer", "trinkt ein Bier", "trinken ein Bier", "boit une bière", "boivent une bière"),
    ("eating ice cream", "eat ice cream", "isst ein Eis", "essen ein Eis", "mange une glace", "mangent une glace"),
    ("blowing bubbles", "blow bubbles", "macht Seifenblasen", "machen Seifenblasen", "fait des bulles", "font des bulles"),
    ("building a sandcastle", "build a sandcastle", "baut eine Sandburg", "bauen eine Sandburg",
     "construit un château de sable", "construisent un château de sable"),
    ("playing in a fountain", "play in a fountain", "spielt in einem Brunnen", "spielen in einem Brunnen",
     "joue dans une fontaine", "jouent dans une fontaine"),
    ("going down a slide", "go down a slide", "rutscht eine Rutsche hinunter", "rutschen eine Rutsche hinunter",
     "descend un toboggan", "descendent un toboggan"),
    ("climbing a tree", "climb a tree", "klettert auf einen Baum", "klettern auf einen Baum",
     "grimpe à un arbre", "grimpent à un arbre"),
    ("looking at a map", "look at a map", "schaut auf eine Karte", "schauen auf eine Karte",
     "regarde une carte", "regardent une carte"),
    ("pointing at something", "point at something", "zeigt auf etwas", "zeigen auf etwas",
     "montre quelque chose du doigt", "montrent quelque chose du doigt"),
    ("waving", "wave", "winkt", "winken", "fait signe de la main", "font signe de la main"),
    ("kneeling on the ground", "kneel on the ground", "kniet auf dem Boden", "knien auf dem Boden",
     "s'agenouille par terre", "s'agenouillent par terre"),
    ("leaning against a wall", "lean against a wall", "lehnt an einer Wand", "lehnen an einer Wand",
     "s'appuie contre un mur", "s'appuient contre un mur"),
    ("watching a parade", "watch a parade", "sieht sich eine Parade an", "sehen sich eine Parade an",
     "regarde un défilé", "regardent un défilé"),
    ("marching in a parade", "march in a parade", "marschiert in einer Parade", "marschieren in einer Parade",
     "défile dans une parade", "défilent dans une parade"),
    ("cheering", "cheer", "jubelt", "jubeln", "applaudit", "applaudissent"),
    ("talking with a friend", "talk with a friend", "unterhält sich mit einem Freund", "unterhalten sich mit einem Freund",
     "discute avec un ami", "discutent avec un ami"),
    ("walking down a busy street", "walk down a busy street", "geht eine belebte Straße entlang",
     "gehen eine belebte Straße entlang", "marche dans une rue animée", "marchent dans une rue animée"),
    ("riding a scooter", "ride a scooter", "fährt Roller", "fahren Roller", "fait de la trottinette", "font de la trottinette"),
    ("pulling a rope", "pull a rope", "zieht an einem Seil", "ziehen an einem Seil", "tire sur une corde", "tirent sur une corde"),
    ("playing in the sand", "play in the sand", "spielt im Sand", "spielen im Sand", "joue dans le sable", "jouent dans le sable"),
    ("looking at the water", "look at the water", "blickt auf das Wasser", "blicken auf das Wasser",
     "regarde l'eau", "regardent l'eau"),
    ("resting on the grass", "rest on the grass", "ruht sich im Gras aus", "ruhen sich im Gras aus",
     "se repose dans l'herbe", "se reposent dans l'herbe"),
    ("jumping on a trampoline", "jump on a trampoline", "springt auf einem Trampolin", "springen auf einem Trampolin",
     "saute sur un trampoline", "sautent sur un trampoline"),
    ("holding a flag", "hold a flag", "hält eine Fahne", "halten eine Fahne", "tient un drapeau", "tiennent un drapeau"),
    ("wearing a costume", "wear a costume", "trägt ein Kostüm", "tragen Kostüme", "porte un costume", "portent des costumes"),
)
# (en, German, French)
_PLACES = (
    ("in the mountains", "in den Bergen", "à la montagne"), ("on a mountain trail", "auf einem Bergpfad", "sur un sentier de montagne"),
    ("in the desert", "in der Wüste", "dans le désert"), ("in a swimming pool", "in einem Schwimmbad", "dans une piscine"),
    ("on a basketball court", "auf einem Basketballplatz", "sur un terrain de basket"),
    ("on a soccer field", "auf einem Fußballplatz", "sur un terrain de football"),
    ("in a stadium", "in einem Stadion", "dans un stade"), ("at a concert", "bei einem Konzert", "à un concert"),
    ("at a festival", "auf einem Festival", "dans un festival"), ("at a wedding", "auf einer Hochzeit", "à un mariage"),
    ("in a subway station", "in einer U-Bahn-Station", "dans une station de métro"),
    ("in a store", "in einem Geschäft", "dans un magasin"), ("in a bar", "in einer Bar", "dans un bar"),
    ("in a church", "in einer Kirche", "dans une église"), ("on a bridge", "auf einer Brücke", "sur un pont"),
    ("in an alley", "in einer Gasse", "dans une ruelle"), ("at a construction site", "auf einer Baustelle", "sur un chantier"),
    ("on a farm", "auf einem Bauernhof", "dans une ferme"), ("in a garden", "in einem Garten", "dans un jardin"),
    ("in the woods", "im Wald", "dans les bois"), ("in the sand", "im Sand", "dans le sable"),
    ("on a playground", "auf einem Spielplatz", "sur une aire de jeux"),
    ("in a classroom", "in einem Klassenzimmer", "dans une salle de classe"),
    ("in a hospital", "in einem Krankenhaus", "dans un hôpital"),
    ("in front of a shop", "vor einem Laden", "devant une boutique"),
    ("on a busy sidewalk", "auf einem belebten Gehweg", "sur un trottoir animé"),
    ("in a crowded square", "auf einem vollen Platz", "sur une place bondée"), ("near the water", "am Wasser", "près de l'eau"),
    ("on a rocky shore", "an einem felsigen Ufer", "sur une côte rocheuse"), ("in a gym", "in einer Turnhalle", "dans un gymnase"),
    ("on a hill", "auf einem Hügel", "sur une colline"), ("in the city", "in der Stadt", "en ville"),
    ("on the street", "auf der Straße", "dans la rue"), ("on the beach", "am Strand", "sur la plage"),
    ("in the snow", "im Schnee", "dans la neige"), ("in a field", "auf einem Feld", "dans un champ"),
    ("in a park", "in einem Park", "dans un parc"), ("outside a building", "vor einem Gebäude", "devant un bâtiment"),
)
# dogs: (en, en plural?, German, French)
_DOGS = (("a dog", False, "ein Hund", "un chien"), ("a black dog", False, "ein schwarzer Hund", "un chien noir"),
         ("a brown dog", False, "ein brauner Hund", "un chien marron"),
         ("a white dog", False, "ein weißer Hund", "un chien blanc"),
         ("a large dog", False, "ein großer Hund", "un gros chien"),
         ("a small white dog", False, "ein kleiner weißer Hund", "un petit chien blanc"),
         ("a black and white dog", False, "ein schwarz-weißer Hund", "un chien noir et blanc"),
         ("a puppy", False, "ein Welpe", "un chiot"), ("two dogs", True, "zwei Hunde", "deux chiens"),
         ("three dogs", True, "drei Hunde", "trois chiens"))
# (en -ing, en base, German sg, German pl, French sg, French pl)
_DOG_ACTS = (
    ("running through the snow", "run through the snow", "rennt durch den Schnee", "rennen durch den Schnee",
     "court dans la neige", "courent dans la neige"),
    ("swimming in a lake", "swim in a lake", "schwimmt in einem See", "schwimmen in einem See",
     "nage dans un lac", "nagent dans un lac"),
    ("chasing a ball", "chase a ball", "jagt einem Ball hinterher", "jagen einem Ball hinterher",
     "court après une balle", "courent après une balle"),
    ("running on the beach", "run on the beach", "rennt am Strand", "rennen am Strand", "court sur la plage", "courent sur la plage"),
    ("playing with a toy", "play with a toy", "spielt mit einem Spielzeug", "spielen mit einem Spielzeug",
     "joue avec un jouet", "jouent avec un jouet"),
    ("jumping to catch a ball", "jump to catch a ball", "springt nach einem Ball", "springen nach einem Ball",
     "saute pour attraper une balle", "sautent pour attraper une balle"),
    ("rolling in the grass", "roll in the grass", "wälzt sich im Gras", "wälzen sich im Gras",
     "se roule dans l'herbe", "se roulent dans l'herbe"),
    ("digging in the sand", "dig in the sand", "gräbt im Sand", "graben im Sand", "creuse dans le sable", "creusent dans le sable"),
    ("running through a field", "run through a field", "läuft über ein Feld", "laufen über ein Feld",
     "court dans un champ", "courent dans un champ"),
    ("jumping over a fence", "jump over a fence", "springt über einen Zaun", "springen über einen Zaun",
     "saute par-dessus une clôture", "sautent par-dessus une clôture"),
    ("walking through the water", "walk through the water", "läuft durch das Wasser", "laufen durch das Wasser",
     "marche dans l'eau", "marchent dans l'eau"),
    ("pulling on a rope", "pull on a rope", "zieht an einem Seil", "ziehen an einem Seil", "tire sur une corde", "tirent sur une corde"),
)
# what a dog carries: (en sg "its", en pl "their", German, French)
_DOG_MOUTH = (("with a stick in its mouth", "with sticks in their mouths", "mit einem Stock im Maul",
               "avec un bâton dans la gueule"),
              ("with a ball in its mouth", "with balls in their mouths", "mit einem Ball im Maul",
               "avec une balle dans la gueule"),
              ("with a toy in its mouth", "with toys in their mouths", "mit einem Spielzeug im Maul",
               "avec un jouet dans la gueule"))


def third_person(base: str) -> str:
    """English present simple, third person singular, of a verb phrase ("catch a ball" -> "catches a ball")."""
    verb, sep, rest = base.partition(" ")
    if verb == "have":
        verb = "has"
    elif verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        verb += "es"
    elif verb.endswith("y") and verb[-2] not in "aeiou":
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return verb + sep + rest


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def en_garments(garments: tuple, colours: tuple, p_two: float, rng: random.Random) -> str:
    """One garment, or two with probability p_two, each with a colour: "a red shirt and blue jeans".

    Rows of both tables hold the English word first; a garment row's second field says whether
    the word is plural (no article)."""
    parts = []
    for en, plural, *_ in rng.sample(garments, 2 if rng.random() < p_two else 1):
        colour = rng.choice(colours)[0]
        parts.append(f"{colour} {en}" if plural else f"{_article(colour)} {colour} {en}")
    return " and ".join(parts)


def _en_who(rng: random.Random) -> tuple[str, bool]:
    """An English person or people phrase with age/occupation, hair and up to two garments."""
    sg, pl = rng.choice(_PEOPLE)[:2]
    r = rng.random()
    if r < 0.6:
        who, plural = f"{_article(sg)} {sg}", False
    elif r < 0.9:
        who, plural = f"{rng.choice(_COUNTS)[0]} {pl}", True
    else:
        who, plural = f"a group of {pl}", False
    if rng.random() < 0.25:
        who += f" with {rng.choice(_HAIR)[0]} hair"
    if rng.random() < 0.55:
        garments = en_garments(_GARMENTS, _COLOURS, 0.35, rng)
        who += f" {rng.choice(('in', 'wearing'))} " + garments
    return who, plural


def _en_verb(row: tuple, plural: bool, rng: random.Random) -> str:
    """An act row's English verb: bare participle, present simple or progressive, for the subject's number."""
    ing, base = row[:2]
    return rng.choice((ing, base if plural else third_person(base), ("are " if plural else "is ") + ing))


def _en(rng: random.Random) -> str:
    if rng.random() < 0.15:
        dog, plural, _, _ = rng.choice(_DOGS)
        s = f"{dog} {_en_verb(rng.choice(_DOG_ACTS), plural, rng)}"
        if rng.random() < 0.35:
            s += " " + rng.choice(_DOG_MOUTH)[1 if plural else 0]
        return s
    who, plural = _en_who(rng)
    s = f"{who} {_en_verb(rng.choice(_ACTS), plural, rng)}"
    if rng.random() < 0.55:
        s += " " + rng.choice(_PLACES)[0]
    return s


def _de_garment(rng: random.Random) -> str:
    _, _, noun, gender, _, _ = rng.choice(_GARMENTS)
    adj = rng.choice(_COLOURS)[1]
    adj = adj if adj == "rosa" else adj + "en"  # "rosa" does not decline
    return {"f": "einer ", "p": ""}.get(gender, "einem ") + f"{adj} {noun}"


def _de_who(rng: random.Random) -> tuple[str, bool]:
    row = rng.choice(_PEOPLE)
    if rng.random() < 0.65:
        who, plural = row[2], False
    else:
        who, plural = f"{rng.choice(_COUNTS)[1]} {row[3]}", True
    if rng.random() < 0.25:
        who += f" mit {rng.choice(_HAIR)[1]} Haaren"
    if rng.random() < 0.55:
        who += " in " + _de_garment(rng)
        if rng.random() < 0.35:
            who += " und " + _de_garment(rng)
    return who, plural


_DE_PARTICLES = ("an", "auf", "aus", "ein", "hinunter", "hinterher")


def with_place(vp: str, place: str) -> str:
    """A German verb phrase with a place, which goes before a separable particle ("kauft im Park ein")."""
    head, _, last = vp.rpartition(" ")
    return f"{head} {place} {last}" if head and last in _DE_PARTICLES else f"{vp} {place}"


def _fr_garment(rng: random.Random) -> str:
    _, _, _, _, noun, gender = rng.choice(_GARMENTS)
    colour = rng.choice(_COLOURS)
    return f"{noun} {colour[3] if gender == 'f' else colour[2]}"


def _de_fr(noun: str) -> str:
    """French "de", elided before a vowel or mute h ("d'enfants", "d'hommes", but "de hockeyeurs")."""
    return "d'" if noun[0] in "aeiouéè" or noun.startswith("hommes") else "de "


def _fr_who(rng: random.Random) -> tuple[str, bool]:
    row = rng.choice(_PEOPLE)
    r = rng.random()
    if r < 0.6:
        who, plural = row[4], False
    elif r < 0.9:
        who, plural = f"{rng.choice(_COUNTS)[2]} {row[5]}", True
    else:
        who, plural = f"un groupe {_de_fr(row[5])}{row[5]}", False
    if rng.random() < 0.25:
        who += f" aux cheveux {rng.choice(_HAIR)[2]}"
    if rng.random() < 0.55:
        who += " en " + _fr_garment(rng)
        if rng.random() < 0.35:
            who += " et " + _fr_garment(rng)
    return who, plural


def _de_or_fr(lang: int, who, join_place, rng: random.Random) -> str:
    """A German (lang 0) or French (lang 1) caption: a dog, or people doing something, perhaps somewhere.

    The tables hold German then French columns: _DOGS [2, 3], _DOG_MOUTH [2, 3], _PLACES [1, 2],
    and singular/plural verb pairs in _ACTS and _DOG_ACTS [2, 3] and [4, 5]."""
    if rng.random() < 0.15:
        row = rng.choice(_DOGS)
        dog, plural = row[2 + lang], row[1]
        if rng.random() < 0.35:
            dog += " " + rng.choice(_DOG_MOUTH)[2 + lang]
        return f"{dog} {rng.choice(_DOG_ACTS)[2 + 2 * lang + plural]}"
    subject, plural = who(rng)
    vp = rng.choice(_ACTS)[2 + 2 * lang + plural]
    if rng.random() < 0.55:
        vp = join_place(vp, rng.choice(_PLACES)[1 + lang])
    return f"{subject} {vp}"


_MAKERS = {"en": _en, "de": partial(_de_or_fr, 0, _de_who, with_place),
           "fr": partial(_de_or_fr, 1, _fr_who, lambda vp, place: f"{vp} {place}")}


def captions(lang: str, n: int, rng: random.Random) -> list[str]:
    """Up to n distinct captions in `lang` (en, de or fr), deterministic for the generator's state."""
    return g.captions(lang, n, rng, _MAKERS)


def activity_rows(seed: int = 4, scale: float = 1.0) -> list[dict]:
    """All fourth-grammar captions as corpus rows (before the held-out filter and de-duplication)."""
    return g.grammar_rows(_MAKERS, N_CAPTIONS4, LEVEL, seed, scale)

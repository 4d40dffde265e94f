"""A second, richer caption grammar (English, German, French): people, clothing, actions on objects.

Run E showed the reader's COCO recall flat while its fit to the training captions kept rising:
the first grammar (corpus.py: "a {adj} {noun} is {verb} on {place}") had been learned, and real
captions are about something else. Real photo captions describe *people* (who, what they wear,
what they do with which object, where), rooms by their furniture, and meals by their food. This
module writes such sentences from our own word lists, in the three languages of the caption
evaluation rows, with the grammar each language needs (German case endings, French partitives
and plural verbs). Every text is our own, so it may train the shipped model.

    rows = caption_rows(seed=1)   # [{"text", "lang", "level": "caption2"}], deterministic

Counts are `N_CAPTIONS2`; the corpus module removes held-out class names and duplicates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial
from typing import Callable

from .corpus import _distinct

N_CAPTIONS2 = {"en": 60000, "de": 30000, "fr": 30000}
LEVEL = "caption2"

# ---- English ---------------------------------------------------------------------------------
# (singular, plural) noun phrases without article
_EN_PEOPLE = (("man", "men"), ("woman", "women"), ("boy", "boys"), ("girl", "girls"), ("child", "children"),
              ("young man", "young men"), ("young woman", "young women"), ("little girl", "little girls"),
              ("little boy", "little boys"), ("older man", "older men"), ("older woman", "older women"),
              ("person", "people"), ("guy", "guys"), ("lady", "ladies"), ("kid", "kids"),
              ("skier", "skiers"), ("surfer", "surfers"), ("skateboarder", "skateboarders"),
              ("snowboarder", "snowboarders"), ("tennis player", "tennis players"),
              ("baseball player", "baseball players"), ("soccer player", "soccer players"),
              ("chef", "chefs"), ("worker", "workers"), ("police officer", "police officers"),
              ("musician", "musicians"), ("cyclist", "cyclists"), ("student", "students"))
_EN_GROUPS = ("a group of people", "a crowd of people", "a family", "a couple", "a team")
_EN_COUNTS = ("two", "three", "four", "several", "many", "some")
_EN_COLORS = ("red", "blue", "green", "yellow", "black", "white", "brown", "gray", "orange", "pink",
              "purple", "striped", "dark", "bright")
_EN_CLOTHES = ("shirt", "jacket", "hat", "dress", "coat", "t-shirt", "helmet", "sweater", "cap",
               "uniform", "hoodie", "skirt", "scarf", "wetsuit", "vest")
_EN_WITH = ("a backpack", "sunglasses", "long hair", "a beard", "a camera", "a bag", "glasses",
            "a helmet", "curly hair", "a red umbrella", "a dog on a leash")
# -ing actions of people (some with their object)
_EN_ACTS = ("riding a bike", "riding a horse", "riding a skateboard", "riding a wave", "riding a motorcycle",
            "riding an elephant", "holding an umbrella", "holding a phone", "holding a kite",
            "holding a frisbee", "holding a tennis racket", "holding a baseball bat", "holding a cup of coffee",
            "holding a baby", "holding a sign", "holding a slice of pizza", "eating a pizza",
            "eating a sandwich", "eating a banana", "eating a hot dog", "eating a donut",
            "eating a piece of cake", "playing tennis", "playing frisbee", "playing baseball",
            "playing soccer", "playing video games", "playing the guitar", "playing with a dog",
            "flying a kite", "throwing a frisbee", "looking at a phone", "using a laptop",
            "talking on a cell phone", "cutting a cake", "walking a dog", "carrying a surfboard",
            "reading a book", "taking a picture", "brushing his teeth", "cooking food", "sitting on a bench",
            "standing next to a bus", "waiting for a train", "crossing the street", "swinging a bat",
            "hitting a tennis ball", "skiing down a slope", "surfing a wave", "jumping in the air",
            "sitting at a table", "standing in a kitchen", "smiling at the camera", "posing for a picture",
            "climbing a rock", "dancing", "running", "walking", "sitting", "standing", "laughing",
            "swimming", "sleeping", "working on a computer", "preparing food", "selling fruit",
            "pushing a stroller", "pulling a suitcase", "sitting on a couch", "lying on a bed")
_EN_PLACES = ("on a city street", "in a field", "on the beach", "in the snow", "on a tennis court",
              "on a baseball field", "in a kitchen", "in a living room", "at a park", "in the park",
              "next to a building", "in the ocean", "down a snowy hill", "on a ramp", "at the airport",
              "in a parking lot", "on a sidewalk", "in front of a house", "at a table", "in a restaurant",
              "in the water", "on a grassy hill", "near a lake", "on a dirt road", "in a crowd",
              "on a stage", "at night", "in the rain", "at a market", "in an office", "on a boat",
              "at a train station", "under a tree", "by the river", "outside", "indoors")
_EN_ANIMALS = ("dog", "cat", "horse", "cow", "sheep", "elephant", "giraffe", "zebra", "bear", "bird",
               "duck", "puppy", "kitten", "teddy bear")
_EN_ANIMAL_ACTS = ("grazing in a field", "lying on a bed", "sitting on a couch", "standing in the grass",
                   "drinking water", "eating grass", "playing with a frisbee", "walking along a beach",
                   "looking out a window", "sleeping on a laptop", "running through the grass",
                   "catching a frisbee", "sitting in a car", "standing in the water", "walking in a zoo",
                   "resting under a tree", "lying in the sun", "sitting on a chair")
_EN_ROOMS = (("a kitchen", ("a stove", "a refrigerator", "a sink", "a microwave", "an oven", "wooden cabinets",
                            "a counter", "a table")),
             ("a bathroom", ("a toilet", "a sink", "a mirror", "a bathtub", "a shower", "white tiles")),
             ("a living room", ("a couch", "a television", "a coffee table", "a fireplace", "chairs", "a lamp",
                                "a rug")),
             ("a bedroom", ("a bed", "a lamp", "a window", "a dresser", "pillows", "a desk")),
             ("a street", ("cars", "a traffic light", "tall buildings", "people walking", "a bus", "trees")),
             ("an office", ("a desk", "a computer", "a keyboard", "two monitors", "a chair", "books")))
_EN_FOODS = ("broccoli", "rice", "meat", "potatoes", "salad", "eggs", "toast", "bacon", "fries",
             "vegetables", "chicken", "noodles", "carrots", "cheese", "tomatoes", "fruit")
_EN_DISHES = ("a plate of food", "a bowl of soup", "a plate", "a tray of food", "a sandwich", "a pizza",
              "a bowl", "a breakfast plate")
_EN_VEHICLES = ("a bus driving down a street", "a train pulling into a station", "an airplane flying in the sky",
                "a plane parked at an airport", "a boat sailing on the water", "a truck parked on the side of the road",
                "a motorcycle parked on a sidewalk", "a red double decker bus", "a train on the tracks",
                "a car stopped at a traffic light", "boats docked in a harbor", "a bicycle leaning against a wall")
_EN_THINGS = ("a vase of flowers", "a clock", "a laptop", "a cat", "a teddy bear", "a bunch of bananas",
              "a cake", "a stop sign", "a fire hydrant", "a book", "a cup of coffee", "a bowl of fruit")
_EN_ON = ("on a table", "on a desk", "on a bed", "on the counter", "on a street corner", "on a sidewalk",
          "on a shelf", "on top of a building", "in a window", "on the floor")
_EN_OPENERS = ("", "", "", "", "a photo of ", "an image of ", "a close up of ", "there is ", "this is ",
               "a view of ")


def _en_person(rng: random.Random) -> tuple[str, bool]:
    """A person or group noun phrase (with clothing now and then); returns (text, plural)."""
    r = rng.random()
    if r < 0.62:
        sg = rng.choice(_EN_PEOPLE)[0]
        art = "an" if sg[0] in "aeiou" else "a"
        np_, plural = f"{art} {sg}", False
    elif r < 0.9:
        np_, plural = f"{rng.choice(_EN_COUNTS)} {rng.choice(_EN_PEOPLE)[1]}", True
    else:
        np_, plural = rng.choice(_EN_GROUPS), False
    c = rng.random()
    if c < 0.4:
        colour = rng.choice(_EN_COLORS)
        art = "an" if colour[0] in "aeiou" else "a"
        np_ += f" {'in' if c < 0.25 else 'wearing'} {art} {colour} {rng.choice(_EN_CLOTHES)}"
    elif c < 0.5:
        np_ += f" with {rng.choice(_EN_WITH)}"
    return np_, plural


def _en_caption(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        who, plural = _en_person(rng)
        aux = rng.choice(("", "", " are" if plural else " is"))
        s = f"{who}{aux} {rng.choice(_EN_ACTS)}"
        if rng.random() < 0.6:
            s += f" {rng.choice(_EN_PLACES)}"
        if rng.random() < 0.08:
            s += f" while {rng.choice(_EN_ACTS)}"
    elif r < 0.7:
        a = rng.choice(_EN_ANIMALS)
        if rng.random() < 0.3:
            a = f"{rng.choice(_EN_COLORS)} {a}"
        head = f"{'an' if a[0] in 'aeiou' else 'a'} {a}" if rng.random() < 0.75 else f"two {a}s"
        s = f"{head} {rng.choice(_EN_ANIMAL_ACTS)}"
        if rng.random() < 0.2:
            s += f" {rng.choice(_EN_PLACES)}"
    elif r < 0.82:
        room, things = rng.choice(_EN_ROOMS)
        a, b = rng.sample(things, 2)
        adj = rng.choice(("", "", "small ", "large ", "clean ", "white ", "modern ", "old "))
        room = f"{'an' if (adj or room[2:])[0] in 'aeiou' else 'a'} {adj}{room.split(' ', 1)[1]}"
        s = f"{room} with {a} and {b}"
    elif r < 0.9:
        a, b = rng.sample(_EN_FOODS, 2)
        s = f"{rng.choice(_EN_DISHES)} with {a} and {b}"
        if rng.random() < 0.3:
            s += f" {rng.choice(_EN_ON)}"
    elif r < 0.96:
        s = rng.choice(_EN_VEHICLES)
        if rng.random() < 0.3:
            s += rng.choice((" at night", " in the rain", " on a sunny day", " in the city", " next to a building"))
    else:
        s = f"{rng.choice(_EN_THINGS)} {rng.choice(_EN_ON)}"
    return rng.choice(_EN_OPENERS) + s


# ---- German ----------------------------------------------------------------------------------
# (nominative noun phrase, plural?)
_DE_PEOPLE = (("ein Mann", False), ("eine Frau", False), ("ein junger Mann", False), ("eine junge Frau", False),
              ("ein kleiner Junge", False), ("ein kleines Mädchen", False), ("ein älterer Mann", False),
              ("eine ältere Frau", False), ("ein Kind", False), ("eine Person", False), ("ein Arbeiter", False),
              ("ein Radfahrer", False), ("ein Tennisspieler", False), ("ein Skifahrer", False),
              ("ein Surfer", False), ("ein Baby", False), ("ein Mädchen", False), ("ein Junge", False),
              ("ein Fußballspieler", False), ("ein Koch", False), ("eine Sängerin", False),
              ("ein Musiker", False), ("ein Polizist", False), ("eine Familie", False),
              ("eine Gruppe von Menschen", False), ("eine Menschenmenge", False), ("zwei Männer", True),
              ("zwei Frauen", True), ("drei Kinder", True), ("Kinder", True), ("zwei junge Mädchen", True),
              ("mehrere Menschen", True), ("ein Mann und eine Frau", True), ("zwei Jungen", True),
              ("Leute", True), ("viele Menschen", True), ("zwei Arbeiter", True), ("junge Leute", True))
_DE_COLORS = ("rot", "blau", "grün", "gelb", "schwarz", "weiß", "braun", "grau", "hell", "gestreift")
_DE_CLOTHES = (("Hemd", "n"), ("Jacke", "f"), ("Kleid", "n"), ("Mantel", "m"), ("T-Shirt", "n"), ("Hut", "m"),
               ("Mütze", "f"), ("Pullover", "m"), ("Anzug", "m"), ("Weste", "f"), ("Uniform", "f"),
               ("Neoprenanzug", "m"), ("Kapuzenpullover", "m"))
_DE_WITH = ("mit Sonnenbrille", "mit einem Rucksack", "mit langen Haaren", "mit Helm", "mit einer Kamera",
            "mit einer Brille", "mit einem Bart", "mit lockigen Haaren", "mit einer Tasche")
# (singular verb phrase, plural verb phrase)
_DE_ACTS = (("fährt Fahrrad", "fahren Fahrrad"), ("reitet auf einem Pferd", "reiten auf Pferden"),
            ("fährt Skateboard", "fahren Skateboard"), ("surft auf einer Welle", "surfen auf einer Welle"),
            ("hält einen Regenschirm", "halten Regenschirme"), ("hält ein Handy", "halten Handys"),
            ("isst eine Pizza", "essen Pizza"), ("isst ein Sandwich", "essen Sandwiches"),
            ("spielt Tennis", "spielen Tennis"), ("spielt Fußball", "spielen Fußball"),
            ("spielt Gitarre", "spielen Gitarre"), ("spielt Baseball", "spielen Baseball"),
            ("lässt einen Drachen steigen", "lassen einen Drachen steigen"),
            ("wirft eine Frisbee", "werfen eine Frisbee"), ("schaut auf sein Handy", "schauen auf ihre Handys"),
            ("benutzt einen Laptop", "benutzen einen Laptop"), ("telefoniert", "telefonieren"),
            ("schneidet einen Kuchen", "schneiden einen Kuchen"), ("geht mit einem Hund spazieren",
                                                                   "gehen mit einem Hund spazieren"),
            ("trägt ein Surfbrett", "tragen Surfbretter"), ("liest ein Buch", "lesen Bücher"),
            ("macht ein Foto", "machen ein Foto"), ("kocht", "kochen"), ("sitzt auf einer Bank", "sitzen auf einer Bank"),
            ("steht neben einem Bus", "stehen neben einem Bus"), ("wartet auf einen Zug", "warten auf einen Zug"),
            ("überquert die Straße", "überqueren die Straße"), ("springt in die Luft", "springen in die Luft"),
            ("klettert auf einen Felsen", "klettern auf einen Felsen"), ("spielt im Wasser", "spielen im Wasser"),
            ("läuft", "laufen"), ("rennt", "rennen"), ("lacht", "lachen"), ("tanzt", "tanzen"), ("singt", "singen"),
            ("sitzt an einem Tisch", "sitzen an einem Tisch"), ("lächelt in die Kamera", "lächeln in die Kamera"),
            ("posiert für ein Foto", "posieren für ein Foto"), ("arbeitet", "arbeiten"), ("schwimmt", "schwimmen"),
            ("schläft", "schlafen"), ("verkauft Obst", "verkaufen Obst"), ("schiebt einen Kinderwagen",
                                                                      "schieben einen Kinderwagen"),
            ("fährt Ski", "fahren Ski"), ("spielt Videospiele", "spielen Videospiele"),
            ("unterhält sich", "unterhalten sich"), ("bereitet Essen zu", "bereiten Essen zu"))
_DE_PLACES = ("auf der Straße", "auf einer belebten Straße", "am Strand", "im Park", "im Schnee",
              "auf einem Feld", "in der Küche", "vor einem Gebäude", "auf einem Tennisplatz",
              "auf dem Bürgersteig", "im Wasser", "vor einer Menschenmenge", "auf einer Bühne",
              "in einem Restaurant", "an einem Tisch", "auf einem Berg", "in der Stadt", "neben einem See",
              "auf einem Feldweg", "in der Nacht", "im Regen", "auf einem Markt", "in einem Büro",
              "auf einem Boot", "am Bahnhof", "unter einem Baum", "am Fluss", "draußen", "auf einer Wiese")
_DE_ANIMALS = (("ein Hund", False), ("ein schwarzer Hund", False), ("ein brauner Hund", False),
               ("ein weißer Hund", False), ("eine Katze", False), ("ein Pferd", False), ("zwei Hunde", True),
               ("eine Kuh", False), ("Schafe", True), ("ein Elefant", False), ("eine Giraffe", False),
               ("ein Vogel", False), ("zwei Pferde", True), ("Kühe", True))
_DE_ANIMAL_ACTS = (("rennt durch das Gras", "rennen durch das Gras"), ("schläft auf einem Sofa", "schlafen auf einem Sofa"),
                   ("frisst Gras", "fressen Gras"), ("spielt mit einem Ball", "spielen mit einem Ball"),
                   ("schwimmt im Wasser", "schwimmen im Wasser"), ("springt nach einem Frisbee", "springen nach einem Frisbee"),
                   ("schaut aus dem Fenster", "schauen aus dem Fenster"), ("steht auf einer Wiese", "stehen auf einer Wiese"),
                   ("liegt in der Sonne", "liegen in der Sonne"), ("trinkt Wasser", "trinken Wasser"))
_DE_ROOMS = (("Eine Küche", ("einem Herd", "einem Kühlschrank", "einer Spüle", "einer Mikrowelle", "einem Tisch")),
             ("Ein Badezimmer", ("einer Toilette", "einem Waschbecken", "einem Spiegel", "einer Badewanne", "einer Dusche")),
             ("Ein Wohnzimmer", ("einem Sofa", "einem Fernseher", "einem Kamin", "Stühlen", "einer Lampe")),
             ("Ein Schlafzimmer", ("einem Bett", "einer Lampe", "einem Fenster", "einem Schreibtisch")))
_DE_FOODS = ("Brokkoli", "Reis", "Fleisch", "Kartoffeln", "Salat", "Eiern", "Pommes", "Gemüse", "Hähnchen",
             "Nudeln", "Käse", "Tomaten")
_DE_DISHES = ("Ein Teller mit", "Eine Schüssel mit", "Ein Tablett mit", "Eine Pizza mit")
_DE_VEHICLES = ("Ein Bus fährt eine Straße entlang", "Ein Zug fährt in den Bahnhof ein", "Ein Flugzeug fliegt am Himmel",
                "Ein Boot fährt auf dem Wasser", "Ein Lastwagen parkt am Straßenrand", "Ein Fahrrad lehnt an einer Wand",
                "Ein Auto wartet an einer Ampel", "Boote liegen im Hafen")


def _de_person(rng: random.Random) -> tuple[str, bool]:
    np_, plural = rng.choice(_DE_PEOPLE)
    c = rng.random()
    if c < 0.3:
        noun, g = rng.choice(_DE_CLOTHES)
        art = "einer" if g == "f" else "einem"
        np_ += f" in {art} {rng.choice(_DE_COLORS)}en {noun}"
    elif c < 0.42:
        np_ += " " + rng.choice(_DE_WITH)
    return np_, plural


# ---- French ----------------------------------------------------------------------------------
_FR_PEOPLE = (("un homme", False), ("une femme", False), ("un jeune homme", False), ("une jeune femme", False),
              ("un petit garçon", False), ("une petite fille", False), ("un vieil homme", False),
              ("une vieille dame", False), ("un enfant", False), ("une personne", False), ("un ouvrier", False),
              ("un cycliste", False), ("un joueur de tennis", False), ("un skieur", False), ("un surfeur", False),
              ("une adolescente", False), ("un bébé", False), ("un garçon", False), ("une fille", False),
              ("un footballeur", False), ("un cuisinier", False), ("une chanteuse", False), ("un musicien", False),
              ("un policier", False), ("une famille", False), ("un groupe de personnes", False), ("une foule", False),
              ("deux hommes", True), ("deux femmes", True), ("trois enfants", True), ("des enfants", True),
              ("deux jeunes filles", True), ("plusieurs personnes", True), ("un homme et une femme", True),
              ("deux garçons", True), ("des gens", True), ("deux ouvriers", True), ("des jeunes", True))
_FR_CLOTHES = (("chemise", "f"), ("veste", "f"), ("robe", "f"), ("manteau", "m"), ("t-shirt", "m"),
               ("chapeau", "m"), ("casquette", "f"), ("pull", "m"), ("costume", "m"), ("uniforme", "m"),
               ("combinaison", "f"))
_FR_COLORS = (("rouge", "rouge"), ("bleu", "bleue"), ("vert", "verte"), ("jaune", "jaune"), ("noir", "noire"),
              ("blanc", "blanche"), ("gris", "grise"), ("orange", "orange"), ("rose", "rose"), ("violet", "violette"))
_FR_WITH = ("avec des lunettes de soleil", "avec un sac à dos", "aux cheveux longs", "avec un casque",
            "avec un appareil photo", "avec des lunettes", "avec une barbe", "aux cheveux bouclés", "avec un sac")
_FR_ACTS = (("fait du vélo", "font du vélo"), ("monte à cheval", "montent à cheval"),
            ("fait du skateboard", "font du skateboard"), ("surfe sur une vague", "surfent sur une vague"),
            ("tient un parapluie", "tiennent des parapluies"), ("tient un téléphone", "tiennent des téléphones"),
            ("mange une pizza", "mangent une pizza"), ("mange un sandwich", "mangent des sandwichs"),
            ("joue au tennis", "jouent au tennis"), ("joue au football", "jouent au football"),
            ("joue de la guitare", "jouent de la guitare"), ("joue au baseball", "jouent au baseball"),
            ("fait voler un cerf-volant", "font voler un cerf-volant"), ("lance un frisbee", "lancent un frisbee"),
            ("regarde son téléphone", "regardent leur téléphone"), ("utilise un ordinateur portable",
                                                                   "utilisent un ordinateur portable"),
            ("parle au téléphone", "parlent au téléphone"), ("coupe un gâteau", "coupent un gâteau"),
            ("promène un chien", "promènent un chien"), ("porte une planche de surf", "portent des planches de surf"),
            ("lit un livre", "lisent des livres"), ("prend une photo", "prennent une photo"),
            ("prépare à manger", "préparent à manger"), ("attend le bus", "attendent le bus"),
            ("traverse la rue", "traversent la rue"), ("saute en l'air", "sautent en l'air"),
            ("escalade un rocher", "escaladent un rocher"), ("joue dans l'eau", "jouent dans l'eau"),
            ("marche", "marchent"), ("court", "courent"), ("rit", "rient"), ("danse", "dansent"),
            ("chante", "chantent"), ("sourit à la caméra", "sourient à la caméra"),
            ("pose pour une photo", "posent pour une photo"), ("travaille", "travaillent"), ("nage", "nagent"),
            ("dort", "dorment"), ("vend des fruits", "vendent des fruits"), ("pousse une poussette",
                                                                          "poussent une poussette"),
            ("fait du ski", "font du ski"), ("joue aux jeux vidéo", "jouent aux jeux vidéo"),
            ("discute", "discutent"), ("regarde la mer", "regardent la mer"))
_FR_PLACES = ("dans la rue", "dans une rue animée", "sur la plage", "dans le parc", "dans la neige", "dans un champ",
              "dans la cuisine", "devant un bâtiment", "sur un court de tennis", "sur le trottoir", "dans l'eau",
              "devant une foule", "sur une scène", "dans un restaurant", "à une table", "en montagne", "en ville",
              "près d'un lac", "sur un chemin de terre", "la nuit", "sous la pluie", "au marché", "dans un bureau",
              "sur un bateau", "à la gare", "sous un arbre", "au bord de la rivière", "dehors", "dans l'herbe")
_FR_ANIMALS = (("un chien", False), ("un chien noir", False), ("un chien brun", False), ("un chien blanc", False),
               ("un chat", False), ("un cheval", False), ("deux chiens", True), ("une vache", False),
               ("des moutons", True), ("un éléphant", False), ("une girafe", False), ("un oiseau", False),
               ("deux chevaux", True), ("des vaches", True))
_FR_ANIMAL_ACTS = (("court dans l'herbe", "courent dans l'herbe"), ("dort sur un canapé", "dorment sur un canapé"),
                   ("mange de l'herbe", "mangent de l'herbe"), ("joue avec une balle", "jouent avec une balle"),
                   ("nage dans l'eau", "nagent dans l'eau"), ("saute pour attraper un frisbee",
                                                           "sautent pour attraper un frisbee"),
                   ("regarde par la fenêtre", "regardent par la fenêtre"), ("se repose dans un pré",
                                                                           "se reposent dans un pré"),
                   ("boit de l'eau", "boivent de l'eau"), ("se couche au soleil", "se couchent au soleil"))
_FR_ROOMS = (("Une cuisine", ("une cuisinière", "un réfrigérateur", "un évier", "un micro-ondes", "une table")),
             ("Une salle de bain", ("des toilettes", "un lavabo", "un miroir", "une baignoire", "une douche")),
             ("Un salon", ("un canapé", "une télévision", "une cheminée", "des chaises", "une lampe")),
             ("Une chambre", ("un lit", "une lampe", "une fenêtre", "un bureau")))
_FR_FOODS = ("du brocoli", "du riz", "de la viande", "des pommes de terre", "de la salade", "des œufs",
             "des frites", "des légumes", "du poulet", "des pâtes", "du fromage", "des tomates")
_FR_DISHES = ("Une assiette avec", "Un bol avec", "Un plateau avec", "Une pizza avec")
_FR_VEHICLES = ("Un bus roule dans une rue", "Un train entre en gare", "Un avion vole dans le ciel",
                "Un bateau navigue sur l'eau", "Un camion garé au bord de la route", "Un vélo contre un mur",
                "Une voiture arrêtée à un feu rouge", "Des bateaux dans le port")


def _fr_person(rng: random.Random) -> tuple[str, bool]:
    np_, plural = rng.choice(_FR_PEOPLE)
    c = rng.random()
    if c < 0.3:
        noun, g = rng.choice(_FR_CLOTHES)
        np_ += f" en {noun} {rng.choice(_FR_COLORS)[1 if g == 'f' else 0]}"
    elif c < 0.42:
        np_ += " " + rng.choice(_FR_WITH)
    return np_, plural


@dataclass(frozen=True)
class _Tables:
    """One language's word tables for the caption shapes German and French share."""
    person: Callable[[random.Random], tuple[str, bool]]
    acts: tuple
    places: tuple
    animals: tuple
    animal_acts: tuple
    rooms: tuple
    foods: tuple
    dishes: tuple
    vehicles: tuple
    with_: str  # "a room with ..."
    and_: str


_DE = _Tables(_de_person, _DE_ACTS, _DE_PLACES, _DE_ANIMALS, _DE_ANIMAL_ACTS, _DE_ROOMS, _DE_FOODS,
              _DE_DISHES, _DE_VEHICLES, "mit", "und")
_FR = _Tables(_fr_person, _FR_ACTS, _FR_PLACES, _FR_ANIMALS, _FR_ANIMAL_ACTS, _FR_ROOMS, _FR_FOODS,
              _FR_DISHES, _FR_VEHICLES, "avec", "et")


def _tables_caption(t: _Tables, rng: random.Random) -> str:
    """A German or French caption: a person acting somewhere, an animal, a room, a meal or a vehicle."""
    r = rng.random()
    if r < 0.6:
        who, plural = t.person(rng)
        s = f"{who} {rng.choice(t.acts)[1 if plural else 0]}"
        if rng.random() < 0.6:
            s += f" {rng.choice(t.places)}"
    elif r < 0.75:
        who, plural = rng.choice(t.animals)
        s = f"{who} {rng.choice(t.animal_acts)[1 if plural else 0]}"
    elif r < 0.85:
        room, things = rng.choice(t.rooms)
        a, b = rng.sample(things, 2)
        s = f"{room} {t.with_} {a} {t.and_} {b}"
    elif r < 0.93:
        a, b = rng.sample(t.foods, 2)
        s = f"{rng.choice(t.dishes)} {a} {t.and_} {b}"
    else:
        s = rng.choice(t.vehicles)
    return s


_MAKERS = {"en": _en_caption, "de": partial(_tables_caption, _DE), "fr": partial(_tables_caption, _FR)}


def captions(lang: str, n: int, rng: random.Random, makers: dict = _MAKERS) -> list[str]:
    """Up to n distinct captions in `lang` (a key of `makers`), deterministic for the generator's state."""
    return _distinct(n, makers[lang], rng, capital=0.6 if lang == "en" else 0.9, period=0.5)


def grammar_rows(makers: dict, counts: dict[str, int], level: str, seed: int, scale: float = 1.0) -> list[dict]:
    """A grammar's captions as corpus rows (before the held-out filter and de-duplication)."""
    rng = random.Random(seed)
    return [{"text": t, "lang": lang, "level": level}
            for lang, n in counts.items() for t in captions(lang, int(n * scale), rng, makers)]


def caption_rows(seed: int = 1, scale: float = 1.0) -> list[dict]:
    """All second-grammar captions as corpus rows."""
    return grammar_rows(_MAKERS, N_CAPTIONS2, LEVEL, seed, scale)

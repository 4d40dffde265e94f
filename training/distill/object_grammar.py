"""A sixth caption grammar: everyday objects and where they are, as photo captions say it.

After run L the reader's cosine to the teacher was 0.90 on our grammar captions but 0.74-0.77 on
COCO captions. Counting the words of the 400 COCO *train2017* captions (a development set; val2017
stays the evaluation) against every English training text showed why: the words of object
scenes were nearly absent. "top" occurred 16 times in all English training text (the all-language
held-out filter drops it because "top" is a held-out name in Turkish), and "kite" (a held-out
bird), "fork", "skis", "scissors", "toothbrush", "remote", "she", "beside" and "nearby" fewer
than 20 times each, although "on top of", "next to" and "sitting on" open many photo captions.

So this grammar writes English captions about household, street, food, animal and sports
objects: counts, spatial relations between two objects, rooms listed by their contents, people
using objects, vehicles and signs in streets, openers such as "a close up of" and "an aerial view
of". All wording is our own. It is filtered per language (corpus.PER_LANGUAGE_FILTER): English
texts may say "top" but never an English (or other evaluation-language) held-out name, so
"laptop", "orange", "couch" and "kite" are dropped with their texts.

    rows = object_rows(seed=6)   # [{"text", "lang": "en", "level": "objects"}], deterministic
"""

from __future__ import annotations

import random

from .activity_grammar import _article

LEVEL = "objects"
N_OBJECT_CAPTIONS = 70000

# (singular, plural): things a photo shows on, in or beside other things
_SMALL = (
    ("pizza", "pizzas"), ("sandwich", "sandwiches"), ("hot dog", "hot dogs"), ("donut", "donuts"),
    ("doughnut", "doughnuts"), ("slice of cake", "slices of cake"), ("piece of pizza", "pieces of pizza"),
    ("banana", "bananas"), ("apple", "apples"), ("carrot", "carrots"), ("head of broccoli", "heads of broccoli"),
    ("bowl of soup", "bowls of soup"), ("cup of coffee", "cups of coffee"), ("glass of wine", "glasses of wine"),
    ("wine glass", "wine glasses"), ("bottle", "bottles"), ("mug", "mugs"), ("cup", "cups"), ("bowl", "bowls"),
    ("plate", "plates"), ("fork", "forks"), ("knife", "knives"), ("spoon", "spoons"), ("cookie", "cookies"),
    ("cell phone", "cell phones"), ("phone", "phones"), ("remote control", "remote controls"), ("remote", "remotes"),
    ("keyboard", "keyboards"), ("computer mouse", "computer mice"), ("book", "books"), ("vase", "vases"),
    ("vase of flowers", "vases of flowers"), ("clock", "clocks"), ("teddy bear", "teddy bears"),
    ("stuffed animal", "stuffed animals"), ("toothbrush", "toothbrushes"), ("pair of scissors", "pairs of scissors"),
    ("backpack", "backpacks"), ("handbag", "handbags"), ("purse", "purses"), ("suitcase", "suitcases"),
    ("umbrella", "umbrellas"), ("potted plant", "potted plants"), ("towel", "towels"), ("pillow", "pillows"),
    ("candle", "candles"), ("box", "boxes"), ("bag", "bags"), ("hat", "hats"), ("frisbee", "frisbees"),
    ("tennis ball", "tennis balls"), ("soccer ball", "soccer balls"), ("toy", "toys"), ("sign", "signs"),
)
_BIG = (
    ("table", "tables"), ("wooden table", "wooden tables"), ("dining table", "dining tables"), ("desk", "desks"),
    ("counter", "counters"), ("kitchen counter", "kitchen counters"), ("bed", "beds"), ("sofa", "sofas"),
    ("chair", "chairs"), ("bench", "benches"), ("shelf", "shelves"), ("window sill", "window sills"),
    ("car", "cars"), ("truck", "trucks"), ("bus", "buses"), ("motorcycle", "motorcycles"), ("bicycle", "bicycles"),
    ("bike", "bikes"), ("boat", "boats"), ("train", "trains"), ("refrigerator", "refrigerators"),
    ("fridge", "fridges"), ("oven", "ovens"), ("stove", "stoves"), ("microwave", "microwaves"), ("sink", "sinks"),
    ("toilet", "toilets"), ("bathtub", "bathtubs"), ("television", "televisions"), ("tv", "tvs"),
    ("computer monitor", "computer monitors"), ("fire hydrant", "fire hydrants"), ("parking meter", "parking meters"),
    ("stop sign", "stop signs"), ("traffic light", "traffic lights"), ("street sign", "street signs"),
    ("pole", "poles"), ("fence", "fences"), ("wall", "walls"), ("tree", "trees"), ("rock", "rocks"),
    ("cutting board", "cutting boards"), ("tray", "trays"), ("blanket", "blankets"), ("rug", "rugs"),
)
_ANIMALS = (
    ("dog", "dogs"), ("puppy", "puppies"), ("cat", "cats"), ("kitten", "kittens"), ("horse", "horses"),
    ("sheep", "sheep"), ("cow", "cows"), ("elephant", "elephants"), ("bear", "bears"), ("zebra", "zebras"),
    ("giraffe", "giraffes"), ("bird", "birds"), ("pigeon", "pigeons"), ("seagull", "seagulls"), ("duck", "ducks"),
)
_PEOPLE = (
    ("man", "men"), ("woman", "women"), ("boy", "boys"), ("girl", "girls"), ("child", "children"),
    ("person", "people"), ("kid", "kids"), ("young man", "young men"), ("young woman", "young women"),
    ("little girl", "little girls"), ("little boy", "little boys"), ("guy", "guys"), ("lady", "ladies"),
)
_COLOURS = ("red", "blue", "green", "yellow", "black", "white", "brown", "gray", "grey", "orange", "pink",
            "silver", "purple", "black and white", "red and white", "blue and white", "colorful", "dark", "bright")
_SIZES = ("small", "large", "big", "little", "tiny", "huge", "old", "new", "empty", "half eaten", "wooden",
          "metal", "plastic", "dirty", "clean", "broken", "giant")
_ON = ("on top of", "on", "next to", "beside", "near", "in front of", "behind", "under", "underneath",
       "on the side of", "close to", "by", "inside", "in", "against")
_ON_VERB = ("leaning against", "sitting on", "sitting on top of", "resting on", "lying on", "laying on",
            "stacked on", "sitting next to", "placed beside", "hanging over")
_POSE = ("sitting", "standing", "lying", "laying", "resting", "sleeping", "waiting", "parked", "placed", "hanging")
_COUNTS = ("two", "three", "four", "five", "several", "a couple of", "a few", "many", "lots of", "a group of",
           "a bunch of", "a pair of", "some", "a row of", "a pile of", "a stack of")
_PLURAL_COUNTS = tuple(c + " " for c in _COUNTS if not c.startswith("a ") or c in ("a few", "a couple of"))
_OPENERS = ("a picture of ", "a photo of ", "an image of ", "a close up of ", "a closeup of ", "a view of ",
            "an aerial view of ", "a black and white photo of ", "a blurry photo of ", "the view of ",
            "there is ", "here is ", "this is ", "a top view of ", "an overhead view of ")
_ROOMS = ("kitchen", "living room", "bathroom", "bedroom", "office", "dining room", "hotel room", "classroom",
          "restaurant", "cafe", "store", "shop", "garage", "hallway", "room")
_ROOM_ADJ = ("small", "large", "clean", "cluttered", "messy", "modern", "old", "dimly lit", "bright", "empty",
             "cozy", "tiled", "white", "crowded", "neat", "tidy", "spacious")
_ROOM_HAS = {
    "kitchen": ("a stove", "an oven", "a sink", "a refrigerator", "a microwave", "wooden cabinets",
                "a tiled floor", "a window", "a counter", "a table and chairs", "pots and pans", "a dishwasher"),
    "living room": ("a sofa", "a television", "a fireplace", "a coffee table", "a rug", "a lamp", "bookshelves",
                    "a window", "chairs", "pillows", "a christmas tree", "decorations", "curtains"),
    "bathroom": ("a toilet", "a sink", "a mirror", "a bathtub", "a shower", "towels", "a tiled wall",
                 "a toilet paper roll", "a shower curtain", "a window"),
    "bedroom": ("a bed", "a lamp", "a window", "a dresser", "pillows", "a blanket", "curtains", "a headboard",
                "a television", "a desk"),
    "office": ("a desk", "a computer", "a keyboard and mouse", "two monitors", "a chair", "books", "papers",
               "a phone", "a lamp", "a printer"),
}
_VEHICLES = (("car", "cars"), ("truck", "trucks"), ("bus", "buses"), ("city bus", "city buses"),
             ("double decker bus", "double decker buses"), ("motorcycle", "motorcycles"), ("bicycle", "bicycles"),
             ("train", "trains"), ("passenger train", "passenger trains"), ("airplane", "airplanes"),
             ("plane", "planes"), ("jet", "jets"), ("boat", "boats"), ("taxi", "taxis"), ("van", "vans"),
             ("scooter", "scooters"), ("fire truck", "fire trucks"), ("tractor", "tractors"))
_STREET = ("on a city street", "on the street", "at an intersection", "on the side of the road", "in a parking lot",
           "at a train station", "on the tracks", "at the station", "on a runway", "on the tarmac",
           "at an airport", "in the harbor", "on the water", "in traffic", "down the road", "on a bridge",
           "in front of a building", "next to a sidewalk", "near a curb", "on a highway", "in the snow",
           "on a dirt road", "in a field", "at night", "in the rain", "in the city")
_VEHICLE_ACT = ("parked", "driving", "traveling", "going", "stopped", "waiting", "pulling into a station",
                "coming down the tracks", "taking off", "landing", "flying over", "docked", "moving", "turning")
_SPORTS = (
    ("skier", "skiing down a snowy slope"), ("skier", "standing on skis in the snow"),
    ("snowboarder", "riding a snowboard down a hill"), ("snowboarder", "doing a jump in the air"),
    ("surfer", "riding a wave on a surfboard"), ("surfer", "carrying a surfboard on the beach"),
    ("skateboarder", "doing a trick on a skateboard"), ("skateboarder", "riding a ramp at a skate park"),
    ("tennis player", "swinging a racket at a ball"), ("tennis player", "hitting a tennis ball"),
    ("tennis player", "holding a tennis racket on a court"), ("baseball player", "swinging a bat"),
    ("batter", "getting ready to hit the ball"), ("pitcher", "throwing the ball from the mound"),
    ("catcher", "waiting behind home plate"), ("man", "flying a kite on the beach"),
    ("kid", "flying a kite in a park"), ("dog", "catching a frisbee in its mouth"),
    ("man", "throwing a frisbee in a park"), ("soccer player", "kicking the ball on a field"),
    ("woman", "holding a tennis racket"), ("boy", "playing with a frisbee"),
    ("person", "skiing across a snow covered field"), ("man", "riding a wave"),
)
_USE = ("holding", "eating", "using", "cutting", "looking at", "talking on", "carrying", "playing with",
        "sitting on", "standing next to", "standing in front of", "pointing at", "reaching for", "touching",
        "feeding", "petting", "riding", "watching", "preparing", "cooking", "sharing", "pulling")
_PERSON_PLACE = ("in a kitchen", "at a table", "in a restaurant", "at a desk", "on a couch", "on a sofa",
                 "in the park", "on the beach", "on the sidewalk", "in a room", "on a bench", "in the street",
                 "at home", "outside", "in a field", "at the zoo", "in a store", "in front of a mirror",
                 "with friends", "in the snow", "near the water", "at night")
_FOOD_HOLDER = ("a plate", "a white plate", "a bowl", "a tray", "a pan", "a box", "a cutting board",
                "a table", "a paper plate", "a dish", "a container", "a basket")
_FOOD = ("pizza", "broccoli", "carrots", "rice", "meat", "vegetables", "fruit", "bananas", "apples",
         "oranges", "donuts", "cake", "sandwiches", "fries", "salad", "noodles", "chicken", "eggs",
         "cheese", "tomatoes", "onions", "potatoes", "bread", "sauce", "pastries", "cookies", "hot dogs")
_FOOD_VERB = ("topped with", "filled with", "covered in", "covered with", "full of", "with", "piled with",
              "loaded with")
_ANIMAL_ACT = ("grazing in a field", "standing in the grass", "walking in the dirt", "eating hay",
               "drinking water", "lying on the ground", "standing next to a tree", "walking across a field",
               "in an enclosure", "at the zoo", "standing in the water", "sleeping on a bed",
               "sitting on a sofa", "looking out a window", "laying on a blanket", "walking on the beach",
               "standing on a rock", "resting in the shade", "eating leaves from a tree", "in a pen",
               "running through a field", "sitting on a bench", "perched on a branch", "flying over the water")

_PLACED = _SMALL + _ANIMALS + _BIG[:12]  # what stands on, next to or under something
_HANDLED = _SMALL + _ANIMALS  # what people hold, use or look at
_ADJECTIVES = _COLOURS + _SIZES

def _a(word: str) -> str:
    return f"{_article(word)} {word}"


def _some(rng: random.Random, pairs) -> str:
    """One thing with its article, or a counted plural: "a cup", "two cups", "a stack of plates"."""
    sg, pl = rng.choice(pairs)
    if rng.random() < 0.7:
        adj = rng.choice(_ADJECTIVES) + " " if rng.random() < 0.35 else ""
        return _a(adj + sg)
    return f"{rng.choice(_COUNTS)} {pl}"


def _relation(rng: random.Random) -> str:
    thing = _some(rng, _PLACED)
    where = _a(rng.choice(_BIG)[0]) if rng.random() < 0.8 else "the " + rng.choice(_BIG)[0]
    if rng.random() < 0.3:
        return f"{thing} {rng.choice(_ON_VERB)} {where}"
    verb = rng.choice(_POSE) + " " if rng.random() < 0.4 else ""
    return f"{thing} {verb}{rng.choice(_ON)} {where}"


def _room(rng: random.Random) -> str:
    room = rng.choice(_ROOMS)
    borrowed = _ROOM_HAS[rng.choice(tuple(_ROOM_HAS))]  # drawn for every room, so the stream stays fixed
    has = _ROOM_HAS.get(room, borrowed)
    items = rng.sample(has, rng.choice((1, 2, 2, 3)))
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    adj = rng.choice(_ROOM_ADJ) + " " if rng.random() < 0.7 else ""
    link = rng.choice(("with", "that has", "filled with", "featuring", "containing")) \
        if len(items) > 1 or rng.random() < 0.5 else "with"
    return f"{_a(adj + room)} {link} {listed}"


def _person(rng: random.Random) -> str:
    sg, pl = rng.choice(_PEOPLE)
    counted = f"{rng.choice(_COUNTS)} {pl}"  # drawn whichever subject is chosen
    who = rng.choice(("she is", "he is", f"{_a(sg)} is", _a(sg), counted, "they are"))
    thing = _some(rng, _HANDLED)
    place = " " + rng.choice(_PERSON_PLACE) if rng.random() < 0.6 else ""
    return f"{who} {rng.choice(_USE)} {thing}{place}"


def _vehicle(rng: random.Random) -> str:
    thing = _some(rng, _VEHICLES)
    act = rng.choice(_VEHICLE_ACT) + " " if rng.random() < 0.7 else ""
    return f"{thing} {act}{rng.choice(_STREET)}"


def _food(rng: random.Random) -> str:
    first, second = rng.sample(_FOOD, 2)
    food = first if rng.random() < 0.5 else f"{first} and {second}"
    return f"{rng.choice(_FOOD_HOLDER)} {rng.choice(_FOOD_VERB)} {food}"


def _sport(rng: random.Random) -> str:
    who, act = rng.choice(_SPORTS)
    return f"{_a(who)} {act}"


def _animal(rng: random.Random) -> str:
    return f"{_some(rng, _ANIMALS)} {rng.choice(_ANIMAL_ACT)}"


_KINDS = ((_relation, 0.3), (_room, 0.12), (_person, 0.18), (_vehicle, 0.12), (_food, 0.1), (_sport, 0.08),
          (_animal, 0.1))


def caption(rng: random.Random) -> str:
    """One caption: a clause, sometimes an opener or a second clause, in one of the usual spellings."""
    kind = rng.choices([k for k, _ in _KINDS], weights=[w for _, w in _KINDS])[0]
    text = kind(rng)
    if rng.random() < 0.2 and not text.startswith(("she ", "he ", "they ")):
        opener = rng.choice(_OPENERS)
        if opener == "there is " and text.startswith(_PLURAL_COUNTS):
            opener = "there are "
        text = opener + text
    if rng.random() < 0.15:
        text += " and " + _relation(rng)
    text = text[0].upper() + text[1:]
    if rng.random() < 0.1:
        text = text.upper()
    return text + ("." if rng.random() < 0.7 else "")


def object_rows(seed: int = 6, n: int = N_OBJECT_CAPTIONS) -> list[dict]:
    rng = random.Random(seed)
    return [{"text": caption(rng), "lang": "en", "level": LEVEL} for _ in range(n)]

"""Visual descriptions of the 700 training classes: what a photo of each class looks like.

A class name alone ("tabby cat") is a poor stand-in for the photos a caption describes ("a
striped grey cat curled up on a sofa"). The CuPL descriptions (Pratt et al., ICCV 2023) are
~150 machine-written English sentences per ImageNet class, saying how the thing looks, where it
is found and what it is next to. `clip-benchmark` (MIT package) carries them as
`datasets/cupl_prompts.json`; they are read from the installed package at training time and
never copied into this repository.

They serve two uses, both for training classes only (`class_index % 10 >= 3`):
- the concept table (concepts.py): a training class's row mixes the teacher's embeddings of its
  descriptions with that of its bare name, so a photo lands where captions of such photos land;
- the reader's corpus extension `describe` (corpus.EXTENSIONS): natural English sentences with a
  broad visual vocabulary, the kind of text COCO captions are.

A held-out class contributes nothing (its descriptions were written from its name, so they are
"prompts built from" a held-out name), and a training class's sentence that mentions any
held-out name in any language is dropped (`sources.HeldOutFilter`), as for every training text.
"""

from __future__ import annotations

from functools import lru_cache

from . import sources

LEVEL = "describe"  # the corpus level of these sentences


@lru_cache(maxsize=1)
def class_descriptions() -> dict[int, list[str]]:
    """Training class index -> its descriptions (file order) that name no held-out class.

    A training class whose every description names a held-out class maps to an empty list.
    Cached: the concept table and the corpus extension both read it while the caches are built.
    Raises sources.ClipBenchmarkMissing (with the install command) without clip-benchmark."""
    cupl = sources.clip_benchmark_json("cupl_prompts.json")["imagenet1k"]
    held = sources.HeldOutFilter(sources.held_out_names())
    out = {}
    for c, name in sources.class_names("en").items():
        if sources.is_held_out(c):
            continue
        out[c] = [" ".join(s.split()) for s in cupl.get(name, ()) if s.strip() and not held(s)]
    return out


def description_rows() -> list[dict]:
    """Corpus rows of the `describe` extension: every kept description, English."""
    return [{"text": s, "lang": "en", "level": LEVEL}
            for _, sents in sorted(class_descriptions().items()) for s in sents]

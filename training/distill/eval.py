"""The held-out evaluation of issue 9, for any embedder: the teacher, a training run, a package.

Rows (all held out from every training run):
- `coco_t2i_r{1,5,10}`: COCO-mini val2017 caption -> photo among its 79 photos (395 captions);
- `imagenet_{lang}_r{1,5}`: a held-out class name (class_index % 10 < 3) in en/de/fr/es/zh/ja/ru/ar
  (Babel-ImageNet names; English uses the CLIP names) -> its photo among all 1,000 sample photos;
- `m30k_en2{de,fr}_r1`: Multi30k test_2016, rendered English caption -> rendered translation
  among the 1,000 test lines;
- `m30k2017_en2{de,fr}_r1`, `m30k2018_en2{de,fr}_r1`: the same on test_2017_flickr (1,000 lines)
  and test_2018_flickr (1,071), full evaluation only. No design choice ever looked at these two
  splits (the grammars' vocabulary came from the validation split), so they are the unbiased
  check of the test_2016 rows; a split whose files are absent is left out.
Chance levels are exact (k / candidates). `quick=True` evaluates a cheap subset during training
(COCO, English ImageNet, the first 100 Multi30k lines) whose rows carry a `q_` prefix.

An embedder is anything with `encode_texts(list[str]) -> (N, E)` and `encode_photos(list[Path])
-> (N, E)` (L2-normalised): `BridgeTeacher` here, `training.distill.lite.TorchEmbedder` (a run), or the
engine's `InstalledModel` (ONNX, what the app runs).

    python -m clippo_desktop.training.distill.eval --teacher            # writes teacher_metrics.json
    python -m clippo_desktop.training.distill.eval --run runs/distill   # best checkpoint of a run
    python -m clippo_desktop.training.distill.eval --model NAME         # an installed package
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from . import sources

TEACHER_METRICS = Path(__file__).with_name("teacher_metrics.json")
UNSEEN_M30K = {"m30k2017": "test_2017_flickr", "m30k2018": "test_2018_flickr"}  # row prefix -> split


class Embedder(Protocol):
    def encode_texts(self, texts: list[str]) -> np.ndarray: ...
    def encode_photos(self, paths: list[Path]) -> np.ndarray: ...


def recall(sim: np.ndarray, correct: np.ndarray, ks: Sequence[int]) -> dict[int, float]:
    """sim (Q, D); correct (Q, D) bool -> share of queries with a hit in the top k."""
    order = np.argsort(-sim, axis=1, kind="stable")
    hits = np.take_along_axis(correct, order, axis=1)
    return {k: float(hits[:, :k].any(axis=1).mean()) for k in ks}


def eval_sets(quick: bool = False, langs: tuple[str, ...] | None = None) -> dict:
    """The queries and candidates of every row (pure data, no embedding)."""
    coco = sources.coco_photos("val2017")
    photos = sources.imagenet_photos()
    langs = ("en",) if quick else (langs or sources.EVAL_LANGS)
    names = {}
    for lang in langs:
        by_cls = sources.class_names(lang)
        names[lang] = sorted((c, n) for c, n in by_cls.items() if sources.is_held_out(c) and n.strip())
    n_lines = 100 if quick else 1000
    m30k = {lang: sources.multi30k("test_2016_flickr", lang)[:n_lines] for lang in ("en", "de", "fr")}
    if quick:
        m30k.pop("fr")
    unseen = {} if quick else {p: {lang: sources.multi30k(split, lang) for lang in ("en", "de", "fr")}
                               for p, split in UNSEEN_M30K.items() if _has_split(split)}
    return {"coco": coco, "imagenet": photos, "names": names, "m30k": m30k, "m30k_unseen": unseen}


def _has_split(split: str) -> bool:
    return all(sources.multi30k_path(split, lang).is_file() for lang in ("en", "de", "fr"))


def translation_rows(embedder: Embedder, lines: dict[str, list[str]], prefix: str) -> dict[str, float]:
    """{prefix}_en2{de,fr}_r1: each rendered English line -> its translation among all lines."""
    z_en = embedder.encode_texts(lines["en"])  # (L, E)
    out = {}
    for lang in [x for x in ("de", "fr") if x in lines]:
        z_x = embedder.encode_texts(lines[lang])  # (L, E)
        out[f"{prefix}_en2{lang}_r1"] = recall(z_en @ z_x.T, np.eye(len(z_en), dtype=bool), (1,))[1]
    return out


def evaluate(embedder: Embedder, quick: bool = False, log=lambda msg: None,
             langs: tuple[str, ...] | None = None) -> dict[str, float]:
    """The held-out rows; `langs` narrows the ImageNet name languages (default EVAL_LANGS)."""
    sets = eval_sets(quick, langs)
    p = "q_" if quick else ""
    out: dict[str, float] = {}
    coco = sets["coco"]
    log(f"COCO val2017: {len(coco)} photos")
    z_img = embedder.encode_photos([c.path for c in coco])  # (79, E)
    caps = [(i, cap) for i, c in enumerate(coco) for cap in c.captions]
    z_cap = embedder.encode_texts([c for _, c in caps])  # (395, E)
    owner = np.array([i for i, _ in caps])
    r = recall(z_cap @ z_img.T, owner[:, None] == np.arange(len(coco))[None], (1, 5, 10))
    out.update({f"{p}coco_t2i_r{k}": v for k, v in r.items()})
    photos = sets["imagenet"]
    log(f"ImageNet: {len(photos)} photos")
    z_in = embedder.encode_photos([ph.path for ph in photos])  # (1000, E)
    cls_of = np.array([ph.class_index for ph in photos])
    for lang, pairs in sets["names"].items():
        log(f"ImageNet names {lang}: {len(pairs)}")
        z_q = embedder.encode_texts([n for _, n in pairs])  # (Q, E)
        correct = np.array([c for c, _ in pairs])[:, None] == cls_of[None]
        r = recall(z_q @ z_in.T, correct, (1, 5))
        out.update({f"{p}imagenet_{lang}_r{k}": v for k, v in r.items()})
    log(f"Multi30k test_2016: {len(sets['m30k']['en'])} lines")
    out.update(translation_rows(embedder, sets["m30k"], f"{p}m30k"))
    for prefix, lines in sets["m30k_unseen"].items():
        log(f"Multi30k {UNSEEN_M30K[prefix]}: {len(lines['en'])} lines")
        out.update(translation_rows(embedder, lines, prefix))
    return out


def chance(quick: bool = False, langs: tuple[str, ...] | None = None) -> dict[str, float]:
    sets = eval_sets(quick, langs)
    p = "q_" if quick else ""
    out = {f"{p}coco_t2i_r{k}": k / len(sets["coco"]) for k in (1, 5, 10)}
    for lang in sets["names"]:
        out.update({f"{p}imagenet_{lang}_r{k}": k / len(sets["imagenet"]) for k in (1, 5)})
    for prefix, lines in {f"{p}m30k": sets["m30k"], **sets["m30k_unseen"]}.items():
        out.update({f"{prefix}_en2{lang}_r1": 1 / len(lines[lang]) for lang in ("de", "fr") if lang in lines})
    return out


class BridgeTeacher:
    """The label-bridge teacher over all 1,000 classes (the number to beat).

    EfficientNet-Lite0 with its own crop preprocessing, top-5 classes, USE-m "a photo of a
    {class}" over all 1,000 English names (offline-models.md). Evaluation only: it reads the
    held-out names, which is what makes it the upper reference and not a student.
    """

    def __init__(self):
        from .teachers import ImageTeacher, TextTeacher

        self.text = TextTeacher()
        self.image = ImageTeacher()
        names = sources.class_names("en")
        self.class_text = self.text.encode([f"a photo of a {names[i]}" for i in range(1000)])  # (1000, 512)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return self.text.encode(texts)

    def encode_photos(self, paths: list[Path]) -> np.ndarray:
        from .teachers import bridge_embeddings, teacher_pixels

        logits = self.image.logits(np.stack([teacher_pixels(p) for p in paths]))  # (N, 1000)
        return bridge_embeddings(logits, self.class_text)


def format_table(rows: dict[str, dict[str, float]]) -> str:
    """rows: column name -> {metric: value}. One line per metric, columns side by side."""
    cols = list(rows)
    keys = [k for k in next(iter(rows.values()))]
    for c in cols[1:]:
        keys += [k for k in rows[c] if k not in keys]
    width = max(len(k) for k in keys)
    lines = [f"{'row':<{width}}  " + "  ".join(f"{c:>9}" for c in cols)]
    for k in keys:
        cells = [f"{rows[c][k]:>9.3f}" if k in rows[c] else f"{'-':>9}" for c in cols]
        lines.append(f"{k:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def teacher_metrics() -> dict[str, float]:
    return json.loads(TEACHER_METRICS.read_text("utf-8")) if TEACHER_METRICS.is_file() else {}


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m clippo_desktop.training.distill.eval")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--teacher", action="store_true", help="evaluate the label bridge; write teacher_metrics.json")
    g.add_argument("--run", type=Path, help="a distillation run folder (its best checkpoint)")
    g.add_argument("--model", help="an installed model package (ONNX, as the app runs it)")
    ap.add_argument("--which", default="best", choices=("best", "last"), help="checkpoint of --run")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--probe", action="store_true", help="add the reading probe (training words vs unseen words)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the student's metrics here")
    args = ap.parse_args(argv)
    if not args.model:  # an installed package runs on ONNX Runtime alone
        import torch

        torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    if args.teacher:
        res = {**evaluate(BridgeTeacher(), quick=False, log=log), **evaluate(BridgeTeacher(), quick=True)}
        from clippo_desktop.engine.atomic import write_text_atomic

        write_text_atomic(TEACHER_METRICS, json.dumps(res, indent=1, sort_keys=True) + "\n")
        print(format_table({"chance": {**chance(), **chance(True)}, "teacher": res}))
        return 0
    if args.run:
        from .lite import TorchEmbedder

        emb, name = TorchEmbedder.from_run(args.run, args.which), f"{args.run.name}:{args.which}"
    else:
        from clippo_desktop.engine.models import ModelRegistry
        from clippo_desktop.engine.paths import resolve_data_dir

        emb, name = ModelRegistry(resolve_data_dir()).get(args.model), args.model
    res = evaluate(emb, quick=args.quick, log=log)
    if args.run and args.probe:
        res.update(reading_probe(emb))
    if args.json:
        from clippo_desktop.engine.atomic import write_text_atomic

        write_text_atomic(args.json, json.dumps(res, indent=1, sort_keys=True) + "\n")
    teacher = {k: v for k, v in teacher_metrics().items() if k in res}
    print(format_table({"chance": chance(args.quick), "teacher": teacher, "student": res}))
    print(f"student = {name}")
    return 0



def reading_probe(embedder: Embedder, cache: Path | None = None, n: int = 300, seed: int = 0) -> dict[str, float]:
    """Does the student read at all? Rendered word -> its teacher embedding among n, R@1/R@10.

    `seen`: n curriculum words (training texts); `unseen`: n frequent Multi30k *val* words that
    are not in the curriculum (nor held-out names). Chance is 1/n and 10/n. A training-time
    diagnostic: it needs the text teacher.
    """
    import re
    from collections import Counter

    from .corpus import build_targets
    from .teachers import TextTeacher

    rows, emb = build_targets(Path(cache or sources.cache_dir()) / "lite")
    rng = np.random.default_rng(seed)
    words = [i for i, r in enumerate(rows) if r["level"] == "word" and r["lang"] in ("en", "de", "fr")]
    seen = rng.choice(words, n, replace=False)
    known = {r["text"].lower() for r in rows}
    held = sources.HeldOutFilter(sources.held_out_names())
    counts = Counter(w.lower() for lang in ("en", "de", "fr") for line in sources.multi30k("val", lang)
                     for w in re.findall(r"[^\W\d_]{3,}", line))
    unseen = [w for w, _ in counts.most_common() if w not in known and not held(w)][:n]
    out = {}
    for name, texts, target in (("seen", [rows[i]["text"] for i in seen], emb[seen].astype(np.float32)),
                                ("unseen", unseen, TextTeacher().encode(unseen))):
        target = target / np.linalg.norm(target, axis=1, keepdims=True)
        z = embedder.encode_texts(list(texts))
        r = recall(z @ target.T, np.eye(len(texts), dtype=bool), (1, 10))
        out.update({f"read_{name}_r1": r[1], f"read_{name}_r10": r[10]})
    out["read_chance_r1"], out["read_chance_r10"] = 1 / n, 10 / n
    return out


if __name__ == "__main__":
    raise SystemExit(main())

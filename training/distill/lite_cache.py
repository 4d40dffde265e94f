"""Everything the CLIPPO-Lite recipe precomputes once, as compact arrays in `<cache>/lite/`.

    corpus.jsonl, corpus_text.npy  the shippable text corpus and its USE-m targets (corpus.py)
    fc_weight.npy                  EfficientNet-Lite0 classifier weights (1000, 1280)
    concept_table_described.npy    the photo branch's concept rows (1000, 512), concepts.py
    eval_logits_<mode>_<size>.npy  classifier logits of the evaluation photos, read exactly as
                                   the app reads them (engine.imageio in the package's
                                   lite.PHOTO_PREPROCESS mode at 224, the photo branch's resize
                                   to lite.PHOTO_SIZE; both in the name, so a change of framing
                                   never reuses stale logits): the 1,000 ImageNet sample photos
                                   in class order, then COCO val2017

Evaluation photos are only ever embedded here, never trained on. Files are written atomically
and skipped when present, so an interrupted preparation resumes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import concepts, sources
from .corpus import build_targets


def _save(path: Path, arr: np.ndarray) -> None:
    from clippo_desktop.engine.atomic import atomic_write

    with atomic_write(path) as f:
        np.save(f, arr, allow_pickle=False)


def eval_photo_paths() -> list[Path]:
    return [p.path for p in sources.imagenet_photos()] + [c.path for c in sources.coco_photos("val2017")]


def eval_logits_path(folder: Path) -> Path:
    from .lite import PHOTO_PREPROCESS, PHOTO_SIZE

    return Path(folder) / f"eval_logits_{PHOTO_PREPROCESS}_{PHOTO_SIZE}.npy"


def classifier_logits(net, paths: list[Path], batch: int = 32) -> np.ndarray:
    """Photos read as the app reads them -> (N, 1000) logits of the EfficientNet-Lite0 branch."""
    import torch

    from .lite import photo_features, photo_pixels

    out = []
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            px = photo_pixels(paths[i:i + batch])
            x = torch.from_numpy(px).float() / 127.5 - 1.0  # (b, 224, 224, 3)
            out.append(net._fc(photo_features(net, x).mean(dim=(2, 3))).numpy())  # (b, 1000)
    return np.concatenate(out).astype(np.float32)


def prepare(cache: Path | None = None, threads: int = 2, log=print) -> Path:
    from .teachers import TextTeacher, load_efficientnet_lite0

    folder = Path(cache or sources.cache_dir()) / "lite"
    folder.mkdir(parents=True, exist_ok=True)
    build_targets(folder, threads=threads, log=log)
    net = None
    if not (folder / "fc_weight.npy").is_file():
        net = load_efficientnet_lite0()
        _save(folder / "fc_weight.npy", net._fc.weight.detach().numpy().astype(np.float32))
    if not (folder / concepts.TABLE_FILE).is_file():
        log("concept table: names and descriptions of the 700 training classes")
        table = concepts.build_table(np.load(folder / "fc_weight.npy"), TextTeacher(threads=threads))
        _save(folder / concepts.TABLE_FILE, table)
    if not eval_logits_path(folder).is_file():
        log("classifier logits of the evaluation photos (about a minute)")
        net = net or load_efficientnet_lite0()
        _save(eval_logits_path(folder), classifier_logits(net, eval_photo_paths()))
    return folder

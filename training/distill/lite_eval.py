"""The in-training check of the CLIPPO-Lite reader on held-out rows (cheap, ~10 s).

Photos are embedded once by the photo branch's numpy reference (concepts.photo_embeddings on
cached classifier logits), so only the reader runs during training. Rows: COCO val2017
caption -> photo R@1/5/10 (79 photos), held-out English ImageNet names -> photo R@1/5 among the
1,000 photos, Multi30k test_2016 en -> de R@1 on the first 300 lines, and the mean cosine to the
teacher on corpus texts kept out of training (`val_cos`). `score` is what picks `best.pt`.
The full evaluation of an exported package is eval.py (`clippo-desktop eval`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import concepts, sources
from .eval import recall
from .lite_cache import eval_logits_path

M30K_QUICK = 300


class QuickEval:
    def __init__(self, folder: Path):
        table = np.load(Path(folder) / concepts.TABLE_FILE)
        z = concepts.photo_embeddings(np.load(eval_logits_path(folder)), table)
        self.z_imagenet, self.z_coco = z[:1000], z[1000:]
        coco = sources.coco_photos("val2017")
        self.captions = [c for p in coco for c in p.captions]
        self.owner = np.array([i for i, p in enumerate(coco) for _ in p.captions])
        names = sources.class_names("en")
        self.held = sorted((c, n) for c, n in names.items() if sources.is_held_out(c))
        self.m30k = {lang: sources.multi30k("test_2016_flickr", lang)[:M30K_QUICK] for lang in ("en", "de")}

    def run(self, encode, corpus=None) -> dict:
        out = {}
        zc = encode(self.captions)
        r = recall(zc @ self.z_coco.T, self.owner[:, None] == np.arange(len(self.z_coco))[None], (1, 5, 10))
        out.update({f"coco_r{k}": v for k, v in r.items()})
        zn = encode([n for _, n in self.held])
        cls = np.array([c for c, _ in self.held])
        r = recall(zn @ self.z_imagenet.T, cls[:, None] == np.arange(1000)[None], (1, 5))
        out.update({f"imagenet_en_r{k}": v for k, v in r.items()})
        ze, zd = encode(self.m30k["en"]), encode(self.m30k["de"])
        out["m30k_en2de_r1"] = recall(ze @ zd.T, np.eye(len(ze), dtype=bool), (1,))[1]
        if corpus is not None:
            idx = corpus.val[:600]
            z = encode([corpus.texts[i] for i in idx])
            out["val_cos"] = float((z * corpus.targets[idx]).sum(1).mean())
        out["score"] = out["coco_r5"] + out["imagenet_en_r5"] + out["m30k_en2de_r1"] + out.get("val_cos", 0.0)
        return out

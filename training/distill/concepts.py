"""The photo branch's concept table: ImageNet classes placed in the text teacher's space.

A photo is embedded as the probability-weighted mean of 1,000 concept vectors, one per class of
the EfficientNet-Lite0 classifier it starts from (the "concept space" of issue 9). A *training*
class's row (class_index % 10 >= 3) mixes two things the text teacher says about it: its bare
English name (WordNet lemma as cleaned by CLIP), which short queries such as "tabby cat" are
close to, and the mean of up to 40 visual descriptions of the class (descriptions.py), which
captions of such photos are close to, weighted 1 : 3. A class whose every description names a
held-out class uses "a photo of a {name}." instead. A held-out class may contribute neither
its name nor its descriptions, so its row is predicted zero-shot: the mean of the rows of the
5 training classes whose classifier weight vectors are closest to its own (softmax over cosine
/ 0.05). The classifier weights come from the Apache-2.0 checkpoint; no held-out name, prompt,
description or photo is read.

Chosen on COCO train2017 (the development set, never val): with teacher and with the kept
reader's caption queries, R@1/5/10 summed over both, among rows from the prompt, the bare name
and the descriptions in 11 mixes, temperature 1-3 and top 10-50 (training/README.md, "Concept
rows"). Before, rows were "a photo of a {name}." alone with softmax / 1.5 and top 20.

Aggregation: softmax(logits / 2.5), keep the top 30 classes, renormalise, mix the rows,
L2-normalise. `photo_embeddings` is the numpy reference of what the exported ONNX graph computes.
"""

from __future__ import annotations

import numpy as np

from . import sources

TEMPERATURE = 2.5
TOP_K = 30
ZSL_NEIGHBOURS = 5
ZSL_TEMPERATURE = 0.05
PROMPT = "a photo of a {}."  # a training class's description stand-in when it has none
MAX_DESCRIPTIONS = 40  # per class, in the file's order
NAME_WEIGHT, DESCRIPTION_WEIGHT = 1.0, 3.0
# The cache file of the table (lite_cache): named by its recipe, so a table built the old way is
# never picked up by code that expects this one.
TABLE_FILE = "concept_table_described.npy"


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def training_rows(text_teacher, train_idx: np.ndarray, descriptions: dict[int, list[str]]) -> np.ndarray:
    """Rows (len(train_idx), 512) of training classes: unit(1 x name + 3 x mean description)."""
    names = sources.class_names("en")
    bare = _unit(text_teacher.encode([names[int(c)] for c in train_idx]))  # (T, 512)
    texts, owner = [], []
    for j, c in enumerate(train_idx):
        sents = descriptions.get(int(c), [])[:MAX_DESCRIPTIONS] or [PROMPT.format(names[int(c)])]
        texts += sents
        owner += [j] * len(sents)
    z = _unit(text_teacher.encode(texts))  # (D, 512)
    mean = np.zeros((len(train_idx), z.shape[1]), np.float64)
    np.add.at(mean, np.array(owner), z)
    rows = NAME_WEIGHT * bare + DESCRIPTION_WEIGHT * _unit(mean)  # (T, 512)
    return _unit(rows).astype(np.float32)


def build_table(fc_weight: np.ndarray, text_teacher, descriptions: dict[int, list[str]] | None = None) -> np.ndarray:
    """fc_weight (1000, F) of the classifier -> concept table (1000, 512), unit rows.

    `descriptions` (training class -> sentences) defaults to descriptions.class_descriptions()."""
    if descriptions is None:
        from .descriptions import class_descriptions

        descriptions = class_descriptions()
    held = np.array([sources.is_held_out(i) for i in range(len(fc_weight))])
    train_idx = np.flatnonzero(~held)
    table = np.zeros((len(fc_weight), 512), np.float32)
    table[train_idx] = training_rows(text_teacher, train_idx, descriptions)
    w = _unit(fc_weight)
    sim = w[held] @ w[train_idx].T  # (300, 700)
    nearest = np.argsort(-sim, axis=1)[:, :ZSL_NEIGHBOURS]  # (300, k)
    weight = np.exp(np.take_along_axis(sim, nearest, 1) / ZSL_TEMPERATURE)
    weight /= weight.sum(1, keepdims=True)
    rows = (weight[:, :, None] * table[train_idx][nearest]).sum(1)  # (300, 512)
    table[held] = _unit(rows)
    return table


def photo_embeddings(logits: np.ndarray, table: np.ndarray) -> np.ndarray:
    """logits (N, 1000) -> (N, 512) unit vectors: top-k tempered softmax mixture of the rows."""
    z = logits.astype(np.float64) / TEMPERATURE
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    kth = -np.sort(-p, axis=1)[:, TOP_K - 1:TOP_K]
    p = np.where(p >= kth, p, 0.0)
    p /= p.sum(1, keepdims=True)
    e = p @ table.astype(np.float64)
    return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)

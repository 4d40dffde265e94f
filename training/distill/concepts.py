"""The photo branch's concept table: ImageNet classes placed in the text teacher's space.

A photo is embedded as the probability-weighted mean of 1,000 concept vectors, one per class of
the EfficientNet-Lite0 classifier it starts from (the "concept space" of issue 9). The 700
*training* classes get the text teacher's embedding of "a photo of a {name}." (English WordNet
lemmas). A held-out class (index % 10 < 3) may not contribute its name, so its row is predicted
zero-shot: the mean of the rows of the 5 training classes whose classifier weight vectors are
closest to its own (softmax over cosine / 0.05). The classifier weights come from the Apache-2.0
checkpoint; no held-out name, prompt or photo is read.

Aggregation (chosen on COCO train2017, never on val, and re-checked there when the framing
became lite.PHOTO_PREPROCESS): softmax(logits / 1.5), keep the top 20 classes, renormalise, mix
the rows, L2-normalise. `photo_embeddings` is the numpy reference of
what the exported ONNX graph computes.
"""

from __future__ import annotations

import numpy as np

from . import sources

TEMPERATURE = 1.5
TOP_K = 20
ZSL_NEIGHBOURS = 5
ZSL_TEMPERATURE = 0.05
PROMPT = "a photo of a {}."


def build_table(fc_weight: np.ndarray, text_teacher) -> np.ndarray:
    """fc_weight (1000, F) of the classifier -> concept table (1000, 512), unit rows."""
    names = sources.class_names("en")
    held = np.array([sources.is_held_out(i) for i in range(len(fc_weight))])
    train_idx = np.flatnonzero(~held)
    table = np.zeros((len(fc_weight), 512), np.float32)
    table[train_idx] = text_teacher.encode([PROMPT.format(names[int(i)]) for i in train_idx])
    w = fc_weight / np.linalg.norm(fc_weight, axis=1, keepdims=True)
    sim = w[held] @ w[train_idx].T  # (300, 700)
    nearest = np.argsort(-sim, axis=1)[:, :ZSL_NEIGHBOURS]  # (300, k)
    weight = np.exp(np.take_along_axis(sim, nearest, 1) / ZSL_TEMPERATURE)
    weight /= weight.sum(1, keepdims=True)
    rows = (weight[:, :, None] * table[train_idx][nearest]).sum(1)  # (300, 512)
    table[held] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
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

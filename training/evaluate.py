"""Retrieval and zero-shot metrics for a training run (before, during and after training).

- photo/caption pairs: text→image and image→text recall@1/5/10 (a photo with several captions
  counts as found if any of them is in the top k);
- text/text pairs: a→b and b→a R@1 (cross-lingual retrieval on parallel data);
- a labelled folder (folder per class): zero-shot top-1 accuracy with the engine's classifier.
Everything is embedded with the PyTorch tower in eval mode; metrics are plain floats.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .data import Pair, PairDataset, to_model_input

KS = (1, 5, 10)


@torch.no_grad()
def encode_arrays(model: torch.nn.Module, arrays: Sequence[np.ndarray], device: torch.device,
                  batch_size: int = 32) -> np.ndarray:
    """uint8 (S,S,3) images -> (N, E) float32 normalised embeddings."""
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(arrays), batch_size):
        x = torch.from_numpy(np.stack(arrays[i:i + batch_size]))  # (b, S, S, 3) uint8
        out.append(model(to_model_input(x, device)).float().cpu().numpy())  # (b, E)
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def recall_at_k(sim: np.ndarray, correct: np.ndarray, ks=KS) -> dict[int, float]:
    """sim (Q, D) scores; correct (Q, D) bool. Share of queries with a correct item in the top k."""
    order = np.argsort(-sim, axis=1, kind="stable")  # (Q, D)
    hits = np.take_along_axis(correct, order, axis=1)  # (Q, D)
    return {k: float(hits[:, :k].any(axis=1).mean()) for k in ks}


def retrieval_metrics(model, pairs: Sequence[Pair], dataset: PairDataset, device) -> dict[str, float]:
    metrics: dict[str, float] = {}
    img = [p for p in pairs if p.kind == "image"]
    if img:
        groups = sorted({p.a for p in img})
        gid = {g: i for i, g in enumerate(groups)}
        z_img = encode_arrays(model, [dataset._photo(g, 0) for g in groups], device)  # (G, E)
        z_txt = encode_arrays(model, [dataset._render(p.b) for p in img], device)  # (C, E)
        owner = np.array([gid[p.a] for p in img])  # (C,)
        correct = owner[:, None] == np.arange(len(groups))[None, :]  # (C, G)
        sim = z_txt @ z_img.T  # (C, G)
        for k, v in recall_at_k(sim, correct).items():
            metrics[f"t2i_r{k}"] = v
        for k, v in recall_at_k(sim.T, correct.T).items():
            metrics[f"i2t_r{k}"] = v
    txt = [p for p in pairs if p.kind == "text"]
    if txt:
        z_a = encode_arrays(model, [dataset._render(p.a) for p in txt], device)
        z_b = encode_arrays(model, [dataset._render(p.b) for p in txt], device)
        eye = np.eye(len(txt), dtype=bool)
        metrics["text_a2b_r1"] = recall_at_k(z_a @ z_b.T, eye, (1,))[1]
        metrics["text_b2a_r1"] = recall_at_k(z_b @ z_a.T, eye, (1,))[1]
    return metrics


def zero_shot_accuracy(model, labelled: Sequence[Pair], dataset: PairDataset, device,
                       templates: Sequence[str]) -> float:
    from clippo_desktop.engine.zeroshot import ZeroShotClassifier

    labels = sorted({p.label for p in labelled})
    clf = ZeroShotClassifier.build(
        labels, templates, lambda texts: encode_arrays(model, [dataset._render(t) for t in texts], device))
    z = encode_arrays(model, [dataset._photo(p.a, 0) for p in labelled], device)  # (N, E)
    pred = clf.scores(z).argmax(axis=1)  # (N,)
    truth = np.array([labels.index(p.label) for p in labelled])
    return float((pred == truth).mean())


def evaluate(model, val_pairs: Sequence[Pair], dataset: PairDataset, device, *,
             zero_shot: Sequence[Pair] = (), templates: Sequence[str] = ("a photo of a {}",)) -> dict[str, float]:
    metrics = retrieval_metrics(model, val_pairs, dataset, device) if val_pairs else {}
    if zero_shot:
        metrics["zero_shot_acc"] = zero_shot_accuracy(model, zero_shot, dataset, device, templates)
    return metrics

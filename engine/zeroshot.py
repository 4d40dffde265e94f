"""Zero-shot classification the way big_vision's evaluator does it (spec §10).

Class names and prompt templates are canonicalised (underscores to spaces, punctuation removed,
lower-cased, whitespace collapsed); each class's prompt embeddings are averaged and the mean is
re-normalised (+1e-8). A photo's class scores are cosines; probabilities use the model's
temperature. Works for any language: labels are just rendered text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np


def canonicalize(text: str) -> str:
    text = text.replace("_", " ")
    text = "".join(" " if unicodedata.category(c).startswith("P") and c not in "{}" else c for c in text)
    return re.sub(r"\s+", " ", text.lower()).strip()


def prompts_for(label: str, templates) -> list[str]:
    name = canonicalize(label)
    return [canonicalize(t).replace("{}", name) for t in templates]


@dataclass(frozen=True)
class ZeroShotClassifier:
    labels: tuple[str, ...]
    class_embeddings: np.ndarray  # (C, E) unit rows
    temperature: float

    @classmethod
    def build(cls, labels, templates, encode_texts, temperature: float = 10.0) -> "ZeroShotClassifier":
        """`encode_texts(list[str]) -> (N, E)` normalised; one batched call for all prompts."""
        labels = tuple(labels)
        templates = tuple(templates) or ("{}",)
        prompts = [p for label in labels for p in prompts_for(label, templates)]
        if not labels:
            return cls(labels, np.zeros((0, 0), np.float32), temperature)
        z = encode_texts(prompts).reshape(len(labels), len(templates), -1)  # (C, T, E)
        mean = z.mean(axis=1)  # (C, E)
        mean = mean / (np.linalg.norm(mean, axis=1, keepdims=True) + 1e-8)
        return cls(labels, mean.astype(np.float32), float(temperature))

    def scores(self, image_embeddings: np.ndarray) -> np.ndarray:
        """Cosine scores (N, C)."""
        return np.asarray(image_embeddings, np.float32) @ self.class_embeddings.T

    def probabilities(self, image_embeddings: np.ndarray) -> np.ndarray:
        logits = self.scores(image_embeddings) * self.temperature  # (N, C)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def top(self, image_embedding: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        s = self.scores(image_embedding[None])[0]  # (C,)
        order = np.argsort(-s, kind="stable")[:k]
        return [(self.labels[i], float(s[i])) for i in order]

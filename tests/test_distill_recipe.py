"""Distillation recipe (training/distill): held-out rules, the label bridge, recall, eval sets.

Needs torch (the `training` extra); tests that read the teachers skip without the `distill`
extra, and tests that read ../shared skip without it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from clippo_desktop.training.distill import sources  # noqa: E402
from clippo_desktop.training.distill.eval import recall  # noqa: E402
from clippo_desktop.training.distill.teachers import bridge_embeddings, teachers_available  # noqa: E402

needs_teachers = pytest.mark.skipif(not teachers_available(), reason="distill extra not installed")


def test_held_out_rule_keeps_three_classes_in_ten():
    held = [c for c in range(1000) if sources.is_held_out(c)]
    assert len(held) == 300 and held[:4] == [0, 1, 2, 10]


def test_bridge_embedding_never_uses_a_disallowed_class():
    class_text = np.eye(4, 3, dtype=np.float32)  # class i -> axis i (class 3 -> zero vector)
    logits = np.array([[5.0, 1.0, 0.0, -1.0]])
    allowed = np.array([False, True, True, True])
    z = bridge_embeddings(logits, class_text, allowed, top_k=2)
    assert z[0, 0] == 0.0 and z[0, 1] > z[0, 2] > 0.0
    assert bridge_embeddings(logits, class_text, None, top_k=1)[0, 0] == pytest.approx(1.0)


def test_recall_counts_a_hit_anywhere_in_the_top_k():
    sim = np.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8]])
    correct = np.array([[False, True, False], [False, False, True]])
    assert recall(sim, correct, (1, 2)) == {1: 0.5, 2: 1.0}


@needs_teachers
def test_evaluation_queries_only_held_out_classes(shared_dir):
    from clippo_desktop.training.distill.eval import chance, eval_sets

    sets = eval_sets(quick=True)
    assert all(sources.is_held_out(c) for c, _ in sets["names"]["en"])
    assert len(sets["names"]["en"]) == 300 and len(sets["coco"]) == 79
    assert chance(quick=True)["q_imagenet_en_r1"] == pytest.approx(0.001)

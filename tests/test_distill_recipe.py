"""Distillation recipe (training/distill): held-out rules, targets, the student's start, metrics.

Needs torch (the `training` extra); tests that read the teachers skip without the `distill`
extra, and tests that read ../shared skip without it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from clippo_desktop.engine.render import RendererSettings, render_text  # noqa: E402
from clippo_desktop.training.distill import sources  # noqa: E402
from clippo_desktop.training.distill.curriculum import Charset, column_targets, ink_rows  # noqa: E402
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


def test_column_targets_name_the_character_under_each_column():
    s = RendererSettings(image_size=64)
    cs = Charset(["a", "b"])
    t = column_targets("ab", s, cs)
    assert t.shape == (8,) and t[0] == cs.index["a"] and t[1] == cs.index["b"] and (t[2:] == 0).all()
    assert column_targets("b" * 40, s, cs) is None  # wraps to a second line: no targets


def test_ink_rows_round_a_one_line_text_up_to_the_trunk_stride():
    s = RendererSettings(image_size=64)
    assert ink_rows(render_text("word", s), s.background_brightness) == 32
    assert ink_rows(render_text("w" * 30, s), s.background_brightness) == 64


@needs_teachers
def test_student_starts_as_the_pretrained_classifier_on_training_classes():
    from clippo_desktop.training.distill.student import Student
    from clippo_desktop.training.distill.teachers import load_efficientnet_lite0

    train = torch.tensor([c for c in range(1000) if not sources.is_held_out(c)])
    student = Student(torch.randn(1000, 512), train, n_chars=8).eval()
    net = load_efficientnet_lite0()
    x = torch.rand(2, 64, 64, 3) * 2 - 1
    with torch.no_grad():
        out = student(x, chars=True)
        ref = net(x.permute(0, 3, 1, 2))[:, train]
    torch.testing.assert_close(out["logits"], ref, rtol=1e-4, atol=1e-4)
    assert out["embedding"].shape == (2, 512) and out["chars"].shape == (2, 8, 8)
    torch.testing.assert_close(out["embedding"].norm(dim=-1), torch.ones(2))


@needs_teachers
def test_no_held_out_name_reaches_the_training_corpus(shared_dir):
    from clippo_desktop.training.distill.targets import build_corpus

    rows, stats = build_corpus(limit_lines=400)
    held_en = {n.lower() for c, n in sources.class_names("en").items() if sources.is_held_out(c)}
    assert stats["held_out_class"] > 0
    assert all(r["cls"] < 0 or not sources.is_held_out(r["cls"]) for r in rows)
    assert not any(r["text"].lower() in held_en for r in rows)
    assert {"word", "phrase", "caption"} <= {r["level"] for r in rows}


@needs_teachers
def test_evaluation_queries_only_held_out_classes(shared_dir):
    from clippo_desktop.training.distill.eval import chance, eval_sets

    sets = eval_sets(quick=True)
    assert all(sources.is_held_out(c) for c, _ in sets["names"]["en"])
    assert len(sets["names"]["en"]) == 300 and len(sets["coco"]) == 79
    assert chance(quick=True)["q_imagenet_en_r1"] == pytest.approx(0.001)

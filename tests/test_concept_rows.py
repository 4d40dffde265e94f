"""The photo branch's concept rows (concepts.py) and the class descriptions they are built from
(descriptions.py): what the text teacher is asked, the held-out rules, and the mix of a row.

Reads ../shared (class names) and clip-benchmark (the descriptions); skips without them.
"""

from __future__ import annotations

import importlib.util
import zlib

import numpy as np
import pytest

from clippo_desktop.training.distill import concepts, corpus, descriptions, sources

needs_shared = pytest.mark.skipif(not (sources.shared_data_dir() / "imagenet-sample-1k").is_dir(),
                                  reason="../shared/data is not here")
needs_descriptions = pytest.mark.skipif(not importlib.util.find_spec("clip_benchmark"),
                                        reason="clip-benchmark (training/distill/requirements.txt) not installed")


class RecordingTeacher:
    """A text teacher that remembers every text it was asked to embed; one fixed vector per text."""

    def __init__(self):
        self.seen: list[str] = []

    def vector(self, text: str) -> np.ndarray:
        z = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(512)
        return z / np.linalg.norm(z)

    def encode(self, texts, batch_size: int = 64):
        self.seen += list(texts)
        return np.stack([self.vector(t) for t in texts]).astype(np.float32) if texts else np.zeros((0, 512))


def unit(x):
    return x / np.linalg.norm(x)


@pytest.fixture(scope="module")
def by_class():
    return descriptions.class_descriptions()


@needs_shared
@needs_descriptions
def test_descriptions_cover_only_training_classes_and_never_name_a_held_out_class(by_class):
    held = sources.HeldOutFilter(sources.held_out_names())
    assert set(by_class) == {c for c in range(1000) if not sources.is_held_out(c)}
    sents = [s for ss in by_class.values() for s in ss]
    assert len(sents) > 50_000 and not any(held(s) for s in sents)
    # Most classes keep most of their ~150 sentences; the filter empties only a few.
    kept = np.array([len(ss) for ss in by_class.values()])
    assert np.median(kept) > 100 and (kept == 0).sum() < 10
    rows = descriptions.description_rows()
    assert len(rows) == len(sents) and {(r["lang"], r["level"]) for r in rows} == {("en", "describe")}
    assert "describe" in corpus.EXTENSIONS


@needs_shared
@needs_descriptions
def test_a_held_out_class_gives_the_table_neither_its_name_nor_its_descriptions(by_class):
    teacher = RecordingTeacher()
    w = np.random.default_rng(0).standard_normal((1000, 16)).astype(np.float32)
    table = concepts.build_table(w, teacher, by_class)
    names = sources.class_names("en")
    seen = set(teacher.seen)
    held_names = {names[c] for c in range(1000) if sources.is_held_out(c)}
    assert not held_names & seen
    # (a handful of sentences, such as "I don't know.", were written for a training class too)
    cupl = sources.clip_benchmark_json("cupl_prompts.json")["imagenet1k"]
    words = {c: {" ".join(s.split()) for s in cupl.get(names[c], ())} for c in range(1000)}
    train_desc = set().union(*(words[c] for c in range(1000) if not sources.is_held_out(c)))
    held_only = set().union(*(words[c] for c in range(1000) if sources.is_held_out(c))) - train_desc
    assert len(held_only) > 10_000 and not held_only & seen
    assert np.all(np.abs(np.linalg.norm(table, axis=1) - 1.0) < 1e-5)
    # A held-out row is a mix of the training rows nearest in classifier space.
    nearest = np.argsort(-(w[0] / np.linalg.norm(w[0])) @ (w / np.linalg.norm(w, axis=1, keepdims=True)).T)
    first_train = next(int(i) for i in nearest if not sources.is_held_out(int(i)))
    assert table[0] @ table[first_train] > 0.3


@needs_shared
def test_a_training_row_is_one_part_bare_name_and_three_parts_mean_description():
    teacher = RecordingTeacher()
    names = sources.class_names("en")
    train_idx = np.array([3, 4])  # training classes (3 % 10 >= 3)
    given = {3: [f"description {i}" for i in range(concepts.MAX_DESCRIPTIONS + 5)], 4: []}
    rows = concepts.training_rows(teacher, train_idx, given)
    mean = unit(sum(teacher.vector(f"description {i}") for i in range(concepts.MAX_DESCRIPTIONS)))
    np.testing.assert_allclose(rows[0], unit(unit(teacher.vector(names[3])) + 3 * mean), atol=1e-5)
    # Only the first MAX_DESCRIPTIONS are read; a class with none falls back to the photo prompt.
    assert f"description {concepts.MAX_DESCRIPTIONS}" not in teacher.seen
    np.testing.assert_allclose(
        rows[1], unit(teacher.vector(names[4]) + 3 * teacher.vector(concepts.PROMPT.format(names[4]))), atol=1e-5)


def test_a_missing_clip_benchmark_says_how_to_install_the_teachers(monkeypatch):
    import sys

    for cached in (descriptions.class_descriptions, sources.clip_benchmark_json):
        cached.cache_clear()
    monkeypatch.setitem(sys.modules, "clip_benchmark", None)  # what an uninstalled package looks like
    try:
        with pytest.raises(sources.ClipBenchmarkMissing, match="training/distill/requirements.txt"):
            descriptions.class_descriptions()
    finally:
        for cached in (descriptions.class_descriptions, sources.clip_benchmark_json):
            cached.cache_clear()

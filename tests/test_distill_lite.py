"""CLIPPO-Lite (training/distill): the reader's exact cropping, the router, the held-out rules of
the corpus and the concept table, and the exported graph against PyTorch.

Needs torch (the `training` extra). Tests that need the teachers' packages (wordfreq,
clip-benchmark, EfficientNet-Lite0) skip without them; tests that read ../shared skip without it.
"""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from clippo_desktop.engine.encoder import value_range  # noqa: E402
from clippo_desktop.engine.render import render_texts  # noqa: E402
from clippo_desktop.training.distill import concepts, sources  # noqa: E402
from clippo_desktop.training.distill.lite import (  # noqa: E402
    READ_TIERS, ClippoLite, TextBranch, export_onnx, text_mask)
from clippo_desktop.training.distill.reader import (  # noqa: E402
    Reader, columns_from_canvas, crop_columns, unroll_lines, widen_lexicon)

needs_shared = pytest.mark.skipif(not (sources.shared_data_dir() / "imagenet-sample-1k").is_dir(),
                                  reason="../shared/data is not here")
needs_corpus_tools = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("wordfreq", "clip_benchmark")),
    reason="wordfreq / clip-benchmark (training/distill/requirements.txt) not installed")


class TinyCnn(nn.Module):
    """The two methods of EfficientNet-Lite that the photo branch calls, at toy size."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 32, stride=32)
        self._fc = nn.Linear(8, classes)

    def extract_features(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, 192, 192) -> (N, 8, 6, 6)
        return torch.relu(self.conv(x))


def small_reader() -> Reader:
    torch.manual_seed(0)
    r = Reader(c1=16, c2=24, blocks1=1, blocks2=1, lexicon=32, out_dim=512)
    for p in r.parameters():  # break the zero-initialised residual branches
        nn.init.normal_(p, std=0.2)
    return r.eval()


def test_unrolling_puts_the_second_line_after_the_first():
    ink = torch.zeros(1, 32, 8)
    ink[0, 3, 1] = 1  # line 0, column 1
    ink[0, 16 + 5, 2] = 1  # line 1, column 2
    cols = unroll_lines(ink)  # (1, 16, 16)
    assert cols.shape == (1, 16, 16)
    assert cols[0, 3, 1] == 1 and cols[0, 5, 8 + 2] == 1 and cols.sum() == 2


def test_the_reader_gives_the_same_embedding_on_the_used_columns_as_on_the_whole_canvas():
    r = small_reader()
    texts = ["Hund im Schnee", "地铁站的猫", "a cat on a very long line " * 3]
    cols = columns_from_canvas(render_texts(texts))  # (3, 16, 3136)
    cropped = crop_columns(cols)
    assert cropped.shape[-1] < cols.shape[-1] and cropped.shape[-1] % 8 == 0
    with torch.no_grad():
        assert torch.allclose(r(cols), r(cropped), atol=1e-5)


def test_reading_only_the_inked_prefix_gives_exactly_the_whole_canvas_embedding():
    torch.manual_seed(0)
    reader = Reader()  # the shipped architecture, so the real receptive field
    for p in reader.parameters():
        nn.init.normal_(p, std=0.05)
    branch = TextBranch(reader.eval())
    rng = np.random.default_rng(0)
    for last in (5, 223, 224, 225, READ_TIERS[1] - 161, READ_TIERS[1] - 150, 3135):
        cols = torch.zeros(2, 16, 3136)
        cols[:, :, :last + 1] = torch.from_numpy(rng.random((2, 16, last + 1)) < 0.2).float()
        cols[:, :, last] = 1  # the last ink column
        with torch.no_grad():
            torch.testing.assert_close(branch.read(cols), reader(cols), rtol=0, atol=1e-6)


def test_widening_the_lexicon_adds_units_without_changing_any_embedding():
    r = small_reader()
    wide = widen_lexicon(r, 80).eval()
    cols = columns_from_canvas(render_texts(["Hund im Schnee", "夜の発射台のロケット"]))
    assert wide.config["lexicon"] == 80 and wide.lex[1].out_features == 80
    with torch.no_grad():
        assert torch.equal(r(cols), wide(cols))
    with pytest.raises(ValueError, match="cannot narrow the lexicon from 32 to 16"):
        widen_lexicon(r, 16)


def _saved_run(path, reader: Reader, seen: int) -> None:
    import json

    torch.save({"model": reader.state_dict(), "state": json.dumps({"step": 9, "seen": seen}),
                "reader": json.dumps(reader.config)}, path)


def test_a_run_started_from_another_runs_checkpoint_keeps_its_curriculum_position_and_widens(tmp_path):
    from clippo_desktop.training.distill.train_lite import LiteConfig, _initial_weights

    _saved_run(tmp_path / "last.pt", small_reader(), seen=1234)
    cfg = LiteConfig(reader={"lexicon": 48})
    model, seen = _initial_weights(tmp_path / "last.pt", cfg, log=lambda m: None)
    assert seen == 1234 and model.config["lexicon"] == 48 and cfg.reader == model.config
    with pytest.raises(ValueError, match="only the lexicon can change"):
        _initial_weights(tmp_path / "last.pt", LiteConfig(reader={"c2": 32}), log=lambda m: None)


def test_the_recipe_skips_finished_stages_and_resumes_the_unfinished_one(tmp_path):
    import json

    from clippo_desktop.training.distill.recipe import Stage, next_stage, stage_config

    stages = (Stage("base", {"total_steps": 10, "stop_step": 8}),
              Stage("wide", {"total_steps": 20, "reader": {"lexicon": 48}}))
    assert next_stage(tmp_path, stages) == 0
    for name, step in (("base", 8), ("wide", 7)):
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        torch.save({"state": json.dumps({"step": step, "seen": 0})}, tmp_path / name / "checkpoints" / "last.pt")
    assert next_stage(tmp_path, stages) == 1
    assert stage_config(stages[0]).last_step == 8 and stage_config(stages[1]).last_step == 20
    assert stage_config(stages[1]).reader == {"lexicon": 48} and stage_config(stages[1]).total_steps == 20
    with pytest.raises(ValueError, match="stage 'x': LiteConfig has no field 'steps'"):
        stage_config(Stage("x", {"steps": 5}))


def test_renderings_go_to_the_reader_and_photos_and_grey_pictures_with_detail_do_not():
    texts = torch.from_numpy(value_range(render_texts(["a dog", "", "夜の発射台のロケット"])))
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    grey_with_text = render_texts(["scan"])
    grey_with_text[0, 100:180, 100:180] = rng.integers(0, 256, (80, 80, 3))  # a picture on paper
    others = torch.from_numpy(value_range(np.concatenate([photo, grey_with_text])))
    assert text_mask(texts).tolist() == [True, True, True]
    assert text_mask(others).tolist() == [False, False]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A toy-sized ClippoLite and its ONNX export (exporting the nested Ifs takes ~1-2 min)."""
    table = np.random.default_rng(1).standard_normal((1000, 512)).astype(np.float32)
    model = ClippoLite(small_reader(), TinyCnn().eval(), table).eval()
    return model, export_onnx(model, tmp_path_factory.mktemp("export") / "lite.onnx")


def test_the_exported_graph_matches_pytorch_for_text_photo_and_mixed_batches(exported):
    import onnxruntime as ort

    model, path = exported
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1  # a spinning thread pool crawls when the cores are busy
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    text = value_range(render_texts(["Hund im Schnee", "a red car"]))
    long_text = value_range(render_texts(["a red car parked " * 4, "a long caption " * 30]))  # 2 and 16 lines
    photo = value_range(np.random.default_rng(2).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8))
    for batch in (text, long_text, long_text[1:], photo, np.concatenate([text[:1], photo[:1]])):
        emb, att = session.run(None, {"pixels": batch})
        with torch.no_grad():
            ref_emb, ref_att = model(torch.from_numpy(batch))
        assert emb.shape == (len(batch), 512) and att.shape == (len(batch), 49)
        np.testing.assert_allclose(emb, ref_emb.numpy(), atol=2e-5)
        np.testing.assert_allclose(att.sum(1), 1.0, atol=1e-5)
    # Each branch really is chosen by the pixels: a mixed batch equals its rows run alone.
    mixed = session.run(None, {"pixels": np.concatenate([text[:1], photo[:1]])})[0]
    np.testing.assert_allclose(mixed[0], session.run(None, {"pixels": text[:1]})[0][0], atol=1e-5)
    np.testing.assert_allclose(mixed[1], session.run(None, {"pixels": photo[:1]})[0][0], atol=1e-5)


def test_photo_embeddings_mix_the_rows_of_the_top_classes_only():
    table = np.eye(1000, 512, dtype=np.float32)
    logits = np.full((1, 1000), -50.0)
    logits[0, 3], logits[0, 7] = 10.0, 10.0 - concepts.TEMPERATURE * np.log(3.0)  # p3 = 3 * p7 after it
    z = concepts.photo_embeddings(logits, table)
    assert z[0, 3] == pytest.approx(3 / np.sqrt(10), abs=1e-3) and z[0, 7] == pytest.approx(1 / np.sqrt(10), abs=1e-3)
    assert np.count_nonzero(np.abs(z[0]) > 1e-6) <= concepts.TOP_K


@needs_shared
@needs_corpus_tools
def test_no_training_text_names_a_held_out_class_in_any_language():
    from clippo_desktop.training.distill.corpus import build_corpus

    rows, stats = build_corpus(seed=0, scale=0.05)
    held = sources.HeldOutFilter(sources.held_out_names())
    texts = [r["text"] for r in rows]
    assert len(rows) > 10_000 and not any(held(t) for t in texts)
    assert {"goldfish", "tiger shark", "Goldfisch"}.isdisjoint(texts)
    assert {r["level"] for r in rows} == {"word", "phrase", "bag", "caption"}
    assert {r["lang"] for r in rows if r["level"] == "caption"} == {"en", "de", "fr"}
    assert stats["dropped_caption"] > 0
    assert build_corpus(seed=0, scale=0.05)[0] == rows  # deterministic


@needs_shared
@needs_corpus_tools
def test_the_per_language_filter_lets_homographs_of_other_languages_through_but_no_evaluated_name():
    held = sources.LanguageHeldOut()
    en = sources.class_names("en")
    de = sources.class_names("de")
    # Dutch "das" (badger) and Turkish "top" (cannon) are everyday German and English words.
    assert not held("Ein Hund läuft durch das Wasser", "de")
    assert held("das", "nl") and held("top", "tr") and not held("a spinning top on a table", "en")
    # A held-out name of an evaluation language is dropped from texts of every language.
    held_en = next(n for c, n in en.items() if sources.is_held_out(c) and len(n) >= 5 and n.isalpha())
    held_de = next(n for c, n in de.items() if sources.is_held_out(c) and len(n) >= 5 and n.isalpha())
    for lang in ("en", "de", "fr", "nl"):
        assert held(f"ein {held_en} hier", lang) and held(f"un {held_de} ici", lang), lang
    # ...and training names are not.
    train_en = next(n for c, n in en.items() if not sources.is_held_out(c) and len(n) >= 5 and n.isalpha())
    assert not held(f"a {train_en} here", "en")
    with pytest.raises(ValueError, match="needs the text's language"):
        held("das Wasser")
    # The extension built with it, and only that one; earlier caches keep the all-language filter.
    from clippo_desktop.training.distill import corpus

    assert corpus.PER_LANGUAGE_FILTER == {"caption5", "objects"}
    assert all(isinstance(corpus.held_out_filter(n), sources.LanguageHeldOut) for n in corpus.PER_LANGUAGE_FILTER)
    assert all(isinstance(corpus.held_out_filter(n), sources.HeldOutFilter)
               for n in corpus.EXTENSIONS if n not in corpus.PER_LANGUAGE_FILTER)
    assert sources.HeldOutFilter(sources.held_out_names())("das Wasser", "de")


@needs_shared
@needs_corpus_tools
def test_object_captions_may_say_on_top_of_but_never_keep_an_english_held_out_name():
    from clippo_desktop.training.distill import corpus
    from clippo_desktop.training.distill.object_grammar import object_rows

    held = corpus.held_out_filter("objects")
    rows = object_rows(seed=6, n=3000)
    is_held = [held(r["text"], r["lang"]) for r in rows]
    kept = [r["text"] for r, h in zip(rows, is_held) if not h]
    dropped = [r["text"] for r, h in zip(rows, is_held) if h]
    assert 0.7 * len(rows) < len(kept) < len(rows)
    assert sum("on top of" in t.lower() for t in kept) > 30
    # "kite" (a bird), "orange" and "couch" are held-out English names: their captions go.
    for name in ("kite", "orange", "couch"):
        assert any(re.search(rf"\b{name}\b", t.lower()) for t in dropped), name
        assert not any(re.search(rf"\b{name}\b", t.lower()) for t in kept), name


def test_the_exported_graph_packages_and_runs_as_the_apps_model(exported, tmp_path):
    from clippo_desktop.engine.model_package import build_package_from_onnx
    from clippo_desktop.engine.models import ModelRegistry

    graph = exported[1]
    manifest = build_package_from_onnx(
        graph, tmp_path / "bundle" / "lite", name="lite", embed_dim=512, provenance={"test": True},
        license="none", is_default=True, int8="auto", int8_only=True, progress=lambda _m: None)
    # ORT's dynamic quantiser cannot rewrite MatMuls inside If branches, so the graph gets int8
    # weight storage (engine/int8_weights.py): a quarter of the bytes, the same embeddings.
    assert manifest.default_variant == "int8" and set(manifest.files) == {"model.int8.onnx"}
    assert manifest.int8_cosine > 0.999
    assert manifest.files["model.int8.onnx"].bytes < 0.3 * graph.stat().st_size
    model = ModelRegistry(tmp_path / "data", bundled_dir=tmp_path / "bundle").default()
    assert model.name == "lite" and model.manifest.architecture.kind == "onnx"
    z = model.encode_texts(["Hund im Schnee", "a dog in the snow"])
    assert z.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-4)


def test_shipping_into_a_folder_not_named_for_the_model_is_refused_before_any_work(tmp_path):
    from clippo_desktop.training.distill.ship import NAME, ship

    with pytest.raises(ValueError, match=f"the package folder must be named '{NAME}', got .*trial-pkg'; "
                                         f"for a trial package use --out SOMEWHERE/{NAME} --no-keep"):
        ship(tmp_path / "no-such-run", tmp_path / "trial-pkg")
    assert not (tmp_path / "trial-pkg").exists()

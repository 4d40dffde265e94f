"""The CLIPPO-Lite reader that a fresh clone continues from: read back out of the shipped package
(training/distill/recover.py) and kept in the repository (best_checkpoint.py), and the recipe
seeding an empty run folder from it.

Needs torch (the `training` extra); skips when no CLIPPO-Lite package is bundled.
"""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")

from clippo_desktop.engine.paths import resources_dir  # noqa: E402
from clippo_desktop.training.distill import best_checkpoint, recover  # noqa: E402
from clippo_desktop.training.distill.recipe import STAGES, Stage, next_stage, steps_done  # noqa: E402

from tests.test_distill_lite import small_reader as _tiny_reader  # noqa: E402  (a toy reader, nonzero weights)

PACKAGE = resources_dir() / "models" / "clippo-lite-ml"
needs_package = pytest.mark.skipif(not (PACKAGE / "manifest.json").is_file(),
                                   reason="no CLIPPO-Lite package is bundled in resources/models")
# A query of each kind the app sees: short, other scripts, a two-line caption, a full canvas.
TEXTS = ["Hund im Schnee", "地铁站的猫", "夜の発射台のロケット", "кошка на диване", "قطة على الأريكة",
         "une femme vêtue de noir tenant une pancarte pendant que des spectateurs regardent la scène",
         "zwei Männer in weißen Hemden spielen Fußball auf einer Wiese " * 12]


@needs_package
def test_the_reader_read_back_from_the_bundled_package_gives_the_packages_own_text_embeddings():
    reader, prov = recover.from_package(PACKAGE)
    assert reader.config == prov["reader"]
    assert recover.check(reader, PACKAGE, TEXTS) > 0.99999


@needs_package
def test_the_kept_reader_is_the_bundled_packages_reader(tmp_path):
    reader, meta = best_checkpoint.load()
    prov = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))["provenance"]
    assert (meta["stage"], meta["step"], meta["seen"]) == (prov["run"], prov["step"], prov["texts_seen"])
    assert meta["stage"] in [s.name for s in STAGES]
    # float16 storage of the weights the package quantised to int8: the ship floor is 0.99
    assert recover.check(reader, PACKAGE, TEXTS) > 0.99
    assert best_checkpoint.PATH.stat().st_size < 8_000_000


def test_a_kept_reader_comes_back_with_its_weights_and_meta(tmp_path):
    reader = _tiny_reader()
    path = best_checkpoint.save(reader, {"stage": "a", "step": 10, "seen": 960, "source": "test"}, tmp_path / "r.pt")
    back, meta = best_checkpoint.load(path)
    assert meta == {"stage": "a", "step": 10, "seen": 960, "source": "test"}
    for k, v in reader.state_dict().items():
        assert torch.allclose(back.state_dict()[k], v, atol=2e-3, rtol=1e-3), k  # float16
    with pytest.raises(ValueError, match="best checkpoint meta needs 'source'"):
        best_checkpoint.save(reader, {"stage": "a", "step": 1, "seen": 1}, tmp_path / "x.pt")


def test_an_empty_recipe_folder_is_seeded_so_the_kept_stage_is_done_and_the_next_starts_from_it(tmp_path):
    from clippo_desktop.training.distill.train_lite import LiteConfig, _initial_weights

    stages = (Stage("first", {"total_steps": 5}), Stage("a", {"total_steps": 10}), Stage("b", {"total_steps": 20}))
    kept = best_checkpoint.save(_tiny_reader(), {"stage": "a", "step": 10, "seen": 960, "source": "t"},
                                tmp_path / "kept.pt")
    out = tmp_path / "runs"
    assert next_stage(out, stages) == 0
    seeded = best_checkpoint.seed_run(out, [s.name for s in stages], kept, log=lambda m: None)
    assert seeded == out / "a" / "checkpoints" / "last.pt"
    # the stage before the kept one has no checkpoint here, and is finished all the same
    assert steps_done(out / "a") == 10 and steps_done(out / "first") == 0 and next_stage(out, stages) == 2
    model, seen = _initial_weights(seeded, LiteConfig(), log=lambda m: None)
    want, _ = best_checkpoint.load(kept)
    assert seen == 960
    assert all(torch.equal(model.state_dict()[k], v) for k, v in want.state_dict().items())


def test_seeding_never_touches_a_folder_that_has_a_run(tmp_path):
    kept = best_checkpoint.save(_tiny_reader(), {"stage": "a", "step": 10, "seen": 960, "source": "t"},
                                tmp_path / "kept.pt")
    out = tmp_path / "runs"
    (out / "b" / "checkpoints").mkdir(parents=True)
    torch.save({"state": json.dumps({"step": 3, "seen": 0})}, out / "b" / "checkpoints" / "last.pt")
    assert best_checkpoint.seed_run(out, ["a", "b"], kept, log=lambda m: None) is None
    assert not (out / "a").exists()
    assert best_checkpoint.seed_run(tmp_path / "new", ["a"], tmp_path / "none.pt", log=lambda m: None) is None


def test_a_kept_reader_from_a_stage_the_recipe_no_longer_has_is_refused_by_name(tmp_path):
    kept = best_checkpoint.save(_tiny_reader(), {"stage": "gone", "step": 1, "seen": 1, "source": "t"},
                                tmp_path / "kept.pt")
    with pytest.raises(ValueError, match="from stage 'gone', which the recipe no longer has"):
        best_checkpoint.seed_run(tmp_path / "runs", ["a", "b"], kept, log=lambda m: None)


@needs_package
def test_a_package_whose_manifest_names_no_reader_is_refused(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    manifest = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    manifest["provenance"].pop("reader")
    (pkg / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(recover.RecoveryError, match="is not a CLIPPO-Lite package"):
        recover.from_package(pkg)
    manifest["provenance"]["reader"] = {"c1": 192, "c2": 256, "blocks1": 2, "blocks2": 4,
                                        "lexicon": 2048, "out_dim": 512}  # one block more than the graph has
    (pkg / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.copy(next(PACKAGE.glob("*.onnx")), pkg)
    with pytest.raises(recover.RecoveryError, match="found depthwise taps for 5 blocks; the reader has 6"):
        recover.from_package(pkg)

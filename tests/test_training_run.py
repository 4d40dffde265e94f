"""End-to-end training on real photos: learning, exact resume, export and install."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from clippo_desktop.training import checkpoint as ckpt
from clippo_desktop.training.config import TrainConfig
from clippo_desktop.training.train import main, train

N_PHOTOS = 16


@pytest.fixture(scope="module")
def photo_folder(shared_dir, tmp_path_factory):
    """16 COCO photos with their first caption as `photo.jpg.txt` sidecars (copied into tmp)."""
    coco = shared_dir / "data" / "coco-mini"
    ann = json.loads((coco / "annotations" / "captions_train2017.json").read_text())
    first: dict[int, str] = {}
    for a in ann["annotations"]:
        first.setdefault(a["image_id"], a["caption"].strip())
    folder = tmp_path_factory.mktemp("photos")
    for im in ann["images"][:N_PHOTOS]:
        with Image.open(coco / "train2017" / im["file_name"]) as photo:  # smaller copy: faster decoding
            photo.convert("RGB").resize((256, 256)).save(folder / im["file_name"], quality=90)
        (folder / f"{im['file_name']}.txt").write_text(first[im["id"]], "utf-8")
    return folder


def _cfg(photos, out, **kw) -> TrainConfig:
    base = dict(init="mu/32", data=[f"captions:{photos}"], out=str(out), steps=20, batch_size=16,
                lr=1e-3, schedule="const", warmup_steps=5, num_workers=0, device="cpu", val_fraction=0.0,
                log_every=10, ckpt_every=0, seed=0, torch_threads=1)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained_run(photo_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = train(_cfg(photo_folder, out), quiet=True)
    return out, result


def _records(run_dir, event):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


def test_a_short_run_on_captioned_photos_lowers_the_loss_and_improves_recall(trained_run):
    run_dir, result = trained_run
    train_logs = _records(run_dir, "train")
    evals = _records(run_dir, "eval")
    assert train_logs[-1]["loss"] < 0.5 * train_logs[0]["loss"]
    before, after = evals[0], evals[-1]
    assert before["when"] == "before" and after["when"] == "after" and after["split"] == "train"
    assert after["t2i_r1"] >= before["t2i_r1"] + 0.25 and after["i2t_r1"] >= before["i2t_r1"] + 0.25
    assert after["i2t_r5"] >= before["i2t_r5"]
    assert all(0 <= r["data_wait_share"] <= 1 and r["samples_per_s"] > 0 for r in train_logs)
    assert result["step"] == 20


def test_resuming_from_a_checkpoint_continues_bit_identically(photo_folder, tmp_path):
    kw = dict(steps=4, batch_size=4, optimizer="adafactor", schedule="cosine", warmup_steps=1, augment=True,
              ckpt_every=2, keep_last=5, val_max=4)
    full = tmp_path / "full"
    train(_cfg(photo_folder, full, **kw), quiet=True)
    steps = [p.name for p in ckpt.list_checkpoints(full)]
    assert steps == ["step_00000002.pt", "step_00000004.pt"]
    # A job preempted right after its step-2 checkpoint: only that checkpoint survives.
    cut = tmp_path / "cut"
    (cut / "checkpoints").mkdir(parents=True)
    shutil.copy(full / "checkpoints" / steps[0], cut / "checkpoints" / steps[0])
    train(_cfg(photo_folder, cut, **kw), resume=True, quiet=True)
    a = ckpt.load_checkpoint(full / "checkpoints" / steps[1])
    b = ckpt.load_checkpoint(cut / "checkpoints" / steps[1])
    assert a["step"] == b["step"] == 4
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    mid = ckpt.load_checkpoint(full / "checkpoints" / steps[0])
    assert any(not torch.equal(mid["model"][n], a["model"][n]) for n in a["model"])  # it did train


def test_keep_last_prunes_old_checkpoints(tmp_path):
    for step in range(1, 5):
        ckpt.save_checkpoint(tmp_path, {"step": step}, step, keep_last=2)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step_00000003.pt", "step_00000004.pt"]
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def test_exported_package_gives_the_embeddings_of_the_pytorch_model_and_installs(trained_run, tmp_path):
    from clippo_desktop.engine.encoder import Encoder
    from clippo_desktop.engine.models import ModelRegistry
    from clippo_desktop.engine.render import render_texts
    from clippo_desktop.training.data import to_model_input
    from clippo_desktop.training.export import export_run, load_run_tower
    from clippo_desktop.training.weights import resolve_init

    run_dir, _ = trained_run
    package = export_run(run_dir)
    assert package == run_dir / "package"
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["metrics"]["i2t_r1"] >= 0 and "mu/32" in manifest["provenance"]["source"]
    tower, _ = load_run_tower(run_dir)
    pixels = render_texts(["a dog on a beach", "zwei Katzen", "IMG_0001.JPG"])  # (3, S, S, 3) uint8
    with torch.no_grad():
        want = tower(to_model_input(torch.from_numpy(pixels), torch.device("cpu"))).numpy()
    got = Encoder(package / "model.onnx").encode(pixels)
    np.testing.assert_allclose(got, want, atol=1e-5)
    installed = ModelRegistry(tmp_path / "data").install_package(package, "my-finetune")
    assert installed.name == "my-finetune"
    again = resolve_init(str(installed.path))  # fine-tune the installed package again
    assert again.arch == tower.arch
    np.testing.assert_array_equal(again.params["t"], tower.bigvision_params()["t"])


def test_smoke_cli_runs_a_few_cpu_steps(photo_folder, tmp_path, capsys):
    assert main(["--smoke", "--steps", "2", "--data", f"captions:{photo_folder}", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "event train step 2" in out and (tmp_path / "r" / "config.json").is_file()
    assert main(["--smoke", "--data", "nonsense", "--out", str(tmp_path / "x")]) == 2

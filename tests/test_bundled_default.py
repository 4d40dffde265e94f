"""A fresh install with a bundled default model works with no download and no --model.

The bundle is a temporary folder (CLIPPO_DESKTOP_BUNDLED_MODELS, set by the `bundled_dir`
fixture) holding a tiny prebuilt ONNX package 'lite' whose manifest says is_default; the real
resources/models is never read or written, so these pass whether or not a model ships there.
"""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from clippo_desktop.engine.model_package import probe_images
from clippo_desktop.engine.models import ModelRegistry
from clippo_desktop.engine.paths import BUNDLED_MODELS_ENV, resources_dir
from tests.library_fixtures import run_cli
from tests.onnx_fixtures import bundled_dir, lite_package, onnx_package  # noqa: F401


def cli(*args, data_dir):
    return run_cli("--data-dir", str(data_dir), *args)


def test_without_the_override_bundled_models_come_from_the_installed_resources(tmp_path, monkeypatch):
    monkeypatch.delenv(BUNDLED_MODELS_ENV, raising=False)
    assert ModelRegistry(tmp_path).bundled_dir == resources_dir() / "models"
    monkeypatch.setenv(BUNDLED_MODELS_ENV, str(tmp_path / "elsewhere"))
    assert ModelRegistry(tmp_path).bundled_dir == (tmp_path / "elsewhere").resolve()


def test_embed_without_a_model_uses_the_bundled_default(bundled_dir, tmp_path):  # noqa: F811
    out = cli("embed", "--text", "Hund im Schnee", data_dir=tmp_path / "fresh")
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    assert doc["model"] == "lite" and doc["dim"] == 16
    z = np.array(doc["items"][0]["embedding"])
    assert abs(np.linalg.norm(z) - 1) < 1e-5


def test_index_and_search_on_a_fresh_machine_use_the_bundled_default(bundled_dir, tmp_path):  # noqa: F811
    photos = tmp_path / "Pictures"
    photos.mkdir()
    for i, pixels in enumerate(probe_images(256, 4, seed=2)):
        Image.fromarray(pixels).save(photos / f"IMG_{i:04d}.jpg", quality=90)
    data = tmp_path / "fresh"
    out = cli("--index", str(photos), "--json", data_dir=data)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout)["indexed"] == 4
    out = cli("search", "a dog in the snow", "--json", data_dir=data)
    assert out.returncode == 0, out.stderr.decode()
    results = json.loads(out.stdout)["results"]
    assert len(results) == 4 and {r["path"] for r in results} == {str(p) for p in photos.iterdir()}
    status = json.loads(cli("status", "--json", data_dir=data).stdout)
    assert "lite" in json.dumps(status)
    assert not (data / "models").exists() or not any((data / "models").iterdir())  # nothing copied


def test_model_list_marks_the_bundled_default_and_remove_refuses_it(bundled_dir, tmp_path):  # noqa: F811
    data = tmp_path / "fresh"
    rows = json.loads(cli("model", "list", "--json", data_dir=data).stdout)["models"]
    assert [(r["name"], r["default"], r["bundled"], r["kind"], r["grid"]) for r in rows] == [
        ("lite", True, True, "onnx", 7)]
    assert "width" not in rows[0]
    text = cli("model", "list", data_dir=data).stdout.decode()
    assert text.startswith("* lite ") and "ONNX 7x7" in text and "bundled" in text
    info = json.loads(cli("model", "info", "lite", data_dir=data).stdout)
    assert info["bundled"] is True and info["architecture"]["kind"] == "onnx"
    assert "weights.npz" not in info["files"] and info["size_bytes"] > 0
    out = cli("model", "remove", "lite", data_dir=data)
    assert out.returncode == 2
    assert b"'lite' is bundled with the app and cannot be removed" in out.stderr
    assert b"clippo-desktop model default NAME" in out.stderr
    assert (bundled_dir / "lite" / "manifest.json").is_file()


def test_a_newly_installed_model_says_how_to_replace_the_bundled_default(bundled_dir, tmp_path):  # noqa: F811
    onnx_package(tmp_path / "pkg" / "mine", "mine", seed=5)
    data = tmp_path / "fresh"
    out = cli("model", "install", str(tmp_path / "pkg" / "mine"), data_dir=data)
    assert out.returncode == 0, out.stderr.decode()
    assert b"The default model is still 'lite'; to use this one: clippo-desktop model default mine" in out.stdout
    assert cli("model", "default", "mine", data_dir=data).returncode == 0
    rows = json.loads(cli("model", "list", "--json", data_dir=data).stdout)["models"]
    assert {r["name"]: r["default"] for r in rows} == {"mine": True, "lite": False}

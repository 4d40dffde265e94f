"""The model commands as a user types them: import, list, info, embed, render, fetch, remove."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.httpserver import FileServer
from tests.library_fixtures import *  # noqa: F401,F403
from tests.library_fixtures import run_cli


def test_embed_prints_golden_embeddings_for_texts_and_photos_in_argument_order(data_dir, golden, tmp_path):
    photo = tmp_path / "astronaut.png"
    photo.write_bytes(golden["photo0_file_bytes"].tobytes())
    texts = [str(t) for t in golden["texts"][:2]]
    out = run_cli("--data-dir", str(data_dir), "embed", "--model", "golden", "--variant", "fp32",
                  "--text", texts[0], "--image", str(photo), "--text", texts[1],
                  "--preprocess", "exact", "--json")
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    assert doc["model"] == "golden" and doc["dim"] == 768
    assert [(i["kind"], i["input"]) for i in doc["items"]] == [
        ("text", texts[0]), ("image", str(photo)), ("text", texts[1])]
    z = np.array([i["embedding"] for i in doc["items"]], np.float32)  # (3, 768)
    np.testing.assert_allclose(z[0], golden["ztxt"][0], atol=1e-6)
    np.testing.assert_allclose(z[1], golden["zimg"][0], atol=1e-6)
    np.testing.assert_allclose(z[2], golden["ztxt"][1], atol=1e-6)


def test_embed_without_inputs_or_with_a_broken_photo_says_what_to_do(data_dir, tmp_path):
    out = run_cli("--data-dir", str(data_dir), "embed", "--json")
    assert out.returncode == 2 and b"Give at least one --text T or --image PATH" in out.stderr
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    out = run_cli("--data-dir", str(data_dir), "embed", "--image", str(bad))
    assert out.returncode == 1 and out.stderr.startswith(b"clippo-desktop: error: ")
    assert b"broken.jpg" in out.stderr


def test_render_writes_the_exact_image_the_model_sees(golden, tmp_path):
    out = run_cli("render", str(golden["texts"][0]), "--out", str(tmp_path / "q.png"))
    assert out.returncode == 0, out.stderr.decode()
    pixels = np.asarray(Image.open(tmp_path / "q.png"))
    assert pixels.shape == (224, 224, 3)
    np.testing.assert_array_equal(pixels, golden["text_render_uint8"][0])


def test_list_info_default_and_remove(data_dir):
    listing = json.loads(run_cli("--data-dir", str(data_dir), "model", "list", "--json").stdout)
    assert [(m["name"], m["default"], m["bundled"]) for m in listing["models"]] == [("golden", True, False)]
    info = json.loads(run_cli("--data-dir", str(data_dir), "model", "info", "golden").stdout)
    assert info["architecture"]["width"] == 96 and info["embedding_dim"] == 768
    assert info["renderer"]["font_sha256"]["unifont-9.0.06.hex"].startswith("099d8f0c")
    assert set(info["files"]) == {"model.onnx", "model.int8.onnx", "weights.npz"}
    assert info["provenance"]["source_sha256"]
    out = run_cli("--data-dir", str(data_dir), "model", "remove", "golden")
    assert out.returncode == 0
    out = run_cli("--data-dir", str(data_dir), "model", "info", "golden")
    assert out.returncode == 1 and b"No model named 'golden' is installed" in out.stderr


def test_importing_a_corrupt_checkpoint_fails_clearly_and_installs_nothing(golden_params_path, tmp_path):
    bad = tmp_path / "cut.npz"
    bad.write_bytes(golden_params_path.read_bytes()[:300_000])
    data = tmp_path / "data"
    out = run_cli("--data-dir", str(data), "model", "import", str(bad), "--name", "cut")
    assert out.returncode == 1 and b"cut.npz" in out.stderr
    assert not (data / "models" / "cut").exists()
    assert [p.name for p in (data / "models").iterdir()] == [] if (data / "models").exists() else True


def test_fetch_downloads_over_a_dropped_connection_then_imports(golden_params_path, tmp_path):
    src = tmp_path / "srv" / "clippo_b16_100c4.npz"
    src.parent.mkdir()
    shutil.copy(golden_params_path, src)
    data = tmp_path / "data"
    with FileServer(src, drop_after=4_000_000) as server:
        out = run_cli("--data-dir", str(data), "model", "fetch", "clippo_b16_100c4", "--url", server.url)
        ranges = [r["range"] for r in server.requests]
    assert out.returncode == 0, out.stderr.decode()
    assert ranges == [None, "bytes=4000000-"]
    listing = json.loads(run_cli("--data-dir", str(data), "model", "list", "--json").stdout)
    assert [m["name"] for m in listing["models"]] == ["clippo_b16_100c4"]
    assert not list((data / "downloads").glob("*"))  # the download is removed after import


def test_fetch_of_an_unknown_name_is_a_usage_error():
    out = run_cli("--data-dir", "/nonexistent-data-dir", "model", "fetch", "clippo_b16_nope")
    assert out.returncode == 2 and b"not an official CLIPPO checkpoint" in out.stderr

"""Prebuilt ONNX graphs as model packages: the `onnx` architecture kind, packaging, install, use."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from clippo_desktop.engine.architecture import OnnxArch, ViTArch, architecture_from_dict
from clippo_desktop.engine.errors import CheckpointError, ModelIntegrityError, UsageError
from clippo_desktop.engine.manifest import Manifest
from clippo_desktop.engine.model_package import build_package_from_onnx, probe_images
from clippo_desktop.engine.models import ModelRegistry
from clippo_desktop.engine.render import RendererSettings
from tests.onnx_fixtures import contract_graph, onnx_package


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "data", bundled_dir=tmp_path / "bundled")


def write_photos(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, pixels in enumerate(probe_images(300, n, seed=1)):
        paths.append(folder / f"p{i}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def package_kwargs(**over):
    kw = dict(name="lite", embed_dim=16, image_size=224, num_patches=49, gflops=0.01,
              provenance={"source": "test"}, license="CC0-1.0", metrics={"q": 1.0},
              description="tiny", progress=lambda _m: None)
    kw.update(over)
    return kw


def test_a_manifest_without_a_kind_is_a_vit_and_an_onnx_architecture_round_trips():
    vit = ViTArch.from_variant("Ti/16")
    assert "kind" not in vit.to_dict() and architecture_from_dict(vit.to_dict()) == vit
    lite = OnnxArch(embed_dim=512, num_patches=49, gflops=1.2, description="CLIPPO-Lite")
    assert lite.to_dict()["kind"] == "onnx" and architecture_from_dict(lite.to_dict()) == lite
    assert lite.grid == 7 and lite.gflops_per_image() == 1.2 and not lite.fine_tunable


@pytest.mark.parametrize("bad, message", [
    ({"kind": "cnn"}, "unknown architecture kind 'cnn'"),
    ({"kind": "onnx", "num_patches": 50}, "not a square grid"),
    ({"kind": "onnx", "embed_dim": 0}, "positive integer"),
    ({"kind": "onnx", "width": 768}, "unknown architecture fields"),
])
def test_a_bad_architecture_in_a_manifest_is_refused_by_name(tmp_path, bad, message):
    onnx_package(tmp_path / "p", "p")
    raw = json.loads((tmp_path / "p/manifest.json").read_text())
    raw["architecture"] = bad
    (tmp_path / "p/manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelIntegrityError, match=message):
        Manifest.load(tmp_path / "p")


def test_a_packaged_graph_installs_and_embeds_texts_and_photos_as_unit_vectors(registry, tmp_path):
    made = onnx_package(tmp_path / "src" / "lite", "lite")
    assert set(made.files) <= {"model.onnx", "model.int8.onnx"}  # no weights.npz for this kind
    assert made.architecture == OnnxArch(224, 16, 49, 0.01, "tiny contract graph for tests")
    assert made.renderer["settings"] == RendererSettings().to_dict() and made.preprocess == "default"
    model = registry.install_package(tmp_path / "src" / "lite")
    assert Manifest.load(model.path) == made
    z_text = model.encode_texts(["Hund im Schnee", "地铁站的猫"])            # (2, 16)
    z_photo = model.encode_photos(write_photos(tmp_path / "photos"))     # (3, 16)
    for z, n in ((z_text, 2), (z_photo, 3)):
        assert z.shape == (n, 16) and z.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(z_photo[0], z_photo[1])


def test_a_changed_graph_is_caught_by_its_checksum_at_install_and_at_load(registry, tmp_path):
    onnx_package(tmp_path / "src" / "lite", "lite")
    model = registry.install_package(tmp_path / "src" / "lite")
    onnx_file = model.onnx_path()
    onnx_file.write_bytes(onnx_file.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelIntegrityError, match="does not match its checksum"):
        model.encoder()
    src = tmp_path / "src" / "lite" / "model.onnx"
    src.write_bytes(src.read_bytes() + b"\0")
    with pytest.raises(ModelIntegrityError, match="does not match its checksum"):
        registry.install_package(tmp_path / "src" / "lite", "again")


def test_int8_is_the_default_only_when_it_stays_close_to_fp32(tmp_path, monkeypatch):
    good = onnx_package(tmp_path / "auto", "auto")
    assert good.default_variant == "int8" and good.int8_cosine >= 0.99
    fp32_only = onnx_package(tmp_path / "none", "none", int8=False)
    assert fp32_only.default_variant == "fp32" and set(fp32_only.files) == {"model.onnx"}
    assert fp32_only.int8_cosine is None
    # A bar no quantised graph can reach: "auto" drops the int8 file, True keeps it as an option.
    monkeypatch.setattr("clippo_desktop.engine.model_package.INT8_MIN_COSINE", 1.5)
    dropped = onnx_package(tmp_path / "dropped", "dropped", int8="auto")
    assert dropped.default_variant == "fp32" and set(dropped.files) == {"model.onnx"}
    assert not (tmp_path / "dropped" / "model.int8.onnx").exists()
    kept = onnx_package(tmp_path / "kept", "kept", int8=True)
    assert kept.default_variant == "fp32" and set(kept.files) == {"model.onnx", "model.int8.onnx"}
    # int8_only never drops fp32 for an int8 file that failed the check.
    failed = onnx_package(tmp_path / "failed", "failed", int8=True, int8_only=True)
    assert failed.default_variant == "fp32" and "model.onnx" in failed.files


def test_an_int8_only_package_ships_just_the_int8_graph_and_still_loads(tmp_path):
    small = onnx_package(tmp_path / "small", "small", int8="auto", int8_only=True)
    assert small.default_variant == "int8" and set(small.files) == {"model.int8.onnx"}
    assert sorted(p.name for p in (tmp_path / "small").iterdir()) == ["manifest.json", "model.int8.onnx"]
    model = ModelRegistry(tmp_path / "data", bundled_dir=tmp_path).get("small")
    z = model.encode_texts(["Hund im Schnee"])
    assert z.shape == (1, 16) and abs(float(np.linalg.norm(z)) - 1) < 1e-4


@pytest.mark.parametrize("graph_kw, package_kw, message", [
    ({"embed_dim": 8}, {}, r"expected \(16,\)"),
    ({"grid": 8}, {}, r"expected \(16,\) and \(49,\)"),
    ({"normalise": False}, {}, "L2-normalised"),
    ({}, {"image_size": 256}, r"takes pixels of shape \['batch', 224, 224, 3\]"),
])
def test_a_graph_that_breaks_the_encoder_contract_is_refused_and_leaves_nothing(tmp_path, graph_kw,
                                                                               package_kw, message):
    graph = contract_graph(tmp_path / "g.onnx", **{"embed_dim": 16, **graph_kw})
    kw = package_kwargs(**package_kw)
    if "image_size" in package_kw:
        kw["renderer"] = RendererSettings(image_size=package_kw["image_size"])
    with pytest.raises(CheckpointError, match=message):
        build_package_from_onnx(graph, tmp_path / "out", **kw)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx"]


def test_the_renderer_must_draw_at_the_models_input_size(tmp_path):
    graph = contract_graph(tmp_path / "g.onnx", embed_dim=16)
    with pytest.raises(UsageError, match="renderer draws 64 px"):
        build_package_from_onnx(graph, tmp_path / "out", renderer=RendererSettings(image_size=64),
                                **package_kwargs())


def test_rebuilding_replaces_a_package_but_never_an_unrelated_folder(tmp_path):
    onnx_package(tmp_path / "lite", "lite", seed=0)
    first = Manifest.load(tmp_path / "lite").files["model.onnx"].sha256
    onnx_package(tmp_path / "lite", "lite", seed=1)
    assert Manifest.load(tmp_path / "lite").files["model.onnx"].sha256 != first
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "keep.jpg").write_bytes(b"x")
    with pytest.raises(UsageError, match="not a model package"):
        onnx_package(tmp_path / "photos", "lite")
    assert (tmp_path / "photos" / "keep.jpg").read_bytes() == b"x"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

"""Model packages: manifests are validated, installs are atomic, names cannot escape the folder."""

from __future__ import annotations

import json
import os

import pytest

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.engine.errors import (ModelExistsError, ModelIntegrityError, ModelNotFoundError,
                                          UsageError)
from clippo_desktop.engine.manifest import Manifest, file_entries
from clippo_desktop.engine.models import ModelRegistry


def make_package(folder, name="tiny", **overrides):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(b"fp32 graph bytes")
    (folder / "model.int8.onnx").write_bytes(b"int8 graph bytes")
    fields = dict(name=name, architecture=ViTArch.from_variant("mu/16"), embedding_dim=768, temperature=10.0,
                  renderer={"settings": {}, "version": 1}, preprocess="default",
                  files=file_entries(folder, ["model.onnx", "model.int8.onnx"]), default_variant="int8")
    fields.update(overrides)
    manifest = Manifest(**fields)
    manifest.save(folder)
    return manifest


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(tmp_path / "data", bundled_dir=tmp_path / "bundled")


def test_a_manifest_round_trips_through_json(tmp_path):
    made = make_package(tmp_path / "p")
    assert Manifest.load(tmp_path / "p") == made


def test_an_unknown_preprocessing_mode_is_refused_by_name(tmp_path):
    make_package(tmp_path / "p")
    raw = json.loads((tmp_path / "p/manifest.json").read_text())
    raw["preprocess"] = "center-crop-imagenet"
    (tmp_path / "p/manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelIntegrityError, match="'center-crop-imagenet'"):
        Manifest.load(tmp_path / "p")


@pytest.mark.parametrize("bad", ["../evil.onnx", "/etc/passwd", "a/b.onnx", "..", ".hidden"])
def test_manifest_file_names_cannot_escape_the_model_folder(tmp_path, bad):
    make_package(tmp_path / "p")
    raw = json.loads((tmp_path / "p/manifest.json").read_text())
    raw["files"][bad] = {"sha256": "0" * 64, "bytes": 1}
    (tmp_path / "p/manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ModelIntegrityError, match="unsafe file name"):
        Manifest.load(tmp_path / "p")


@pytest.mark.parametrize("bad", ["../x", "/abs", "a/b", "", ".hidden", "x" * 65, "..", "a..b"])
def test_model_names_that_could_escape_are_refused(registry, tmp_path, bad):
    make_package(tmp_path / "p")
    with pytest.raises(UsageError, match="not a valid model name"):
        registry.install_package(tmp_path / "p", bad)


def test_installing_copies_verifies_and_lists_the_model(registry, tmp_path):
    make_package(tmp_path / "p")
    model = registry.install_package(tmp_path / "p", "mine")
    assert model.name == "mine" and model.path == (registry.models_dir / "mine").resolve()
    assert [m.name for m in registry.list()] == ["mine"]
    assert registry.default().name == "mine"
    assert (tmp_path / "p/model.onnx").exists()  # the source is left alone


def test_a_damaged_file_is_refused_and_nothing_is_half_installed(registry, tmp_path):
    make_package(tmp_path / "p")
    (tmp_path / "p/model.int8.onnx").write_bytes(b"int8 graph bytez")  # same size, other bytes
    with pytest.raises(ModelIntegrityError, match="does not match its checksum"):
        registry.install_package(tmp_path / "p", "mine")
    assert registry.list() == []
    assert not any(registry.models_dir.iterdir()) if registry.models_dir.exists() else True


def test_a_model_file_changed_after_install_is_refused_when_loading(registry, tmp_path):
    make_package(tmp_path / "p")
    model = registry.install_package(tmp_path / "p", "mine")
    (model.path / "model.int8.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelIntegrityError, match="model remove mine"):
        model.encoder()


def test_installing_over_an_existing_name_needs_replace(registry, tmp_path):
    make_package(tmp_path / "p")
    registry.install_package(tmp_path / "p", "mine")
    with pytest.raises(ModelExistsError, match="already installed"):
        registry.install_package(tmp_path / "p", "mine")
    registry.install_package(tmp_path / "p", "mine", replace=True)
    assert [m.name for m in registry.list()] == ["mine"]


def test_removing_deletes_the_folder_and_unknown_names_say_what_exists(registry, tmp_path):
    make_package(tmp_path / "p")
    registry.install_package(tmp_path / "p", "mine")
    registry.remove("mine")
    assert not (registry.models_dir / "mine").exists()
    with pytest.raises(ModelNotFoundError, match="installed: none"):
        registry.get("mine")
    with pytest.raises(ModelNotFoundError, match="model import"):
        registry.default()


def test_bundled_models_are_listed_marked_default_and_cannot_be_removed(registry, tmp_path):
    make_package(registry.bundled_dir / "lite", name="lite", is_default=True)
    make_package(tmp_path / "p")
    registry.install_package(tmp_path / "p", "mine")
    names = {m.name: m.bundled for m in registry.list()}
    assert names == {"mine": False, "lite": True}
    assert registry.default().name == "lite"
    with pytest.raises(UsageError, match="bundled"):
        registry.remove("lite")
    registry.set_default("mine")
    assert registry.default().name == "mine"


def test_a_symlinked_model_folder_is_ignored(registry, tmp_path):
    make_package(tmp_path / "outside", name="outside")
    registry.models_dir.mkdir(parents=True)
    os.symlink(tmp_path / "outside", registry.models_dir / "outside")
    assert registry.list() == []
    with pytest.raises(ModelNotFoundError):
        registry.get("outside")


def test_leftover_staging_folders_from_a_crash_are_cleaned(registry):
    stale = registry.staging_dir()
    (stale / "model.onnx").write_bytes(b"half")
    registry.clean_stale()
    assert not stale.exists()

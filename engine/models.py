"""The model registry: installed and bundled model packages, and the active default.

Installed models live in `<data dir>/models/<name>/`; bundled ones ship read-only in
`resources/models/` (`$CLIPPO_DESKTOP_BUNDLED_MODELS` overrides it, see paths.py), and a bundled
manifest with `is_default` is the active model of a fresh install, with no download.
Installing copies into a hidden temp folder, verifies every checksum, then renames it into place,
so a crash or a bad file never leaves a half-installed model. Names are restricted so a model
name can never escape the models folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import write_text_atomic
from .errors import (ModelExistsError, ModelIntegrityError, ModelNotFoundError, ReadOnlyError,
                     UsageError)
from .manifest import Manifest
from .paths import bundled_models_dir

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SETTINGS_FILE = "settings.json"


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise UsageError(f"{name!r} is not a valid model name.",
                         "Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.")
    return name


@dataclass
class InstalledModel:
    """A model package on disk. Loading its encoder verifies the ONNX file's checksum."""

    path: Path
    manifest: Manifest
    bundled: bool = False
    _encoders: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def dim(self) -> int:
        return self.manifest.embedding_dim

    def onnx_path(self, variant: str | None = None) -> Path:
        return self.path / self.manifest.variant_file(variant)

    def model_id(self, variant: str | None = None) -> str:
        """Stable id for the catalog: embeddings from different ids are never mixed."""
        fname = self.manifest.variant_file(variant)
        return f"{self.name}:{fname}:{self.manifest.files[fname].sha256[:16]}"

    @property
    def renderer_version(self) -> int:
        return int(self.manifest.renderer.get("version", 1))

    def encoder(self, variant: str | None = None, **kwargs):
        """The (cached) Encoder for a variant; its file is checked against the manifest first."""
        fname = self.manifest.variant_file(variant)
        key = (fname, tuple(sorted(kwargs.items())))
        with self._lock:
            if key not in self._encoders:
                self.manifest.verify_file(self.path, fname)
                from .encoder import Encoder

                self._encoders[key] = Encoder(self.path / fname, **kwargs)
            return self._encoders[key]

    def renderer_settings(self):
        from .render import RendererSettings

        return RendererSettings.from_dict(self.manifest.renderer["settings"])

    def render_texts(self, texts: list[str]) -> np.ndarray:
        from .render import render_texts

        return render_texts(texts, self.renderer_settings())  # (N, S, S, 3) uint8

    def encode_texts(self, texts: list[str], variant: str | None = None) -> np.ndarray:
        """Render each text with the model's renderer and embed it: (N, E) float32."""
        return self.encoder(variant).encode(self.render_texts(list(texts)))

    def encode_photos(self, paths, variant: str | None = None) -> np.ndarray:
        """Decode photos with the model's preprocessing and embed them: (N, E) float32."""
        from .imageio import read_photo

        size = self.manifest.architecture.image_size
        pixels = [read_photo(p, mode=self.manifest.preprocess, size=size).pixels for p in paths]
        batch = np.stack(pixels) if pixels else np.zeros((0, size, size, 3), np.uint8)
        return self.encoder(variant).encode(batch)

    def unload(self) -> None:
        with self._lock:
            for enc in self._encoders.values():
                enc.unload()
            self._encoders.clear()


class ModelRegistry:
    def __init__(self, data_dir: Path, bundled_dir: Path | None = None):
        self.data_dir = Path(data_dir)
        self.models_dir = self.data_dir / "models"
        self.bundled_dir = Path(bundled_dir) if bundled_dir else bundled_models_dir()
        self._cache: dict[Path, InstalledModel] = {}

    # -- listing -----------------------------------------------------------------------------
    def _load(self, folder: Path, bundled: bool) -> InstalledModel:
        folder = folder.resolve()
        if folder not in self._cache:
            self._cache[folder] = InstalledModel(folder, Manifest.load(folder), bundled=bundled)
        return self._cache[folder]

    def _candidates(self):
        for base, bundled in ((self.models_dir, False), (self.bundled_dir, True)):
            if not base.is_dir():
                continue
            for child in sorted(base.iterdir()):
                if child.name.startswith(".") or child.is_symlink() or not child.is_dir():
                    continue
                if (child / "manifest.json").is_file():
                    yield child, bundled

    def list(self) -> list[InstalledModel]:
        """Installed models first, then bundled ones not shadowed by an installed name."""
        seen, out = set(), []
        for folder, bundled in self._candidates():
            try:
                model = self._load(folder, bundled)
            except ModelIntegrityError as exc:
                log.warning("skipping broken model package %s: %s", folder, exc)
                continue
            if model.name not in seen:
                seen.add(model.name)
                out.append(model)
        return out

    def get(self, name: str) -> InstalledModel:
        check_model_name(name)
        for folder in (self.models_dir / name, self.bundled_dir / name):
            if folder.is_dir() and not folder.is_symlink():
                return self._load(folder, bundled=folder.parent == self.bundled_dir)
        have = ", ".join(m.name for m in self.list()) or "none"
        raise ModelNotFoundError(f"No model named {name!r} is installed (installed: {have}).",
                                 "See `clippo-desktop model list`, or import one with "
                                 "`clippo-desktop model import FILE.npz --name NAME`.")

    # -- default -----------------------------------------------------------------------------
    def _settings(self) -> dict:
        try:
            return json.loads((self.data_dir / SETTINGS_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def set_default(self, name: str) -> None:
        self.get(name)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        settings = self._settings()
        settings["default_model"] = name
        write_text_atomic(self.data_dir / SETTINGS_FILE, json.dumps(settings, indent=1))

    def default(self) -> InstalledModel:
        """The user's chosen default, else a bundled default, else the only installed model."""
        chosen = self._settings().get("default_model")
        if chosen:
            try:
                return self.get(chosen)
            except (ModelNotFoundError, UsageError):
                log.warning("default model %r is gone; falling back", chosen)
        models = self.list()
        for m in models:
            if m.bundled and m.manifest.is_default:
                return m
        if models:
            return models[0]
        raise ModelNotFoundError("No model is installed yet.",
                                 "Import a CLIPPO checkpoint: `clippo-desktop model import FILE.npz "
                                 "--name NAME`, or download one: `clippo-desktop model fetch "
                                 "clippo_b16_yfcc100m_i21k_init`.")

    # -- install / remove --------------------------------------------------------------------
    def staging_dir(self) -> Path:
        """A fresh hidden folder on the same filesystem, for building a package before install."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        path = self.models_dir / f".staging-{uuid.uuid4().hex[:12]}"
        path.mkdir()
        return path

    def install_package(self, src_dir: Path, name: str | None = None, *, move: bool = False,
                        replace: bool = False) -> InstalledModel:
        """Verify a package folder and move/copy it into place atomically."""
        src_dir = Path(src_dir)
        manifest = Manifest.load(src_dir)
        name = check_model_name(manifest.name if name is None else name)
        final = self.models_dir / name
        if final.exists() and not replace:
            raise ModelExistsError(f"A model named {name!r} is already installed.",
                                   f"Choose another --name, or remove it first: clippo-desktop model remove {name}.")
        manifest.verify_all(src_dir)
        staging = src_dir if move else self.staging_dir()
        try:
            if not move:
                for fname in [*manifest.files, "manifest.json"]:
                    shutil.copy2(src_dir / fname, staging / fname)
            if name != manifest.name:
                dataclasses.replace(manifest, name=name).save(staging)
            Manifest.load(staging).verify_all(staging)
            if final.exists():
                self._trash(final)
            os.replace(staging, final)
        except BaseException:
            if not move:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        self._cache.pop(final.resolve(), None)
        log.info("installed model %s at %s", name, final)
        return self.get(name)

    def record_metrics(self, name: str, metrics: dict) -> InstalledModel:
        """Merge `metrics` into a model's manifest (one atomic write). The ONNX files, and so
        the model id and every stored embedding, stay as they are. Bundled models are read-only."""
        model = self.get(name)
        if model.bundled:
            raise ReadOnlyError(f"{name!r} is bundled with the app, so its manifest is read-only; "
                                "the metrics were not recorded.",
                                "Keep them with --json FILE, or record them in the package before it is bundled.")
        merged = {**model.manifest.metrics, **metrics}
        dataclasses.replace(model.manifest, metrics=merged).save(model.path)
        self._cache.pop(model.path, None)
        return self.get(name)

    def remove(self, name: str) -> Path:
        model = self.get(name)
        if model.bundled:
            raise UsageError(f"{name!r} is bundled with the app and cannot be removed.",
                             "Choose another default with `clippo-desktop model default NAME` instead.")
        model.unload()
        self._cache.pop(model.path, None)
        self._trash(model.path)
        return model.path

    def _trash(self, folder: Path) -> None:
        trash = folder.parent / f".trash-{folder.name}-{uuid.uuid4().hex[:8]}"
        os.replace(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def clean_stale(self) -> None:
        """Remove staging/trash folders left by a crash."""
        if self.models_dir.is_dir():
            for child in self.models_dir.iterdir():
                if child.name.startswith((".staging-", ".trash-")):
                    shutil.rmtree(child, ignore_errors=True)

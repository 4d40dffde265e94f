"""Where a run's starting weights come from (`--init MODEL`).

MODEL may be: a ViT variant ("Ti/16", "mu/32", "B/16") for a random init; a big_vision
checkpoint or canonical `weights.npz` path (read by `engine.npz_reader`, never unpickled); a
model package folder (manifest.json + weights.npz); or the name of an installed model (its
package folder in the data directory). A package also supplies the preprocessing mode and
prompt templates, which fine-tuning keeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clippo_desktop.engine.architecture import VARIANTS, ViTArch
from clippo_desktop.engine.errors import ModelNotFoundError, NotFineTunableError, UsageError

WEIGHTS_FILE = "weights.npz"


@dataclass
class InitSpec:
    arch: ViTArch
    params: dict[str, np.ndarray] | None  # None: random init
    source: str
    preprocess: str | None = None  # None: not set by the source (the config decides)
    prompt_templates: list[str] = field(default_factory=list)
    license: str = ""


def _is_variant(spec: str) -> bool:
    name, sep, patch = spec.partition("/")
    return name in VARIANTS and (not sep or patch.isdigit())


def read_weights_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {(k[len("params/"):] if k.startswith("params/") else k): np.asarray(f[k], np.float32)
                for k in f.files if not k.startswith(("opt/", "chrono/"))}


def _from_package(folder: Path) -> InitSpec:
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    kind = manifest.get("architecture", {}).get("kind", "vit")
    if kind != ViTArch.kind:
        raise NotFineTunableError(
            f"Model {manifest.get('name', folder.name)!r} ({folder}) is a prebuilt ONNX model without "
            "canonical weights, so it cannot be fine-tuned.",
            "Fine-tune a ViT model instead: --init Ti/16 (random), a big_vision .npz, or a model "
            "imported with `clippo-desktop model import`.")
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise UsageError(f"Model package {folder} has no {WEIGHTS_FILE}, so it cannot be fine-tuned.",
                         "Re-import the model from its big_vision .npz with `clippo-desktop model import`.")
    return InitSpec(ViTArch.from_dict(manifest["architecture"]), read_weights_npz(weights), str(folder),
                    manifest.get("preprocess", "default"), list(manifest.get("prompt_templates", [])),
                    manifest.get("license", ""))


def resolve_init(spec: str, data_dir: str | None = None) -> InitSpec:
    if _is_variant(spec):
        return InitSpec(ViTArch.from_variant(spec), None, f"random init {spec}")
    path = Path(spec)
    if path.is_dir() and (path / "manifest.json").is_file():
        return _from_package(path)
    if path.is_file() and path.suffix == ".npz":
        from clippo_desktop.engine.npz_reader import read_checkpoint

        ckpt = read_checkpoint(path)
        return InitSpec(ckpt.arch, ckpt.params, str(path), license="see the checkpoint's terms")
    try:
        from clippo_desktop.engine.models import ModelRegistry
        from clippo_desktop.engine.paths import resolve_data_dir

        model = ModelRegistry(resolve_data_dir(data_dir)).get(spec)
    except ModelNotFoundError as exc:
        raise UsageError(f"--init {spec!r} is not a variant (e.g. Ti/16), a .npz file, a package folder "
                         "or an installed model.", "List installed models with `clippo-desktop model list`.") from exc
    return _from_package(Path(model.path))

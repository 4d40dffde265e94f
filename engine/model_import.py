"""Turn a big_vision CLIPPO checkpoint (.npz) into an installed model package.

Steps: read and validate the checkpoint (never unpickling), build the fp32 ONNX graph from its
weights (no torch), quantise an int8 variant, measure the int8 variant's cosine to fp32 on probe
inputs and make it the default only when it stays >= 0.99 (model_package.py, shared with
prebuilt ONNX graphs), write the canonical weights for fine-tuning, write the manifest with
checksums and provenance, then install atomically.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
from pathlib import Path
import numpy as np

from clippo_desktop import __version__

from .manifest import INT8_MIN_COSINE, VARIANT_FILES, WEIGHTS_FILE, Manifest, file_entries
from .model_package import (PROBE_TEXTS, Progress, add_int8_variant, probe_images, probe_inputs,
                            renderer_manifest_entry)
from .models import InstalledModel, ModelRegistry, check_model_name

log = logging.getLogger(__name__)


def build_package(out_dir: Path, name: str, arch, params: dict[str, np.ndarray], temperature: float, *,
                  preprocess: str = "default", provenance: dict, license: str, metrics: dict | None = None,
                  description: str = "", progress: Progress = log.info) -> Manifest:
    """Write a complete package (ONNX fp32 + int8, weights, manifest) into `out_dir`."""
    import onnx

    from .onnx_graph import build_onnx

    out_dir = Path(out_dir)
    progress("building the ONNX graph")
    onnx.save(build_onnx(arch, params), str(out_dir / VARIANT_FILES["fp32"]))
    cosine = add_int8_variant(out_dir, probe_inputs(arch.image_size), progress)
    variant = "int8" if cosine >= INT8_MIN_COSINE else "fp32"
    progress(f"default variant {variant}")
    np.savez(out_dir / WEIGHTS_FILE, **{k: np.asarray(v, np.float32) for k, v in params.items()})
    names = [VARIANT_FILES["fp32"], VARIANT_FILES["int8"], WEIGHTS_FILE]
    manifest = Manifest(
        name=name, architecture=arch, embedding_dim=arch.embed_dim, temperature=float(temperature),
        renderer=renderer_manifest_entry(), preprocess=preprocess, files=file_entries(out_dir, names),
        default_variant=variant, int8_cosine=cosine, provenance=provenance, license=license,
        metrics=metrics or {}, description=description,
    )
    manifest.save(out_dir)
    return manifest


def import_checkpoint(path: Path, name: str, registry: ModelRegistry, *, replace: bool = False,
                      preprocess: str = "default", progress: Progress = log.info) -> InstalledModel:
    """Import a big_vision .npz checkpoint as model `name`. Nothing is installed on failure."""
    from .npz_reader import read_checkpoint

    check_model_name(name)
    path = Path(path)
    if not replace and (registry.models_dir / name).exists():
        from .errors import ModelExistsError

        raise ModelExistsError(f"A model named {name!r} is already installed.",
                               f"Choose another --name, or remove it first: clippo-desktop model remove {name}.")
    progress(f"reading {path}")
    ckpt = read_checkpoint(path)
    staging = registry.staging_dir()
    try:
        build_package(
            staging, name, ckpt.arch, ckpt.params, ckpt.temperature, preprocess=preprocess,
            provenance={"source": path.name, "source_sha256": ckpt.source_sha256,
                        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                        "tool": f"clippo-desktop {__version__} model import"},
            license="Apache-2.0 (big_vision CLIPPO checkpoints); check the checkpoint's own terms",
            description=f"Imported from {path.name}", progress=progress,
        )
        return registry.install_package(staging, name, move=True, replace=replace)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["PROBE_TEXTS", "build_package", "import_checkpoint", "probe_images", "renderer_manifest_entry"]

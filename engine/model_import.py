"""Turn a big_vision CLIPPO checkpoint (.npz) into an installed model package.

Steps: read and validate the checkpoint (never unpickling), build the fp32 ONNX graph from its
weights (no torch), quantise an int8 variant, measure the int8 variant's cosine to fp32 on probe
inputs and make it the default only when it stays >= 0.99, write the canonical weights for
fine-tuning, write the manifest with checksums and provenance, then install atomically.
"""

from __future__ import annotations

import datetime as _dt
import logging
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from clippo_desktop import __version__

from .manifest import (INT8_MIN_COSINE, VARIANT_FILES, WEIGHTS_FILE, Manifest, file_entries)
from .models import InstalledModel, ModelRegistry, check_model_name

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

# Texts in several scripts, used to check that int8 quantisation keeps the embeddings.
PROBE_TEXTS = (
    "a photo of a dog in the snow", "Hund im Schnee", "地铁站的猫", "夜の発射台のロケット",
    "кошка на подоконнике", "IMG_2041.JPG Zürich, Switzerland", "a red car parked on a street",
    "قطة على الأريكة",
)


def probe_images(size: int, n: int = 8, seed: int = 0) -> np.ndarray:
    """Smooth colour fields with edges: photo-like statistics without shipping photos. (n,S,S,3) uint8."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / size  # (S, S)
    for i in range(n):
        img = np.zeros((size, size, 3))
        for _ in range(6):
            fx, fy, ph = rng.uniform(0.5, 6, 2).tolist() + [rng.uniform(0, 6.3)]
            img += rng.uniform(-1, 1, 3) * np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)[..., None]
        img += 0.15 * rng.standard_normal(img.shape)
        img = (img - img.min()) / (np.ptp(img) + 1e-9)
        out[i] = (img * 255).astype(np.uint8)
    return out


def renderer_manifest_entry() -> dict:
    from .render import DEFAULT_SETTINGS, FONT_SHA256, RENDERER_VERSION

    return {"kind": "unifont", "font": "GNU Unifont 9.0.06", "settings": DEFAULT_SETTINGS.to_dict(),
            "font_sha256": dict(FONT_SHA256), "version": RENDERER_VERSION}


def build_package(out_dir: Path, name: str, arch, params: dict[str, np.ndarray], temperature: float, *,
                  preprocess: str = "default", provenance: dict, license: str, metrics: dict | None = None,
                  description: str = "", progress: Progress = log.info) -> Manifest:
    """Write a complete package (ONNX fp32 + int8, weights, manifest) into `out_dir`."""
    import onnx

    from .encoder import Encoder
    from .onnx_graph import build_onnx
    from .quantize import quantize_int8
    from .render import render_texts

    out_dir = Path(out_dir)
    progress("building the ONNX graph")
    onnx.save(build_onnx(arch, params), str(out_dir / VARIANT_FILES["fp32"]))
    progress("quantising the int8 variant")
    quantize_int8(out_dir / VARIANT_FILES["fp32"], out_dir / VARIANT_FILES["int8"])
    progress("checking int8 against fp32")
    probes = np.concatenate([probe_images(arch.image_size), render_texts(list(PROBE_TEXTS))])
    fp32 = Encoder(out_dir / VARIANT_FILES["fp32"]).encode(probes)  # (P, E)
    int8 = Encoder(out_dir / VARIANT_FILES["int8"]).encode(probes)  # (P, E)
    cosine = float(np.min(np.sum(fp32 * int8, axis=1)))
    variant = "int8" if cosine >= INT8_MIN_COSINE else "fp32"
    progress(f"int8 cosine to fp32: min {cosine:.4f} -> default variant {variant}")
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

"""Write model package folders: the int8 check both builders share, and packaging a ready graph.

Two builders make packages. `model_import.build_package` builds a ViT graph from canonical
weights; `build_package_from_onnx` here takes a graph someone else already built (the distilled
CLIPPO-Lite, an `onnx`-kind architecture) and only checks it keeps the encoder contract. Both
then quantise an int8 variant with `quantize.quantize_int8` and make it the default only when
its smallest cosine to fp32 over probe inputs (texts rendered with the model's own renderer, and
photo-like colour fields) stays >= `INT8_MIN_COSINE`. A package folder appears whole or not at
all: it is built in a hidden sibling folder and renamed into place, manifest last.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np

from .architecture import OnnxArch
from .errors import CheckpointError, ModelIntegrityError, UsageError
from .manifest import (DEFAULT_PROMPT_TEMPLATES, INT8_MIN_COSINE, MANIFEST_NAME, PREPROCESS_MODES,
                       VARIANT_FILES, Manifest, file_entries)
from .models import check_model_name

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

# Texts in several scripts, used to check that int8 quantisation keeps the embeddings.
PROBE_TEXTS = (
    "a photo of a dog in the snow", "Hund im Schnee", "地铁站的猫", "夜の発射台のロケット",
    "кошка на подоконнике", "IMG_2041.JPG Zürich, Switzerland", "a red car parked on a street",
    "قطة على الأريكة",
)
GRAPH_INPUT = "pixels"
GRAPH_OUTPUTS = ("embedding", "patch_attention")


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


def probe_inputs(image_size: int, settings=None) -> np.ndarray:
    """Photo-like fields, then PROBE_TEXTS drawn by the model's renderer: (P, S, S, 3) uint8."""
    from .render import DEFAULT_SETTINGS, render_texts

    settings = settings or DEFAULT_SETTINGS
    if settings.image_size != image_size:
        raise UsageError(f"The renderer draws {settings.image_size} px text images, but the model "
                         f"takes {image_size} px inputs.",
                         "Give the model's own RendererSettings (image_size must match).")
    return np.concatenate([probe_images(image_size), render_texts(list(PROBE_TEXTS), settings)])


def renderer_manifest_entry(settings=None) -> dict:
    from .render import DEFAULT_SETTINGS, FONT_SHA256, RENDERER_VERSION

    settings = settings or DEFAULT_SETTINGS
    return {"kind": "unifont", "font": "GNU Unifont 9.0.06", "settings": settings.to_dict(),
            "font_sha256": dict(FONT_SHA256), "version": RENDERER_VERSION}


def add_int8_variant(folder: Path, probes: np.ndarray, progress: Progress = log.info) -> float:
    """Quantise folder/model.onnx into folder/model.int8.onnx; return the min cosine to fp32."""
    from .quantize import int8_cosine, quantize_int8

    fp32, int8 = Path(folder) / VARIANT_FILES["fp32"], Path(folder) / VARIANT_FILES["int8"]
    progress("quantising the int8 variant")
    quantize_int8(fp32, int8)
    progress("checking int8 against fp32")
    cosine = int8_cosine(fp32, int8, probes, reduce="min")
    progress(f"int8 cosine to fp32: min {cosine:.4f} (int8 is the default from {INT8_MIN_COSINE})")
    return cosine


@contextlib.contextmanager
def package_folder(out_dir: Path) -> Iterator[Path]:
    """Yield a hidden staging folder beside `out_dir`; on success it replaces `out_dir` whole.

    An existing `out_dir` is replaced only if it is empty or is a model package, so a typo can
    never delete an unrelated folder.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not (out_dir.is_dir() and (not any(out_dir.iterdir())
                                                        or (out_dir / MANIFEST_NAME).is_file())):
        raise UsageError(f"{out_dir} exists and is not a model package; refusing to replace it.",
                         "Choose an empty or new folder for the package.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.staging-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        yield staging
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_graph_contract(path: Path, arch: OnnxArch, probes: np.ndarray) -> None:
    """Refuse a graph that does not keep the encoder contract, naming what is wrong."""
    import onnx

    from .encoder import Encoder

    where = f"The ONNX graph {path.name}"
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError, ValueError... for a damaged file
        raise CheckpointError(f"{path} is not a readable ONNX model ({exc}).",
                              "Re-export the graph.") from exc
    inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}]
    outputs = [o.name for o in graph.output]
    if [i.name for i in inputs] != [GRAPH_INPUT] or outputs != list(GRAPH_OUTPUTS):
        raise CheckpointError(f"{where} has inputs {[i.name for i in inputs]} and outputs {outputs}; the "
                              f"app needs the one input {GRAPH_INPUT!r} and the outputs {list(GRAPH_OUTPUTS)}, "
                              "in that order.", "Export it with those names (see docs/architecture.md).")
    dims = [d.dim_value or d.dim_param for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1:] != [arch.image_size, arch.image_size, 3]:
        raise CheckpointError(f"{where} takes {GRAPH_INPUT} of shape {dims}; expected (N, {arch.image_size}, "
                              f"{arch.image_size}, 3) with fixed sizes.",
                              "Pass the graph's real image_size, or export it with a fixed input size.")
    emb, attn = Encoder(path, providers=["CPUExecutionProvider"]).encode_with_attention(probes[:2])
    if emb.shape != (2, arch.embed_dim) or attn.shape != (2, arch.num_patches):
        raise CheckpointError(f"{where} gives embedding {emb.shape[1:]} and patch_attention "
                              f"{attn.shape[1:]} per input; expected ({arch.embed_dim},) and "
                              f"({arch.num_patches},).", "Pass the graph's real embed_dim and num_patches.")
    norms = np.linalg.norm(emb, axis=1)
    if not np.all(np.isfinite(emb)) or not np.allclose(norms, 1.0, atol=1e-3):
        raise CheckpointError(f"{where} gives embeddings of norm {norms.round(4).tolist()}; they must "
                              "be L2-normalised.", "Normalise inside the graph (x / (|x| + 1e-8)).")
    if not np.all(attn >= 0) or not np.allclose(attn.sum(axis=1), 1.0, atol=1e-3):
        raise CheckpointError(f"{where} gives a patch_attention that is not a distribution over the "
                              "grid (non-negative, each row summing to 1).", "Apply a softmax over the grid.")


def build_package_from_onnx(
    onnx_path: str | os.PathLike, out_dir: str | os.PathLike, *, name: str, embed_dim: int,
    image_size: int = 224, num_patches: int = 49, gflops: float = 0.0, renderer=None,
    preprocess: str = "default", prompt_templates=DEFAULT_PROMPT_TEMPLATES, temperature: float = 100.0,
    provenance: dict, license: str, metrics: dict | None = None, description: str = "",
    is_default: bool = False, int8: bool | Literal["auto"] = "auto", int8_only: bool = False,
    progress: Progress = log.info,
) -> Manifest:
    """Package a ready ONNX graph (the encoder contract) as an `onnx`-kind model in `out_dir`.

    `renderer` is the model's `RendererSettings` (default: `RendererSettings()`); `temperature`
    scales zero-shot logits in tagging. `int8`: False writes fp32 only; True always adds
    model.int8.onnx and makes it the default only if its min cosine to fp32 >= INT8_MIN_COSINE;
    "auto" adds it only when it passes (a failing int8 file is not shipped). `int8_only` drops
    the fp32 file when int8 passes (a bundled model that must stay small). There is no
    weights.npz: such a model can be run and explained, not fine-tuned.
    """
    from .render import DEFAULT_SETTINGS

    check_model_name(name)
    if preprocess not in PREPROCESS_MODES:
        raise UsageError(f"Unknown preprocessing {preprocess!r}.", f"Use one of {', '.join(PREPROCESS_MODES)}.")
    if int8 not in (True, False, "auto"):
        raise UsageError(f"int8 must be True, False or 'auto', not {int8!r}.")
    settings = renderer or DEFAULT_SETTINGS
    try:
        arch = OnnxArch(image_size=image_size, embed_dim=embed_dim, num_patches=num_patches,
                        gflops=float(gflops), description=description)
    except ValueError as exc:
        raise UsageError(f"Cannot package {onnx_path}: {exc}.") from exc
    src = Path(onnx_path)
    if not src.is_file():
        raise CheckpointError(f"{src} does not exist.", "Give the path of the exported .onnx file.")
    probes = probe_inputs(image_size, settings)  # (P, S, S, 3) uint8
    with package_folder(Path(out_dir)) as tmp:
        progress(f"checking {src.name} against the encoder contract")
        shutil.copyfile(src, tmp / VARIANT_FILES["fp32"])
        check_graph_contract(tmp / VARIANT_FILES["fp32"], arch, probes)
        names, variant, cosine = [VARIANT_FILES["fp32"]], "fp32", None
        if int8:
            try:
                cosine = add_int8_variant(tmp, probes, progress)
            except ModelIntegrityError as exc:
                if int8 is True:
                    raise
                # "auto": a graph the quantiser breaks (ORT's quantiser mishandles MatMuls
                # inside If branches) ships as fp32 rather than not at all.
                progress(f"int8 quantisation does not work on this graph ({str(exc)[:160]}); fp32 only")
            if cosine is not None and cosine >= INT8_MIN_COSINE:
                variant = "int8"
            if cosine is not None and (variant == "int8" or int8 is True):
                names.append(VARIANT_FILES["int8"])
            else:
                (tmp / VARIANT_FILES["int8"]).unlink(missing_ok=True)
            if int8_only and variant == "int8":
                (tmp / VARIANT_FILES["fp32"]).unlink()
                names.remove(VARIANT_FILES["fp32"])
        progress(f"default variant {variant}; files {names}")
        manifest = Manifest(
            name=name, architecture=arch, embedding_dim=embed_dim, temperature=float(temperature),
            renderer=renderer_manifest_entry(settings), preprocess=preprocess,
            files=file_entries(tmp, names), default_variant=variant, int8_cosine=cosine,
            prompt_templates=tuple(prompt_templates), provenance=dict(provenance), license=license,
            metrics=dict(metrics or {}), description=description, is_default=bool(is_default),
        )
        manifest.save(tmp)
    return manifest

"""Read a big_vision CLIPPO checkpoint (.npz) into canonical weights, safely and lazily.

Released checkpoints are ~540 MiB, a third of it optimizer state (`opt/...`, partly bfloat16
stored as `|V2`) that inference never needs. This reader walks the zip members itself: it
parses each `.npy` header first (dtype and shape, no data), refuses object arrays before a
single byte of payload is read (so nothing is ever unpickled), reads only the parameter
members, and checks every key and shape against the architecture inferred from the shapes.
Both the per-block (`encoderblock_3/...`) and the stacked (`encoderblock/...`, leading depth
axis) layouts become the canonical per-block dict that `onnx_graph` and `training.model` share.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .architecture import ViTArch
from .errors import CheckpointError

_HINT = "Is this a CLIPPO checkpoint?"
_BLOCK = re.compile(r"^img/Transformer/encoderblock_(\d+)/(.+)$")
_STACKED = "img/Transformer/encoderblock/"
_SKIPPED_TREES = ("opt/", "chrono/")


@dataclass(frozen=True)
class Checkpoint:
    arch: ViTArch
    params: dict[str, np.ndarray]  # canonical keys (no `params/`, blocks unstacked), float32
    temperature: float  # exp(params["t"])
    source_sha256: str


@dataclass(frozen=True)
class _Member:
    name: str  # zip member name, e.g. "params/t.npy"
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran: bool


# -- expected layout ---------------------------------------------------------------------------
def _attn_shapes(prefix: str, d: int, h: int, k: int) -> dict[str, tuple[int, ...]]:
    out = {f"{prefix}/{n}/kernel": (d, h, k) for n in ("query", "key", "value")}
    out.update({f"{prefix}/{n}/bias": (h, k) for n in ("query", "key", "value")})
    out[f"{prefix}/out/kernel"] = (h, k, d)
    out[f"{prefix}/out/bias"] = (d,)
    return out


def _mlp_shapes(prefix: str, d: int, f: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}/Dense_0/kernel": (d, f), f"{prefix}/Dense_0/bias": (f,),
            f"{prefix}/Dense_1/kernel": (f, d), f"{prefix}/Dense_1/bias": (d,)}


def _ln_shapes(prefix: str, d: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}/scale": (d,), f"{prefix}/bias": (d,)}


def block_param_shapes(arch: ViTArch) -> dict[str, tuple[int, ...]]:
    """Shapes of one encoder block's parameters, keyed by the path inside the block."""
    d, h, k, f = arch.width, arch.num_heads, arch.head_dim, arch.mlp_dim
    out = _ln_shapes("LayerNorm_0", d)
    out.update(_attn_shapes("MultiHeadDotProductAttention_0", d, h, k))
    out.update(_ln_shapes("LayerNorm_1", d))
    out.update(_mlp_shapes("MlpBlock_0", d, f))
    return out


def expected_param_shapes(arch: ViTArch) -> dict[str, tuple[int, ...]]:
    """Every canonical key of a CLIPPO tower with this architecture, and its shape."""
    d, h, k, f, p = arch.width, arch.num_heads, arch.head_dim, arch.mlp_dim, arch.patch_size
    out: dict[str, tuple[int, ...]] = {"img/embedding/kernel": (p, p, 3, d), "img/embedding/bias": (d,)}
    if arch.posemb == "learn":
        out["img/pos_embedding"] = (1, arch.num_patches, d)
    if arch.pool_type == "tok":
        out["img/cls"] = (1, 1, d)
    for i in range(arch.depth):
        out.update({f"img/Transformer/encoderblock_{i}/{n}": s for n, s in block_param_shapes(arch).items()})
    out.update(_ln_shapes("img/Transformer/encoder_norm", d))
    if arch.pool_type == "map":
        out["img/MAPHead_0/probe"] = (1, 1, d)
        out.update(_attn_shapes("img/MAPHead_0/MultiHeadDotProductAttention_0", d, h, k))
        out.update(_ln_shapes("img/MAPHead_0/LayerNorm_0", d))
        out.update(_mlp_shapes("img/MAPHead_0/MlpBlock_0", d, f))
    if arch.out_dim:
        out["img/head/kernel"] = (d, arch.out_dim)
        out["img/head/bias"] = (arch.out_dim,)
    out["t"] = (1,)
    return out


# -- public entry point ------------------------------------------------------------------------
def read_checkpoint(path: str | Path, *, image_size: int = 224) -> Checkpoint:
    """Read, validate and convert a big_vision checkpoint.

    `image_size` is only used for `sincos2d` models, whose input size is not stored in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint {path} does not exist.", "Check the path and try again.")
    try:
        sha = _sha256(path)
        with zipfile.ZipFile(path) as zf:
            members = _param_members(path, zf)
            shapes = _logical_shapes(members)
            arch = _infer_arch(path, shapes, image_size)
            _validate(path, arch, shapes)
            params = _read_params(path, zf, members, arch.depth)
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path} is not a readable .npz checkpoint ({exc}).",
                              "The file may be truncated or not an .npz at all; download it again.") from exc
    except PermissionError as exc:
        raise CheckpointError(f"Cannot read {path}: permission denied.", "Check the file's permissions.") from exc
    except (EOFError, zlib.error, OSError) as exc:
        raise CheckpointError(f"{path}: reading failed ({exc}).",
                              "The file is probably truncated or damaged; download it again.") from exc
    for key, value in params.items():
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{path}: key {key} contains NaN or infinite values.",
                                  "The checkpoint is damaged or came from a diverged training run.")
    temperature = float(np.exp(np.float64(params["t"].reshape(-1)[0])))
    return Checkpoint(arch=arch, params=params, temperature=temperature, source_sha256=sha)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# -- headers -----------------------------------------------------------------------------------
def _param_members(path: Path, zf: zipfile.ZipFile) -> dict[str, _Member]:
    """Canonical-ish key (no `params/`, maybe stacked) -> header, for parameter members only."""
    names = [n for n in zf.namelist() if n.endswith(".npy")]
    if not names:
        raise CheckpointError(f"{path} contains no arrays.", f"It is not a NumPy .npz file. {_HINT}")
    keys = {n[: -len(".npy")]: n for n in names}
    if any(k.startswith("params/") for k in keys):
        keys = {k[len("params/"):]: n for k, n in keys.items() if k.startswith("params/")}
    else:
        keys = {k: n for k, n in keys.items() if not k.startswith(_SKIPPED_TREES)}
    members = {}
    for key, name in sorted(keys.items()):
        with zf.open(name) as f:
            dtype, shape, fortran = _read_header(path, key, f)
        members[key] = _Member(name, dtype, shape, fortran)
    return members


def _read_header(path: Path, key: str, f) -> tuple[np.dtype, tuple[int, ...], bool]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as exc:
        raise CheckpointError(f"{path}: key {key} is not a valid .npy array ({exc}).", _HINT) from exc
    if dtype.hasobject:
        raise CheckpointError(
            f"{path}: key {key} holds Python objects (dtype {dtype}); refusing to load it.",
            "Loading it would run code from the file. Use a plain numeric big_vision checkpoint.")
    return dtype, tuple(int(s) for s in shape), bool(fortran)


def _logical_shapes(members: dict[str, _Member]) -> dict[str, tuple[int, ...]]:
    """Per-block keys -> shape; stacked keys are expanded to per-block keys."""
    shapes: dict[str, tuple[int, ...]] = {}
    for key, m in members.items():
        if key.startswith(_STACKED) and m.shape:
            for i in range(m.shape[0]):
                shapes[f"img/Transformer/encoderblock_{i}/{key[len(_STACKED):]}"] = m.shape[1:]
        else:
            shapes[key] = m.shape
    return shapes


# -- architecture ------------------------------------------------------------------------------
def _need(path: Path, shapes: dict, key: str, ndim: int) -> tuple[int, ...]:
    if key not in shapes:
        raise CheckpointError(f"{path}: key {key} is missing.", _HINT)
    if len(shapes[key]) != ndim:
        raise CheckpointError(f"{path}: key {key} has shape {shapes[key]}, expected {ndim} dimensions.", _HINT)
    return shapes[key]


def _infer_arch(path: Path, shapes: dict[str, tuple[int, ...]], image_size: int) -> ViTArch:
    p, _, c, d = _need(path, shapes, "img/embedding/kernel", 4)
    if c != 3:
        raise CheckpointError(f"{path}: key img/embedding/kernel has {c} input channels, expected 3.", _HINT)
    blocks = sorted({int(m.group(1)) for k in shapes if (m := _BLOCK.match(k))})
    if not blocks or blocks != list(range(len(blocks))):
        raise CheckpointError(f"{path}: encoder blocks found {blocks[:8]}..., expected 0..depth-1.", _HINT)
    b0 = "img/Transformer/encoderblock_0"
    _, heads, _ = _need(path, shapes, f"{b0}/MultiHeadDotProductAttention_0/query/kernel", 3)
    _, mlp_dim = _need(path, shapes, f"{b0}/MlpBlock_0/Dense_0/kernel", 2)
    if "img/pos_embedding" in shapes:
        posemb = "learn"
        n_tokens = _need(path, shapes, "img/pos_embedding", 3)[1]
        grid = math.isqrt(n_tokens)
        if grid * grid != n_tokens:
            raise CheckpointError(f"{path}: img/pos_embedding has {n_tokens} tokens, not a square grid.", _HINT)
        image_size = grid * p
    else:
        posemb = "sincos2d"
    pool = "map" if any(k.startswith("img/MAPHead_0/") for k in shapes) else "tok" if "img/cls" in shapes else "gap"
    out_dim = _need(path, shapes, "img/head/bias", 1)[0] if "img/head/kernel" in shapes else 0
    try:
        return ViTArch(width=d, depth=len(blocks), mlp_dim=mlp_dim, num_heads=heads, patch_size=p,
                       image_size=image_size, posemb=posemb, pool_type=pool, out_dim=out_dim)
    except ValueError as exc:
        raise CheckpointError(f"{path}: inconsistent shapes ({exc}).", _HINT) from exc


def _validate(path: Path, arch: ViTArch, shapes: dict[str, tuple[int, ...]]) -> None:
    expected = expected_param_shapes(arch)
    for key, shape in expected.items():
        if key not in shapes:
            raise CheckpointError(f"{path}: key {key} is missing (expected shape {shape}).", _HINT)
        if shapes[key] != shape:
            raise CheckpointError(f"{path}: key {key} has shape {shapes[key]}, expected {shape}.", _HINT)
    extra = sorted(set(shapes) - set(expected))
    if extra:
        raise CheckpointError(f"{path}: unexpected keys {extra[:5]} for a {arch.pool_type}-pooled ViT.",
                              f"This model has parts the app cannot run. {_HINT}")


# -- data --------------------------------------------------------------------------------------
def _read_params(path: Path, zf: zipfile.ZipFile, members: dict[str, _Member], depth: int) -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for key, m in members.items():
        value = _read_array(path, zf, key, m)
        if key.startswith(_STACKED):
            if value.shape[0] != depth:
                raise CheckpointError(f"{path}: stacked key {key} has {value.shape[0]} blocks, expected {depth}.", _HINT)
            for i in range(depth):
                params[f"img/Transformer/encoderblock_{i}/{key[len(_STACKED):]}"] = np.ascontiguousarray(value[i])
        else:
            params[key] = value
    return params


def _read_array(path: Path, zf: zipfile.ZipFile, key: str, m: _Member) -> np.ndarray:
    """Read one member as float32. bfloat16 (`|V2`) is widened; other dtypes are refused."""
    with zf.open(m.name) as f:
        try:
            value = np.lib.format.read_array(f, allow_pickle=False)
        except ValueError as exc:
            raise CheckpointError(f"{path}: key {key} could not be read ({exc}).",
                                  "The file is probably truncated or damaged; download it again.") from exc
    if value.dtype == np.dtype("V2"):  # bfloat16 saved by np.savez: high half of a float32
        value = (value.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    elif value.dtype.kind != "f":
        raise CheckpointError(f"{path}: key {key} has dtype {value.dtype}, expected a float array.", _HINT)
    return np.ascontiguousarray(value, dtype=np.float32)

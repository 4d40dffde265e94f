"""Model architectures as data: a CLIPPO ViT, or a prebuilt ONNX graph.

An architecture is a small frozen dataclass that travels inside each model's manifest. Two
kinds exist:

- `ViTArch` ("vit"): a CLIPPO tower the engine can rebuild from canonical weights. Size variants
  ("B/16", "Ti/16", "mu/32") are decoded in exactly one place, `ViTArch.from_variant`, and a
  checkpoint's shapes are turned into an architecture by the checkpoint reader.
- `OnnxArch` ("onnx"): a graph someone else built (e.g. the distilled CLIPPO-Lite) that keeps the
  encoder contract (`pixels` (N,S,S,3) in [-1,1] -> `embedding` (N,E), `patch_attention` (N,P))
  but has no canonical weights, so it can be run, quantised and explained, never fine-tuned.

Both answer the questions the rest of the app asks: `kind`, `image_size`, `embed_dim`,
`num_patches`, `grid`, `gflops_per_image()` and `summary()`. `architecture_from_dict` reads
either from a manifest; a dict without "kind" is a ViT, so every older manifest still loads.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

# width, depth, mlp_dim, heads -- big_vision's decode_variant table (spec §2.2).
VARIANTS: dict[str, tuple[int, int, int, int]] = {
    "mu": (32, 1, 128, 2),
    "Ti": (192, 12, 768, 3),
    "S": (384, 12, 1536, 6),
    "M": (512, 12, 2048, 8),
    "B": (768, 12, 3072, 12),
    "L": (1024, 24, 4096, 16),
    "So400m": (1152, 27, 4304, 16),
    "H": (1280, 32, 5120, 16),
}

POSEMB_KINDS = ("learn", "sincos2d")
POOL_KINDS = ("map", "gap", "tok")


@dataclass(frozen=True)
class ViTArch:
    """Everything needed to rebuild a CLIPPO tower. Serialised as a plain dict in manifests."""

    kind: ClassVar[str] = "vit"
    fine_tunable: ClassVar[bool] = True

    width: int = 768
    depth: int = 12
    mlp_dim: int = 3072
    num_heads: int = 12
    patch_size: int = 16
    image_size: int = 224
    posemb: str = "learn"
    pool_type: str = "map"
    out_dim: int = 768  # 0 means "no head": the pooled width is the embedding
    layernorm_eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.width % self.num_heads:
            raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of patch {self.patch_size}")
        if self.posemb not in POSEMB_KINDS:
            raise ValueError(f"posemb must be one of {POSEMB_KINDS}, got {self.posemb!r}")
        if self.pool_type not in POOL_KINDS:
            raise ValueError(f"pool_type must be one of {POOL_KINDS}, got {self.pool_type!r}")

    @property
    def head_dim(self) -> int:
        return self.width // self.num_heads

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid

    @property
    def embed_dim(self) -> int:
        return self.out_dim or self.width

    def gflops_per_image(self) -> float:
        """Multiply-adds x2 of one forward pass (matmuls only; what benchmarks compare to peak)."""
        n, d, f = self.num_patches, self.width, self.mlp_dim
        per_block = 2 * n * (4 * d * d + 2 * d * f) + 2 * 2 * n * n * d
        stem = 2 * n * d * 3 * self.patch_size**2
        head = 2 * self.embed_dim * d
        pool = 0
        if self.pool_type == "map":
            pool = 2 * (n * 2 * d * d + 2 * d * d + 2 * d * f) + 2 * 2 * n * d
        return (self.depth * per_block + stem + head + pool) / 1e9

    @classmethod
    def from_variant(cls, variant: str, **overrides) -> "ViTArch":
        """Decode "B/16", "Ti/16", "mu/32" (or "B" with patch_size given) into an architecture."""
        name, _, patch = variant.partition("/")
        if name not in VARIANTS:
            raise ValueError(
                f"unknown ViT variant {variant!r}; known: {', '.join(VARIANTS)} "
                "(you probably got a typo, or want a custom width: pass width=, depth=, ...)"
            )
        width, depth, mlp, heads = VARIANTS[name]
        kw = dict(width=width, depth=depth, mlp_dim=mlp, num_heads=heads)
        if patch:
            kw["patch_size"] = int(patch)
        kw.update(overrides)
        return cls(**kw)

    def summary(self) -> str:
        return (f"ViT width {self.width}, depth {self.depth}, patch {self.patch_size}, "
                f"{self.image_size} px")

    def to_dict(self) -> dict:
        # No "kind" key: manifests written before OnnxArch existed look exactly like this.
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ViTArch":
        return cls(**_fields_of(cls, d))


@dataclass(frozen=True)
class OnnxArch:
    """A prebuilt graph with the encoder contract: what the app needs to feed and display it.

    `gflops` is the cost of one image as measured or estimated by whoever built the graph; it
    only sizes the explain grid and labels benchmarks (0 = unknown).
    """

    kind: ClassVar[str] = "onnx"
    fine_tunable: ClassVar[bool] = False

    image_size: int = 224
    embed_dim: int = 512
    num_patches: int = 49
    gflops: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("image_size", "embed_dim", "num_patches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if math.isqrt(self.num_patches) ** 2 != self.num_patches:
            raise ValueError(f"num_patches {self.num_patches} is not a square grid (e.g. 49 for 7x7)")
        if not isinstance(self.gflops, (int, float)) or self.gflops < 0:
            raise ValueError(f"gflops must be a number >= 0, got {self.gflops!r}")

    @property
    def grid(self) -> int:
        return math.isqrt(self.num_patches)

    def gflops_per_image(self) -> float:
        return float(self.gflops)

    def summary(self) -> str:
        what = f": {self.description}" if self.description else ""
        return f"prebuilt ONNX graph, {self.grid}x{self.grid} grid, {self.image_size} px{what}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "OnnxArch":
        return cls(**_fields_of(cls, d))


Architecture = ViTArch | OnnxArch
ARCHITECTURE_KINDS: dict[str, type] = {"vit": ViTArch, "onnx": OnnxArch}


def _fields_of(cls, d: dict) -> dict:
    """`d` without its "kind" key, after checking the kind and that every field is known."""
    d = dict(d)
    kind = d.pop("kind", "vit")
    if kind != cls.kind:
        raise ValueError(f"architecture kind {kind!r} is not {cls.kind!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown architecture fields {sorted(unknown)}; is the model newer than this app?")
    return d


def architecture_from_dict(d: dict) -> Architecture:
    """The architecture a manifest describes: dispatch on "kind" (missing: a ViT)."""
    if not isinstance(d, dict):
        raise ValueError(f"an architecture must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind", "vit")
    if kind not in ARCHITECTURE_KINDS:
        raise ValueError(f"unknown architecture kind {kind!r} (known: {', '.join(ARCHITECTURE_KINDS)}); "
                         "is the model newer than this app?")
    return ARCHITECTURE_KINDS[kind].from_dict(d)

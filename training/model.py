"""The CLIPPO tower in PyTorch, built exactly as big_vision builds it.

Used for training, distillation and as a parity reference; the desktop app never imports it
(inference runs the ONNX graph built by `engine.onnx_graph`). Both forms are checked against the
same golden vectors. Weights move in and out in big_vision's flattened flax layout
(`img/Transformer/encoderblock_0/...`, no `params/` prefix) so a checkpoint from either side
rebuilds the other.

Shapes: B batch, N tokens (196 for 224/16), D width, H heads, K head dim, F mlp dim.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from clippo_desktop.engine.architecture import ViTArch


def sincos2d_posemb(grid: int, width: int, temperature: float = 10_000.0) -> torch.Tensor:
    """Fixed 2-D sin-cos table, (1, grid*grid, width), as big_vision's posemb_sincos_2d."""
    if width % 4:
        raise ValueError("sincos2d needs a width divisible by 4")
    q = width // 4
    omega = 1.0 / temperature ** (torch.arange(q, dtype=torch.float64) / (q - 1))  # (q,)
    y, x = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
    y = y.flatten()[:, None].double() * omega[None, :]  # (N, q)
    x = x.flatten()[:, None].double() * omega[None, :]  # (N, q)
    pe = torch.cat([x.sin(), x.cos(), y.sin(), y.cos()], dim=1)  # (N, D)
    return pe[None].float()


class Attention(nn.Module):
    """Multi-head dot-product attention with flax's q/k/v/out parameterisation."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, q_in: torch.Tensor, kv_in: torch.Tensor) -> torch.Tensor:
        b, nq, d = q_in.shape
        nk = kv_in.shape[1]
        h, k = self.heads, d // self.heads
        q = self.query(q_in).view(b, nq, h, k).transpose(1, 2)  # (B, H, Nq, K)
        key = self.key(kv_in).view(b, nk, h, k).transpose(1, 2)  # (B, H, Nk, K)
        v = self.value(kv_in).view(b, nk, h, k).transpose(1, 2)  # (B, H, Nk, K)
        o = F.scaled_dot_product_attention(q, key, v)  # (B, H, Nq, K), scale 1/sqrt(K)
        return self.out(o.transpose(1, 2).reshape(b, nq, d))  # (B, Nq, D)

    def weights(self, q_in: torch.Tensor, kv_in: torch.Tensor) -> torch.Tensor:
        """Attention probabilities (B, H, Nq, Nk); used for match heatmaps."""
        b, nq, d = q_in.shape
        h, k = self.heads, d // self.heads
        q = self.query(q_in).view(b, nq, h, k).transpose(1, 2)
        key = self.key(kv_in).view(b, -1, h, k).transpose(1, 2)
        return torch.softmax(q @ key.transpose(-1, -2) / math.sqrt(k), dim=-1)


class Mlp(nn.Module):
    def __init__(self, width: int, mlp_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(width, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Block(nn.Module):
    """Pre-LN encoder block: x + MHSA(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, arch: ViTArch):
        super().__init__()
        self.ln0 = nn.LayerNorm(arch.width, eps=arch.layernorm_eps)
        self.attn = Attention(arch.width, arch.num_heads)
        self.ln1 = nn.LayerNorm(arch.width, eps=arch.layernorm_eps)
        self.mlp = Mlp(arch.width, arch.mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln0(x)
        x = x + self.attn(y, y)
        return x + self.mlp(self.ln1(x))


class MAPHead(nn.Module):
    """Multi-head attention pooling: a learned probe attends to the encoded tokens."""

    def __init__(self, arch: ViTArch):
        super().__init__()
        self.probe = nn.Parameter(torch.zeros(1, 1, arch.width))
        self.attn = Attention(arch.width, arch.num_heads)
        self.ln = nn.LayerNorm(arch.width, eps=arch.layernorm_eps)
        self.mlp = Mlp(arch.width, arch.mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, N, D)
        probe = self.probe.expand(x.shape[0], -1, -1)  # (B, 1, D)
        o = self.attn(probe, x)  # (B, 1, D)
        o = o + self.mlp(self.ln(o))
        return o[:, 0]  # (B, D)


class ClippoTower(nn.Module):
    """One ViT for photos and rendered text. Input NHWC float32 in [-1, 1], like big_vision."""

    def __init__(self, arch: ViTArch, grad_checkpointing: bool = False):
        super().__init__()
        self.arch = arch
        self.grad_checkpointing = grad_checkpointing
        d = arch.width
        self.embedding = nn.Conv2d(3, d, arch.patch_size, stride=arch.patch_size)
        if arch.posemb == "learn":
            self.pos_embedding = nn.Parameter(torch.zeros(1, arch.num_patches, d))
        else:
            self.register_buffer("pos_embedding", sincos2d_posemb(arch.grid, d), persistent=False)
        self.cls = nn.Parameter(torch.zeros(1, 1, d)) if arch.pool_type == "tok" else None
        self.blocks = nn.ModuleList(Block(arch) for _ in range(arch.depth))
        self.encoder_norm = nn.LayerNorm(d, eps=arch.layernorm_eps)
        self.map_head = MAPHead(arch) if arch.pool_type == "map" else None
        self.head = nn.Linear(d, arch.out_dim) if arch.out_dim else None
        self.t = nn.Parameter(torch.tensor([math.log(10.0)]))  # log temperature
        self.reset_parameters()

    # -- initialisation (spec §2.4) ---------------------------------------------------------
    def reset_parameters(self) -> None:
        def lecun_normal_(w: torch.Tensor, fan_in: int) -> None:
            # flax lecun_normal = truncated normal (±2σ) rescaled so the std is 1/sqrt(fan_in).
            std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
            nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)

        d, p = self.arch.width, self.arch.patch_size
        lecun_normal_(self.embedding.weight, 3 * p * p)
        nn.init.zeros_(self.embedding.bias)
        if isinstance(self.pos_embedding, nn.Parameter):
            nn.init.normal_(self.pos_embedding, std=1 / math.sqrt(d))
        for m in self.modules():
            if isinstance(m, Attention):
                for lin in (m.query, m.key, m.value, m.out):
                    nn.init.xavier_uniform_(lin.weight)
                    nn.init.zeros_(lin.bias)
            elif isinstance(m, Mlp):
                for lin in (m.fc1, m.fc2):
                    nn.init.xavier_uniform_(lin.weight)
                    nn.init.normal_(lin.bias, std=1e-6)
        if self.map_head is not None:
            bound = math.sqrt(6.0 / (1 + d))  # xavier on a (1, 1, D) array: fan_in=1, fan_out=D
            nn.init.uniform_(self.map_head.probe, -bound, bound)
        if self.head is not None:
            lecun_normal_(self.head.weight, d)
            nn.init.zeros_(self.head.bias)
        with torch.no_grad():
            self.t.fill_(math.log(10.0))

    # -- forward ----------------------------------------------------------------------------
    def forward(self, pixels: torch.Tensor, intermediates: bool = False):
        """pixels (B, H, W, 3) in [-1, 1] -> normalised embedding (B, E) (and a dict if asked)."""
        out: dict[str, torch.Tensor] = {}
        x = self.embedding(pixels.permute(0, 3, 1, 2))  # (B, D, g, g)
        x = x.flatten(2).transpose(1, 2)  # (B, N, D), row-major tokens
        out["stem"] = x
        x = x + self.pos_embedding.to(x.dtype)
        out["with_posemb"] = x
        if self.cls is not None:
            x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)  # (B, 1+N, D)
        for i, block in enumerate(self.blocks):
            if self.grad_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
            if i == 0:
                out["block00_out"] = x
        x = self.encoder_norm(x)
        out["encoded"] = x
        if self.arch.pool_type == "map":
            x = self.map_head(x)  # (B, D)
        elif self.arch.pool_type == "gap":
            x = x.mean(dim=1)
        else:  # tok
            x = x[:, 0]
        out["pre_logits"] = x
        if self.head is not None:
            x = self.head(x)  # (B, E)
        out["logits"] = x
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)  # (B, 1)
        z = x / (norm + 1e-8)
        out["norm"], out["normalized"] = norm, z
        return (z, out) if intermediates else z

    @property
    def temperature(self) -> torch.Tensor:
        return self.t.exp()

    # -- big_vision weight layout --------------------------------------------------------------
    def load_bigvision_params(self, params: dict[str, np.ndarray]) -> None:
        """Load a flat big_vision param dict (keys without `params/`, blocks unstacked)."""
        own = self.bigvision_params()
        missing = sorted(set(own) - set(params))
        unexpected = sorted(set(params) - set(own))
        if missing or unexpected:
            raise KeyError(f"param mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
        with torch.no_grad():
            for key, (tensor, to_torch, _) in self._layout().items():
                value = np.asarray(params[key], dtype=np.float32)
                if value.shape != own[key].shape:
                    raise ValueError(f"{key}: expected shape {own[key].shape}, found {value.shape}")
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(to_torch(value))))

    def bigvision_params(self) -> dict[str, np.ndarray]:
        """The inverse of load_bigvision_params: float32 numpy arrays in flax layout."""
        return {
            key: np.ascontiguousarray(to_flax(tensor.detach().float().cpu().numpy()))
            for key, (tensor, _, to_flax) in self._layout().items()
        }

    def _layout(self):
        """key -> (torch tensor, flax->torch transform, torch->flax transform)."""
        d, h, k = self.arch.width, self.arch.num_heads, self.arch.head_dim
        same = (lambda a: a, lambda a: a)
        dense = (lambda a: a.T, lambda a: a.T)
        qkv_w = (lambda a: a.reshape(d, d).T, lambda a: a.T.reshape(d, h, k))
        qkv_b = (lambda a: a.reshape(d), lambda a: a.reshape(h, k))
        out_w = (lambda a: a.reshape(d, d).T, lambda a: a.T.reshape(h, k, d))
        conv = (lambda a: a.transpose(3, 2, 0, 1), lambda a: a.transpose(2, 3, 1, 0))
        layout = {}

        def add(key, tensor, fns):
            layout[key] = (tensor, *fns)

        def add_attn(prefix, m: Attention):
            for name in ("query", "key", "value"):
                lin = getattr(m, name)
                add(f"{prefix}/{name}/kernel", lin.weight, qkv_w)
                add(f"{prefix}/{name}/bias", lin.bias, qkv_b)
            add(f"{prefix}/out/kernel", m.out.weight, out_w)
            add(f"{prefix}/out/bias", m.out.bias, same)

        def add_ln(prefix, m: nn.LayerNorm):
            add(f"{prefix}/scale", m.weight, same)
            add(f"{prefix}/bias", m.bias, same)

        def add_mlp(prefix, m: Mlp):
            add(f"{prefix}/Dense_0/kernel", m.fc1.weight, dense)
            add(f"{prefix}/Dense_0/bias", m.fc1.bias, same)
            add(f"{prefix}/Dense_1/kernel", m.fc2.weight, dense)
            add(f"{prefix}/Dense_1/bias", m.fc2.bias, same)

        add("img/embedding/kernel", self.embedding.weight, conv)
        add("img/embedding/bias", self.embedding.bias, same)
        if isinstance(self.pos_embedding, nn.Parameter):
            add("img/pos_embedding", self.pos_embedding, same)
        if self.cls is not None:
            add("img/cls", self.cls, same)
        for i, b in enumerate(self.blocks):
            p = f"img/Transformer/encoderblock_{i}"
            add_ln(f"{p}/LayerNorm_0", b.ln0)
            add_attn(f"{p}/MultiHeadDotProductAttention_0", b.attn)
            add_ln(f"{p}/LayerNorm_1", b.ln1)
            add_mlp(f"{p}/MlpBlock_0", b.mlp)
        add_ln("img/Transformer/encoder_norm", self.encoder_norm)
        if self.map_head is not None:
            add("img/MAPHead_0/probe", self.map_head.probe, same)
            add_attn("img/MAPHead_0/MultiHeadDotProductAttention_0", self.map_head.attn)
            add_ln("img/MAPHead_0/LayerNorm_0", self.map_head.ln)
            add_mlp("img/MAPHead_0/MlpBlock_0", self.map_head.mlp)
        if self.head is not None:
            add("img/head/kernel", self.head.weight, dense)
            add("img/head/bias", self.head.bias, same)
        add("t", self.t, same)
        return layout

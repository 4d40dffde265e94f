"""Optimisers and schedules: AdamW (default) and big_vision's Adafactor variant (spec §7.3).

Adafactor works on each parameter in its *flax layout* (e.g. a query kernel is (D, H, K), not
torch's (H·K, D)), because which arrays are factored and over which axes depends on that shape.
Chain per step, as big_vision: global-norm clip (done by the loop) → factored RMS scaling
(β₂(s) = min(0.999, 1 − (s+1)^−0.8), ε = 1e-30 on g²) → momentum EMA 0.9 stored in bf16 without
bias correction → × lr → + wd·param on kernels only → × schedule → subtract.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

# -- which parameters are kernels, and their flax view -------------------------------------------
# A view is (reshape, permute) applied to the torch tensor to get the flax-layout array.
View = tuple[tuple[int, ...], tuple[int, ...]]


def param_names_and_views(model: nn.Module) -> dict[nn.Parameter, tuple[str, View | None]]:
    """Map each parameter to (big_vision key or torch name, flax view or None for same layout)."""
    from .model import ClippoTower

    out: dict[nn.Parameter, tuple[str, View | None]] = {}
    towers = [m for m in model.modules() if isinstance(m, ClippoTower)]
    for tower in towers:
        a = tower.arch
        d, h, k = a.width, a.num_heads, a.head_dim
        for key, (tensor, _, _) in tower._layout().items():
            view: View | None = None
            if key.endswith(("query/kernel", "key/kernel", "value/kernel")):
                view = ((h, k, d), (2, 0, 1))  # (H*K, D) -> (D, H, K)
            elif key.endswith(("query/bias", "key/bias", "value/bias")):
                view = ((h, k), (0, 1))
            elif key.endswith("out/kernel"):
                view = ((d, h, k), (1, 2, 0))  # (D, H*K) -> (H, K, D)
            elif key == "img/embedding/kernel":
                view = (tuple(tensor.shape), (2, 3, 1, 0))  # (D, 3, P, P) -> (P, P, 3, D)
            elif key.endswith("/kernel"):
                view = (tuple(tensor.shape), (1, 0))  # Linear (out, in) -> Dense (in, out)
            out[tensor] = (key, view)
    for name, p in model.named_parameters():
        if p not in out:  # e.g. a distillation projection: a Linear weight is a kernel
            is_w = name.endswith("weight") and p.ndim == 2
            out[p] = (name.replace(".weight", "/kernel") if is_w else name, ((tuple(p.shape)), (1, 0)) if is_w else None)
    return out


def is_kernel(key: str) -> bool:
    return key.endswith("/kernel")


def to_flax(x: torch.Tensor, view: View | None) -> torch.Tensor:
    return x if view is None else x.reshape(view[0]).permute(view[1])


def from_flax(x: torch.Tensor, view: View | None, shape: torch.Size) -> torch.Tensor:
    if view is None:
        return x
    inv = [0] * len(view[1])
    for i, p in enumerate(view[1]):
        inv[p] = i
    return x.permute(inv).reshape(shape)


# -- schedules -----------------------------------------------------------------------------------
def schedule_multiplier(step: int, total: int, kind: str = "rsqrt", warmup: int = 0, cooldown: int = 0,
                        timescale: int = 10_000) -> float:
    """big_vision's multiplier at 0-based `step` (the update being computed)."""
    if kind == "rsqrt":
        m = 1.0 if step <= warmup else 1.0 / math.sqrt((step + timescale - warmup) / timescale)
    elif kind == "cosine":
        progress = min(1.0, max(0.0, (step - warmup) / max(1, total - warmup)))
        m = 0.5 * (1.0 + math.cos(math.pi * progress))
    elif kind == "const":
        m = 1.0
    else:
        raise ValueError(f"unknown schedule {kind!r}")
    if warmup:
        m *= min(1.0, step / warmup)
    if cooldown:
        m *= min(1.0, (total - step) / cooldown)
    return m


def clip_grad_global_norm(params: Iterable[torch.Tensor], max_norm: float) -> float:
    """optax.clip_by_global_norm: scale by max_norm/norm when norm exceeds it. Returns the norm."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
    if max_norm and max_norm > 0 and norm > max_norm:
        for g in grads:
            g.mul_(max_norm / norm)
    return float(norm)


# -- Adafactor ------------------------------------------------------------------------------------
def factored_dims(shape: tuple[int, ...], min_dim: int = 32) -> tuple[int, int] | None:
    """(second-largest axis, largest axis) if the array is factored, as optax decides it."""
    if len(shape) < 2:
        return None
    order = sorted(range(len(shape)), key=lambda i: shape[i])  # stable, like numpy on small arrays
    if shape[order[-2]] < min_dim:
        return None
    return order[-2], order[-1]


class BigVisionAdafactor(torch.optim.Optimizer):
    """big_vision.scale_by_adafactor + lr + decoupled wd (kernels only) + schedule.

    Param groups carry `lr`, `wd`, `sched` (set by the loop each step) and per-param metadata
    `views`/`decay` lists aligned with `params`.
    """

    def __init__(self, groups, lr: float = 1e-3, wd: float = 1e-4, momentum: float = 0.9,
                 beta2_cap: float = 0.999, decay_rate: float = 0.8, eps: float = 1e-30, min_dim: int = 32):
        defaults = dict(lr=lr, wd=wd, sched=1.0, momentum=momentum, beta2_cap=beta2_cap,
                        decay_rate=decay_rate, eps=eps, min_dim=min_dim)
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        for group in self.param_groups:
            for p, view, decay in zip(group["params"], group["views"], group["decay"]):
                if p.grad is None:
                    continue
                st = self.state[p]
                g = to_flax(p.grad.float(), view)  # flax layout
                dims = factored_dims(tuple(g.shape), group["min_dim"])
                if not st:
                    st["step"] = torch.zeros((), dtype=torch.int64)
                    if dims is None:
                        st["v"] = torch.zeros_like(g)
                    else:
                        d1, d0 = dims
                        st["v_row"] = g.new_zeros([s for i, s in enumerate(g.shape) if i != d0])
                        st["v_col"] = g.new_zeros([s for i, s in enumerate(g.shape) if i != d1])
                    st["mu"] = torch.zeros_like(g, dtype=torch.bfloat16)
                count = int(st["step"])
                beta2 = min(group["beta2_cap"], 1.0 - (count + 1.0) ** (-group["decay_rate"]))
                g2 = g * g + group["eps"]
                if dims is None:
                    st["v"].mul_(beta2).add_((1 - beta2) * g2)
                    u = g * st["v"].rsqrt()
                else:
                    d1, d0 = dims
                    st["v_row"].mul_(beta2).add_((1 - beta2) * g2.mean(dim=d0))
                    st["v_col"].mul_(beta2).add_((1 - beta2) * g2.mean(dim=d1))
                    red = d1 - 1 if d1 > d0 else d1
                    row = st["v_row"] / st["v_row"].mean(dim=red, keepdim=True)
                    u = g * row.rsqrt().unsqueeze(d0) * st["v_col"].rsqrt().unsqueeze(d1)
                m = group["momentum"]
                # m*mu rounds in bf16, as jax does (.to: Optimizer.load_state_dict casts state to f32)
                u = (1 - m) * u + (m * st["mu"].to(torch.bfloat16)).float()
                st["mu"] = u.to(torch.bfloat16)
                st["step"] += 1
                u = u * group["lr"]
                if decay:
                    u = u + group["wd"] * to_flax(p.float(), view)
                u = u * group["sched"]
                p.sub_(from_flax(u, view, p.shape).to(p.dtype))


def build_optimizer(model: nn.Module, name: str, lr: float, wd: float, betas=(0.9, 0.999)) -> torch.optim.Optimizer:
    """AdamW (decoupled wd = lr·wd·param, torch's convention) or big_vision Adafactor.

    Weight decay applies to kernels only (Linear/Conv weights and the distillation projection);
    biases, LayerNorm, pos_embedding, probe and t are not decayed.
    """
    meta = param_names_and_views(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adafactor":
        group = {"params": params, "views": [meta[p][1] for p in params],
                 "decay": [is_kernel(meta[p][0]) for p in params]}
        return BigVisionAdafactor([group], lr=lr, wd=wd)
    if name == "adamw":
        decay = [p for p in params if is_kernel(meta[p][0])]
        rest = [p for p in params if not is_kernel(meta[p][0])]
        return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}],
                                 lr=lr, betas=betas, eps=1e-8)
    raise ValueError(f"unknown optimizer {name!r}")


def set_schedule(opt: torch.optim.Optimizer, base_lr: float, multiplier: float) -> None:
    for group in opt.param_groups:
        group["lr"] = base_lr * multiplier
        group["sched"] = multiplier
        if isinstance(opt, BigVisionAdafactor):
            group["lr"] = base_lr  # Adafactor applies `sched` itself (wd × sched, not × lr)

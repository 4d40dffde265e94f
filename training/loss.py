"""big_vision's bidirectional contrastive loss (spec §7.1) and an optional distillation term.

logits = z_a @ z_bᵀ · exp(t) over the *global* batch; loss = ½ (CE over rows + CE over columns)
with the diagonal as targets, averaged over pairs. Under DDP every rank gathers all embeddings
with `all_gather_with_grad` and computes the full matrix, as big_vision does; with DDP's gradient
averaging the result equals one process on the same global batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import all_gather_with_grad


def contrastive_loss(z_a: torch.Tensor, z_b: torch.Tensor, t: torch.Tensor,
                     gather: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """z_a, z_b: (b, E) normalised local rows; t: log-temperature (1,). Returns (loss, extras)."""
    if gather:
        z_a, z_b = all_gather_with_grad(z_a), all_gather_with_grad(z_b)  # (B, E) global
    dtype = torch.promote_types(z_a.dtype, torch.float32)  # bf16 -> f32; f64 stays f64
    z_a, z_b = z_a.to(dtype), z_b.to(dtype)
    logits = z_a @ z_b.T * t.to(dtype).exp()  # (B, B)
    labels = torch.arange(logits.shape[0], device=logits.device)  # (B,)
    a2b = F.cross_entropy(logits, labels, reduction="none")  # (B,) rows: a -> b
    b2a = F.cross_entropy(logits.T, labels, reduction="none")  # (B,) columns: b -> a
    loss = (0.5 * (a2b + b2a)).mean()
    with torch.no_grad():
        acc = (logits.argmax(dim=1) == labels).float().mean()
    return loss, {"a2b": a2b.mean().detach(), "b2a": b2a.mean().detach(), "acc": acc}


class DistillHead(nn.Module):
    """Pulls student embeddings towards per-example teacher embeddings (cosine or MSE).

    If the teacher's dimension differs, a learned linear projection maps the student's
    normalised embedding into the teacher's space (the projection is dropped at export).
    """

    def __init__(self, student_dim: int, teacher_dim: int, kind: str = "cosine"):
        super().__init__()
        if kind not in ("cosine", "mse"):
            raise ValueError(f"distillation kind must be cosine or mse, got {kind!r}")
        self.kind = kind
        self.proj = nn.Linear(student_dim, teacher_dim, bias=False) if student_dim != teacher_dim else None

    def forward(self, z: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """z: (b, Es), teacher: (b, Et), mask: (b,) bool of rows that have a teacher."""
        s = self.proj(z.float()) if self.proj is not None else z.float()  # (b, Et)
        teacher = teacher.float()
        if self.kind == "cosine":
            per = 1.0 - F.cosine_similarity(s, teacher, dim=-1, eps=1e-8)  # (b,)
        else:
            per = ((s - teacher) ** 2).mean(dim=-1)  # (b,)
        if mask is None:
            return per.mean()
        m = mask.float()
        return (per * m).sum() / m.sum().clamp(min=1.0)

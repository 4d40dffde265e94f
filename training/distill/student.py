"""The student: one ImageNet-initialised pixel encoder for photos and rendered text.

Trunk: EfficientNet-Lite0 (Apache-2.0 wheel), fully convolutional, so text batches can be
crops of just the rendered rows (a 32-pixel strip costs ~1/5 of a square canvas). On top:

- attention pooling: H heads, each a learned query over keys = Linear(features), pooling its
  own 1280/H channel slice. The key projection starts at zero, so pooling starts as the average
  pooling the ImageNet classifier was trained with; `patch_attention` is the head-mean weights;
- a concept path: the ImageNet classifier's logits over the 700 *training* classes, softmaxed
  and mixed into a learnable table initialised with the text teacher's "a photo of a {class}"
  embeddings. At step 0 a photo already lands near the label-bridge teacher, and a rendered
  class name can be learned as classification (the issue's "concept space" lever);
- a direct path: Linear(1280 -> 512), for everything the concepts cannot say;
- an auxiliary character head (training only) on the stride-8 features: per 8-pixel column of
  a single rendered row, which character is under it (blank = 0). It teaches glyphs first.

Input NHWC float32 in [-1, 1] (the app's contract); output L2-normalised (B, 512).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .teachers import TEXT_DIM, load_efficientnet_lite0

FEAT = 1280
CHAR_BLOCK = 4  # output of _blocks[4] is stride 8 with 40 channels in EfficientNet-Lite0


class AttentionPool(nn.Module):
    def __init__(self, dim: int = FEAT, heads: int = 4, key_dim: int = 64):
        super().__init__()
        self.heads = heads
        self.key = nn.Linear(dim, heads * key_dim)
        self.query = nn.Parameter(torch.randn(heads, key_dim) / math.sqrt(key_dim))
        nn.init.zeros_(self.key.weight)
        nn.init.zeros_(self.key.bias)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f (B, C, h, w) -> pooled (B, C), attention (B, h*w)."""
        b, c, h, w = f.shape
        x = f.flatten(2).transpose(1, 2)  # (B, N, C)
        k = self.key(x).view(b, h * w, self.heads, -1)  # (B, N, H, K)
        a = torch.einsum("bnhk,hk->bhn", k, self.query) / math.sqrt(k.shape[-1])  # (B, H, N)
        a = a.softmax(dim=-1)
        v = x.view(b, h * w, self.heads, c // self.heads)  # (B, N, H, C/H)
        pooled = torch.einsum("bhn,bnhc->bhc", a, v).reshape(b, c)  # (B, C)
        return pooled, a.mean(dim=1)


class CharHead(nn.Module):
    """Stride-8 features (B, 40, h, w) of a row crop -> per-column character logits (B, K, w)."""

    def __init__(self, in_ch: int, n_chars: int, hidden: int = 128):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, hidden, 3, padding=1)
        self.out = nn.Conv1d(hidden, n_chars, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(f[:, :, :2]))  # the first text row spans feature rows 0-1
        return self.out(x.mean(dim=2))  # (B, K, w)


class Student(nn.Module):
    def __init__(self, class_text: torch.Tensor, train_classes: torch.Tensor, n_chars: int = 0,
                 heads: int = 4, pretrained: bool = True):
        """class_text (1000, 512) teacher prompt embeddings; train_classes (700,) long indices."""
        super().__init__()
        net = load_efficientnet_lite0() if pretrained else _untrained_lite0()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, net._swish)
        self.register_buffer("train_classes", train_classes.long(), persistent=True)
        self.classifier = nn.Linear(FEAT, len(train_classes))
        with torch.no_grad():
            self.classifier.weight.copy_(net._fc.weight[train_classes])
            self.classifier.bias.copy_(net._fc.bias[train_classes])
        self.concepts = nn.Parameter(class_text[train_classes].float().clone())  # (700, 512)
        self.pool = AttentionPool(FEAT, heads)
        self.proj = nn.Linear(FEAT, TEXT_DIM)
        nn.init.normal_(self.proj.weight, std=1e-3)
        nn.init.zeros_(self.proj.bias)
        self.char_head = CharHead(40, n_chars) if n_chars else None

    def train(self, mode: bool = True):
        """BatchNorm statistics stay frozen: mixed photo/text batches would corrupt them."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def forward(self, pixels: torch.Tensor, chars: bool = False) -> dict[str, torch.Tensor]:
        """pixels (B, H, W, 3) in [-1, 1]; H and W multiples of 32."""
        x = self.stem(pixels.permute(0, 3, 1, 2))  # (B, 32, H/2, W/2)
        mid = None
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i == CHAR_BLOCK:
                mid = x  # (B, 40, H/8, W/8)
        f = self.head(x)  # (B, 1280, H/32, W/32)
        pooled, attn = self.pool(f)  # (B, 1280), (B, N)
        logits = self.classifier(pooled)  # (B, 700)
        concept = logits.softmax(dim=-1) @ self.concepts  # (B, 512)
        raw = concept + self.proj(pooled)  # (B, 512)
        out = {"embedding": F.normalize(raw, dim=-1, eps=1e-8), "logits": logits, "attention": attn}
        if chars and self.char_head is not None:
            out["chars"] = self.char_head(mid)  # (B, K, W/8)
        return out


def _untrained_lite0():
    import contextlib
    import io

    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):
        return EfficientNet.from_name("efficientnet-lite0")

"""The reading branch of CLIPPO-Lite: rendered-text pixels -> a 512-d sentence embedding.

Why a dedicated branch: the renderer (spec §4) draws noise-free Unifont glyphs on 16-px lines
and breaks words anywhere, so a canvas *is* one long line of 16-pixel-high columns. The reader
unrolls the 14 lines into that column sequence (a reshape, no tokenizer), reads it with a 1-D
ConvNeXt-style stack (glyphs -> character n-grams -> words), turns every position into a wide
"lexicon" feature and pools the positions that hold ink. Training on the used columns only is
exact (every layer is per-position or a convolution, and padding equals blank paper), which
makes a text sample ~20x cheaper than a 224x224 CNN pass.

Shapes: canvas (N, 224, 224) ink mask -> columns (N, 16, 3136) -> features (N, C, L/8) -> (N, 512).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

LINE = 16  # Unifont line height; the canvas holds image_size // 16 lines


def unroll_lines(ink: torch.Tensor) -> torch.Tensor:
    """(N, H, W) ink mask -> (N, 16, H//16 * W): line k's columns follow line k-1's."""
    n, h, w = ink.shape
    lines = h // LINE
    x = ink[:, :lines * LINE].reshape(n, lines, LINE, w)  # (N, lines, 16, W)
    return x.permute(0, 2, 1, 3).reshape(n, LINE, lines * w)  # (N, 16, lines*W)


def _shift_conv(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Depthwise 1-D convolution as a sum of shifted copies: x (N, L, C), w (k, C), same padding.

    On CPU this is several times faster to train than Conv1d(groups=C), whose backward is slow.
    """
    k = w.shape[0]
    xp = F.pad(x, (0, 0, k // 2, k // 2))  # (N, L + k - 1, C)
    length = x.shape[1]
    out = xp[:, 0:length] * w[0]
    for i in range(1, k):
        out = out + xp[:, i:i + length] * w[i]
    return out


class _Block(nn.Module):
    """x + fc(gelu(fc(norm(dwconv(x))))): ConvNeXt in 1-D, channels last (N, L, C)."""

    def __init__(self, c: int, k: int = 7, expand: int = 2):
        super().__init__()
        self.dw = nn.Parameter(torch.randn(k, c) / k)
        self.dw_bias = nn.Parameter(torch.zeros(c))
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, c * expand)
        self.fc2 = nn.Linear(c * expand, c)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, L, C)
        return x + self.fc2(F.gelu(self.fc1(self.norm(_shift_conv(x, self.dw) + self.dw_bias))))


class Reader(nn.Module):
    """Ink columns (N, 16, L), L a multiple of 8 -> L2-normalised (N, out_dim)."""

    def __init__(self, c1: int = 192, c2: int = 256, blocks1: int = 2, blocks2: int = 3,
                 lexicon: int = 1024, out_dim: int = 512):
        super().__init__()
        self.config = {"c1": c1, "c2": c2, "blocks1": blocks1, "blocks2": blocks2,
                       "lexicon": lexicon, "out_dim": out_dim}
        # The stem is Conv1d(16, c1, kernel 12, stride 4, padding 4) written as one matmul over
        # three neighbouring 4-column chunks.
        self.stem = nn.Linear(3 * 4 * LINE, c1)
        self.stage1 = nn.Sequential(*[_Block(c1) for _ in range(blocks1)])
        self.down_norm = nn.LayerNorm(c1)
        self.down = nn.Linear(2 * c1, c2)  # kernel 2, stride 2: (N, L/4, c1) -> (N, L/8, c2)
        self.stage2 = nn.Sequential(*[_Block(c2) for _ in range(blocks2)])
        self.lex = nn.Sequential(nn.LayerNorm(c2), nn.Linear(c2, lexicon), nn.GELU(),
                                 nn.Linear(lexicon, out_dim))  # (N, P, E)
        self.score = nn.Linear(out_dim, 1)
        self.head = nn.Sequential(nn.LayerNorm(2 * out_dim), nn.Linear(2 * out_dim, out_dim))

    @staticmethod
    def chunks(cols: torch.Tensor) -> torch.Tensor:
        """(N, 16, L) -> (N, L/4, 64): each 4-column chunk flattened (column-major)."""
        n, h, length = cols.shape
        return cols.transpose(1, 2).reshape(n, length // 4, 4 * h)

    def forward(self, cols: torch.Tensor) -> torch.Tensor:
        ch = self.chunks(cols)  # (N, Q, 64), Q = L/4
        ink = ch.amax(dim=-1, keepdim=True)  # (N, Q, 1)
        pad = F.pad(ch, (0, 0, 1, 1))  # (N, Q + 2, 64)
        q = ch.shape[1]
        win = torch.cat([pad[:, 0:q], pad[:, 1:q + 1], pad[:, 2:q + 2]], dim=-1)  # (N, Q, 192)
        x = self.stage1(self.stem(win))  # (N, Q, c1)
        n, _, c1 = x.shape
        x = self.down(self.down_norm(x).reshape(n, q // 2, 2 * c1))  # (N, P, c2), P = L/8
        x = self.stage2(x)
        f = self.lex(x)  # (N, P, E)
        inkw = F.pad(ink, (0, 0, 1, 1))
        near = torch.maximum(torch.maximum(inkw[:, 0:q], inkw[:, 1:q + 1]), inkw[:, 2:q + 2])  # (N, Q, 1)
        mask = near.reshape(n, q // 2, 2).amax(dim=-1, keepdim=True)  # (N, P, 1): ink in view
        logit = self.score(f) + (mask - 1.0) * 1e4  # blank positions drop out of the softmax
        att = torch.softmax(logit, dim=1)  # (N, P, 1)
        pooled_att = (f * att).sum(1)  # (N, E)
        pooled_mean = (f * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # (N, E)
        z = self.head(torch.cat([pooled_att, pooled_mean], dim=1))  # (N, E)
        return F.normalize(z, dim=-1)


@torch.no_grad()
def widen_lexicon(model: Reader, width: int, seed: int = 0) -> Reader:
    """A copy of `model` whose lexicon MLP has `width` hidden units and the same outputs.

    The new units get fresh input weights and zero output weights, so the function is unchanged
    and training can grow them (Net2Net-style). Lets a longer run add capacity without
    restarting: the reader under-fits words (train and held-out cosine are within 0.02).
    """
    old_in, old_out = model.lex[1], model.lex[3]
    old = old_in.out_features
    if width < old:
        raise ValueError(f"cannot narrow the lexicon from {old} to {width}")
    cfg = dict(model.config, lexicon=width)
    wide = Reader(**cfg)
    state = model.state_dict()
    gen = torch.Generator().manual_seed(seed)
    w_in = torch.empty(width - old, old_in.in_features)
    nn.init.kaiming_uniform_(w_in, a=5 ** 0.5, generator=gen)
    bound = 1 / old_in.in_features ** 0.5
    state["lex.1.weight"] = torch.cat([old_in.weight, w_in])  # (width, c2)
    state["lex.1.bias"] = torch.cat([old_in.bias, torch.empty(width - old).uniform_(-bound, bound, generator=gen)])
    state["lex.3.weight"] = torch.cat([old_out.weight, torch.zeros(old_out.out_features, width - old)], 1)  # (E, width)
    wide.load_state_dict(state)
    return wide


def columns_from_canvas(canvas_u8) -> torch.Tensor:
    """uint8 (N, S, S, 3) renderings -> float (N, 16, lines*S) ink columns (ink = 1)."""
    ink = torch.as_tensor(canvas_u8[..., 0] < 64, dtype=torch.float32)  # (N, S, S)
    return unroll_lines(ink)


def crop_columns(cols: torch.Tensor, margin: int = 64) -> torch.Tensor:
    """Cut the blank tail (training only): keep the last ink column + margin, a multiple of 8."""
    used = cols.amax(dim=(0, 1)).nonzero()
    end = int(used[-1]) + 1 + margin if len(used) else 8
    end = min(cols.shape[-1], (end + 7) // 8 * 8)
    return cols[..., :end]

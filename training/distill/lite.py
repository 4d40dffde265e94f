"""CLIPPO-Lite: one pixel encoder for photos and rendered text, and its ONNX export.

The app feeds every input through the same graph: `pixels` (N, 224, 224, 3) in [-1, 1] ->
`embedding` (N, 512) and `patch_attention` (N, 49). Inside, a router looks at the pixels
alone: a rendering by the Unifont renderer has exactly two values (ink -1, paper -0.0039), which
no photograph has, so `is_text` is "more than 98 % of the values are one of those two". Text
goes to the reader (reader.py), photos to the photo branch: EfficientNet-Lite0 (ImageNet init,
Apache-2.0) -> class probabilities -> the concept table (concepts.py). Both branches land in
the same 512-d space, distilled from the multilingual text teacher.

Routing is per batch with `torch.cond` (an ONNX `If`): an all-text batch runs only the reader,
an all-photo batch only the CNN, and a mixed batch runs both and picks per row. So indexing a
photo pays nothing for the reader and a query pays nothing for the CNN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import concepts
from .reader import Reader, unroll_lines

PAPER = 127 / 255 * 2 - 1  # -0.0039215684: the renderer's background after value_range
TEXT_SHARE = 0.98
GRID = 7  # patch_attention is a 7 x 7 grid for both branches
# How the package frames photos (its manifest's preprocessing) and the size the CNN sees them at.
# The classifier was trained on undistorted centre crops: the engine's "center_crop" at 224 px
# beat the squash at 192 on COCO train2017 captions (the dev set) on R@1/5/10 0.345/0.695/0.818
# vs 0.340/0.637/0.767 with teacher queries, for 1.36x the CNN's compute (training/README.md).
PHOTO_PREPROCESS = "center_crop"
PHOTO_SIZE = 224
# The reader's output depends on columns at most ~140 past the last ink column (its receptive
# field: stem 4 + stage 1 48 + down 8 + stage 2 72, plus the ink mask's one chunk), and columns
# beyond that are blank paper, exactly like padding. So reading a prefix that ends READ_RADIUS
# after the ink gives the same embedding (tested) at a fraction of the cost: most queries and tag
# names fit on one 224-column line, i.e. 384 of the canvas's 3,136 columns.
READ_RADIUS = 160
READ_TIERS = (224 + READ_RADIUS, 4 * 224 + READ_RADIUS)  # one line, four lines, else the canvas


def text_mask(pixels: torch.Tensor) -> torch.Tensor:
    """(N, S, S, 3) in [-1, 1] -> (N,) bool: the image is a rendering (ink and paper only)."""
    two_valued = ((pixels - PAPER).abs() < 2e-3) | (pixels < -0.998)  # (N, S, S, 3)
    return two_valued.float().mean(dim=(1, 2, 3)) > TEXT_SHARE


def photo_pixels(paths) -> np.ndarray:
    """Photos read as the package's manifest makes the app read them: uint8 (N, 224, 224, 3)."""
    from clippo_desktop.engine.imageio import read_photo

    return np.stack([read_photo(p, mode=PHOTO_PREPROCESS, size=224).pixels for p in paths])


def photo_features(net: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
    """(N, S, S, 3) in [-1, 1] -> EfficientNet-Lite0 feature map at PHOTO_SIZE (N, 1280, h, w)."""
    x = pixels.permute(0, 3, 1, 2)  # (N, 3, S, S)
    if x.shape[-1] != PHOTO_SIZE:
        x = F.interpolate(x, size=(PHOTO_SIZE, PHOTO_SIZE), mode="bilinear", antialias=True,
                          align_corners=False)
    return net.extract_features(x)


class PhotoBranch(nn.Module):
    def __init__(self, net: nn.Module, table: np.ndarray):
        super().__init__()
        self.net = net
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.float32))  # (1000, 512)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = photo_features(self.net, pixels)  # (N, 1280, 7, 7)
        logits = self.net._fc(f.mean(dim=(2, 3)))  # (N, 1000)
        p = torch.softmax(logits / concepts.TEMPERATURE, dim=-1)
        top, idx = p.topk(concepts.TOP_K, dim=-1)  # (N, k)
        w = top / top.sum(-1, keepdim=True)
        z = (w.unsqueeze(-1) * self.table[idx]).sum(1)  # (N, 512)
        sal = f.pow(2).sum(1, keepdim=True).sqrt()  # (N, 1, 7, 7): feature energy per cell
        sal = F.interpolate(sal, size=(GRID, GRID), mode="bilinear", align_corners=False).flatten(1)  # (N, 49)
        return F.normalize(z, dim=-1), sal / sal.sum(-1, keepdim=True).clamp_min(1e-12)


class TextBranch(nn.Module):
    def __init__(self, reader: Reader):
        super().__init__()
        self.reader = reader

    def read(self, cols: torch.Tensor, tier: int = 0) -> torch.Tensor:
        """(N, 16, L) ink columns -> (N, 512): the shortest READ_TIERS prefix that holds the ink.

        One `torch.cond` per tier (nested ONNX `If`s), decided by the whole batch.
        """
        if tier == len(READ_TIERS) or READ_TIERS[tier] >= cols.shape[-1]:
            return self.reader(cols)
        end = READ_TIERS[tier]
        fits = cols[..., end - READ_RADIUS:].amax(dim=(0, 1, 2)) == 0  # no ink within the radius of the cut

        def prefix(c):
            return self.reader(c[..., :end])  # (N, 16, end) -> (N, 512)

        def longer(c):
            return self.read(c, tier + 1)

        return torch.cond(fits, prefix, longer, (cols,))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ink = (pixels[..., 0] < -0.5).float()  # (N, S, S)
        z = self.read(unroll_lines(ink))  # (N, 512)
        n, s, _ = ink.shape
        cell = s // GRID
        dens = ink.reshape(n, GRID, cell, GRID, cell).mean(dim=(2, 4)).flatten(1) + 1e-6  # (N, 49)
        return z, dens / dens.sum(-1, keepdim=True)


class ClippoLite(nn.Module):
    def __init__(self, reader: Reader, net: nn.Module, table: np.ndarray):
        super().__init__()
        self.text = TextBranch(reader)
        self.photo = PhotoBranch(net, table)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        is_text = text_mask(pixels)  # (N,)

        def mixed(x):
            zt, at = self.text(x)
            zp, ap = self.photo(x)
            g = is_text.float().unsqueeze(-1)  # (N, 1)
            return g * zt + (1 - g) * zp, g * at + (1 - g) * ap

        def photo_or_mixed(x):
            return torch.cond(is_text.any(), mixed, self.photo, (x,))

        return torch.cond(is_text.all(), self.text, photo_or_mixed, (pixels,))


class TorchEmbedder:
    """A run's CLIPPO-Lite in PyTorch, with the evaluation's embedder interface (eval.py)."""

    def __init__(self, model: ClippoLite, batch: int = 32):
        self.model, self.batch = model.eval(), batch

    @classmethod
    def from_run(cls, run: Path, which: str = "best") -> "TorchEmbedder":
        from . import sources

        return cls(build(Path(run) / "checkpoints" / f"{which}.pt", sources.cache_dir() / "lite"))

    def _encode(self, pixels: np.ndarray) -> np.ndarray:
        from clippo_desktop.engine.encoder import value_range

        out = []
        with torch.no_grad():
            for i in range(0, len(pixels), self.batch):
                out.append(self.model(torch.from_numpy(value_range(pixels[i:i + self.batch])))[0].numpy())
        return np.concatenate(out) if out else np.zeros((0, 512), np.float32)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        from clippo_desktop.engine.render import render_texts

        return self._encode(render_texts(list(texts)))

    def encode_photos(self, paths) -> np.ndarray:
        return self._encode(photo_pixels(paths))


def build(reader_ckpt: Path, cache_folder: Path) -> ClippoLite:
    from .teachers import load_efficientnet_lite0
    from .train_lite import load_reader

    table = np.load(Path(cache_folder) / concepts.TABLE_FILE)
    return ClippoLite(load_reader(reader_ckpt), load_efficientnet_lite0(), table).eval()


def export_onnx(model: ClippoLite, path: Path, image_size: int = 224) -> Path:
    """The app's encoder contract, dynamic batch, one file (weights inside)."""
    import onnx

    x = torch.zeros(2, image_size, image_size, 3)
    with torch.no_grad():
        prog = torch.onnx.export(model, (x,), input_names=["pixels"],
                                 output_names=["embedding", "patch_attention"],
                                 dynamic_shapes={"pixels": {0: torch.export.Dim("batch")}}, dynamo=True)
    tmp = Path(path).with_suffix(".tmp.onnx")
    prog.save(str(tmp))
    m = onnx.load(str(tmp))
    tmp.unlink()
    tmp_data = tmp.with_name(tmp.name + ".data")
    if tmp_data.exists():
        tmp_data.unlink()
    del m.graph.value_info[:]  # optional shape notes the quantiser's shape inference disagrees with
    _strip(m.graph)
    used = _used_names(m.graph)
    unused = [i for i in m.graph.initializer if i.name not in used]
    for init in unused:  # constants the exporter left behind (ORT warns about each one)
        m.graph.initializer.remove(init)
    del m.metadata_props[:]
    onnx.save(m, str(path))
    return Path(path)


def _used_names(graph) -> set[str]:
    """Every value name read by a node of `graph` or of its subgraphs, or output by the graph."""
    import onnx

    names = {o.name for o in graph.output}
    for node in graph.node:
        names.update(node.input)
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                names |= _used_names(a.g)
    return names


def _strip(graph) -> None:
    """Drop the exporter's per-node stack traces (they tripled the file) in every subgraph."""
    import onnx

    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _strip(a.g)

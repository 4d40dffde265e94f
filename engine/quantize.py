"""Dynamic int8 quantisation of an encoder graph, and how far it moves the embeddings.

Only MatMuls with a constant weight are quantised (weights int8 once, activations per call);
the activation x activation MatMuls inside attention and the patch embedding stay float32. `reduce_range=True` is not
optional: on AVX2 CPUs without VNNI, ORT's u8 x s8 kernels saturate 16-bit intermediate sums
and the embeddings drift (cosine 0.83-0.92 to fp32, measured); 7-bit weights avoid it at no
speed cost, and give the same result on every CPU. See docs/stack-notes.md.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx

log = logging.getLogger(__name__)

# Weights left in float32. The patch embedding sees raw pixels: quantising its input to 8 dynamic
# levels-per-tensor on top of 7-bit weights dropped the cosine to fp32 from 0.999 to 0.965 on the
# golden rendered texts (two-valued images where the signal is small), and it is <1% of the FLOPs.
KEEP_FLOAT = frozenset({"img/embedding/kernel"})


def quantize_int8(src_path: str | os.PathLike, dst_path: str | os.PathLike, *, per_channel: bool = False) -> Path:
    """Write an int8 (dynamic, weight-only-static) copy of the fp32 model at `src_path`.

    The metadata (architecture JSON) is carried over. The file appears atomically. A graph with
    control flow (`If` branches), which the dynamic quantiser cannot rewrite, gets int8 weight
    storage with float32 compute instead (`int8_weights`).
    """
    from .int8_weights import has_control_flow, write_int8_weights

    src, dst = Path(src_path), Path(dst_path)
    model = onnx.load(str(src))
    if has_control_flow(model):
        n = write_int8_weights(model, dst)
        log.info("wrote int8-weight model %s (%d tensors, %.1f MB)", dst, n, dst.stat().st_size / 1e6)
        return dst
    from onnxruntime.quantization import QuantType, quantize_dynamic  # heavy import, only here

    weights = {i.name for i in model.graph.initializer} - KEEP_FLOAT
    const_b = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        quantize_dynamic(
            str(src), tmp,
            weight_type=QuantType.QInt8,
            reduce_range=True,  # 7-bit weights: no u8 x s8 saturation on AVX2 (see docstring)
            per_channel=per_channel,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=const_b,
            extra_options={"MatMulConstBOnly": True},
        )
        out = onnx.load(tmp)
        props = {p.key: p.value for p in model.metadata_props}
        props["clippo.quantization"] = f"dynamic int8, reduce_range, per_channel={per_channel}"
        onnx.helper.set_model_props(out, props)
        with open(tmp, "wb") as f:
            f.write(out.SerializeToString())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("wrote int8 model %s (%.1f MB)", dst, dst.stat().st_size / 1e6)
    return dst


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (N, E) arrays, in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)


def int8_cosines(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, pixels: np.ndarray,
                 *, threads: int | None = None) -> np.ndarray:
    """Per-input cosine between the fp32 and int8 embeddings of `pixels` (uint8 or float32)."""
    from .encoder import Encoder

    a = Encoder(fp32_path, threads=threads, providers=["CPUExecutionProvider"]).encode(pixels)
    b = Encoder(int8_path, threads=threads, providers=["CPUExecutionProvider"]).encode(pixels)
    return cosine_rows(a, b)


def int8_cosine(fp32_path: str | os.PathLike, int8_path: str | os.PathLike, pixels: np.ndarray,
                *, reduce: str = "min", threads: int | None = None) -> float:
    """The min (default) or mean cosine between fp32 and int8 embeddings over `pixels`."""
    cos = int8_cosines(fp32_path, int8_path, pixels, threads=threads)
    if reduce not in ("min", "mean"):
        raise ValueError("reduce must be 'min' or 'mean'")
    return float(cos.min() if reduce == "min" else cos.mean())

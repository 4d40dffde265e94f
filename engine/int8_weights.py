"""Weight-only int8 storage for graphs that ORT's dynamic quantiser cannot rewrite.

The quantiser walks only the main graph: MatMuls inside `If` branches (the CLIPPO-Lite router,
training/distill/lite.py) come out with shapes that no longer type-check, and the file does not
load. So for a graph with control flow the int8 variant keeps the computation in float32 and
stores the weights as int8: every large float initializer becomes an int8 tensor and one scale
per output channel (symmetric, |w| max / 127), restored by a `DequantizeLinear` node at the top
of the main graph, where every branch can see it. The encoder opens sessions with
`encoder.FOLD_WEIGHTS_CONFIG`, so ORT folds those nodes into float constants once at load: the file is
~4x smaller, and running it costs exactly what fp32 costs (the convolutions keep their
pre-packed weights; without the fold, photos ran 2x slower in the measurement that chose this).
The cosine to fp32 is checked by the package builder like any int8 variant.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MIN_ELEMENTS = 1024  # smaller tensors (biases, norms, scales) stay float: they are not the bytes
DESCRIPTION = "int8 weights (per output channel, symmetric), dequantised once at load; float32 compute"


def has_control_flow(model: onnx.ModelProto) -> bool:
    """True when a node carries a subgraph (If, Loop, Scan)."""
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
               for n in model.graph.node for a in n.attribute)


def _channel_axes(graph: onnx.GraphProto, names: set[str]) -> dict[str, set[int]]:
    """The output-channel axis each consumer implies for each of `names`, over all subgraphs."""
    axes: dict[str, set[int]] = {}
    for node in graph.node:
        for k, x in enumerate(node.input):
            if x in names:
                # MatMul's B is (K, N): channels are columns. Conv W (O, I, kh, kw), Gemm with
                # transB, a Transpose feeding a MatMul (PyTorch's (out, in) Linear weight) and a
                # Gather table all keep channels (or rows) on axis 0.
                axes.setdefault(x, set()).add(1 if node.op_type == "MatMul" and k == 1 else 0)
        for a in node.attribute:
            subs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
            for sub in subs:
                for x, ax in _channel_axes(sub, names).items():
                    axes.setdefault(x, set()).update(ax)
    return axes


def quantize_array(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """float (..., C on `axis`, ...) -> int8 of the same shape and (C,) float32 scales."""
    other = tuple(d for d in range(w.ndim) if d != axis)
    scale = np.abs(w).max(axis=other) / 127.0  # (C,)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.rint(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def quantize_weights(model: onnx.ModelProto) -> int:
    """Rewrite `model` in place; returns how many initializers became int8."""
    graph = model.graph
    inputs = {i.name for i in graph.input}  # an initializer that is also an input can be overridden
    big = {i.name for i in graph.initializer
           if i.data_type == TensorProto.FLOAT and len(i.dims) >= 2 and int(np.prod(i.dims)) >= MIN_ELEMENTS
           and i.name not in inputs}
    axes = _channel_axes(graph, big)
    kept, added, dq = [], [], []
    for init in graph.initializer:
        ax = axes.get(init.name, set())
        if init.name not in big or len(ax) != 1:
            kept.append(init)
            continue
        axis = next(iter(ax))
        q, scale = quantize_array(numpy_helper.to_array(init), axis)
        added += [numpy_helper.from_array(q, f"{init.name}__int8"),
                  numpy_helper.from_array(scale, f"{init.name}__scale")]
        dq.append(helper.make_node("DequantizeLinear", [f"{init.name}__int8", f"{init.name}__scale"],
                                   [init.name], axis=axis, name=f"{init.name}__dequantize"))
    nodes = dq + list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(kept + added)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(dq)


def write_int8_weights(model: onnx.ModelProto, dst: str | os.PathLike) -> int:
    """Quantise the loaded fp32 `model` (in place) and write it to `dst` atomically.

    Returns how many tensors became int8.
    """
    from .atomic import atomic_write

    n = quantize_weights(model)
    props = {p.key: p.value for p in model.metadata_props}
    props["clippo.quantization"] = DESCRIPTION
    onnx.helper.set_model_props(model, props)
    with atomic_write(Path(dst)) as f:
        f.write(model.SerializeToString())
    return n

"""Read a CLIPPO-Lite reader's weights back out of a shipped model package.

Why: the recipe continues across sessions from its run folders, but those are git-ignored; a
fresh clone has only what landed. The repository keeps the best reader as a checkpoint
(`best_checkpoint.py`), and the one package that shipped before that checkpoint existed (run I)
carried its weights only inside its ONNX graph. This module gets them back, so that chain of
runs continues instead of restarting.

What the export did to the weights, and how each is undone:
- most parameters are initializers under their module names (`text.reader.<name>`);
- int8 weights are `<name>__int8` with a per-output-channel `<name>__scale` (engine.int8_weights):
  w = q * scale, exact up to the int8 rounding the package already had;
- a depthwise kernel `w` (k, C) was constant-folded into k anonymous rows `w[i]` (C,), each
  multiplied with the slice `xp[:, i:i + L]` of its block's padded input (reader._shift_conv):
  the slice's start gives the tap i, and the padded input (one per block, in module order)
  gives the block;
- the score head's weight (1, E) became a transposed (E, 1) MatMul constant.

`check` compares the recovered reader with the package's own text embeddings; a wrong mapping
shows up there at once (measured: cosine 1.0000 for run I's package).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PREFIX = "text.reader."


class RecoveryError(RuntimeError):
    """The package's graph does not hold a reader this module can read back."""


def _graphs(graph) -> list:
    """`graph` and its subgraphs (the router's `If` branches), depth first in graph order."""
    import onnx

    out = [graph]
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out.extend(_graphs(a.g))
    return out


def _taps(graph, consts: dict[str, np.ndarray]) -> dict[str, dict[int, np.ndarray]]:
    """{padded block input: {tap i: row (C,)}} for the tap products in `graph` itself."""
    made = {n.output[0]: n for n in graph.node}
    taps: dict[str, dict[int, np.ndarray]] = {}
    for node in graph.node:
        if node.op_type != "Mul":
            continue
        rows = [x for x in node.input if x in consts and consts[x].ndim == 1 and x.startswith("select")]
        if len(rows) != 1:
            continue
        other = next(x for x in node.input if x != rows[0])
        sl = made.get(other)
        if sl is None or sl.op_type != "Slice" or sl.input[1] not in consts:
            raise RecoveryError(f"tap row {rows[0]} is not multiplied with a constant-start slice")
        tap = int(consts[sl.input[1]].reshape(-1)[0])
        taps.setdefault(sl.input[0], {}).setdefault(tap, consts[rows[0]])
    return taps


def _depthwise(graphs, consts: dict[str, np.ndarray], blocks: list[str], channels: dict[str, int]) -> dict:
    """{f"{block}.dw": (k, C)} from the folded tap rows of the first branch that runs the reader.

    Every branch that reads holds the same products (the rows are shared initializers)."""
    taps = next((t for g in graphs if (t := _taps(g, consts))), {})
    if len(taps) != len(blocks):
        raise RecoveryError(f"found depthwise taps for {len(taps)} blocks; the reader has {len(blocks)}")
    out = {}
    for block, rows in zip(blocks, taps.values()):  # dict order = first use = module order
        k = len(rows)
        if sorted(rows) != list(range(k)) or any(r.shape != (channels[block],) for r in rows.values()):
            raise RecoveryError(f"block {block}: taps {sorted(rows)} do not form one depthwise kernel")
        out[f"{block}.dw"] = np.stack([rows[i] for i in range(k)])  # (k, C)
    return out


def reader_state(onnx_path: Path, config: dict) -> dict[str, np.ndarray]:
    """The `Reader(**config)` state dict (float32 arrays) held by the ONNX graph at `onnx_path`."""
    import onnx
    from onnx import numpy_helper

    from .reader import Reader

    model = onnx.load(str(onnx_path))
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    want = {k: tuple(v.shape) for k, v in Reader(**config).state_dict().items()}
    state: dict[str, np.ndarray] = {}
    for key in want:
        name = PREFIX + key
        if name in consts:
            state[key] = consts[name]
        elif name + "__int8" in consts:
            q, scale = consts[name + "__int8"].astype(np.float32), consts[name + "__scale"]
            state[key] = q * scale.reshape((-1,) + (1,) * (q.ndim - 1))  # per output channel (axis 0)
    graphs = _graphs(model.graph)
    nodes = [n for g in graphs for n in g.node]
    blocks = [k[:-3] for k in want if k.endswith(".dw")]
    state.update(_depthwise(graphs, consts, blocks, {b: want[b + ".dw"][1] for b in blocks}))
    if "score.weight" not in state:
        out_dim = config["out_dim"]
        cands = {n.input[1] for n in nodes if n.op_type == "MatMul" and n.input[1] in consts
                 and consts[n.input[1]].shape == (out_dim, 1)}
        if len(cands) != 1:
            raise RecoveryError(f"expected one ({out_dim}, 1) score weight, found {len(cands)}")
        state["score.weight"] = consts[cands.pop()].T  # (1, E)
    missing = [k for k in want if k not in state]
    if missing:
        raise RecoveryError(f"the graph lacks reader weights {missing[:5]}")
    bad = [k for k in want if tuple(state[k].shape) != want[k]]
    if bad:
        raise RecoveryError(f"reader weights with the wrong shape: {bad[:5]}")
    return {k: np.array(v, dtype=np.float32) for k, v in state.items()}


def _package(folder: Path) -> tuple[dict, Path]:
    """(provenance, path of the default ONNX variant) of the package in `folder`."""
    from clippo_desktop.engine.manifest import Manifest

    manifest = Manifest.load(Path(folder))
    if "reader" not in manifest.provenance:
        raise RecoveryError(f"{folder} is not a CLIPPO-Lite package (its manifest names no reader)")
    return manifest.provenance, Path(folder) / manifest.variant_file()


def from_package(folder: Path):
    """(Reader in eval mode, provenance) of the CLIPPO-Lite package in `folder`."""
    import torch

    from .reader import Reader

    prov, graph = _package(folder)
    reader = Reader(**prov["reader"])
    state = reader_state(graph, prov["reader"])
    reader.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return reader.eval(), prov


def check(reader, folder: Path, texts: list[str]) -> float:
    """Minimum cosine between `reader`'s embeddings of `texts` and the package's own."""
    import torch

    from clippo_desktop.engine.encoder import Encoder
    from clippo_desktop.engine.render import render_texts

    from .train_lite import _encode

    with torch.no_grad():
        ours = _encode(reader, list(texts))  # (N, 512)
    theirs = Encoder(_package(folder)[1], threads=2).encode(render_texts(list(texts)))  # (N, 512)
    return float((ours * theirs).sum(-1).min())

"""Build the CLIPPO inference graph directly as ONNX, from canonical big_vision weights.

The app turns a checkpoint into a model without torch: this module writes the ViT as ONNX
operators with `onnx.helper`, arranged for ONNX Runtime's CPU kernels:

- patch embedding as reshape/transpose + one MatMul (quantisable, no NCHW conversion);
- embedding bias folded into the position table (one Add);
- one fused q/k/v MatMul per block, attention scale folded into the query weights;
- standard `LayerNormalization` (opset 17) and `Gelu(approximate="tanh")` (opset 20), which
  ORT fuses with the adjacent Add/bias (SkipLayerNormalization, BiasGelu) at ORT_ENABLE_ALL;
- the MAP probe's query projection precomputed (it does not depend on the input).

Input `pixels` float32 (batch, S, S, 3) in [-1, 1]. Outputs `embedding` (batch, E), L2-normalised
as big_vision does (logits / (norm + 1e-8)), and `patch_attention` (batch, N): where the pooled
vector looked (MAP attention averaged over heads; uniform for gap; the class token's last-layer
attention for tok). Shapes below: B batch, T tokens, N patches, D width, H heads, K head dim.
"""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .architecture import ViTArch

OPSET = 20  # Gelu(approximate="tanh") needs 20; onnxruntime 1.31 runs it natively.
FORMAT_VERSION = 1
META_ARCH = "clippo.architecture"
META_FORMAT = "clippo.format_version"


class _Graph:
    """A tiny node/initializer accumulator with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def weight(self, name: str, array: np.ndarray, dtype=np.float32) -> str:
        # np.array (not ascontiguousarray): keeps 0-d scalars 0-d, e.g. Gather indices.
        self.inits.append(numpy_helper.from_array(np.array(array, dtype=dtype, order="C"), name))
        return name

    def ints(self, values) -> str:
        return self.weight(self._name("const"), np.asarray(values, dtype=np.int64), np.int64)

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, name: str | None = None, **attrs):
        base = name or op_type
        outs = [self._name(base) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self._name(base + "_node"), **attrs))
        return outs[0] if n_out == 1 else outs


def sincos2d_table(grid: int, width: int, temperature: float = 10_000.0) -> np.ndarray:
    """big_vision's fixed 2-D position table, (1, grid*grid, width), computed in float64."""
    if width % 4:
        raise ValueError("sincos2d needs a width divisible by 4")
    q = width // 4
    omega = 1.0 / temperature ** (np.arange(q, dtype=np.float64) / (q - 1))  # (q,)
    y, x = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    x = x.reshape(-1, 1) * omega[None]  # (N, q)
    y = y.reshape(-1, 1) * omega[None]  # (N, q)
    return np.concatenate([np.sin(x), np.cos(x), np.sin(y), np.cos(y)], axis=1)[None].astype(np.float32)


class _Builder:
    def __init__(self, arch: ViTArch, params: dict[str, np.ndarray]):
        self.a = arch
        self.p = params
        self.g = _Graph()

    def w(self, key: str) -> np.ndarray:
        return np.asarray(self.p[key], dtype=np.float32)

    # -- pieces --------------------------------------------------------------------------------
    def dense(self, x: str, kernel: np.ndarray, bias: np.ndarray, name: str) -> str:
        g = self.g
        y = g.op("MatMul", [x, g.weight(f"{name}/kernel", kernel)], name=f"{name}/MatMul")
        return g.op("Add", [y, g.weight(f"{name}/bias", bias)], name=f"{name}/Add")

    def layernorm(self, x: str, prefix: str) -> str:
        g = self.g
        return g.op("LayerNormalization", [x, g.weight(f"{prefix}/scale", self.w(f"{prefix}/scale")),
                                           g.weight(f"{prefix}/bias", self.w(f"{prefix}/bias"))],
                    name=prefix, axis=-1, epsilon=float(self.a.layernorm_eps))

    def mlp(self, x: str, prefix: str) -> str:
        h = self.dense(x, self.w(f"{prefix}/Dense_0/kernel"), self.w(f"{prefix}/Dense_0/bias"), f"{prefix}/Dense_0")
        h = self.g.op("Gelu", [h], name=f"{prefix}/Gelu", approximate="tanh")
        return self.dense(h, self.w(f"{prefix}/Dense_1/kernel"), self.w(f"{prefix}/Dense_1/bias"), f"{prefix}/Dense_1")

    def heads(self, x: str, perm: list[int], name: str) -> str:
        """(B, T, D) -> (B, H, T, K) with perm (0,2,1,3), or (B, H, K, T) with perm (0,2,3,1)."""
        y = self.g.op("Reshape", [x, self.g.ints([0, 0, self.a.num_heads, self.a.head_dim])], name=name)
        return self.g.op("Transpose", [y], name=name, perm=perm)

    def merge_heads(self, o: str, prefix: str) -> str:
        """(B, H, T, K) -> (B, T, D) -> out projection."""
        a, g = self.a, self.g
        o = g.op("Transpose", [o], name=f"{prefix}/merge", perm=[0, 2, 1, 3])  # (B, T, H, K)
        o = g.op("Reshape", [o, g.ints([0, 0, a.width])], name=f"{prefix}/merge")  # (B, T, D)
        return self.dense(o, self.w(f"{prefix}/out/kernel").reshape(a.width, a.width),
                          self.w(f"{prefix}/out/bias"), f"{prefix}/out")

    def qkv_weights(self, prefix: str, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Concatenated (D, len*D) kernel and bias; the query part pre-scaled by 1/sqrt(K)."""
        d, scale = self.a.width, 1.0 / math.sqrt(self.a.head_dim)
        ks, bs = [], []
        for n in names:
            k = self.w(f"{prefix}/{n}/kernel").reshape(d, d)
            b = self.w(f"{prefix}/{n}/bias").reshape(d)
            if n == "query":
                k, b = k * np.float32(scale), b * np.float32(scale)
            ks.append(k)
            bs.append(b)
        return np.concatenate(ks, axis=1), np.concatenate(bs)

    def self_attention(self, y: str, prefix: str) -> tuple[str, str]:
        """Returns (output (B, T, D), probabilities (B, H, T, T))."""
        g = self.g
        kernel, bias = self.qkv_weights(prefix, ("query", "key", "value"))
        qkv = self.dense(y, kernel, bias, f"{prefix}/qkv")  # (B, T, 3D)
        q, k, v = g.op("Split", [qkv], n_out=3, name=f"{prefix}/split", axis=-1, num_outputs=3)  # 3x (B, T, D)
        q = self.heads(q, [0, 2, 1, 3], f"{prefix}/q")  # (B, H, T, K), already scaled
        k = self.heads(k, [0, 2, 3, 1], f"{prefix}/k")  # (B, H, K, T)
        v = self.heads(v, [0, 2, 1, 3], f"{prefix}/v")  # (B, H, T, K)
        s = g.op("MatMul", [q, k], name=f"{prefix}/scores")  # (B, H, T, T)
        probs = g.op("Softmax", [s], name=f"{prefix}/softmax", axis=-1)
        o = g.op("MatMul", [probs, v], name=f"{prefix}/context")  # (B, H, T, K)
        return self.merge_heads(o, prefix), probs

    def block(self, x: str, i: int) -> tuple[str, str]:
        prefix = f"img/Transformer/encoderblock_{i}"
        y = self.layernorm(x, f"{prefix}/LayerNorm_0")
        o, probs = self.self_attention(y, f"{prefix}/MultiHeadDotProductAttention_0")
        x = self.g.op("Add", [x, o], name=f"{prefix}/residual_0")
        y = self.layernorm(x, f"{prefix}/LayerNorm_1")
        return self.g.op("Add", [x, self.mlp(y, f"{prefix}/MlpBlock_0")], name=f"{prefix}/residual_1"), probs

    def map_head(self, x: str) -> tuple[str, str]:
        """MAP pooling: (B, N, D) -> pooled (B, D), attention (B, N)."""
        a, g, prefix = self.a, self.g, "img/MAPHead_0"
        attn = f"{prefix}/MultiHeadDotProductAttention_0"
        qk, qb = self.qkv_weights(attn, ("query",))
        q = (self.w(f"{prefix}/probe").reshape(1, a.width) @ qk + qb)  # (1, D), scaled, input-independent
        q = g.weight(f"{attn}/probe_query", q.reshape(1, 1, a.num_heads, a.head_dim).transpose(0, 2, 1, 3))
        kernel, bias = self.qkv_weights(attn, ("key", "value"))
        kv = self.dense(x, kernel, bias, f"{attn}/kv")  # (B, N, 2D)
        k, v = g.op("Split", [kv], n_out=2, name=f"{attn}/split", axis=-1, num_outputs=2)
        k = self.heads(k, [0, 2, 3, 1], f"{attn}/k")  # (B, H, K, N)
        v = self.heads(v, [0, 2, 1, 3], f"{attn}/v")  # (B, H, N, K)
        s = g.op("MatMul", [q, k], name=f"{attn}/scores")  # (B, H, 1, N)
        probs = g.op("Softmax", [s], name=f"{attn}/softmax", axis=-1)
        o = self.merge_heads(g.op("MatMul", [probs, v], name=f"{attn}/context"), attn)  # (B, 1, D)
        o = g.op("Add", [o, self.mlp(self.layernorm(o, f"{prefix}/LayerNorm_0"), f"{prefix}/MlpBlock_0")],
                 name=f"{prefix}/residual")
        pooled = g.op("Reshape", [o, g.ints([-1, a.width])], name=f"{prefix}/pooled")  # (B, D)
        mean = g.op("ReduceMean", [probs, g.ints([1])], name=f"{attn}/head_mean", keepdims=0)  # (B, 1, N)
        return pooled, g.op("Reshape", [mean, g.ints([-1, a.num_patches])], name="patch_attention_reshape")

    def uniform_attention(self, pixels: str) -> str:
        g, n = self.g, self.a.num_patches
        batch = g.op("Slice", [g.op("Shape", [pixels]), g.ints([0]), g.ints([1])], name="batch")
        shape = g.op("Concat", [batch, g.ints([n])], name="attn_shape", axis=0)
        value = numpy_helper.from_array(np.array([1.0 / n], dtype=np.float32))
        return g.op("ConstantOfShape", [shape], name="uniform_attention", value=value)

    def cls_attention(self, probs: str) -> str:
        """tok: the class token's last-layer attention to the patches, head mean, renormalised."""
        g, n = self.g, self.a.num_patches
        row = g.op("Gather", [probs, g.ints(0)], name="cls_row", axis=2)  # (B, H, 1+N)
        row = g.op("ReduceMean", [row, g.ints([1])], name="cls_head_mean", keepdims=0)  # (B, 1+N)
        row = g.op("Slice", [row, g.ints([1]), g.ints([1 + n]), g.ints([1])], name="cls_patches")  # (B, N)
        total = g.op("ReduceSum", [row, g.ints([1])], name="cls_total", keepdims=1)
        return g.op("Div", [row, total], name="cls_attention")

    # -- whole graph ---------------------------------------------------------------------------
    def build(self) -> onnx.ModelProto:
        a, g = self.a, self.g
        s, p, n, d = a.image_size, a.patch_size, a.num_patches, a.width
        x = g.op("Reshape", ["pixels", g.ints([-1, a.grid, p, a.grid, p, 3])], name="patchify")
        x = g.op("Transpose", [x], name="patchify", perm=[0, 1, 3, 2, 4, 5])  # (B, g, g, P, P, 3)
        x = g.op("Reshape", [x, g.ints([-1, n, p * p * 3])], name="patchify")  # (B, N, P*P*3)
        kernel = self.w("img/embedding/kernel").reshape(p * p * 3, d)  # HWIO flattens as (py, px, c)
        x = g.op("MatMul", [x, g.weight("img/embedding/kernel", kernel)], name="img/embedding")  # (B, N, D)
        pos = self.w("img/pos_embedding") if a.posemb == "learn" else sincos2d_table(a.grid, d)
        x = g.op("Add", [x, g.weight("img/embedding/bias+pos", pos + self.w("img/embedding/bias"))],
                 name="img/with_posemb")
        if a.pool_type == "tok":
            batch = g.op("Slice", [g.op("Shape", [x]), g.ints([0]), g.ints([1])], name="batch")
            cls = g.op("Expand", [g.weight("img/cls", self.w("img/cls")),
                                  g.op("Concat", [batch, g.ints([1, 1])], name="cls_shape", axis=0)], name="cls")
            x = g.op("Concat", [cls, x], name="with_cls", axis=1)  # (B, 1+N, D)
        probs = ""
        for i in range(a.depth):
            x, probs = self.block(x, i)
        x = self.layernorm(x, "img/Transformer/encoder_norm")  # encoded (B, T, D)
        if a.pool_type == "map":
            pooled, attention = self.map_head(x)
        elif a.pool_type == "gap":
            pooled = g.op("ReduceMean", [x, g.ints([1])], name="gap", keepdims=0)
            attention = self.uniform_attention("pixels")
        else:
            pooled = g.op("Gather", [x, g.ints(0)], name="tok", axis=1)
            attention = self.cls_attention(probs)
        logits = pooled
        if a.out_dim:
            logits = self.dense(pooled, self.w("img/head/kernel"), self.w("img/head/bias"), "img/head")
        norm = g.op("ReduceL2", [logits, g.ints([-1])], name="norm", keepdims=1)  # (B, 1)
        norm = g.op("Add", [norm, g.weight("eps", np.array(1e-8, dtype=np.float32))], name="norm_eps")
        g.nodes.append(helper.make_node("Div", [logits, norm], ["embedding"], name="normalize"))
        g.nodes.append(helper.make_node("Identity", [attention], ["patch_attention"], name="patch_attention"))
        graph = helper.make_graph(
            g.nodes, "clippo_vit",
            [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", s, s, 3])],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", a.embed_dim]),
             helper.make_tensor_value_info("patch_attention", TensorProto.FLOAT, ["batch", n])],
            initializer=g.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="clippo-desktop", doc_string="CLIPPO one-tower ViT encoder")
        model.ir_version = 9  # onnxruntime 1.31 reads IR <= 11; 9 keeps older runtimes working too
        helper.set_model_props(model, {META_ARCH: json.dumps(a.to_dict(), sort_keys=True),
                                       META_FORMAT: str(FORMAT_VERSION)})
        return model


def build_onnx(arch: ViTArch, params: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The inference graph for `arch` with canonical weights `params` (see module docstring)."""
    missing = [k for k in _required_keys(arch) if k not in params]
    if missing:
        raise KeyError(f"params lack {missing[:5]} for {arch}")
    return _Builder(arch, params).build()


def _required_keys(arch: ViTArch) -> list[str]:
    from .npz_reader import expected_param_shapes  # local: keep the leaf modules independent

    return [k for k in expected_param_shapes(arch) if k != "t"]


def architecture_of(model: onnx.ModelProto) -> ViTArch:
    """Read the architecture stored in a model built here."""
    props = {p.key: p.value for p in model.metadata_props}
    return ViTArch.from_dict(json.loads(props[META_ARCH]))

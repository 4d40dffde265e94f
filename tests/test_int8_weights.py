"""Weight-only int8 storage (engine/int8_weights.py) on a real ONNX graph with `If` branches."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from clippo_desktop.engine.encoder import FOLD_WEIGHTS_CONFIG
from clippo_desktop.engine.int8_weights import has_control_flow, quantize_array, write_int8_weights
from clippo_desktop.engine.quantize import cosine_rows, quantize_int8

RNG = np.random.default_rng(0)
W1 = RNG.normal(size=(64, 128)).astype(np.float32)  # MatMul B: channels are columns
W2 = RNG.normal(size=(128, 64)).astype(np.float32) * np.linspace(0.01, 3, 128, dtype=np.float32)[:, None]  # (out, in)


def branching_graph() -> onnx.ModelProto:
    """x (N, 64) -> x @ W1 when mean(x) > 0, else x @ W2.T (a PyTorch Linear weight)."""
    then_g = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["y_then"])], "then", [],
                               [helper.make_tensor_value_info("y_then", TensorProto.FLOAT, None)])
    else_g = helper.make_graph([helper.make_node("Transpose", ["w2"], ["w2t"], perm=[1, 0]),
                                helper.make_node("MatMul", ["x", "w2t"], ["y_else"])], "else", [],
                               [helper.make_tensor_value_info("y_else", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0),
             helper.make_node("Greater", ["m", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)]
    graph = helper.make_graph(
        nodes, "branching", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 128])],
        [numpy_helper.from_array(W1, "w1"), numpy_helper.from_array(W2, "w2"),
         numpy_helper.from_array(np.float32(0), "zero")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)


def run(path, x, fold=True, optimized=None):
    so = ort.SessionOptions()
    if fold:
        so.add_session_config_entry(*FOLD_WEIGHTS_CONFIG)
    if optimized:
        so.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.fixture()
def models(tmp_path):
    fp32 = tmp_path / "model.onnx"
    onnx.save(branching_graph(), str(fp32))
    return fp32, quantize_int8(fp32, tmp_path / "model.int8.onnx")


def test_per_channel_int8_restores_every_weight_within_half_a_step():
    q, scale = quantize_array(W2, axis=0)
    assert q.dtype == np.int8 and scale.shape == (128,)
    assert np.all(np.abs(q.astype(np.float32) * scale[:, None] - W2) <= scale[:, None] / 2 + 1e-7)
    assert np.abs(q).max(axis=1).min() == 127  # every channel uses its full range


def test_a_graph_with_branches_gets_int8_weights_and_both_branches_keep_a_cosine_above_0_9999(models):
    fp32, int8 = models
    assert has_control_flow(onnx.load(str(fp32)))
    stored = {i.name: i.data_type for i in onnx.load(str(int8)).graph.initializer}
    assert stored["w1__int8"] == stored["w2__int8"] == TensorProto.INT8 and "w1" not in stored
    assert int8.stat().st_size < 0.3 * fp32.stat().st_size
    for sign in (1.0, -1.0):  # mean > 0 takes the then branch, else the else branch
        x = np.abs(RNG.normal(size=(8, 64))).astype(np.float32) * sign
        assert cosine_rows(run(fp32, x), run(int8, x)).min() > 0.9999
    meta = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert meta["clippo.quantization"].startswith("int8 weights")


def test_the_encoders_session_config_folds_the_dequantisation_into_constants_at_load(models, tmp_path):
    _fp32, int8 = models
    x = np.ones((2, 64), np.float32)
    run(int8, x, fold=True, optimized=tmp_path / "folded.onnx")
    run(int8, x, fold=False, optimized=tmp_path / "kept.onnx")
    ops = {name: [n.op_type for n in onnx.load(str(tmp_path / f"{name}.onnx")).graph.node]
           for name in ("folded", "kept")}
    assert "DequantizeLinear" not in ops["folded"] and ops["kept"].count("DequantizeLinear") == 2


def test_a_graph_without_branches_still_gets_the_dynamic_quantiser(tmp_path):
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w1"], ["y"])], "plain",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 128])],
                              [numpy_helper.from_array(W1, "w1")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(tmp_path / "p.onnx"))
    ops = {n.op_type for n in onnx.load(str(quantize_int8(tmp_path / "p.onnx", tmp_path / "q.onnx"))).graph.node}
    assert "DequantizeLinear" not in ops and ops & {"MatMulInteger", "DynamicQuantizeLinear"}


def test_weights_the_channel_axes_disagree_on_stay_float(tmp_path):
    model = branching_graph()
    model.graph.node[2].attribute[0].g.node.append(helper.make_node("MatMul", ["x2", "w1"], ["unused"]))
    model.graph.node.insert(0, helper.make_node("MatMul", ["w1", "w1t_probe"], ["x2"]))  # w1 as MatMul A
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((128, 64), np.float32), "w1t_probe"))
    write_int8_weights(model, tmp_path / "m8.onnx")
    stored = {i.name: i.data_type for i in onnx.load(str(tmp_path / "m8.onnx")).graph.initializer}
    assert stored["w1"] == TensorProto.FLOAT and stored["w2__int8"] == TensorProto.INT8

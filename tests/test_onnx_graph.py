"""The torch-free ONNX builder against big_vision's golden vectors, run by real ORT sessions."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.engine.npz_reader import expected_param_shapes
from clippo_desktop.engine.onnx_graph import architecture_of, build_onnx

GOLDEN_ARCH = ViTArch(width=96, depth=12, mlp_dim=384, num_heads=3, out_dim=768)


def _session(model: onnx.ModelProto, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, optimized_path=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    so.intra_op_num_threads = 1
    if optimized_path:
        so.optimized_model_filepath = str(optimized_path)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def golden_model(golden_params) -> onnx.ModelProto:
    return build_onnx(GOLDEN_ARCH, golden_params)


def test_built_graph_passes_the_onnx_checker_and_stores_its_architecture(golden_model):
    onnx.checker.check_model(golden_model, full_check=True)
    assert architecture_of(golden_model) == GOLDEN_ARCH
    assert [i.name for i in golden_model.graph.input] == ["pixels"]
    assert [o.name for o in golden_model.graph.output] == ["embedding", "patch_attention"]


@pytest.mark.parametrize("level", [ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                                   ort.GraphOptimizationLevel.ORT_ENABLE_ALL])
def test_ort_embeddings_match_big_vision_golden_vectors(golden_model, golden, level):
    sess = _session(golden_model, level)
    zimg, attn = sess.run(None, {"pixels": golden["image_input"]})
    ztxt, _ = sess.run(None, {"pixels": golden["text_input"]})
    np.testing.assert_allclose(zimg, golden["img_normalized"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ztxt, golden["txt_normalized"], rtol=0, atol=1e-6)
    assert attn.shape == (4, 196)
    assert (attn >= 0).all()
    np.testing.assert_allclose(attn.sum(1), 1.0, atol=1e-5)


def test_batch_of_one_and_batch_of_seven_give_the_same_rows(golden_model, golden):
    sess = _session(golden_model)
    x = np.concatenate([golden["image_input"], golden["text_input"]])  # (14, 224, 224, 3)
    sevens = np.concatenate([sess.run(None, {"pixels": x[i:i + 7]})[0] for i in (0, 7)])
    ones = np.concatenate([sess.run(None, {"pixels": x[i:i + 1]})[0] for i in range(14)])
    np.testing.assert_allclose(sevens, ones, rtol=0, atol=1e-6)


def test_ort_fuses_gelu_with_its_bias_and_keeps_weights_as_initializers(golden_model, tmp_path):
    out = tmp_path / "opt.onnx"
    _session(golden_model, optimized_path=out)
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert "Gelu" not in ops and ({"FastGelu", "BiasGelu"} & ops)
    assert "LayerNormalization" in ops or "SkipLayerNormalization" in ops
    assert len(golden_model.graph.initializer) > 100
    # One fused q/k/v projection per block: 12 blocks x 1 + MAP k/v (1) matmuls of width 3D/2D.
    widths = [i.dims[-1] for i in golden_model.graph.initializer if i.name.endswith("qkv/kernel")]
    assert widths == [3 * 96] * 12


def _random_params(arch: ViTArch, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {}
    for key, shape in expected_param_shapes(arch).items():
        scale = 1 / np.sqrt(shape[0]) if len(shape) > 1 and shape[0] > 1 else 0.5
        params[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return params


@pytest.mark.parametrize("posemb,pool,out_dim", [("sincos2d", "gap", 0), ("learn", "tok", 48), ("sincos2d", "map", 0)])
def test_variants_build_and_produce_normalised_embeddings(posemb, pool, out_dim):
    arch = ViTArch(width=32, depth=2, mlp_dim=64, num_heads=2, patch_size=8, image_size=32,
                   posemb=posemb, pool_type=pool, out_dim=out_dim)
    sess = _session(build_onnx(arch, _random_params(arch)))
    x = np.random.default_rng(2).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    emb, attn = sess.run(None, {"pixels": x})
    assert emb.shape == (3, out_dim or 32) and attn.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(attn.sum(1), 1.0, atol=1e-5)
    if pool == "gap":
        np.testing.assert_array_equal(attn, np.full((3, 16), 1 / 16, np.float32))
    assert not np.allclose(emb[0], emb[1])


def test_missing_parameters_are_named(golden_params):
    params = dict(golden_params)
    del params["img/MAPHead_0/probe"]
    with pytest.raises(KeyError, match="img/MAPHead_0/probe"):
        build_onnx(GOLDEN_ARCH, params)

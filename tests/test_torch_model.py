"""The PyTorch tower against big_vision's golden activations and losses, and against the ONNX graph."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.engine.npz_reader import expected_param_shapes
from clippo_desktop.engine.onnx_graph import build_onnx

torch = pytest.importorskip("torch")
from clippo_desktop.training.model import ClippoTower  # noqa: E402  (needs torch)

GOLDEN_ARCH = ViTArch(width=96, depth=12, mlp_dim=384, num_heads=3, out_dim=768)
ACTIVATIONS = ("stem", "with_posemb", "block00_out", "encoded", "pre_logits", "logits")


def _contrastive_loss(za: torch.Tensor, zb: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """big_vision's bidirectional contrastive loss: mean of row- and column-softmax CE on the diagonal."""
    logits = za @ zb.T * t  # (B, B)
    labels = torch.arange(za.shape[0])
    return 0.5 * (torch.nn.functional.cross_entropy(logits, labels)
                  + torch.nn.functional.cross_entropy(logits.T, labels))


@pytest.fixture(scope="module")
def golden_tower(golden_params) -> ClippoTower:
    torch.manual_seed(0)
    model = ClippoTower(GOLDEN_ARCH).eval()
    model.load_bigvision_params(golden_params)
    return model


@pytest.fixture(scope="module")
def golden_outputs(golden_tower, golden):
    with torch.no_grad():
        _, img = golden_tower(torch.from_numpy(golden["image_input"]), intermediates=True)
        _, txt = golden_tower(torch.from_numpy(golden["text_input"]), intermediates=True)
    return {"img": {k: v.numpy() for k, v in img.items()}, "txt": {k: v.numpy() for k, v in txt.items()}}


@pytest.mark.parametrize("side", ["img", "txt"])
def test_torch_activations_match_golden_vectors(golden_outputs, golden, side):
    out = golden_outputs[side]
    for name in ACTIVATIONS:
        np.testing.assert_allclose(out[name], golden[f"{side}_{name}"], rtol=0, atol=1e-4, err_msg=name)
    np.testing.assert_allclose(out["normalized"], golden[f"{side}_normalized"], rtol=0, atol=1e-6)


def test_torch_contrastive_losses_match_golden_values(golden_tower, golden_outputs, golden):
    zimg = torch.from_numpy(golden_outputs["img"]["normalized"])
    ztxt = torch.from_numpy(golden_outputs["txt"]["normalized"])
    t = golden_tower.temperature.detach()
    assert float(t) == pytest.approx(float(golden["t"][0]), abs=1e-6)
    np.testing.assert_allclose((zimg @ ztxt.T * t).numpy(), golden["logits_img_txt"], rtol=0, atol=1e-4)
    assert float(_contrastive_loss(zimg[:4], ztxt[:4], t)) == pytest.approx(
        float(golden["loss_img0to3_txt0to3"]), abs=1e-5)
    assert float(_contrastive_loss(ztxt[:4], ztxt[4:8], t)) == pytest.approx(
        float(golden["loss_txt0to3_txt4to7"]), abs=1e-5)


def test_bigvision_params_round_trip_exactly(golden_tower, golden_params):
    out = golden_tower.bigvision_params()
    assert set(out) == set(golden_params)
    for key, value in golden_params.items():
        np.testing.assert_array_equal(out[key], value, err_msg=key)


@pytest.mark.parametrize("variant", ["mu/16", "Ti/16", "S/16", "B/16"])
def test_size_variants_build_run_and_match_the_checkpoint_layout(variant):
    arch = ViTArch.from_variant(variant, image_size=32)  # 2x2 patches keeps B/16 cheap
    torch.manual_seed(0)
    model = ClippoTower(arch).eval()
    params = model.bigvision_params()
    assert {k: v.shape for k, v in params.items()} == expected_param_shapes(arch)
    x = torch.rand(2, 32, 32, 3) * 2 - 1
    with torch.no_grad():
        z = model(x)
    assert z.shape == (2, 768)
    np.testing.assert_allclose(z.norm(dim=1).numpy(), 1.0, atol=1e-5)


def _ort(model) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def test_onnx_graph_equals_torch_on_the_golden_model_including_map_attention(golden_tower, golden_params, golden):
    sess = _ort(build_onnx(GOLDEN_ARCH, golden_params))
    x = np.concatenate([golden["image_input"], golden["text_input"][:3]])
    emb, attn = sess.run(None, {"pixels": x})
    xt = torch.from_numpy(x)
    with torch.no_grad():
        z, out = golden_tower(xt, intermediates=True)
        probe = golden_tower.map_head.probe.expand(x.shape[0], -1, -1)
        weights = golden_tower.map_head.attn.weights(probe, out["encoded"])  # (B, H, 1, N)
    np.testing.assert_allclose(emb, z.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(attn, weights.mean(1)[:, 0].numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("posemb,pool,out_dim", [("sincos2d", "gap", 0), ("sincos2d", "tok", 64),
                                                 ("learn", "gap", 64), ("learn", "tok", 0)])
def test_variant_graphs_equal_torch(posemb, pool, out_dim):
    arch = ViTArch(width=48, depth=2, mlp_dim=96, num_heads=3, patch_size=8, image_size=32,
                   posemb=posemb, pool_type=pool, out_dim=out_dim)
    torch.manual_seed(1)
    model = ClippoTower(arch).eval()
    if model.cls is not None:
        torch.nn.init.normal_(model.cls)  # zero-init would hide a wrong class-token path
    x = np.random.default_rng(3).uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    emb, attn = _ort(build_onnx(arch, model.bigvision_params())).run(None, {"pixels": x})
    with torch.no_grad():
        z = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(emb, z, rtol=0, atol=1e-5)
    assert attn.shape == (3, 16)
    np.testing.assert_allclose(attn.sum(1), 1.0, atol=1e-5)

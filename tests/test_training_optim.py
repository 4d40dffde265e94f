"""big_vision's Adafactor variant and the schedules, checked against the spec's formulas."""

from __future__ import annotations

import math

import numpy as np
import torch

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.training.model import ClippoTower
from clippo_desktop.training.optim import (BigVisionAdafactor, build_optimizer, clip_grad_global_norm,
                                           factored_dims, param_names_and_views, schedule_multiplier)


def _bf16(x: np.ndarray) -> np.ndarray:
    return torch.from_numpy(x).to(torch.bfloat16).float().numpy()


def _hand_adafactor(w, b, grads, lr, wd, scheds):
    """Spec §7.3 written out with numpy: factored v for W (rows 40 x cols 32), full v for b."""
    w, b = w.copy(), b.copy()
    R = np.zeros(32, np.float32)  # mean over the largest axis (40)
    C = np.zeros(40, np.float32)  # mean over the second-largest axis (32)
    vb = np.zeros_like(b)
    mw, mb = np.zeros_like(w), np.zeros_like(b)  # bf16-valued
    for step, ((gw, gb), s) in enumerate(zip(grads, scheds)):
        beta2 = min(0.999, 1.0 - (step + 1.0) ** -0.8)
        R = beta2 * R + (1 - beta2) * (gw**2 + 1e-30).mean(axis=0)
        C = beta2 * C + (1 - beta2) * (gw**2 + 1e-30).mean(axis=1)
        vhat = np.outer(C, R) / R.mean()  # (40, 32): v_ij ~ C_i R_j / mean(R)
        uw = gw / np.sqrt(vhat)
        vb = beta2 * vb + (1 - beta2) * (gb**2 + 1e-30)
        ub = gb / np.sqrt(vb)
        uw = 0.1 * uw + _bf16(0.9 * mw)  # (0.9*mu) is computed in bf16
        ub = 0.1 * ub + _bf16(0.9 * mb)
        mw, mb = _bf16(uw), _bf16(ub)
        w = w - s * (lr * uw + wd * w)  # decay on the kernel only, wd x schedule, not x lr
        b = b - s * (lr * ub)
    return w, b


def test_adafactor_matches_a_hand_computation_of_the_spec_for_two_steps():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((40, 32)).astype(np.float32)
    b0 = rng.standard_normal(5).astype(np.float32)
    grads = [(rng.standard_normal((40, 32)).astype(np.float32), rng.standard_normal(5).astype(np.float32))
             for _ in range(2)]
    scheds = [1.0, 0.5]
    lr, wd = 1e-2, 1e-3
    pw, pb = torch.nn.Parameter(torch.from_numpy(w0.copy())), torch.nn.Parameter(torch.from_numpy(b0.copy()))
    opt = BigVisionAdafactor([{"params": [pw, pb], "views": [None, None], "decay": [True, False]}], lr=lr, wd=wd)
    for (gw, gb), s in zip(grads, scheds):
        pw.grad, pb.grad = torch.from_numpy(gw), torch.from_numpy(gb)
        opt.param_groups[0]["sched"] = s
        opt.step()
    hw, hb = _hand_adafactor(w0, b0, grads, lr, wd, scheds)
    np.testing.assert_allclose(pw.detach().numpy(), hw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pb.detach().numpy(), hb, rtol=1e-5, atol=1e-6)
    assert opt.state[pw]["mu"].dtype == torch.bfloat16
    assert set(opt.state[pw]) >= {"v_row", "v_col"} and "v" in opt.state[pb]


def test_factoring_follows_the_flax_shapes_of_a_clippo_tower():
    assert factored_dims((96, 3, 32)) == (2, 0)  # query kernel (D, H, K): K and D
    assert factored_dims((96, 3, 16)) is None  # second-largest 16 < 32
    assert factored_dims((768,)) is None
    tower = ClippoTower(ViTArch(width=64, depth=1, mlp_dim=128, num_heads=2, out_dim=32))
    meta = param_names_and_views(tower)
    q = tower.blocks[0].attn.query.weight  # torch (H*K, D) = (64, 64)
    key, view = meta[q]
    assert key.endswith("query/kernel")
    flax = tower.bigvision_params()[key]
    assert tuple(q.reshape(view[0]).permute(view[1]).shape) == flax.shape == (64, 2, 32)
    np.testing.assert_array_equal(q.detach().reshape(view[0]).permute(view[1]).numpy(), flax)


def test_weight_decay_applies_to_kernels_only():
    tower = ClippoTower(ViTArch(width=32, depth=1, mlp_dim=64, num_heads=2, out_dim=16))
    opt = build_optimizer(tower, "adamw", 1e-3, 0.1)
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    assert id(tower.blocks[0].mlp.fc1.weight) in decayed and id(tower.embedding.weight) in decayed
    for p in (tower.t, tower.pos_embedding, tower.map_head.probe, tower.blocks[0].ln0.weight,
              tower.blocks[0].mlp.fc1.bias):
        assert id(p) not in decayed


def test_rsqrt_and_cosine_schedules_follow_big_vision():
    w, tau, c, total = 100, 100, 100, 400
    assert schedule_multiplier(0, total, "rsqrt", w, c, tau) == 0.0
    assert schedule_multiplier(50, total, "rsqrt", w, c, tau) == 0.5
    assert schedule_multiplier(100, total, "rsqrt", w, c, tau) == 1.0
    assert math.isclose(schedule_multiplier(200, total, "rsqrt", w, c, tau), 1 / math.sqrt(2))
    assert math.isclose(schedule_multiplier(350, total, "rsqrt", w, c, tau), 0.5 / math.sqrt(3.5))
    assert schedule_multiplier(400, total, "rsqrt", w, c, tau) == 0.0
    assert math.isclose(schedule_multiplier(250, total, "cosine", w), 0.5)
    assert schedule_multiplier(400, total, "cosine", w) < 1e-12


def test_global_norm_clipping_scales_only_above_the_threshold():
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(4))
    a.grad, b.grad = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([0.0, 4.0, 0.0, 0.0])
    assert clip_grad_global_norm([a, b], 1.0) == 5.0
    assert torch.allclose(a.grad, torch.tensor([0.6, 0.0, 0.0])) and math.isclose(float(b.grad[1]), 0.8, rel_tol=1e-6)
    assert math.isclose(clip_grad_global_norm([a, b], 10.0), 1.0, rel_tol=1e-6)
    assert math.isclose(float(b.grad[1]), 0.8, rel_tol=1e-6)

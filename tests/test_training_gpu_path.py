"""The GPU-only options, exercised on the CPU: activation checkpointing, bf16 autocast, gpu_check."""

from __future__ import annotations

import torch

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.training import gpu_check
from clippo_desktop.training.model import ClippoTower
from clippo_desktop.training.train import TrainModule

ARCH = ViTArch(width=32, depth=2, mlp_dim=64, num_heads=2, patch_size=8, image_size=32, out_dim=16)


def _inputs():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 32, 32, 3, generator=g) * 2 - 1, torch.rand(6, 32, 32, 3, generator=g) * 2 - 1


def test_activation_checkpointing_gives_the_same_gradients():
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)
        module = TrainModule(ClippoTower(ARCH, grad_checkpointing=ckpt)).train()
        loss, _ = module(*_inputs())
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in module.named_parameters()})
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, atol=1e-6, rtol=1e-5, msg=name)


def test_bf16_autocast_keeps_the_loss_in_float32_and_close_to_fp32():
    torch.manual_seed(0)
    module = TrainModule(ClippoTower(ARCH))
    ref, _ = module(*_inputs())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, _ = module(*_inputs())
    assert low.dtype == torch.float32 and abs(float(low.detach()) - float(ref.detach())) < 0.05
    low.backward()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)


def test_gpu_check_dry_run_finishes_on_the_cpu(capsys):
    assert gpu_check.main(["--dry-run"]) == 0
    assert '"steps": 2' in capsys.readouterr().out

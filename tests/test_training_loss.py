"""The contrastive loss equals big_vision's golden values; distillation terms behave."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.training.loss import DistillHead, contrastive_loss
from clippo_desktop.training.model import ClippoTower

T = torch.tensor([math.log(10.0)])


def test_loss_on_golden_embeddings_matches_big_vision(golden):
    zimg, ztxt = torch.from_numpy(golden["zimg"]), torch.from_numpy(golden["ztxt"])
    img_txt, _ = contrastive_loss(zimg[0:4], ztxt[0:4], T, gather=False)
    txt_txt, _ = contrastive_loss(ztxt[0:4], ztxt[4:8], T, gather=False)
    assert abs(float(img_txt) - float(golden["loss_img0to3_txt0to3"])) < 1e-5
    assert abs(float(img_txt) - 1.5370817) < 1e-5
    assert abs(float(txt_txt) - float(golden["loss_txt0to3_txt4to7"])) < 1e-5
    assert abs(float(txt_txt) - 1.7602948) < 1e-5


def test_loss_through_the_torch_tower_on_golden_inputs_matches_big_vision(golden, golden_params, shared_dir):
    cfg = json.loads((shared_dir / "golden" / "clippo_ti16_golden_config.json").read_text())
    arch = ViTArch(width=96, depth=12, mlp_dim=384, num_heads=3, out_dim=768)
    tower = ClippoTower(arch).eval()
    tower.load_bigvision_params(golden_params)
    with torch.no_grad():
        zimg = tower(torch.from_numpy(golden["image_input"]))  # (4, 768)
        ztxt = tower(torch.from_numpy(golden["text_input"][:8]))  # (8, 768)
        loss_it, _ = contrastive_loss(zimg, ztxt[:4], tower.t, gather=False)
        loss_tt, _ = contrastive_loss(ztxt[:4], ztxt[4:8], tower.t, gather=False)
    assert cfg  # the config file is readable alongside the params
    assert abs(float(loss_it) - float(golden["loss_img0to3_txt0to3"])) < 1e-5
    assert abs(float(loss_tt) - float(golden["loss_txt0to3_txt4to7"])) < 1e-5


def test_loss_is_the_mean_of_both_directions_and_symmetric_in_its_arguments():
    g = torch.Generator().manual_seed(0)
    a = torch.nn.functional.normalize(torch.randn(6, 16, generator=g), dim=-1)
    b = torch.nn.functional.normalize(torch.randn(6, 16, generator=g), dim=-1)
    loss, ex = contrastive_loss(a, b, T, gather=False)
    swapped, _ = contrastive_loss(b, a, T, gather=False)
    assert torch.allclose(loss, 0.5 * (ex["a2b"] + ex["b2a"]))
    assert torch.allclose(loss, swapped, atol=1e-6)
    perfect, ex2 = contrastive_loss(a, a, torch.tensor([math.log(100.0)]), gather=False)
    assert float(perfect) < float(loss) and float(ex2["acc"]) == 1.0


@pytest.mark.parametrize("kind", ["cosine", "mse"])
def test_distillation_is_zero_at_the_teacher_and_projects_other_dimensions(kind):
    z = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    same = DistillHead(8, 8, kind)
    assert float(same(z, z.clone())) == pytest.approx(0.0, abs=1e-6)
    assert float(same(z, -z)) > 0.1
    proj = DistillHead(8, 5, kind)
    teacher = torch.randn(4, 5)
    loss = proj(z, teacher, torch.tensor([True, True, False, False]))
    loss.backward()
    assert proj.proj.weight.grad is not None and float(loss.detach()) > 0

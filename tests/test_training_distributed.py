"""Two gloo processes, each with half the batch, give the gradients of one process on all of it."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.training.model import ClippoTower
from clippo_desktop.training.train import TrainModule

ARCH = ViTArch(width=32, depth=1, mlp_dim=64, num_heads=2, patch_size=8, image_size=32, out_dim=16)
GLOBAL_BATCH = 8


def _module() -> TrainModule:
    torch.manual_seed(0)
    return TrainModule(ClippoTower(ARCH)).double()  # float64: differences are summation order only


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    a = torch.rand(GLOBAL_BATCH, 32, 32, 3, generator=g, dtype=torch.float64) * 2 - 1  # (B, S, S, 3)
    b = torch.rand(GLOBAL_BATCH, 32, 32, 3, generator=g, dtype=torch.float64) * 2 - 1
    return a, b


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        net = torch.nn.parallel.DistributedDataParallel(_module())
        a, b = _batch()
        rows = slice(rank * GLOBAL_BATCH // world, (rank + 1) * GLOBAL_BATCH // world)
        loss, _ = net(a[rows], b[rows])
        loss.backward()
        grads = {n: p.grad.clone() for n, p in net.module.named_parameters()}
        torch.save({"loss": loss.detach(), "grads": grads}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_two_gloo_processes_give_the_same_gradients_as_one_process_on_the_global_batch(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    module = _module()
    a, b = _batch()
    loss, _ = module(a, b)
    loss.backward()
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert abs(float(got["loss"]) - float(loss.detach())) < 1e-6
        for name, p in module.named_parameters():
            torch.testing.assert_close(got["grads"][name], p.grad, atol=1e-6, rtol=0, msg=name)


def test_gradients_without_the_gathered_softmax_would_differ():
    """Guard that the test above can fail: a per-half loss gives different gradients."""
    module = _module()
    a, b = _batch()
    full, _ = module(a, b)
    (g_full,) = torch.autograd.grad(full, [module.tower.head.weight])
    halves = [module(a[i:i + 4], b[i:i + 4])[0] for i in (0, 4)]
    (g_half,) = torch.autograd.grad(sum(halves) / 2, [module.tower.head.weight])
    assert (g_full - g_half).abs().max() > 1e-4

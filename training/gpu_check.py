"""GPU check: fine-tune ViT-B/16 CLIPPO in bf16 on generated data and measure the chip.

Self-contained (no data files): pairs are random "photos" plus rendered captions, made once on
the host and reused, so the number measures the training step, not the input pipeline. Prints
samples/s, peak GPU memory and achieved TFLOP/s against the chip's dense bf16 peak (default
989 for an H100/H200 SXM). FLOPs per pair = 2 images x 3 (forward + backward) x the tower's
matmul FLOPs (`ViTArch.gflops_per_image`); activation checkpointing re-runs the forward, which
is not counted.

    python -m clippo_desktop.training.gpu_check                   # ~5 minutes on CUDA
    python -m clippo_desktop.training.gpu_check --seconds 60 --batch 256 --compile
    python -m clippo_desktop.training.gpu_check --dry-run         # 2 tiny steps on the CPU
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from clippo_desktop.engine.architecture import ViTArch

from .loss import contrastive_loss
from .model import ClippoTower
from .optim import build_optimizer


def make_pairs(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    from clippo_desktop.engine.render import DEFAULT_SETTINGS, RendererSettings, render_texts

    rng = np.random.default_rng(seed)
    photos = torch.from_numpy(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))  # (n, S, S, 3)
    settings = DEFAULT_SETTINGS if size == 224 else RendererSettings(image_size=size)
    texts = torch.from_numpy(render_texts([f"generated caption number {i}" for i in range(n)], settings))
    return photos, texts


def run(variant: str, batch: int, seconds: float, device: str, bf16: bool, checkpointing: bool,
        compile_model: bool, peak_tflops: float, max_steps: int | None = None) -> dict:
    dev = torch.device(device)
    torch.manual_seed(0)
    arch = ViTArch.from_variant(variant)
    tower = ClippoTower(arch, grad_checkpointing=checkpointing).to(dev).train()
    opt = build_optimizer(tower, "adamw", 1e-5, 1e-4)
    net = torch.compile(tower) if compile_model else tower
    photos, texts = make_pairs(batch, arch.image_size)
    photos, texts = photos.to(dev), texts.to(dev)
    use_bf16 = bf16 and dev.type == "cuda"
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def step() -> float:
        x = torch.cat([photos, texts]).float() / 255.0 * 2.0 - 1.0  # (2B, S, S, 3) in [-1, 1]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            z = net(x)  # (2B, E)
            loss, _ = contrastive_loss(z[:batch], z[batch:], tower.t, gather=False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tower.parameters(), 1.0)
        opt.step()
        return float(loss.detach())

    warm = 1 if max_steps else 3
    for _ in range(warm):  # compile / cudnn autotune / allocator warm-up, not timed
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0, steps, loss = time.perf_counter(), 0, float("nan")
    while (time.perf_counter() - t0 < seconds) and (max_steps is None or steps < max_steps):
        loss = step()
        steps += 1
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elapsed = time.perf_counter() - t0
    sps = steps * batch / elapsed
    tflops = sps * 2 * 3 * arch.gflops_per_image() / 1e3
    return {"variant": variant, "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "batch": batch, "bf16": use_bf16, "grad_checkpointing": checkpointing, "compile": compile_model,
            "steps": steps, "seconds": round(elapsed, 2), "samples_per_s": round(sps, 2),
            "step_s": round(elapsed / max(steps, 1), 4), "last_loss": round(loss, 4),
            "peak_gpu_mem_gib": round(torch.cuda.max_memory_allocated(dev) / 2**30, 2) if dev.type == "cuda" else 0.0,
            "achieved_tflops": round(tflops, 2), "peak_tflops": peak_tflops,
            "mfu": round(tflops / peak_tflops, 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variant", default="B/16")
    ap.add_argument("--batch", type=int, default=128, help="pairs per step (2x images)")
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--grad-checkpointing", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the chip")
    ap.add_argument("--dry-run", action="store_true", help="2 tiny steps on the CPU (mu/32, batch 4)")
    args = ap.parse_args(argv)
    if args.dry_run:
        result = run("mu/32", 4, 60.0, "cpu", False, args.grad_checkpointing, False, args.peak_tflops, max_steps=2)
    else:
        if not torch.cuda.is_available():
            print("no CUDA device visible; use --dry-run to check the script on the CPU")
            return 2
        result = run(args.variant, args.batch, args.seconds, "cuda", not args.no_bf16, args.grad_checkpointing,
                     args.compile, args.peak_tflops)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

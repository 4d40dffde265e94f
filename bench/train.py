"""Training throughput on this CPU for small CLIPPO towers (mu/16, Ti/16), batch 16.

Runs the real training loop (DataLoader workers decoding generated JPEGs with caption
sidecars, rendering, AdamW, checkpoints off) and reports samples/s, step time and the share of
time spent waiting for data. Writes bench/results/train.json.

    python bench/train.py [--steps 8] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.training.config import TrainConfig
from clippo_desktop.training.train import train

RESULTS = Path(__file__).resolve().parent / "results" / "train.json"


def make_photos(folder: Path, n: int = 32) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        img = (rng.random((480, 640, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i:03d}.jpg", quality=85)
        (folder / f"{i:03d}.jpg.txt").write_text(f"a generated photo number {i} with some noise", "utf-8")


def bench(variant: str, photos: Path, steps: int, workers: int, batch: int) -> dict:
    with tempfile.TemporaryDirectory() as run:
        cfg = TrainConfig(init=variant, data=[f"captions:{photos}"], out=run, steps=steps, batch_size=batch,
                          num_workers=workers, device="cpu", val_fraction=0.0, val_max=8, log_every=2,
                          ckpt_every=0, schedule="const", warmup_steps=0, lr=1e-4)
        train(cfg, quiet=True)
        recs = [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines()]
    windows = [r for r in recs if r["event"] == "train"][1:]  # drop the warm-up window
    arch = ViTArch.from_variant(variant)
    sps = float(np.mean([r["samples_per_s"] for r in windows]))
    return {"variant": variant, "batch": batch, "steps": steps, "workers": workers,
            "samples_per_s": sps, "step_s": float(np.mean([r["step_s"] for r in windows])),
            "data_wait_share": float(np.mean([r["data_wait_share"] for r in windows])),
            # one pair = 2 images; fwd+bwd ~ 3x forward FLOPs
            "gflop_per_s": sps * 2 * 3 * arch.gflops_per_image()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batch", type=int, default=16)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as photos:
        make_photos(Path(photos))
        for variant in ("mu/16", "Ti/16"):
            rows.append(bench(variant, Path(photos), args.steps, args.workers, args.batch))
            r = rows[-1]
            print(f"{r['variant']:>6}  batch {r['batch']}  {r['samples_per_s']:7.2f} samples/s  "
                  f"{r['step_s']:6.3f} s/step  data-wait {100 * r['data_wait_share']:5.1f}%  "
                  f"{r['gflop_per_s']:7.1f} GFLOP/s")
    out = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
           "load_average_1m": os.getloadavg()[0],
           "threads": torch.get_num_threads(), "results": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

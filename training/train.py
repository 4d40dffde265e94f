"""Fine-tune or distil a CLIPPO tower on your own photos, captions and texts.

Single process (CPU or one GPU):

    python -m clippo_desktop.training.train --init Ti/16 --data captions:~/Pictures \\
        --data parallel:train.en.gz,train.de.gz --out runs/mine --steps 2000 --batch-size 64

Several GPUs on one machine, or several machines (DDP, env:// rendezvous, nccl on CUDA):

    torchrun --nproc_per_node=4 -m clippo_desktop.training.train --init MODEL --data ... --out RUN
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=HOST:29500 -m clippo_desktop.training.train --config run.json --out RUN

`--resume` continues the latest checkpoint in RUN bit-identically; `--smoke` runs a few CPU steps
of a tiny model in seconds. `clippo-desktop train ...` calls `main(argv)` with the same options.
Afterwards `clippo-desktop model install RUN` installs the exported package (see export.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from torch import nn

from clippo_desktop.engine.errors import ClippoError, UsageError

from . import checkpoint as ckpt
from .config import TrainConfig, load_config, smoke
from .data import MixedBatchSampler, Pair, PairDataset, make_loader, parse_spec, split_pairs, to_model_input
from .distributed import DistInfo, all_reduce_mean, cleanup, init_distributed
from .evaluate import evaluate
from .loss import DistillHead, contrastive_loss
from .model import ClippoTower
from .optim import build_optimizer, clip_grad_global_norm, schedule_multiplier, set_schedule
from .weights import InitSpec, resolve_init

log = logging.getLogger(__name__)


class TrainModule(nn.Module):
    """The tower (called once on [a; b]) plus the optional distillation head; returns the loss."""

    def __init__(self, tower: ClippoTower, distill: DistillHead | None = None, distill_weight: float = 0.0):
        super().__init__()
        self.tower, self.distill, self.distill_weight = tower, distill, distill_weight

    def forward(self, a: torch.Tensor, b: torch.Tensor, teacher: torch.Tensor | None = None,
                has_teacher: torch.Tensor | None = None):
        n = a.shape[0]
        z = self.tower(torch.cat([a, b]))  # (2b, E): one pass for both sides
        z_a, z_b = z[:n], z[n:]  # (b, E) each
        loss, extras = contrastive_loss(z_a, z_b, self.tower.t)
        if self.distill is not None and teacher is not None:
            d = self.distill(z_a, teacher, has_teacher)
            extras["distill"] = d.detach()
            loss = loss + self.distill_weight * d
        return loss, extras


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_tower(init: InitSpec, cfg: TrainConfig) -> ClippoTower:
    seed_everything(cfg.seed)  # identical initial weights on every rank
    tower = ClippoTower(init.arch, grad_checkpointing=cfg.grad_checkpointing)
    if init.params is not None:
        tower.load_bigvision_params(init.params)
    return tower


def load_pairs(cfg: TrainConfig) -> tuple[list[Pair], list[Pair], list[Pair]]:
    if not cfg.data:
        raise UsageError("No training data given.", "Pass at least one --data SPEC, e.g. captions:~/Pictures.")
    train, val = [], []
    for spec in cfg.data:
        t, v = split_pairs(parse_spec(spec, cfg.templates), cfg.val_fraction, cfg.val_max)
        train += t
        val += v
    zero_shot = parse_spec(f"classes:{cfg.zero_shot}", cfg.templates) if cfg.zero_shot else []
    return train, val, zero_shot


class Run:
    """One training run: owns the model, optimiser, data and the run folder."""

    def __init__(self, cfg: TrainConfig, dist_info: DistInfo, resume: bool = False, quiet: bool = False):
        self.cfg, self.dist, self.quiet = cfg, dist_info, quiet
        self.run_dir = Path(cfg.out)
        self.state = ckpt.load_checkpoint(ckpt.latest_checkpoint(self.run_dir)) if resume and \
            ckpt.latest_checkpoint(self.run_dir) else None
        self.init = resolve_init(cfg.init)
        self.preprocess = self.init.preprocess or cfg.preprocess
        if self.state is not None:  # the architecture and preprocessing travel with the checkpoint
            from clippo_desktop.engine.architecture import ViTArch

            self.init.arch, self.init.params = ViTArch.from_dict(self.state["arch"]), None
            self.preprocess = self.state["preprocess"]
        self.train_pairs, self.val_pairs, self.zero_shot = load_pairs(cfg)
        teacher_dim = next((len(p.teacher) for p in self.train_pairs if p.teacher), 0)
        self.tower = build_tower(self.init, cfg).to(dist_info.device)
        distill = (DistillHead(self.init.arch.embed_dim, teacher_dim, cfg.distill_kind)
                   if cfg.distill_weight > 0 and teacher_dim else None)
        self.module = TrainModule(self.tower, distill, cfg.distill_weight).to(dist_info.device)
        self.opt = build_optimizer(self.module, cfg.optimizer, cfg.lr, cfg.wd, (cfg.b1, cfg.b2))
        self.step = 0
        if self.state is not None:
            self.module.load_state_dict(self.state["model"])
            self.opt.load_state_dict(self.state["optimizer"])
            self.step = int(self.state["step"])
        self.dataset = PairDataset(self.train_pairs, self.init.arch.image_size, self.preprocess, cfg.augment,
                                   teacher_dim)
        self.eval_dataset = PairDataset([], self.init.arch.image_size, self.preprocess)
        self.net: nn.Module = self.module
        if cfg.compile:
            self.net = torch.compile(self.net)
        if dist_info.distributed:
            ids = [dist_info.device.index] if dist_info.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)

    # -- bookkeeping ---------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        if not self.dist.is_main:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if not self.quiet:
            shown = " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()
                             if k != "time")
            print(shown, flush=True)

    def save(self) -> Path | None:
        if not self.dist.is_main:
            return None
        state = {"arch": self.init.arch.to_dict(), "config": self.cfg.to_dict(), "step": self.step,
                 "model": self.module.state_dict(), "optimizer": self.opt.state_dict(),
                 "rng": ckpt.rng_state(), "data_position": {"step": self.step, "seed": self.cfg.seed},
                 "init_source": self.init.source, "preprocess": self.preprocess,
                 "prompt_templates": list(self.init.prompt_templates or self.cfg.templates)}
        return ckpt.save_checkpoint(self.run_dir, state, self.step, self.cfg.keep_last)

    def run_eval(self, when: str) -> dict:
        metrics = {}
        # Without a validation split (tiny data), report recall on training pairs, labelled so.
        pairs, split = (self.val_pairs, "val") if self.val_pairs else (self.train_pairs[:self.cfg.val_max], "train")
        if self.dist.is_main:
            metrics = evaluate(self.tower, pairs, self.eval_dataset, self.dist.device,
                               zero_shot=self.zero_shot, templates=self.cfg.templates)
            self.log({"event": "eval", "when": when, "split": split, "step": self.step, **metrics})
        if self.dist.distributed:
            torch.distributed.barrier()
        return metrics

    # -- the loop ------------------------------------------------------------------------------
    def train(self) -> dict:
        cfg, dev = self.cfg, self.dist.device
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            (self.run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1), "utf-8")
        if self.state is not None:
            ckpt.set_rng_state(self.state["rng"])
        else:
            seed_everything(cfg.seed + self.dist.rank)
            self.run_eval("before")
        micro = cfg.batch_size // cfg.accum_steps
        sampler = MixedBatchSampler(self.train_pairs, micro, cfg.text_share, cfg.seed, self.dist.rank,
                                    self.dist.world, start=self.step * cfg.accum_steps,
                                    stop=cfg.steps * cfg.accum_steps)
        loader = make_loader(self.dataset, sampler, cfg.num_workers, cfg.prefetch_factor, dev.type == "cuda")
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" and cfg.bf16
                    else nullcontext())
        batches = iter(loader)
        self.net.train()
        window = {"t0": time.perf_counter(), "wait": 0.0, "samples": 0, "chars": 0, "steps": 0}
        last: dict = {}
        while self.step < cfg.steps:
            mult = schedule_multiplier(self.step, cfg.steps, cfg.schedule, cfg.warmup_steps,
                                       cfg.cooldown_steps, cfg.timescale)
            set_schedule(self.opt, cfg.lr, mult)
            self.opt.zero_grad(set_to_none=True)
            loss_sum, extras = 0.0, {}
            for j in range(cfg.accum_steps):
                t_wait = time.perf_counter()
                batch = next(batches)
                window["wait"] += time.perf_counter() - t_wait
                window["samples"] += batch["a"].shape[0] * self.dist.world
                window["chars"] += batch["chars"] * self.dist.world
                sync = (j == cfg.accum_steps - 1) or not self.dist.distributed
                with (nullcontext() if sync else self.net.no_sync()), autocast:
                    loss, extras = self.net(to_model_input(batch["a"], dev), to_model_input(batch["b"], dev),
                                            batch["teacher"].to(dev), batch["has_teacher"].to(dev))
                (loss / cfg.accum_steps).backward()
                loss_sum += float(loss.detach()) / cfg.accum_steps
            gnorm = clip_grad_global_norm(self.module.parameters(), cfg.clip_norm)
            self.opt.step()
            self.step += 1
            window["steps"] += 1
            if not math.isfinite(loss_sum):
                raise ClippoError(f"The loss became {loss_sum} at step {self.step}.",
                                  "Lower the learning rate or check the data; resume from the last checkpoint.")
            last = {"loss": loss_sum, "acc": float(extras.get("acc", 0.0))}
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                last = self._log_train(window, loss_sum, extras, gnorm, mult)
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.steps:
                self.run_eval("during")
            if cfg.ckpt_every and self.step % cfg.ckpt_every == 0 and self.step < cfg.steps:
                self.save()
        self.save()
        final = self.run_eval("after")
        return {"step": self.step, **last, **final}

    def _log_train(self, window: dict, loss: float, extras: dict, gnorm: float, mult: float) -> dict:
        elapsed = time.perf_counter() - window["t0"]
        loss = all_reduce_mean(loss, self.dist.device)
        text_only = all(p.kind == "text" for p in self.train_pairs[:1000])
        rec = {"event": "train", "step": self.step, "of": self.cfg.steps, "loss": loss,
               "acc": float(extras.get("acc", 0.0)), "t": float(self.tower.t.detach().exp()),
               "lr": self.cfg.lr * mult, "grad_norm": gnorm,
               "samples_per_s": window["samples"] / max(elapsed, 1e-9),
               "step_s": elapsed / max(window["steps"], 1), "data_wait_share": window["wait"] / max(elapsed, 1e-9)}
        if text_only:
            rec["tokens_per_s"] = window["chars"] / max(elapsed, 1e-9)
        if "distill" in extras:
            rec["distill"] = float(extras["distill"])
        self.log(rec)
        window.update(t0=time.perf_counter(), wait=0.0, samples=0, chars=0, steps=0)
        return {"loss": loss, "acc": rec["acc"]}


def train(cfg: TrainConfig, *, resume: bool = False, quiet: bool = False) -> dict:
    """Run training to cfg.steps (resuming if asked and possible). Returns the final metrics."""
    threads = torch.get_num_threads()
    if cfg.torch_threads > 0:
        torch.set_num_threads(cfg.torch_threads)
    dist_info = init_distributed(cfg.device)
    try:
        return Run(cfg, dist_info, resume=resume, quiet=quiet).train()
    finally:
        cleanup()
        torch.set_num_threads(threads)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="clippo-desktop train", description=__doc__.split("\n\n")[0])
    p.add_argument("--init", help="installed model, package folder, .npz, or variant like Ti/16")
    p.add_argument("--data", action="append", metavar="SPEC",
                   help="captions:DIR | manifest:FILE | classes:DIR | sentences:FILE | parallel:FA,FB")
    p.add_argument("--out", help="run folder (checkpoints, metrics.jsonl, package/)")
    p.add_argument("--config", help="JSON file with TrainConfig fields")
    p.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --out")
    p.add_argument("--smoke", action="store_true", help="a few CPU steps of a tiny model")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--lr", type=float)
    p.add_argument("--optimizer", choices=["adamw", "adafactor"])
    p.add_argument("--num-workers", type=int)
    p.add_argument("--text-share", type=float)
    p.add_argument("--no-export", dest="export", action="store_false",
                   help="do not export RUN/package when training ends (exported by default)")
    p.add_argument("--export", dest="export", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help="where installed models live (for --init NAME)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = load_config(args.config) if args.config else TrainConfig()
    overrides = {k: v for k, v in {
        "init": args.init, "data": args.data, "out": args.out, "steps": args.steps,
        "batch_size": args.batch_size, "device": args.device, "lr": args.lr, "optimizer": args.optimizer,
        "num_workers": args.num_workers, "text_share": args.text_share}.items() if v is not None}
    if args.resume and args.out and ckpt.latest_checkpoint(Path(args.out)):
        saved = ckpt.load_checkpoint(ckpt.latest_checkpoint(Path(args.out)))["config"]
        keep = {k: overrides[k] for k in ("steps", "device", "num_workers", "out") if k in overrides}
        return TrainConfig.from_dict(saved).replace(**keep)
    cfg = cfg.replace(**overrides)
    return smoke(cfg) if args.smoke else cfg


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    if args.data_dir:  # engine.paths.resolve_data_dir reads it, here and in torchrun workers
        os.environ["CLIPPO_DESKTOP_DATA"] = str(Path(args.data_dir).expanduser().resolve())
    try:
        cfg = config_from_args(args)
        result = train(cfg, resume=args.resume)
        if args.export and int(os.environ.get("RANK", "0")) == 0:
            from .export import export_run

            print(f"exported {export_run(Path(cfg.out))}")
    except ClippoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One command for the whole recipe: cache the teacher targets, then train (resumably).

    python -m clippo_desktop.training.distill --out runs/distill --minutes 30 [--threads 2]
        [--set text_batch=32 --set full_canvas=1.0 ...]      # DistillConfig fields

Re-running the same command continues from RUN/checkpoints/last.pt (model, optimiser, step,
samples seen, sampler RNG states); `--fresh` starts over. A run stops after `--minutes` of
wall time (or `--steps`), always writing last.pt first, so a session can stop at any time and
the next one continues. best.pt is kept by the quick held-out score (`train.score`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from . import sources
from .curriculum import Charset, TextSampler, parse_phases, phase_weights
from .eval import chance, evaluate
from .targets import build_cache, load_corpus
from .train import (DistillConfig, StudentEmbedder, build_student, photo_loss, photo_targets, score,
                    text_loss)
from clippo_desktop.engine.render import RendererSettings


def _save(state: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _log(run: Path, record: dict) -> None:
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def _rng_state(*gens: np.random.Generator) -> str:
    return json.dumps([g.bit_generator.state for g in gens])


def _set_rng(state: str, *gens: np.random.Generator) -> None:
    for g, s in zip(gens, json.loads(state)):
        g.bit_generator.state = s


def train(run: Path, cfg: DistillConfig, *, minutes: float, steps: int | None = None, threads: int = 1,
          cache: Path | None = None, fresh: bool = False, device: str = "cpu") -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    cache = build_cache(cache, threads)
    run.mkdir(parents=True, exist_ok=True)
    last = run / "checkpoints" / "last.pt"
    state = None if fresh or not last.exists() else torch.load(last, weights_only=True, map_location="cpu")
    if state is not None:
        cfg = DistillConfig(**state["config"])
    (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    rows, emb = load_corpus(cache)
    single = [r["text"] for r in rows if r["level"] != "caption"]
    charset = Charset(state["charset"]) if state else Charset.from_texts(single)
    model = build_student(cache, len(charset)).to(device)
    settings = RendererSettings(image_size=cfg.image_size)
    train_classes = model.train_classes.tolist()
    texts = TextSampler(rows, emb, settings, charset, {c: i for i, c in enumerate(train_classes)},
                        cfg.full_canvas, cfg.seed)
    photos = photo_targets(cache)
    # parameters are grouped before loading so the optimiser state maps one to one
    trunk = [p for n, p in model.named_parameters() if n.split(".")[0] in ("stem", "blocks", "head")]
    rest = [p for n, p in model.named_parameters() if n.split(".")[0] not in ("stem", "blocks", "head")]
    opt = torch.optim.AdamW([{"params": trunk, "lr": cfg.lr * cfg.trunk_lr_mult},
                             {"params": rest, "lr": cfg.lr}], weight_decay=cfg.wd)
    step, seen_text, seen_photo, best = 0, 0, 0, -1.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, seen_text, seen_photo, best = state["step"], state["seen_text"], state["seen_photo"], state["best"]
        _set_rng(state["rng"], texts.rng, photos.rng)
        torch.set_rng_state(state["torch_rng"])
    base_lrs = [g["lr"] for g in opt.param_groups]
    phases = parse_phases(cfg.phases)

    def snapshot() -> dict:
        return {"config": dataclasses.asdict(cfg), "model": model.state_dict(), "opt": opt.state_dict(),
                "step": step, "seen_text": seen_text, "seen_photo": seen_photo, "best": best,
                "rng": _rng_state(texts.rng, photos.rng), "torch_rng": torch.get_rng_state(),
                "charset": charset.chars, "n_chars": len(charset), "cache": str(cache)}

    def run_eval() -> None:
        nonlocal best
        t0 = time.time()
        m = evaluate(StudentEmbedder(model, cfg.image_size, cache), quick=True)
        model.train()
        s = score(m)
        _log(run, {"event": "eval", "step": step, "seen_text": seen_text, "seen_photo": seen_photo,
                    "score": s, "eval_s": round(time.time() - t0, 1), **m})
        if s > best:
            best = s
            _save(snapshot(), run / "checkpoints" / "best.pt")

    if state is None:
        _log(run, {"event": "chance", **chance(quick=True)})
        run_eval()
    model.train()
    start = last_ckpt = last_eval = time.time()
    acc: dict[str, list[float]] = {}
    t_log, n_log = time.time(), 0
    while (time.time() - start) < minutes * 60 and (steps is None or step < steps):
        warm = min(1.0, (step + 1) / cfg.warmup)
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * warm
        tb = texts.batch(phase_weights(phases, seen_text), cfg.text_batch)
        loss, parts = text_loss(model, tb, cfg)
        seen_text += len(tb.target)
        n_log += len(tb.target)
        if cfg.photo_every and step % cfg.photo_every == 0:
            pl, pparts = photo_loss(model, photos.batch(cfg.photo_batch), cfg)
            loss = loss + pl
            parts.update(pparts)
            seen_photo += cfg.photo_batch
            n_log += cfg.photo_batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in parts.items():
            acc.setdefault(k, []).append(v)
        if step % 25 == 0:
            dt = time.time() - t_log
            _log(run, {"event": "train", "step": step, "seen_text": seen_text, "seen_photo": seen_photo,
                       "samples_per_s": round(n_log / dt, 2), "text_rows": int(tb.pixels.shape[1]),
                       **{k: round(float(np.mean(v)), 4) for k, v in acc.items()}})
            acc, t_log, n_log = {}, time.time(), 0
        if time.time() - last_ckpt > cfg.ckpt_minutes * 60:
            _save(snapshot(), last)
            last_ckpt = time.time()
        if time.time() - last_eval > cfg.eval_minutes * 60:
            run_eval()
            last_eval = time.time()
    _save(snapshot(), last)
    run_eval()
    _save(snapshot(), last)
    return {"step": step, "seen_text": seen_text, "seen_photo": seen_photo, "best": best}


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m clippo_desktop.training.distill", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="run folder (resumed if it has checkpoints)")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (one GPU; rendering stays on the CPU)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = ap.parse_args(argv)
    cfg = DistillConfig()
    types = {f.name: f.type for f in dataclasses.fields(DistillConfig)}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in types:
            ap.error(f"unknown config field {key!r}; known: {', '.join(types)}")
        cast = {"int": int, "float": float, "str": str}[str(types[key]).replace("<class '", "").rstrip("'>")]
        cfg = dataclasses.replace(cfg, **{key: cast(value)})
    print(train(args.out, cfg, minutes=args.minutes, steps=args.steps, threads=args.threads,
                cache=args.cache, fresh=args.fresh, device=args.device))
    return 0

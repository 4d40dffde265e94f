"""Train the CLIPPO-Lite reader: rendered text -> the text teacher's embedding. Resumable.

    python -m clippo_desktop.training.distill.train_lite --out runs/lite --minutes 60

Each step renders one batch of corpus texts with the app's own renderer (engine.render), keeps
the used columns, and regresses the teacher's embedding: (1 - cos) + an in-batch InfoNCE
against the teacher targets (which keeps the texts apart, not just near the mean direction).
A batch holds one curriculum level at a time (similar lengths, little padding); the level mix
moves from words to phrases, word bags and captions (`CURRICULUM`). `last.pt` is written every
few minutes and at exit; `best.pt` whenever the held-out quick score improves. Re-running the
same command continues from `last.pt` (model, optimiser, step, sampler RNG). `--init CKPT` starts
a new run from another run's weights (and its curriculum position); when `--set
reader={"lexicon": N}` asks for a wider lexicon, the weights are widened without changing the
function (`reader.widen_lexicon`). Run D continued run C that way:

    python -m clippo_desktop.training.distill.train_lite --out runs/lite-D \
        --init runs/lite-C/checkpoints/last.pt --set 'reader={"lexicon": 2048}' --set lr=0.001
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from .lite_eval import QuickEval
from .reader import Reader, columns_from_canvas, crop_columns, widen_lexicon

# samples seen -> share of each level
CURRICULUM = (
    (0, {"word": 0.65, "phrase": 0.2, "bag": 0.1, "caption": 0.05}),
    (60_000, {"word": 0.4, "phrase": 0.15, "bag": 0.25, "caption": 0.2}),
    (180_000, {"word": 0.3, "phrase": 0.1, "bag": 0.3, "caption": 0.3}),
    (250_000, {"word": 0.2, "phrase": 0.1, "bag": 0.2, "caption": 0.5}),  # run C's mix: best
)
VAL_TEXTS = 3000  # corpus texts never trained on: the in-distribution check


@dataclass
class LiteConfig:
    batch_size: int = 96
    lr: float = 1.5e-3
    wd: float = 0.02
    warmup: int = 300
    total_steps: int = 6500  # the shipped chain ended at 6,500 steps (624k texts)
    stop_step: int = 0  # stop here although the schedule runs to total_steps (0: at total_steps)
    tau: float = 0.05
    nce_weight: float = 0.5
    eval_minutes: float = 8.0
    ckpt_minutes: float = 3.0
    seed: int = 0
    reader: dict = None
    final_mix: dict = None  # replaces the last curriculum phase's level shares when given
    extensions: list = None  # corpus extensions (corpus.EXTENSIONS) whose rows join the sampling

    def __post_init__(self):
        self.reader = self.reader or {}
        self.final_mix = self.final_mix or {}
        self.extensions = list(self.extensions or [])

    @property
    def last_step(self) -> int:
        """The step at which the run is finished."""
        return min(self.stop_step or self.total_steps, self.total_steps)

    def with_overrides(self, overrides: dict, where: str = "--set") -> "LiteConfig":
        """A copy with `overrides` ({field: value}) applied; unknown fields are refused."""
        known = {f.name for f in fields(self)}
        for k in overrides:
            if k not in known:
                raise ValueError(f"{where}: LiteConfig has no field {k!r}")
        return replace(self, **{k: dict(v) if isinstance(v, dict) else v for k, v in overrides.items()})


def level_weights(seen: int, final_mix: dict | None = None) -> dict[str, float]:
    w = CURRICULUM[0][1]
    for start, weights in CURRICULUM:
        if seen >= start:
            w = weights
    if final_mix and seen >= CURRICULUM[-1][0]:
        w = final_mix
    return w


def check_mix(mix: dict, levels) -> None:
    """Refuse a level mix that names a level the corpus has no texts for (before any training)."""
    missing = sorted(set(mix) - set(levels))
    if missing:
        raise ValueError(f"final_mix names levels the corpus has no texts for: {', '.join(missing)}; "
                         f"add the corpus extension that makes them to `extensions` (corpus.EXTENSIONS)")


def lr_at(cfg: LiteConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.total_steps - cfg.warmup))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


# Sampling weights: the languages of the evaluation rows first, the other teacher languages less.
LANG_WEIGHT = {"en": 3.0, "de": 2.0, "fr": 2.0, "es": 1.0, "zh": 1.0, "ja": 1.0, "ru": 1.0, "ar": 1.0}
OTHER_LANG_WEIGHT = 0.4
RANK_OFFSET, RANK_POWER = 200, 0.6  # word k of a language is drawn ~ (k + 200) ** -0.6


class Corpus:
    """The texts, their unit teacher targets, a held-out slice and per-level sampling weights."""

    def __init__(self, folder: Path, seed: int = 0, extensions: list[str] = ()):
        from .corpus import build_targets, extension_targets

        rows, emb = build_targets(folder)
        # the held-out slice comes from the base corpus alone, so it is the same with extensions
        rng = np.random.default_rng(seed)
        self.val = rng.choice(len(rows), VAL_TEXTS, replace=False)
        val = set(self.val.tolist())
        # each extension is de-duplicated against the base corpus only (not against the other
        # extensions), so it is the same whichever extensions a stage combines
        base_texts = [r["text"] for r in rows]
        for name in extensions:
            more, more_emb = extension_targets(folder, name, base_texts)
            rows, emb = rows + more, np.concatenate([emb, more_emb])
        emb = emb.astype(np.float32)
        self.targets = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        self.texts = [r["text"] for r in rows]
        self.by_level: dict[str, list[int]] = {}
        self.cum_weights: dict[str, list[float]] = {}
        rank: dict[tuple[str, str], int] = {}
        for lvl in dict.fromkeys(r["level"] for r in rows):
            idx, w = [], []
            for i, r in enumerate(rows):
                if r["level"] != lvl:
                    continue
                k = rank.get((lvl, r["lang"]), 0)
                rank[(lvl, r["lang"])] = k + 1
                if i in val:
                    continue
                weight = LANG_WEIGHT.get(r["lang"], OTHER_LANG_WEIGHT)
                if lvl == "word":
                    weight *= (k + RANK_OFFSET) ** -RANK_POWER * RANK_OFFSET ** RANK_POWER
                idx.append(i)
                w.append(weight)
            self.by_level[lvl] = idx
            self.cum_weights[lvl] = np.cumsum(w).tolist()

    def sample(self, level: str, n: int, rng: random.Random) -> list[int]:
        return rng.choices(self.by_level[level], cum_weights=self.cum_weights[level], k=n)


def _render(texts: list[str]) -> torch.Tensor:
    from clippo_desktop.engine.render import render_texts

    return crop_columns(columns_from_canvas(render_texts(texts)))  # (B, 16, L)


def loss_fn(z: torch.Tensor, t: torch.Tensor, cfg: LiteConfig) -> tuple[torch.Tensor, dict]:
    """z, t: (B, E) unit vectors (student, teacher)."""
    cos = (z * t).sum(-1)  # (B,)
    logits = z @ t.T / cfg.tau  # (B, B)
    labels = torch.arange(len(z))
    nce = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
    loss = (1 - cos).mean() + cfg.nce_weight * nce
    return loss, {"cos": float(cos.detach().mean()), "nce": float(nce.detach())}


def _atomic_save(obj, path: Path) -> None:
    from clippo_desktop.engine.atomic import atomic_write

    with atomic_write(path) as f:
        torch.save(obj, f)


def _initial_weights(init: Path, cfg: LiteConfig, log) -> tuple[Reader, int]:
    """Another run's reader (widened to cfg.reader's lexicon if asked) and its texts seen."""
    saved = torch.load(init, weights_only=True)
    model = _reader_from(saved)
    want = dict(model.config, **cfg.reader)
    if want["lexicon"] != model.config["lexicon"]:
        log(f"widening the lexicon {model.config['lexicon']} -> {want['lexicon']}")
        model = widen_lexicon(model, want["lexicon"])
    if want != model.config:
        raise ValueError(f"--init {init} has reader {model.config}; only the lexicon can change, not {cfg.reader}")
    cfg.reader = dict(model.config)
    return model.train(), int(json.loads(saved["state"])["seen"])


def train(out: Path, minutes: float, cfg: LiteConfig, threads: int = 2, log=print,
          init: Path | None = None) -> dict:
    from .lite_cache import prepare

    torch.set_num_threads(threads)
    folder = prepare(threads=threads, log=log)
    corpus = Corpus(folder, cfg.seed, cfg.extensions)
    check_mix(cfg.final_mix, corpus.by_level)
    out.mkdir(parents=True, exist_ok=True)
    ck = out / "checkpoints"
    ck.mkdir(exist_ok=True)
    resume = (ck / "last.pt").is_file()
    state = {"step": 0, "seen": 0, "best": -1.0, "rng": random.Random(cfg.seed).getstate()}
    if resume:
        saved = torch.load(ck / "last.pt", weights_only=True)
        cfg.reader = json.loads(saved["reader"])
        model = Reader(**cfg.reader)
    elif init is not None:
        model, state["seen"] = _initial_weights(init, cfg, log)
    else:
        model = Reader(**cfg.reader)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.wd)
    if resume:
        model.load_state_dict(saved["model"])
        if "opt" in saved:
            opt.load_state_dict(saved["opt"])
        else:  # seeded from the repository's kept reader (best_checkpoint.seed_run)
            log("no optimiser state in last.pt (a seeded checkpoint): fresh AdamW moments")
        state = json.loads(saved["state"])
        state["rng"] = _tuple_state(state["rng"])
        log(f"resumed at step {state['step']} ({state['seen']} texts seen)")
    else:
        (out / "config.json").write_text(json.dumps(dict(asdict(cfg), init=str(init) if init else None), indent=1))
    rng = random.Random()
    rng.setstate(state["rng"])
    quick = QuickEval(folder)
    metrics = open(out / "metrics.jsonl", "a", encoding="utf-8")

    def checkpoint(name: str) -> None:
        st = dict(state, rng=rng.getstate())
        _atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "state": json.dumps(st),
                      "reader": json.dumps(cfg.reader)}, ck / name)

    def evaluate() -> None:
        model.eval()
        with torch.no_grad():
            res = quick.run(lambda texts: _encode(model, texts), corpus)
        model.train()
        res.update(event="eval", step=state["step"], seen=state["seen"])
        metrics.write(json.dumps(res) + "\n")
        metrics.flush()
        log("eval " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))
        if res["score"] > state["best"]:
            state["best"] = res["score"]
            checkpoint("best.pt")

    if state["step"] == 0:
        evaluate()
    t_end = time.time() + minutes * 60
    t_ckpt = time.time() + cfg.ckpt_minutes * 60
    t_eval = time.time() + cfg.eval_minutes * 60
    agg, t_log, n_log = {}, time.time(), 0
    while time.time() < t_end and state["step"] < cfg.last_step:
        w = level_weights(state["seen"], cfg.final_mix)
        lvl = rng.choices(list(w), weights=list(w.values()))[0]
        idx = corpus.sample(lvl, cfg.batch_size, rng)
        cols = _render([corpus.texts[i] for i in idx])
        t = torch.from_numpy(corpus.targets[idx])
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, state["step"])
        z = model(cols)
        loss, parts = loss_fn(z, t, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["seen"] += len(idx)
        for k, v in parts.items():
            agg[k] = agg.get(k, 0.0) + v
        n_log += 1
        if state["step"] % 50 == 0:
            dt = time.time() - t_log
            rec = {"event": "train", "step": state["step"], "seen": state["seen"], "lr": lr_at(cfg, state["step"]),
                   "samples_per_s": n_log * cfg.batch_size / dt, **{k: v / n_log for k, v in agg.items()}}
            metrics.write(json.dumps(rec) + "\n")
            metrics.flush()
            log(f"step {state['step']} seen {state['seen']} cos {rec['cos']:.3f} nce {rec['nce']:.3f} "
                f"{rec['samples_per_s']:.0f}/s")
            agg, t_log, n_log = {}, time.time(), 0
        if time.time() > t_ckpt:
            checkpoint("last.pt")
            t_ckpt = time.time() + cfg.ckpt_minutes * 60
        if time.time() > t_eval:
            evaluate()
            t_eval = time.time() + cfg.eval_minutes * 60
    evaluate()
    checkpoint("last.pt")
    metrics.close()
    return state


def _tuple_state(s):
    return tuple(_tuple_state(x) if isinstance(x, list) else x for x in s)


def _encode(model: Reader, texts: list[str], batch: int = 128) -> np.ndarray:
    out = []
    for i in range(0, len(texts), batch):
        out.append(model(_render(texts[i:i + batch])).numpy())
    return np.concatenate(out)


def _reader_from(saved: dict) -> Reader:
    """The reader of a loaded checkpoint dict, in eval mode."""
    model = Reader(**json.loads(saved["reader"]))
    model.load_state_dict(saved["model"])
    return model.eval()


def load_reader(path: Path) -> Reader:
    return _reader_from(torch.load(path, weights_only=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clippo_desktop.training.distill.train_lite")
    ap.add_argument("--out", type=Path, default=Path("runs/lite"))
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--init", type=Path, default=None, help="start from another run's checkpoint")
    args = ap.parse_args(argv)
    defaults, overrides = LiteConfig(), {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        kind = type(getattr(defaults, k, ""))
        overrides[k] = json.loads(v) if kind in (dict, list) else kind(v)
    cfg = defaults.with_overrides(overrides)
    train(args.out, args.minutes, cfg, args.threads, log=lambda m: print(m, flush=True), init=args.init)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

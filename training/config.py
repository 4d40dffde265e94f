"""Training configuration: one dataclass, loadable from JSON and overridable from the CLI.

A run's config is saved into the run folder and into every checkpoint, so a run can always be
resumed or audited from its own files. Defaults follow big_vision's CLIPPO recipe where it
makes sense for fine-tuning on a desktop (spec §7.3); `smoke()` gives a seconds-long CPU run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from clippo_desktop.engine.errors import UsageError

OPTIMIZERS = ("adamw", "adafactor")
SCHEDULES = ("rsqrt", "cosine", "const")
DISTILL_KINDS = ("cosine", "mse")


@dataclass
class TrainConfig:
    # what to train
    init: str = "Ti/16"  # installed model name, package folder, big_vision .npz, or a variant
    data: list[str] = field(default_factory=list)  # SPECs, see data.parse_spec
    out: str = "runs/clippo"
    # batch and length
    steps: int = 1000
    batch_size: int = 64  # global batch (all ranks, one optimiser step = accum_steps micro-batches)
    accum_steps: int = 1
    text_share: float = 0.25  # share of text-text pairs per batch when both kinds exist
    val_fraction: float = 0.05
    val_max: int = 1000
    # optimisation
    optimizer: str = "adamw"
    lr: float = 1e-4
    wd: float = 1e-4
    b1: float = 0.9
    b2: float = 0.999
    schedule: str = "cosine"
    warmup_steps: int = 100
    cooldown_steps: int = 0
    timescale: int = 10_000
    clip_norm: float = 1.0
    # distillation (teacher embeddings come per example from a JSONL manifest's "teacher" field)
    distill_weight: float = 0.0
    distill_kind: str = "cosine"
    # system
    device: str = "auto"  # auto | cpu | cuda
    bf16: bool = True  # autocast on CUDA only
    grad_checkpointing: bool = False
    compile: bool = False
    num_workers: int = 2
    torch_threads: int = 0  # 0: torch's default; 1 avoids OpenMP spinning on a busy small CPU
    prefetch_factor: int = 2
    seed: int = 0
    # data handling
    preprocess: str = "default"  # engine.imageio mode; overridden by the init model's manifest
    augment: bool = False  # random flip + small random resized crop on photos
    templates: list[str] = field(default_factory=lambda: ["a photo of a {}", "{}"])
    # bookkeeping
    log_every: int = 10
    eval_every: int = 0  # 0: only before and after training
    ckpt_every: int = 500
    keep_last: int = 3
    zero_shot: str = ""  # labelled folder (folder per class) for zero-shot accuracy
    export_name: str = ""

    def __post_init__(self) -> None:
        checks = [
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.distill_kind in DISTILL_KINDS, f"distill_kind must be one of {DISTILL_KINDS}"),
            (0.0 <= self.text_share <= 1.0, "text_share must be in [0, 1]"),
            (self.steps > 0 and self.batch_size > 0 and self.accum_steps > 0,
             "steps, batch_size and accum_steps must be positive"),
            (self.batch_size % self.accum_steps == 0, "batch_size must be divisible by accum_steps"),
            (self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda"),
        ]
        for ok, msg in checks:
            if not ok:
                raise UsageError(f"Bad training config: {msg}.", "Fix the config file or the option.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UsageError(f"Unknown training config keys {unknown}.",
                             f"Known keys: {', '.join(sorted(known))}.")
        return cls(**d)

    def replace(self, **kw) -> "TrainConfig":
        return dataclasses.replace(self, **kw)


def load_config(path: str | Path) -> TrainConfig:
    """Read a JSON config file (a flat object of TrainConfig fields)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"Cannot read training config {path}: {exc}.",
                         "Pass a JSON file with TrainConfig fields.") from exc
    if not isinstance(raw, dict):
        raise UsageError(f"Training config {path} is not a JSON object.")
    return TrainConfig.from_dict(raw)


def smoke(cfg: TrainConfig) -> TrainConfig:
    """A few CPU steps in seconds: tiny model unless --init was given, no workers, const lr."""
    init = cfg.init if cfg.init != TrainConfig.init else "mu/32"
    return cfg.replace(init=init, steps=min(cfg.steps, 8), batch_size=min(cfg.batch_size, 8),
                       accum_steps=1, device="cpu", num_workers=0, warmup_steps=2, schedule="const",
                       lr=max(cfg.lr, 1e-3), log_every=1, ckpt_every=4, val_max=32, eval_every=0)

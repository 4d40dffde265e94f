"""The best CLIPPO-Lite reader, kept in the repository so a fresh clone continues the recipe.

Why: run folders (`runs/`) are git-ignored and do not survive a new checkout, and the shipped
package holds int8 weights only. `ship.py` writes the shipped checkpoint's reader here (float16,
6.7 MB; only when a package ships, i.e. when the evaluation improved), and `recipe.run` seeds an
empty output folder from it: the stage that produced it counts as done, and the next stage starts
from it. Run I predates this file; its reader was read back from its package (`recover.py`,
cosine 1.0000 to the package's own embeddings).

Format: a `torch.save` dict of tensors and JSON strings, read with `weights_only=True` (never
unpickled): `model` (float16 state dict), `reader` (its config) and `state` (stage, step, texts
seen, where it came from).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch

PATH = Path(__file__).resolve().parent / "best" / "reader.pt"


def save(reader, meta: dict, path: Path = PATH) -> Path:
    """Write `reader` (float16) and `meta` ({"stage", "step", "seen", "source"}) atomically."""
    from .train_lite import _atomic_save

    for key in ("stage", "step", "seen", "source"):
        if key not in meta:
            raise ValueError(f"best checkpoint meta needs {key!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model = {k: v.detach().to(torch.float16).clone() for k, v in reader.state_dict().items()}
    _atomic_save({"model": model, "reader": json.dumps(reader.config), "state": json.dumps(meta)}, path)
    return path


def load(path: Path = PATH):
    """(Reader in float32 and eval mode, meta) from the kept checkpoint."""
    from .train_lite import _reader_from

    saved = torch.load(path, weights_only=True)
    return _reader_from(saved), json.loads(saved["state"])  # load_state_dict casts float16 to float32


def seed_run(out: Path, stage_names: list[str], path: Path = PATH, log=print) -> Path | None:
    """Give an empty recipe folder `out` the kept reader as its stage's `last.pt`; None if not needed.

    Nothing happens when any stage under `out` already has a checkpoint (a run in progress is
    never overwritten) or when no checkpoint is kept. The seeded file has no optimiser state:
    resuming that stage itself starts fresh AdamW moments (train_lite says so in its log)."""
    out = Path(out)
    if not path.is_file() or any((out / s / "checkpoints" / "last.pt").is_file() for s in stage_names):
        return None
    reader, meta = load(path)
    if meta["stage"] not in stage_names:
        raise ValueError(f"the kept checkpoint comes from stage {meta['stage']!r}, which the recipe no longer has")
    from .train_lite import _atomic_save

    target = out / meta["stage"] / "checkpoints" / "last.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    state = {"step": meta["step"], "seen": meta["seen"], "best": -1.0,
             "rng": random.Random(0).getstate(), "seeded_from": str(path)}
    _atomic_save({"model": reader.state_dict(), "state": json.dumps(state), "reader": json.dumps(reader.config)},
                 target)
    log(f"seeded {target} from the kept checkpoint ({meta['source']}, step {meta['step']}, "
        f"{meta['seen']:,} texts seen)")
    return target

"""The whole CLIPPO-Lite recipe as one resumable command: the training stages in order.

    python -m clippo_desktop.training.distill --out runs/lite --minutes 240 --threads 2
    python -m clippo_desktop.training.distill.ship --run runs/lite/objects

The stages are data (`STAGES`): each trains in `<out>/<stage name>` with its `LiteConfig`
overrides; a stage after the first starts from the previous stage's last checkpoint (`--init`
in train_lite.py). Re-running the command skips finished stages (their `last.pt` reached the
config's `last_step`: `stop_step` when set, else `total_steps`) and resumes the unfinished one,
so the recipe survives any number of sessions. The shipped model came from exactly these stages
(the base stage was reached in the warm-started chain A -> B -> C, see training/README.md).
On a fresh clone, whose `runs/` is empty, the first call seeds the folder from the reader kept in
the repository (best_checkpoint.py), so the recipe continues after the shipped stage.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    name: str
    overrides: dict = field(default_factory=dict)


STAGES = (
    Stage("base"),  # LiteConfig defaults: 6,500 steps, lexicon 1,024, curriculum to captions
    # run D: the lexicon doubled without changing the function, a fresh cosine cycle; it stopped at
    # step 5,426 of its 6,500-step schedule when that session's time ran out
    Stage("wide", {"reader": {"lexicon": 2048}, "lr": 1e-3, "total_steps": 6500, "stop_step": 5426,
                   "eval_minutes": 10.0}),
    # run E: a third, gentler cycle with a caption-heavier final mix (COCO and Multi30k are captions);
    # its session's time ran out at step 4,894 of 5,000, where the learning rate was at its floor
    Stage("captions", {"lr": 6e-4, "total_steps": 5000, "stop_step": 4894, "eval_minutes": 10.0,
                       "final_mix": {"word": 0.15, "phrase": 0.1, "bag": 0.15, "caption": 0.6}}),
    # run F: E's COCO recall had flattened, so new caption text rather than more passes: the second
    # caption grammar (caption_grammar.py: people, clothing, actions on objects, rooms, meals) and
    # the third (clause_grammar.py: two actions, two actors, fronted places, "while" clauses; run F
    # read it from step 1,271 on, after a resume); stopped at step 3,621 of 4,000 for the session's time
    Stage("scenes", {"lr": 6e-4, "warmup": 200, "total_steps": 4000, "stop_step": 3621, "eval_minutes": 10.0,
                     "extensions": ["caption2", "caption3"],
                     "final_mix": {"word": 0.12, "phrase": 0.08, "bag": 0.1, "caption": 0.25,
                                   "caption2": 0.25, "caption3": 0.2}}),
    # run G: F's Multi30k recall was flat at 0.70; the fourth grammar (activity_grammar.py: age and
    # occupation, hair, two garments, sports, music, work, events, dogs) in a fresh, shorter cycle;
    # stopped at step 3,420 of 3,800 for the session's time
    Stage("people", {"lr": 5e-4, "warmup": 150, "total_steps": 3800, "stop_step": 3420, "eval_minutes": 10.0,
                     "extensions": ["caption2", "caption3", "caption4"],
                     "final_mix": {"word": 0.1, "phrase": 0.06, "bag": 0.08, "caption": 0.16,
                                   "caption2": 0.18, "caption3": 0.14, "caption4": 0.28}}),
    # run H: G's quick rows were still rising at its learning-rate floor, so a short, gentle cycle
    # more on the same texts while the fifth grammar was written; stopped at step 521 of 1,100 when
    # that grammar's targets were ready (its quick rows had not risen: Multi30k 0.867 -> 0.843)
    Stage("refine", {"lr": 3e-4, "warmup": 100, "total_steps": 1100, "stop_step": 521, "eval_minutes": 10.0,
                     "extensions": ["caption2", "caption3", "caption4"],
                     "final_mix": {"word": 0.1, "phrase": 0.06, "bag": 0.08, "caption": 0.16,
                                   "caption2": 0.18, "caption3": 0.14, "caption4": 0.28}}),
    # run I: the fifth grammar (detail_grammar.py: German strong-dative and nominative adjective
    # endings, "in Schwarz gekleidet", French participles and "vêtu de", onlookers), filtered per
    # language so German texts may say "das"; German has the largest share of its texts
    Stage("details", {"lr": 4e-4, "warmup": 100, "total_steps": 2600, "stop_step": 2116, "eval_minutes": 10.0,
                      "extensions": ["caption2", "caption3", "caption4", "caption5"],
                      "final_mix": {"word": 0.08, "phrase": 0.05, "bag": 0.07, "caption": 0.12,
                                    "caption2": 0.14, "caption3": 0.1, "caption4": 0.2, "caption5": 0.24}}),
    # run J: I's held-out corpus texts showed where reading is weakest: single words (cosine to
    # the teacher 0.45-0.59 by language) and word bags (0.33-0.50), against 0.90 for captions;
    # so a fresh cycle with twice the share of words and bags, on all five grammars
    Stage("words", {"lr": 4e-4, "warmup": 150, "total_steps": 5400, "eval_minutes": 10.0,
                    "extensions": ["caption2", "caption3", "caption4", "caption5"],
                    "final_mix": {"word": 0.17, "phrase": 0.05, "bag": 0.14, "caption": 0.09,
                                  "caption2": 0.1, "caption3": 0.07, "caption4": 0.16, "caption5": 0.22}}),
    # run L: the reader's cosine to the teacher on COCO captions was 0.72-0.75 (0.90 on our grammar
    # captions), so real English descriptive sentences: the visual descriptions of the training
    # classes (descriptions.py, ~100k) as a quarter of the mix, J's mix scaled into the rest
    Stage("describe", {"lr": 4e-4, "warmup": 150, "total_steps": 3200, "eval_minutes": 10.0,
                       "extensions": ["caption2", "caption3", "caption4", "caption5", "describe"],
                       "final_mix": {"word": 0.13, "phrase": 0.04, "bag": 0.1, "caption": 0.07,
                                     "caption2": 0.07, "caption3": 0.05, "caption4": 0.12, "caption5": 0.17,
                                     "describe": 0.25}}),
    # run M: the words of object scenes were nearly absent from all English training text ("top"
    # 16 times, "fork", "skis", "scissors", "toothbrush" under 20), so the sixth grammar
    # (object_grammar.py: objects, where they are, rooms, streets, food, sports) as a quarter of
    # the mix, the descriptions at 15 %, L's other shares scaled into the rest
    Stage("objects", {"lr": 3e-4, "warmup": 100, "total_steps": 3600, "eval_minutes": 10.0,
                      "extensions": ["caption2", "caption3", "caption4", "caption5", "describe", "objects"],
                      "final_mix": {"word": 0.1, "phrase": 0.03, "bag": 0.08, "caption": 0.06,
                                    "caption2": 0.06, "caption3": 0.04, "caption4": 0.1, "caption5": 0.13,
                                    "describe": 0.15, "objects": 0.25}}),
)


def stage_config(stage: Stage):
    from .train_lite import LiteConfig

    return LiteConfig().with_overrides(stage.overrides, where=f"stage {stage.name!r}")


def steps_done(run: Path) -> int:
    """Steps in `run`'s last checkpoint (0 when it has none)."""
    import torch

    last = run / "checkpoints" / "last.pt"
    if not last.is_file():
        return 0
    return int(json.loads(torch.load(last, weights_only=True)["state"])["step"])


def next_stage(out: Path, stages=STAGES) -> int | None:
    """Index of the first unfinished stage under `out`, or None when all are done.

    Stages run in order, so every stage before the latest one with a checkpoint is finished
    (a seeded folder holds only the kept stage)."""
    started = [i for i, s in enumerate(stages) if (out / s.name / "checkpoints" / "last.pt").is_file()]
    for i in range(max(started, default=0), len(stages)):
        if steps_done(out / stages[i].name) < stage_config(stages[i]).last_step:
            return i
    return None


def run(out: Path, minutes: float, threads: int = 2, log=print, stages=STAGES) -> int | None:
    """Train stages until all are done or `minutes` run out; returns the unfinished stage's index.

    An empty `out` is first seeded from the kept checkpoint (best_checkpoint.seed_run)."""
    from . import best_checkpoint
    from .train_lite import train

    t_end = time.time() + minutes * 60
    best_checkpoint.seed_run(out, [s.name for s in stages], log=log)
    while (i := next_stage(out, stages)) is not None:
        left = (t_end - time.time()) / 60
        if left < 1:
            return i
        stage = stages[i]
        init = out / stages[i - 1].name / "checkpoints" / "last.pt" if i else None
        log(f"stage {stage.name} ({i + 1}/{len(stages)}), {left:.0f} min left")
        train(out / stage.name, left, stage_config(stage), threads, log=log, init=init)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m clippo_desktop.training.distill")
    ap.add_argument("--out", type=Path, default=Path("runs/lite"))
    ap.add_argument("--minutes", type=float, default=240.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    left = run(args.out, args.minutes, args.threads, log=lambda m: print(m, flush=True))
    if left is None:
        print(f"all stages done; ship with: python -m clippo_desktop.training.distill.ship "
              f"--run {args.out / STAGES[-1].name}")
    else:
        print(f"time is up in stage {STAGES[left].name}; run the same command again to continue")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Learning curves of CLIPPO-Lite runs as a Markdown table (texts seen vs each quick eval row).

    python -m clippo_desktop.training.distill.curves runs/lite-A runs/lite-B
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = ("coco_r1", "coco_r5", "coco_r10", "imagenet_en_r1", "imagenet_en_r5", "m30k_en2de_r1", "val_cos")


def read(run: Path) -> tuple[list[dict], list[dict]]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text("utf-8").splitlines() if line]
    return [r for r in recs if r.get("event") == "eval"], [r for r in recs if r.get("event") == "train"]


def table(run: Path) -> str:
    evals, trains = read(run)
    head = "| run | step | texts seen | " + " | ".join(ROWS) + " | train cos | samples/s |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for e in evals:
        recent = [t for t in trains if t["step"] <= e["step"]][-6:]
        cos = f"{sum(t['cos'] for t in recent) / len(recent):.3f}" if recent else "-"
        sps = f"{sum(t['samples_per_s'] for t in recent) / len(recent):.0f}" if recent else "-"
        cells = " | ".join(f"{e.get(k, float('nan')):.3f}" for k in ROWS)
        lines.append(f"| {run.name} | {e['step']} | {e['seen']:,} | {cells} | {cos} | {sps} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    for run in (argv if argv is not None else sys.argv[1:]):
        print(table(Path(run)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Learning curves of distillation runs as a Markdown table (samples seen vs each eval row).

    python -m clippo_desktop.training.distill.curves runs/distill-A runs/distill-B
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = ("q_coco_t2i_r1", "q_coco_t2i_r10", "q_imagenet_en_r1", "q_imagenet_en_r5", "q_m30k_en2de_r1")


def read(run: Path) -> tuple[list[dict], list[dict]]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text("utf-8").splitlines() if line]
    return [r for r in recs if r.get("event") == "eval"], [r for r in recs if r.get("event") == "train"]


def table(run: Path) -> str:
    evals, trains = read(run)
    head = "| step | texts seen | photos seen | " + " | ".join(ROWS) + " | text cos to teacher | samples/s |"
    lines = [f"**{run.name}**", "", head, "|" + "---|" * (head.count("|") - 1)]
    for e in evals:
        recent = [t for t in trains if t["step"] <= e["step"]][-4:]
        cos = f"{1 - sum(t['t_reg'] for t in recent) / len(recent):.3f}" if recent else "-"
        sps = f"{sum(t['samples_per_s'] for t in recent) / len(recent):.1f}" if recent else "-"
        cells = " | ".join(f"{e.get(k, float('nan')):.3f}" for k in ROWS)
        lines.append(f"| {e['step']} | {e['seen_text']} | {e['seen_photo']} | {cells} | {cos} | {sps} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    for run in (argv if argv is not None else sys.argv[1:]):
        print(table(Path(run)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Turn a finished training run into a model package the app can install.

`export_run(RUN)` rebuilds the tower from the run's latest checkpoint, takes its canonical
big_vision weights, and lets the engine's `build_package` write the fp32 ONNX graph, the int8
variant, `weights.npz` (so the package can itself be fine-tuned again) and the manifest with
provenance (init source, run, step) and the run's final metrics. The package goes to
RUN/package/, which `clippo-desktop model install RUN [--name NAME]` installs.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
import shutil
from pathlib import Path

from clippo_desktop.engine.errors import CheckpointError

from . import checkpoint as ckpt

PACKAGE_DIR = "package"


def _final_metrics(run_dir: Path) -> dict:
    path = run_dir / "metrics.jsonl"
    found: dict = {}
    if path.is_file():
        for line in path.read_text("utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("event") == "eval":
                found = {k: v for k, v in rec.items() if isinstance(v, (int, float)) and k != "time"}
    return found


def load_run_tower(run_dir: Path):
    """(tower in eval mode, checkpoint state) from the run's latest checkpoint."""
    from clippo_desktop.engine.architecture import ViTArch

    from .model import ClippoTower

    path = ckpt.latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"{run_dir} has no training checkpoint.", "Train first, or check the folder.")
    state = ckpt.load_checkpoint(path)
    tower = ClippoTower(ViTArch.from_dict(state["arch"]))
    tower.load_state_dict({k[len("tower."):]: v for k, v in state["model"].items() if k.startswith("tower.")})
    return tower.eval(), state


def export_run(run_dir: str | Path, out_dir: str | Path | None = None, name: str | None = None) -> Path:
    """Write the run's model package (default RUN/package/) and return its folder."""
    import math

    from clippo_desktop import __version__
    from clippo_desktop.engine.model_import import build_package

    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir else run_dir / PACKAGE_DIR
    tower, state = load_run_tower(run_dir)
    cfg = state["config"]
    name = name or cfg.get("export_name") or re.sub(r"[^A-Za-z0-9._-]", "-", run_dir.resolve().name).lstrip(".-_")
    params = tower.bigvision_params()
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        manifest = build_package(
            tmp, name or "fine-tuned", tower.arch, params, math.exp(float(params["t"][0])),
            preprocess=state.get("preprocess", "default"),
            provenance={"source": f"fine-tuned from {state.get('init_source', cfg.get('init'))}",
                        "source_sha256": "", "run": str(run_dir.resolve()), "step": int(state["step"]),
                        "data": list(cfg.get("data", [])),
                        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                        "tool": f"clippo-desktop {__version__} train"},
            license="inherits the licence of the initial weights and of the training data",
            metrics=_final_metrics(run_dir), description=f"Fine-tuned in {run_dir.name} for {state['step']} steps",
            progress=lambda msg: None,
        )
        templates = tuple(state.get("prompt_templates") or ())
        if templates:
            dataclasses.replace(manifest, prompt_templates=templates).save(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.replace(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def main(argv: list[str] | None = None) -> int:
    """`python -m clippo_desktop.training.export RUN_DIR [--name NAME]` writes RUN_DIR/package."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m clippo_desktop.training.export")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--name")
    args = p.parse_args(argv)
    print(export_run(args.run_dir, name=args.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The `clippo-desktop` program: the engine's CLI, plus the things the engine must not import.

With no command it opens the window (PySide6, in `app/`); `train` runs the training module
(torch, in `training/`); `eval` runs the held-out evaluation (`training/package_eval.py`, no
torch, but training code all the same). Each is imported only when asked for, so the CLI works
without them.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _open_window(args) -> int:
    try:
        from clippo_desktop.app.main import run_gui
    except ImportError as exc:
        print(f"clippo-desktop: error: the window cannot start ({exc}). "
              "Use a command instead: see `clippo-desktop --help`.", file=sys.stderr)
        return 1
    return run_gui(data_dir=args.data_dir)


def _register_train(sub) -> None:
    p = sub.add_parser("train", help="fine-tune or distil a model on your captioned photos (needs torch)",
                       add_help=False)
    p.add_argument("train_args", nargs="*")
    p.set_defaults(func=_run_train)


def _run_train(args) -> int:
    if getattr(sys, "frozen", False):
        print("clippo-desktop: error: the installed app does not include training (it needs "
              "PyTorch). Train from a source install: python -m pip install "
              '"clippo-desktop[training]", then run clippo-desktop train ... there.', file=sys.stderr)
        return 1
    try:
        from clippo_desktop.training.train import main as train_main
    except ImportError as exc:
        print(f"clippo-desktop: error: training needs the training extra ({exc}). "
              'Install it with: python -m pip install "clippo-desktop[training]"', file=sys.stderr)
        return 1
    argv = list(args.train_args)
    if args.data_dir:
        argv = ["--data-dir", args.data_dir, *argv]
    return int(train_main(argv) or 0)


def _register_eval(sub) -> None:
    p = sub.add_parser("eval", help="held-out retrieval metrics of a model, beside chance and the "
                                    "distillation teacher (needs the shared evaluation data)")
    p.add_argument("--model", help="the model to evaluate (default: the default model)")
    p.add_argument("--quick", action="store_true",
                   help="the cheap subset (COCO, English ImageNet names, 100 Multi30k lines)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    p.add_argument("--record", action="store_true", help="store the numbers in the model's manifest")
    p.set_defaults(func=_run_eval)


def _run_eval(args) -> int:
    try:
        from clippo_desktop.training.package_eval import run
    except ImportError as exc:
        print(f"clippo-desktop: error: the evaluation is not part of this installation ({exc}). "
              "Run it from a source checkout: python -m pip install -e . && clippo-desktop eval ...",
              file=sys.stderr)
        return 1
    return int(run(args) or 0)


def _command_index(argv: list[str]) -> int | None:
    """Index of the first positional word (the command), skipping global options."""
    i = 0
    while i < len(argv):
        if argv[i] == "--data-dir":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def main(argv: list[str] | None = None) -> int:
    from clippo_desktop.engine.cli import main as cli_main

    argv = list(sys.argv[1:] if argv is None else argv)
    i = _command_index(argv)
    if i is not None and argv[i] == "train":
        # argparse must not interpret train's own options: hand them over verbatim.
        argv = [*argv[:i], "train", "--", *argv[i + 1:]]
    from clippo_desktop.logsetup import setup_logging

    return cli_main(argv, open_window=_open_window, extra_registrars=[_register_train, _register_eval],
                    setup_logging=setup_logging)

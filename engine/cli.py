"""The `clippo-desktop` command line.

`clippo-desktop` alone opens the window; `clippo-desktop --index DIR` indexes; subcommands
manage models, render text, embed, search and tag. This module only parses arguments, calls the
engine and prints; each command group lives in its own `cli_*.py` module with a `register()`
function. Engine errors become a message on stderr and a non-zero exit code here, and only here.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from clippo_desktop import __version__

from .errors import ClippoError

# Each module exposes register(subparsers) and, optionally, register_top_level(parser)/run_top_level(args).
COMMAND_MODULES = ("cli_models", "cli_library", "cli_search")


def _modules():
    import importlib

    for name in COMMAND_MODULES:
        try:
            yield importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise


def build_parser(extra_registrars=()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clippo-desktop",
        description="Private, offline photo search: one CLIPPO model reads your photos and your words.",
    )
    parser.add_argument("--version", action="version", version=f"clippo-desktop {__version__}")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="library and model folder (default: $CLIPPO_DESKTOP_DATA or the OS data dir)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = list(_modules())
    for mod in modules:
        if hasattr(mod, "register_top_level"):
            mod.register_top_level(parser)
        mod.register(sub)
    for register in extra_registrars:
        register(sub)
    parser.set_defaults(_modules=modules)
    return parser


def _stderr_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None, *, open_window=None, extra_registrars=(),
         setup_logging=_stderr_logging) -> int:
    """Run the CLI. The launcher (clippo_desktop.launcher) injects the window, `train` and the
    log file, so the engine itself never imports the GUI or torch."""
    parser = build_parser(extra_registrars)
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        if getattr(args, "func", None) is not None:
            return int(args.func(args) or 0)
        for mod in args._modules:
            if hasattr(mod, "run_top_level") and mod.wants_top_level(args):
                return int(mod.run_top_level(args) or 0)
        if open_window is None:
            parser.print_help()
            return 0
        return int(open_window(args) or 0)
    except ClippoError as exc:
        print(f"clippo-desktop: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("clippo-desktop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`); that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


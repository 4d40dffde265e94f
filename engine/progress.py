"""Terminal progress for the CLI: a bar on a terminal, silence on a pipe.

Engine functions report progress through plain callbacks; these adapters turn them into rich
progress bars when stderr is a terminal and into nothing otherwise, so scripts get clean output.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


def interactive() -> bool:
    return sys.stderr.isatty()


class Spinner:
    """A status line for multi-step work with no known total (`update(message)`)."""

    def __init__(self, title: str):
        self.title = title
        self._status = None

    def __enter__(self) -> "Spinner":
        if interactive():
            from rich.console import Console

            self._status = Console(stderr=True).status(self.title)
            self._status.__enter__()
        return self

    def update(self, message: str) -> None:
        if self._status is not None:
            self._status.update(f"{self.title}: {message}")

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)


@contextlib.contextmanager
def byte_progress(title: str) -> Iterator:
    """Yields `update(DownloadProgress)` that drives a transfer bar."""
    if not interactive():
        yield lambda p: None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), transient=False) as bar:
        task = bar.add_task(title, total=None)

        def update(p) -> None:
            bar.update(task, completed=p.done, total=p.total)

        yield update


@contextlib.contextmanager
def count_progress(title: str, total: int | None = None) -> Iterator:
    """Yields `update(done, total=None, **fields)` for item counts (files, photos)."""
    if not interactive():
        yield lambda done, total=None, **kw: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), TimeRemainingColumn()) as bar:
        task = bar.add_task(title, total=total, info="")

        def update(done, total=None, info: str = "", **kw) -> None:
            bar.update(task, completed=done, total=total, info=info)

        yield update

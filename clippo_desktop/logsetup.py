"""Logging for the program: messages on stderr as before, plus a rotating file in the user log dir.

A desktop user who reports a problem cannot paste a terminal they never opened, so every run
(window or command) also appends to `<log dir>/clippo-desktop.log` (platformdirs: on Linux
~/.local/state/clippo-desktop/log, on Windows %LOCALAPPDATA%\\clippo-desktop\\Logs, on macOS
~/Library/Logs/clippo-desktop). The file rotates at 1 MiB and keeps 3 old copies. If the log dir
cannot be written (read-only home, full disk), the program runs on with stderr only.

Call `setup_logging(verbose)` once, where `logging.basicConfig` used to be called.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import platform
import sys
from pathlib import Path

LOG_NAME = "clippo-desktop.log"
MAX_BYTES = 1 << 20
BACKUPS = 3
LOG_DIR_ENV = "CLIPPO_DESKTOP_LOG_DIR"  # overrides the platformdirs location (tests, portable use)
_MARK = "_clippo_desktop_handler"


def log_file() -> Path:
    """Where the current log file is (or would be)."""
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override).expanduser() / LOG_NAME
    from clippo_desktop.engine.paths import log_dir

    return log_dir() / LOG_NAME


def setup_logging(verbose: bool = False) -> Path | None:
    """Configure the root logger once; returns the log file in use, or None if it is unwritable.

    stderr gets WARNING and above (INFO with `verbose`), in the short format the CLI always used;
    the file gets INFO and above (DEBUG with `verbose`) with timestamps and thread names.
    Calling it again only adjusts the levels.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, _MARK, None)]
    stderr_level = logging.INFO if verbose else logging.WARNING
    file_level = logging.DEBUG if verbose else logging.INFO
    if ours:
        for h in ours:
            h.setLevel(file_level if isinstance(h, logging.FileHandler) else stderr_level)
        root.setLevel(min(stderr_level, file_level))
        return next((Path(h.baseFilename) for h in ours if isinstance(h, logging.FileHandler)), None)

    if sys.stderr is not None:  # None in a windowed (no console) Windows/macOS executable
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(stderr_level)
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        setattr(console, _MARK, True)
        root.addHandler(console)
    root.setLevel(min(stderr_level, file_level))

    path = log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s (%s); logging to stderr only",
                                            path, exc)
        return None
    handler.setLevel(file_level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    logging.getLogger(__name__).info("start: %s", run_description())
    return path


def run_description() -> str:
    """One line for the top of each run: what is running, and where (for bug reports)."""
    from clippo_desktop import __version__

    frozen = "frozen" if getattr(sys, "frozen", False) else "python"
    return (f"clippo-desktop {__version__} ({frozen}) pid {os.getpid()} python {platform.python_version()} "
            f"on {platform.platform()} [{platform.machine()}] argv={sys.argv[1:]!r}")

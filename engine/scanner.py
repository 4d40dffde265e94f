"""Walk a library folder and list the photo files in it, whatever the folder holds.

Real photo folders contain symlink loops, NAS metadata folders (`@eaDir`, `#recycle`), macOS
AppleDouble files (`._IMG_0001.JPG`), unreadable subfolders, FIFOs and device nodes named
`.jpg`, and filenames that are not valid UTF-8. The walk must finish on all of them, never
open a file (stat only), and report what it could not read instead of failing.

Paths are `str`; undecodable bytes survive as surrogate escapes (what `os.scandir` on a str
path gives), and the catalog stores them losslessly through `os.fsencode`.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from dataclasses import dataclass, field
from typing import Callable

from .imageio import is_supported

# Folder names that are never photos the user took: VCS, NAS/OS metadata, caches, trash.
SKIP_DIRS = frozenset({"node_modules", "@eaDir", "#recycle", "#snapshot", "$RECYCLE.BIN",
                       "System Volume Information", "__MACOSX", "lost+found", "@Recycle",
                       "@Recently-Snapshot"})
SKIP_FILES = frozenset({"Thumbs.db", "desktop.ini", ".DS_Store"})


@dataclass(frozen=True)
class FileEntry:
    """One photo-named file. `problem` is set for things that must not be opened."""

    path: str
    size: int
    mtime_ns: int
    problem: str | None = None     # "not a regular file", "broken symbolic link", ...


@dataclass
class ScanResult:
    files: list[FileEntry] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)    # folders: (path, reason)
    cancelled: bool = False


def is_hidden_name(name: str) -> bool:
    """True for names the walk skips: dot-names, AppleDouble files, NAS and OS folders."""
    return name.startswith(".") or name in SKIP_DIRS or name in SKIP_FILES


def is_skipped_path(path: str, root: str) -> bool:
    """True when any component of `path` below `root` is hidden (for watcher events)."""
    rel = os.path.relpath(path, root)
    if rel.startswith(".." + os.sep) or rel == "..":
        return True
    return any(is_hidden_name(part) for part in rel.split(os.sep) if part not in ("", "."))


def _folder_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read folder: {exc.strerror or exc}"


def _scan_kill_point() -> int:
    """Crash-test hook: CLIPPO_TEST_KILL_AT="scan:K" SIGKILLs the process at the K-th folder."""
    phase, _, k = os.environ.get("CLIPPO_TEST_KILL_AT", "").partition(":")
    return int(k) if phase == "scan" and k.isdigit() else -1


def scan(top: str | os.PathLike, *, cancel: threading.Event | None = None,
         on_found: Callable[[int], None] | None = None) -> ScanResult:
    """Every supported file under `top` (a folder, or a single file), sorted by path.

    Directory symlinks are followed unless they lead to a folder already walked (tracked by
    (st_dev, st_ino)), so loops end. `on_found(count)` is called now and then.
    """
    top = os.fsdecode(os.path.abspath(top))
    result = ScanResult()
    try:
        top_st = os.stat(top)
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            result.failed.append((top, _folder_reason(exc)))
        return result
    if not stat.S_ISDIR(top_st.st_mode):
        entry = _file_entry(top, os.path.basename(top))
        if entry is not None:
            result.files.append(entry)
        return result
    seen = {(top_st.st_dev, top_st.st_ino)}
    stack = [top]
    kill_at, walked = _scan_kill_point(), 0
    while stack:
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        folder = stack.pop()
        walked += 1
        if walked == kill_at:            # crash tests only (see engine/pipeline.py)
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except FileNotFoundError:
            continue                     # vanished while we walked
        except OSError as exc:
            result.failed.append((folder, _folder_reason(exc)))
            continue
        for entry in entries:
            if is_hidden_name(entry.name):
                continue
            _visit(entry, stack, seen, result)
        if on_found is not None:
            on_found(len(result.files))
    result.files.sort(key=lambda f: f.path)
    return result


def _visit(entry: os.DirEntry, stack: list[str], seen: set, result: ScanResult) -> None:
    try:
        is_dir = entry.is_dir(follow_symlinks=True)
    except OSError:
        is_dir = False
    if is_dir:
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            result.failed.append((entry.path, _folder_reason(exc)))
            return
        key = (st.st_dev, st.st_ino)
        if key not in seen:              # a symlink loop or a second link to a walked folder
            seen.add(key)
            stack.append(entry.path)
        return
    file = _file_entry(entry.path, entry.name)
    if file is not None:
        result.files.append(file)


def _file_entry(path: str, name: str) -> FileEntry | None:
    """A FileEntry for a photo-named path (stat only, never opened), or None to ignore it."""
    if not is_supported(name) or is_hidden_name(name):
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        try:
            lst = os.lstat(path)
        except OSError:
            return None                  # vanished
        return FileEntry(path, 0, lst.st_mtime_ns, "broken symbolic link")
    except OSError as exc:
        return FileEntry(path, 0, 0, _folder_reason(exc).replace("folder", "file"))
    if not stat.S_ISREG(st.st_mode):
        return FileEntry(path, 0, st.st_mtime_ns, "not a regular file")
    return FileEntry(path, st.st_size, st.st_mtime_ns)

"""One process per library: a lock file in the data directory.

The lock is an OS lock on `library.lock` (fcntl.flock on POSIX, msvcrt.locking on Windows),
so it vanishes with its process even after SIGKILL. The file also records who holds it (PID,
hostname, start time) for the "another clippo-desktop is using this library" message, and for
filesystems without working OS locks (some network shares), where the recorded PID decides:
a PID that is no longer alive on this host, or that now belongs to a newer process, is a stale
lock and is taken over (and logged). The file is emptied, never deleted, on release: deleting
it would let two processes lock two different files of the same name.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from .errors import LibraryLockedError, ReadOnlyError, StorageFullError

try:
    import fcntl
except ImportError:     # Windows
    fcntl = None
try:
    import msvcrt
except ImportError:     # POSIX
    msvcrt = None

log = logging.getLogger(__name__)

LOCK_NAME = "library.lock"
_MSVCRT_OFFSET = 1 << 30       # lock a byte far past the owner record, which stays readable


@dataclass(frozen=True)
class LockOwner:
    pid: int
    hostname: str
    started_at: float

    def is_alive(self) -> bool:
        """Whether the recorded process still runs (unknowable for another host: assume so)."""
        if self.hostname != socket.gethostname():
            return True
        try:
            proc = psutil.Process(self.pid)
            return proc.create_time() <= self.started_at + 2.0   # newer process = reused PID
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False
        except psutil.AccessDenied:
            return True


def read_owner(path: Path) -> LockOwner | None:
    try:
        data = json.loads(Path(path).read_text("utf-8") or "null")
        return None if data is None else LockOwner(int(data["pid"]), str(data["hostname"]),
                                                   float(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _locked_error(owner: LockOwner | None) -> LibraryLockedError:
    if owner is None:
        who = "Another clippo-desktop"
    elif owner.hostname != socket.gethostname():
        who = f"Another clippo-desktop (PID {owner.pid} on {owner.hostname})"
    else:
        who = f"Another clippo-desktop (PID {owner.pid})"
    return LibraryLockedError(f"{who} is using this library.",
                              hint="Close it, or wait for it to finish.")


def _unwritable(path: Path, exc: OSError) -> Exception:
    """A lock file that cannot be created or written: a typed error naming the folder."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(f"The disk holding {path.parent} is full.",
                                "Free some space and run again.")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ReadOnlyError(f"The library folder {path.parent} is read-only, so this library "
                             "cannot be changed.", "Search still works; to index, make the "
                             "folder writable or choose another --data-dir.")
    return exc


class LibraryLock:
    """`with LibraryLock(data_dir): ...` — raises LibraryLockedError if someone else holds it."""

    def __init__(self, data_dir: str | os.PathLike):
        self.path = Path(data_dir) / LOCK_NAME
        self._fd: int | None = None
        self._os_lock = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            raise _unwritable(self.path, exc) from exc
        try:
            self._os_lock = self._try_os_lock(fd)
            previous = read_owner(self.path)
            if not self._os_lock and previous is not None and previous.is_alive() \
                    and previous.pid != os.getpid():
                raise _locked_error(previous)
            if previous is not None and previous.pid != os.getpid():
                log.warning("taking over a stale library lock %s (PID %d on %s is gone)",
                            self.path, previous.pid, previous.hostname)
            self._write_owner(fd)
        except OSError as exc:
            os.close(fd)
            raise _unwritable(self.path, exc) from exc
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _try_os_lock(self, fd: int) -> bool:
        """True if the OS lock is ours; False if this filesystem has none; raises if taken."""
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif msvcrt is not None:
                os.lseek(fd, _MSVCRT_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                return False
            return True
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                log.warning("no OS file locks on %s; relying on the PID in the lock file",
                            self.path.parent)
                return False
            raise _locked_error(read_owner(self.path)) from None

    def _write_owner(self, fd: int) -> None:
        record = {"pid": os.getpid(), "hostname": socket.gethostname(),
                  "started_at": psutil.Process().create_time(), "locked_at": time.time()}
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            if self._os_lock and fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            elif self._os_lock and msvcrt is not None:
                os.lseek(fd, _MSVCRT_OFFSET, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)

    def __enter__(self) -> "LibraryLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

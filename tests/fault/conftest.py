"""Fixtures for the environment-fault tests: small tmpfs mounts and read-only remounts.

They need root and a kernel that lets this sandbox mount tmpfs; elsewhere they skip with the
reason (the StorageFullError path is still covered by tests/fault/test_environment.py's
RLIMIT_FSIZE test, which needs neither).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True)


class Mounts:
    """Mounts made by one test, unmounted (innermost first) when it ends."""

    def __init__(self):
        self.points: list[Path] = []

    def tmpfs(self, where: Path, size: str) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        done = _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
        if done.returncode != 0:
            pytest.skip(f"cannot mount tmpfs here: {done.stderr.strip()}")
        self.points.append(where)
        return where

    def bind(self, src: Path, dst: Path, *, read_only: bool = False) -> Path:
        dst.mkdir(parents=True, exist_ok=True)
        done = _run("mount", "--bind", str(src), str(dst))
        if done.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {done.stderr.strip()}")
        self.points.append(dst)
        if read_only:
            self.remount(dst, "ro,bind")
        return dst

    def remount(self, where: Path, options: str) -> None:
        done = _run("mount", "-o", f"remount,{options}", str(where))
        if done.returncode != 0:
            pytest.skip(f"cannot remount {options}: {done.stderr.strip()}")

    def release(self) -> None:
        for point in reversed(self.points):
            with contextlib.suppress(Exception):
                _run("umount", "-l", str(point))
        self.points.clear()


@pytest.fixture
def mounts():
    if os.geteuid() != 0:
        pytest.skip("mount tests need root")
    m = Mounts()
    try:
        yield m
    finally:
        m.release()

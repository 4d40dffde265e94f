"""One writer per library: a real second process is kept out; a dead one's lock is taken over."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from clippo_desktop.engine.errors import LibraryLockedError
from clippo_desktop.engine.lockfile import LOCK_NAME, LibraryLock, LockOwner, read_owner

HOLDER = """
import sys
from clippo_desktop.engine.lockfile import LibraryLock
with LibraryLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_second_process_is_refused_with_the_owner_pid(tmp_path, holder):
    with pytest.raises(LibraryLockedError) as info:
        LibraryLock(tmp_path).acquire()
    assert str(info.value) == (f"Another clippo-desktop (PID {holder.pid}) is using this library. "
                               "Close it, or wait for it to finish.")
    assert info.value.exit_code != 0


def test_lock_is_free_again_after_the_owner_exits_cleanly(tmp_path, holder):
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(timeout=10) == 0
    assert read_owner(tmp_path / LOCK_NAME) is None            # emptied on release
    with LibraryLock(tmp_path) as lock:
        assert lock.held and read_owner(tmp_path / LOCK_NAME).pid == os.getpid()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_lock_of_a_killed_owner_is_taken_over_and_logged(tmp_path, holder, caplog):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    assert read_owner(tmp_path / LOCK_NAME).pid == holder.pid  # its record is left behind
    with caplog.at_level(logging.WARNING), LibraryLock(tmp_path):
        assert read_owner(tmp_path / LOCK_NAME).pid == os.getpid()
    assert f"PID {holder.pid}" in caplog.text and "stale" in caplog.text


def test_stale_lock_file_with_a_dead_pid_is_taken_over(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_NAME).write_text(json.dumps(
        {"pid": dead.pid, "hostname": socket.gethostname(), "started_at": 1.0}))
    with caplog.at_level(logging.WARNING), LibraryLock(tmp_path) as lock:
        assert lock.held
    assert f"PID {dead.pid}" in caplog.text


def test_owner_liveness_tells_a_reused_pid_from_the_original_process():
    me = psutil.Process()
    host = socket.gethostname()
    assert LockOwner(me.pid, host, me.create_time()).is_alive()
    assert not LockOwner(me.pid, host, me.create_time() - 3600).is_alive()   # PID reused since
    assert LockOwner(me.pid, "some-other-host", 0.0).is_alive()              # cannot tell: assume so


def test_same_lock_object_can_be_released_twice_and_reacquired(tmp_path):
    lock = LibraryLock(tmp_path / "new-dir")
    lock.acquire()
    lock.acquire()
    lock.release()
    lock.release()
    with lock:
        assert lock.held
    assert not lock.held

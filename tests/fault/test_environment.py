"""Environment faults through the real CLI: full disk, read-only folders, odd paths, a damaged
catalog, a tampered model and a second instance. Each ends in a clear message, never a
traceback, and the library is usable again once the fault is gone.

Full disk and read-only folders use real tmpfs mounts (we run as root in CI; the `mounts`
fixture skips elsewhere); the model package is bind-mounted into the small tmpfs so only the
catalog and the vector index compete for its space.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from clippo_desktop.engine.library import Library
from tests.library_fixtures import *  # noqa: F401,F403
from tests.library_fixtures import run_cli
from tests.photo_factory import write_photo

pytestmark = pytest.mark.timeout(300)


def _photos(folder: Path, n: int, size=(64, 48)) -> list[Path]:
    return [write_photo(folder / f"d{i % 3}" / f"p{i:03d}.jpg", i, size) for i in range(n)]


def _no_traceback(proc) -> str:
    err = proc.stderr.decode(errors="replace")
    assert "Traceback" not in err, err[-3000:]
    return err


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def _index(data: Path, photos: Path, env: dict | None = None):
    return run_cli("--data-dir", str(data), "--index", str(photos), "--json", env=env)


def test_a_full_disk_stops_with_a_clear_message_and_the_library_opens_afterwards(
        mounts, tmp_path, golden_model_dir):
    photos = tmp_path / "photos"
    _photos(photos, 160)
    data = mounts.tmpfs(tmp_path / "data", "160k")
    mounts.bind(golden_model_dir, data / "models" / "golden", read_only=True)
    full = _index(data, photos)
    err = _no_traceback(full)
    assert full.returncode == 1, err
    assert "is full" in err and "Free some space" in err, err

    mounts.remount(data, "size=64m")
    assert _integrity(data / "catalog.db") == "ok"
    status = run_cli("--data-dir", str(data), "status", "--json")
    assert status.returncode == 0, _no_traceback(status)
    again = _index(data, photos)
    assert again.returncode == 0, _no_traceback(again)
    with Library.open(data, writer=False) as lib:
        assert lib.catalog.status_counts().get("indexed") == 160
        assert len(lib.vectors) == 160
    assert _integrity(data / "catalog.db") == "ok"


@pytest.mark.slow
def test_a_file_size_limit_is_reported_as_a_full_disk(tmp_path, data_dir):
    """Where tmpfs cannot be mounted, RLIMIT_FSIZE makes writes fail with EFBIG the same way."""
    photos = tmp_path / "photos"
    _photos(photos, 64)
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (48_000, 48_000)); "
            "from clippo_desktop.engine.cli import main; sys.exit(main(sys.argv[1:]))")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code, "--data-dir", str(data_dir), "--index",
                           str(photos)], capture_output=True, timeout=240)
    err = _no_traceback(proc)
    # SQLite reports EFBIG as a disk I/O error (only ENOSPC is SQLITE_FULL): a typed error
    # naming the catalog, not the full-disk sentence the tmpfs test checks.
    assert proc.returncode == 1 and err.startswith("clippo-desktop: error: "), err
    assert "full" in err or "catalog.db" in err, err
    assert _integrity(data_dir / "catalog.db") == "ok"
    assert _index(data_dir, photos).returncode == 0


def test_a_read_only_data_directory_is_refused_by_name_and_never_called_damaged(
        mounts, tmp_path, golden_model_dir):
    photos = tmp_path / "photos"
    _photos(photos, 20)
    data = mounts.tmpfs(tmp_path / "data", "32m")
    mounts.bind(golden_model_dir, data / "models" / "golden", read_only=True)
    assert _index(data, photos).returncode == 0
    mounts.remount(data, "ro")
    proc = _index(data, photos)
    err = _no_traceback(proc)
    assert proc.returncode == 1, err
    assert "read-only" in err and str(data) in err, err
    # Searching needs SQLite's WAL index file next to the catalog, which a read-only folder
    # cannot hold: a clear read-only error, never "damaged, move it away" (that would lose it).
    search = run_cli("--data-dir", str(data), "search", "red", "--json", "--top", "3")
    err = _no_traceback(search)
    assert search.returncode == 1, err
    assert "is read-only" in err and "damaged" not in err, err
    mounts.remount(data, "rw")
    search = run_cli("--data-dir", str(data), "search", "red", "--json", "--top", "3")
    assert search.returncode == 0, _no_traceback(search)
    assert len(json.loads(search.stdout)["results"]) == 3


def test_writing_xmp_into_a_read_only_photo_folder_names_the_folder(
        mounts, tmp_path, data_dir):
    photos = mounts.tmpfs(tmp_path / "photos", "8m")
    (one,) = _photos(photos, 1)
    assert _index(data_dir, photos).returncode == 0
    mounts.remount(photos, "ro")
    proc = run_cli("--data-dir", str(data_dir), "tag", str(one), "--label", "cat",
                   "--label", "dog", "--write-xmp")
    err = _no_traceback(proc)
    assert proc.returncode == 1, err
    assert f"Cannot write the sidecar in {one.parent}: the folder is read-only." in err
    assert not Path(str(one) + ".xmp").exists()


def test_a_data_directory_with_spaces_and_non_ascii_characters_indexes_and_searches(
        tmp_path, golden_model_dir):
    import shutil

    data = tmp_path / "my library ñandú 写真 ü"
    shutil.copytree(golden_model_dir, data / "models" / "golden")
    photos = tmp_path / "Fotos del año"
    paths = _photos(photos, 12)
    assert _index(data, photos).returncode == 0
    proc = run_cli("--data-dir", str(data), "search", "blue sky", "--json", "--top", "12")
    assert proc.returncode == 0, _no_traceback(proc)
    hits = json.loads(proc.stdout)["results"]
    assert {h["path"] for h in hits} == {str(p) for p in paths}


def test_a_corrupted_catalog_says_what_happened_and_what_to_do(tmp_path, data_dir):
    photos = tmp_path / "photos"
    _photos(photos, 8)
    assert _index(data_dir, photos).returncode == 0
    db = data_dir / "catalog.db"
    with open(db, "r+b") as f:                       # garbage over the SQLite header
        f.write(os.urandom(100))
    for args in (("status",), ("--index", str(photos)), ("search", "cat")):
        proc = run_cli("--data-dir", str(data_dir), *args)
        err = _no_traceback(proc)
        assert proc.returncode == 1, (args, err)
        assert "is damaged or is not a clippo-desktop catalog" in err, err
        assert f"move {db} away and run again" in err, err


def test_a_model_file_that_fails_its_checksum_is_refused(tmp_path, data_dir):
    photos = tmp_path / "photos"
    _photos(photos, 4)
    model_dir = data_dir / "models" / "golden"
    variant = json.loads((model_dir / "manifest.json").read_text())["default_variant"]
    onnx = model_dir / ("model.int8.onnx" if variant == "int8" else "model.onnx")
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    proc = _index(data_dir, photos)
    err = _no_traceback(proc)
    assert proc.returncode == 1
    assert f"{onnx} does not match its checksum in the manifest" in err, err
    assert "clippo-desktop model remove golden" in err


def test_a_second_instance_is_told_who_holds_the_library(tmp_path, data_dir):
    photos = tmp_path / "photos"
    _photos(photos, 2)
    with Library.open(data_dir):
        proc = _index(data_dir, photos)
    assert proc.returncode == 1
    assert proc.stderr.decode() == (
        f"clippo-desktop: error: Another clippo-desktop (PID {os.getpid()}) is using this "
        "library. Close it, or wait for it to finish.\n")
    assert proc.stdout == b""

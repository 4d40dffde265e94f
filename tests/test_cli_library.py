"""`clippo-desktop --index ... [--json] [--watch]` and `clippo-desktop status`, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from clippo_desktop.engine.cli import main
from clippo_desktop.engine.library import Library
from tests.library_fixtures import REPO, run_cli
from tests.library_fixtures import *  # noqa: F401,F403
from tests.photo_factory import make_bad_files, make_good_tree, write_photo


def test_index_prints_the_json_summary_and_exits_zero_with_failures_listed(data_dir, tmp_path):
    photos = tmp_path / "photos"
    good = make_good_tree(photos)
    bad = make_bad_files(photos)
    odd = photos / os.fsdecode(b"bad-\xff.jpg")           # undecodable name, bad content
    odd.write_bytes(b"not a jpeg")
    out = run_cli("--data-dir", str(data_dir), "--index", str(photos), "--json")
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout.decode("utf-8"))
    assert list(doc) == ["indexed", "unchanged", "moved", "removed", "failed", "seconds"]
    assert (doc["indexed"], doc["unchanged"], doc["moved"], doc["removed"]) == (len(good), 0, 0, 0)
    assert sorted(f["path"] for f in doc["failed"]) == sorted([*bad.values(),
                                                                 str(photos / "bad-\ufffd.jpg")])
    assert all(f["reason"] for f in doc["failed"])
    assert doc["seconds"] > 0
    assert b"Indexing" not in out.stderr and b"\x1b[" not in out.stderr   # no bar on a pipe

    again = run_cli("--data-dir", str(data_dir), "--index", str(photos), "--json")
    doc = json.loads(again.stdout)
    assert (again.returncode, doc["indexed"], doc["unchanged"], doc["failed"]) == \
        (0, 0, len(good) + len(bad) + 1, [])


def test_status_shows_roots_counts_models_and_index_sizes(data_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    good = make_good_tree(photos)
    (photos / "broken.jpg").write_bytes(b"nope")
    with Library.open(data_dir) as lib:
        lib.add_roots([photos], watch=True)
        lib.index()
    assert main(["--data-dir", str(data_dir), "status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(r["path"], r["online"], r["watch"]) for r in doc["roots"]] == [(str(photos), True, True)]
    assert doc["counts"] == {"pending": 0, "indexed": len(good), "failed": 1}
    (model,) = doc["models"]
    assert (model["name"], model["vectors"], model["active"]) == ("golden", len(good), True)
    assert model["index_bytes"] > 0
    assert doc["failed"] == [{"path": str(photos / "broken.jpg"), "reason": doc["failed"][0]["reason"]}]

    os.rename(photos, tmp_path / "unplugged")
    with Library.open(data_dir) as lib:
        lib.index()
    assert main(["--data-dir", str(data_dir), "status"]) == 0
    text = capsys.readouterr().out
    assert "OFFLINE" in text and f"indexed {len(good)}" in text and "golden (active)" in text


def test_status_of_an_empty_data_dir_says_how_to_start(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path / "none"), "status"]) == 0
    assert "--index" in capsys.readouterr().out


def test_index_without_a_model_fails_with_what_to_do(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    code = main(["--data-dir", str(tmp_path / "d"), "--index", str(tmp_path / "photos")])
    assert code != 0
    assert "model import" in capsys.readouterr().err


def test_index_while_another_process_holds_the_library_fails_cleanly(data_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_photo(photos / "a.jpg", 1)
    with Library.open(data_dir):
        code = main(["--data-dir", str(data_dir), "--index", str(photos), "--json"])
    assert code != 0
    captured = capsys.readouterr()
    assert "is using this library" in captured.err and captured.out == ""


def test_index_of_a_missing_folder_is_a_usage_error(data_dir, tmp_path, capsys):
    code = main(["--data-dir", str(data_dir), "--index", str(tmp_path / "nope")])
    assert code == 2 and "is not a folder" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_watch_indexes_new_files_and_stops_cleanly_on_sigterm(data_dir, tmp_path):
    photos = tmp_path / "photos"
    write_photo(photos / "a.jpg", 1)
    proc = subprocess.Popen([sys.executable, "-m", "clippo_desktop", "--data-dir", str(data_dir),
                             "--index", str(photos), "--watch", "--json"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["indexed"] == 1
        deadline = time.monotonic() + 30
        while b"watching" not in proc.stderr.readline() and time.monotonic() < deadline:
            pass
        write_photo(photos / "b.jpg", 2)
        second = json.loads(proc.stdout.readline())
        assert second["indexed"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert b"stopped watching" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()

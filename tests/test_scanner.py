"""The folder walk: what it finds, what it skips, and that it ends on anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from clippo_desktop.engine.scanner import is_skipped_path, scan
from tests.photo_factory import (UNDECODABLE, make_bad_files, make_good_tree, make_skipped_files,
                                 make_symlink_loop, write_photo)


def test_walk_finds_every_photo_in_nested_unicode_and_undecodable_names(tmp_path):
    good = make_good_tree(tmp_path)
    result = scan(tmp_path)
    assert [f.path for f in result.files] == sorted(good)
    assert all(f.problem is None and f.size > 0 for f in result.files)
    undecodable = [f.path for f in result.files if f.path.endswith(UNDECODABLE)]
    assert len(undecodable) == 1 and os.path.isfile(undecodable[0])
    assert os.fsencode(undecodable[0]).endswith(b"caf\xe9-\xff.jpg")


def test_hidden_system_folders_appledouble_and_other_files_are_skipped(tmp_path):
    make_skipped_files(tmp_path)
    keep = write_photo(tmp_path / "keep.jpg", 1)
    assert [f.path for f in scan(tmp_path).files] == [str(keep)]


def test_extensions_match_case_insensitively(tmp_path):
    names = ["a.JPG", "b.JpEg", "c.PNG", "d.HEIC", "e.tiff", "f.webp"]
    for i, n in enumerate(names):
        write_photo(tmp_path / n, i)
    (tmp_path / "g.JPG.txt").write_text("no")
    assert sorted(os.path.basename(f.path) for f in scan(tmp_path).files) == sorted(names)


@pytest.mark.timeout(20)
def test_symlink_loops_end_and_each_folder_is_walked_once(tmp_path):
    good = make_good_tree(tmp_path / "lib")
    make_symlink_loop(tmp_path / "lib")
    result = scan(tmp_path / "lib")
    assert [f.path for f in result.files] == sorted(good)


def test_a_symlinked_folder_elsewhere_is_followed(tmp_path):
    outside = write_photo(tmp_path / "outside" / "o.jpg", 3)
    (tmp_path / "lib").mkdir()
    os.symlink(outside.parent, tmp_path / "lib" / "linked")
    assert [f.path for f in scan(tmp_path / "lib").files] == [str(tmp_path / "lib/linked/o.jpg")]


@pytest.mark.timeout(20)
def test_fifo_device_and_broken_link_are_reported_without_being_opened(tmp_path):
    bad = make_bad_files(tmp_path)
    problems = {f.path: f.problem for f in scan(tmp_path).files if f.problem}
    assert problems == {bad["fifo"]: "not a regular file", bad["device"]: "not a regular file",
                        bad["broken_link"]: "broken symbolic link"}


def test_a_missing_top_folder_gives_an_empty_result(tmp_path):
    result = scan(tmp_path / "gone")
    assert result.files == [] and result.failed == []


def test_a_single_file_can_be_scanned(tmp_path):
    photo = write_photo(tmp_path / "one.png", 1)
    assert [f.path for f in scan(photo).files] == [str(photo)]


_AS_NOBODY = r"""
import json, os, sys
from clippo_desktop.engine.scanner import scan
os.setgid(65534); os.setuid(65534)
r = scan(sys.argv[1])
print(json.dumps({"files": [f.path for f in r.files], "failed": r.failed}))
"""


def test_unreadable_folder_is_reported_and_skipped():
    base = Path(tempfile.mkdtemp(prefix="clippo-perm-"))   # traversable by 'nobody'
    lib = base / "lib"
    ok = write_photo(lib / "ok" / "a.jpg", 1)
    write_photo(lib / "secret" / "b.jpg", 2)
    for d in (base, lib, lib / "ok"):
        d.chmod(0o755)
    ok.chmod(0o644)
    (lib / "secret").chmod(0o000)
    try:
        if os.geteuid() == 0:      # root reads everything: walk as 'nobody' in a child process
            out = subprocess.run([sys.executable, "-c", _AS_NOBODY, str(lib)], check=True,
                                 capture_output=True, text=True, timeout=60)
            result = json.loads(out.stdout)
            files, failed = result["files"], [tuple(f) for f in result["failed"]]
        else:
            r = scan(lib)
            files, failed = [f.path for f in r.files], r.failed
    finally:
        (lib / "secret").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
    assert files == [str(ok)]
    assert failed == [(str(lib / "secret"), "permission denied")]


def test_skipped_paths_are_recognised_below_the_root():
    assert is_skipped_path("/r/a/.git/x.jpg", "/r")
    assert is_skipped_path("/r/@eaDir/x.jpg", "/r")
    assert is_skipped_path("/r/a/._x.jpg", "/r")
    assert not is_skipped_path("/r/a/x.jpg", "/r")
    assert not is_skipped_path("/r/.hidden-root-ok/x.jpg", "/r/.hidden-root-ok")
    assert is_skipped_path("/elsewhere/x.jpg", "/r")

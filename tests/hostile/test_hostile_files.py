"""Indexing a folder of hostile files finishes, reports every bad file with the right reason,
never hangs on one file and stays under a memory limit.

The corpus (tests/hostile/corpus.py) is built once per module. The index runs in a child
process (the real Library, the golden model) so its peak RSS can be read with
getrusage(RUSAGE_CHILDREN) and a crash would show as a signal, not take pytest down.

Memory limit: 1.5 GB peak RSS. The model, ONNX Runtime and numpy take ~300-500 MB; the
decoder's pixel cap (200 MP, checked from the header before any buffer is allocated) bounds
one photo's decode at ~600 MB (RGB + a mode conversion), and decoding runs on 2 threads at
most ((ahead + 1) x batch decoded 224x224 photos are kept, ~7 MB). A bomb that slipped past
the header check would allocate tens of GB and blow through the limit at once.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from clippo_desktop.engine.errors import ImageDecodeError
from clippo_desktop.engine.imageio import read_photo
from tests.hostile.corpus import CorpusFile, build_corpus, kinds, reason_family
from tests.library_fixtures import *  # noqa: F401,F403

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT_KB = 1_500_000          # 1.5 GB peak RSS for the indexing process
PER_FILE_LIMIT_S = 20.0              # one decode, on a loaded 2-core machine
INDEX_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[CorpusFile]]:
    root = tmp_path_factory.mktemp("hostile") / "photos"
    return root, build_corpus(root)


@pytest.fixture(scope="module")
def indexed(corpus, tmp_path_factory, golden_model_dir) -> dict:
    """Run the indexer on the corpus in a child process; its JSON report plus its peak RSS."""
    import shutil

    root, files = corpus
    data = tmp_path_factory.mktemp("hostile-data")
    shutil.copytree(golden_model_dir, data / "models" / "golden")
    vanish = data / "vanish.txt"
    vanish.write_text("\n".join(os.fsencode(f.path).hex() for f in files if f.vanish))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tests.hostile.index_corpus", str(data),
                           str(root), str(vanish)], capture_output=True, cwd=REPO,
                          timeout=INDEX_TIMEOUT_S)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    doc = json.loads(proc.stdout)
    doc["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    doc["children_maxrss_before_kb"] = before
    doc["seconds"] = seconds
    return doc


def _decode(path: str) -> dict[str, str]:
    return {os.fsdecode(bytes.fromhex(p)): r for p, r in path}


def test_the_corpus_has_over_200_files_of_over_25_kinds(corpus):
    root, files = corpus
    assert len(files) >= 200
    assert len(kinds(files)) >= 25
    assert any(len(f.path) > 4096 for f in files)          # Linux allows it via relative ops
    assert any(len(os.path.basename(os.fsencode(f.path))) == 255 for f in files)


def test_indexing_the_corpus_finishes_and_reports_every_bad_file_with_its_reason(corpus, indexed):
    root, files = corpus
    failed = _decode(indexed["failed"])
    indexed_paths = {os.fsdecode(bytes.fromhex(p)) for p in indexed["indexed_paths"]}
    assert not indexed["cancelled"]
    wrong = []
    for f in files:
        if f.path in indexed_paths:
            family, reason = "ok", ""
        elif f.path in failed:
            reason = failed[f.path]
            family = reason_family(reason)
        else:            # a folder above it could not be read (a path over PATH_MAX)
            above = [(p, r) for p, r in failed.items() if f.path.startswith(p + os.sep)]
            reason = above[0][1] if above else "NOT REPORTED"
            family = reason_family(reason) if above else "missing"
        if family not in f.expect:
            wrong.append((f.kind, family, reason[:100], f.path[-60:]))
    assert not wrong, "\n".join(map(str, wrong))
    assert indexed["indexed"] >= 24                        # the good photos really went through
    assert all(r.strip() for r in failed.values())
    assert "unexpected decoder error" not in " ".join(failed.values())


def test_every_failure_is_kept_in_the_catalog_for_status(indexed):
    in_status = _decode(indexed["status_failed"])
    for path, reason in _decode(indexed["failed"]).items():
        if reason_family(reason) != "name_too_long":       # a folder, not a photo row
            assert in_status.get(path) == reason


def test_files_deleted_between_scan_and_decode_are_reported_as_vanished(corpus, indexed):
    failed = _decode(indexed["failed"])
    gone = [f for f in corpus[1] if f.vanish]
    assert gone and all(not os.path.exists(f.path) for f in gone)
    assert all(reason_family(failed[f.path]) == "vanished" for f in gone)
    assert indexed["phases"][:2] == ["scanning", "indexing"]


def test_peak_memory_of_the_indexing_process_stays_under_the_limit(indexed):
    assert indexed["maxrss_kb"] < MEMORY_LIMIT_KB
    assert indexed["children_maxrss_kb"] < MEMORY_LIMIT_KB


def _timed_read(path: str, limit: float) -> tuple[float, str]:
    """Decode in a daemon thread; (seconds, outcome). A hang shows as seconds >= limit."""
    box: list[str] = []

    def work() -> None:
        try:
            read_photo(path)
            box.append("ok")
        except ImageDecodeError as exc:
            box.append(reason_family(str(exc)))
        except BaseException as exc:                      # noqa: BLE001 - reported below
            box.append(f"UNTYPED {type(exc).__name__}: {exc}")

    t = threading.Thread(target=work, daemon=True)
    started = time.monotonic()
    t.start()
    t.join(limit)
    return time.monotonic() - started, box[0] if box else "HUNG"


def test_no_single_file_takes_longer_than_the_per_file_bound_or_raises_untyped(corpus):
    root, files = corpus
    worst, problems = (0.0, ""), []
    for f in files:
        if f.vanish:
            continue
        seconds, outcome = _timed_read(f.path, PER_FILE_LIMIT_S)
        worst = max(worst, (seconds, f.kind))
        if outcome == "HUNG" or outcome.startswith("UNTYPED"):
            problems.append((f.kind, outcome, f.path[-60:]))
    assert not problems, problems
    assert worst[0] < PER_FILE_LIMIT_S, worst

"""SIGKILL during indexing, then a rerun: the catalog and the hnswlib index must agree.

The real CLI runs in a subprocess on 64 small photos (4 batches of 16) and kills itself at
batch 2 in one of five phases through the CLIPPO_TEST_KILL_AT hook (engine/pipeline.py).
CLIPPO_DESKTOP_EXACT_THRESHOLD=0 makes the vector index keep an hnswlib graph even for so
few photos, so the graph file on disk is what gets checked.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import hnswlib
import pytest

from clippo_desktop.engine.library import Library, vector_dir
from tests.library_fixtures import *  # noqa: F401,F403
from tests.photo_factory import write_photo

N_PHOTOS, BATCH = 64, 16
ENV = {"CLIPPO_DESKTOP_EXACT_THRESHOLD": "0"}


def committed(db_path: Path) -> dict[int, float]:
    """photo id -> embedding created_at, plus the integrity check, with plain sqlite3."""
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(db.execute("SELECT photo_id, created_at FROM embeddings"))


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crash-photos")
    for i in range(N_PHOTOS):
        write_photo(root / f"d{i % 3}" / f"p{i:03d}.jpg", i, (64, 48))
    return root


# (phase, photos committed when the process dies at batch 2)
# ~11 s each on 2 shared cores: two that the others imply run only with -m slow.
PHASES = [pytest.param("decoded", BATCH, marks=pytest.mark.slow, id="decoded"),
          pytest.param("encoded", BATCH, id="encoded"),
          pytest.param("commit", BATCH, id="commit"),
          pytest.param("committed", 2 * BATCH, marks=pytest.mark.slow, id="committed"),
          pytest.param("save", 2 * BATCH, id="save")]


@pytest.mark.parametrize("phase,expect_committed", PHASES)
def test_sigkill_during_indexing_then_rerun_leaves_catalog_and_index_consistent(
        phase, expect_committed, photo_dir, data_dir):
    killed = run_cli("--data-dir", str(data_dir), "--index", str(photo_dir), "--json",
                     env={**ENV, "CLIPPO_TEST_KILL_AT": f"{phase}:2"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    before = committed(data_dir / "catalog.db")
    assert len(before) == expect_committed

    rerun = run_cli("--data-dir", str(data_dir), "--index", str(photo_dir), "--json", env=ENV)
    assert rerun.returncode == 0, rerun.stderr.decode()
    summary = json.loads(rerun.stdout)
    assert summary["indexed"] == N_PHOTOS - expect_committed
    assert summary["unchanged"] == expect_committed and summary["failed"] == []

    after = committed(data_dir / "catalog.db")
    assert len(after) == N_PHOTOS
    assert {i: after[i] for i in before} == before          # committed photos not re-encoded
    with sqlite3.connect(data_dir / "catalog.db") as db:
        rows = db.execute("SELECT count(*), count(DISTINCT path), sum(status = 'indexed') "
                          "FROM photos").fetchone()
    assert rows == (N_PHOTOS, N_PHOTOS, N_PHOTOS)

    with Library.open(data_dir, writer=False, exact_threshold=0) as lib:
        folder = vector_dir(data_dir, lib.model.model_id())
        meta = json.loads((folder / "index.json").read_text())
        assert meta["generation"] == lib.catalog.index_generation(lib.model_row_id)
        graph = hnswlib.Index(space="ip", dim=lib.model.dim)
        graph.load_index(str(folder / meta["file"]))
        labels = graph.get_ids_list()
        assert len(labels) == len(set(labels)) == N_PHOTOS
        assert set(labels) == set(after)
        assert not lib.vectors.rebuilt                       # the saved graph is trusted
        assert sorted(lib.vectors.ids().tolist()) == sorted(after)
    assert not list(folder.glob(".*.tmp"))                   # a torn save was cleaned up

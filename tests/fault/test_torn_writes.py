"""A process SIGKILLed while it rewrites an XMP sidecar or the saved vector index leaves the old
file or the new one, whole: never a torn one.

A child process rewrites the file in a tight loop, alternating between two known versions,
and is killed at a random moment (seeded). The survivor is then parsed and compared with both
versions. Temp files a kill leaves behind (`.NAME.*.tmp`) are hidden names: the scanner skips
them, and Library.open cleans the vector index's on its next writer open.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clippo_desktop.engine import vector_files
from clippo_desktop.engine.vectors import VectorIndex
from clippo_desktop.engine.xmp import read_sidecar
from tests.photo_factory import write_photo

REPO = Path(__file__).resolve().parents[2]
KILLS = 4
LABELS_A = [f"alpha label {i}" for i in range(1500)]
LABELS_B = [f"beta {i}" for i in range(900)]

XMP_WRITER = """
import sys
from clippo_desktop.engine.xmp import write_keywords
a = [f"alpha label {i}" for i in range(1500)]
b = [f"beta {i}" for i in range(900)]
write_keywords(sys.argv[1], a)
print("ready", flush=True)
i = 0
while True:
    i += 1
    write_keywords(sys.argv[1], b if i % 2 else a)
"""

N_A, N_B, DIM = 3000, 2400, 32
VECTOR_WRITER = """
import sys
import numpy as np
from clippo_desktop.engine.vectors import VectorIndex
N_A, N_B, DIM = 3000, 2400, 32
def version(gen):
    n, seed = (N_A, 1) if gen % 2 == 0 else (N_B, 2)
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return np.arange(n, dtype=np.int64) + seed * 100000, v / np.linalg.norm(v, axis=1, keepdims=True)
gen = 0
while True:
    gen += 1
    ids, vecs = version(gen)
    idx = VectorIndex(sys.argv[1], DIM, exact_threshold=0)
    idx.add(ids, vecs)
    idx.save(gen)
    if gen == 2:
        print("ready", flush=True)
"""


def _run_and_kill(code: str, arg: Path, rng: random.Random, span: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", code, str(arg)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"ready", proc.stderr.read().decode()
        time.sleep(rng.uniform(0.0, span))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.timeout(180)
def test_a_sidecar_killed_mid_rewrite_is_always_the_old_or_the_new_version(tmp_path):
    photo = write_photo(tmp_path / "photo.jpg", 1)
    rng = random.Random(7)
    seen = set()
    for _ in range(KILLS):
        _run_and_kill(XMP_WRITER, photo, rng, 1.0)
        info = read_sidecar(photo)                      # parses, or raises: never torn
        assert info.keywords in (LABELS_A, LABELS_B)
        assert info.hierarchical == [f"clippo|{k}" for k in info.keywords]
        seen.add(len(info.keywords))
    assert photo.read_bytes() == write_photo(tmp_path / "again.jpg", 1).read_bytes()


def _expected(gen: int) -> tuple[np.ndarray, np.ndarray]:
    n, seed = (N_A, 1) if gen % 2 == 0 else (N_B, 2)
    v = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return np.arange(n, dtype=np.int64) + seed * 100000, v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.timeout(180)
def test_a_vector_index_killed_mid_save_reopens_whole_as_the_old_or_the_new_version(tmp_path):
    folder = tmp_path / "vectors"
    rng = random.Random(3)
    for _ in range(KILLS):
        _run_and_kill(VECTOR_WRITER, folder, rng, 1.5)
        meta = json.loads((folder / vector_files.SIDECAR).read_text())
        gen = meta["generation"]
        assert meta["mode"] == "hnsw"
        ids, vecs = _expected(gen)

        def must_not_rebuild():
            raise AssertionError("the saved index was not usable: it was read from the source")

        idx = VectorIndex.open(folder, gen, must_not_rebuild, exact_threshold=0, background=False)
        assert idx.from_snapshot and not idx.rebuilt
        assert np.array_equal(np.sort(idx.ids()), ids)
        found, scores = idx.search(vecs[7], k=1)
        assert found[0] == ids[7] and scores[0] > 0.999
        assert len(idx) == len(ids)

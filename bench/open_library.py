"""Time from opening a 100k-photo library to the first search result (goal: under 1 s).

Run: `python bench/open_library.py [--photos 100000] [--workdir /tmp/clippo-open-bench]`.
Writes bench/results/open_library.json and prints a table.

Builds (once, then reuses) a catalog of fake photo rows with random unit 768-d vectors and a
saved hnswlib index, then times in a fresh subprocess, five times: Catalog.open, reading the
model's generation, load_all_vectors, VectorIndex.open (graph load + crc check) and one
search. The page cache is warm after the first run (the usual case: the app was used
recently); the first run's numbers are reported separately as "first". Building the fixture
uses ef_construction=40 to save minutes: the saved file's size, which is what opening costs,
does not depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
D = 768

MEASURE = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from clippo_desktop.engine.catalog import Catalog
from clippo_desktop.engine.vectors import VectorIndex
t_import = time.perf_counter()
cat = Catalog.open(sys.argv[1] + "/catalog.db")
t_open = time.perf_counter()
model = cat.list_models()[0].id
gen = cat.index_generation(model)
t_gen = time.perf_counter()
ids, vecs = cat.load_all_vectors(model)
t_load = time.perf_counter()
index = VectorIndex.open(sys.argv[1] + "/vectors", gen, lambda: (ids, vecs))
t_index = time.perf_counter()
found, scores = index.search(np.ones(vecs.shape[1], np.float32), k=50)
photos = cat.get_photos(found.tolist())
t_search = time.perf_counter()
assert not index.rebuilt and index.uses_hnsw and len(photos) == 50
print(json.dumps({"imports_s": t_import - t0, "catalog_open_s": t_open - t_import,
                  "generation_s": t_gen - t_open, "load_vectors_s": t_load - t_gen,
                  "index_open_s": t_index - t_load, "first_search_s": t_search - t_index,
                  "ready_s": t_search - t_import, "n": int(len(ids))}))
"""


def build(workdir: Path, n: int) -> None:
    from clippo_desktop.engine import vectors
    from clippo_desktop.engine.catalog import Catalog, PhotoInfo

    if (workdir / "done").exists():
        return
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    with Catalog.open(workdir / "catalog.db") as cat:
        root = cat.add_root("/bench/photos")
        model = cat.ensure_model("bench-768", "bench", D, 1)
        for start in range(0, n, 5000):
            infos = [PhotoInfo(f"/bench/photos/{i // 1000}/IMG_{i:07d}.jpg", 3_000_000 + i, i,
                               f"{i:032x}") for i in range(start, min(n, start + 5000))]
            ids = cat.upsert_photos(root.id, infos)
            v = rng.standard_normal((len(ids), D), dtype=np.float32)            # (B, D)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            cat.store_embeddings(model, list(zip(ids, v)))
        print(f"catalog: {n} photos in {time.perf_counter() - t:.0f} s", flush=True)
        vectors.EF_CONSTRUCTION = 40
        t = time.perf_counter()
        index = vectors.VectorIndex.open(workdir / "vectors", cat.index_generation(model),
                                         lambda: cat.load_all_vectors(model))
        print(f"index: built in {time.perf_counter() - t:.0f} s", flush=True)
        assert index.rebuilt
    (workdir / "done").write_text("ok")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--workdir", default="/tmp/clippo-open-bench")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    workdir = Path(args.workdir) / str(args.photos)
    build(workdir, args.photos)
    runs = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", MEASURE, str(workdir)], check=True,
                             capture_output=True, text=True).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    keys = [k for k in runs[0] if k != "n"]
    median = {k: round(float(np.median([r[k] for r in runs[1:] or runs])), 3) for k in keys}
    first = {k: round(runs[0][k], 3) for k in keys}
    files = {p.name: round(p.stat().st_size / 2**20, 1) for p in
             [workdir / "catalog.db", *sorted((workdir / "vectors").glob("hnsw-*.bin"))]}
    print(f"\n{'step':<16} {'median s':>9} {'first s':>8}")
    for k in keys:
        print(f"{k:<16} {median[k]:>9} {first[k]:>8}")
    print(f"files MB: {files}")
    RESULTS.mkdir(exist_ok=True)
    result = {"photos": args.photos, "dim": D, "runs": len(runs), "median_warm": median,
              "first": first, "files_mb": files, "cores": os.cpu_count(),
              "note": "warm page cache; imports are not part of ready_s"}
    tmp = RESULTS / "open_library.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, RESULTS / "open_library.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


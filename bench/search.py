"""Search latency at 10k and 100k photos with a real model (the golden Ti/16 weights).

Builds a synthetic library per size (catalog rows with dates and clustered 768-d vectors shaped
like real embeddings; the vector index is built once and saved), then measures:
  encoder_1img_ms   one 224x224 photo through the encoder (the goal's yardstick)
  warm_text_ms      a new text query in a warm process: render + encode + search + records
  cached_ms         the same query again (embedding from the LRU cache): paging, re-sorting
  filtered_ms       a cached query with a folder + date filter
  cold_s            a new `clippo-desktop search ... --json` process until it exits
Goal: warm_text_ms <= encoder_1img_ms + 20.
Usage: python bench/search.py [--sizes 10000,100000] [--workdir /tmp/clippo-search-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
GOLDEN = Path(os.environ.get("CLIPPO_SHARED", REPO.parent / "shared")) / "golden" / \
    "clippo_ti16_golden_params.npz"
QUERIES = ["a red car", "dog on the beach", "地铁站的猫", "sunset over mountains", "birthday cake",
           "Hund im Schnee", "people dancing", "a bowl of soup", "snowy street", "kitten",
           "old castle", "city at night"]


def build(data_dir: Path, n: int) -> None:
    from clippo_desktop.engine import vectors
    from clippo_desktop.engine.catalog import Catalog, PhotoInfo, PhotoMeta
    from clippo_desktop.engine.library import vector_dir
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry

    if (data_dir / "done").exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    model = import_checkpoint(GOLDEN, "golden", ModelRegistry(data_dir), replace=True)
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((max(n // 200, 10), model.dim)).astype(np.float32)  # (C, D)
    t = time.perf_counter()
    with Catalog.open(data_dir / "catalog.db") as cat:
        root = cat.add_root("/bench/photos")
        row = cat.ensure_model(model.model_id(), model.name, model.dim, model.renderer_version)
        for start in range(0, n, 5000):
            stop = min(n, start + 5000)
            infos = [PhotoInfo(f"/bench/photos/{i % 50:02d}/IMG_{i:07d}.jpg", 3_000_000 + i, i,
                               f"{i:032x}") for i in range(start, stop)]
            ids = cat.upsert_photos(root.id, infos)
            v = centres[rng.integers(0, len(centres), len(ids))]               # (B, D)
            v = v + 0.6 * rng.standard_normal(v.shape, dtype=np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            meta = [PhotoMeta(pid, 4000, 3000, "JPEG", datetime(2015, 1, 1) + timedelta(hours=i))
                    for i, pid in zip(range(start, stop), ids)]
            cat.store_embeddings(row, list(zip(ids, v)), meta)
        print(f"  catalog: {n} photos in {time.perf_counter() - t:.0f} s", flush=True)
        vectors.EF_CONSTRUCTION = 40       # build speed only; search ef is unchanged
        t = time.perf_counter()
        vectors.VectorIndex.open(vector_dir(data_dir, model.model_id()), cat.index_generation(row),
                                 lambda: cat.load_all_vectors(row))
        print(f"  index: {time.perf_counter() - t:.0f} s", flush=True)
    (data_dir / "done").write_text("ok")


def measure_warm(data_dir: Path) -> dict:
    from clippo_desktop.engine.library import Library

    lib = Library.open(data_dir, model="golden", writer=False)
    model, catalog = lib.model, lib.catalog
    searcher = lib.searcher()
    enc = model.encoder()
    pixels = np.random.default_rng(1).integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    for _ in range(3):
        enc.encode(pixels)
        searcher.search("warm up", top=20)
    enc_ms, warm_ms, cached_ms, filtered_ms = [], [], [], []
    for i, q in enumerate(QUERIES * 2):
        t = time.perf_counter()
        enc.encode(pixels)
        enc_ms.append((time.perf_counter() - t) * 1e3)
        text = f"{q} {i}"                                   # always a new, uncached query
        t = time.perf_counter()
        res = searcher.search(text, top=20)
        warm_ms.append((time.perf_counter() - t) * 1e3)
        assert len(res.results) == 20
        t = time.perf_counter()
        searcher.search(text, top=20, offset=20)
        cached_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        searcher.search(text, top=20, folder="/bench/photos/07", after="2016-01-01")
        filtered_ms.append((time.perf_counter() - t) * 1e3)
    hnsw = len(lib.vectors) > lib.vectors.exact_threshold
    lib.close()
    med = statistics.median
    return {"encoder_1img_ms": round(med(enc_ms), 1), "warm_text_ms": round(med(warm_ms), 1),
            "warm_text_p90_ms": round(float(np.percentile(warm_ms, 90)), 1),
            "cached_ms": round(med(cached_ms), 2), "filtered_ms": round(med(filtered_ms), 1),
            "hnsw": hnsw}


def measure_cold(data_dir: Path, runs: int = 3) -> float:
    code = "import sys; from clippo_desktop.engine.cli import main; sys.exit(main(sys.argv[1:]))"
    times = []
    for i in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, "--data-dir", str(data_dir), "search",
                        f"cold query {i}", "--top", "20", "--json"], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--workdir", default="/tmp/clippo-search-bench")
    args = ap.parse_args(argv)
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        data_dir = Path(args.workdir) / str(n)
        print(f"{n} photos: building (once)", flush=True)
        build(data_dir, n)
        row = {"photos": n, **measure_warm(data_dir), "cold_s": measure_cold(data_dir)}
        row["goal_ms"] = round(row["encoder_1img_ms"] + 20, 1)
        row["goal_met"] = row["warm_text_ms"] <= row["goal_ms"]
        rows.append(row)
    keys = list(rows[0])
    print("\n" + " | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "search.json").write_text(json.dumps({"cores": os.cpu_count(), "rows": rows},
                                                    indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Exact search vs hnswlib on clustered synthetic 768-d embeddings (10k, 100k, 1M).

Run: `python bench/vectors.py [--sizes 10000,100000,1000000] [--hnsw-cap 200000]`.
Writes bench/results/vectors.json and prints a table. It measures the engine's own
`VectorIndex` (the code path search uses), not bare hnswlib.

Why synthetic clusters and how they are shaped: uniform random 768-d vectors have no
neighbours worth finding, so every ANN index looks hopeless on them. Photo embeddings instead
share a common direction (CLIP-like models are anisotropic), fall into a few thousand topics,
and within a topic into events (bursts of near-identical shots). Each point is
    x = normalise(sqrt(.3) m + sqrt(.5) c_topic + sqrt(.4) e_event + sqrt(.5) n)
with m, c, e, n random unit vectors (n fresh per point). Expected cosines:
random pair 0.3/1.7 = 0.18, same topic 0.8/1.7 = 0.47, same event 1.2/1.7 = 0.71,
to the topic centre sqrt(0.8/1.7) = 0.69. Topics: min(4000, N/25), Zipf-like sizes; events:
N/8. The script prints the measured cosines so the claim is checked, not assumed.
Two query sets: photo-like (new points from existing events) and text-like (an event
direction with noise sqrt(3), best match cosine ~0.45, like a text query against photos).

1M: exact search is measured on the full 1M matrix (3 GB, generated in chunks and searched
without a copy). The HNSW graph is built on the first `--hnsw-cap` vectors only: on 2 shared
cores the engine's settings (M=16, ef_construction=200) insert ~350 vectors/s at 100k, so a 1M
build would take about an hour. Its build time is extrapolated to 1M as n log n and its file
size and memory linearly ("*_extrapolated" keys); recall and latency are measured against exact
search over the same subset. The table says so in the "hnsw_n" column.

`--reuse LOG` merges rows already measured (JSON lines printed by an earlier run) for sizes not
given in `--sizes`, so the slow sizes need not be rerun. Every row records the load average
(`os.getloadavg()`) before and after it: the benchmark machine is shared.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from clippo_desktop.engine.vectors import EF_CONSTRUCTION, HNSW_M, VectorIndex

D = 768
EF_SWEEP = (16, 32, 64, 96, 128, 192, 256, 384)
RESULTS = Path(__file__).resolve().parent / "results"


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, D), dtype=np.float32)            # (n, D)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


class ClusteredData:
    """The generative model above; points are made in chunks to bound memory."""

    def __init__(self, n: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.n = n
        self.m = _unit(self.rng, 1)[0]                                   # (D,)
        n_topics = int(min(4000, max(50, n // 25)))
        self.topics = _unit(self.rng, n_topics)                          # (T, D)
        n_events = max(1, n // 8)
        weights = 1.0 / (np.arange(n_topics) + 10.0)
        self.event_topic = self.rng.choice(n_topics, n_events, p=weights / weights.sum())
        self.events = _unit(self.rng, n_events)                          # (E, D)

    def _points(self, events: np.ndarray, noise: float) -> np.ndarray:
        x = (math.sqrt(0.3) * self.m + math.sqrt(0.5) * self.topics[self.event_topic[events]]
             + math.sqrt(0.4) * self.events[events]
             + math.sqrt(noise) * _unit(self.rng, len(events)))          # (n, D)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def points(self, chunk: int = 50_000) -> np.ndarray:
        out = np.empty((self.n, D), np.float32)
        for start in range(0, self.n, chunk):
            stop = min(start + chunk, self.n)
            out[start:stop] = self._points(self.rng.integers(len(self.events), size=stop - start), 0.5)
        return out

    def queries(self, n: int, text_like: bool) -> np.ndarray:
        return self._points(self.rng.integers(len(self.events), size=n), 3.0 if text_like else 0.5)


def _cosine_stats(x: np.ndarray, rng: np.random.Generator) -> dict:
    a, b = rng.integers(len(x), size=(2, 2000))
    random_pair = float(np.mean(np.sum(x[a] * x[b], axis=1)))
    return {"random_pair_cos": round(random_pair, 3)}


def _latencies(fn, queries: np.ndarray) -> tuple[float, float]:
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth)]
    return float(np.mean(hits) / truth.shape[1])


def bench_size(n: int, hnsw_cap: int, n_queries: int, tmp: Path) -> dict:
    proc = psutil.Process()
    load_before = [round(v, 2) for v in os.getloadavg()]
    t = time.perf_counter()
    data = ClusteredData(n, seed=n)
    x = data.points()                                                    # (n, D)
    photo_q, text_q = data.queries(n_queries, False), data.queries(n_queries, True)
    gen_s = time.perf_counter() - t
    ids = np.arange(1, n + 1, dtype=np.int64)
    row = {"n": n, "generate_s": round(gen_s, 1), **_cosine_stats(x, data.rng)}

    exact = VectorIndex(tmp / f"exact{n}", D, exact_threshold=10**9)
    exact._set_matrix(ids, x)          # no copy: x is already unit-norm (a 1M copy is 3 GB)
    p50, p95 = _latencies(lambda q: exact.search(q, 10), photo_q[: 100 if n <= 200_000 else 40])
    row.update(exact_p50_ms=round(p50, 2), exact_p95_ms=round(p95, 2),
               exact_matrix_mb=round(n * D * 4 / 2**20, 1))
    t = time.perf_counter()
    exact.search(photo_q[:32], 10)
    row["exact_batch32_ms_per_query"] = round((time.perf_counter() - t) * 1e3 / 32, 2)
    for sub in (20_000, 50_000):
        if sub < n <= 200_000:
            small = VectorIndex(tmp / "sub", D, exact_threshold=10**9)
            small.add(ids[:sub], x[:sub])
            row[f"exact_p50_ms_at_{sub}"] = round(_latencies(lambda q: small.search(q, 10), photo_q[:100])[0], 2)
            del small
    best_cos = [float(exact.search(q, 1)[1][0]) for q in text_q[:50]]
    row["text_query_best_cos"] = round(float(np.median(best_cos)), 3)
    del exact

    hn = min(n, hnsw_cap)
    xs, ids_s = x[:hn], ids[:hn]
    truth_exact = VectorIndex(tmp / "truth", D, exact_threshold=10**9)
    truth_exact._set_matrix(ids_s, xs)
    truth_photo = np.concatenate([truth_exact.search(q, 10)[0] for q in np.array_split(photo_q, 8)])
    truth_text = np.concatenate([truth_exact.search(q, 10)[0] for q in np.array_split(text_q, 8)])
    del truth_exact
    xs = xs.copy()                     # (hn, D) let the full matrix go before the graph is built
    del x
    rss0 = proc.memory_info().rss
    hnsw = VectorIndex(tmp / f"hnsw{n}", D, exact_threshold=0)
    t = time.perf_counter()
    hnsw._reserve(hn)
    hnsw._append(ids_s, xs)
    hnsw._build_graph()
    build_s = time.perf_counter() - t
    rss_mb = (proc.memory_info().rss - rss0) / 2**20
    hnsw.save(1)
    size_mb = sum(p.stat().st_size for p in (tmp / f"hnsw{n}").glob("hnsw-*.bin")) / 2**20
    row.update(hnsw_n=hn, hnsw_M=HNSW_M, ef_construction=EF_CONSTRUCTION,
               hnsw_build_s=round(build_s, 1), hnsw_inserts_per_s=round(hn / build_s),
               hnsw_rss_delta_mb=round(rss_mb, 1), hnsw_file_mb=round(size_mb, 1))
    if hn < n:
        row["hnsw_build_s_extrapolated"] = round(build_s * (n * math.log(n)) / (hn * math.log(hn)), 0)
        row["hnsw_file_mb_extrapolated"] = round(size_mb * n / hn, 0)
        row["hnsw_rss_delta_mb_extrapolated"] = round(rss_mb * n / hn, 0)
    sweep = []
    for ef in EF_SWEEP:
        hnsw.ef_search = ef
        found_photo, _ = hnsw.search(photo_q, 10)
        found_text, _ = hnsw.search(text_q, 10)
        p50, p95 = _latencies(lambda q: hnsw.search(q, 10), photo_q[:100])
        sweep.append({"ef": ef, "recall10_photo": round(_recall(found_photo, truth_photo), 4),
                      "recall10_text": round(_recall(found_text, truth_text), 4),
                      "p50_ms": round(p50, 3), "p95_ms": round(p95, 3)})
    row["ef_sweep"] = sweep
    ok = [s for s in sweep if min(s["recall10_photo"], s["recall10_text"]) >= 0.95]
    row["min_ef_for_recall95"] = ok[0]["ef"] if ok else None
    row["loadavg_before"] = load_before
    row["loadavg_after"] = [round(v, 2) for v in os.getloadavg()]
    del hnsw
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--hnsw-cap", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--reuse", help="JSON-lines log of an earlier run to take other sizes from")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    if args.reuse:
        for line in Path(args.reuse).read_text().splitlines():
            if line.startswith("{") and json.loads(line)["n"] not in sizes:
                rows.append({**json.loads(line), "reused_from": args.reuse})
    with tempfile.TemporaryDirectory(prefix="clippo-bench-") as tmp:
        for n in sizes:
            row = bench_size(n, args.hnsw_cap, args.queries, Path(tmp))
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{'n':>8} {'exact p50':>10} {'exact p95':>10} {'hnsw_n':>8} {'build s':>8} "
          f"{'ef':>4} {'recall@10 photo/text':>21} {'hnsw p50':>9} {'hnsw p95':>9} {'file MB':>8}")
    rows.sort(key=lambda r: r["n"])
    for r in rows:
        ef = r["min_ef_for_recall95"] or EF_SWEEP[-1]
        s = next(s for s in r["ef_sweep"] if s["ef"] == ef)
        print(f"{r['n']:>8} {r['exact_p50_ms']:>10} {r['exact_p95_ms']:>10} {r['hnsw_n']:>8} "
              f"{r['hnsw_build_s']:>8} {ef:>4} {s['recall10_photo']:>10}/{s['recall10_text']:<10} "
              f"{s['p50_ms']:>9} {s['p95_ms']:>9} {r['hnsw_file_mb']:>8}")
    RESULTS.mkdir(exist_ok=True)
    out = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                       "python": sys.version.split()[0]},
           "dim": D, "rows": rows}
    tmp_path = RESULTS / "vectors.json.tmp"
    tmp_path.write_text(json.dumps(out, indent=1))
    os.replace(tmp_path, RESULTS / "vectors.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Soak: a big synthetic library indexed, then searched and churned under the watcher for a while.

Run: python bench/soak.py [--photos 100000] [--minutes 20] [--workdir /tmp/clippo-soak]
     [--slope-limit 3.0] [--golden PATH] [--threads N]
Writes bench/results/soak.json and prints RSS over time and the verdict.

1. Generates N small JPEGs (96x72, different per seed; 1,000 per folder) once per workdir.
2. Imports the golden model and indexes the library with Library.index (timed).
3. Starts the Watcher on the root and, until --minutes have passed, repeats one cycle:
   search a few queries; churn 5% of the library through the filesystem (a third new photos,
   a third renamed, a third deleted, so the size stays level); wait until the watcher has
   caught up (the catalog holds exactly the files on disk); search again and check every
   result exists on disk and is none of the deleted files.
4. A sampler thread records this process's RSS every --sample-s seconds. The memory slope is
   a least-squares fit (MB/min) over the second half of the soak phase; the run fails if it
   is above --slope-limit (memory growing without bound) or if any result was stale.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
QUERIES = ("a red sunset", "blue water", "green field", "a dog", "dark night", "text",
           "yellow and purple", "stripes", "猫", "2:orange + blue", "bright - dark")


def write_jpeg(path: Path, seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (1, 1, 3))
    grad = np.linspace(0, 1, 96)[None, :, None] * rng.integers(-128, 128, (1, 1, 3))
    img = np.clip(base + grad + rng.normal(0, 24, (72, 96, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, format="JPEG", quality=80)


def make_library(root: Path, n: int) -> list[Path]:
    if (root / ".churned").exists():          # a previous soak renamed and deleted photos
        shutil.rmtree(root)
    paths = [root / f"f{i // 1000:04d}" / f"p{i:06d}.jpg" for i in range(n)]
    missing = [(i, p) for i, p in enumerate(paths) if not p.exists()]
    for i, p in missing:
        p.parent.mkdir(parents=True, exist_ok=True)
        write_jpeg(p, i)
    return paths


class Sampler(threading.Thread):
    def __init__(self, every: float):
        super().__init__(daemon=True)
        self.every, self.samples, self.phase = every, [], "start"
        self._halt = threading.Event()
        self._proc = psutil.Process()

    def run(self) -> None:
        t0 = time.monotonic()
        while not self._halt.is_set():
            self.samples.append((time.monotonic() - t0, self._proc.memory_info().rss / 2**20,
                                 self.phase))
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def slope_mb_per_min(samples: list[tuple[float, float, str]]) -> float:
    soak = [(t, m) for t, m, ph in samples if ph == "soak"]
    half = soak[len(soak) // 2:]
    if len(half) < 3:
        return float("nan")
    t, m = np.array(half).T                                    # (n,), (n,)
    return float(np.polyfit(t / 60.0, m, 1)[0])


def caught_up(lib, on_disk: set[str], timeout: float) -> bool:
    """Wait until the catalog's indexed photos are exactly the files on disk."""
    deadline = time.monotonic() + timeout
    root_id = lib.roots()[0].id
    while time.monotonic() < deadline:
        known = lib.catalog.photos_under_root(root_id)
        if known.keys() == on_disk and all(s.status == "indexed" for s in known.values()):
            return True
        time.sleep(1.0)
    return False


def check_results(searcher, deleted: set[str], queries, top: int = 30) -> tuple[int, int]:
    """(results checked, stale results: deleted or missing on disk)."""
    checked = stale = 0
    for q in queries:
        for hit in searcher.search(q, top=top).results:
            checked += 1
            if hit.path in deleted or not os.path.exists(hit.path):
                stale += 1
    return checked, stale


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--churn", type=float, default=0.05)
    ap.add_argument("--sample-s", type=float, default=5.0)
    ap.add_argument("--slope-limit", type=float, default=3.0, help="MB/min allowed")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="keep the library and data dir of a previous run (incremental index)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/clippo-soak"))
    ap.add_argument("--golden", type=Path,
                    default=REPO.parent / "shared" / "golden" / "clippo_ti16_golden_params.npz")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from clippo_desktop.engine.library import Library
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry
    from clippo_desktop.engine.watcher import Watcher

    rng = random.Random(0)
    sampler = Sampler(args.sample_s)
    sampler.start()
    root = args.workdir / f"photos-{args.photos}"
    t = time.monotonic()
    sampler.phase = "generate"
    data = args.workdir / f"data-{args.photos}"
    if not (args.reuse and (data / "catalog.db").is_file()):
        make_library(root, args.photos)
        shutil.rmtree(data, ignore_errors=True)
        import_checkpoint(args.golden, "golden", ModelRegistry(data))
    gen_s = time.monotonic() - t
    print(f"generated {args.photos} photos in {gen_s:.0f} s", flush=True)

    sampler.phase = "index"
    t = time.monotonic()
    lib = Library.open(data, threads=args.threads)
    lib.add_roots([root], watch=True)
    last = [0.0]

    def progress(p) -> None:
        if p.phase == "indexing" and time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  indexing {p.done}/{p.total} at {p.rate:.0f} photos/s", flush=True)

    summary = lib.index(progress=progress)
    index_s = time.monotonic() - t
    print(f"indexed {summary.indexed} in {index_s:.0f} s ({summary.indexed / index_s:.0f}/s), "
          f"failed {len(summary.failed)}", flush=True)

    on_disk = {str(p) for p in root.rglob("*.jpg")}
    deleted: set[str] = set()
    (root / ".churned").touch()
    watcher = Watcher(lib, interval=3600, debounce=1.0)
    watcher.start()
    searcher = lib.searcher()
    sampler.phase = "soak"
    soak_start = time.monotonic()
    cycles = checked = stale = searches = lagged = 0
    serial = args.photos + 10_000_000 * int(time.time() % 100)   # fresh names on --reuse
    while time.monotonic() - soak_start < args.minutes * 60:
        searcher.search(rng.choice(QUERIES), top=20)                # while nothing moves
        searches += 1
        k = max(3, int(len(on_disk) * args.churn) // 3)
        victims = rng.sample(sorted(on_disk), 2 * k)
        for path in victims[:k]:                                    # delete
            os.unlink(path)
            on_disk.discard(path)
            deleted.add(path)
        for path in victims[k:]:                                    # rename (a move)
            new = path[:-4] + f"_r{cycles}.jpg"
            os.replace(path, new)
            on_disk.discard(path)
            deleted.add(path)
            on_disk.add(new)
        for _ in range(k):                                          # add
            new = root / f"new{cycles:04d}" / f"n{serial:07d}.jpg"
            new.parent.mkdir(exist_ok=True)
            write_jpeg(new, serial)
            serial += 1
            on_disk.add(str(new))
            deleted.discard(str(new))
        if not caught_up(lib, on_disk, timeout=600):
            lagged += 1
            print("  watcher did not catch up within 600 s", flush=True)
        c, s = check_results(searcher, deleted, rng.sample(QUERIES, 4))
        checked, stale, searches = checked + c, stale + s, searches + 4
        cycles += 1
        mem = sampler.samples[-1][1]
        print(f"  cycle {cycles}: {len(on_disk)} photos, rss {mem:.0f} MB, "
              f"stale {stale}/{checked}, {(time.monotonic() - soak_start) / 60:.1f} min",
              flush=True)
    watcher.stop()
    sampler.phase = "end"
    soak_min = (time.monotonic() - soak_start) / 60
    lib.close()
    sampler.stop()
    slope = slope_mb_per_min(sampler.samples)
    soak_rss = [m for _, m, ph in sampler.samples if ph == "soak"]
    ok = bool(np.isfinite(slope) and slope <= args.slope_limit and stale == 0 and not lagged)
    doc = {"photos": args.photos, "minutes_asked": args.minutes, "soak_minutes": round(soak_min, 2),
           "generate_s": round(gen_s, 1), "index_s": round(index_s, 1),
           "indexed": summary.indexed, "index_rate": round(summary.indexed / index_s, 1),
           "cycles": cycles, "churn_per_cycle": 3 * max(3, int(args.photos * args.churn) // 3),
           "searches": searches, "results_checked": checked, "stale_results": stale,
           "watcher_lagged": lagged, "rss_mb_start_soak": round(soak_rss[0], 1) if soak_rss else None,
           "rss_mb_end_soak": round(soak_rss[-1], 1) if soak_rss else None,
           "rss_mb_max": round(max(m for _, m, _ in sampler.samples), 1),
           "slope_mb_per_min": round(slope, 3), "slope_limit": args.slope_limit, "ok": ok,
           "rss_samples": [(round(t, 1), round(m, 1), ph) for t, m, ph in sampler.samples]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(doc, indent=1))
    print(f"\n{'phase':<10} {'t (s)':>8} {'RSS (MB)':>9}")
    step = max(1, len(sampler.samples) // 30)
    for t_, m, ph in sampler.samples[::step]:
        print(f"{ph:<10} {t_:8.0f} {m:9.0f}")
    print(f"\nsoak {soak_min:.1f} min, {cycles} cycles, {checked} results checked, stale {stale}, "
          f"slope {slope:.2f} MB/min (limit {args.slope_limit}) -> {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

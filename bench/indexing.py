"""End-to-end indexing of 12-megapixel JPEGs against encoder-only throughput (goal: >= 90%).

Run: python bench/indexing.py [--photos 200] [--variant S/16] [--threads 2] [--repeats 2]
     [--workdir /tmp/clippo-bench-indexing]
Writes bench/results/indexing.json (one entry per variant) and prints a table.

Once per workdir it generates N 4000x3000 JPEGs (gradients + per-photo noise at quality 90,
~3-4 MB each like a phone photo, so decoding costs what real files cost) and a random-weight
model package of the chosen ViT variant (ClippoTower(...).bigvision_params() -> build_package:
fp32 + int8 ONNX, like an imported checkpoint). Then, alternating so load drift on a shared
machine hits both alike, it times:

  encoder only   the photos decoded beforehand, `Encoder.encode` in batches of 16 (what the
                 pipeline would reach if decoding, hashing and commits were free);
  pipeline       `Library.index()` on a fresh data dir: scan, hash, decode-ahead on threads,
                 encode, one SQLite commit per batch, vector index updates and saves;
  decode only    read_photo on the pipeline's decode pool, for context.

The ratio pipeline / encoder is the figure of merit. Time to open a 100k-photo library and be
ready to search is bench/open_library.py's job (bench/results/open_library.json).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
W, H = 4000, 3000


def make_photos(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tile = rng.normal(0, 11, (600, 800, 3)).astype(np.float32)           # (h, w, 3) noise tile
    yy = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]           # (H, 1, 1)
    xx = np.linspace(0, 1, W, dtype=np.float32)[None, :, None]           # (1, W, 1)
    paths = []
    for i in range(n):
        path = folder / f"IMG_{i:04d}.jpg"
        paths.append(path)
        if path.exists():
            continue
        c0, c1, c2 = (rng.uniform(20, 235, 3).astype(np.float32) for _ in range(3))
        img = c0 + (c1 - c0) * xx + (c2 - c0) * yy * (0.5 + 0.5 * np.sin(9 * xx + i))  # (H,W,3)
        noise = np.roll(tile, (i * 37 % 600, i * 53 % 800), axis=(0, 1))
        img += np.tile(noise, (H // 600, W // 800, 1))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
    return paths


def make_model(folder: Path, variant: str) -> Path:
    """A random-weight model package (fp32 + int8) for `variant`; built once."""
    if (folder / "manifest.json").is_file():
        return folder
    import torch

    from clippo_desktop.engine.architecture import ViTArch
    from clippo_desktop.engine.model_import import build_package
    from clippo_desktop.training.model import ClippoTower

    arch = ViTArch.from_variant(variant)
    torch.manual_seed(0)
    params = ClippoTower(arch).bigvision_params()
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    build_package(tmp, "bench", arch, params, 10.0, provenance={"source": "random weights"},
                  license="none (benchmark)", progress=lambda m: print("  model:", m))
    os.replace(tmp, folder)
    return folder


def time_encoder(model, pixels: np.ndarray, threads: int, batch: int) -> float:
    encoder = model.encoder(threads=threads)
    encoder.encode(pixels[:batch])                                       # warm-up
    t = time.perf_counter()
    for i in range(0, len(pixels), batch):
        encoder.encode(pixels[i: i + batch])                             # (B, E)
    return len(pixels) / (time.perf_counter() - t)


def time_pipeline(workdir: Path, model_dir: Path, photos: Path, threads: int,
                  decode_workers: int) -> dict:
    from clippo_desktop.engine.library import Library

    data = workdir / "run-data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(model_dir, data / "models" / "bench")
    with Library.open(data, model="bench", threads=threads) as lib:
        lib.settings.decode_workers = decode_workers
        lib.model.encoder(threads=threads).load()                        # session outside timing
        lib.add_roots([photos])
        t = time.perf_counter()
        summary = lib.index()
        seconds = time.perf_counter() - t
    assert summary.indexed > 0 and not summary.failed, summary.failed[:3]
    return {"photos_per_s": summary.indexed / seconds, "seconds": seconds,
            "indexed": summary.indexed}


def time_decode(paths: list[Path], workers: int, mode: str, size: int) -> float:
    from clippo_desktop.engine.imageio import read_photo

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda p: read_photo(p, mode=mode, size=size), paths))
    return len(paths) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=200)
    ap.add_argument("--variant", default="S/16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--decode-workers", type=int, default=None,
                    help="decode threads (default: the pipeline's own default)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/clippo-bench-indexing"))
    args = ap.parse_args()

    from clippo_desktop.engine.imageio import read_photo
    from clippo_desktop.engine.manifest import Manifest
    from clippo_desktop.engine.models import InstalledModel
    from clippo_desktop.engine.pipeline import PipelineSettings

    t = time.perf_counter()
    photo_dir = args.workdir / f"photos-{args.photos}"
    paths = make_photos(photo_dir, args.photos)
    print(f"photos ready in {time.perf_counter() - t:.1f} s "
          f"({np.mean([p.stat().st_size for p in paths]) / 1e6:.1f} MB each)")
    model_dir = make_model(args.workdir / "models" / f"bench-{args.variant.replace('/', '')}",
                           args.variant)
    model = InstalledModel(model_dir, Manifest.load(model_dir), bundled=True)
    mode, size = model.manifest.preprocess, model.manifest.architecture.image_size
    pixels = np.stack([read_photo(p, mode=mode, size=size).pixels for p in paths])  # (N,S,S,3)
    batch = PipelineSettings().batch_size
    workers = args.decode_workers or PipelineSettings().decode_workers

    rows = {"encoder": [], "pipeline": [], "decode": []}
    for r in range(args.repeats):
        rows["encoder"].append(time_encoder(model, pixels, args.threads, batch))
        rows["pipeline"].append(time_pipeline(args.workdir, model_dir, photo_dir, args.threads,
                                              workers)["photos_per_s"])
        rows["decode"].append(time_decode(paths, workers, mode, size))
        print(f"repeat {r + 1}: encoder {rows['encoder'][-1]:.2f}/s, pipeline "
              f"{rows['pipeline'][-1]:.2f}/s, decode {rows['decode'][-1]:.1f}/s")
    med = {k: float(np.median(v)) for k, v in rows.items()}
    ratio = med["pipeline"] / med["encoder"]
    # On a machine with no idle core, decoding and encoding share the CPU: the best a pipeline
    # can do is encoder core-seconds / (encoder + decoder core-seconds) per photo.
    enc_cpu, dec_cpu = args.threads / med["encoder"], workers / med["decode"]
    bound = enc_cpu / (enc_cpu + dec_cpu) if os.cpu_count() <= args.threads else 1.0
    report = {
        "variant": args.variant, "model_variant": model.manifest.default_variant,
        "photos": args.photos, "photo_size": f"{W}x{H}", "threads": args.threads,
        "batch": batch, "decode_workers": workers, "repeats": args.repeats,
        "load_average": os.getloadavg()[0], "cpu_count": os.cpu_count(),
        "encoder_photos_per_s": med["encoder"], "pipeline_photos_per_s": med["pipeline"],
        "decode_photos_per_s": med["decode"], "pipeline_over_encoder": ratio,
        "cpu_bound_estimate": bound,
        "goal": ">= 0.90", "runs": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "indexing.json"         # one entry per variant, merged across runs
    try:
        merged = json.loads(out.read_text())
        merged = merged if all(isinstance(v, dict) and "variant" in v for v in merged.values()) \
            else {}
    except (OSError, ValueError, AttributeError):
        merged = {}
    merged[args.variant] = report
    out.write_text(json.dumps(merged, indent=1))
    print(f"\n| {args.variant} {report['model_variant']}, {args.threads} threads | photos/s |")
    print("|---|---|")
    print(f"| encoder only (pre-decoded) | {med['encoder']:.2f} |")
    print(f"| pipeline (Library.index) | {med['pipeline']:.2f} |")
    print(f"| decode only ({workers} threads) | {med['decode']:.1f} |")
    print(f"| pipeline / encoder | {ratio:.0%} |")
    print(f"| CPU-sharing bound (no idle core) | {bound:.0%} |")


if __name__ == "__main__":
    sys.exit(main())

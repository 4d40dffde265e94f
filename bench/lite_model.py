"""Speed, size and memory of the bundled CLIPPO-Lite model, as the app runs it (issue 9).

Run: python bench/lite_model.py [--model clippo-lite-ml] [--photos 1000] [--threads 2]
Writes bench/results/lite_model.json and prints a table. Needs ../shared/data (real photos).

  encoder only   the 1,000 ImageNet sample photos (~500x375 JPEGs) decoded beforehand,
                 `Encoder.encode` in the pipeline's batch size, 1 and 2 threads;
  pipeline       `Library.index()` of the same folder into a fresh data dir (scan, hash, decode
                 on threads, encode, commits, vector index): the issue's ">= 100 photos/s";
  phone photos   the same on 12-MP JPEGs made by bench/indexing.py's generator (decode-bound);
  text query     render + encode one query, batch 1 (p50 over 50 queries);
  compute        GFLOP per photo / per text canvas (torch's FLOP counter on the same modules)
                 and the achieved GFLOP/s against the 2-thread sgemm peak measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("CLIPPO_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def sgemm_peak() -> float:
    """float32 matmul GFLOP/s with numpy's BLAS on all cores (2 here)."""
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    a @ a
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < 2.0:
        a @ a
        n += 1
    return 2 * 1024**3 * n / (time.perf_counter() - t) / 1e9


def time_encoder(model, pixels: np.ndarray, threads: int, batch: int) -> float:
    encoder = model.encoder(threads=threads)
    encoder.encode(pixels[:batch])
    t = time.perf_counter()
    for i in range(0, len(pixels), batch):
        encoder.encode(pixels[i:i + batch])  # (B, 512)
    return len(pixels) / (time.perf_counter() - t)


def time_pipeline(model, photos: Path, threads: int) -> dict:
    from clippo_desktop.engine.library import Library

    data = Path(tempfile.mkdtemp(prefix="clippo-bench-lite-"))
    try:
        shutil.copytree(model.path, data / "models" / model.name)
        with Library.open(data, model=model.name, threads=threads) as lib:
            lib.model.encoder(threads=threads).load()  # session outside the timing
            lib.add_roots([photos])
            t = time.perf_counter()
            summary = lib.index()
            seconds = time.perf_counter() - t
        return {"photos_per_s": summary.indexed / seconds, "seconds": seconds, "indexed": summary.indexed,
                "failed": len(summary.failed)}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def flops() -> dict:
    """GFLOP of one photo and one full text canvas (needs torch and the distill extras)."""
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from clippo_desktop.training.distill.lite import PhotoBranch, TextBranch
        from clippo_desktop.training.distill.reader import Reader
        from clippo_desktop.training.distill.teachers import load_efficientnet_lite0
    except ImportError:
        return {}
    out = {}
    x = torch.zeros(1, 224, 224, 3)
    for name, mod in (("photo", PhotoBranch(load_efficientnet_lite0(), np.zeros((1000, 512), np.float32))),
                      ("text", TextBranch(Reader()))):
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            mod.eval()(x)
        out[f"gflop_per_{name}"] = fc.get_total_flops() / 1e9
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="default: the bundled default model")
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--phone-photos", type=int, default=60)
    args = ap.parse_args()
    import psutil

    from clippo_desktop.engine.imageio import read_photo
    from clippo_desktop.engine.models import ModelRegistry

    registry = ModelRegistry(Path(tempfile.mkdtemp()))
    model = registry.get(args.model) if args.model else registry.default()
    folder = SHARED / "data" / "imagenet-sample-1k" / "images"
    if not folder.is_dir():
        print(f"needs real photos in {folder}", file=sys.stderr)
        return 2
    paths = sorted(folder.iterdir())[:args.photos]
    pixels = np.stack([read_photo(p).pixels for p in paths])  # (N, 224, 224, 3)
    rss0 = psutil.Process().memory_info().rss
    report = {"model": model.name, "variant": model.manifest.default_variant,
              "package_mb": sum(f.bytes for f in model.manifest.files.values()) / 1e6,
              "photos": len(paths), "load_average_start": os.getloadavg()[0]}
    report["sgemm_peak_gflops_2t"] = sgemm_peak()
    for threads in (1, args.threads):
        report[f"encoder_photos_per_s_{threads}t"] = time_encoder(model, pixels, threads, 16)
    report["rss_mb_after_encoding"] = psutil.Process().memory_info().rss / 1e6
    report["rss_mb_model"] = (psutil.Process().memory_info().rss - rss0) / 1e6
    enc = model.encoder(threads=args.threads)
    lat = []
    for i in range(50):
        t = time.perf_counter()
        enc.encode(model.render_texts([f"a photo of query number {i}"]))
        lat.append(time.perf_counter() - t)
    report["text_query_ms_p50"] = float(np.median(lat) * 1000)
    report["pipeline_small_jpegs"] = time_pipeline(model, folder, args.threads)
    if args.phone_photos:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from indexing import make_photos

        phone = Path(tempfile.gettempdir()) / "clippo-bench-lite-phone"
        make_photos(phone, args.phone_photos)
        report["pipeline_12mp_jpegs"] = time_pipeline(model, phone, args.threads)
    report.update(flops())
    if "gflop_per_photo" in report:
        report["achieved_gflops_photos_2t"] = report["gflop_per_photo"] * report[f"encoder_photos_per_s_{args.threads}t"]
        report["share_of_sgemm_peak"] = report["achieved_gflops_photos_2t"] / report["sgemm_peak_gflops_2t"]
    report["load_average_end"] = os.getloadavg()[0]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lite_model.json").write_text(json.dumps(report, indent=1))
    for k, v in report.items():
        print(f"{k:32s} {v if not isinstance(v, float) else round(v, 3)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

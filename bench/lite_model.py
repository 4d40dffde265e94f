"""Speed, size and memory of the bundled CLIPPO-Lite model, as the app runs it (issue 9).

Run: python bench/lite_model.py [--model clippo-lite-ml] [--photos 1000] [--threads 2]
Writes bench/results/lite_model.json and prints a table. Needs ../shared/data (real photos).

  encoder only   the 1,000 ImageNet sample photos (~500x375 JPEGs) decoded beforehand,
                 `Encoder.encode` in the pipeline's batch size, 1 and 2 threads;
  pipeline       `Library.index()` of the same folder into a fresh data dir (scan, hash, decode
                 on threads, encode, commits, vector index): the issue's ">= 100 photos/s";
  phone photos   the same on 12-MP JPEGs made by bench/indexing.py's generator (decode-bound);
  cold start     a fresh session's first query (opening the ONNX session: once per start);
  text query     render + encode one query, batch 1 (p50 over 50 queries): a one-line query,
                 a three-line caption and a full canvas (the reader reads only the inked prefix);
  tag labels     encoding 1,000 short labels in batches of 64 (a new tag vocabulary's first use);
  compute        GFLOP per photo / per text (one line, full canvas) (torch's FLOP counter on
                 the same modules, the reader sized as in the model's provenance)
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


def flops(reader_config: dict) -> dict:
    """GFLOP of one photo, a one-line text and a full canvas (needs torch and the distill extras)."""
    try:
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        from clippo_desktop.training.distill.lite import READ_TIERS, PhotoBranch
        from clippo_desktop.training.distill.reader import Reader, columns_from_canvas
        from clippo_desktop.training.distill.teachers import load_efficientnet_lite0
    except ImportError:
        return {}
    from clippo_desktop.engine.render import render_texts

    out = {}
    photo_branch = PhotoBranch(load_efficientnet_lite0(), np.zeros((1000, 512), np.float32)).eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        photo_branch(torch.zeros(1, 224, 224, 3))
    out["gflop_per_photo"] = fc.get_total_flops() / 1e9
    # The counter would count every branch of the graph's `If`s, so count the reader on the
    # prefix the text branch picks for a one-line query, and on the whole canvas.
    reader = Reader(**reader_config).eval()
    cols = columns_from_canvas(render_texts(["a photo of query number 7"]))  # (1, 16, 3136)
    for name, end in (("text_line", READ_TIERS[0]), ("text_canvas", cols.shape[-1])):
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            reader(cols[..., :end])
        out[f"gflop_per_{name}"] = fc.get_total_flops() / 1e9
    return out


def text_latency_ms(enc, model, text: str, n: int = 50) -> float:
    lat = []
    for i in range(n):
        t = time.perf_counter()
        enc.encode(model.render_texts([f"{text} {i}"]))
        lat.append(time.perf_counter() - t)
    return float(np.median(lat) * 1000)


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
    from clippo_desktop.engine.encoder import Encoder

    t = time.perf_counter()
    fresh = Encoder(model.path / model.manifest.variant_file(None), threads=args.threads)
    fresh.encode(model.render_texts(["first query"]))  # the session opens on first use
    report["cold_first_query_s"] = time.perf_counter() - t
    del fresh
    enc = model.encoder(threads=args.threads)
    report["text_query_ms_p50"] = text_latency_ms(enc, model, "a photo of query number")
    report["text_3_lines_ms_p50"] = text_latency_ms(enc, model, "a man in a blue shirt is standing on a ladder " * 2)
    report["text_full_canvas_ms_p50"] = text_latency_ms(enc, model, "a long caption " * 30, n=10)
    labels = [f"label number {i}" for i in range(1000)]
    t = time.perf_counter()
    for i in range(0, len(labels), 64):
        enc.encode(model.render_texts(labels[i:i + 64]))
    report["tag_labels_1000_s"] = time.perf_counter() - t
    report["pipeline_small_jpegs"] = time_pipeline(model, folder, args.threads)
    if args.phone_photos:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from indexing import make_photos

        phone = Path(tempfile.gettempdir()) / "clippo-bench-lite-phone"
        make_photos(phone, args.phone_photos)
        report["pipeline_12mp_jpegs"] = time_pipeline(model, phone, args.threads)
    report.update(flops(model.manifest.provenance.get("reader", {})))
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

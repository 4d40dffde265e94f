"""Benchmark the text renderer and photo decoding: python bench/render.py [--quick].

Prints a table and writes bench/results/render.json with: glyph table load time (in this
process and cold in a fresh interpreter), its memory, median/p99 render time for a 100-character
query and a 768-character text, resize_exact time, and 24 MP JPEG decode time in default vs
exact mode (with the mean pixel difference between the two).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from clippo_desktop.engine import glyphs
from clippo_desktop.engine.imageio import DRAFT_FACTOR, read_photo
from clippo_desktop.engine.preprocess import resize_exact
from clippo_desktop.engine.render import render_text

RESULTS = Path(__file__).resolve().parent / "results" / "render.json"
QUERY_100 = "a photo of a golden retriever playing in the snow with a red ball near a lake, summer 2019"
TEXT_768 = ("The quick brown fox jumps over the lazy dog. Zürich, 日本語のテキスト, emoji 🙂. " * 20)[:768]


def timings_us(fn, repeat: int) -> dict[str, float]:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return {"median_us": float(np.median(samples)), "p99_us": float(np.percentile(samples, 99)),
            "runs": repeat}


def cold_load_ms() -> float:
    """First glyph_table() call in a fresh interpreter (imports excluded)."""
    code = ("import time; from clippo_desktop.engine import glyphs; t=time.perf_counter(); "
            "glyphs.glyph_table(); print((time.perf_counter()-t)*1e3)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def camera_jpeg(path: Path, width: int = 6000, height: int = 4000) -> None:
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, (height // 100, width // 100, 3), dtype=np.uint8))
    big = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC)).astype(np.int16)
    noise = rng.integers(-6, 7, (height, width, 1), dtype=np.int16)
    Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)).save(path, quality=90)


def decode_ms(path: Path, mode: str, repeat: int) -> tuple[float, np.ndarray]:
    best, pixels = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        pixels = read_photo(path, mode=mode).pixels
        best = min(best, (time.perf_counter() - start) * 1e3)
    return best, pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    reps = 200 if args.quick else 2000

    loads = []
    for _ in range(5):
        start = time.perf_counter()
        table = glyphs.read_table(glyphs.shipped_table_path())
        loads.append((time.perf_counter() - start) * 1e3)
    glyphs.glyph_table()
    results = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "glyph_table": {"load_ms_median": float(np.median(loads)), "cold_load_ms": cold_load_ms(),
                        "memory_bytes": table.nbytes, "glyphs": len(table.codepoints),
                        "file_bytes": glyphs.shipped_table_path().stat().st_size},
        "render_100_chars": timings_us(lambda: render_text(QUERY_100[:100].ljust(100, ".")), reps),
        "render_768_chars": timings_us(lambda: render_text(TEXT_768), reps),
    }
    photo = np.random.default_rng(1).integers(0, 256, (427, 640, 3), dtype=np.uint8)
    results["resize_exact_640x427"] = timings_us(lambda: resize_exact(photo), reps // 10)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "camera.jpg"
        camera_jpeg(path)
        default_ms, default_px = decode_ms(path, "default", 3)
        exact_ms, exact_px = decode_ms(path, "exact", 2 if args.quick else 3)
    results["decode_24mp_jpeg"] = {
        "default_ms": default_ms, "exact_ms": exact_ms, "draft_factor": DRAFT_FACTOR,
        "mean_abs_diff_default_vs_exact": float(np.abs(default_px.astype(int) - exact_px).mean())}

    rows = [("glyph table load (warm file cache)", f"{results['glyph_table']['load_ms_median']:.1f} ms"),
            ("glyph table load (fresh process)", f"{results['glyph_table']['cold_load_ms']:.1f} ms"),
            ("glyph table memory", f"{table.nbytes / 1e6:.2f} MB"),
            ("render 100 chars median / p99",
             f"{results['render_100_chars']['median_us']:.0f} / {results['render_100_chars']['p99_us']:.0f} µs"),
            ("render 768 chars median / p99",
             f"{results['render_768_chars']['median_us']:.0f} / {results['render_768_chars']['p99_us']:.0f} µs"),
            ("resize_exact 640x427 median", f"{results['resize_exact_640x427']['median_us'] / 1e3:.2f} ms"),
            ("24 MP JPEG decode default / exact", f"{default_ms:.0f} / {exact_ms:.0f} ms"),
            ("mean |default - exact| (24 MP)",
             f"{results['decode_24mp_jpeg']['mean_abs_diff_default_vs_exact']:.2f} levels")]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=RESULTS.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(results, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp_path, RESULTS)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

"""Encoder speed: random-weight ViT-B/16 in torch eager, ORT fp32 and ORT int8, against this CPU's peak.

Run: python bench/encoder.py [--variant B/16] [--threads 2] [--batches 1,8,16] [--budget 6]

Every engine runs in its own child process, so its peak RSS is its own and the ORT children never
import torch (as in the app). Right before each engine, a child measures the float32 sgemm peak
(numpy, 2048 and 4096 square) at the same thread count; "% peak" compares the engine's matmul
GFLOP/s (ViTArch.gflops_per_image) to that, because other processes on a shared machine move
both numbers. It also reports int8-vs-fp32 cosine on real photos and rendered texts.
Writes bench/results/encoder.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "imagenet-sample-1k" / "images"
TEXTS = ["a photo of a cat", "a red double-decker bus on a rainy street", "Sonnenuntergang am Zürichsee",
         "夕焼けの海", "IMG_2041.JPG", "a bowl of ramen with an egg", "a golden retriever puppy in the snow",
         "close-up of a dragonfly on a leaf"]


# -- children ------------------------------------------------------------------------------------
def _timeit(fn, batch: int, budget_s: float, min_runs: int = 2, max_runs: int = 20) -> dict:
    fn()  # warm-up (allocations, ORT's first-run planning)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or (time.perf_counter() - start < budget_s and len(times) < max_runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    med = float(np.median(times))
    return {"batch": batch, "runs": len(times), "latency_s": med, "images_per_s": batch / med}


def child_peak(cfg: dict) -> dict:
    out = {}
    for n, runs in ((2048, 3), (4096, 1)):
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        b = a.copy()
        if n == 2048:
            a @ b  # warm-up: BLAS thread start, page faults
        best = min(_time_once(lambda: a @ b) for _ in range(runs))
        out[str(n)] = 2 * n**3 / best / 1e9
    return {"gflops": out, "peak_gflops": max(out.values())}


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, because ru_maxrss survives exec and reports the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def child_interleaved(cfg: dict) -> dict:
    """fp32 and int8 sessions in one process, run alternately: a speed ratio robust to load drift."""
    from clippo_desktop.engine.encoder import Encoder

    encs = [Encoder(cfg[k], threads=cfg["threads"], providers=["CPUExecutionProvider"], batch_size=64)
            for k in ("fp32", "int8")]
    x = np.random.default_rng(0).uniform(-1, 1, (cfg["batch"], 224, 224, 3)).astype(np.float32)
    for e in encs:
        e.encode(x)
    pairs = []
    start = time.perf_counter()
    while len(pairs) < 3 or (time.perf_counter() - start < cfg["budget"] and len(pairs) < 20):
        pairs.append([_time_once(lambda e=e: e.encode(x)) for e in encs])
    ratio = [f / i for f, i in pairs]
    return {"batch": cfg["batch"], "pairs": len(pairs), "int8_speedup_median": float(np.median(ratio)),
            "fp32_latency_s": float(np.median([p[0] for p in pairs])),
            "int8_latency_s": float(np.median([p[1] for p in pairs]))}


def _time_once(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def child_engine(cfg: dict) -> dict:
    threads, kind = cfg["threads"], cfg["kind"]
    rng = np.random.default_rng(0)
    probe = np.load(cfg["probe"], allow_pickle=False)  # (P, 224, 224, 3) float32, photos then texts
    t0 = time.perf_counter()
    if kind == "torch":
        import torch

        from clippo_desktop.engine.architecture import ViTArch
        from clippo_desktop.training.model import ClippoTower

        torch.set_num_threads(threads)
        model = ClippoTower(ViTArch.from_dict(cfg["arch"])).eval()
        with np.load(cfg["params"], allow_pickle=False) as f:
            model.load_bigvision_params({k: f[k] for k in f.files})

        def run(x):
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()
    else:
        from clippo_desktop.engine.encoder import Encoder

        enc = Encoder(cfg["onnx"], threads=threads, providers=["CPUExecutionProvider"], batch_size=64)
        enc.load()

        def run(x):
            return enc.encode(x)
    load_s = time.perf_counter() - t0
    rows = []
    for batch in cfg["batches"]:
        x = rng.uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32)
        rows.append(_timeit(lambda: run(x), batch, cfg["budget"]))
    emb = np.concatenate([run(probe[i:i + 8]) for i in range(0, len(probe), 8)])
    np.save(cfg["emb_out"], emb)
    return {"rows": rows, "load_s": load_s, "peak_rss_mb": peak_rss_mb()}


def spawn(role: str, cfg: dict) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(cfg["threads"])
    proc = subprocess.run([sys.executable, __file__, "--child", role, json.dumps(cfg)],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{role} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- parent --------------------------------------------------------------------------------------
def probe_inputs(n_photos: int = 16) -> tuple[np.ndarray, list[str]]:
    """Real photos (exact big_vision resize) and rendered texts, float32 in [-1, 1]."""
    from PIL import Image

    from clippo_desktop.engine.encoder import value_range

    try:
        from clippo_desktop.engine.preprocess import resize_exact
    except ImportError:
        resize_exact = None
    imgs, names = [], []
    for path in sorted(PHOTOS.glob("*.jpg"))[:n_photos]:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        imgs.append(resize_exact(rgb, 224) if resize_exact else np.asarray(Image.fromarray(rgb).resize((224, 224))))
        names.append(f"photo:{path.name}")
    try:
        from clippo_desktop.engine.render import render_texts

        imgs.extend(render_texts(TEXTS))
        names.extend(f"text:{t}" for t in TEXTS)
    except ImportError:
        pass
    return value_range(np.stack(imgs)), names


def build_models(variant: str, tmp: Path) -> tuple[dict, dict]:
    import onnx
    import torch

    from clippo_desktop.engine.architecture import ViTArch
    from clippo_desktop.engine.onnx_graph import build_onnx
    from clippo_desktop.engine.quantize import quantize_int8
    from clippo_desktop.training.model import ClippoTower

    arch = ViTArch.from_variant(variant)
    torch.manual_seed(0)
    params = ClippoTower(arch).bigvision_params()
    np.savez(tmp / "params.npz", **params)
    timings = {}
    t = time.perf_counter()
    onnx.save(build_onnx(arch, params), str(tmp / "fp32.onnx"))
    timings["build_onnx_s"] = time.perf_counter() - t
    t = time.perf_counter()
    quantize_int8(tmp / "fp32.onnx", tmp / "int8.onnx")
    timings["quantize_s"] = time.perf_counter() - t
    quantize_int8(tmp / "fp32.onnx", tmp / "int8pc.onnx", per_channel=True)
    sizes = {k: (tmp / f"{k}.onnx").stat().st_size / 1e6 for k in ("fp32", "int8", "int8pc")}
    return {"arch": arch.to_dict(), "gflops_per_image": arch.gflops_per_image()}, {**timings, "size_mb": sizes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", default="B/16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,8,16")
    ap.add_argument("--budget", type=float, default=6.0, help="seconds of timed runs per batch size")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        role, cfg = args.child[0], json.loads(args.child[1])
        print(json.dumps({"peak": child_peak, "engine": child_engine, "interleaved": child_interleaved}[role](cfg)))
        return

    import logging

    logging.disable(logging.WARNING)  # quant_pre_process advice from onnxruntime.quantization
    batches = [int(b) for b in args.batches.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="clippo-bench-") as tmpdir:
        tmp = Path(tmpdir)
        model, build = build_models(args.variant, tmp)
        probe, names = probe_inputs()
        np.save(tmp / "probe.npy", probe)
        peak1 = {t: spawn("peak", {"threads": t}) for t in (1, 2)}
        engines = {"torch eager fp32": ("torch", None, batches), "ORT fp32": ("ort", "fp32.onnx", batches),
                   "ORT int8": ("ort", "int8.onnx", batches), "ORT int8 per-channel": ("ort", "int8pc.onnx", [8])}
        results, embs = {}, {}
        for label, (kind, fname, bs) in engines.items():
            peak = spawn("peak", {"threads": args.threads})["peak_gflops"]
            cfg = {"kind": kind, "threads": args.threads, "batches": bs, "budget": args.budget,
                   "arch": model["arch"], "params": str(tmp / "params.npz"), "probe": str(tmp / "probe.npy"),
                   "onnx": str(tmp / fname) if fname else None, "emb_out": str(tmp / f"emb_{len(results)}.npy")}
            res = spawn("engine", cfg)
            for row in res["rows"]:
                row["gflops"] = row["images_per_s"] * model["gflops_per_image"]
                row["pct_of_peak"] = 100 * row["gflops"] / peak
            results[label] = {**res, "peak_gflops_before": peak}
            embs[label] = np.load(cfg["emb_out"], allow_pickle=False)
        inter = spawn("interleaved", {"threads": args.threads, "batch": 8, "budget": args.budget * 2,
                                      "fp32": str(tmp / "fp32.onnx"), "int8": str(tmp / "int8.onnx")})
        peak2 = {t: spawn("peak", {"threads": t}) for t in (1, 2)}
    report = summarise(args, model, build, results, embs, names, peak1, peak2, time.perf_counter() - started)
    report["int8_speedup_interleaved"] = inter
    print(f"int8 / fp32 speed, interleaved runs at batch 8: {inter['int8_speedup_median']:.2f}x "
          f"({inter['pairs']} pairs)")
    from clippo_desktop.engine.atomic import write_text_atomic

    out = REPO / "bench" / "results" / "encoder.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(report, indent=2))
    print(f"\nwrote {out.relative_to(REPO)} in {report['wall_s']:.0f} s")


def summarise(args, model, build, results, embs, names, peak1, peak2, wall_s) -> dict:
    from clippo_desktop.engine.quantize import cosine_rows

    load = os.getloadavg()[0]
    print(f"\n{args.variant}: {model['gflops_per_image']:.1f} GFLOP/image, threads={args.threads}, "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print("sgemm peak GFLOP/s (start -> end): " + ", ".join(
        f"{t} thread(s) {peak1[t]['peak_gflops']:.0f} -> {peak2[t]['peak_gflops']:.0f}" for t in (1, 2)))
    print(f"build ONNX {build['build_onnx_s']:.1f} s, quantize {build['quantize_s']:.1f} s, sizes MB "
          + ", ".join(f"{k} {v:.0f}" for k, v in build["size_mb"].items()))
    print(f"\n{'engine':22s} {'batch':>5s} {'img/s':>7s} {'latency':>9s} {'GFLOP/s':>8s} {'% peak':>7s} {'RSS MB':>7s}")
    for label, res in results.items():
        for row in res["rows"]:
            print(f"{label:22s} {row['batch']:5d} {row['images_per_s']:7.2f} {row['latency_s'] * 1e3:7.0f}ms "
                  f"{row['gflops']:8.1f} {row['pct_of_peak']:6.0f}% {res['peak_rss_mb']:7.0f}")
    ratios = {}
    fp32_rows = {r["batch"]: r for r in results["ORT fp32"]["rows"]}
    for label in ("ORT int8", "ORT int8 per-channel"):
        ratios[label] = {r["batch"]: r["images_per_s"] / fp32_rows[r["batch"]]["images_per_s"]
                         for r in results[label]["rows"] if r["batch"] in fp32_rows}
        print(f"{label} / ORT fp32 speed: " + ", ".join(f"batch {b}: {v:.2f}x" for b, v in ratios[label].items()))
    cosines = {}
    ref = embs["ORT fp32"]
    photo = np.array([n.startswith("photo:") for n in names])
    for label in embs:
        if label == "ORT fp32":
            continue
        cos = cosine_rows(ref, embs[label])
        cosines[label] = {"min": float(cos.min()), "mean": float(cos.mean()),
                          "photos_min": float(cos[photo].min()),
                          "texts_min": float(cos[~photo].min()) if (~photo).any() else None}
        print(f"cosine to ORT fp32, {label:22s}: min {cos.min():.5f} mean {cos.mean():.5f} "
              f"(photos min {cos[photo].min():.5f}" + (f", texts min {cos[~photo].min():.5f})" if (~photo).any() else ")"))
    fp32_best = max(r["pct_of_peak"] for r in results["ORT fp32"]["rows"])
    int8_best = max(max(v.values()) for v in ratios.values())
    print(f"\ngoals: ORT fp32 >= 70% of peak: best {fp32_best:.0f}%; int8 >= 1.6x fp32: best {int8_best:.2f}x")
    return {"variant": args.variant, "threads": args.threads, "load_average": load, "cpu_count": os.cpu_count(),
            "model": model, "build": build, "peak_start": peak1, "peak_end": peak2, "engines": results,
            "int8_speedup": {k: {str(b): v for b, v in r.items()} for k, r in ratios.items()},
            "cosine_to_fp32": cosines, "probe_inputs": names, "wall_s": wall_s,
            "goals": {"fp32_pct_of_peak_best": fp32_best, "int8_speedup_best": int8_best}}


if __name__ == "__main__":
    main()

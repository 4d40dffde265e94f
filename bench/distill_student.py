"""How fast would the distilled CNN student index photos in the app? (issue 9: >= 100 photos/s)

Exports the EfficientNet-Lite0 student (pretrained trunk, untrained heads: speed does not depend
on the weights) to ONNX at several input sizes, quantises an int8 variant with the engine's
`quantize_int8`, and times ONNX Runtime on batches of 8 with 1 and 2 threads. Also reports the
int8-vs-fp32 cosine on probe images. Needs the `training` and `distill` extras.

    python bench/distill_student.py [--sizes 160,224] [--repeats 5]
Writes bench/results/distill_student.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,160,224")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import onnxruntime as ort
    import torch

    from clippo_desktop.engine.model_import import probe_images
    from clippo_desktop.engine.quantize import quantize_int8
    from clippo_desktop.training.distill.export_onnx import export_student
    from clippo_desktop.training.distill.student import Student

    torch.set_num_threads(1)
    train = torch.tensor([c for c in range(1000) if c % 10 >= 3])
    student = Student(torch.nn.functional.normalize(torch.randn(1000, 512), dim=-1), train)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            fp32, int8 = Path(tmp) / f"s{size}.onnx", Path(tmp) / f"s{size}.int8.onnx"
            export_student(student, size, fp32)
            quantize_int8(fp32, int8)
            x = probe_images(size, 8).astype(np.float32) / 127.5 - 1.0  # (8, S, S, 3)
            embs = {}
            for variant, path in (("fp32", fp32), ("int8", int8)):
                for threads in (1, 2):
                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
                    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                    embs[variant] = sess.run(["embedding"], {"pixels": x})[0]
                    times = []
                    for _ in range(args.repeats):
                        t = time.perf_counter()
                        sess.run(None, {"pixels": x})
                        times.append(time.perf_counter() - t)
                    rows.append({"size": size, "variant": variant, "threads": threads,
                                 "img_per_s": round(8 / float(np.median(times)), 1),
                                 "mb": round(path.stat().st_size / 2**20, 1)})
                    print(rows[-1], flush=True)
            cos = float(np.min(np.sum(embs["fp32"] * embs["int8"], axis=1)))
            for r in rows:
                if r["size"] == size:
                    r["int8_cosine"] = round(cos, 4)
    print(f"{'size':>5} {'variant':>7} {'thr':>3} {'img/s':>7} {'MB':>6} {'int8 cos':>8}")
    for r in rows:
        print(f"{r['size']:>5} {r['variant']:>7} {r['threads']:>3} {r['img_per_s']:>7} {r['mb']:>6} {r['int8_cosine']:>8}")
    out = Path(__file__).parent / "results" / "distill_student.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

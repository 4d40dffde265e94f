"""Export a distilled student to ONNX with the app's encoder contract (for speed checks today).

Graph contract (same as engine.onnx_graph.build_onnx): input `pixels` float32 (N, S, S, 3) in
[-1, 1]; outputs `embedding` (N, 512) L2-normalised and `patch_attention` (N, P). Exported with
torch.onnx.export (dynamo, dynamic batch). The engine cannot install such a package yet: the
manifest's `architecture` is a ViTArch. Shipping a CNN student needs an `onnx` architecture kind
(see training/README.md, "Distillation"); nothing here touches the engine.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class _Contract(nn.Module):
    def __init__(self, student: nn.Module):
        super().__init__()
        self.student = student

    def forward(self, pixels: torch.Tensor):
        out = self.student(pixels)
        return out["embedding"], out["attention"]


def export_student(student: nn.Module, image_size: int, path: Path) -> Path:
    student = student.eval()
    x = torch.zeros(2, image_size, image_size, 3)
    prog = torch.onnx.export(_Contract(student), (x,), input_names=["pixels"],
                             output_names=["embedding", "patch_attention"],
                             dynamic_shapes={"pixels": {0: torch.export.Dim("batch")}}, dynamo=True)
    prog.save(str(path))
    import onnx

    model = onnx.load(str(path))
    # The dynamo exporter records intermediate shapes that onnx's shape inference (run by the
    # int8 quantiser) disagrees with on the classifier rows; they are optional, so drop them.
    del model.graph.value_info[:]
    onnx.save(model, str(path))
    return Path(path)

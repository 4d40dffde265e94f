"""Tiny prebuilt ONNX encoders with the app's contract, and `onnx`-kind packages made from them.

`contract_graph` is what a distilled student looks like to the engine, only small: `pixels`
(N, S, S, 3) in [-1, 1] -> average colour of each cell of a G x G grid -> a fixed random
projection -> L2 normalisation = `embedding` (N, E); `patch_attention` (N, G*G) is a softmax over
the cells' brightness. Photos that differ in one region embed differently, so occlusion explains
and retrieval work on it. Built with onnx.helper: no torch, milliseconds to make.
Import into a test module with `from tests.onnx_fixtures import *`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

__all__ = ["contract_graph", "onnx_package", "lite_package", "bundled_dir"]


def contract_graph(path: Path, *, image_size: int = 224, embed_dim: int = 16, grid: int = 7,
                   seed: int = 0, normalise: bool = True) -> Path:
    cell = image_size // grid
    assert cell * grid == image_size, "the grid must divide the image"
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3 * grid * grid, embed_dim)).astype(np.float32)  # (3*G*G, E)
    nodes = [
        helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]),        # (N, 3, S, S)
        helper.make_node("AveragePool", ["nchw"], ["cells"], kernel_shape=[cell, cell],
                         strides=[cell, cell]),                                           # (N, 3, G, G)
        helper.make_node("Reshape", ["cells", "flat_shape"], ["flat"]),                  # (N, 3*G*G)
        helper.make_node("MatMul", ["flat", "proj"], ["raw"]),                           # (N, E)
        helper.make_node("ReduceMean", ["cells", "channel_axis"], ["bright"], keepdims=0),  # (N, G, G)
        helper.make_node("Reshape", ["bright", "grid_shape"], ["bright_flat"]),          # (N, G*G)
        helper.make_node("Softmax", ["bright_flat"], ["patch_attention"], axis=1),
    ]
    if normalise:
        nodes += [
            helper.make_node("ReduceL2", ["raw", "last_axis"], ["norm"], keepdims=1),    # (N, 1)
            helper.make_node("Add", ["norm", "eps"], ["norm_eps"]),
            helper.make_node("Div", ["raw", "norm_eps"], ["embedding"]),
        ]
    else:
        nodes.append(helper.make_node("Identity", ["raw"], ["embedding"]))
    inits = [
        numpy_helper.from_array(w, "proj"),
        numpy_helper.from_array(np.array([-1, 3 * grid * grid], np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([-1, grid * grid], np.int64), "grid_shape"),
        numpy_helper.from_array(np.array([1], np.int64), "channel_axis"),
        numpy_helper.from_array(np.array([-1], np.int64), "last_axis"),
        numpy_helper.from_array(np.array([1e-8], np.float32), "eps"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_contract_encoder",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", image_size, image_size, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", embed_dim]),
         helper.make_tensor_value_info("patch_attention", TensorProto.FLOAT, ["batch", grid * grid])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def onnx_package(folder: Path, name: str = "lite", *, is_default: bool = False, embed_dim: int = 16,
                 int8="auto", seed: int = 0, **kwargs):
    """Build an `onnx`-kind package from a fresh contract graph into `folder`; its Manifest."""
    from clippo_desktop.engine.model_package import build_package_from_onnx

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    graph = contract_graph(folder.parent / f"{name}-src.onnx", embed_dim=embed_dim, seed=seed)
    return build_package_from_onnx(
        graph, folder, name=name, embed_dim=embed_dim, image_size=224, num_patches=49, gflops=0.01,
        provenance={"source": "tests/onnx_fixtures.py", "tool": "pytest"}, license="CC0-1.0",
        metrics={}, description="tiny contract graph for tests", is_default=is_default, int8=int8,
        progress=lambda _m: None, **kwargs)


@pytest.fixture(scope="session")
def lite_package(tmp_path_factory) -> Path:
    """A session-wide `onnx`-kind package 'lite' (is_default), built once."""
    folder = tmp_path_factory.mktemp("lite-src") / "lite"
    onnx_package(folder, "lite", is_default=True)
    return folder


@pytest.fixture
def bundled_dir(tmp_path, lite_package, monkeypatch) -> Path:
    """A bundled-models folder holding 'lite' as the bundled default, for this test and its
    subprocesses (CLIPPO_DESKTOP_BUNDLED_MODELS); the real resources/models is never touched."""
    import shutil

    folder = tmp_path / "bundled"
    shutil.copytree(lite_package, folder / "lite")
    monkeypatch.setenv("CLIPPO_DESKTOP_BUNDLED_MODELS", str(folder))
    return folder

"""The checkpoint reader: layouts it accepts, files it refuses, and that it never unpickles."""

from __future__ import annotations

import hashlib
import io
import pathlib
import re
import zipfile

import numpy as np
import pytest

from clippo_desktop.engine.architecture import ViTArch
from clippo_desktop.engine.errors import CheckpointError
from clippo_desktop.engine.npz_reader import expected_param_shapes, read_checkpoint


def _npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _rewrite(src: pathlib.Path, dst: pathlib.Path, replace: dict[str, bytes | None] | None = None,
             rename=lambda name: name, add: dict[str, bytes] | None = None) -> pathlib.Path:
    """Copy an npz member by member; `replace` maps member names to new bytes (None drops it)."""
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = replace.get(name, zin.read(name)) if name in replace else zin.read(name)
            if data is not None:
                zout.writestr(rename(name), data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


GOLDEN_ARCH = ViTArch(width=96, depth=12, mlp_dim=384, num_heads=3, patch_size=16, image_size=224,
                      posemb="learn", pool_type="map", out_dim=768)


def test_golden_checkpoint_is_read_with_its_architecture_and_temperature(golden_params_path, golden_params):
    ckpt = read_checkpoint(golden_params_path)
    assert ckpt.arch == GOLDEN_ARCH
    assert set(ckpt.params) == set(golden_params) == set(expected_param_shapes(GOLDEN_ARCH))
    assert len(ckpt.params) == 215
    for key, value in golden_params.items():
        assert ckpt.params[key].dtype == np.float32
        np.testing.assert_array_equal(ckpt.params[key], value, err_msg=key)
    assert ckpt.temperature == pytest.approx(10.0, rel=1e-6)
    assert ckpt.source_sha256 == hashlib.sha256(golden_params_path.read_bytes()).hexdigest()


def test_optimizer_and_chrono_members_are_never_parsed(golden_params_path, golden_params, tmp_path):
    # Garbage that is not even an .npy header: parsing it would raise.
    path = _rewrite(golden_params_path, tmp_path / "junk_opt.npz",
                    add={"opt/garbage.npy": b"\x00not an array", "chrono/garbage.npy": b"xx"})
    ckpt = read_checkpoint(path)
    np.testing.assert_array_equal(ckpt.params["img/head/kernel"], golden_params["img/head/kernel"])


def test_checkpoint_without_params_prefix_is_accepted(golden_params_path, golden_params, tmp_path):
    path = tmp_path / "noprefix.npz"
    np.savez(path, **golden_params)
    ckpt = read_checkpoint(path)
    assert ckpt.arch == GOLDEN_ARCH
    for key, value in golden_params.items():
        np.testing.assert_array_equal(ckpt.params[key], value, err_msg=key)


def test_stacked_encoderblock_layout_is_unstacked(golden_params, tmp_path):
    flat = {k: v for k, v in golden_params.items() if "/encoderblock_" not in k}
    inner = sorted({re.sub(r"^.*/encoderblock_\d+/", "", k) for k in golden_params if "/encoderblock_" in k})
    for name in inner:  # numeric order: encoderblock_10 must not come before encoderblock_2
        flat[f"img/Transformer/encoderblock/{name}"] = np.stack(
            [golden_params[f"img/Transformer/encoderblock_{i}/{name}"] for i in range(12)])
    path = tmp_path / "stacked.npz"
    np.savez(path, **{f"params/{k}": v for k, v in flat.items()})
    ckpt = read_checkpoint(path)
    assert ckpt.arch == GOLDEN_ARCH
    assert set(ckpt.params) == set(golden_params)
    for key, value in golden_params.items():
        np.testing.assert_array_equal(ckpt.params[key], value, err_msg=key)


def test_wrong_shape_names_the_file_the_key_and_both_shapes(golden_params_path, tmp_path):
    bad = np.zeros((96, 700), np.float32)
    path = _rewrite(golden_params_path, tmp_path / "wrong.npz",
                    replace={"params/img/head/kernel.npy": _npy_bytes(bad)})
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    msg = str(err.value)
    assert "wrong.npz" in msg and "img/head/kernel" in msg
    assert "(96, 700)" in msg and "(96, 768)" in msg


def test_missing_block_parameter_is_reported(golden_params_path, tmp_path):
    key = "params/img/Transformer/encoderblock_7/MlpBlock_0/Dense_1/bias.npy"
    path = _rewrite(golden_params_path, tmp_path / "missing.npz", replace={key: None})
    with pytest.raises(CheckpointError, match="encoderblock_7/MlpBlock_0/Dense_1/bias"):
        read_checkpoint(path)


def test_truncated_checkpoint_is_refused(golden_params_path, tmp_path):
    data = golden_params_path.read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(path)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match="random.npz"):
        read_checkpoint(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.npz")


class _TouchOnUnpickle:
    """Unpickling this creates a file: proof that something was unpickled."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def _object_array(marker: pathlib.Path) -> bytes:
    arr = np.empty((1,), dtype=object)
    arr[0] = _TouchOnUnpickle(marker)
    return _npy_bytes(arr, allow_pickle=True)


def test_object_arrays_are_refused_without_unpickling(golden_params_path, tmp_path):
    # Control: the payload really does create its marker when unpickled.
    control = tmp_path / "control_marker"
    (tmp_path / "control.npy").write_bytes(_object_array(control))
    np.load(tmp_path / "control.npy", allow_pickle=True)
    assert control.exists()

    marker = tmp_path / "marker"
    path = _rewrite(golden_params_path, tmp_path / "evil.npz",
                    replace={"params/img/head/kernel.npy": _object_array(marker)})
    with pytest.raises(CheckpointError, match="img/head/kernel.*objects"):
        read_checkpoint(path)
    assert not marker.exists()


def test_nan_weights_are_refused(golden_params_path, golden_params, tmp_path):
    bad = golden_params["img/MAPHead_0/probe"].copy()
    bad[0, 0, 5] = np.nan
    path = _rewrite(golden_params_path, tmp_path / "nan.npz",
                    replace={"params/img/MAPHead_0/probe.npy": _npy_bytes(bad)})
    with pytest.raises(CheckpointError, match="img/MAPHead_0/probe.*NaN"):
        read_checkpoint(path)


def test_bfloat16_params_are_widened_to_float32(golden_params, tmp_path):
    params = dict(golden_params)
    exact = (params["img/head/bias"].view(np.uint32) & 0xFFFF0000).view(np.float32)  # bf16-representable
    params["img/head/bias"] = (exact.view(np.uint32) >> 16).astype(np.uint16).view("V2")
    path = tmp_path / "bf16.npz"
    np.savez(path, **params)
    ckpt = read_checkpoint(path)
    np.testing.assert_array_equal(ckpt.params["img/head/bias"], exact)


def test_gap_model_without_head_or_posemb_is_inferred(tmp_path):
    arch = ViTArch(width=32, depth=2, mlp_dim=64, num_heads=2, patch_size=8, image_size=224,
                   posemb="sincos2d", pool_type="gap", out_dim=0)
    rng = np.random.default_rng(1)
    params = {k: rng.standard_normal(s).astype(np.float32) for k, s in expected_param_shapes(arch).items()}
    path = tmp_path / "gap.npz"
    np.savez(path, **params)
    assert read_checkpoint(path).arch == arch

"""The ONNX Runtime encoder and int8 quantisation, on the golden model built from its checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnx
import pytest

from clippo_desktop.engine.encoder import Encoder, choose_providers, value_range
from clippo_desktop.engine.errors import ModelIntegrityError, UsageError
from clippo_desktop.engine.npz_reader import read_checkpoint
from clippo_desktop.engine.onnx_graph import build_onnx
from clippo_desktop.engine.quantize import int8_cosines, quantize_int8


@pytest.fixture(scope="module")
def golden_onnx(golden_params_path, tmp_path_factory) -> Path:
    ckpt = read_checkpoint(golden_params_path)
    path = tmp_path_factory.mktemp("models") / "golden.onnx"
    onnx.save(build_onnx(ckpt.arch, ckpt.params), str(path))
    return path


@pytest.fixture(scope="module")
def golden_int8(golden_onnx) -> Path:
    return quantize_int8(golden_onnx, golden_onnx.with_name("golden.int8.onnx"))


def test_encoder_reproduces_golden_embeddings_in_uneven_batches(golden_onnx, golden):
    enc = Encoder(golden_onnx, threads=1, batch_size=3)  # 4 and 10 inputs: partial last batches
    assert not enc.loaded
    np.testing.assert_allclose(enc.encode(golden["image_input"]), golden["img_normalized"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(enc.encode(golden["text_input"]), golden["txt_normalized"], rtol=0, atol=1e-6)
    assert enc.loaded and enc.provider == "CPUExecutionProvider"
    assert enc.embed_dim == 768 and enc.image_size == 224


def test_uint8_pixels_get_big_vision_value_range_exactly(golden_onnx, golden):
    np.testing.assert_array_equal(value_range(golden["text_render_uint8"]), golden["text_input"])
    resized = np.stack([golden[f"photo{k}_resized_uint8"] for k in range(4)])
    np.testing.assert_array_equal(value_range(resized), golden["image_input"])
    enc = Encoder(golden_onnx, threads=1)
    np.testing.assert_array_equal(enc.encode(golden["text_render_uint8"]), enc.encode(golden["text_input"]))


def test_encode_with_attention_returns_a_distribution_over_patches(golden_onnx, golden):
    emb, attn = Encoder(golden_onnx, threads=1).encode_with_attention(golden["image_input"][:2])
    assert emb.shape == (2, 768) and attn.shape == (2, 196)
    np.testing.assert_allclose(attn.sum(1), 1.0, atol=1e-5)


def test_empty_batch_gives_an_empty_embedding_matrix(golden_onnx):
    out = Encoder(golden_onnx, threads=1).encode(np.zeros((0, 224, 224, 3), np.uint8))
    assert out.shape == (0, 768) and out.dtype == np.float32


def test_wrong_pixel_shape_or_dtype_is_a_usage_error(golden_onnx):
    enc = Encoder(golden_onnx, threads=1)
    with pytest.raises(UsageError, match="shape"):
        enc.encode(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(UsageError, match="float32"):
        enc.encode(np.zeros((1, 224, 224, 3), np.float64))


def test_two_threads_encoding_at_once_get_the_serial_results(golden_onnx, golden):
    enc = Encoder(golden_onnx, threads=1, batch_size=2)
    inputs = [golden["image_input"], golden["text_input"]]
    expected = [enc.encode(x) for x in inputs]
    enc.unload()  # both threads race to create the session
    results: dict[int, list[np.ndarray]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                results[i].append(enc.encode(inputs[i]))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for i in (0, 1):
        assert len(results[i]) == 3
        for r in results[i]:
            np.testing.assert_array_equal(r, expected[i])


def test_unload_frees_the_session_and_the_next_call_reloads_it(golden_onnx, golden):
    enc = Encoder(golden_onnx, threads=1)
    first = enc.encode(golden["image_input"][:1])
    enc.unload()
    assert not enc.loaded
    np.testing.assert_array_equal(enc.encode(golden["image_input"][:1]), first)


def test_corrupt_model_file_raises_integrity_error_with_advice(golden_onnx, tmp_path):
    data = golden_onnx.read_bytes()
    bad = tmp_path / "cut.onnx"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelIntegrityError, match="Reinstall"):
        Encoder(bad).load()
    with pytest.raises(ModelIntegrityError, match="missing"):
        Encoder(tmp_path / "absent.onnx").encode(np.zeros((1, 224, 224, 3), np.uint8))


def test_provider_override_from_environment_falls_back_to_cpu(monkeypatch):
    monkeypatch.setenv("CLIPPO_DESKTOP_PROVIDERS", "cpu")
    assert choose_providers() == ["CPUExecutionProvider"]
    monkeypatch.setenv("CLIPPO_DESKTOP_PROVIDERS", "NoSuchExecutionProvider")
    assert choose_providers() == ["CPUExecutionProvider"]
    monkeypatch.delenv("CLIPPO_DESKTOP_PROVIDERS")
    assert choose_providers()[-1] == "CPUExecutionProvider"


def test_int8_model_stays_close_to_fp32_on_golden_photos_and_texts(golden_onnx, golden_int8, golden):
    pixels = np.concatenate([golden["image_input"], golden["text_input"]])
    cos = int8_cosines(golden_onnx, golden_int8, pixels, threads=1)
    assert cos.shape == (14,)
    assert cos.min() >= 0.99, cos
    assert golden_int8.stat().st_size < golden_onnx.stat().st_size / 2
    model = onnx.load(str(golden_int8))
    assert "clippo.architecture" in {p.key for p in model.metadata_props}
    dtypes = {i.name: i.data_type for i in model.graph.initializer}
    assert dtypes["img/embedding/kernel"] == onnx.TensorProto.FLOAT  # kept float: see quantize.KEEP_FLOAT
    assert sum(t == onnx.TensorProto.INT8 for t in dtypes.values()) >= 12 * 4 + 5

"""Where fine-tuning may start: a prebuilt ONNX model is refused, by name or by folder."""

from __future__ import annotations

import pytest

from clippo_desktop.engine.errors import NotFineTunableError
from clippo_desktop.engine.models import ModelRegistry
from tests.onnx_fixtures import lite_package  # noqa: F401


@pytest.fixture
def data_dir(tmp_path, lite_package):  # noqa: F811
    d = tmp_path / "data"
    ModelRegistry(d, bundled_dir=tmp_path / "none").install_package(lite_package)
    return d


def test_an_installed_prebuilt_onnx_model_cannot_be_the_init_of_a_fine_tune(data_dir):
    from clippo_desktop.training.weights import resolve_init

    with pytest.raises(NotFineTunableError, match="'lite' .* is a prebuilt ONNX model without canonical "
                                                  "weights.*Fine-tune a ViT model instead"):
        resolve_init("lite", data_dir=str(data_dir))
    with pytest.raises(NotFineTunableError, match="prebuilt ONNX model"):
        resolve_init(str(data_dir / "models" / "lite"))


def test_train_with_init_of_a_prebuilt_model_exits_with_a_usage_error_that_says_what_to_do(data_dir, tmp_path,
                                                                                            capsys):
    from clippo_desktop.training.train import main

    photos = tmp_path / "photos"
    photos.mkdir()
    rc = main(["--data-dir", str(data_dir), "--init", "lite", "--data", f"captions:{photos}",
               "--out", str(tmp_path / "run"), "--steps", "1", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == NotFineTunableError.exit_code == 2
    assert "cannot be fine-tuned" in err and "Fine-tune a ViT model instead" in err

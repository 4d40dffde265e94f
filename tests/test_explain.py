"""Explain a match (engine/explain.py): occlusion heatmaps from the golden ViT and a prebuilt 7x7 graph."""

from __future__ import annotations

import numpy as np
import pytest

from clippo_desktop.engine.errors import ModelIntegrityError
from clippo_desktop.engine.explain import explain, explain_grid, occluded_batch, spread
from tests.library_fixtures import golden_model_dir  # noqa: F401
from tests.onnx_fixtures import bundled_dir, lite_package  # noqa: F401


def test_each_occluded_copy_greys_exactly_one_cell():
    pixels = np.full((224, 224, 3), 7, np.uint8)
    batch = occluded_batch(pixels, 7)                         # (49, 224, 224, 3)
    assert batch.shape == (49, 224, 224, 3)
    grey = (batch == 128).all(axis=-1)                        # (49, 224, 224)
    assert (grey.sum(axis=(1, 2)) == 32 * 32).all()
    assert grey[8, 32:64, 32:64].all() and not grey[8, :32].any()


def test_cells_spread_onto_the_patch_grid():
    cells = np.arange(49, dtype=np.float32).reshape(7, 7)
    grid = spread(cells, 14)
    assert grid.shape == (14, 14)
    assert grid[0, 0] == grid[1, 1] == 0 and grid[13, 13] == 48


def test_occlusion_heatmap_stays_dark_where_the_query_does_not_match(golden_model_dir, shared_dir):  # noqa: F811
    from clippo_desktop.engine.imageio import read_photo
    from clippo_desktop.engine.models import ModelRegistry

    model = ModelRegistry(golden_model_dir.parent.parent).get("golden")
    enc = model.encoder()
    photo = sorted((shared_dir / "data" / "imagenet-sample-1k" / "images").glob("*.jpg"))[0]
    pixels = read_photo(photo, size=224).pixels
    # The query is the photo with its top-left corner greyed: hiding that corner cannot lower
    # the score (it makes the photo more like the query), hiding anything else does.
    part = pixels.copy()
    part[:96, :96] = 128
    query = enc.encode(part[None])[0]
    heat = explain(enc, pixels, query, grid=7)
    assert heat.method == "occlusion" and heat.grid.shape == (14, 14)
    assert heat.grid.min() >= 0 and heat.grid.max() == pytest.approx(1.0)
    assert heat.grid[:6, :6].max() < 0.05 < heat.grid[6:, 6:].mean()


def test_without_a_query_the_map_is_the_models_attention(golden_model_dir, shared_dir):  # noqa: F811
    from clippo_desktop.engine.models import ModelRegistry

    enc = ModelRegistry(golden_model_dir.parent.parent).get("golden").encoder()
    heat = explain(enc, np.full((224, 224, 3), 90, np.uint8), None)
    assert heat.method == "attention" and heat.grid.shape == (14, 14)


def test_a_prebuilt_graph_is_explained_on_its_own_seven_by_seven_grid(lite_package, tmp_path):  # noqa: F811
    from clippo_desktop.engine.model_package import probe_images
    from clippo_desktop.engine.models import ModelRegistry

    model = ModelRegistry(tmp_path / "data", bundled_dir=lite_package.parent).get("lite")
    arch, enc = model.manifest.architecture, model.encoder()
    assert explain_grid(arch) == 7
    # Mid-grey (what occlusion paints) except the bottom-right 3x3 cells: hiding a grey cell
    # changes nothing, so only the cells with content can light up.
    pixels = np.full((224, 224, 3), 128, np.uint8)
    pixels[128:, 128:] = probe_images(96, 1, seed=3)[0]
    query = enc.encode(pixels[None])[0]
    heat = explain(enc, pixels, query, grid=explain_grid(arch), patch_grid=arch.grid)
    assert heat.method == "occlusion" and heat.grid.shape == (7, 7)
    assert heat.grid[:4].max() == 0 and heat.grid[:, :4].max() == 0
    assert heat.grid[4:, 4:].max() == pytest.approx(1.0)
    fallback = explain(enc, pixels, None, patch_grid=arch.grid)
    assert fallback.method == "attention" and fallback.grid.shape == (7, 7)
    assert fallback.grid.max() == pytest.approx(1.0)
    with pytest.raises(ModelIntegrityError, match="not the 14x14 grid"):
        explain(enc, pixels, None, patch_grid=14)


def test_the_occlusion_grid_follows_the_models_cost_and_never_exceeds_its_patch_grid():
    from clippo_desktop.engine.architecture import OnnxArch, ViTArch

    assert explain_grid(OnnxArch(num_patches=16)) == 4
    assert explain_grid(OnnxArch(num_patches=49, gflops=8.0)) == 5
    assert explain_grid(ViTArch.from_variant("B/16")) == 4 and explain_grid(ViTArch.from_variant("Ti/16")) == 7


def test_the_window_session_explains_a_photo_with_the_bundled_prebuilt_model(bundled_dir, tmp_path):  # noqa: F811
    from PIL import Image

    from clippo_desktop.app.session import LibrarySession
    from clippo_desktop.engine.model_package import probe_images

    photo = tmp_path / "photo.png"
    Image.fromarray(probe_images(300, 1)[0]).save(photo)
    session = LibrarySession(tmp_path / "data")
    try:
        state = session.open()
        assert state.model == "lite" and state.error is None
        assert state.models[0].architecture.startswith("prebuilt ONNX graph, 7x7 grid, 224 px")
        heat = session.explain(str(photo), "a dog in the snow")
        assert heat.grid.shape == (7, 7) and heat.method in ("occlusion", "attention")
    finally:
        session.close()


def test_a_centre_cropping_model_explains_only_the_square_it_saw_and_says_where_it_is(tmp_path, monkeypatch):
    from PIL import Image

    from clippo_desktop.app.session import LibrarySession
    from clippo_desktop.engine.model_package import probe_images
    from tests.onnx_fixtures import onnx_package

    onnx_package(tmp_path / "bundled" / "crop", "crop", is_default=True, preprocess="center_crop")
    monkeypatch.setenv("CLIPPO_DESKTOP_BUNDLED_MODELS", str(tmp_path / "bundled"))
    wide, tall = tmp_path / "wide.png", tmp_path / "tall.png"
    square = probe_images(200, 1)[0]  # (200, 200, 3)
    Image.fromarray(np.concatenate([np.zeros_like(square), square, np.zeros_like(square)], 1)).save(wide)
    Image.fromarray(np.concatenate([square, np.zeros((100, 200, 3), np.uint8)], 0)).save(tall)
    session = LibrarySession(tmp_path / "data")
    try:
        assert session.open().model == "crop"
        heat = session.explain(str(wide), "a dog in the snow")
        assert heat.grid.shape == (7, 7)
        assert heat.frame == pytest.approx((1 / 3, 0.0, 1 / 3, 1.0))  # the middle third of 600 x 200
        assert session.explain(str(tall), None).frame == pytest.approx((0.0, 50 / 300, 1.0, 200 / 300))
    finally:
        session.close()


def test_a_squashing_model_explains_the_whole_photo(bundled_dir, tmp_path):  # noqa: F811
    from PIL import Image

    from clippo_desktop.app.session import LibrarySession
    from clippo_desktop.engine.model_package import probe_images

    wide = tmp_path / "wide.png"
    Image.fromarray(np.concatenate([probe_images(200, 1)[0]] * 3, 1)).save(wide)
    session = LibrarySession(tmp_path / "data")
    try:
        session.open()
        assert session.explain(str(wide), None).frame == (0.0, 0.0, 1.0, 1.0)
    finally:
        session.close()

"""Explain a match (app/explain.py): occlusion heatmaps from the real golden encoder."""

from __future__ import annotations

import numpy as np
import pytest

from clippo_desktop.engine.explain import explain, occluded_batch, spread
from tests.library_fixtures import golden_model_dir  # noqa: F401


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

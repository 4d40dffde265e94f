"""Resize and value_range must equal big_vision's resize(224)|value_range(-1,1) exactly (spec §5)."""

from __future__ import annotations

import numpy as np
import pytest

from clippo_desktop.engine.preprocess import PREPROCESS_MODES, center_square, resize_exact, value_range


@pytest.mark.parametrize("k", range(4))
def test_resize_matches_golden_with_zero_differing_pixels(golden, k):
    ours = resize_exact(golden[f"photo{k}_decoded_uint8"])
    assert ours.dtype == np.uint8 and ours.shape == (224, 224, 3)
    assert np.count_nonzero(ours != golden[f"photo{k}_resized_uint8"]) == 0


def test_value_range_equals_golden_model_inputs_exactly(golden):
    photos = np.stack([golden[f"photo{k}_resized_uint8"] for k in range(4)])
    image_input = value_range(photos)
    assert image_input.dtype == np.float32
    assert np.array_equal(image_input, golden["image_input"])
    assert np.array_equal(value_range(golden["text_render_uint8"]), golden["text_input"])


def test_value_range_maps_ink_and_background_to_the_spec_values():
    v = value_range(np.array([0, 127, 255], np.uint8))
    assert v[0] == np.float32(-1.0) and v[2] == np.float32(1.0)
    assert v[1] == np.float32(-0.0039215684)
    with pytest.raises(ValueError):
        value_range(np.zeros(3, np.float32))


def test_resize_is_half_pixel_bilinear_without_antialias():
    # Downscaling 4 -> 2 samples at source x = 0.5 and 2.5: plain averages of neighbours,
    # not of all four pixels (which an antialiased resize would give).
    row = np.array([0, 100, 200, 255], np.uint8)
    img = np.repeat(np.repeat(row[None, :, None], 4, axis=0), 3, axis=2)  # (4, 4, 3)
    out = resize_exact(img, size=2)
    assert out[0, :, 0].tolist() == [50, 227]  # 227.5 truncated, not rounded


def test_resize_squashes_any_shape_and_accepts_views():
    img = np.random.default_rng(0).integers(0, 256, (37, 301, 3), dtype=np.uint8)
    flipped = img[:, ::-1]
    assert np.array_equal(resize_exact(flipped), resize_exact(np.ascontiguousarray(flipped)))
    assert resize_exact(np.zeros((1, 1, 3), np.uint8)).shape == (224, 224, 3)
    assert resize_exact(img, size=64).shape == (64, 64, 3)
    assert resize_exact(np.full((5, 7, 1), 9, np.uint8)).shape == (224, 224, 1)


def test_resize_rejects_wrong_dtype_or_rank():
    with pytest.raises(ValueError):
        resize_exact(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError):
        resize_exact(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        resize_exact(np.zeros((0, 4, 3), np.uint8))


def test_preprocess_modes_are_exact_default_and_center_crop():
    assert PREPROCESS_MODES == ("exact", "default", "center_crop")


@pytest.mark.parametrize("shape, box", [((80, 120, 3), (0, 20)), ((121, 80, 3), (20, 0)), ((5, 5, 3), (0, 0))])
def test_center_square_keeps_the_middle_of_the_long_side(shape, box):
    img = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)
    sq = center_square(img)
    s = min(shape[:2])
    assert sq.shape == (s, s, 3)
    assert np.array_equal(sq, img[box[0]:box[0] + s, box[1]:box[1] + s])

"""The model that ships in resources/models (CLIPPO-Lite): it loads as the default, keeps its
manifest's promises, and retrieves real held-out photos far above chance.

Skips when no model is bundled; the retrieval tests also skip without ../shared/data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from clippo_desktop.engine.models import ModelRegistry
from clippo_desktop.engine.paths import resources_dir

BUNDLED = resources_dir() / "models"
NAME = "clippo-lite-ml"
pytestmark = pytest.mark.skipif(not (BUNDLED / NAME / "manifest.json").is_file(),
                                reason="no CLIPPO-Lite model is bundled in resources/models")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return ModelRegistry(tmp_path_factory.mktemp("data"), bundled_dir=BUNDLED).default()


def _shared():
    from clippo_desktop.training.distill import sources

    data = sources.shared_data_dir()
    if not (data / "coco-mini").is_dir():
        pytest.skip("../shared/data is not here")
    return sources


def test_the_bundled_lite_model_is_the_default_and_its_files_match_their_checksums(model):
    assert model.name == NAME and model.bundled and model.manifest.is_default
    assert model.manifest.architecture.kind == "onnx" and model.dim == 512
    model.manifest.verify_all(model.path)
    size = sum(f.bytes for f in model.manifest.files.values())
    assert size < 40e6  # issue 9: under 40 MB
    heldout = model.manifest.metrics["heldout_eval"]
    assert {"coco_t2i_r10", "imagenet_en_r1", "m30k_en2de_r1"} <= set(heldout["metrics"])
    assert "wordfreq" in json.dumps(model.manifest.provenance) and "CC BY-SA" in model.manifest.license


def test_texts_in_any_script_and_photos_embed_to_unit_vectors_in_one_space(model):
    z = model.encode_texts(["Hund im Schnee", "地铁站的猫", "夜の発射台のロケット", ""])
    assert z.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-4)


def test_captions_find_their_held_out_coco_photos_far_above_chance(model):
    sources = _shared()
    from clippo_desktop.training.distill.eval import recall

    coco = sources.coco_photos("val2017")
    z_img = model.encode_photos([c.path for c in coco])  # (79, 512)
    caps = [(i, c) for i, p in enumerate(coco) for c in p.captions]
    z_cap = model.encode_texts([c for _, c in caps])  # (395, 512)
    owner = np.array([i for i, _ in caps])
    r = recall(z_cap @ z_img.T, owner[:, None] == np.arange(len(coco))[None], (1, 10))
    # chance: R@1 0.013, R@10 0.127; the recorded full evaluation is in the manifest
    recorded = model.manifest.metrics["heldout_eval"]["metrics"]
    assert r[10] == pytest.approx(recorded["coco_t2i_r10"], abs=0.02)
    assert r[1] > 5 * 1 / 79 and r[10] > 3 * 10 / 79


def test_a_german_caption_is_nearer_its_english_original_than_other_captions(model):
    sources = _shared()
    en = sources.multi30k("test_2016_flickr", "en")[:200]
    de = sources.multi30k("test_2016_flickr", "de")[:200]
    sim = model.encode_texts(en) @ model.encode_texts(de).T  # (200, 200)
    rank_of_truth = (sim > np.diag(sim)[:, None]).sum(1)  # 0 = the translation ranks first
    assert np.median(rank_of_truth) < 20  # chance: 100


def test_the_bundled_model_sees_a_wide_photo_as_its_centre_square_undistorted(model, tmp_path):
    from PIL import Image

    from clippo_desktop.training.distill.lite import PHOTO_PREPROCESS

    assert model.manifest.preprocess == PHOTO_PREPROCESS == "center_crop"
    rng = np.random.default_rng(0)
    middle = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    sides = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    Image.fromarray(np.concatenate([sides, middle, sides[:, ::-1]], 1)).save(tmp_path / "wide.png")
    Image.fromarray(middle).save(tmp_path / "middle.png")
    Image.fromarray(sides).save(tmp_path / "sides.png")
    z = model.encode_photos([tmp_path / "wide.png", tmp_path / "middle.png", tmp_path / "sides.png"])
    np.testing.assert_allclose(z[0], z[1], atol=1e-6)  # the ends of the long side are not seen
    assert z[0] @ z[2] < 0.999

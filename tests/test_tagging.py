"""Zero-shot tagging with a real model: agreement with the classifier, caches, vocabularies, CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from clippo_desktop.engine.cli import main
from clippo_desktop.engine.errors import UsageError
from clippo_desktop.engine.tagging import Tagger, store_machine_tags
from clippo_desktop.engine.vocabularies import (default_vocabulary, from_labels, load_vocabulary,
                                                parse_vocabulary)
from clippo_desktop.engine.xmp import read_sidecar
from clippo_desktop.engine.zeroshot import ZeroShotClassifier
from tests.search_fixtures import *  # noqa: F401,F403

LABELS = ["dog", "cat", "Hund im Schnee", "地铁站的猫", "a red car", "beach", "قطة", "pizza"]


def test_default_vocabulary_has_hundreds_of_distinct_labels():
    vocab = default_vocabulary()
    assert 300 <= len(vocab) <= 600
    assert len(set(vocab.labels)) == len(vocab) and "dog" in vocab.labels
    assert not any(label.startswith("#") for label in vocab.labels)


def test_user_list_tolerates_bom_comments_blank_lines_and_duplicates(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_bytes("\ufeff# my tags\n\nHund\n  猫  \n# skip\nHund\nC# code\n".encode("utf-8"))
    vocab = load_vocabulary(path)
    assert vocab.labels == ("Hund", "猫", "C# code") and vocab.name == "mine"
    assert parse_vocabulary("a\nb").digest != parse_vocabulary("b\na").digest


def test_label_list_that_is_not_utf8_or_empty_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\xfe\x00oops\n")
    with pytest.raises(UsageError, match="line 2"):
        load_vocabulary(bad)
    with pytest.raises(UsageError, match="No labels"):
        parse_vocabulary("# only a comment\n\n")


def test_tags_are_sorted_by_score_and_equal_the_zero_shot_classifier(search_lib, tmp_path):
    model = search_lib.model
    vocab = from_labels(LABELS)
    tagger = Tagger(model, cache_dir=tmp_path / "labels")
    paths = search_lib.paths[:6]
    emb = model.encode_photos(paths)                                       # (6, E)
    tagged = tagger.tag_embeddings(emb, vocab, paths=paths, top=4)
    clf = ZeroShotClassifier.build(LABELS, model.manifest.prompt_templates, model.encode_texts,
                                   model.manifest.temperature)
    for photo, row in zip(tagged, emb):
        scores = [s for _, s in photo.tags]
        assert scores == sorted(scores, reverse=True) and len(photo.tags) == 4
        want = clf.top(row, 4)
        assert [t for t, _ in photo.tags] == [t for t, _ in want]
        assert scores == pytest.approx([s for _, s in want], abs=1e-5)


def test_threshold_drops_labels_below_it(search_lib, tmp_path):
    tagger = Tagger(search_lib.model)
    emb = search_lib.model.encode_photos(search_lib.paths[:2])
    full = tagger.tag_embeddings(emb, from_labels(LABELS), paths=search_lib.paths[:2], top=8)
    cut = full[0].tags[2][1]
    kept = tagger.tag_embeddings(emb, from_labels(LABELS), paths=search_lib.paths[:2], top=8,
                                 threshold=cut)
    assert kept[0].tags == full[0].tags[:3]
    assert all(s >= cut for p in kept for _, s in p.tags)


def test_label_embeddings_are_cached_on_disk_per_model_and_vocabulary(search_lib, tmp_path):
    cache = tmp_path / "labels"
    first = Tagger(search_lib.model, cache_dir=cache).classifier(from_labels(LABELS))
    files = list(cache.glob("*.npy"))
    assert len(files) == 1
    np.load(files[0], allow_pickle=False)
    again = Tagger(search_lib.model, cache_dir=cache).classifier(from_labels(LABELS))
    np.testing.assert_array_equal(first.class_embeddings, again.class_embeddings)
    Tagger(search_lib.model, cache_dir=cache).classifier(from_labels(LABELS[:3]))
    assert len(list(cache.glob("*.npy"))) == 2
    files[0].write_bytes(b"garbage")                 # a damaged cache is rebuilt, not trusted
    rebuilt = Tagger(search_lib.model, cache_dir=cache).classifier(from_labels(LABELS))
    np.testing.assert_allclose(rebuilt.class_embeddings, first.class_embeddings, atol=1e-6)


def test_library_photos_use_stored_embeddings_and_outside_photos_are_encoded(search_lib, tmp_path):
    catalog, _ = search_lib.open()
    outside = tmp_path / "outside.jpg"
    shutil.copyfile(search_lib.paths[2], outside)
    try:
        tagger = Tagger(search_lib.model)
        res = tagger.tag_paths([search_lib.paths[2], str(outside), str(tmp_path / "missing.jpg")],
                               from_labels(LABELS), catalog=catalog, top=3)
    finally:
        catalog.close()
    assert res[0].photo_id == search_lib.ids[search_lib.paths[2]] and res[1].photo_id is None
    assert [t for t, _ in res[0].tags] == [t for t, _ in res[1].tags]
    assert res[2].error and not res[2].tags


def test_machine_tags_are_stored_with_model_and_score_and_replaced_on_retag(search_lib):
    catalog, _ = search_lib.open()
    try:
        tagger = Tagger(search_lib.model)
        photo = search_lib.paths[4]
        pid = search_lib.ids[photo]
        res = tagger.tag_paths([photo], from_labels(LABELS), catalog=catalog, top=3)
        store_machine_tags(catalog, res, tagger.model_id)
        stored = {t.label: t for t in catalog.list_tags(photo_id=pid)}
        assert set(stored) == {t for t, _ in res[0].tags}
        assert all(t.source == "machine" and t.model_id == tagger.model_id for t in stored.values())
        assert {k: v.score for k, v in stored.items()} == pytest.approx(dict(res[0].tags))
        res2 = tagger.tag_paths([photo], from_labels(["sunset", "snow"]), catalog=catalog, top=2)
        store_machine_tags(catalog, res2, tagger.model_id)
        assert {t.label for t in catalog.list_tags(photo_id=pid)} == {"sunset", "snow"}
    finally:
        catalog.close()


def test_cli_tag_prints_json_and_writes_sidecars_for_photos_outside_the_library(
        search_lib, tmp_path, capsys):
    photo = tmp_path / "trip.jpg"
    shutil.copyfile(search_lib.paths[1], photo)
    argv = ["--data-dir", str(search_lib.data_dir), "tag", str(photo), "--label", "dog",
            "--label", "beach", "--label", "Hund", "--top", "2", "--write-xmp", "--json"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    tags = [t["label"] for t in doc["photos"][0]["tags"]]
    assert len(tags) == 2 and doc["model"] == "golden"
    side = read_sidecar(photo)
    assert side.keywords == tags and side.hierarchical == [f"clippo|{t}" for t in tags]
    assert photo.read_bytes() == open(search_lib.paths[1], "rb").read()   # photo untouched
    assert main(["--data-dir", str(search_lib.data_dir), "tag", str(tmp_path / "nope.jpg")]) == 1

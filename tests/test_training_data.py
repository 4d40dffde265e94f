"""Training data: sidecars, manifests, class folders, sentences, parallel files and batch mixing."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from clippo_desktop.engine.errors import UsageError
from clippo_desktop.training.data import (MixedBatchSampler, Pair, PairDataset, make_loader, parse_spec,
                                          split_pairs)
from clippo_desktop.training.evaluate import recall_at_k
from clippo_desktop.training.sidecars import SidecarError, parse_xmp, read_caption

XMP = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:description><rdf:Alt><rdf:li xml:lang="de">Hund am Strand</rdf:li>
<rdf:li xml:lang="x-default">dog on the beach</rdf:li></rdf:Alt></dc:description>
<dc:subject><rdf:Bag><rdf:li>dog</rdf:li><rdf:li>sea</rdf:li></rdf:Bag></dc:subject>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def _photo(path, colour=(200, 30, 30)):
    Image.new("RGB", (64, 48), colour).save(path)
    return path


def test_xmp_description_and_keywords_become_the_caption(tmp_path):
    info = parse_xmp(XMP.encode())
    assert info.description == "dog on the beach" and info.subjects == ["dog", "sea"]
    photo = _photo(tmp_path / "a.jpg")
    (tmp_path / "a.xmp").write_text(XMP)
    assert read_caption(photo) == "dog on the beach. dog, sea"
    (tmp_path / "a.jpg.txt").write_text("  my own words \n")
    assert read_caption(photo) == "my own words"  # the .txt sidecar wins


def test_xmp_with_a_doctype_is_refused_before_parsing():
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(SidecarError, match="DOCTYPE"):
        parse_xmp(bomb)
    with pytest.raises(SidecarError):
        parse_xmp(b"<not closed")


def test_caption_folder_manifests_and_class_folders_give_pairs(tmp_path):
    lib = tmp_path / "lib"
    (lib / "sub").mkdir(parents=True)
    _photo(lib / "x.jpg")
    (lib / "x.jpg.txt").write_text("a red square")
    _photo(lib / "sub" / "nocaption.png")
    assert [(p.kind, p.b) for p in parse_spec(f"captions:{lib}")] == [("image", "a red square")]
    (tmp_path / "m.csv").write_text("path,caption\nlib/x.jpg,red\n")
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "lib/x.jpg", "caption": "red", "teacher": [1, 0]}) + "\n")
    csv_pairs, jsonl_pairs = parse_spec(f"manifest:{tmp_path / 'm.csv'}"), parse_spec(f"manifest:{tmp_path / 'm.jsonl'}")
    assert csv_pairs[0].a == str(lib / "x.jpg") and jsonl_pairs[0].teacher == (1.0, 0.0)
    cls = tmp_path / "cls"
    for name in ("golden_retriever", "tabby"):
        (cls / name).mkdir(parents=True)
        for i in range(2):
            _photo(cls / name / f"{i}.png")
    pairs = parse_spec(f"classes:{cls}", ["a photo of a {}", "{}"])
    assert [p.b for p in pairs[:2]] == ["a photo of a golden retriever", "golden retriever"]
    assert {p.label for p in pairs} == {"golden_retriever", "tabby"}
    with pytest.raises(UsageError):
        parse_spec("captions:/no/such/folder")


def test_sentences_and_multi30k_parallel_files_give_text_pairs(tmp_path, shared_dir):
    (tmp_path / "t.txt").write_text("One cat sat. Then it slept! Why?\n\nNew paragraph here.")
    assert [(p.a, p.b) for p in parse_spec(f"sentences:{tmp_path / 't.txt'}")] == [
        ("One cat sat.", "Then it slept!"), ("Then it slept!", "Why?")]
    raw = shared_dir / "data" / "multi30k" / "data" / "task1" / "raw"
    pairs = parse_spec(f"parallel:{raw / 'val.en.gz'},{raw / 'val.de.gz'}")
    with gzip.open(raw / "val.de.gz", "rt", encoding="utf-8") as f:
        first_de = f.readline().strip()
    assert len(pairs) > 900 and pairs[0].kind == "text" and pairs[0].b == first_de


def test_batches_mix_the_configured_text_share_and_shard_across_ranks():
    pairs = [Pair("image", f"p{i}", f"c{i}", group=f"p{i}") for i in range(10)] + \
            [Pair("text", f"s{i}", f"t{i}", group=f"s{i}") for i in range(7)]
    sampler = MixedBatchSampler(pairs, 8, 0.25, seed=3)
    rows = sampler.global_rows(5)
    assert Counter(pairs[i].kind for i, _ in rows) == {"image": 6, "text": 2}
    assert rows == MixedBatchSampler(pairs, 8, 0.25, seed=3).global_rows(5)  # a function of the step
    assert rows != MixedBatchSampler(pairs, 8, 0.25, seed=4).global_rows(5)
    ranks = [next(iter(MixedBatchSampler(pairs, 8, 0.25, 3, rank=r, world=2, start=5))) for r in (0, 1)]
    assert ranks[0] + ranks[1] == rows
    seen = Counter(i for s in range(5) for i, _ in MixedBatchSampler(pairs, 8, 0.25, 3).global_rows(s)
                   if pairs[i].kind == "image")
    assert set(seen) == set(range(10)) and max(seen.values()) - min(seen.values()) <= 1  # epochs without repeats
    train, val = split_pairs(pairs, 0.3, 100)
    assert len(train) + len(val) == 17 and train == split_pairs(pairs, 0.3, 100)[0]


def test_loader_workers_decode_photos_and_render_texts(tmp_path):
    photos = [_photo(tmp_path / f"{i}.jpg", (i * 60, 10, 10)) for i in range(4)]
    pairs = [Pair("image", str(p), f"photo {i}") for i, p in enumerate(photos)] + [Pair("text", "hallo", "hello")]
    ds = PairDataset(pairs, augment=True)
    loader = make_loader(ds, MixedBatchSampler(pairs, 4, 0.25, 0, stop=2), num_workers=2)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["a"].shape == (4, 224, 224, 3)
    assert int(batches[0]["is_text"].sum()) == 1 and batches[0]["chars"] > 0
    item = ds[(0, 7)]
    np.testing.assert_array_equal(item["a"], ds[(0, 7)]["a"])  # augmentation is seeded per item


def test_recall_counts_a_hit_when_any_correct_item_is_in_the_top_k():
    sim = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])
    correct = np.array([[False, True, False], [False, False, True]])
    assert recall_at_k(sim, correct, (1, 2, 3)) == {1: 0.5, 2: 0.5, 3: 1.0}

"""`clippo-desktop eval`: the held-out evaluation of an installed ONNX package, as a user runs it.

The model is a tiny random prebuilt graph (tests/onnx_fixtures.py), so its numbers are near
chance; what is checked is the report: every row, beside chance and the teacher. The real shared
data is used where it is quick enough; the other tests use a trimmed copy of it (a few photos,
names and lines, pointed to by CLIPPO_SHARED), which runs the full set of rows in seconds.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.library_fixtures import REPO, run_cli
from tests.onnx_fixtures import bundled_dir, lite_package  # noqa: F401

# Runs the real launcher in a fresh interpreter and fails if anything imported torch.
NO_TORCH_MAIN = ("import sys\n"
                 "{prelude}"
                 "from clippo_desktop.launcher import main\n"
                 "rc = main(sys.argv[1:])\n"
                 "assert 'torch' not in sys.modules, 'the evaluation imported torch'\n"
                 "sys.exit(rc)\n")


def run_launcher(*args, shared, prelude: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "CLIPPO_SHARED": str(shared)}
    return subprocess.run([sys.executable, "-c", NO_TORCH_MAIN.format(prelude=prelude), *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def rows(stdout: str) -> dict[str, list[float]]:
    """The table's rows: name -> [chance, teacher or nan, model]."""
    out = {}
    for line in stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 4 and parts[0][0].isalpha() and "=" not in line:
            out[parts[0]] = [float("nan") if p == "-" else float(p) for p in parts[1:]]
    return out


@pytest.fixture
def data_dir(tmp_path, lite_package):  # noqa: F811
    """A data dir with 'lite' installed (not bundled, so --record may write its manifest)."""
    d = tmp_path / "data"
    shutil.copytree(lite_package, d / "models" / "lite")
    return d


@pytest.fixture(scope="session")
def trimmed_shared(shared_dir, tmp_path_factory):
    """A CLIPPO_SHARED folder with 30 ImageNet classes, 6 COCO val photos and 20 Multi30k lines
    of test_2016 and of test_2017_flickr (the real data; photos by symlink); no test_2018."""
    src, root = shared_dir / "data", tmp_path_factory.mktemp("trimmed-shared")
    dst = root / "data"
    (dst / "imagenet-sample-1k").mkdir(parents=True)
    lines = (src / "imagenet-sample-1k" / "labels.csv").read_text("utf-8").splitlines()
    (dst / "imagenet-sample-1k" / "labels.csv").write_text("\n".join(lines[:31]) + "\n", "utf-8")
    os.symlink(src / "imagenet-sample-1k" / "images", dst / "imagenet-sample-1k" / "images")
    (dst / "coco-mini" / "annotations").mkdir(parents=True)
    ann = json.loads((src / "coco-mini" / "annotations" / "captions_val2017.json").read_text("utf-8"))
    keep = {img["id"] for img in ann["images"][:6]}
    ann["images"] = [i for i in ann["images"] if i["id"] in keep]
    ann["annotations"] = [a for a in ann["annotations"] if a["image_id"] in keep]
    (dst / "coco-mini" / "annotations" / "captions_val2017.json").write_text(json.dumps(ann), "utf-8")
    os.symlink(src / "coco-mini" / "val2017", dst / "coco-mini" / "val2017")
    raw = dst / "multi30k" / "data" / "task1" / "raw"
    raw.mkdir(parents=True)
    for split, lang in [(s, lang) for s in ("test_2016_flickr", "test_2017_flickr") for lang in ("en", "de", "fr")]:
        name = f"{split}.{lang}.gz"
        with gzip.open(src / "multi30k" / "data" / "task1" / "raw" / name, "rt", encoding="utf-8") as f:
            text = [next(f) for _ in range(20)]
        with gzip.open(raw / name, "wt", encoding="utf-8") as f:
            f.writelines(text)
    return root


def test_importing_the_evaluation_loads_no_torch():
    code = ("import sys, clippo_desktop.training.distill.eval, clippo_desktop.training.package_eval\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_eval_quick_on_the_shared_data_prints_every_row_beside_chance_and_the_teacher(data_dir, shared_dir,
                                                                                       tmp_path):
    out = run_cli("--data-dir", str(data_dir), "eval", "--model", "lite", "--quick",
                  "--json", str(tmp_path / "report.json"), env={"CLIPPO_SHARED": str(shared_dir)})
    assert out.returncode == 0, out.stderr.decode()
    stdout = out.stdout.decode()
    assert stdout.splitlines()[0].split() == ["row", "chance", "teacher", "model"]
    table = rows(stdout)
    assert list(table) == ["q_coco_t2i_r1", "q_coco_t2i_r5", "q_coco_t2i_r10", "q_imagenet_en_r1",
                           "q_imagenet_en_r5", "q_m30k_en2de_r1"]
    assert table["q_coco_t2i_r1"][0] == round(1 / 79, 3) and table["q_imagenet_en_r5"][0] == 0.005
    assert table["q_imagenet_en_r1"][1] == pytest.approx(0.867, abs=1e-3)  # the teacher's number
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["model"] == "lite" and report["quick"] is True and report["languages"] == ["en"]
    assert set(report["metrics"]) == set(report["chance"]) == set(table)
    assert all(0 <= v <= 1 for v in report["metrics"].values())


@pytest.mark.slow
def test_eval_of_the_full_held_out_set_on_the_shared_data_covers_eight_languages(data_dir, shared_dir):
    out = run_launcher("--data-dir", str(data_dir), "eval", "--model", "lite", shared=shared_dir)
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    assert len(table) == 3 + 2 * 8 + 2 + 4 and table["m30k_en2fr_r1"][0] == 0.001
    assert table["m30k2018_en2de_r1"][0] == 0.001 and table["m30k2017_en2fr_r1"][1] == 0.983  # teacher


@pytest.mark.skipif(importlib.util.find_spec("clip_benchmark") is None,
                    reason="clip-benchmark (training/distill/requirements.txt) carries the non-English names; "
                           "without it the English-only test below covers the evaluation")
def test_eval_of_the_full_set_covers_every_language_and_never_imports_torch(data_dir, trimmed_shared):
    out = run_launcher("--data-dir", str(data_dir), "eval", "--model", "lite", shared=trimmed_shared)
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    langs = ("en", "de", "fr", "es", "zh", "ja", "ru", "ar")
    assert [k for k in table if k.startswith("imagenet_")] == [f"imagenet_{lang}_r{k}" for lang in langs
                                                               for k in (1, 5)]
    assert table["coco_t2i_r5"][0] == round(5 / 6, 3) and table["imagenet_ar_r1"][0] == round(1 / 30, 3)
    assert table["m30k_en2de_r1"][0] == 0.05 and "m30k_en2fr_r1" in table
    # the unseen split that is present gets its rows beside the teacher's; the absent one is left out
    assert [k for k in table if k.startswith("m30k")] == ["m30k_en2de_r1", "m30k_en2fr_r1",
                                                          "m30k2017_en2de_r1", "m30k2017_en2fr_r1"]
    assert table["m30k2017_en2de_r1"][0] == 0.05 and table["m30k2017_en2de_r1"][1] == 0.97
    assert "ImageNet names in en, de, fr, es, zh, ja, ru, ar" in out.stdout


def test_without_clip_benchmark_only_english_is_evaluated_and_the_report_says_so(data_dir, trimmed_shared):
    hide = "sys.modules['clip_benchmark'] = None  # import clip_benchmark now raises ImportError\n"
    out = run_launcher("--data-dir", str(data_dir), "eval", "--model", "lite", shared=trimmed_shared,
                       prelude=hide)
    assert out.returncode == 0, out.stderr
    assert "clip-benchmark is not installed, so only English class names are evaluated" in out.stderr
    table = rows(out.stdout)
    assert [k for k in table if k.startswith("imagenet_")] == ["imagenet_en_r1", "imagenet_en_r5"]
    assert "m30k_en2fr_r1" in table and "ImageNet names in en)" in out.stdout


def test_missing_evaluation_data_exits_2_naming_the_folder_and_clippo_shared(data_dir, tmp_path):
    empty = tmp_path / "no-shared"
    out = run_cli("--data-dir", str(data_dir), "eval", "--quick", env={"CLIPPO_SHARED": str(empty)})
    assert out.returncode == 2
    err = out.stderr.decode()
    assert f"{empty / 'data' / 'coco-mini'}" in err and "CLIPPO_SHARED must point to" in err
    assert out.stdout == b""


def test_record_writes_the_metrics_into_the_manifest_and_leaves_the_model_usable(data_dir, trimmed_shared):
    from clippo_desktop.engine.models import ModelRegistry

    before = ModelRegistry(data_dir).get("lite").model_id()
    out = run_launcher("--data-dir", str(data_dir), "eval", "--quick", "--record", shared=trimmed_shared)
    assert out.returncode == 0, out.stderr
    assert "recorded as metrics['heldout_eval_quick']" in out.stdout
    model = ModelRegistry(data_dir).get("lite")
    entry = model.manifest.metrics["heldout_eval_quick"]
    assert set(entry["metrics"]) == set(entry["chance"]) == set(rows(out.stdout))
    assert entry["teacher"]["q_coco_t2i_r1"] == pytest.approx(0.395, abs=1e-3)
    assert entry["languages"] == ["en"] and entry["tool"].endswith("eval")
    assert model.model_id() == before and model.encode_texts(["ok"]).shape == (1, 16)


def test_record_on_a_bundled_model_says_it_is_read_only_after_printing_the_table(bundled_dir, tmp_path,  # noqa: F811
                                                                                 trimmed_shared):
    manifest = (bundled_dir / "lite" / "manifest.json").read_bytes()
    out = run_launcher("--data-dir", str(tmp_path / "fresh"), "eval", "--quick", "--record",
                       shared=trimmed_shared)
    assert out.returncode == 1
    assert "not recorded: 'lite' is bundled with the app, so its manifest is read-only" in out.stderr
    assert "q_coco_t2i_r1" in rows(out.stdout)
    assert (bundled_dir / "lite" / "manifest.json").read_bytes() == manifest

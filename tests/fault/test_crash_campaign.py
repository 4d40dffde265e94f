"""A handful of the crash campaign's kill points in CI (bench/crash_campaign.py runs all 30).

tests/test_crash_recovery.py already kills at batch 2 in each of the five pipeline phases;
these add what it does not: a kill while the scanner is walking the tree, a kill at a random
moment of a run, and hook kills at a random batch, each followed by a rerun that must leave
the catalog intact, every photo exactly once, hnswlib labels equal to the catalog's ids and
nothing committed before the kill encoded again.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.library_fixtures import *  # noqa: F401,F403

REPO = Path(__file__).resolve().parents[2]


def _campaign():
    spec = importlib.util.spec_from_file_location("crash_campaign",
                                                  REPO / "bench" / "crash_campaign.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["crash_campaign"] = mod          # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


campaign = _campaign()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, set[str]]:
    root = tmp_path_factory.mktemp("campaign") / "photos"
    campaign.make_tree(root, 48, filler_dirs=300, filler_files=30)
    return root, {str(p) for p in root.rglob("*.jpg")}


@pytest.fixture(scope="module")
def full_run_s(tree, golden_model_dir, tmp_path_factory) -> float:
    data = tmp_path_factory.mktemp("campaign-ref")
    shutil.copytree(golden_model_dir, data / "models" / "golden")
    started = time.monotonic()
    proc = campaign.cli(data, tree[0])
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    return time.monotonic() - started


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind,seed", [("scanning", 0), ("random", 11), ("save", 9)])
def test_sigkill_at_a_random_point_then_rerun_loses_and_redoes_nothing(
        kind, seed, tree, full_run_s, data_dir):
    root, paths = tree
    result = campaign.run_point(kind, random.Random(seed), data_dir, root, paths, full_run_s)
    assert result.ok, result.problems
    if kind != "random":                       # a timer may fire after the run has finished
        assert result.killed

"""Shared fixtures: where ../shared lives, the golden arrays, and Qt in offscreen mode."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Subprocesses of the CLI must not write into the developer's real log folder.
os.environ.setdefault("CLIPPO_DESKTOP_LOG_DIR", tempfile.mkdtemp(prefix="clippo-test-logs-"))
# Tests see no bundled model unless they ask for one (tests/onnx_fixtures.py `bundled_dir`): the
# real resources/models may hold the shipped default, which would otherwise become every test
# library's active model.
os.environ["CLIPPO_DESKTOP_BUNDLED_MODELS"] = tempfile.mkdtemp(prefix="clippo-test-bundled-")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLIPPO_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED} (set CLIPPO_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def golden_params_path(shared_dir: Path) -> Path:
    path = shared_dir / "golden" / "clippo_ti16_golden_params.npz"
    if not path.is_file():
        pytest.skip(f"golden params not found at {path}")
    return path


@pytest.fixture(scope="session")
def golden(shared_dir: Path):
    path = shared_dir / "golden" / "clippo_ti16_golden.npz"
    if not path.is_file():
        pytest.skip(f"golden vectors not found at {path}")
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="session")
def golden_params(golden_params_path: Path) -> dict[str, np.ndarray]:
    """The golden model's weights as a canonical flat dict (no `params/` prefix)."""
    with np.load(golden_params_path, allow_pickle=False) as f:
        return {k[len("params/"):]: f[k] for k in f.files if k.startswith("params/")}

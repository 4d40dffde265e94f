"""Fixtures for the library/indexing tests: the golden model installed once per session.

Importing the golden checkpoint builds ONNX graphs and quantises them (~10 s), so it happens
once; each test gets its own data dir with a copy of the installed package (a file copy).
Import into a test module with `from tests.library_fixtures import *`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["golden_model_dir", "data_dir", "run_cli"]

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def golden_model_dir(tmp_path_factory, golden_params_path) -> Path:
    """models/golden of a session-wide data dir (the fp32 + int8 package)."""
    from clippo_desktop.engine.model_import import import_checkpoint
    from clippo_desktop.engine.models import ModelRegistry

    base = tmp_path_factory.mktemp("golden-model")
    model = import_checkpoint(golden_params_path, "golden", ModelRegistry(base))
    return model.path


@pytest.fixture
def data_dir(tmp_path, golden_model_dir) -> Path:
    """A fresh data dir whose only model is 'golden'."""
    d = tmp_path / "data"
    shutil.copytree(golden_model_dir, d / "models" / "golden")
    return d


def run_cli(*args: str, env: dict | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess:
    """Run the real `clippo-desktop` entry point in a subprocess (bytes out)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "clippo_desktop", *args], capture_output=True,
                          env=full_env, timeout=timeout, cwd=REPO)

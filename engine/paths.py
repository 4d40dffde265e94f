"""Where clippo-desktop keeps its files.

The data directory holds the catalog, vector indexes and installed models. It is chosen once,
in this order: the `--data-dir` option, the `CLIPPO_DESKTOP_DATA` environment variable, then
the operating system's convention (platformdirs: ~/.local/share/clippo-desktop on Linux,
%LOCALAPPDATA%\\clippo-desktop on Windows, ~/Library/Application Support/clippo-desktop on macOS).

Bundled model packages ship read-only in `resources/models/`; `CLIPPO_DESKTOP_BUNDLED_MODELS`
points the app at another folder instead (tests use it so they never see, or write into, the
real bundle; a packager can use it to try a model before shipping it).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "clippo-desktop"
DATA_ENV = "CLIPPO_DESKTOP_DATA"
BUNDLED_MODELS_ENV = "CLIPPO_DESKTOP_BUNDLED_MODELS"


def resolve_data_dir(cli_value: str | os.PathLike | None = None) -> Path:
    """The data directory, created if needed (not created for a read-only inspection)."""
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def resources_dir() -> Path:
    """The installed `resources/` folder (fonts, bundled models, tag vocabularies)."""
    from clippo_desktop import resources

    return Path(resources.__file__).resolve().parent


def bundled_models_dir() -> Path:
    """Where bundled model packages are: `$CLIPPO_DESKTOP_BUNDLED_MODELS`, else resources/models."""
    env = os.environ.get(BUNDLED_MODELS_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return resources_dir() / "models"

"""Where the studio keeps its store, runs, caches and generated data."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def studio_home() -> Path:
    """`STUDIO_HOME`, or the user's data directory."""
    env = os.environ.get("STUDIO_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir("muppet-studio", appauthor=False))


def store_path() -> Path:
    return studio_home() / "studio.db"


def cache_dir() -> Path:
    return studio_home() / "cache"


def synthetic_dir() -> Path:
    """The generated demo suite lives here, never in a (possibly read-only) data directory."""
    return studio_home() / "synthetic"


def data_dir(override: str | Path | None = None) -> Path | None:
    """The local data directory: an explicit choice, else `STUDIO_DATA_DIR`, else none."""
    if override:
        return Path(override)
    env = os.environ.get("STUDIO_DATA_DIR")
    return Path(env) if env else None


def export_target_problem(folder: Path) -> str | None:
    """Why `folder` cannot receive an export (it must be new or empty), or None."""
    if folder.is_file():
        return f"{folder} is a file; choose a new or empty folder"
    if folder.is_dir() and any(folder.iterdir()):
        return f"{folder} exists and is not empty; choose a new or empty folder"
    return None

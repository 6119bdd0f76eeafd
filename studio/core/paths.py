"""Where the studio keeps its store, runs, caches and generated data."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path

import platformdirs

from studio.core.errors import StudioError


def studio_home() -> Path:
    """`STUDIO_HOME`, or the user's data directory."""
    env = os.environ.get("STUDIO_HOME")
    return Path(env) if env else Path(platformdirs.user_data_dir("muppet-studio", appauthor=False))


def package_dir(name: str) -> Path:
    """A folder of package data: 'tasks' (the built-in catalog) or 'resources' (help, icons).
    Installed, they live inside the package as `studio.<name>`."""
    return Path(str(resources.files(f"studio.{name}")))


def store_path() -> Path:
    return studio_home() / "studio.db"


def cache_dir() -> Path:
    return studio_home() / "cache"


def synthetic_dir() -> Path:
    """The generated demo suite lives here, never in a (possibly read-only) data directory."""
    return studio_home() / "synthetic"


def user_tasks_dir() -> Path:
    """The user's task library: specs that the wizard and `task add` write."""
    return studio_home() / "tasks"


def library_data_dir() -> Path:
    """Records of the tasks the user added, one folder per task, in the record format."""
    return studio_home() / "data"


def user_task_dirs(extra: list[str | Path] | tuple[str | Path, ...] = ()) -> list[Path]:
    """Where user task specs are read from: the library, `STUDIO_TASKS_DIR` (several folders
    joined by the path separator) and any folders given on the command line."""
    env = [p for p in os.environ.get("STUDIO_TASKS_DIR", "").split(os.pathsep) if p.strip()]
    folders = [user_tasks_dir(), *(Path(p).expanduser() for p in [*env, *extra])]
    unique: list[Path] = []
    for folder in folders:
        if folder not in unique:
            unique.append(folder)
    return unique


def hf_datasets_cache() -> Path:
    """The `datasets` cache, found the way `datasets` finds it (so data a user already
    downloaded in their own scripts is reused, and is available offline)."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "datasets"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "datasets"


def hub_mirror() -> Path | None:
    """`STUDIO_HUB_MIRROR`: a folder of local copies of hub dataset repositories, laid out
    as `<owner>/<name>/` (e.g. `git clone`s), used instead of the hub when present."""
    env = os.environ.get("STUDIO_HUB_MIRROR")
    return Path(env).expanduser() if env else None


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


# A run's folder: <store's folder>/runs/<run id>/checkpoints/step-<N>/, spill file beside them.
RUNS = "runs"
CHECKPOINTS = "checkpoints"


# What RunStore.create_run generates: the created time, then 4 random hex digits.
RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{4}")


class UnsafeRunId(StudioError, ValueError):
    """A run id that is not of the generated pattern, so it may not name a folder."""


def check_run_id(run_id: str) -> str:
    """`run_id` if it is of the generated pattern; UnsafeRunId otherwise.

    A store received from someone else may hold any text as an id ('..', '../../x'): joined
    into a path, it would name a folder outside runs/.
    """
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise UnsafeRunId(
            f"{str(run_id)[:80]!r} is not a run id of this studio (YYYYMMDD-HHMMSS-xxxx);"
            " it names no folder"
        )
    return run_id


def run_dir(store_path: Path, run_id: str) -> Path:
    """Checkpoints and exports of a run live beside the store, under runs/<id>/."""
    return Path(store_path).parent / RUNS / check_run_id(run_id)


def checkpoints_in(run_folder: Path) -> Path:
    """The folder of a run's checkpoints (one step-<N> folder each), inside its run folder."""
    return Path(run_folder) / CHECKPOINTS


def checkpoints_dir(store_path: Path, run_id: str) -> Path:
    """The checkpoints of run `run_id` of the store at `store_path`."""
    return checkpoints_in(run_dir(store_path, run_id))


def checkpoint_label(folder: Path) -> str | None:
    """A run's checkpoint folder (.../<run id>/checkpoints/step-<N>) as "<run id> step-<N>";
    None for any other folder."""
    folder = Path(folder)
    if folder.parent.name != CHECKPOINTS:
        return None
    return f"{folder.parent.parent.name} {folder.name}"

"""Shared set-up for the benchmarks: the real data beside the checkout, a quiet workspace."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from studio.core.sink import NullSink
from studio.core.tasks.spec import TaskSpec, default_tasks_dir, load_catalog
from studio.train.setup import Workspace, quiet_libraries

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def workspace() -> Workspace:
    """The catalog with `../shared/data` as the data directory (STUDIO_DATA_DIR overrides)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    quiet_libraries()
    data = Path(os.environ.get("STUDIO_DATA_DIR", SHARED_DATA))
    if not data.is_dir():
        raise SystemExit(f"benchmark data not found at {data}; set STUDIO_DATA_DIR")
    return Workspace.default(load_catalog(default_tasks_dir()), data)


def study_store(path: str | None) -> Path:
    """A study's run store: `path`, or a new file in a temporary folder; STUDIO_HOME is its
    folder unless set, so the tokenized cache lives beside it and a rerun reuses it."""
    store = Path(path) if path else Path(tempfile.mkdtemp()) / "studio.db"
    os.environ.setdefault("STUDIO_HOME", str(store.parent))
    return store


def local_tasks(catalog: dict[str, TaskSpec], data: Path) -> list[str]:
    """Every non-summarization task with a local folder in `data`."""
    return [
        n
        for n, s in catalog.items()
        if s.local and s.format != "summarization" and (data / s.local).is_dir()
    ]


class Clock(NullSink):
    """Records the wall time of every finished update."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def progress(self, step: int, total: int) -> None:
        self.times.append(time.perf_counter())

"""Where each task's data comes from here: local folder, synthetic suite, hub, or nowhere."""

from __future__ import annotations

import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from studio.core import synthetic
from studio.core.records import count_records
from studio.core.tasks import TaskSpec


@dataclass(frozen=True)
class Availability:
    task: str
    source: str  # local | synthetic | hub
    available: bool
    reason: str | None = None
    folder: Path | None = None
    train_size: int | None = None
    validation_size: int | None = None


@functools.cache
def hub_online(timeout: float = 1.5) -> bool:
    """Whether the Hugging Face hub can be reached (honours HF_HUB_OFFLINE and friends)."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "STUDIO_OFFLINE"):
        if os.environ.get(var, "").lower() in ("1", "true", "yes", "on"):
            return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def _local(spec: TaskSpec, folder: Path, source: str) -> Availability:
    files = [folder / "train.jsonl", folder / "validation.jsonl"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        return Availability(
            spec.name, source, False, f"{folder} lacks {', '.join(missing)}", folder
        )
    sizes = [count_records(f) for f in files]
    return Availability(spec.name, source, True, None, folder, sizes[0], sizes[1])


def resolve(
    spec: TaskSpec, data_dir: Path | None, synthetic_dir: Path, online: bool | None = None
) -> Availability:
    """Resolve in order: synthetic suite, local folder in the data directory, then the hub."""
    if spec.synthetic:
        folder = synthetic_dir / spec.synthetic
        size = synthetic.SIZES.get(spec.synthetic)
        if size is None:
            return Availability(spec.name, "synthetic", False, f"no generator '{spec.synthetic}'")
        return Availability(spec.name, "synthetic", True, None, folder, size[0], size[1])
    if spec.local and data_dir is not None and (data_dir / spec.local).is_dir():
        return _local(spec, data_dir / spec.local, "local")
    if spec.hub is not None:
        if online if online is not None else hub_online():
            return Availability(spec.name, "hub", True)
        return Availability(spec.name, "hub", False, _offline_reason(spec, data_dir))
    return Availability(spec.name, "local", False, _offline_reason(spec, data_dir))


def _offline_reason(spec: TaskSpec, data_dir: Path | None) -> str:
    if spec.local and data_dir is None:
        local = f"no data directory is set (STUDIO_DATA_DIR) to find '{spec.local}/'"
    elif spec.local:
        local = f"'{spec.local}/' is not in {data_dir}"
    else:
        local = "no local copy is defined"
    if spec.hub is None:
        return local
    return f"{local}; the hub ({spec.hub.path}) is not reachable offline"

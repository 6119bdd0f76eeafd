"""Where each task's data comes from here: local folder, synthetic suite, hub, or nowhere."""

from __future__ import annotations

import functools
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from studio.core import paths
from studio.core.tasks import synthetic
from studio.core.tasks.records import count_records
from studio.core.tasks.spec import HubSource, TaskSpec


@dataclass(frozen=True)
class Availability:
    task: str
    source: str  # local | synthetic | hub
    available: bool
    reason: str | None = None
    folder: Path | None = None
    train_size: int | None = None
    validation_size: int | None = None
    detail: str | None = None  # how an available task is reached, in words


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
    if not folder.is_dir():
        return Availability(spec.name, source, False, f"the folder {folder} does not exist", folder)
    files = [folder / "train.jsonl", folder / "validation.jsonl"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        return Availability(
            spec.name, source, False, f"{folder} lacks {', '.join(missing)}", folder
        )
    sizes = [count_records(f) for f in files]
    return Availability(
        spec.name, source, True, None, folder, sizes[0], sizes[1], f"local folder {folder}"
    )


def _snake(name: str) -> str:
    """`datasets`' camel-case to snake-case, as it names cache folders."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", name).lower()


def hub_local_copy(hub: HubSource) -> Path | None:
    """A local folder that holds the repository: the path itself, or its copy in the mirror."""
    direct = Path(hub.path).expanduser()
    if direct.is_absolute() or hub.path.startswith("."):
        return direct if direct.is_dir() else None
    mirror = paths.hub_mirror()
    if mirror is not None and (mirror / hub.path).is_dir():
        return mirror / hub.path
    return None


def hub_cached(hub: HubSource, cache: Path | None = None) -> bool:
    """Whether `datasets` has prepared this dataset's config in its cache (it then loads
    offline). Folders: `<owner>___<name>/<config>[-<hash>]/<version>/<hash>/`."""
    root = cache or paths.hf_datasets_cache()
    *owner, name = hub.path.split("/")
    folder = root / "___".join([*owner, _snake(name)])
    config = hub.name or "default"
    if not folder.is_dir():
        return False
    for candidate in folder.iterdir():
        ours = candidate.name == config or candidate.name.startswith(f"{config}-")
        if ours and any(candidate.glob("*/*/dataset_info.json")):
            return True
    return False


def _hub(spec: TaskSpec, data_dir: Path | None, online: bool | None) -> Availability:
    assert spec.hub is not None
    hub = spec.hub
    copy = hub_local_copy(hub)
    if copy is not None:
        return Availability(spec.name, "hub", True, folder=copy, detail=f"local copy at {copy}")
    if hub_cached(hub):  # prepared earlier (even by a `datasets` that still ran scripts)
        detail = f"{hub.label}, in the Hugging Face cache ({paths.hf_datasets_cache()})"
        return Availability(spec.name, "hub", True, detail=detail)
    if hub.unsupported:
        reason = f"{_local_reason(spec, data_dir)}; the hub dataset {hub.label}: {hub.unsupported}"
        return Availability(spec.name, "hub", False, reason)
    if online if online is not None else hub_online():
        return Availability(spec.name, "hub", True, detail=f"{hub.label}, downloaded on first use")
    return Availability(spec.name, "hub", False, _offline_reason(spec, data_dir))


def resolve(
    spec: TaskSpec, data_dir: Path | None, synthetic_dir: Path, online: bool | None = None
) -> Availability:
    """Resolve in order: synthetic suite, the spec's own folder, a local folder in the data
    directory, then the hub (a local copy, the `datasets` cache, then online)."""
    if spec.synthetic:
        folder = synthetic_dir / spec.synthetic
        size = synthetic.SIZES.get(spec.synthetic)
        if size is None:
            return Availability(spec.name, "synthetic", False, f"no generator '{spec.synthetic}'")
        detail = f"synthetic demo data, generated in {folder}"
        return Availability(spec.name, "synthetic", True, None, folder, size[0], size[1], detail)
    if spec.folder:
        return _local(spec, Path(spec.folder), "local")
    if spec.local and data_dir is not None and (data_dir / spec.local).is_dir():
        return _local(spec, data_dir / spec.local, "local")
    if spec.hub is not None:
        return _hub(spec, data_dir, online)
    return Availability(spec.name, "local", False, _offline_reason(spec, data_dir))


def _local_reason(spec: TaskSpec, data_dir: Path | None) -> str:
    if spec.local and data_dir is None:
        return f"no data directory is set (STUDIO_DATA_DIR) to find '{spec.local}/'"
    if spec.local:
        return f"'{spec.local}/' is not in {data_dir}"
    return "no local copy is defined"


def _offline_reason(spec: TaskSpec, data_dir: Path | None) -> str:
    local = _local_reason(spec, data_dir)
    if spec.hub is None:
        return local
    return (
        f"{local}; the hub dataset {spec.hub.label} is not in the Hugging Face cache "
        f"({paths.hf_datasets_cache()}) and the hub is not reachable offline"
    )

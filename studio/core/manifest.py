"""A run's manifest: what produced one session of work (a start, or a resume).

The job process collects it (train/manifest.py) once the data is loaded, hands it to its sink as
plain data (`Sink.manifest`), and the store keeps one per session (studio/store/run_meta.py).
`runs show`, the Runs tab's details, the HTML report and an export's model card read it back.
Pure Python: every layer can hold one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskData:
    """Where one task's training data came from, and the key that changes when it does."""

    source: str  # local | synthetic | hub
    fingerprint: str  # "sha1:<digest of the file>" or "hub:<dataset>:<datasets' fingerprint>"
    revision: str | None = None  # the hub branch, tag or commit the spec pins (None: default)


@dataclass(frozen=True)
class Manifest:
    """What produced one session of a run: the code, the libraries, the machine, the data, the
    seed and the resolved config. Fields a machine lacks (no checkout, no GPU) are None."""

    studio_version: str
    python: str
    libraries: Mapping[str, str]  # distribution -> version ("" when not installed)
    platform: str
    device: str  # where it trained, as the plan says it ("cuda:0 (bf16 precision)")
    seed: int
    config: Mapping[str, Any]  # the resolved config, every key
    data: Mapping[str, TaskData] = field(default_factory=dict)
    git_commit: str | None = None  # when run from a checkout
    git_dirty: bool | None = None  # whether its tracked files had changes
    device_name: str | None = None  # the GPU's name; None on a CPU
    cuda: str | None = None  # the CUDA torch was built with
    driver: str | None = None  # the NVIDIA driver
    cpu_features: tuple[str, ...] = ()  # the bf16 instructions `auto` precision looks for
    precision: str = ""  # the mixed precision it trained with
    created: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the store's row, `runs show --json`."""
        out = asdict(self)
        out["cpu_features"] = list(self.cpu_features)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Manifest:
        """A manifest read back; keys a later studio added are ignored, missing ones default."""
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in raw.items() if k in known}
        values["data"] = {
            task: TaskData(**{k: v for k, v in entry.items() if k in TaskData.__dataclass_fields__})
            for task, entry in (raw.get("data") or {}).items()
        }
        values["cpu_features"] = tuple(raw.get("cpu_features") or ())
        values["libraries"] = dict(raw.get("libraries") or {})
        values["config"] = dict(raw.get("config") or {})
        return cls(**values)

    def rows(self) -> list[tuple[str, str]]:
        """(what, value) lines for a table: the report, `runs show`, the Runs tab's details."""
        rows = [("Muppet Studio", self.studio_version)]
        if self.git_commit:
            dirty = " (with uncommitted changes)" if self.git_dirty else ""
            rows.append(("git commit", self.git_commit + dirty))
        rows.append(("Python", self.python))
        rows += [(name, version or "not installed") for name, version in self.libraries.items()]
        rows += [("platform", self.platform), ("device", self.device or "—")]
        if self.device_name:
            rows.append(("GPU", self.device_name))
        if self.cuda:
            rows.append(("CUDA", self.cuda))
        if self.driver:
            rows.append(("driver", self.driver))
        rows.append(("CPU bf16 features", ", ".join(self.cpu_features) or "none"))
        if self.precision:
            rows.append(("precision", self.precision))
        rows.append(("seed", str(self.seed)))
        for task, data in self.data.items():
            pin = f" @ {data.revision}" if data.revision else ""
            rows.append((f"data: {task}", f"{data.source} {data.fingerprint}{pin}"))
        return rows


def session_label(index: int, manifest: Manifest) -> str:
    """How a session's manifest is headed: "start" for the first, "resume N" after it."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(manifest.created))
    return f"{'start' if index == 0 else f'resume {index}'} ({when})"

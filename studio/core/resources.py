"""What a job process uses of the machine, as its `resources` event carries it.

The job process samples it (studio.jobs.resources); the window reads it back with
`ResourceSample.from_event` and shows it in the Monitor's resource strip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from studio.core.errors import StudioError


@dataclass(frozen=True)
class GpuSample:
    """One GPU: how busy it is (None: NVML cannot say) and its memory, in bytes."""

    index: int
    name: str
    utilization: float | None  # percent of the last sample period the GPU computed
    used: int  # on the whole device, every process's (total - free)
    total: int
    allocated: int  # by this process's tensors


@dataclass(frozen=True)
class ResourceSample:
    """The job's processes (it and its tokenizing workers) and the GPUs they can use."""

    cpu_percent: float  # of the whole machine: 100 is every core busy
    cores: int
    rss: int  # bytes resident, the job's process and its children
    memory_total: int  # bytes of memory the machine has
    gpus: tuple[GpuSample, ...] = ()

    def to_event(self) -> dict[str, Any]:
        """The fields of the `resources` event (JSON values)."""
        data = asdict(self)
        data["gpus"] = [asdict(g) for g in self.gpus]
        return data

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ResourceSample:
        """The sample a `resources` event carries; StudioError naming what is missing."""
        try:
            gpus = tuple(
                GpuSample(
                    int(g["index"]),
                    str(g["name"]),
                    None if g.get("utilization") is None else float(g["utilization"]),
                    int(g["used"]),
                    int(g["total"]),
                    int(g["allocated"]),
                )
                for g in event.get("gpus", ())
            )
            return cls(
                float(event["cpu_percent"]),
                int(event["cores"]),
                int(event["rss"]),
                int(event["memory_total"]),
                gpus,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StudioError(f"a resources event without a valid {exc}: {event!r}") from None

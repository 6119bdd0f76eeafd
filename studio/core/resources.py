"""What a job process uses of the machine, as its `resources` event carries it.

The job process samples it (studio.jobs.resources) and sends it in a `Resources` event
(studio.core.job_events); the window shows it in the Monitor's resource strip.
"""

from __future__ import annotations

from dataclasses import dataclass


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

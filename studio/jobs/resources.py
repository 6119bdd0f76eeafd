"""The job process's side of the Monitor's resource strip: a thread that samples CPU, memory
and GPUs every few seconds and emits each sample as a `resources` event."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psutil

from studio.core.job_events import JobEvent, Resources
from studio.core.resources import GpuSample, ResourceSample

log = logging.getLogger(__name__)

INTERVAL_S = 2.0


class Sampler:
    """Samples the job's process and its children (tokenizing workers) and the GPUs."""

    def __init__(self, pid: int | None = None) -> None:
        self.process = psutil.Process(pid)
        self.cores = psutil.cpu_count() or 1
        # cpu_percent compares with the previous call: one Process object per pid, kept.
        self._seen: dict[int, psutil.Process] = {}
        self.sample()  # the first reading of each process only starts its clock

    def sample(self) -> ResourceSample:
        cpu, rss = 0.0, 0
        alive: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.NoSuchProcess):
            family = [self.process, *self.process.children(recursive=True)]
            for proc in family:
                known = self._seen.get(proc.pid, proc)
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    cpu += known.cpu_percent(None)
                    rss += known.memory_info().rss
                    alive[proc.pid] = known
        self._seen = alive
        # Readings a few ms apart can add up past the whole machine: clock granularity.
        share = min(cpu / self.cores, 100.0)
        return ResourceSample(share, self.cores, rss, psutil.virtual_memory().total, gpus())


def gpus() -> tuple[GpuSample, ...]:
    """The CUDA devices the job has memory on (it never starts CUDA itself)."""
    torch = sys.modules.get("torch")  # imported by the job; importing it here takes seconds
    if torch is None or not torch.cuda.is_initialized():
        return ()
    found = []
    for index in range(torch.cuda.device_count()):
        # Only the devices the job uses: reading another's free memory would start a CUDA
        # context there (hundreds of MiB on a GPU someone else may be using).
        if not torch.cuda.memory_reserved(index):
            continue
        free, total = torch.cuda.mem_get_info(index)
        found.append(
            GpuSample(
                index,
                torch.cuda.get_device_name(index),
                _utilization(torch, index),
                int(total - free),
                int(total),
                int(torch.cuda.memory_allocated(index)),
            )
        )
    return tuple(found)


def _utilization(torch: Any, index: int) -> float | None:
    """How busy the GPU was, from NVML (pynvml) when it is installed; else None."""
    try:
        return float(torch.cuda.utilization(index))
    except Exception:  # noqa: BLE001 - no pynvml, no NVML driver library, an old driver
        return None


@contextlib.contextmanager
def sampling(
    trains: bool, emit: Callable[[JobEvent], None], interval: float = INTERVAL_S
) -> Iterator[threading.Event | None]:
    """Emit a `Resources` event every `interval` s while a job that `trains` runs (its
    request says so: `JobRequest.trains`).

    Yields the event that ends the sampling (None for jobs that are not sampled).
    """
    if not trains:
        yield None
        return
    done = threading.Event()
    thread = threading.Thread(
        target=_sample_until, args=(done, emit, interval), name="resources", daemon=True
    )
    thread.start()
    try:
        yield done
    finally:
        done.set()
        thread.join(interval + 5.0)


def _sample_until(done: threading.Event, emit: Callable[[JobEvent], None], interval: float) -> None:
    try:
        sampler = Sampler(os.getpid())
        while not done.wait(interval):
            emit(Resources(sampler.sample()))
    except Exception:  # noqa: BLE001 - the strip is a nicety: the job goes on without it
        log.exception("resource sampling stopped")

"""The resource strip's readings: sampled in the job process, carried by `resources` events."""

from __future__ import annotations

import threading

import pytest

from studio.core.errors import StudioError
from studio.core.job_events import JobEvent, Resources, event_line, read_event
from studio.core.resources import GpuSample, ResourceSample
from studio.jobs.resources import Sampler, gpus, sampling

GPU = GpuSample(0, "NVIDIA H200", 43.0, 12 * 2**30, 140 * 2**30, 10 * 2**30)


def test_a_sample_of_this_process_is_sane() -> None:
    sampler = Sampler()
    sum(i * i for i in range(200_000))  # some CPU time between the two readings
    sample = sampler.sample()
    assert sample.rss > 10 * 2**20  # a Python with pytest loaded holds tens of MiB
    assert sample.memory_total > sample.rss
    assert sample.cores >= 1
    assert 0 <= sample.cpu_percent <= 100 * 1.05  # a share of the whole machine
    assert sample.gpus == gpus() == ()  # no CUDA here (nor started by the sampler)


def test_the_event_carries_the_sample_both_ways() -> None:
    sample = ResourceSample(37.5, 8, 3 * 2**30, 16 * 2**30, (GPU,))
    assert read_event(event_line(Resources(sample))) == Resources(sample)
    no_nvml = ResourceSample(1.0, 2, 1, 2, (GpuSample(1, "T4", None, 1, 2, 0),))
    assert read_event(event_line(Resources(no_nvml))) == Resources(no_nvml)


def test_a_bad_event_names_what_is_missing() -> None:
    line = '{"event": "resources", "sample": {"cpu_percent": 1.0, "cores": 2}}'
    with pytest.raises(StudioError, match="missing field.*rss"):
        read_event(line)


def test_a_training_job_emits_samples_until_it_ends() -> None:
    events: list[JobEvent] = []
    arrived = threading.Event()

    def emit(event: JobEvent) -> None:
        events.append(event)
        arrived.set()

    with sampling(True, emit, interval=0.01) as done:
        assert done is not None
        assert arrived.wait(60), "no sample came"
    assert done.is_set()
    assert all(isinstance(e, Resources) for e in events)
    sample = read_event(event_line(events[0]))
    assert isinstance(sample, Resources)
    assert sample.sample.rss > 0 and sample.sample.cpu_percent >= 0


def test_short_jobs_are_not_sampled() -> None:
    with sampling(False, lambda event: pytest.fail("sampled")) as done:
        assert done is None

"""The resource strip's readings: sampled in the job process, carried by `resources` events."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from studio.core.errors import StudioError
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
    event = {"event": "resources", **sample.to_event()}
    assert ResourceSample.from_event(event) == sample
    no_nvml = ResourceSample(1.0, 2, 1, 2, (GpuSample(1, "T4", None, 1, 2, 0),))
    assert ResourceSample.from_event(no_nvml.to_event()) == no_nvml


def test_a_bad_event_names_what_is_missing() -> None:
    with pytest.raises(StudioError, match="rss"):
        ResourceSample.from_event({"event": "resources", "cpu_percent": 1.0, "cores": 2})


def test_a_training_job_emits_samples_until_it_ends() -> None:
    events: list[dict[str, Any]] = []
    arrived = threading.Event()

    def emit(event: str, **fields: Any) -> None:
        events.append({"event": event, **fields})
        arrived.set()

    with sampling("train", emit, interval=0.01) as done:
        assert done is not None
        assert arrived.wait(60), "no sample came"
    assert done.is_set()
    assert {e["event"] for e in events} == {"resources"}
    sample = ResourceSample.from_event(events[0])
    assert sample.rss > 0 and sample.cpu_percent >= 0


def test_short_jobs_are_not_sampled() -> None:
    with sampling("preview", lambda *a, **k: pytest.fail("sampled")) as done:
        assert done is None

"""What a job tells the process that started it, one event per line while it works.

`Created`, `Progress`, `Partial` and `Resources` while it works; last `Finished` (its result,
of the request's `Result` type) or `Failed` (a readable message). The JSON names are the
protocol's (`created` ... `result`, `error`); `studio.core.wire` writes and reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from studio.core.errors import StudioError
from studio.core.jobs import JobResult
from studio.core.resources import ResourceSample
from studio.core.wire import Tagged, from_json, registry, to_json


class JobEvent(Tagged):
    TAG_KEY = "event"
    NOUN = "job event"

    @classmethod
    def variants(cls) -> Mapping[str, type[Tagged]]:
        return EVENTS


@dataclass(frozen=True)
class Created(JobEvent):
    """The job created a run (the window's Monitor opens it)."""

    tag = "created"
    run_id: str


@dataclass(frozen=True)
class Progress(JobEvent):
    tag = "progress"
    fraction: float
    message: str


@dataclass(frozen=True)
class Partial(JobEvent):
    """A first part of the answer (a preview's summary before its batch)."""

    tag = "partial"
    value: JobResult


@dataclass(frozen=True)
class Resources(JobEvent):
    """What the job's process uses of the machine, every few seconds while it trains."""

    tag = "resources"
    sample: ResourceSample


@dataclass(frozen=True)
class Finished(JobEvent):
    tag = "result"
    value: JobResult


@dataclass(frozen=True)
class Failed(JobEvent):
    """The job's error: a user's mistake as it is, anything else with its traceback."""

    tag = "error"
    message: str


EVENTS: dict[str, type[JobEvent]] = registry(
    Created, Progress, Partial, Resources, Finished, Failed
)


def event_line(event: JobEvent) -> str:
    """The event as one JSON line."""
    return json.dumps(to_json(event))


def read_event(line: str) -> JobEvent:
    """The event a line describes; StudioError when it is none."""
    try:
        data = json.loads(line)
    except ValueError:
        raise StudioError(f"not a job event: {line.rstrip()[:80]!r}") from None
    return from_json(JobEvent, data, "a job event")

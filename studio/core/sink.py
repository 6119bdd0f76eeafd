"""The reporting protocol between the training loop and whatever records or shows it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from studio.core import metric_catalogue
from studio.core.manifest import Manifest
from studio.core.mixing.plan import RunPlan
from studio.core.text import duration

# Metrics that time the machine, not the model (declared in core.metric_catalogue).
WALL_CLOCK = metric_catalogue.WALL_CLOCK


@dataclass(frozen=True)
class MetricRow:
    """One value of one metric at one step; `task` is None for run-wide values."""

    step: int
    name: str
    value: float
    task: str | None = None
    wall_time: float = field(default_factory=time.time)


class Sink(Protocol):
    """Where a run reports. Implementations must be cheap: the loop calls them in line."""

    def metrics(self, rows: list[MetricRow]) -> None: ...

    def log(self, level: str, message: str) -> None: ...

    def progress(self, step: int, total: int) -> None: ...

    def stage(self, text: str, fraction: float | None) -> None:
        """What the run prepares and how far (None: not known); "" when it starts training."""
        ...

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None: ...

    def drop_checkpoint(self, step: int) -> None: ...

    def plan(self, plan: RunPlan) -> None:
        """What the run decided before its first update (each task's examples, share and loss
        scale; the device), once set up: facts a report reads as data, not from the log.
        A sink that does not keep them need not implement it (NullSink ignores it)."""
        return None

    def manifest(self, manifest: Manifest) -> None:
        """What produced this session of the run (core.manifest), once its data is loaded;
        a sink that does not keep it need not implement it."""
        return None

    def flush(self) -> object:
        """Write what is buffered; the loop ignores whether it could (StoreSink says so)."""
        ...


class NullSink:
    """Discards everything."""

    def metrics(self, rows: list[MetricRow]) -> None:
        pass

    def log(self, level: str, message: str) -> None:
        pass

    def progress(self, step: int, total: int) -> None:
        pass

    def stage(self, text: str, fraction: float | None) -> None:
        pass

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        pass

    def drop_checkpoint(self, step: int) -> None:
        pass

    def plan(self, plan: RunPlan) -> None:
        pass

    def manifest(self, manifest: Manifest) -> None:
        pass

    def flush(self) -> None:
        pass


class MemorySink(NullSink):
    """Keeps every report in lists; for tests and scripts."""

    def __init__(self) -> None:
        self.rows: list[MetricRow] = []
        self.logs: list[tuple[str, str]] = []
        self.steps: list[int] = []
        self.stages: list[tuple[str, float | None]] = []
        self.checkpoints: list[tuple[int, str, dict[str, float]]] = []
        self.plans: list[RunPlan] = []
        self.manifests: list[Manifest] = []

    def metrics(self, rows: list[MetricRow]) -> None:
        self.rows.extend(rows)

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def progress(self, step: int, total: int) -> None:
        self.steps.append(step)

    def stage(self, text: str, fraction: float | None) -> None:
        self.stages.append((text, fraction))

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        self.checkpoints.append((step, path, dict(metrics)))

    def drop_checkpoint(self, step: int) -> None:
        self.checkpoints = [c for c in self.checkpoints if c[0] != step]

    def plan(self, plan: RunPlan) -> None:
        self.plans.append(plan)

    def manifest(self, manifest: Manifest) -> None:
        self.manifests.append(manifest)

    def values(self, name: str, task: str | None = None) -> list[float]:
        return [r.value for r in self.rows if r.name == name and r.task == task]


class TeeSink:
    """Sends every report to several sinks, in order."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def metrics(self, rows: list[MetricRow]) -> None:
        for s in self.sinks:
            s.metrics(rows)

    def log(self, level: str, message: str) -> None:
        for s in self.sinks:
            s.log(level, message)

    def progress(self, step: int, total: int) -> None:
        for s in self.sinks:
            s.progress(step, total)

    def stage(self, text: str, fraction: float | None) -> None:
        for s in self.sinks:
            s.stage(text, fraction)

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        for s in self.sinks:
            s.checkpoint(step, path, metrics)

    def drop_checkpoint(self, step: int) -> None:
        for s in self.sinks:
            s.drop_checkpoint(step)

    def plan(self, plan: RunPlan) -> None:
        for s in self.sinks:
            s.plan(plan)

    def manifest(self, manifest: Manifest) -> None:
        for s in self.sinks:
            s.manifest(manifest)

    def flush(self) -> None:
        for s in self.sinks:
            s.flush()


class Stages:
    """Tells a sink what a run prepares — which stage, how far, how fast, how long still —
    at most every `interval` seconds, but always a stage's first and last report."""

    def __init__(self, sink: Sink, interval: float = 0.5) -> None:
        self.sink = sink
        self.interval = interval
        self._name = ""
        self._started = self._last = 0.0

    def begin(self, name: str) -> None:
        """A stage whose length is not known (e.g. loading the model)."""
        self._name, self._started, self._last = name, time.monotonic(), 0.0
        self.sink.stage(name, None)

    def advance(self, name: str, done: int, total: int, unit: str = "examples") -> None:
        """`done` of `total` units of stage `name` (a new name begins a new stage); no
        `unit`: no rate is shown."""
        now = time.monotonic()
        if name != self._name:
            self._name, self._started, self._last = name, now, 0.0
        elif now - self._last < self.interval and 0 < done < total:
            return
        self._last = now
        fraction = done / total if total else 1.0
        text = f"{name}: {fraction:.0%}"
        seconds = now - self._started
        if done and seconds > 1.0 and done < total:
            rate = done / seconds
            text += f", {rate:,.0f} {unit}/s" if unit else ""
            text += f", about {duration((total - done) / rate)} left"
        self.sink.stage(text, fraction)

    def end(self) -> None:
        """Preparation is over: training starts."""
        self._name = ""
        self.sink.stage("", None)

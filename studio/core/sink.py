"""The reporting protocol between the training loop and whatever records or shows it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


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

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None: ...

    def drop_checkpoint(self, step: int) -> None: ...

    def flush(self) -> None: ...


class NullSink:
    """Discards everything."""

    def metrics(self, rows: list[MetricRow]) -> None:
        pass

    def log(self, level: str, message: str) -> None:
        pass

    def progress(self, step: int, total: int) -> None:
        pass

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        pass

    def drop_checkpoint(self, step: int) -> None:
        pass

    def flush(self) -> None:
        pass


class MemorySink(NullSink):
    """Keeps every report in lists; for tests and scripts."""

    def __init__(self) -> None:
        self.rows: list[MetricRow] = []
        self.logs: list[tuple[str, str]] = []
        self.steps: list[int] = []
        self.checkpoints: list[tuple[int, str, dict[str, float]]] = []

    def metrics(self, rows: list[MetricRow]) -> None:
        self.rows.extend(rows)

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def progress(self, step: int, total: int) -> None:
        self.steps.append(step)

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        self.checkpoints.append((step, path, dict(metrics)))

    def drop_checkpoint(self, step: int) -> None:
        self.checkpoints = [c for c in self.checkpoints if c[0] != step]

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

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        for s in self.sinks:
            s.checkpoint(step, path, metrics)

    def drop_checkpoint(self, step: int) -> None:
        for s in self.sinks:
            s.drop_checkpoint(step)

    def flush(self) -> None:
        for s in self.sinks:
            s.flush()

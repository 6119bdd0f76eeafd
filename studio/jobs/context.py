"""What a use case works with besides its request, built once per command or job.

The command line builds it from its options (its progress bar as the sink, Ctrl-C as the stop
flag); a job process builds it from the job's `Place` (its events as the emitter, `stop` on
stdin as the stop flag). The use cases in `studio.jobs.operations` never know which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.errors import StudioError
from studio.core.job_events import Created, JobEvent, Partial, Progress
from studio.core.jobs import JobResult, Place
from studio.core.sink import Sink
from studio.core.tasks.spec import TaskSpec, load_task


def _drop(event: JobEvent) -> None:
    """No one listens (a command that reports through its sink and its log)."""


@dataclass
class Context:
    """The catalog, data folder and store a job works on, its stop flag, and where it reports:
    `emit` takes its events, `sink` (when given) sees a training run's metrics too."""

    catalog: Mapping[str, TaskSpec] = field(default_factory=dict)
    data_dir: Path | None = None
    store_path: Path | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    emit: Callable[[JobEvent], None] = _drop
    sink: Sink | None = None
    kind: str = "this"  # the job's kind, for messages

    @classmethod
    def at(
        cls, place: Place, kind: str, stop: threading.Event, emit: Callable[[JobEvent], None]
    ) -> Context:
        """The context of a job process: the catalog read again from the place's task files."""
        tasks = [load_task(Path(path), origin) for path, origin in place.task_files]
        return cls(
            {t.name: t for t in tasks},
            Path(place.data_dir) if place.data_dir else None,
            Path(place.store) if place.store else None,
            stop,
            emit,
            kind=kind,
        )

    def store(self) -> Path:
        """The run store; a job that records runs cannot go without one."""
        if self.store_path is None:
            raise StudioError(f"the {self.kind} job needs a run store")
        return self.store_path

    def progress(self, fraction: float, message: str) -> None:
        self.emit(Progress(fraction, message))

    def created(self, run_id: str) -> None:
        self.emit(Created(run_id))

    def partial(self, value: JobResult) -> None:
        self.emit(Partial(value))

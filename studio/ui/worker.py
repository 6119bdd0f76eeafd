"""A background job for the window: a child process (studio.jobs) watched from a QThread.

Following Orange's TaskState, the worker never touches widgets: it reports through signals,
which Qt queues to the GUI thread, and every error arrives in one place (`failed`). The work
itself runs in a child process, so the window never imports torch and no library call can
hold its interpreter lock; the worker's thread only reads the child's events.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot

from studio.core.errors import StudioError

if TYPE_CHECKING:
    from studio.core.job_events import JobEvent
    from studio.core.jobs import Job

log = logging.getLogger(__name__)


class Worker(QObject):
    """Runs one child job from the thread it is moved to, and turns its events into signals."""

    progress = Signal(float, str)
    created = Signal(str)  # a run id, as soon as the job created its run
    partial = Signal(object)  # a first part of the result (a JobResult: a preview's summary)
    finished = Signal(object)  # the job's result: a JobResult of its request's `Result` type
    failed = Signal(str)  # a readable message (with the traceback for unexpected errors)
    resources = Signal(object)  # a ResourceSample: what the job's process uses of the machine

    def __init__(self, job: Job) -> None:
        # The job protocol and the child's client load with the first job, not before the
        # window shows (studio.ui.state.StudioState.job).
        from studio.jobs.client import ChildJob

        super().__init__()  # no parent: it is moved to its thread
        self.kind = job.kind
        self.job = ChildJob(job)

    @Slot()
    def run(self) -> None:
        try:
            result = self.job.run(self._relay)
        except StudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - the window must survive any job
            log.exception("background job failed")
            self.failed.emit(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        else:
            self.finished.emit(result)

    def stop(self) -> None:
        """Ask the job to save and end; safe from any thread, never blocks."""
        self.job.stop()

    def kill(self) -> None:
        """End the job's process now, without saving."""
        self.job.kill()

    def _relay(self, event: JobEvent) -> None:
        from studio.core.job_events import Created, Partial, Progress, Resources

        if isinstance(event, Created):
            self.created.emit(event.run_id)
        elif isinstance(event, Progress):
            self.progress.emit(event.fraction, event.message)
        elif isinstance(event, Partial):
            self.partial.emit(event.value)
        elif isinstance(event, Resources):
            self.resources.emit(event.sample)

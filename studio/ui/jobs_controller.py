"""The window's jobs: one thread per worker, the one-training-at-a-time rule, a bounded shutdown.

The window asks for jobs by slot (training, transfer, export) and hears back through the
slots' signals, with typed results (studio.core.jobs); short jobs (previews, imports, probes)
go through `start` alone.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from studio.ui.worker import Worker

if TYPE_CHECKING:
    from studio.core.jobs import Job, JobRequest

log = logging.getLogger(__name__)

BUSY = (
    "Stop the running pre-finetuning, transfer experiment, ablation or study first; one training"
    " job runs at a time."
)
SHUTDOWN_S = 60.0  # how long closing waits for runs to save before it ends their processes


class JobSlot(QObject):
    """At most one job of a kind; `ended` says how it ended, once, on the GUI thread."""

    created = Signal(str)
    progress = Signal(float, str)
    ended = Signal(object, str)  # (a JobResult or None, error or ""); `request` says what ran
    resources = Signal(object)  # a ResourceSample, every few seconds while a training job runs

    def __init__(self, controller: JobsController) -> None:
        super().__init__(controller)
        self.controller = controller
        self.worker: Worker | None = None
        # The running or last job's request: its type tells a queue from a run, and a
        # resume names its run (kept after the end, for whoever handles `ended`).
        self.request: JobRequest | None = None
        self.run_id: str | None = None  # the run the job created, once it has

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, job: Job) -> None:
        worker = Worker(job)
        # Bound methods of this GUI-thread object (or its signals): Qt queues the calls here.
        # (A lambda would run in the worker's thread.)
        worker.created.connect(self._created)
        worker.progress.connect(self.progress)
        worker.resources.connect(self.resources)
        worker.finished.connect(self._finished)
        worker.failed.connect(self._failed)
        self.worker, self.request, self.run_id = worker, job.request, None
        self.controller.start(worker)
        self.controller.changed.emit()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def _created(self, run_id: str) -> None:
        self.run_id = run_id
        self.created.emit(run_id)

    def _finished(self, result: object) -> None:
        self.worker = None
        self.controller.changed.emit()
        self.ended.emit(result, "")

    def _failed(self, error: str) -> None:
        self.worker = None
        self.controller.changed.emit()
        self.ended.emit(None, error)


class JobsController(QObject):
    """Every job the window started, and the rules between them.

    `changed` fires when a slot's job starts or ends (what the window offers follows it);
    `refused` (title, text) when a job was asked for that the rules do not allow now.
    """

    changed = Signal()
    refused = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threads: dict[QThread, Worker] = {}
        self.closed = False
        self.training = JobSlot(self)  # pre-finetuning: start or resume
        self.transfer = JobSlot(self)
        self.ablation = JobSlot(self)  # an ablation's variants, then its transfers
        self.tune = JobSlot(self)  # a tuning study's trials
        self.export = JobSlot(self)

    @property
    def busy(self) -> bool:
        """One training job at a time: two would compete for the same cores (or GPU) and each
        would run at less than half speed."""
        slots = (self.training, self.transfer, self.ablation, self.tune)
        return any(slot.running for slot in slots)

    def refuse_when_busy(self) -> bool:
        """Whether a training job runs; then `refused` says why nothing starts."""
        if self.busy:
            self.refused.emit("A job is running", BUSY)
        return self.busy

    def start(self, worker: Worker) -> None:
        """Move `worker` to a new thread and start it; the thread is deleted when it ends.

        The thread is in `threads` while it runs: added before it starts and removed when it
        has finished, so even a job that ends at once leaves no entry behind. After `shutdown`
        nothing starts (a timer set before the window closed may still fire).
        """
        if self.closed:
            log.info("not starting a %s job: the window has closed", worker.kind)
            return
        thread = QThread()
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        worker.failed.connect(thread.quit)
        thread.finished.connect(self._thread_ended)
        # The worker itself is owned by Python (its slot keeps it until its result arrives);
        # deleting it from the finishing thread would free a Python object off the GUI thread.
        thread.finished.connect(thread.deleteLater)
        self.threads[thread] = worker
        thread.start()

    def _thread_ended(self) -> None:
        self.threads.pop(cast(QThread, self.sender()), None)

    def shutdown(self, timeout: float = SHUTDOWN_S) -> None:
        """Ask every job to save and stop, wait up to `timeout` s, then end what is left."""
        self.closed = True
        for worker in self.threads.values():
            worker.stop()
        deadline = time.monotonic() + timeout
        while self.threads:
            thread, worker = next(iter(self.threads.items()))
            # Keep delivering events while waiting: the worker's "finished" reaches the
            # thread's quit() through this (GUI) thread's event queue.
            with contextlib.suppress(RuntimeError):  # already finished and deleted by Qt
                while not thread.wait(50):
                    QCoreApplication.processEvents()
                    if time.monotonic() > deadline:
                        worker.kill()
            self.threads.pop(thread, None)

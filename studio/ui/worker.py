"""Background jobs for the window: a QObject moved to a QThread that only reports.

Following Orange's TaskState: the job never touches widgets; it reports through signals
(queued to the GUI thread) and errors arrive in one place. The heavy jobs run in a child
process that this thread supervises (studio.jobs), so the window never imports torch and no
library call can hold its interpreter lock.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

log = logging.getLogger(__name__)

# job(worker) -> result. The job runs in the worker's thread and may only use worker.stop
# and emit worker.progress / worker.created.
Job = Callable[["Worker"], Any]


class Worker(QObject):
    """Runs one job in its own thread; `stop` asks it to finish early (never blocks)."""

    progress = Signal(float, str)
    created = Signal(str)  # a run id, as soon as the job created its run
    partial = Signal(object)  # a first part of the result (e.g. a preview's summary)
    finished = Signal(object)  # the job's result
    failed = Signal(str)  # a readable message (with the traceback for unexpected errors)

    def __init__(self, job: Job) -> None:
        super().__init__()  # no parent: it is moved to its thread
        self.job = job
        self.stop = threading.Event()

    @Slot()
    def run(self) -> None:
        from studio.core.errors import StudioError

        try:
            result = self.job(self)
        except StudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - the window must survive any job
            log.exception("background job failed")
            self.failed.emit(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        else:
            self.finished.emit(result)


def start(worker: Worker, threads: dict[QThread, Worker]) -> QThread:
    """Move `worker` to a new thread and start it; the thread is deleted when the job ends.

    The thread is in `threads` while it runs: added before it starts and removed when it
    has finished, so even a job that ends at once leaves no entry behind.
    """
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.failed.connect(thread.quit)
    thread.finished.connect(lambda: threads.pop(thread, None))
    # The worker itself is owned by Python (the window keeps it until its result arrives);
    # deleting it from the finishing thread would free a Python object off the GUI thread.
    thread.finished.connect(thread.deleteLater)
    threads[thread] = worker
    thread.start()
    return thread


def _in_child(spec_of: Callable[[], dict]) -> Job:
    """A job that runs in a child process (see studio.jobs) and relays its events."""

    def job(worker: Worker) -> Any:
        from studio import jobs

        def relay(event: dict) -> None:
            if event["event"] == "created":
                worker.created.emit(event["run_id"])
            elif event["event"] == "progress":
                worker.progress.emit(float(event["fraction"]), str(event["message"]))
            elif event["event"] == "partial":
                worker.partial.emit(event["value"])

        return jobs.run(spec_of(), worker.stop, relay)

    return job


def train_job(
    config: Any,
    catalog: dict,
    data_dir: Any,
    store_path: Any,
    resume_id: str | None = None,
    allow_data_change: bool = False,
) -> Job:
    """A job that trains a new run (or resumes `resume_id`) and records it in the store."""

    def spec() -> dict:
        from studio.jobs import job

        if resume_id is not None:
            return job(
                "resume", catalog, data_dir, store_path, run_id=resume_id,
                allow_data_change=allow_data_change,
            )  # fmt: skip
        return job("train", catalog, data_dir, store_path, config=config.to_dict())

    return _in_child(spec)


def export_job(store_path: Any, run_id: str, which: str, out_dir: Any) -> Job:
    """A job that exports a checkpoint of a run and returns the folder."""

    def spec() -> dict:
        from studio.jobs import job

        return job("export", {}, None, store_path, run_id=run_id, which=which, out_dir=str(out_dir))

    return _in_child(spec)


def transfer_job(config: Any, catalog: dict, data_dir: Any, store_path: Any) -> Job:
    """A job that runs a transfer experiment; emits `created` with the transfer run's id."""

    def spec() -> dict:
        from studio.jobs import job

        return job("transfer", catalog, data_dir, store_path, config=config.to_dict())

    return _in_child(spec)


def child_job(kind: str, catalog: dict, data_dir: Any, **fields: Any) -> Job:
    """A job of `kind` in the child process that needs no run store (inspect, stage, preview)."""

    def spec() -> dict:
        from studio.core import paths
        from studio.jobs import job

        return job(kind, catalog, data_dir, paths.store_path(), **fields)

    return _in_child(spec)

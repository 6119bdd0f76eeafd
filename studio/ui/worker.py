"""Background jobs for the window: a QObject moved to a QThread that only reports.

Following Orange's TaskState: the job never touches widgets; it reports through signals
(queued to the GUI thread), errors arrive in one place, and the training code is imported
lazily inside the thread so the window opens without torch.
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


def start(worker: Worker) -> QThread:
    """Move `worker` to a new thread and start it; the thread is deleted when the job ends."""
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    worker.failed.connect(thread.quit)
    # The worker itself is owned by Python (the window keeps it until its result arrives);
    # deleting it from the finishing thread would free a Python object off the GUI thread.
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread


def warm_up_job() -> Job:
    """A job that imports the training stack while the window idles."""

    def job(worker: Worker) -> None:
        from studio.session import warm_up

        warm_up()

    return job


def train_job(
    config: Any, catalog: dict, data_dir: Any, store_path: Any, resume_id: str | None = None
) -> Job:
    """A job that trains a new run (or resumes `resume_id`) and records it in the store."""

    def job(worker: Worker) -> Any:
        from studio import session

        if resume_id is not None:
            return session.resume(
                resume_id,
                catalog,
                data_dir,
                store_path,
                worker.stop,
                on_created=worker.created.emit,
            )
        return session.execute(
            config, catalog, data_dir, store_path, worker.stop, on_created=worker.created.emit
        )

    return job


def export_job(store_path: Any, run_id: str, which: str, out_dir: Any) -> Job:
    """A job that exports a checkpoint of a run and returns the folder."""

    def job(worker: Worker) -> Any:
        from studio.session import export_run

        return export_run(store_path, run_id, which, out_dir, worker.progress.emit)

    return job


def transfer_job(config: Any, catalog: dict, data_dir: Any, store_path: Any) -> Job:
    """A job that runs a transfer experiment; emits `created` with the transfer run's id."""

    def job(worker: Worker) -> Any:
        from studio.experiments import transfer

        return transfer(
            config,
            catalog,
            data_dir,
            store_path,
            worker.stop,
            worker.progress.emit,
            worker.created.emit,
        )

    return job

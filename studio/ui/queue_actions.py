"""The window's run queue: Add to queue, Run queue, and going on with the queue when the window
opens. Queued runs are rows in the store, so the queue outlives the window; they train one after
another in the window's job process (a `queue` job), the Monitor following each as it starts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.core.errors import StudioError
from studio.core.jobs import Job, JobResult, QueueRequest, QueueResult
from studio.jobs.client import job_place

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class QueueActions(QObject):
    """Adds the current configuration to the queue and runs the queue in the training slot."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        window.jobs.training.ended.connect(self._ended)

    @property
    def running(self) -> bool:
        slot = self.window.jobs.training
        return slot.running and isinstance(slot.request, QueueRequest)

    def add_to_queue(self) -> str | None:
        """Queue the form's config and the checked tasks; return the queued run's id."""
        w = self.window
        try:
            config = w.current_config()
        except StudioError as exc:
            w.show_error("The configuration is not valid", str(exc))
            return None
        # session.run_name's rule (the window does not import session).
        name = config.name or f"{len(config.tasks)} tasks, {config.mixing}, {config.loss_scaling}"
        data_dir = str(w.data_dir) if w.data_dir is not None else None
        try:
            run_id = w.state.store.read(lambda s: s.enqueue(config, name, data_dir=data_dir))
            waiting = len(w.state.store.read(lambda s: s.queued_runs()))
        except StudioError as exc:
            w.show_error("The run could not be queued", str(exc))
            return None
        w.settings.setValue("config_yaml", config.to_yaml())
        w.runs.refresh()
        more = "" if self.running else " (Run queue starts it)"
        w.status.setText(f"Queued {run_id}: {waiting} run(s) waiting{more}")
        return run_id

    def run_queue(self) -> None:
        """Train the queued runs one after another, unless a training job runs."""
        w = self.window
        if w.run_actions.refuse_when_busy():
            return
        waiting = len(w.state.store.read(lambda s: s.queued_runs()))
        if not waiting:
            w.status.setText("The queue is empty: Add to queue first")
            return
        self._start(waiting)

    def continue_queue(self) -> bool:
        """When the window opens: go on with queued runs unless something trains already
        (this window, or another process on the store: a `queue run` worker); return whether
        the queue started."""
        w = self.window
        if w.jobs.busy:
            return False
        try:
            store = w.state.store.store
            store.mark_interrupted()  # a run whose process died does not block the queue
            waiting = len(store.queued_runs())
            training = any(r["status"] == "running" for r in store.list_runs("pretrain"))
        except StudioError as exc:
            log.warning("cannot read the queue: %s", exc)
            return False
        if not waiting or training:
            return False
        self._start(waiting)
        return True

    def _start(self, waiting: int) -> None:
        w = self.window
        place = job_place(w.catalog, w.data_dir, w.store_path)
        w.jobs.training.start(Job(QueueRequest(), place))
        w.run_actions._started(f"Running the queue: {waiting} run(s)…")

    def _ended(self, result: JobResult | None, error: str) -> None:
        w = self.window
        if not isinstance(w.jobs.training.request, QueueRequest):
            return  # a run started with Start or Resume: RunActions shows it
        w._update_actions()
        w.runs.refresh()
        w.monitor.poll()
        if error:
            w.status.setText("The queue stopped: its job failed")
            w.show_error("The queue failed", error)
            return
        outcomes = result.outcomes if isinstance(result, QueueResult) else ()
        failed = [o.run_id for o in outcomes if o.status == "failed"]
        left = len(w.state.store.read(lambda s: s.queued_runs()))
        text = f"Queue: {len(outcomes)} run(s) trained, {left} still queued"
        w.status.setText(text + (f"; failed: {', '.join(failed)}" if failed else ""))

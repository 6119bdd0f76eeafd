"""The window's run queue: Add to queue, Run queue, and going on with the queue when the window
opens. Queued runs are rows in the store, so the queue outlives the window; they train one after
another in the window's job process (a `queue` job), the Monitor following each as it starts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from studio.core.config.naming import run_name
from studio.core.errors import StudioError
from studio.ui.draft import Draft
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState

if TYPE_CHECKING:
    from studio.core.jobs import JobResult

log = logging.getLogger(__name__)


class QueueActions(QObject):
    """Adds the current configuration to the queue and runs the queue in the training slot."""

    def __init__(
        self, state: StudioState, jobs: JobsController, draft: Draft, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.draft = state, jobs, draft
        jobs.training.ended.connect(self._ended)

    @property
    def running(self) -> bool:
        slot = self.jobs.training
        if not slot.running:
            return False
        from studio.core.jobs import QueueRequest

        return isinstance(slot.request, QueueRequest)

    def _waiting(self) -> int:
        return len(self.state.store.read(lambda s: s.queued_runs()))

    def add_to_queue(self) -> str | None:
        """Queue the form's config and the checked tasks; return the queued run's id."""
        state = self.state
        try:
            config = self.draft.config()
        except StudioError as exc:
            state.problem.emit("The configuration is not valid", str(exc))
            return None
        name = run_name(config)
        data_dir = str(state.data_dir) if state.data_dir is not None else None
        try:
            run_id = state.store.read(lambda s: s.enqueue(config, name, data_dir=data_dir))
            waiting = self._waiting()
        except StudioError as exc:
            state.problem.emit("The run could not be queued", str(exc))
            return None
        self.draft.remember(config)
        state.store.poll()
        more = "" if self.running else " (Run queue starts it)"
        state.message.emit(f"Queued {run_id}: {waiting} run(s) waiting{more}")
        return run_id

    def queue_changed(self) -> None:
        """A run was moved or removed: the status bar's count follows (not the last Queue's)."""
        self.state.message.emit(f"Queue: {self._waiting()} run(s) waiting")

    def run_queue(self) -> None:
        """Train the queued runs one after another, unless a training job runs."""
        if self.jobs.refuse_when_busy():
            return
        waiting = self._waiting()
        if not waiting:
            self.state.message.emit("The queue is empty: Add to queue first")
            return
        self._start(waiting)

    def continue_queue(self) -> bool:
        """When the window opens: go on with queued runs unless something trains already
        (this window, or another process on the store: a `queue run` worker); return whether
        the queue started."""
        if self.jobs.busy or not self.state.store.path.exists():  # no store yet, no queue
            return False
        try:
            store = self.state.store.store
            store.mark_interrupted()  # a run whose process died does not block the queue
            waiting = len(store.queued_runs())
            training = any(r.status == "running" for r in store.list_runs("pretrain"))
        except StudioError as exc:
            log.warning("cannot read the queue: %s", exc)
            return False
        if not waiting or training:
            return False
        self._start(waiting)
        return True

    def _start(self, waiting: int) -> None:
        from studio.core.jobs import QueueRequest

        state = self.state
        self.jobs.training.start(state.job(QueueRequest()))
        state.message.emit(f"Running the queue: {waiting} run(s)…")

    def _ended(self, result: JobResult | None, error: str) -> None:
        from studio.core.jobs import QueueRequest, QueueResult

        if not isinstance(self.jobs.training.request, QueueRequest):
            return  # a run started with Start or Resume: RunActions shows it
        self.state.store.poll()
        if error:
            self.state.message.emit("The queue stopped: its job failed")
            self.state.problem.emit("The queue failed", error)
            return
        outcomes = result.outcomes if isinstance(result, QueueResult) else ()
        failed = [o.run_id for o in outcomes if o.status == "failed"]
        text = f"Queue: {len(outcomes)} run(s) trained, {self._waiting()} still queued"
        self.state.message.emit(text + (f"; failed: {', '.join(failed)}" if failed else ""))

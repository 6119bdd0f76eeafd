"""What a transfer, an ablation and a tuning study do alike with their job slot
(transfer/actions.py, ablation/actions.py, ablation/tune_actions.py): start under the
one-training-at-a-time rule, show the run the job created,
feed the section its progress, and at the end set it idle, read the store again and tell a
failure; what a finished job says is each caller's own (`done`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject

from studio.core.errors import StudioError
from studio.ui.jobs_controller import JobsController, JobSlot
from studio.ui.state import StudioState
from studio.ui.style import RED

if TYPE_CHECKING:
    from studio.core.jobs import JobRequest


class ExperimentSection(Protocol):
    """The calls a view takes from its experiment's job (TransferView, AblationView, TuneView)."""

    def set_running(self, running: bool) -> None: ...
    def set_progress(self, fraction: float, message: str) -> None: ...
    def refresh(self) -> None: ...
    def note(self, text: str, colour: str | None = None) -> None: ...


class ExperimentJob(QObject):
    """One section's side of its job slot; `what` names the job in a failure ("the study")."""

    def __init__(
        self,
        state: StudioState,
        jobs: JobsController,
        slot: JobSlot,
        view: ExperimentSection,
        what: str,
        show: Callable[[str], None],  # shows the experiment of this run id
        done: Callable[[object], None],  # what the result of a job that did not fail says
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.slot, self.view, self.what = state, jobs, slot, view, what
        self.show, self.done = show, done
        slot.created.connect(self._created)
        slot.progress.connect(view.set_progress)
        slot.ended.connect(self._ended)

    def start(self, request: JobRequest, what: str, started: str) -> None:
        """Start `request` unless a training runs; `what` names it if it cannot start, and
        `started` is the status line when it does."""
        if self.jobs.refuse_when_busy():
            return
        state = self.state
        try:
            job = state.job(request)
        except StudioError as exc:
            state.problem.emit(f"The {what} cannot start", str(exc))
            return
        self.slot.start(job)
        self.view.set_running(True)
        state.message.emit(started)

    def _created(self, run_id: str) -> None:
        self.view.refresh()
        self.show(run_id)

    def _ended(self, result: object, error: str) -> None:
        self.view.set_running(False)
        self.state.store.poll()
        self.view.refresh()
        if error:
            self.view.note(f"The {self.what} failed: {error.splitlines()[0]}", RED)
            self.state.problem.emit(f"The {self.what} failed", error)
            return
        self.done(result)

"""The window's side of a tuning study: start it from the Tuning section under the
one-training-at-a-time rule, feed the section its progress, and say how it ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from studio.core.errors import StudioError
from studio.core.jobs import Job, TuneRequest, TuneResult
from studio.jobs.client import job_place
from studio.ui.ablation.tune_view import TuneView
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState
from studio.ui.style import RED


class TuneActions(QObject):
    """Connects the Tuning section to the `tune` job slot."""

    def __init__(
        self, state: StudioState, jobs: JobsController, view: TuneView, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.view = state, jobs, view
        slot = jobs.tune
        view.startRequested.connect(self.start)
        view.stopRequested.connect(slot.stop)
        view.openRuns.connect(state.runsOpened)
        slot.created.connect(self._created)
        slot.progress.connect(view.set_progress)
        slot.ended.connect(self._ended)

    def start(self, where: str, config: dict[str, Any], name: str) -> None:
        if self.jobs.refuse_when_busy():
            return
        state = self.state
        try:
            place = job_place(state.catalog, state.data_dir, state.store_path)
        except StudioError as exc:
            state.problem.emit("The study cannot start", str(exc))
            return
        folder = str(Path(where).parent)
        self.jobs.tune.start(Job(TuneRequest(config, where, folder, name), place))
        self.view.set_running(True)
        state.message.emit(f"Tuning study started: {where}")

    def _created(self, study_id: str) -> None:
        self.view.refresh()
        self.view.show_study(study_id)

    def _ended(self, result: object, error: str) -> None:
        self.view.set_running(False)
        self.state.store.poll()
        self.view.refresh()
        if error:
            self.view.note(f"The study failed: {error.splitlines()[0]}", RED)
            self.state.problem.emit("The study failed", error)
            return
        if isinstance(result, TuneResult):
            summary = result.summary
            self.view.show_study(summary.run_id)
            best = summary.best
            told = f"best: trial {best.number}, {best.value:.4f}" if best and best.value else ""
            self.view.note(f"Study {summary.name}: {len(summary.trials)} trials. {told}".strip())
            self.state.message.emit(f"Study {summary.name} ended")

"""The window's side of a tuning study: start it from the Tuning section under the
one-training-at-a-time rule, feed the section its progress, and say how it ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from studio.core.jobs import TuneRequest, TuneResult
from studio.ui.ablation.tune_view import TuneView
from studio.ui.experiment_job import ExperimentJob
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState


class TuneActions(QObject):
    """Connects the Tuning section to the `tune` job slot."""

    def __init__(
        self, state: StudioState, jobs: JobsController, view: TuneView, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.view = state, jobs, view
        slot = jobs.tune
        self.job = ExperimentJob(
            state, jobs, slot, view, "study", view.show_study, self._done, self
        )
        view.startRequested.connect(self.start)
        view.stopRequested.connect(slot.stop)
        view.openRuns.connect(state.runsOpened)

    def start(self, where: str, config: dict[str, Any], name: str) -> None:
        request = TuneRequest(config, where, str(Path(where).parent), name)
        self.job.start(request, "study", f"Tuning study started: {where}")

    def _done(self, result: object) -> None:
        if isinstance(result, TuneResult):
            summary = result.summary
            self.view.show_study(summary.run_id)
            best = summary.best
            told = f"best: trial {best.number}, {best.value:.4f}" if best and best.value else ""
            self.view.note(f"Study {summary.name}: {len(summary.trials)} trials. {told}".strip())
            self.state.message.emit(f"Study {summary.name} ended")

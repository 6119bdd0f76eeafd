"""The window's side of an ablation job: start it from the Ablation tab under the
one-training-at-a-time rule, feed the tab its progress, and say how it ended; open the builder
on the drafted config and run what it saves (an ablation, or a sweep in the same slot); and
the tab's Tuning section's own actions (tune_actions.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from PySide6.QtCore import QObject

from studio.core.errors import StudioError
from studio.core.jobs import AblationRequest, AblationResult, SweepRequest, SweepResult
from studio.ui.ablation.tune_actions import TuneActions
from studio.ui.ablation.view import AblationView
from studio.ui.draft import Draft
from studio.ui.experiment_job import ExperimentJob
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState


class AblationActions(QObject):
    """Connects the Ablation tab to the `ablation` job slot."""

    def __init__(
        self,
        state: StudioState,
        jobs: JobsController,
        view: AblationView,
        parent: QObject,
        draft: Draft | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.view, self.draft = state, jobs, view, draft
        self.tune = TuneActions(state, jobs, view.tune, self)
        self.builder: Any = None  # the open builder dialog
        slot = jobs.ablation
        self.job = ExperimentJob(
            state, jobs, slot, view, "ablation", view.show_ablation, self._done, self
        )
        view.builderRequested.connect(self.open_builder)
        view.startRequested.connect(self.start)
        view.stopRequested.connect(slot.stop)
        view.openRuns.connect(state.runsOpened)

    def start(self, where: str, config: dict[str, Any]) -> None:
        self.job.start(AblationRequest(config, where), "ablation", f"Ablation started: {where}")

    def start_sweep(self, where: str, config: dict[str, Any]) -> None:
        self.job.start(SweepRequest(config, where), "sweep", f"Sweep started: {where}")

    def open_builder(self) -> None:
        """The builder on the Configure tab's config; what it saves and runs starts here."""
        from studio.ui.ablation.builder import ABLATION, ExperimentBuilder

        if self.draft is None:
            return
        try:
            base = self.draft.config()
        except StudioError as exc:
            self.state.problem.emit("Configure a run first", str(exc))
            return
        self.builder = ExperimentBuilder(base, self.view)
        self.builder.runRequested.connect(
            lambda kind, path, config: (self.start if kind == ABLATION else self.start_sweep)(
                path, config
            )
        )
        self.builder.show()

    def _done(self, result: object) -> None:
        if isinstance(result, SweepResult):  # a sweep the builder started
            self.view.note(f"Sweep {result.run_id} ended: its curve is in the Transfer tab")
            self.state.message.emit(f"Sweep {result.run_id} ended")
        if isinstance(result, AblationResult):
            self.view.show_ablation(result.run_id)
            # Not "N variants queued" any more: what became of them.
            self.view.note(f"Ablation {result.run_id} {self._ending(result.run_id)}")
            self.state.message.emit(f"Ablation {result.run_id} ended")

    def _ending(self, ablation_id: str) -> str:
        """'finished: 3 variants finished, 1 stopped', from the variants' stored runs."""
        statuses = Counter(r.status for r in self.view.results)
        status = self.state.store.status(ablation_id) or "ended"
        counts = ", ".join(f"{n} {s}" for s, n in statuses.most_common())
        return f"{status}: variants {counts}" if counts else status

"""The window's side of an ablation job: start it from the Ablation tab under the
one-training-at-a-time rule, feed the tab its progress, and say how it ended."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from studio.core.errors import StudioError
from studio.core.jobs import AblationRequest, AblationResult, Job
from studio.jobs.client import job_place

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow


class AblationActions(QObject):
    """Connects the Ablation tab to the window's `ablation` job slot."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        view, slot = window.ablation, window.jobs.ablation
        view.startRequested.connect(self.start)
        view.stopRequested.connect(slot.stop)
        view.openRuns.connect(window.open_runs)
        slot.created.connect(self._created)
        slot.progress.connect(view.set_progress)
        slot.ended.connect(self._ended)

    def start(self, where: str, config: dict[str, Any]) -> None:
        w = self.window
        if w.run_actions.refuse_when_busy():
            return
        try:
            place = job_place(w.catalog, w.data_dir, w.store_path)
        except StudioError as exc:
            w.show_error("The ablation cannot start", str(exc))
            return
        w.jobs.ablation.start(Job(AblationRequest(config, where), place))
        w.ablation.set_running(True)
        w._update_actions()
        w.status.setText(f"Ablation started: {where}")

    def _created(self, ablation_id: str) -> None:
        self.window.ablation.refresh()
        self.window.ablation.show_ablation(ablation_id)

    def _ended(self, result: object, error: str) -> None:
        w = self.window
        w.ablation.set_running(False)
        w._update_actions()
        w.ablation.refresh()
        if error:
            w.show_error("The ablation failed", error)
            return
        if isinstance(result, AblationResult):
            w.ablation.show_ablation(result.run_id)
            w.status.setText(f"Ablation {result.run_id} ended")

"""The window's run actions: start, demo, resume, stop and export, under the
one-training-at-a-time rule, and what each job's end shows (the run in Monitor, a question when
a resumed run's data changed, an error, an export's folder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget

from studio.core.config.presets import demo_config
from studio.core.config.run import RunConfig
from studio.core.errors import DATA_CHANGED, StudioError
from studio.store import RESUMABLE
from studio.ui import messages
from studio.ui.draft import Draft
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState

if TYPE_CHECKING:
    from studio.core.jobs import JobResult
    from studio.ui.monitor.view import MonitorView


class RunActions(QObject):
    """Starts the training and export jobs and shows how each ended.

    It holds what it works with (the state, the jobs, the draft and the views it feeds) and
    speaks to the user through the state's signals; it never reaches into the window.
    """

    def __init__(
        self,
        state: StudioState,
        jobs: JobsController,
        draft: Draft,
        monitor: Callable[[], MonitorView],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.draft = state, jobs, draft
        self.monitor, self.parent_widget = monitor, parent  # the Monitor, built when asked for
        self.export_progress: QProgressDialog | None = None
        jobs.training.created.connect(self._run_created)
        jobs.training.ended.connect(self._run_ended)
        jobs.export.progress.connect(self._export_progress)
        jobs.export.ended.connect(self._export_ended)

    def _shown_run(self) -> str | None:
        return next(iter(self.monitor().run_ids), None)

    # -- pre-finetuning ------------------------------------------------------------------------

    def start_run(self) -> None:
        if self.jobs.refuse_when_busy():
            return
        try:
            config = self.draft.config()
        except StudioError as exc:
            self.state.problem.emit("The configuration is not valid", str(exc))
            return
        self.draft.remember(config)
        self._train(config)

    def _train(self, config: RunConfig) -> None:
        from studio.core.jobs import TrainRequest

        self.jobs.training.start(self.state.job(TrainRequest(config.to_dict())))
        self.state.message.emit("Starting…")

    def try_demo(self) -> None:
        """A one-minute run on the synthetic demo tasks, from a config of its own: the draft in
        the form stays as it was."""
        if self.jobs.refuse_when_busy():
            return
        try:
            config = demo_config(self.state.catalog)
        except StudioError as exc:
            self.state.problem.emit("There is no demo to run", str(exc))
            return
        self._train(config)

    def stop_run(self) -> None:
        if self.jobs.training.running:
            self.jobs.training.stop()  # the loop checks it between updates
            self.monitor().status.stopping()
            self.state.message.emit("Stopping after the current update, then saving a checkpoint…")

    def resume(self, run_id: str | None, allow_data_change: bool = False) -> None:
        run_id = run_id or self._shown_run()
        if run_id is None or self.jobs.refuse_when_busy():
            return
        status = self.state.store.status(run_id)
        if status not in RESUMABLE:  # a refusal, not a failure: nothing was started
            self.state.message.emit(
                f"Run {run_id} is {status or 'not in this store'}: nothing to resume"
            )
            return
        from studio.core.jobs import ResumeRequest

        # No data folder: the run trains on the one it remembers (else STUDIO_DATA_DIR).
        request = ResumeRequest(run_id, allow_data_change)
        self.jobs.training.start(self.state.job(request, data=False))
        self.state.message.emit(f"Resuming {run_id}…")

    def _run_created(self, run_id: str) -> None:
        self.state.runsOpened.emit([run_id])
        self.state.store.poll()
        self.state.message.emit(f"Training run {run_id}")

    def _run_ended(self, outcome: JobResult | None, error: str) -> None:
        from studio.core.jobs import QueueRequest, ResumeRequest, RunOutcome

        request = self.jobs.training.request
        if isinstance(request, QueueRequest):
            return  # QueueActions shows how the queue ended
        resumed = request.run_id if isinstance(request, ResumeRequest) else None
        self.state.store.poll()
        self.monitor().poll()
        run = outcome if isinstance(outcome, RunOutcome) else None
        error = error or (run.error if run else None) or ""
        say, problem = self.state.message.emit, self.state.problem.emit
        if error and resumed and error.startswith(DATA_CHANGED):
            say(f"Run {resumed} was not resumed: its data changed")
            answer = QMessageBox.question(
                self.parent_widget,
                "The training data changed",
                f"{error.split(chr(10) + 'Its sampler')[0]}\n\nThe run's sampler positions belong "
                "to the old data. Resume on the changed data anyway? (Put the data back and "
                "resume instead to continue exactly.)",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.resume(resumed, allow_data_change=True)
        elif error and resumed:
            say(f"Run {resumed} was not resumed")
            problem("The run was not resumed", error)
        elif error:
            say("The run failed")
            problem("The run failed", error)
        elif run is not None:
            say(f"Run {run.run_id} {run.status} at update {run.step}")

    # -- export --------------------------------------------------------------------------------

    def export(self, run_id: str | None) -> None:
        run_id = run_id or self._shown_run()
        if run_id is None:
            self.state.problem.emit("Nothing to export", "Open a run (Runs tab) first.")
            return
        if self.jobs.export.running:
            self.state.problem.emit(
                "An export is running", "Wait for the running export to finish."
            )
            return
        from studio.ui.export_dialog import (
            ExportDialog,  # imported when first used: the window opens faster
        )

        dialog = ExportDialog(self.state.store, run_id, self.parent_widget)
        if not dialog.exec():
            return
        from studio.core.jobs import ExportRequest

        request = ExportRequest(run_id, dialog.which(), str(dialog.folder()))
        progress = QProgressDialog("Exporting…", "", 0, 100, self.parent_widget)
        progress.setCancelButton(None)
        progress.setWindowTitle("Export checkpoint")
        progress.setMinimumDuration(0)
        self.export_progress = progress
        self.jobs.export.start(self.state.job(request))
        self.state.message.emit(f"Exporting {run_id}…")

    def _export_progress(self, fraction: float, message: str) -> None:
        if self.export_progress is not None:
            self.export_progress.setLabelText(message)
            self.export_progress.setValue(int(100 * fraction))

    def _export_ended(self, result: JobResult | None, error: str) -> None:
        from studio.core.jobs import ExportResult

        folder = result.folder if isinstance(result, ExportResult) else None
        if self.export_progress is not None:
            self.export_progress.close()
        if error:
            self.state.problem.emit("The export failed", error)
            return
        self.state.message.emit(f"Exported to {folder}")
        messages.show(
            self.parent_widget,
            QMessageBox.Icon.Information,
            "Export finished",
            f"The checkpoint was exported to\n{folder}\n\n"
            "Load it with transformers: AutoModel.from_pretrained(folder).",
        )

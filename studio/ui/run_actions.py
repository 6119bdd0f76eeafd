"""The window's run actions: start, demo, resume, stop, transfer and export, under the
one-training-at-a-time rule, and what each job's end shows (the run in Monitor, a question when
a resumed run's data changed, an error, an export's folder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from studio.core.errors import DATA_CHANGED, StudioError
from studio.core.experiments import TransferConfig
from studio.core.jobs import (
    ExportRequest,
    ExportResult,
    Job,
    JobRequest,
    JobResult,
    QueueRequest,
    ResumeRequest,
    RunOutcome,
    TrainRequest,
    TransferRequest,
    TransferResult,
)
from studio.core.presets import demo_config
from studio.jobs.client import job_place
from studio.store import RESUMABLE
from studio.ui import messages
from studio.ui.export_dialog import ExportDialog
from studio.ui.jobs_controller import JobsController

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

BUSY = (
    "Stop the running pre-finetuning, transfer experiment or ablation first; one training job runs"
    " at a time."
)


class RunActions(QObject):
    """Starts the training, transfer and export jobs and shows how each ended."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.export_progress: QProgressDialog | None = None

    def connect_slots(self, jobs: JobsController) -> None:
        jobs.training.created.connect(self._run_created)
        jobs.training.ended.connect(self._run_ended)
        jobs.transfer.created.connect(self.window.transfer.show_transfer)
        jobs.transfer.progress.connect(self.window.transfer.set_progress)
        jobs.transfer.ended.connect(self._transfer_ended)
        jobs.export.progress.connect(self._export_progress)
        jobs.export.ended.connect(self._export_ended)
        strip = self.window.monitor.status.resources  # the Monitor's resource strip
        for slot in (jobs.training, jobs.transfer):
            slot.resources.connect(strip.show_sample)
            slot.ended.connect(strip.job_ended)

    def _job(self, request: JobRequest) -> Job:
        w = self.window
        return Job(request, job_place(w.catalog, w.data_dir, w.store_path))

    def _started(self, message: str) -> None:
        self.window._update_actions()
        self.window.status.setText(message)

    # -- pre-finetuning ------------------------------------------------------------------------

    def refuse_when_busy(self) -> bool:
        """Whether a training job runs (then the user is told why nothing starts)."""
        if self.window.jobs.busy:
            self.window.show_error("A job is running", BUSY)
        return self.window.jobs.busy

    def start_run(self) -> None:
        w = self.window
        if self.refuse_when_busy():
            return
        try:
            config = w.current_config()
        except StudioError as exc:
            w.show_error("The configuration is not valid", str(exc))
            return
        w.settings.setValue("config_yaml", config.to_yaml())
        w.jobs.training.start(self._job(TrainRequest(config.to_dict())))
        self._started("Starting…")

    def try_demo(self) -> None:
        """Check the demo tasks, size the run for a first look, and start it."""
        if self.refuse_when_busy():
            return
        try:
            config = demo_config(self.window.catalog)
        except StudioError as exc:
            self.window.show_error("There is no demo to run", str(exc))
            return
        self.window._apply_config(config)
        self.start_run()

    def stop_run(self) -> None:
        if self.window.jobs.training.running:
            self.window.jobs.training.stop()  # the loop checks it between updates
            self.window.status.setText(
                "Stopping after the current update, then saving a checkpoint…"
            )

    def resume(self, run_id: str | None, allow_data_change: bool = False) -> None:
        w = self.window
        run_id = run_id or (w.monitor.run_ids[0] if w.monitor.run_ids else None)
        if run_id is None or self.refuse_when_busy():
            return
        status = w.state.store.status(run_id)
        if status not in RESUMABLE:  # a refusal, not a failure: nothing was started
            w.status.setText(f"Run {run_id} is {status or 'not in this store'}: nothing to resume")
            return
        # No data folder: the run trains on the one it remembers (else STUDIO_DATA_DIR).
        place = job_place(self.window.catalog, None, self.window.store_path)
        job = Job(ResumeRequest(run_id, allow_data_change), place)
        self.window.jobs.training.start(job)
        self._started(f"Resuming {run_id}…")

    def _run_created(self, run_id: str) -> None:
        self.window.open_runs([run_id])
        self.window.runs.refresh()
        self.window.status.setText(f"Training run {run_id}")

    def _run_ended(self, outcome: JobResult | None, error: str) -> None:
        w = self.window
        request = w.jobs.training.request
        if isinstance(request, QueueRequest):
            return  # QueueActions shows how the queue ended
        resumed = request.run_id if isinstance(request, ResumeRequest) else None
        w._update_actions()
        w.runs.refresh()
        w.monitor.poll()
        run = outcome if isinstance(outcome, RunOutcome) else None
        error = error or (run.error if run else None) or ""
        if error and resumed and error.startswith(DATA_CHANGED):
            w.status.setText(f"Run {resumed} was not resumed: its data changed")
            answer = QMessageBox.question(
                w,
                "The training data changed",
                f"{error.split(chr(10) + 'Its sampler')[0]}\n\nThe run's sampler positions belong "
                "to the old data. Resume on the changed data anyway? (Put the data back and "
                "resume instead to continue exactly.)",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.resume(resumed, allow_data_change=True)
        elif error and resumed:
            w.status.setText(f"Run {resumed} was not resumed")
            w.show_error("The run was not resumed", error)
        elif error:
            w.status.setText("The run failed")
            w.show_error("The run failed", error)
        elif run is not None:
            w.status.setText(f"Run {run.run_id} {run.status} at update {run.step}")

    # -- transfer experiments ------------------------------------------------------------------

    def start_transfer(self, config: TransferConfig) -> None:
        if self.refuse_when_busy():
            return
        self.window.jobs.transfer.start(self._job(TransferRequest(config.to_dict())))
        self.window.transfer.set_running(True)
        self._started("Transfer experiment running…")

    def _transfer_ended(self, result: JobResult | None, error: str) -> None:
        w = self.window
        transfer_id = result.run_id if isinstance(result, TransferResult) else None
        w.transfer.set_running(False)
        w._update_actions()
        w.transfer.refresh()
        w.runs.refresh()
        if error:
            w.show_error("The transfer experiment failed", error)
            return
        w.transfer.show_transfer(transfer_id)
        w.status.setText(f"Transfer experiment {transfer_id} finished")

    # -- export --------------------------------------------------------------------------------

    def export(self, run_id: str | None) -> None:
        w = self.window
        run_id = run_id or (w.monitor.run_ids[0] if w.monitor.run_ids else None)
        if run_id is None:
            w.show_error("Nothing to export", "Open a run (Runs tab) first.")
            return
        if w.jobs.export.running:
            w.show_error("An export is running", "Wait for the running export to finish.")
            return
        dialog = ExportDialog(w.state.store, run_id, w)
        if not dialog.exec():
            return
        request = ExportRequest(run_id, dialog.which(), str(dialog.folder()))
        job = Job(request, job_place(None, None, w.store_path))
        progress = QProgressDialog("Exporting…", "", 0, 100, w)
        progress.setCancelButton(None)
        progress.setWindowTitle("Export checkpoint")
        progress.setMinimumDuration(0)
        self.export_progress = progress
        w.jobs.export.start(job)
        self._started(f"Exporting {run_id}…")

    def _export_progress(self, fraction: float, message: str) -> None:
        if self.export_progress is not None:
            self.export_progress.setLabelText(message)
            self.export_progress.setValue(int(100 * fraction))

    def _export_ended(self, result: JobResult | None, error: str) -> None:
        folder = result.folder if isinstance(result, ExportResult) else None
        self.window._update_actions()
        if self.export_progress is not None:
            self.export_progress.close()
        if error:
            self.window.show_error("The export failed", error)
            return
        self.window.status.setText(f"Exported to {folder}")
        messages.show(
            self.window,
            QMessageBox.Icon.Information,
            "Export finished",
            f"The checkpoint was exported to\n{folder}\n\n"
            "Load it with transformers: AutoModel.from_pretrained(folder).",
        )

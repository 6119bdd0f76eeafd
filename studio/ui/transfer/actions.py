"""The Transfer tab's controller: a transfer experiment as a job in the `transfer` slot, under
the one-training-at-a-time rule (ui/experiment_job.py), and what its end says."""

from __future__ import annotations

from PySide6.QtCore import QObject

from studio.core.experiments.transfer import TransferConfig
from studio.ui.experiment_job import ExperimentJob
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState
from studio.ui.transfer.view import TransferView


class TransferActions(QObject):
    """Connects the Transfer tab to the `transfer` job slot."""

    def __init__(self, state: StudioState, jobs: JobsController, view: TransferView) -> None:
        super().__init__(view)
        self.state, self.view = state, view
        slot = jobs.transfer
        self.job = ExperimentJob(
            state, jobs, slot, view, "transfer experiment", view.show_transfer, self._done, self
        )
        view.startRequested.connect(self.start)
        view.stopRequested.connect(slot.stop)

    def start(self, config: TransferConfig) -> None:
        from studio.core.jobs import TransferRequest

        request = TransferRequest(config.to_dict())
        self.job.start(request, "transfer experiment", "Transfer experiment running…")

    def _done(self, result: object) -> None:
        from studio.core.jobs import TransferResult

        transfer_id = result.run_id if isinstance(result, TransferResult) else None
        self.view.show_transfer(transfer_id)
        self.state.message.emit(f"Transfer experiment {transfer_id} finished")

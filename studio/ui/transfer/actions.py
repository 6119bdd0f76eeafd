"""The Transfer tab's controller: start a transfer experiment under the one-training-at-a-time
rule, feed the tab its progress, and say how it ended."""

from __future__ import annotations

from PySide6.QtCore import QObject

from studio.core.experiments.transfer import TransferConfig
from studio.core.jobs import JobResult, TransferRequest, TransferResult
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState
from studio.ui.transfer.view import TransferView


class TransferActions(QObject):
    """Connects the Transfer tab to the `transfer` job slot."""

    def __init__(self, state: StudioState, jobs: JobsController, view: TransferView) -> None:
        super().__init__(view)
        self.state, self.jobs, self.view = state, jobs, view
        slot = jobs.transfer
        slot.created.connect(view.show_transfer)
        slot.progress.connect(view.set_progress)
        slot.ended.connect(self.ended)
        view.startRequested.connect(self.start)
        view.stopRequested.connect(slot.stop)

    def start(self, config: TransferConfig) -> None:
        if self.jobs.refuse_when_busy():
            return
        self.jobs.transfer.start(self.state.job(TransferRequest(config.to_dict())))
        self.view.set_running(True)
        self.state.message.emit("Transfer experiment running…")

    def ended(self, result: JobResult | None, error: str) -> None:
        transfer_id = result.run_id if isinstance(result, TransferResult) else None
        self.view.set_running(False)
        self.state.store.poll()
        self.view.refresh()
        if error:
            self.state.problem.emit("The transfer experiment failed", error)
            return
        self.view.show_transfer(transfer_id)
        self.state.message.emit(f"Transfer experiment {transfer_id} finished")

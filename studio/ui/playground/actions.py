"""The Playground's controller: the runs it offers, the tasks of the chosen model, its most
wrong validation examples, and each prediction as a job in a child process (its own slot,
so trying a model never waits for a training, nor stops one)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject

from studio.core import paths
from studio.core.jobs import JobResult, PredictRequest, PredictResult
from studio.core.mistakes import read_mistakes
from studio.core.run_record import Run
from studio.store import RunStore
from studio.ui.file_dialogs import choose_folder
from studio.ui.jobs_controller import JobsController, JobSlot
from studio.ui.playground.view import PlaygroundView
from studio.ui.state import StudioState

TRIED = ("finished", "stopped", "interrupted", "failed")  # runs that may have a checkpoint


class PlaygroundActions(QObject):
    def __init__(self, state: StudioState, jobs: JobsController, view: PlaygroundView) -> None:
        super().__init__(view)
        self.state, self.view = state, view
        self.slot = JobSlot(jobs)
        view.predictRequested.connect(self.predict)
        view.modelChosen.connect(self.model_chosen)
        view.browseRequested.connect(self.browse)
        self.slot.ended.connect(self.ended)
        state.store.runsChanged.connect(self.offer_runs)
        self.offer_runs()

    def offer_runs(self) -> None:
        runs = self.state.store.read(lambda store: store.list_runs("pretrain"))
        shown = [r for r in runs if r.status in TRIED]
        self.view.set_models([(f"{r.name or r.id} ({r.id})", r.id) for r in shown])

    def browse(self) -> None:
        folder = choose_folder(self.view, "export", "An exported model")
        if folder:
            self.view.set_model(folder)

    def model_chosen(self, model: str) -> None:
        """The chosen model's tasks (from its run or export) and its most wrong examples."""
        folder = Path(model).expanduser()
        if not model:
            return
        if folder.is_dir():
            self.view.set_tasks(_export_formats(folder))
            self.view.show_mistakes(read_mistakes(folder))
            return
        run = self.state.store.read(lambda store: _run(store, model))
        tasks = [str(t) for t in (run.config.get("tasks") or [])] if run else []
        catalog = self.state.catalog
        formats = {t: catalog[t].format for t in tasks if t in catalog}
        self.view.set_tasks({t: f for t, f in formats.items() if f != "summarization"})
        self.view.show_mistakes(read_mistakes(paths.run_dir(self.state.store_path, model)))

    def predict(self, request: PredictRequest) -> None:
        if self.slot.running:
            self.view.set_busy(True, "still predicting the last input…")
            return
        self.slot.start(self.state.job(request))

    def ended(self, result: JobResult | None, error: str) -> None:
        if isinstance(result, PredictResult):
            self.view.show_result(result)
        else:
            self.view.show_error(error or "the prediction gave no answer")


def _run(store: RunStore, run_id: str) -> Run | None:
    try:
        return store.get_run(run_id)
    except KeyError:
        return None


def _export_formats(folder: Path) -> dict[str, str]:
    """The tasks of an export's heads (a checkpoint's, for a checkpoint folder)."""
    try:
        if (folder / "heads.json").is_file():
            heads = json.loads((folder / "heads.json").read_text(encoding="utf-8"))["heads"]
        else:
            state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
            heads = state["heads"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(t): str(h["format"]) for h in heads for t in h["tasks"]}

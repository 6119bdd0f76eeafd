"""The window's files: open and save a run config, and follow another run store."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QWidget

from studio.core.config.run import load_config
from studio.core.errors import StudioError
from studio.core.files import write_atomically
from studio.store import RunStore
from studio.ui.draft import Draft
from studio.ui.file_dialogs import open_file, save_file
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState

CONFIGS = "YAML (*.yaml *.yml)"


class FileActions(QObject):
    """Open config…, Save config… and Open run store…, under the jobs' rules."""

    def __init__(
        self, state: StudioState, jobs: JobsController, draft: Draft, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.draft, self.parent_widget = state, jobs, draft, parent

    def open_config(self) -> None:
        path = open_file(self.parent_widget, "config", "Open config", CONFIGS)
        if path:
            try:
                self.draft.apply(load_config(path))
            except StudioError as exc:
                self.state.problem.emit("This config cannot be opened", str(exc))

    def save_config(self) -> None:
        try:
            config = self.draft.config()
        except StudioError as exc:
            self.state.problem.emit("The configuration is not valid", str(exc))
            return
        path, _ = save_file(self.parent_widget, "config", "Save config", "run.yaml", CONFIGS)
        if path:
            try:
                write_atomically(Path(path), lambda tmp: tmp.write_text(config.to_yaml()))
            except StudioError as exc:
                self.state.problem.emit("The config was not saved", str(exc))
                return
            self.state.message.emit(f"Saved {path}")

    def choose_store(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent_widget,
            "Open run store",
            str(self.state.store_path.parent),
            "Run store (*.db);;All files (*)",
        )
        if path:
            self.set_store(Path(path))

    def set_store(self, store_path: Path) -> None:
        """Show the runs of another store file; refused while a job of this window runs."""
        if self.jobs.refuse_when_busy():
            return
        if self.jobs.export.running:
            self.state.problem.emit(
                "An export is running", "Wait for the running export to finish."
            )
            return
        try:
            with RunStore(store_path, create=False) as store:
                store.list_runs()
        except StudioError as exc:
            self.state.problem.emit("Cannot open that run store", str(exc))
            return
        self.state.store.set_path(Path(store_path))
        self.state.message.emit(f"Run store: {store_path}")

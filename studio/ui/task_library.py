"""The window's tasks: the catalog and where each task's data is, the user's own tasks (add,
edit, remove) and the Data tab that previews one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from studio.core.config.models import is_encoder_decoder
from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.core.tasks.availability import Availability
from studio.core.tasks.library import removable, remove
from studio.core.tasks.spec import TaskSpec
from studio.ui.draft import Draft
from studio.ui.jobs_controller import JobsController
from studio.ui.state import StudioState
from studio.ui.task_preview import TaskPreview
from studio.ui.worker import Worker

if TYPE_CHECKING:
    from studio.core.jobs import JobResult

NO_GENERATION = (
    "Summarization needs an encoder-decoder base model to generate text: pick "
    "'MiniLM encoder-decoder (offline)', BART or T5 as the base model in Configure."
)


class TaskLibrary(QObject):
    """The user's tasks (add, edit, remove), where the data is, and the Data tab's preview;
    the checklist follows the state's catalog. `dataTabWanted` asks for the Data tab."""

    dataTabWanted = Signal()

    def __init__(
        self,
        state: StudioState,
        jobs: JobsController,
        draft: Draft,
        preview: TaskPreview,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state, self.jobs, self.draft, self.preview = state, jobs, draft, preview
        self.checklist, self.parent_widget = draft.checklist, parent
        self.generates: bool | None = None  # whether the chosen base model has a decoder
        self.previewed: tuple[str, str] | None = None  # (task, config) the Data tab shows
        self.hub_worker: Worker | None = None
        self._check: str | None = None  # a task just saved, to check once the catalog is read
        state.catalogChanged.connect(self._catalog_changed)

    @property
    def catalog(self) -> dict[str, TaskSpec]:
        return self.state.catalog

    @property
    def availability(self) -> dict[str, Availability]:
        return self.state.availability

    @property
    def data_dir(self) -> Path | None:
        return self.state.data_dir

    def check_hub(self) -> None:
        """Probe the hub in a child job, only if some task could come from it."""
        if not any(a.source == "hub" and not a.available for a in self.availability.values()):
            return
        from studio.core.jobs import HubRequest, Job

        self.hub_worker = Worker(Job(HubRequest()))
        self.hub_worker.finished.connect(self._hub_checked)
        self.jobs.start(self.hub_worker)

    def _hub_checked(self, result: JobResult) -> None:
        from studio.core.jobs import HubResult

        self.hub_worker = None
        if isinstance(result, HubResult) and result.reachable:
            self.state.set_hub_reachable()

    def update_generation(self, *_: object) -> None:
        """Summarization is checkable only with an encoder-decoder base model."""
        generates = is_encoder_decoder(self.draft.form.model_name())
        if generates != self.generates:
            self.generates = generates
            self.checklist.set_summarization_enabled(generates, NO_GENERATION)

    # -- the catalog ---------------------------------------------------------------------------

    def choose_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self.parent_widget, "Data folder", str(self.data_dir or "")
        )
        if folder:
            self.set_data_dir(Path(folder))

    def set_data_dir(self, folder: Path) -> None:
        self.draft.settings.setValue("data_dir", str(folder))
        self.state.set_data_dir(folder)

    def reload_catalog(self, check: str | None = None) -> None:
        """Read the catalog and the user's library again (a task added, edited or removed);
        `check` is checked in the checklist."""
        self._check = check
        self.state.reload_catalog()

    def _catalog_changed(self) -> None:
        """The checklist shows the catalog the state now holds, keeping what was checked."""
        checklist, check, self._check = self.checklist, self._check, None
        checked = [*checklist.checked(), *([check] if check else [])]
        checklist.set_catalog(self.catalog, self.availability)
        checklist.set_problems(list(self.state.problems))
        checklist.set_summarization_enabled(bool(self.generates), NO_GENERATION)
        checklist.set_checked([n for n in checked if n in self.catalog])
        self.previewed = None
        self.draft.update_shares()

    # -- the user's tasks ----------------------------------------------------------------------

    def add_task(self, editing: TaskSpec | None = None) -> None:
        from studio.ui.wizard.dialog import (
            TaskWizard,  # imported when first used: the window opens faster
        )

        try:
            self.wizard = TaskWizard(self.catalog, self.jobs.start, editing, self.parent_widget)
        except StudioError as exc:
            self.state.problem.emit("This task cannot be edited", str(exc))
            return
        self.wizard.finished.connect(self._wizard_finished)
        self.wizard.open()

    def edit_task(self, name: str) -> None:
        problem = removable(self.catalog[name])
        if problem:  # a built-in task, or one in a --tasks-dir folder: edit it there
            self.state.problem.emit("This task cannot be edited here", problem)
            return
        self.add_task(self.catalog[name])

    def _wizard_finished(self, *_: object) -> None:
        saved = self.wizard.saved
        if saved:
            self.reload_catalog(check=saved)
            self.state.message.emit(f"Task {saved} saved in your library")

    def remove_task(self, name: str) -> None:
        spec = self.catalog[name]
        problem = removable(spec)
        if problem:
            self.state.problem.emit("This task cannot be removed", problem)
            return
        answer = QMessageBox.question(
            self.parent_widget,
            "Remove task",
            f"Remove {name} from your library, with its records?\n\nRuns that trained on it "
            "keep their metrics, but cannot be resumed or transferred without it.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            remove(spec)
        except (StudioError, OSError) as exc:
            self.state.problem.emit("The task could not be removed", str(exc))
            return
        self.reload_catalog()
        self.state.message.emit(f"Task {name} removed")

    # -- the Data tab --------------------------------------------------------------------------

    def show_data(self, name: str) -> None:
        """The Data tab, showing `name`."""
        self.dataTabWanted.emit()
        self.preview_task(name)

    def task_selected(self, name: str) -> None:
        if self.preview.isVisible():
            self.preview_task(name)

    def tab_changed(self, *_: object) -> None:
        name = self.checklist.selected()
        if self.preview.isVisible() and name:
            self.preview_task(name)

    def preview_task(self, name: str) -> None:
        """Show `name` in the Data tab under the current settings (unless it already does)."""
        config: RunConfig | str
        try:
            config = self.draft.form.config(self.checklist.checked() or [name])
            key = config.to_yaml()
        except StudioError as exc:
            config = key = str(exc)
        if self.previewed == (name, key):
            return
        self.previewed = (name, key)
        self.preview.show_task(
            self.catalog[name], self.availability[name], config, self.catalog, self.data_dir
        )

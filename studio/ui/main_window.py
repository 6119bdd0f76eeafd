"""The main window: task checklist; Configure, Monitor and Runs tabs; the run actions."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QProcess, QSettings, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QTabWidget,
)

from studio.core import paths
from studio.core.availability import Availability, hub_online, resolve
from studio.core.config import RunConfig, load_config
from studio.core.errors import DATA_CHANGED, StudioError
from studio.core.library import removable, remove
from studio.core.models import is_encoder_decoder
from studio.core.presets import QUICK_LOOK, demo_config
from studio.core.tasks import TaskSpec, studio_catalog
from studio.store import RunStore
from studio.ui.checklist import TaskChecklist
from studio.ui.config_form import ConfigForm
from studio.ui.export_dialog import ExportDialog
from studio.ui.icons import app_icon
from studio.ui.monitor import MonitorView
from studio.ui.runs_view import RunsView
from studio.ui.task_preview import TaskPreview
from studio.ui.task_wizard import TaskWizard
from studio.ui.transfer_view import TransferView
from studio.ui.worker import Worker, export_job, start, train_job, transfer_job

log = logging.getLogger(__name__)

NO_GENERATION = (
    "Summarization needs an encoder-decoder base model to generate text: pick "
    "'MiniLM encoder-decoder (offline)', BART or T5 as the base model in Configure."
)
PROBE = (
    "import os, torch\n"
    "if torch.cuda.is_available():\n"
    "    p = torch.cuda.get_device_properties(0)\n"
    "    print(f'CUDA: {p.name}, {p.total_memory / 2**30:.0f} GiB')\n"
    "elif torch.backends.mps.is_available():\n"
    "    print('Apple MPS')\n"
    "else:\n"
    "    print(f'CPU: {os.cpu_count()} cores')\n"
)


class MainWindow(QMainWindow):
    """Muppet Studio's window. It talks to training only through workers and the run store."""

    def __init__(
        self,
        catalog: dict[str, TaskSpec],
        store_path: Path | None = None,
        data_dir: Path | None = None,
        settings: QSettings | None = None,
        tasks_dirs: tuple[str, ...] = (),
        problems: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.catalog = catalog
        self.tasks_dirs = tasks_dirs  # more folders of user task specs (--tasks-dir)
        self.store_path = Path(store_path or paths.store_path())
        self.store_path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = settings or QSettings("MuppetStudio", "Muppet Studio")
        saved_dir = self.settings.value("data_dir", "") or None
        self.data_dir = paths.data_dir(data_dir or saved_dir)
        self.worker: Worker | None = None  # pre-finetuning (start or resume)
        self.resuming: str | None = None  # the run that worker resumes
        self.transfer_worker: Worker | None = None
        self.export_worker: Worker | None = None
        self.running_id: str | None = None
        self.generates: bool | None = None  # whether the chosen base model has a decoder
        self.task_order: list[str] = []
        # Every job's thread and worker: closing stops each worker, then waits for the threads.
        self.active_threads: dict[QThread, Worker] = {}
        self.setWindowTitle("Muppet Studio")
        self.setWindowIcon(app_icon())

        self.hub_reachable = False  # until _check_hub finds otherwise
        self.hub_worker: Worker | None = None
        self.availability = self._resolve_all()
        self.checklist = TaskChecklist(catalog, self.availability)
        self.checklist.set_problems(list(problems))
        self.form = ConfigForm()
        self.monitor = MonitorView(self.store_path, catalog)
        self.runs = RunsView(self.store_path)
        self.transfer = TransferView(catalog, self.store_path)
        self.preview = TaskPreview(self._start)
        self.previewed: tuple[str, str] | None = None  # (task, config) the Data tab shows
        self.tabs = QTabWidget()
        self.tabs.addTab(self.form, "Configure")
        self.tabs.addTab(self.monitor, "Monitor")
        self.tabs.addTab(self.runs, "Runs")
        self.tabs.addTab(self.transfer, "Transfer")
        self.tabs.addTab(self.preview, "Data")
        self.setCentralWidget(self.tabs)
        self.dock = QDockWidget("Tasks")
        self.dock.setObjectName("tasks-dock")
        self.dock.setWidget(self.checklist)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.status = QLabel("Ready")
        self.statusBar().addWidget(self.status, 1)

        self._build_actions()
        self._update_generation()
        self.checklist.checkedChanged.connect(self._update_shares)
        self.checklist.taskSelected.connect(self._task_selected)
        self.checklist.previewRequested.connect(self.show_data)
        self.checklist.addRequested.connect(self.add_task)
        self.checklist.demoRequested.connect(self.try_demo)
        self.checklist.dataFolderRequested.connect(self.choose_data_dir)
        self.checklist.editRequested.connect(self.edit_task)
        self.checklist.removeRequested.connect(self.remove_task)
        self.tabs.currentChanged.connect(self._tab_changed)
        # Before the shares: a loaded config's model must enable summarization before its
        # tasks are checked.
        self.form.changed.connect(self._update_generation)
        self.form.changed.connect(self._update_shares)
        self.runs.openRuns.connect(self.open_runs)
        self.runs.demoRequested.connect(self.try_demo)
        self.runs.storeRequested.connect(self.choose_store)
        self.monitor.demoRequested.connect(self.try_demo)
        self.monitor.runsRequested.connect(lambda: self.tabs.setCurrentWidget(self.runs))
        self.runs.resumeRun.connect(self.resume)
        self.runs.exportRun.connect(self.export)
        self.transfer.startRequested.connect(self.start_transfer)
        self.transfer.stopRequested.connect(self.stop_transfer)
        self._restore()
        self._update_shares()
        self._update_actions()
        QTimer.singleShot(300, self._probe_device)
        QTimer.singleShot(0, self._check_hub)

    # -- setup -------------------------------------------------------------------------------

    def _resolve_all(self) -> dict[str, Availability]:
        """Where each task's data is. The hub counts only once the background check found it
        reachable: a network probe on the GUI thread could freeze the window for seconds."""
        home = paths.synthetic_dir()
        online = self.hub_reachable
        return {n: resolve(s, self.data_dir, home, online) for n, s in self.catalog.items()}

    def _check_hub(self) -> None:
        """Probe the hub in a worker thread, only if some task could come from it."""
        if not any(a.source == "hub" and not a.available for a in self.availability.values()):
            return
        self.hub_worker = Worker(lambda worker: hub_online())
        self.hub_worker.finished.connect(self._hub_checked)
        self._start(self.hub_worker)

    def _hub_checked(self, reachable: bool) -> None:
        self.hub_worker = None
        if reachable:
            self.hub_reachable = True
            self.reload_catalog()

    def _action(self, text: str, slot: Any, tip: str, shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def _build_actions(self) -> None:
        self.start_action = self._action(
            "Start",
            self.start_run,
            "Start pre-finetuning the checked tasks with this configuration",
            "Ctrl+R",
        )
        self.stop_action = self._action(
            "Stop", self.stop_run, "Finish the current update, save a checkpoint and stop", "Ctrl+."
        )
        self.resume_action = self._action(
            "Resume",
            lambda: self.resume(None),
            "Continue the run shown in Monitor from its latest checkpoint",
        )
        self.export_action = self._action(
            "Export checkpoint…",
            lambda: self.export(None),
            "Export a checkpoint of the run shown in Monitor as a Hugging Face model folder",
            "Ctrl+E",
        )
        open_action = self._action(
            "Open config…",
            self.open_config,
            "Load a run config (YAML, the same file the CLI runs)",
            "Ctrl+O",
        )
        save_action = self._action(
            "Save config…",
            self.save_config,
            "Save this configuration and the checked tasks as YAML",
            "Ctrl+S",
        )
        store_action = self._action(
            "Open run store…",
            self.choose_store,
            "Follow another run store file, e.g. the one a multi-process run is writing",
        )
        add_task_action = self._action(
            "Add task…",
            self.add_task,
            "Add a task of your own: a CSV, JSON or Parquet file, a saved datasets folder or a "
            "Hugging Face dataset",
            "Ctrl+T",
        )
        data_action = self._action(
            "Set data folder…",
            self.choose_data_dir,
            "The folder of local task data (one sub-folder per task)",
        )
        demo_action = self._action(
            "Try the demo",
            self.try_demo,
            "A one-minute run on the synthetic demo tasks, offline, with live curves",
        )
        quit_action = self._action("Quit", self.close, "Quit Muppet Studio", "Ctrl+Q")
        toolbar = self.addToolBar("Run")
        toolbar.setObjectName("run-toolbar")
        for action in (self.start_action, self.stop_action, self.resume_action, self.export_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(open_action)
        toolbar.addAction(save_action)
        file_menu = self.menuBar().addMenu("&File")
        for action in (
            open_action,
            save_action,
            add_task_action,
            store_action,
            data_action,
            self.export_action,
        ):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        run_menu = self.menuBar().addMenu("&Run")
        for action in (self.start_action, self.stop_action, self.resume_action):
            run_menu.addAction(action)
        run_menu.addSeparator()
        run_menu.addAction(demo_action)

    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        text = self.settings.value("config_yaml", "")
        try:
            if text:
                self._apply_config(_config_from_text(text))
                return
        except StudioError as exc:
            log.warning("ignoring the remembered config: %s", exc)
        # A first start: settings sized for this machine, not a GPU recipe on a laptop.
        self.form.apply_preset(QUICK_LOOK, pristine=True)

    def _probe_device(self) -> None:
        """Ask a separate Python which device training would use, without importing torch here."""
        import sys

        self.probe = QProcess(self)
        self.probe.finished.connect(self._probe_done)
        self.probe.start(sys.executable, ["-c", PROBE])

    def _probe_done(self) -> None:
        self._probe_done_text(bytes(self.probe.readAllStandardOutput().data()).decode().strip())

    def _probe_done_text(self, text: str) -> None:
        self.form.set_device_info(text or "could not detect the device")

    # -- shares and config --------------------------------------------------------------------

    def _update_generation(self, *_: object) -> None:
        """Summarization is checkable only with an encoder-decoder base model."""
        generates = is_encoder_decoder(self.form.model_name())
        if generates != self.generates:
            self.generates = generates
            self.checklist.set_summarization_enabled(generates, NO_GENERATION)

    def _update_shares(self, *_: object) -> None:
        """Share previews follow the sampling settings; manual weights follow the checked tasks."""
        self.checklist.set_sampling(*self.form.sampling_settings())
        self.form.set_tasks(self.checklist.checked())

    def current_config(self) -> RunConfig:
        """The form's settings and the checked tasks, in the order the loaded config gave them
        (it matters for sequential mixing); newly checked tasks follow in catalog order."""
        checked = self.checklist.checked()
        ordered = [t for t in self.task_order if t in checked]
        return self.form.config(ordered + [t for t in checked if t not in ordered])

    def _apply_config(self, config: RunConfig) -> None:
        self.task_order = list(config.tasks)
        self.form.set_config(config)
        self.checklist.set_checked(list(config.tasks))
        self._update_shares()

    def open_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open config", "", "YAML (*.yaml *.yml)")
        if path:
            try:
                self._apply_config(load_config(path))
            except StudioError as exc:
                self.show_error("This config cannot be opened", str(exc))

    def save_config(self) -> None:
        try:
            config = self.current_config()
        except StudioError as exc:
            self.show_error("The configuration is not valid", str(exc))
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save config", "run.yaml", "YAML (*.yaml)")
        if path:
            Path(path).write_text(config.to_yaml(), encoding="utf-8")
            self.status.setText(f"Saved {path}")

    def choose_data_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", str(self.data_dir or ""))
        if folder:
            self.set_data_dir(Path(folder))

    def set_data_dir(self, folder: Path) -> None:
        self.data_dir = folder
        self.settings.setValue("data_dir", str(folder))
        self.reload_catalog()

    def reload_catalog(self, check: str | None = None) -> None:
        """Read the catalog and the user's library again (a task added, edited or removed);
        `check` is checked in the checklist."""
        loaded = studio_catalog(self.tasks_dirs)
        self.catalog = loaded.tasks
        self.availability = self._resolve_all()
        checked = [*self.checklist.checked(), *([check] if check else [])]
        self.checklist.set_catalog(self.catalog, self.availability)
        self.checklist.set_problems(list(loaded.problems))
        self.checklist.set_summarization_enabled(bool(self.generates), NO_GENERATION)
        self.checklist.set_checked([n for n in checked if n in self.catalog])
        self.monitor.set_catalog(self.catalog)
        self.transfer.set_catalog(self.catalog)
        self.previewed = None
        self._update_shares()

    # -- the user's tasks ---------------------------------------------------------------------

    def add_task(self, editing: TaskSpec | None = None) -> None:
        try:
            self.wizard = TaskWizard(self.catalog, self._start, editing or None, self)
        except StudioError as exc:
            self.show_error("This task cannot be edited", str(exc))
            return
        self.wizard.finished.connect(self._wizard_finished)
        self.wizard.open()

    def edit_task(self, name: str) -> None:
        problem = removable(self.catalog[name])
        if problem:  # a built-in task, or one in a --tasks-dir folder: edit it there
            self.show_error("This task cannot be edited here", problem)
            return
        self.add_task(self.catalog[name])

    def _wizard_finished(self, *_: object) -> None:
        saved = self.wizard.saved
        if saved:
            self.reload_catalog(check=saved)
            self.status.setText(f"Task {saved} saved in your library")

    def remove_task(self, name: str) -> None:
        spec = self.catalog[name]
        problem = removable(spec)
        if problem:
            self.show_error("This task cannot be removed", problem)
            return
        answer = QMessageBox.question(
            self,
            "Remove task",
            f"Remove {name} from your library, with its records?\n\nRuns that trained on it "
            "keep their metrics, but cannot be resumed or transferred without it.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            remove(spec)
        except (StudioError, OSError) as exc:
            self.show_error("The task could not be removed", str(exc))
            return
        self.reload_catalog()
        self.status.setText(f"Task {name} removed")

    # -- the Data tab ---------------------------------------------------------------------------

    def show_data(self, name: str) -> None:
        """The Data tab, showing `name`."""
        self.tabs.setCurrentWidget(self.preview)
        self.preview_task(name)

    def _task_selected(self, name: str) -> None:
        if self.tabs.currentWidget() is self.preview:
            self.preview_task(name)

    def _tab_changed(self, *_: object) -> None:
        name = self.checklist.selected()
        if self.tabs.currentWidget() is self.preview and name:
            self.preview_task(name)

    def preview_task(self, name: str) -> None:
        """Show `name` in the Data tab under the current settings (unless it already does)."""
        try:
            config: RunConfig | str = self.form.config(self.checklist.checked() or [name])
            key = config.to_yaml()
        except StudioError as exc:
            config = key = str(exc)
        if self.previewed == (name, key):
            return
        self.previewed = (name, key)
        self.preview.show_task(
            self.catalog[name], self.availability[name], config, self.catalog, self.data_dir
        )

    # -- runs -----------------------------------------------------------------------------------

    def _busy(self) -> bool:
        """One training job at a time: two would compete for the same cores (or GPU) and each
        would run at less than half speed."""
        if self.worker is not None or self.transfer_worker is not None:
            self.show_error(
                "A job is running",
                "Stop the running pre-finetuning or transfer "
                "experiment first; one training job runs at a time.",
            )
            return True
        return False

    def start_run(self) -> None:
        if self._busy():
            return
        try:
            config = self.current_config()
        except StudioError as exc:
            self.show_error("The configuration is not valid", str(exc))
            return
        self.settings.setValue("config_yaml", config.to_yaml())
        job = train_job(config, self.catalog, self.data_dir, self.store_path)
        self._launch(Worker(job), "Starting…")

    def try_demo(self) -> None:
        """Check the demo tasks, size the run for a first look, and start it."""
        if self._busy():
            return
        try:
            config = demo_config(self.catalog)
        except StudioError as exc:
            self.show_error("There is no demo to run", str(exc))
            return
        self._apply_config(config)
        self.start_run()

    def resume(self, run_id: str | None, allow_data_change: bool = False) -> None:
        run_id = run_id or (self.monitor.run_ids[0] if self.monitor.run_ids else None)
        if run_id is None or self._busy():
            return
        # No data folder: the run trains on the one it remembers (else STUDIO_DATA_DIR).
        job = train_job(None, self.catalog, None, self.store_path, run_id, allow_data_change)
        self.resuming = run_id
        self._launch(Worker(job), f"Resuming {run_id}…")

    def _launch(self, worker: Worker, message: str) -> None:
        worker.created.connect(self._run_created)
        # Bound methods only: Qt then queues the call to this (GUI) thread. A lambda would
        # run in the worker's thread.
        worker.finished.connect(self._run_finished)
        worker.failed.connect(self._run_failed)
        self.worker = worker
        self.thread = self._start(worker)
        self.status.setText(message)
        self._update_actions()

    def _start(self, worker: Worker) -> QThread:
        return start(worker, self.active_threads)

    def _run_created(self, run_id: str) -> None:
        self.running_id = run_id
        self.open_runs([run_id])
        self.runs.refresh()
        self.status.setText(f"Training run {run_id}")

    def _run_failed(self, error: str) -> None:
        self._run_finished(None, error)

    def _run_finished(self, outcome: Any, error: str | None = None) -> None:
        self.worker = None
        self.running_id = None
        resumed, self.resuming = self.resuming, None
        self._update_actions()
        self.runs.refresh()
        self.monitor.poll()
        error = error or getattr(outcome, "error", None)
        if error and resumed and error.startswith(DATA_CHANGED):
            self.status.setText(f"Run {resumed} was not resumed: its data changed")
            answer = QMessageBox.question(
                self,
                "The training data changed",
                f"{error.split(chr(10) + 'Its sampler')[0]}\n\nThe run's sampler positions belong "
                "to the old data. Resume on the changed data anyway? (Put the data back and "
                "resume instead to continue exactly.)",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.resume(resumed, allow_data_change=True)
            return
        if error:
            self.status.setText("The run failed")
            self.show_error("The run failed", error)
        elif outcome is not None:
            self.status.setText(f"Run {outcome.run_id} {outcome.status} at update {outcome.step}")

    def stop_run(self) -> None:
        if self.worker is not None:
            self.worker.stop.set()  # the loop checks it between updates; nothing blocks here
            self.status.setText("Stopping after the current update, then saving a checkpoint…")

    def choose_store(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open run store", str(self.store_path.parent), "Run store (*.db);;All files (*)"
        )
        if path:
            self.set_store(Path(path))

    def set_store(self, store_path: Path) -> None:
        """Show the runs of another store file; refused while a job of this window runs."""
        if self._busy():
            return
        if self.export_worker is not None:
            self.show_error("An export is running", "Wait for the running export to finish.")
            return
        try:
            with RunStore(store_path) as store:
                store.list_runs()
        except StudioError as exc:
            self.show_error("Cannot open that run store", str(exc))
            return
        self.store_path = Path(store_path)
        for view in (self.monitor, self.runs, self.transfer):
            view.set_store(self.store_path)
        self.setWindowTitle(f"Muppet Studio — {self.store_path}")
        self._update_actions()
        self.status.setText(f"Run store: {self.store_path}")

    def open_runs(self, run_ids: list[str]) -> None:
        self.monitor.show_runs(run_ids)
        self.tabs.setCurrentWidget(self.monitor)
        self._update_actions()

    def export(self, run_id: str | None) -> None:
        run_id = run_id or (self.monitor.run_ids[0] if self.monitor.run_ids else None)
        if run_id is None:
            self.show_error("Nothing to export", "Open a run (Runs tab) first.")
            return
        if self.export_worker is not None:
            self.show_error("An export is running", "Wait for the running export to finish.")
            return
        dialog = ExportDialog(self.store_path, run_id, self)
        if not dialog.exec():
            return
        worker = Worker(export_job(self.store_path, run_id, dialog.which(), dialog.folder()))
        self.export_progress = QProgressDialog("Exporting…", "", 0, 100, self)
        self.export_progress.setCancelButton(None)
        self.export_progress.setWindowTitle("Export checkpoint")
        self.export_progress.setMinimumDuration(0)
        worker.progress.connect(self._export_progress)
        worker.finished.connect(self._export_done)
        worker.failed.connect(self._export_failed)
        self.export_worker = worker
        self._start(worker)
        self._update_actions()
        self.status.setText(f"Exporting {run_id}…")

    # -- transfer experiments ----------------------------------------------------------------

    def start_transfer(self, config: Any) -> None:
        if self._busy():
            return
        worker = Worker(transfer_job(config, self.catalog, self.data_dir, self.store_path))
        worker.created.connect(self.transfer.show_transfer)
        worker.progress.connect(self.transfer.set_progress)
        worker.finished.connect(self._transfer_finished)
        worker.failed.connect(self._transfer_failed)
        self.transfer_worker = worker
        self._start(worker)
        self.transfer.set_running(True)
        self._update_actions()
        self.status.setText("Transfer experiment running…")

    def stop_transfer(self) -> None:
        if self.transfer_worker is not None:
            self.transfer_worker.stop.set()
            self.status.setText("Stopping the transfer experiment after the current fine-tuning…")

    def _transfer_failed(self, error: str) -> None:
        self._transfer_finished(None, error)

    def _transfer_finished(self, transfer_id: str | None, error: str | None = None) -> None:
        self.transfer_worker = None
        self.transfer.set_running(False)
        self._update_actions()
        self.transfer.refresh()
        self.runs.refresh()
        if error:
            self.show_error("The transfer experiment failed", error)
            return
        self.transfer.show_transfer(transfer_id)
        self.status.setText(f"Transfer experiment {transfer_id} finished")

    def _export_progress(self, fraction: float, message: str) -> None:
        self.export_progress.setLabelText(message)
        self.export_progress.setValue(int(100 * fraction))

    def _export_failed(self, error: str) -> None:
        self._export_done(None, error)

    def _export_done(self, folder: Path | None, error: str | None = None) -> None:
        self.export_worker = None
        self._update_actions()
        self.export_progress.close()
        if error:
            self.show_error("The export failed", error)
            return
        self.status.setText(f"Exported to {folder}")
        self._message(
            QMessageBox.Icon.Information,
            "Export finished",
            f"The checkpoint was exported to\n{folder}\n\n"
            "Load it with transformers: AutoModel.from_pretrained(folder).",
        )

    def _update_actions(self) -> None:
        busy = self.worker is not None or self.transfer_worker is not None
        self.start_action.setEnabled(not busy)
        self.stop_action.setEnabled(self.worker is not None)
        self.resume_action.setEnabled(not busy and bool(self.monitor.run_ids))
        exporting = self.export_worker is not None
        self.export_action.setEnabled(bool(self.monitor.run_ids) and not exporting)

    def show_error(self, title: str, text: str) -> None:
        """A readable message; a traceback, if any, goes under "Show Details"."""
        summary, _, details = text.partition("\n\n")
        box = self._message(QMessageBox.Icon.Warning, title, summary)
        if details:
            box.setDetailedText(text)
        self.last_error = text

    def _message(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        # Shown, not exec()'d: a nested event loop would stall the worker's queued signals.
        box = QMessageBox(icon, title, text, parent=self)
        box.setModal(True)
        box.show()
        return box

    # -- closing ----------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        with contextlib.suppress(StudioError):  # an invalid form is simply not remembered
            self.settings.setValue("config_yaml", self.current_config().to_yaml())
        for worker in self.active_threads.values():
            worker.stop.set()
        self.status.setText("Saving a checkpoint before closing…")
        while self.active_threads:
            thread = next(iter(self.active_threads))
            # Keep delivering events while waiting: the worker's "finished" reaches the thread's
            # quit() through this (GUI) thread's event queue.
            with contextlib.suppress(RuntimeError):  # already finished and deleted by Qt
                while not thread.wait(50):
                    QCoreApplication.processEvents()
            self.active_threads.pop(thread, None)
        probe = getattr(self, "probe", None)
        if probe is not None and probe.state() != QProcess.ProcessState.NotRunning:
            probe.kill()  # only a device description; not worth waiting for
            probe.waitForFinished(1000)
        self.monitor.close_store()
        super().closeEvent(event)


def _config_from_text(text: str) -> RunConfig:
    import yaml

    from studio.core.config import config_from_dict

    return config_from_dict(yaml.safe_load(text), "remembered config")

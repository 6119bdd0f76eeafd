"""The main window: task checklist; Configure, Monitor, Runs, Transfer, Ablation, Data and
Playground tabs (all but Configure and Data built when first opened); the run
actions. Layout and wiring only: jobs go through `RunActions` and `JobsController`, the user's
tasks through `TaskLibrary`."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core import paths
from studio.core.config.presets import QUICK_LOOK
from studio.core.config.run import RunConfig, config_from_yaml
from studio.core.errors import StudioError
from studio.core.tasks.spec import TaskSpec
from studio.store import RESUMABLE
from studio.ui import actions as A
from studio.ui import messages
from studio.ui.configure.checklist import TaskChecklist
from studio.ui.configure.form import ConfigForm
from studio.ui.draft import Draft
from studio.ui.file_actions import FileActions
from studio.ui.jobs_controller import JobsController
from studio.ui.lazy_tab import LazyTab
from studio.ui.preflight import PreflightLine
from studio.ui.run_actions import RunActions
from studio.ui.runs.queue_actions import QueueActions
from studio.ui.state import StudioState
from studio.ui.task_library import TaskLibrary
from studio.ui.task_preview import TaskPreview
from studio.ui.widgets import ElidedLabel
from studio.ui.worker import Worker

if TYPE_CHECKING:  # built when their tab is first opened: the window opens sooner
    from studio.core.jobs import JobResult
    from studio.ui.ablation.view import AblationView
    from studio.ui.monitor.view import MonitorView
    from studio.ui.playground.view import PlaygroundView
    from studio.ui.runs.view import RunsView
    from studio.ui.transfer.view import TransferView

log = logging.getLogger(__name__)


WINDOW_FILE = "window.ini"


def window_settings() -> QSettings:
    """The window's remembered state (geometry, the last config, the data folder) lives in
    STUDIO_HOME, not in the user's Qt settings: a fresh home starts fresh, on the quick look."""
    return QSettings(str(paths.studio_home() / WINDOW_FILE), QSettings.Format.IniFormat)


def first_size(screen: QSize) -> QSize:
    """The window's size on a first start: most of the screen, leaving room for the frame
    and a panel (up to 1920x1200: beyond that a window is more tiring than useful)."""
    return QSize(round(min(screen.width(), 1920) * 0.96), round(min(screen.height(), 1200) * 0.92))


class MainWindow(QMainWindow):
    """Muppet Studio's window. It talks to training only through jobs and the run store."""

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
        store_path = Path(store_path or paths.store_path())
        store_path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = settings or window_settings()
        saved = self.settings.value("data_dir", "")
        saved_dir = saved if isinstance(saved, str) and saved else None
        self.state = StudioState(
            catalog, store_path, paths.data_dir(data_dir or saved_dir), tasks_dirs, problems, self
        )
        self.jobs = JobsController(self)
        self._quit_asked = False  # the user chose to quit while a run trains
        self.setWindowTitle("Muppet Studio")
        self.checklist = TaskChecklist(catalog, self.state.availability)
        self.checklist.set_problems(list(problems))
        self.form = ConfigForm()
        self.draft = Draft(self.form, self.checklist, self.settings)
        self.preflight = PreflightLine(self.state, self.draft, lambda: self.form.preset_bar.device)
        self.preview = TaskPreview(self.jobs.start)
        state, jobs, draft = self.state, self.jobs, self.draft
        self.library = TaskLibrary(state, jobs, draft, self.preview, self)
        self.run_actions = RunActions(state, jobs, draft, lambda: self.monitor, self)
        self.queue_actions = QueueActions(state, jobs, draft, self)
        self.files = FileActions(state, jobs, draft, self)
        self.monitor_tab = LazyTab(self._build_monitor)
        self.runs_tab = LazyTab(self._build_runs)
        self.transfer_tab = LazyTab(self._build_transfer)
        self.ablation_tab = LazyTab(self._build_ablation)
        self.playground_tab = LazyTab(self._build_playground)
        self._lay_out()
        self._connect()
        self._restore()
        self.library.update_generation()
        self.draft.update_shares()
        self.preflight.refresh()
        self._update_actions()
        self.state.store.start()
        # Child processes (the device probe, the hub check) start once the window has painted:
        # two interpreters starting would compete with its first frame for the cores.
        QTimer.singleShot(300, self._probe_device)
        QTimer.singleShot(300, self.library.check_hub)
        # Queued runs outlive the window: go on with them unless something trains already.
        QTimer.singleShot(0, self.queue_actions.continue_queue)

    @property
    def catalog(self) -> dict[str, TaskSpec]:
        return self.state.catalog

    @property
    def data_dir(self) -> Path | None:
        return self.state.data_dir

    @property
    def store_path(self) -> Path:
        return self.state.store_path

    def _lay_out(self) -> None:
        from studio.ui.icons import app_icon

        self.setWindowIcon(app_icon())
        self.tabs = QTabWidget()
        for view, title in (
            (self.form, "Configure"),
            (self.monitor_tab, "Monitor"),
            (self.runs_tab, "Runs"),
            (self.transfer_tab, "Transfer"),
            (self.ablation_tab, "Ablation"),
            (self.preview, "Data"),
            (self.playground_tab, "Playground"),
        ):
            self.tabs.addTab(view, title)
        # The preflight line sits under Start, above every tab.
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.preflight)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.dock = QDockWidget("Tasks")
        self.dock.setObjectName("tasks-dock")
        self.dock.setWidget(self.checklist)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.status = ElidedLabel("Ready")
        self.statusBar().addWidget(self.status, 1)
        ra = self.run_actions
        self.menu_actions = A.build(
            self,
            {
                A.START: ra.start_run,
                A.ADD_TO_QUEUE: self.queue_actions.add_to_queue,
                A.RUN_QUEUE: self.queue_actions.run_queue,
                A.STOP: ra.stop_run,
                A.RESUME: lambda: ra.resume(None),
                A.EXPORT: lambda: self.run_actions.export(None),
                A.OPEN_CONFIG: self.files.open_config,
                A.SAVE_CONFIG: self.files.save_config,
                A.OPEN_STORE: self.files.choose_store,
                A.ADD_TASK: self.library.add_task,
                A.DATA_FOLDER: self.library.choose_data_dir,
                A.DEMO: ra.try_demo,
                A.QUIT: self.close,
                A.GUIDE: lambda: self._help(A.GUIDE),
                A.SHORTCUTS: lambda: self._help(A.SHORTCUTS),
                A.ABOUT: lambda: self._help(A.ABOUT),
            },
        )
        self.start_action, self.stop_action = self.menu_actions[A.START], self.menu_actions[A.STOP]
        self.resume_action, self.export_action = (
            self.menu_actions[A.RESUME],
            self.menu_actions[A.EXPORT],
        )

    def _connect(self) -> None:
        checklist, library, ra, state = self.checklist, self.library, self.run_actions, self.state
        state.message.connect(self.status.setText)
        state.problem.connect(self.show_error)
        state.runsOpened.connect(self.open_runs)
        state.store.runsChanged.connect(self._update_actions)
        state.store.storeChanged.connect(self._store_changed)
        self.jobs.changed.connect(self._update_actions)
        self.jobs.refused.connect(self.show_error)
        library.dataTabWanted.connect(lambda: self.show_tab(self.preview))
        checklist.checkedChanged.connect(self.draft.update_shares)
        checklist.taskSelected.connect(library.task_selected)
        checklist.previewRequested.connect(library.show_data)
        checklist.addRequested.connect(library.add_task)
        checklist.demoRequested.connect(ra.try_demo)
        checklist.dataFolderRequested.connect(library.choose_data_dir)
        checklist.editRequested.connect(library.edit_task)
        checklist.removeRequested.connect(library.remove_task)
        self.tabs.currentChanged.connect(library.tab_changed)
        # Before the shares: a loaded config's model must enable summarization before its
        # tasks are checked.
        self.form.changed.connect(library.update_generation)
        self.form.changed.connect(self.draft.update_shares)
        self.form.changed.connect(self.preflight.refresh)
        checklist.checkedChanged.connect(self.preflight.refresh)

    # -- the tabs built when first opened ----------------------------------------------------

    @property
    def monitor(self) -> MonitorView:
        return cast("MonitorView", self.monitor_tab.view())

    @property
    def runs(self) -> RunsView:
        return cast("RunsView", self.runs_tab.view())

    @property
    def transfer(self) -> TransferView:
        return cast("TransferView", self.transfer_tab.view())

    @property
    def ablation(self) -> AblationView:
        return cast("AblationView", self.ablation_tab.view())

    @property
    def playground(self) -> PlaygroundView:
        return cast("PlaygroundView", self.playground_tab.view())

    def show_tab(self, view: QWidget) -> None:
        """Bring `view`'s tab to the front (a lazily built view sits inside its tab)."""
        parent = view.parentWidget()
        self.tabs.setCurrentWidget(parent if isinstance(parent, LazyTab) else view)

    def _build_monitor(self) -> QWidget:
        from studio.ui.monitor.view import MonitorView

        monitor, jobs = MonitorView(self.state), self.jobs
        monitor.demoRequested.connect(self.run_actions.try_demo)
        monitor.runsRequested.connect(lambda: self.show_tab(self.runs_tab))
        strip = monitor.status.resources  # what the training and transfer jobs use
        for slot in (jobs.training, jobs.transfer):
            slot.resources.connect(strip.show_sample)
            slot.ended.connect(strip.job_ended)
        return monitor

    def _build_runs(self) -> QWidget:
        from studio.ui.runs.view import RunsView

        runs, ra, queue = RunsView(self.state.store), self.run_actions, self.queue_actions
        runs.openRuns.connect(self.open_runs)
        runs.demoRequested.connect(ra.try_demo)
        runs.storeRequested.connect(self.files.choose_store)
        runs.resumeRun.connect(ra.resume)
        runs.exportRun.connect(ra.export)
        runs.queue.changed.connect(queue.queue_changed)
        runs.queue.runRequested.connect(queue.run_queue)
        return runs

    def _build_transfer(self) -> QWidget:
        from studio.ui.transfer.actions import TransferActions
        from studio.ui.transfer.view import TransferView

        view = TransferView(self.state)
        TransferActions(self.state, self.jobs, view)  # owned by the view
        return view

    def _build_ablation(self) -> QWidget:
        from studio.ui.ablation.actions import AblationActions
        from studio.ui.ablation.view import AblationView

        view = AblationView(self.state)
        AblationActions(self.state, self.jobs, view, view, self.draft)
        return view

    def _build_playground(self) -> QWidget:
        from studio.ui.playground.actions import PlaygroundActions
        from studio.ui.playground.view import PlaygroundView

        view = PlaygroundView()
        PlaygroundActions(self.state, self.jobs, view)  # owned by the view
        return view

    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:  # a first start: most of the screen (a fixed 1400x900 was cut or cramped)
            area = self.screen().availableGeometry()
            self.setGeometry(QStyle.alignedRect(
                Qt.LayoutDirection.LeftToRight, Qt.AlignmentFlag.AlignCenter,
                first_size(area.size()), area,
            ))  # fmt: skip
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        text = self.settings.value("config_yaml", "")
        try:
            if isinstance(text, str) and text:
                self.draft.apply(config_from_yaml(text, "the remembered config"))
                return
        except StudioError as exc:
            log.warning("ignoring the remembered config: %s", exc)
        # A first start: settings sized for this machine, not a GPU recipe on a laptop.
        self.form.apply_preset(QUICK_LOOK, pristine=True)

    def _probe_device(self) -> None:
        """Ask a child process which device training would use; the window never loads torch."""
        from studio.core.jobs import Job, ProbeRequest

        worker = Worker(Job(ProbeRequest()))
        worker.finished.connect(self._probe_answered)
        worker.failed.connect(self._probe_failed)
        self.probe = worker
        self.jobs.start(worker)

    def _probe_answered(self, result: JobResult) -> None:
        from studio.core.jobs import DeviceResult

        self._probe_done_text(result.text if isinstance(result, DeviceResult) else "")

    def _probe_done_text(self, text: str) -> None:
        self.form.set_device_info(text or "could not detect the device")
        self.preflight.refresh()

    def _probe_failed(self, error: str) -> None:
        log.info("the device probe ended without an answer: %s", error)
        self._probe_done_text("")

    # -- what the window shows --------------------------------------------------------------

    def current_config(self) -> RunConfig:
        """The drafted run: the form's settings and the checked tasks."""
        return self.draft.config()

    def _store_changed(self) -> None:
        self.setWindowTitle(f"Muppet Studio — {self.state.store_path}")
        self._update_actions()

    def open_runs(self, run_ids: list[str]) -> None:
        self.monitor.show_runs(run_ids)
        self.show_tab(self.monitor)
        self._update_actions()

    def _shown_runs(self) -> list[str]:
        """The runs the Monitor shows (none before it is first opened)."""
        return self.monitor.run_ids if self.monitor_tab.built else []

    def shown_run_status(self) -> str | None:
        """The status of the run the Monitor shows first (the one Resume and Export take)."""
        run_id = next(iter(self._shown_runs()), None)
        return self.state.store.status(run_id) if run_id else None

    def _update_actions(self) -> None:
        """What can be done follows one state: the jobs running and the run shown."""
        busy, shown = self.jobs.busy, bool(self._shown_runs())
        self.start_action.setEnabled(not busy)
        self.stop_action.setEnabled(self.jobs.training.running)
        self.menu_actions[A.RUN_QUEUE].setEnabled(not busy)
        self.resume_action.setEnabled(not busy and self.shown_run_status() in RESUMABLE)
        self.export_action.setEnabled(shown and not self.jobs.export.running)

    def show_error(self, title: str, text: str) -> None:
        messages.show_error(self, title, text)
        self.last_error = text

    def _help(self, which: A.Action) -> None:
        from studio.ui import help_menu  # imported when first used: the window opens faster

        if which == A.GUIDE:
            help_menu.GuideDialog(self).show()
        elif which == A.SHORTCUTS:
            help_menu.text_dialog(self, "Keyboard shortcuts", help_menu.shortcuts_html(A.EVERY))
        else:
            help_menu.text_dialog(self, "About Muppet Studio", help_menu.about_html())

    def _ask_to_quit(self) -> None:
        def quit_now() -> None:
            self._quit_asked = True
            self.close()

        messages.ask(
            self, "Quit while training?",
            "A run is training. Quitting stops it after the current update and saves a "
            "checkpoint; Resume continues it later.",
            "Stop and quit", quit_now,
        )  # fmt: skip

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        training = self.jobs.busy  # a training job: pre-finetuning, transfer, ablation, tune
        if training and not self._quit_asked:
            event.ignore()  # ask first: quitting stops the run
            self._ask_to_quit()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        with contextlib.suppress(StudioError):  # an invalid form is simply not remembered
            self.draft.remember(self.draft.config())
        self.settings.sync()
        self.status.setText("Saving a checkpoint before closing…")
        self.jobs.shutdown()
        self.state.store.timer.stop()
        self.state.store.close()
        super().closeEvent(event)

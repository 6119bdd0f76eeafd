"""Add task…: a wizard from the user's files, a saved `datasets` folder or a hub dataset into
the task library. Reading and converting run in the job process (they need `datasets`);
saving is a quick move of the staged records, done here."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from studio.core.errors import StudioError
from studio.core.importing.plan import ImportPlan, SourceTable, StageReport, edit_plan
from studio.core.jobs import Job, JobRequest, JobResult, StageRequest, StageResult
from studio.core.tasks import library
from studio.core.tasks.spec import TaskSpec
from studio.ui.wizard.columns import ColumnsPage
from studio.ui.wizard.pages import (
    CHECK,
    COLUMNS,
    DETAILS,
    LABELS,
    SOURCE,
    SPLITS,
    DetailsPage,
    LabelsPage,
    SplitsPage,
)
from studio.ui.wizard.source import ERROR_STYLE, SourcePage
from studio.ui.worker import Worker


class TaskWizard(QWizard):
    """Collects an ImportPlan page by page; `saved` holds the task's name once it is saved.

    `launch(worker)` starts a job worker on its thread (the window tracks those threads).
    `editing` re-opens a user task: its plan fills every page, and saving replaces it.
    """

    def __init__(
        self,
        catalog: dict[str, TaskSpec],
        launch: Callable[[Worker], Any],
        editing: TaskSpec | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.launch = launch
        self.editing = editing
        self.initial: ImportPlan | None = edit_plan(editing) if editing else None
        self.table: SourceTable | None = None
        self.draft: dict[str, Any] = {}  # ImportPlan fields, filled page by page
        self.report: StageReport | None = None
        self.saved: str | None = None
        self.worker: Worker | None = None
        self._callbacks: tuple[Callable[[Any], None], Callable[[str], None]] | None = None
        self.setWindowTitle(f"Edit task {editing.name}" if editing else "Add task")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.setPage(SOURCE, SourcePage())
        self.setPage(COLUMNS, ColumnsPage())
        self.setPage(SPLITS, SplitsPage())
        self.setPage(LABELS, LabelsPage())
        self.setPage(DETAILS, DetailsPage())
        self.setPage(CHECK, CheckPage())
        self.resize(900, 640)

    # -- jobs ----------------------------------------------------------------------------------

    def run(
        self,
        request: JobRequest,
        on_result: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Run one job in the job process; its result or error comes back here, queued.

        A job still running is stopped: only the newest one's answer is used.
        """
        self._forget()
        self._callbacks = (on_result, on_error)
        worker = Worker(Job(request))
        # Bound methods: Qt queues them to this (GUI) thread.
        worker.finished.connect(self._job_done)
        worker.failed.connect(self._job_failed)
        self.worker = worker
        self.launch(worker)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def _forget(self) -> None:
        """Stop the running job; whatever it still answers is dropped (see `_current`)."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def _current(self, result: JobResult | None = None) -> bool:
        """Whether the answer comes from the job this wizard waits for. A superseded stage
        job's records are dropped: nothing will save them."""
        if self.worker is not None and self.sender() is self.worker:
            self.worker = None
            return True
        if isinstance(result, StageResult):
            library.discard(result.report.folder)
        return False

    def _job_done(self, result: JobResult) -> None:
        if self._current(result) and self._callbacks is not None:
            self._callbacks[0](result)

    def _job_failed(self, error: str) -> None:
        if self._current() and self._callbacks is not None:
            self._callbacks[1](error)

    # -- the plan ------------------------------------------------------------------------------

    def plan(self) -> ImportPlan:
        """The plan the pages describe (raises StudioError when it is not complete)."""
        return ImportPlan(**self.draft)

    def discard_staged(self) -> None:
        if self.report is not None:
            library.discard(self.report.folder)
            self.report = None

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        self._forget()  # a job that answers later is dropped
        if result != QWizard.DialogCode.Accepted.value:
            self.discard_staged()
        super().done(result)


class CheckPage(QWizardPage):
    """Every row converted and checked; problems listed with row and column; then save."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Check and save")
        self.setSubTitle("Every row is converted and checked before anything is saved.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.problems = QTableWidget(0, 4)
        self.problems.setHorizontalHeaderLabels(["Where", "Row", "Column", "Problem"])
        self.problems.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.problems.verticalHeader().hide()
        self.problems.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.skip = QCheckBox("Skip the rows that cannot be used (their count is kept in the task)")
        self.skip.toggled.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.skip)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save task")

    def wizard(self) -> TaskWizard:
        return super().wizard()  # type: ignore[return-value]

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        wizard.discard_staged()
        self.skip.setChecked(False)
        self.skip.hide()
        self.problems.setRowCount(0)
        self.problems.hide()
        self.progress.show()
        self.summary.setStyleSheet("")
        self.summary.setText("Converting and checking every row…")
        plan = wizard.plan()
        # The window owns the staged records (saves or drops them), not the job's process.
        wizard.run(StageRequest(plan, owner=os.getpid()), self._staged, self._fail)

    def cleanupPage(self) -> None:  # noqa: N802 - Qt's name: going back
        self.wizard().discard_staged()

    def _staged(self, result: StageResult) -> None:
        self.progress.hide()
        report = result.report
        self.wizard().report = report
        lines = [
            f"{report.sizes['train']:,} training and {report.sizes['validation']:,} validation "
            "records are ready."
        ]
        if report.unlabelled:
            lines.append(f"{report.unlabelled:,} row(s) without a gold label (-1) are left out.")
        for split, counts in report.label_counts.items():
            if counts:
                shown = ", ".join(f"{k} {v:,}" for k, v in counts.items())
                lines.append(f"{split.capitalize()} labels: {shown}")
        if report.bad_rows:
            listed = len(report.problems)
            lines.append(
                f"\n{report.bad_rows:,} row(s) cannot be used"
                + (f" (the first {listed} are listed)" if listed < report.bad_rows else "")
                + ". Go Back to change the mapping or labels, fix the file, or skip them."
            )
            self._show_problems(report)
        self.summary.setText("\n".join(lines))
        self.completeChanged.emit()

    def _show_problems(self, report: StageReport) -> None:
        self.problems.setRowCount(len(report.problems))
        for row, problem in enumerate(report.problems):
            values = (problem.where, str(problem.row), problem.column, problem.problem)
            for column, value in enumerate(values):
                self.problems.setItem(row, column, QTableWidgetItem(value))
        self.problems.resizeColumnsToContents()
        self.problems.show()
        self.skip.show()

    def _fail(self, error: str) -> None:
        self.progress.hide()
        self.summary.setStyleSheet(ERROR_STYLE)
        self.summary.setText(error.partition("\n\n")[0])

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        report = self.wizard().report
        return report is not None and (report.bad_rows == 0 or self.skip.isChecked())

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        report = wizard.report
        assert report is not None
        replacing = wizard.editing.name if wizard.editing else None
        try:
            library.commit(wizard.plan(), report, wizard.catalog, self.skip.isChecked(), replacing)
        except StudioError as exc:
            wizard.report = None  # commit dropped the staged records
            self._fail(str(exc))
            return False
        wizard.report = None
        wizard.saved = wizard.plan().name
        return True

"""Add task…: a wizard from the user's files, a saved `datasets` folder or a hub dataset into
the task library. Reading and converting run in the job process (they need `datasets`);
saving is a quick move of the staged records, done here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from studio.core import library
from studio.core.errors import StudioError
from studio.core.importing import ImportPlan, SourceRef, SourceTable, StageReport, edit_plan
from studio.core.tasks import TaskSpec
from studio.jobs.client import job_spec
from studio.ui.style import RED
from studio.ui.wizard_columns import ColumnsPage
from studio.ui.wizard_pages import (
    CHECK,
    COLUMNS,
    DETAILS,
    LABELS,
    SOURCE,
    SPLITS,
    DetailsPage,
    LabelsPage,
    SplitsPage,
    note,
)
from studio.ui.worker import Worker

FILE_FILTER = "Data files (*.csv *.tsv *.tab *.json *.jsonl *.ndjson *.parquet *.pq);;All (*)"
ERROR_STYLE = f"color: {RED};"


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
        kind: str,
        on_result: Callable[[Any], None],
        on_error: Callable[[str], None],
        **fields: Any,
    ) -> None:
        """Run one job in the job process; its result or error comes back here, queued.

        A job still running is stopped: only the newest one's answer is used.
        """
        self._forget()
        self._callbacks = (on_result, on_error)
        worker = Worker(job_spec(kind, **fields))
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

    def _current(self, result: Any = None) -> bool:
        """Whether the answer comes from the job this wizard waits for. A superseded stage
        job's records are dropped: nothing will save them."""
        if self.worker is not None and self.sender() is self.worker:
            self.worker = None
            return True
        if isinstance(result, dict) and "folder" in result and "sizes" in result:
            library.discard(result["folder"])
        return False

    def _job_done(self, result: Any) -> None:
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


class SourcePage(QWizardPage):
    """Where the data is: files, a folder, or a hub dataset."""

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Source")
        self.setSubTitle(
            "Pick your data: one file (a validation set is carved from it) or one per split, "
            "a folder saved by datasets, or a dataset on the Hugging Face hub."
        )
        self.kinds = QButtonGroup(self)
        self.stack = QStackedWidget()
        radios = QHBoxLayout()
        for index, (kind, text) in enumerate(
            (("files", "File(s)"), ("folder", "Folder"), ("hub", "Hugging Face hub"))
        ):
            radio = QRadioButton(text)
            radio.setObjectName(kind)
            self.kinds.addButton(radio, index)
            radios.addWidget(radio)
        radios.addStretch(1)
        self.kinds.idToggled.connect(lambda i, on: on and self.stack.setCurrentIndex(i))
        self.train_file, self.validation_file = QLineEdit(), QLineEdit()
        self.train_file.setPlaceholderText("CSV, TSV, JSON/JSONL or Parquet")
        self.validation_file.setPlaceholderText("optional: a second file for validation")
        files = QFormLayout()
        files.addRow("Data (train) file", _browse_row(self.train_file, self._pick_file))
        files.addRow("Validation file", _browse_row(self.validation_file, self._pick_file))
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("written by save_to_disk, or holding one file per split")
        folder = QFormLayout()
        folder.addRow("Folder", _browse_row(self.folder, self._pick_folder))
        self.hub_id, self.hub_config = QLineEdit(), QLineEdit()
        self.hub_revision, self.hub_data_dir = QLineEdit(), QLineEdit()
        self.hub_id.setPlaceholderText("owner/name, e.g. stanfordnlp/imdb")
        self.hub_config.setPlaceholderText("optional: config (subset) name")
        self.hub_revision.setPlaceholderText(
            "optional: branch, tag, commit or refs/convert/parquet"
        )
        self.hub_data_dir.setPlaceholderText("optional: a folder of the repository, e.g. default")
        hub = QFormLayout()
        hub.addRow("Dataset id", self.hub_id)
        hub.addRow("Config", self.hub_config)
        hub.addRow("Revision", self.hub_revision)
        hub.addRow("Folder in the repository", self.hub_data_dir)
        hub.addRow(
            note(
                "Loaded offline from the Hugging Face cache when it is there. A repository with a "
                "loading script loads through its parquet export: revision refs/convert/parquet, "
                "with the config's folder (e.g. default) as the folder in the repository."
            )
        )
        for form in (files, folder, hub):
            holder = QWidget()
            holder.setLayout(form)
            self.stack.addWidget(holder)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(radios)
        layout.addWidget(self.stack)
        layout.addStretch(1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.kinds.button(0).setChecked(True)

    def wizard(self) -> TaskWizard:  # type: ignore[override]
        return super().wizard()  # type: ignore[return-value]

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        plan = self.wizard().initial
        if plan is None or self.wizard().table is not None:
            return
        ref = plan.source
        self.kinds.button(("files", "folder", "hub").index(ref.kind)).setChecked(True)
        if ref.kind == "files":
            self.train_file.setText(ref.path)
            self.validation_file.setText(ref.validation or "")
        elif ref.kind == "folder":
            self.folder.setText(ref.path)
        else:
            self.hub_id.setText(ref.path)
            self.hub_config.setText(ref.config or "")
            self.hub_revision.setText(ref.revision or "")
            self.hub_data_dir.setText(ref.data_dir or "")

    def source(self) -> SourceRef:
        kind = self.kinds.checkedButton().objectName()
        if kind == "files":
            return SourceRef(
                "files",
                self.train_file.text().strip(),
                validation=self.validation_file.text().strip() or None,
            )
        if kind == "folder":
            return SourceRef("folder", self.folder.text().strip())
        return SourceRef(
            "hub",
            self.hub_id.text().strip(),
            config=self.hub_config.text().strip() or None,
            revision=self.hub_revision.text().strip() or None,
            data_dir=self.hub_data_dir.text().strip() or None,
        )

    def validatePage(self) -> bool:  # noqa: N802 - Qt's name
        wizard = self.wizard()
        if wizard.busy:
            return False
        try:
            ref = self.source()
        except StudioError as exc:
            self._fail(str(exc))
            return False
        if wizard.table is not None and _same_source(wizard.table.source, ref):
            return True
        self.status.setStyleSheet("")
        self.status.setText(f"Reading {ref.describe()}…")
        self.progress.show()
        wizard.run("inspect", self._inspected, self._fail, source=dataclasses.asdict(ref))
        return False

    def _inspected(self, value: dict[str, Any]) -> None:
        self.progress.hide()
        self.status.setText("")
        wizard = self.wizard()
        table = SourceTable.from_dict(value)
        try:
            still = _same_source(table.source, self.source())
        except StudioError:
            still = False
        if not still:  # the user typed another source meanwhile
            return
        wizard.table = table
        wizard.draft = {}
        wizard.next()

    def _fail(self, error: str) -> None:
        self.progress.hide()
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(error.partition("\n\n")[0])

    def _pick_file(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Data file", edit.text(), FILE_FILTER)
        if path:
            edit.setText(path)

    def _pick_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", edit.text())
        if folder:
            edit.setText(folder)


def _same_source(a: SourceRef, b: SourceRef) -> bool:
    keys = ("kind", "path", "validation", "config", "revision", "data_dir")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def _browse_row(edit: QLineEdit, pick: Callable[[QLineEdit], None]) -> QHBoxLayout:
    button = QPushButton("Browse…")
    button.clicked.connect(lambda: pick(edit))
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


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

    def wizard(self) -> TaskWizard:  # type: ignore[override]
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
        wizard.run("stage", self._staged, self._fail, plan=plan.to_dict())

    def cleanupPage(self) -> None:  # noqa: N802 - Qt's name: going back
        self.wizard().discard_staged()

    def _staged(self, value: dict[str, Any]) -> None:
        self.progress.hide()
        report = StageReport.from_dict(value)
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

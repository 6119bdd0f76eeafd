"""The Runs tab: every run in the store; open, overlay, compare configs, delete, resume, export."""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedLayout,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.experiments.transfer import run_tasks
from studio.core.paths import checkpoint_label
from studio.core.run_record import Run
from studio.core.segments import first_start, worked_seconds
from studio.store import RESUMABLE
from studio.ui.empty_state import EmptyState
from studio.ui.header_style import use_sort_arrows
from studio.ui.runs.config_diff import ConfigDiff
from studio.ui.runs.queue_view import QueueView
from studio.ui.runs.takeaway import export_metrics_dialog, report_dialog
from studio.ui.state import StoreWatcher
from studio.ui.style import STATUS_COLOURS
from studio.ui.text import date_time, run_duration

COLUMNS = (
    "Name",
    "Status",
    "Kind",
    "Base model",
    "Tasks",
    "Steps",
    "Best mean metric",
    "Started",
    "Duration",
    "Id",
)
KIND_COLUMN, STARTED_COLUMN = COLUMNS.index("Kind"), COLUMNS.index("Started")
STEPS_COLUMN = COLUMNS.index("Steps")
KINDS = (
    ("All kinds", ""),
    ("Pre-finetuning", "pretrain"),
    ("Transfer experiments", "transfer"),
    ("Fine-tuning", "finetune"),
    ("Sweeps", "sweep"),
    ("Ablations", "ablation"),
)


def _model_name(path: str) -> str:
    """A folder's name; a run's checkpoint as "<run id> <step-N>"."""
    folder = Path(path)
    if "/" not in path or not folder.exists():
        return path
    return checkpoint_label(folder) or folder.name


class _RunFilter(QSortFilterProxyModel):
    """Rows of one kind (or all) whose name or id contains the search text."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.kind = ""
        self.text = ""

    def set_filter(self, kind: str, text: str) -> None:
        # Qt 6.10 brings endFilterChange() and deprecates the invalidate*Filter() calls.
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()
            self.kind, self.text = kind, text.strip().lower()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.kind, self.text = kind, text.strip().lower()
            self.invalidateRowsFilter()

    def filterAcceptsRow(  # noqa: N802 - Qt's name
        self, row: int, parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        model = self.sourceModel()
        kind = model.index(row, KIND_COLUMN, parent).data()
        if self.kind and kind != self.kind:
            return False
        name = str(model.index(row, 0, parent).data()).lower()
        run_id = str(model.index(row, 0, parent).data(Qt.ItemDataRole.UserRole + 1)).lower()
        return self.text in name or self.text in run_id


class RunsView(QWidget):
    """A sortable table of runs with the actions a user takes on them."""

    openRuns = Signal(list)  # run ids to plot (first is the primary)
    resumeRun = Signal(str)
    exportRun = Signal(str)
    reportRun = Signal(str)
    demoRequested = Signal()  # the empty state's buttons
    storeRequested = Signal()

    def __init__(self, watcher: StoreWatcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self._build_table()
        buttons = self._build_buttons()
        buttons.addStretch(1)
        # A row of its own: beside the buttons it would widen the tab and squeeze the task list.
        filters = self._build_filters()
        table_page = QWidget()
        layout = QVBoxLayout(table_page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.queue = QueueView(watcher)  # queued runs, in the order they will train
        self.queue.changed.connect(self.refresh)
        layout.addWidget(self.queue)
        layout.addLayout(buttons)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        self.empty = EmptyState(
            "No runs yet",
            "",
            (
                ("Try the demo", "A one-minute run on the synthetic demo tasks",
                 self.demoRequested.emit),
                ("Open run store…", "Follow another run store file", self.storeRequested.emit),
            ),
        )  # fmt: skip
        self.pages = QStackedLayout(self)
        self.pages.addWidget(table_page)
        self.pages.addWidget(self.empty)
        self.runs: dict[str, Run] = {}
        self.refresh()
        # Runs change status in other processes (a window's job, a CLI resume): follow them,
        # so what Delete and Resume offer is what is true now.
        watcher.runsChanged.connect(self.refresh)
        watcher.stepsChanged.connect(self._update_steps)

    def _build_table(self) -> None:
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = _RunFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        # A long name is elided (whole in its tooltip), so Duration and Id stay in view.
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.setColumnWidth(0, 260)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        use_sort_arrows(self.table.horizontalHeader())  # newest first shows ▼, not ▲
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.doubleClicked.connect(lambda _: self._open())
        self.reportRun.connect(lambda run_id: report_dialog(self, self.store_path, run_id))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

    def _build_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, label, tip, slot in [
            ("open", "Open", "Plot the selected run in the Monitor tab", self._open),
            ("overlay", "Overlay", "Plot all selected runs together", self._open),
            (
                "diff",
                "Compare configs",
                "Show the settings that differ between selected runs",
                self._diff,
            ),
            (
                "resume",
                "Resume",
                "Continue a stopped or interrupted run from its latest checkpoint",
                lambda: self._emit_one(self.resumeRun),
            ),
            (
                "export",
                "Export…",
                "Export a checkpoint of the selected run",
                lambda: self._emit_one(self.exportRun),
            ),
            (
                "metrics",
                "Export metrics…",
                "Save every metric row of the selected runs as one CSV or Parquet table",
                lambda: export_metrics_dialog(self, self.store_path, self.selected()),
            ),
            (
                "report",
                "Report…",
                "Write one self-contained HTML report of the selected run (config, task mix,"
                " curves, results tables, environment)",
                lambda: self._emit_one(self.reportRun),
            ),
            (
                "delete",
                "Delete",
                "Delete the selected runs, their metrics and checkpoints",
                self._delete,
            ),
            ("refresh", "Refresh", "Read the store again", self.refresh),
        ]:
            button = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[key] = button
        return buttons

    def _build_filters(self) -> QHBoxLayout:
        self.kind_combo = QComboBox()
        for label, kind in KINDS:
            self.kind_combo.addItem(label, kind)
        self.kind_combo.setToolTip(
            "Show runs of one kind; a transfer experiment's fine-tuning runs are 'Fine-tuning'"
        )
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search name or id…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip("Show only runs whose name or id contains this text")
        self.kind_combo.currentIndexChanged.connect(self._filter)
        self.search_edit.textChanged.connect(self._filter)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show"))
        filters.addWidget(self.kind_combo)
        filters.addWidget(self.search_edit, 1)
        return filters

    @property
    def store_path(self) -> Path:
        return self.watcher.path

    def refresh(self) -> None:
        """Reload the table from the store, keeping the selection."""
        selected = self.selected()
        runs, best = self.watcher.read(lambda store: (store.list_runs(), store.best_values()))
        self.queue.refresh()
        self.runs = {r.id: r for r in runs}
        self.model.removeRows(0, self.model.rowCount())
        for run in runs:
            self.model.appendRow(self._row(run, best.get(run.id)))
        self.table.sortByColumn(STARTED_COLUMN, Qt.SortOrder.DescendingOrder)
        self.select(selected)
        self._update_buttons()
        self.empty.set_text(
            f"The run store {html.escape(str(self.store_path))} holds no run. Check tasks in the "
            "Tasks panel and press <b>Start</b> (Ctrl+R); every run, stopped or finished, is "
            "listed here to open, compare, resume or export. From a terminal: "
            "<code>muppet-studio-cli demo</code>."
        )
        self.pages.setCurrentIndex(0 if runs else 1)  # the table, or the empty state

    def _update_steps(self) -> None:
        """Runs moved on: their Steps cells follow the watcher's states."""
        states = self.watcher.states
        for row in range(self.model.rowCount()):
            item = self.model.item(row, STEPS_COLUMN)
            run = self.runs[item.data(Qt.ItemDataRole.UserRole + 1)]
            step = states.get(run.id, (None, run.step))[1]
            if step != run.step:
                self.runs[run.id] = replace(run, step=step)
                item.setText(f"{step} / {run.max_steps or '?'}")
                item.setData(step, Qt.ItemDataRole.UserRole)

    def show_kind(self, kind: str) -> None:
        """Show runs of one kind ("pretrain", "finetune", "transfer", "sweep"), or "" for all."""
        index = self.kind_combo.findData(kind)
        if index < 0:
            raise ValueError(f"unknown run kind {kind!r}")
        self.kind_combo.setCurrentIndex(index)

    def visible_ids(self) -> list[str]:
        """The ids of the rows the filter shows, top to bottom."""
        role = Qt.ItemDataRole.UserRole + 1
        return [self.proxy.index(row, 0).data(role) for row in range(self.proxy.rowCount())]

    def _filter(self, *_: object) -> None:
        self.proxy.set_filter(self.kind_combo.currentData() or "", self.search_edit.text())
        self._update_buttons()

    def _row(self, run: Run, best: float | None) -> list[QStandardItem]:
        tasks = run_tasks(run.config)
        started = first_start(run) or run.created  # a resumed run: its first session's
        values = [
            (run.name, run.name),
            (run.status, run.status),
            (run.kind, run.kind),
            (_model_name(run.base_model), run.base_model),
            (str(len(tasks)), len(tasks)),
            (f"{run.step} / {run.max_steps or '?'}", run.step),
            ("" if best is None else f"{best:.4f}", -1.0 if best is None else best),
            (date_time(started), started),
            (run_duration(run), worked_seconds(run)),  # the sum of its sessions
            (run.id, run.id),
        ]
        items = []
        for text, key in values:
            item = QStandardItem(text)
            item.setData(key, Qt.ItemDataRole.UserRole)
            item.setData(run.id, Qt.ItemDataRole.UserRole + 1)
            items.append(item)
        items[0].setToolTip(f"{run.name}\n{', '.join(tasks)}")
        if run.error:
            items[1].setToolTip(run.error)
        colour = STATUS_COLOURS.get(run.status)
        if colour:
            items[1].setForeground(QColor(colour))
        return items

    def selected(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows()
        return [r.data(Qt.ItemDataRole.UserRole + 1) for r in sorted(rows, key=lambda r: r.row())]

    def select(self, run_ids: list[str]) -> None:
        selection = self.table.selectionModel()
        proxy = self.table.model()
        for row in range(proxy.rowCount()):
            index = proxy.index(row, 0)
            if index.data(Qt.ItemDataRole.UserRole + 1) in run_ids:
                selection.select(
                    index, selection.SelectionFlag.Select | selection.SelectionFlag.Rows
                )

    def _update_buttons(self) -> None:
        ids = self.selected()
        one = len(ids) == 1
        status = self.runs[ids[0]].status if one and ids[0] in self.runs else ""
        self.buttons["open"].setEnabled(one)
        self.buttons["overlay"].setEnabled(len(ids) > 1)
        self.buttons["diff"].setEnabled(len(ids) > 1)
        self.buttons["resume"].setEnabled(status in RESUMABLE)
        self.buttons["export"].setEnabled(one)
        self.buttons["metrics"].setEnabled(bool(ids))
        self.buttons["report"].setEnabled(one)
        self.buttons["delete"].setEnabled(bool(ids) and status != "running")

    def _open(self) -> None:
        if self.selected():
            self.openRuns.emit(self.selected())

    def _emit_one(self, signal: Any) -> None:
        if len(self.selected()) == 1:
            signal.emit(self.selected()[0])

    def _delete(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        ids = [i for i in self.selected() if self.runs[i].status != "running"]
        if not ids:
            return
        answer = QMessageBox.question(
            self, "Delete runs", f"Delete {len(ids)} run(s) with their metrics and checkpoints?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        refused = self.watcher.read(lambda store: store.delete_runs(ids))
        self.watcher.poll()
        if refused:
            QMessageBox.warning(self, "Some runs were not deleted", "\n\n".join(refused))

    def _diff(self) -> None:
        ids = self.selected()
        dialog = ConfigDiff({i: self.runs[i] for i in ids}, self)
        dialog.exec()

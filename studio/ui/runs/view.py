"""The Runs tab: every run in the store, found by words, tags and filters; open, overlay,
compare, label (rename, tags, notes, star), resume, export, report and delete them."""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QSplitter,
    QStackedLayout,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.paths import checkpoint_label
from studio.core.run_query import RunQuery, matches
from studio.core.run_record import Run, run_tasks
from studio.core.segments import first_start, worked_seconds
from studio.store import RESUMABLE
from studio.ui.empty_state import EmptyState
from studio.ui.header_style import use_sort_arrows
from studio.ui.runs.details import RunDetails
from studio.ui.runs.filter_bar import FilterBar
from studio.ui.runs.queue_view import QueueView
from studio.ui.state import StoreWatcher
from studio.ui.style import STATUS_COLOURS
from studio.ui.text import date_time, run_duration

if TYPE_CHECKING:
    from studio.ui.runs.compare_view import CompareView

COLUMNS = (
    "Name",
    "Tags",
    "Status",
    "Kind",
    "Base model",
    "Tasks",
    "Steps",
    "Best mean",
    "Started",
    "Duration",
    "Id",
)
STARTED_COLUMN, STEPS_COLUMN = COLUMNS.index("Started"), COLUMNS.index("Steps")
# Columns that can hold long text get a width of their own and elide (whole in the tooltip), so
# Duration and Id stay in view at any window width the window allows.
ELIDED = {"Name": 240, "Tags": 90, "Base model": 120}


def _model_name(path: str) -> str:
    """A folder's name; a run's checkpoint as "<run id> <step-N>"."""
    folder = Path(path)
    if "/" not in path or not folder.exists():
        return path
    return checkpoint_label(folder) or folder.name


class _RunFilter(QSortFilterProxyModel):
    """Rows that pass the filter bar's query (core.run_query); `found`: the ids the store's
    full-text search matched (None: no words to search)."""

    def __init__(self, parent: QWidget, runs: dict[str, Run]) -> None:
        super().__init__(parent)
        self.runs = runs
        self.query = RunQuery()
        self.found: set[str] | None = None

    def set_filter(self, query: RunQuery, found: set[str] | None) -> None:
        # Qt 6.10 brings endFilterChange() and deprecates the invalidate*Filter() calls.
        if hasattr(self, "endFilterChange"):
            self.beginFilterChange()
            self.query, self.found = query, found
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.query, self.found = query, found
            self.invalidateRowsFilter()

    def filterAcceptsRow(  # noqa: N802 - Qt's name
        self, row: int, parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        run_id = self.sourceModel().index(row, 0, parent).data(Qt.ItemDataRole.UserRole + 1)
        run = self.runs.get(run_id)
        return run is not None and matches(run, self.query, self.found)


class RunsView(QWidget):
    """A sortable table of runs with the actions a user takes on them."""

    openRuns = Signal(list)  # run ids to plot (first is the primary)
    resumeRun = Signal(str)
    exportRun = Signal(str)
    reportRun = Signal(str)
    metadataChanged = Signal()  # a run was renamed, tagged, noted or starred here
    demoRequested = Signal()  # the empty state's buttons
    storeRequested = Signal()

    def __init__(self, watcher: StoreWatcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self.runs: dict[str, Run] = {}
        self._build_table()
        buttons = self._build_buttons()
        buttons.addStretch(1)
        # A row of its own: beside the buttons it would widen the tab and squeeze the task list.
        self.filters = FilterBar()
        self.filters.changed.connect(self._filter)
        self.search_edit, self.kind_combo = self.filters.search_edit, self.filters.kind_combo
        self.details = RunDetails()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 140])
        table_page = QWidget()
        layout = QVBoxLayout(table_page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.queue = QueueView(watcher)  # queued runs, in the order they will train
        self.queue.changed.connect(self.refresh)
        layout.addWidget(self.queue)
        layout.addLayout(buttons)
        layout.addWidget(self.filters)
        layout.addWidget(split, 1)
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
        self.refresh()
        # Runs change status in other processes (a window's job, a CLI resume): follow them,
        # so what Delete and Resume offer is what is true now.
        watcher.runsChanged.connect(self.refresh)
        watcher.stepsChanged.connect(self._update_steps)

    def _build_table(self) -> None:
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.model.setHeaderData(
            COLUMNS.index("Best mean"),
            Qt.Orientation.Horizontal,
            "The best validation mean the run logged",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.proxy = _RunFilter(self, self.runs)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # The Name column takes what the others leave (a long name elides, whole in its
        # tooltip); the last column is not stretched, so Id is never pushed past the edge.
        header.setStretchLastSection(False)
        for name, width in ELIDED.items():
            column = COLUMNS.index(name)
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        use_sort_arrows(self.table.horizontalHeader())  # newest first shows ▼, not ▲
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.doubleClicked.connect(lambda _: self._open())
        self.reportRun.connect(self._report)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

    def _build_buttons(self) -> QHBoxLayout:
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, label, tip, slot in [
            ("open", "Open", "Plot the selected run in the Monitor tab", self._open),
            ("overlay", "Overlay", "Plot all selected runs together", self._open),
            (
                "compare",
                "Compare…",
                "The selected runs side by side: each task's final and best validation metric,"
                " the settings that differ, and a parallel-coordinates plot",
                self._compare,
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
                self._export_metrics,
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

    @property
    def store_path(self) -> Path:
        return self.watcher.path

    def refresh(self) -> None:
        """Reload the table from the store, keeping the selection."""
        selected = self.selected()
        runs, best, tags = self.watcher.read(
            lambda store: (store.list_runs(), store.best_values(), store.all_tags())
        )
        self.queue.refresh()
        self.runs.clear()  # the filter reads the same dict
        self.runs.update((r.id, r) for r in runs)
        self.filters.set_choices(runs, tags)
        self.model.removeRows(0, self.model.rowCount())
        for run in runs:
            self.model.appendRow(self._row(run, best.get(run.id)))
        self.table.sortByColumn(STARTED_COLUMN, Qt.SortOrder.DescendingOrder)
        self._filter()  # the words' matches may have changed (a rename, a note, a new run)
        self.select(selected)
        self._selection_changed()
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
        query = self.filters.query()
        found = (
            self.watcher.read(lambda store: store.search_ids(query.text)) if query.text else None
        )
        self.proxy.set_filter(query, found)
        self._selection_changed()

    def _row(self, run: Run, best: float | None) -> list[QStandardItem]:
        tasks = run_tasks(run.config)
        started = first_start(run) or run.created  # a resumed run: its first session's
        star = "★ " if run.starred else ""
        values = [
            (star + run.name, run.name),
            (", ".join(run.tags), ", ".join(run.tags)),
            (run.status, run.status),
            (run.kind, run.kind),
            (_model_name(run.base_model), run.base_model),
            (str(len(tasks)) if tasks else "—", len(tasks)),
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
        notes = f"\n\n{run.notes}" if run.notes else ""
        items[0].setToolTip(f"{run.name}\n{', '.join(tasks)}{notes}")
        items[1].setToolTip(items[1].text())
        items[COLUMNS.index("Base model")].setToolTip(run.base_model)
        status = items[COLUMNS.index("Status")]
        if run.error:
            status.setToolTip(run.error)
        colour = STATUS_COLOURS.get(run.status)
        if colour:
            status.setForeground(QColor(colour))
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
        self.buttons["compare"].setEnabled(len(ids) > 1)
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

    def _selection_changed(self) -> None:
        self._update_buttons()
        ids = self.selected()
        run = self.runs.get(ids[0]) if len(ids) == 1 else None
        manifests = self.watcher.read(lambda store: store.manifests(run.id)) if run else []
        self.details.show_run(run, manifests)

    def _report(self, run_id: str) -> None:
        from studio.ui.runs.takeaway import (
            report_dialog,  # imported when first used: the window opens faster
        )

        report_dialog(self, self.store_path, run_id)

    def _export_metrics(self) -> None:
        from studio.ui.runs.takeaway import (
            export_metrics_dialog,  # imported when first used: the window opens faster
        )

        export_metrics_dialog(self, self.store_path, self.selected())

    def compare_view(self) -> CompareView | None:
        """The Compare view of the selected runs (two or more), not yet shown."""
        runs = [self.runs[i] for i in self.selected() if i in self.runs]
        if len(runs) < 2:
            return None
        from studio.ui.runs.compare_view import (
            CompareView,  # imported when first used: the window opens faster
        )

        rows = self.watcher.read(lambda store: {r.id: store.validation_rows(r.id) for r in runs})
        view = CompareView(runs, rows, self)
        view.overlayRequested.connect(self.openRuns.emit)
        return view

    def _compare(self) -> None:
        view = self.compare_view()
        if view is not None:
            view.exec()

    def context_menu(self) -> QMenu:
        """The right-click menu for the selected runs."""
        from studio.ui.runs.run_menu import (  # imported when first used: the window opens faster
            MenuActions,
            build_menu,
        )

        actions = MenuActions(
            open=self._open,
            compare=self._compare,
            resume=lambda: self._emit_one(self.resumeRun),
            export=lambda: self._emit_one(self.exportRun),
            report=lambda: self._emit_one(self.reportRun),
            delete=self._delete,
            changed=self._metadata_changed,
        )
        runs = [self.runs[i] for i in self.selected() if i in self.runs]
        return build_menu(self, self.watcher, runs, actions)

    def _menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row()):
            self.table.clearSelection()  # a right-click on another row acts on that row
            self.table.selectRow(index.row())
        if self.selected():
            self.context_menu().exec(self.table.viewport().mapToGlobal(position))

    def _metadata_changed(self) -> None:
        self.refresh()
        self.metadataChanged.emit()

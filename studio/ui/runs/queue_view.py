"""The run queue in the Runs tab: queued runs in the order they will train; remove, move up,
move down, and Run queue."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.run_record import Run, run_tasks
from studio.ui import messages
from studio.ui.state import StoreWatcher

log = logging.getLogger(__name__)

COLUMNS = ("#", "Name", "Tasks", "Steps", "Base model", "Id")


class QueueView(QWidget):
    """The queued runs, next first; hidden while the queue is empty."""

    runRequested = Signal()  # Run queue
    changed = Signal()  # a run was removed or moved

    def __init__(self, watcher: StoreWatcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self.ids: list[str] = []
        self.title = QLabel()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setMaximumHeight(180)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        bar = QHBoxLayout()
        bar.addWidget(self.title)
        bar.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        for key, label, tip, slot in (
            ("up", "Move up", "Train the selected run earlier", lambda: self._move(-1)),
            ("down", "Move down", "Train the selected run later", lambda: self._move(1)),
            ("remove", "Remove", "Take the selected run out of the queue", self._remove),
            ("run", "Run queue", "Train the queued runs one after another", self.runRequested),
        ):
            button = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            bar.addWidget(button)
            self.buttons[key] = button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        self.hide()  # until `refresh` finds queued runs (its owner calls it once it holds it)

    def refresh(self) -> None:
        """Read the queue again, keeping the selected run selected."""
        chosen = self.selected()
        runs = self.watcher.read(lambda store: store.queued_runs())
        self.ids = [r.id for r in runs]
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            for column, text in enumerate(_cells(row, run)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, run.id)
                if column == 2:
                    item.setToolTip(", ".join(run_tasks(run.config)))
                self.table.setItem(row, column, item)
        if chosen in self.ids:
            self.table.selectRow(self.ids.index(chosen))
        self.title.setText(f"<b>Queue</b>: {len(runs)} run(s) waiting, next at the top")
        self.setVisible(bool(runs))
        self._update_buttons()

    def selected(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.ids[rows[0].row()] if rows and rows[0].row() < len(self.ids) else None

    def _update_buttons(self) -> None:
        run_id = self.selected()
        row = self.ids.index(run_id) if run_id else -1
        self.buttons["up"].setEnabled(row > 0)
        self.buttons["down"].setEnabled(0 <= row < len(self.ids) - 1)
        self.buttons["remove"].setEnabled(row >= 0)

    def _move(self, by: int) -> None:
        run_id = self.selected()
        if run_id is not None:
            self._change(lambda store: store.move_queued(run_id, self.ids.index(run_id) + by))

    def _remove(self) -> None:
        run_id = self.selected()
        if run_id is not None:
            self._change(lambda store: store.remove_queued(run_id))

    def _change(self, change: Any) -> None:
        try:
            self.watcher.read(change)
        except StudioError as exc:  # a worker started the run meanwhile
            messages.show_error(self, "The queue changed", str(exc))
        self.refresh()
        self.changed.emit()


def _cells(row: int, run: Run) -> tuple[str, ...]:
    tasks = run_tasks(run.config)
    return (
        str(row + 1),
        run.name,
        f"{len(tasks)}: {', '.join(tasks)}",
        str(run.max_steps or "?"),
        run.base_model,
        run.id,
    )

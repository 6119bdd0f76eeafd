"""The manual loss weights: one row per checked task, each weight edited in a field over
exactly the range a run config allows (and kept to the last bit)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from studio.core.config.run import MANUAL_WEIGHT
from studio.core.config.settings import Setting
from studio.ui.configure.setting_fields import NumberField

WEIGHT = Setting("Loss weight", "", "float", range=MANUAL_WEIGHT, step=0.1)


class _WeightDelegate(QStyledItemDelegate):
    """Edits a manual loss weight with a bounded spin box (weights must be >= 0)."""

    def __init__(self, tip: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.tip = tip

    def createEditor(self, parent: QWidget, option: object, index: object) -> QWidget:
        spin = NumberField(WEIGHT, parent)
        spin.setFrame(False)
        spin.setToolTip(self.tip)
        return spin


class WeightTable(QTableWidget):
    """Task and loss weight; weights typed for a task are kept while other tasks come and go."""

    edited = Signal()

    def __init__(self, tip: str, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.weights: dict[str, float] = {}
        self._tasks: list[str] = []
        self.setHorizontalHeaderLabels(["Task", "Loss weight"])
        self.setToolTip(tip)
        self.verticalHeader().setVisible(False)
        self.setAlternatingRowColors(True)
        self.setItemDelegateForColumn(1, _WeightDelegate(tip, self))
        self.setEditTriggers(QTableWidget.EditTrigger.AllEditTriggers)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setMinimumHeight(150)
        self.itemChanged.connect(self._item_changed)

    def set_tasks(self, tasks: list[str]) -> None:
        self._tasks = list(tasks)
        self._fill()

    def set_weights(self, weights: dict[str, float]) -> None:
        self.weights = dict(weights)
        self._fill()

    def setting_value(self) -> dict[str, float]:
        """Every weight typed so far (the form keeps those of the checked tasks)."""
        return dict(self.weights)

    def set_setting_value(self, value: dict[str, float]) -> None:
        """A config's weights; those typed for other tasks are kept."""
        self.set_weights({**self.weights, **value})

    def _fill(self) -> None:
        """One row per task, keeping weights already typed for tasks seen before."""
        self.blockSignals(True)  # rows being filled are not edits
        self.setRowCount(len(self._tasks))
        for row, task in enumerate(self._tasks):
            name = QTableWidgetItem(task)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.setItem(row, 0, name)
            weight = QTableWidgetItem()
            weight.setData(Qt.ItemDataRole.EditRole, float(self.weights.get(task, 1.0)))
            weight.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            weight.setToolTip(f"Loss weight of {task}; 0 leaves it out of the objective.")
            self.setItem(row, 1, weight)
        self.blockSignals(False)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        name = self.item(item.row(), 0)
        if item.column() == 1 and name is not None:
            task = name.text()
            self.weights[task] = float(item.data(Qt.ItemDataRole.EditRole))
            self.edited.emit()

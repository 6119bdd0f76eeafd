"""The Monitor's task list: the colour of each task's curves, and a box to show or hide them."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.plotting.plots import RUN_STYLES, palette
from studio.ui.style import RUN_COLOURS
from studio.ui.widgets import hbox


class TaskLegend(QWidget):
    """Every task of the shown runs with its colour swatch; ticking one emits `toggled`."""

    toggled = Signal(str, bool)  # task, visible

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours: dict[str, QColor] = {}  # insertion order: the task order
        self.list = QListWidget()
        self.list.setToolTip("Tick the tasks to show in the per-task plots")
        self.list.itemChanged.connect(
            lambda item: self.toggled.emit(item.text(), item.checkState() == Qt.CheckState.Checked)
        )
        show_all, show_none = QPushButton("All"), QPushButton("None")
        show_all.clicked.connect(lambda: self._toggle_all(True))
        show_none.clicked.connect(lambda: self._toggle_all(False))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Tasks"))
        layout.addWidget(self.list, 1)
        layout.addLayout(hbox(show_all, show_none))

    def _toggle_all(self, visible: bool) -> None:
        for task in list(self.colours):
            self.toggled.emit(task, visible)

    def add(self, task: str) -> bool:
        """List a task, checked; returns whether it was new (then every colour changed)."""
        if task in self.colours:
            return False
        self.colours[task] = QColor()
        # A new task changes the palette size; recolour all so colours stay distinct.
        self.colours = dict(zip(self.colours, palette(len(self.colours)), strict=True))
        self.list.blockSignals(True)
        item = QListWidgetItem(task)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.list.addItem(item)
        for i, colour in enumerate(self.colours.values()):
            pixmap = QPixmap(12, 12)
            pixmap.fill(colour)
            self.list.item(i).setIcon(QIcon(pixmap))
        self.list.blockSignals(False)
        return True

    def set_checked(self, task: str, checked: bool) -> None:
        """Tick or untick a task's box without emitting `toggled`."""
        self.list.blockSignals(True)
        for item in self.list.findItems(task, Qt.MatchFlag.MatchExactly):
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)

    def clear(self) -> None:
        self.colours.clear()
        self.list.clear()

    def pen(self, run_index: int, task: str | None, name: str) -> tuple[QColor, Qt.PenStyle, float]:
        """How a curve is drawn (colour, line style, width): a task's colour and its run's
        line style; a run-wide curve in its run's colour. The validation mean is thick, in
        its run's line style: dashes mean "the second run" on every plot."""
        style = RUN_STYLES[run_index % len(RUN_STYLES)]
        if task is not None:
            return self.colours[task], style, 1.5
        colour = QColor(RUN_COLOURS[run_index % len(RUN_COLOURS)])
        if name == "eval_mean":
            return (QColor("#333333") if run_index == 0 else colour), style, 3.0
        return colour, Qt.PenStyle.SolidLine, 1.5

"""Compare runs: each task's final and best validation metric side by side with the best cell
marked, the settings that differ, and a parallel-coordinates plot of the differing numeric
settings against a chosen metric; its button overlays the runs' curves in the Monitor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.compare import (
    MEAN,
    Comparison,
    EvalRow,
    compare_runs,
    metric_axes,
    numeric_differences,
)
from studio.core.run_record import Run
from studio.ui.runs.config_diff import ConfigDiffTable
from studio.ui.runs.parallel import ParallelCoordinates

BEST = QColor("#d8f0d8")


def metrics_table(comparison: Comparison) -> QTableWidget:
    """A row per (task, metric), a final and a best column per run; the best of each column
    pair's row is bold on green, with ★."""
    runs = comparison.runs
    table = QTableWidget(len(comparison.rows), 2 + 2 * len(runs))
    header = ["task", "metric"]
    for _, name in runs:
        header += [f"{name}\nfinal", "best"]
    table.setHorizontalHeaderLabels(header)
    bold = QFont()
    bold.setBold(True)
    for r, row in enumerate(comparison.rows):
        table.setItem(r, 0, QTableWidgetItem("validation mean" if row.task == MEAN else row.task))
        table.setItem(r, 1, QTableWidgetItem(row.metric))
        for c, (run_id, _) in enumerate(runs):
            cell = row.cells[run_id]
            for k, (value, best) in enumerate(
                ((cell.final, row.best_final), (cell.best, row.best_best))
            ):
                marked = run_id in best
                text = "—" if value is None else f"{value:.4f}" + (" ★" if marked else "")
                item = QTableWidgetItem(text)
                if marked:
                    item.setFont(bold)
                    item.setBackground(QBrush(BEST))
                    item.setToolTip("the best of this row")
                table.setItem(r, 2 + 2 * c + k, item)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    return table


class CompareView(QDialog):
    """The chosen runs side by side, in three tabs."""

    overlayRequested = Signal(list)  # run ids: plot their curves together in the Monitor

    def __init__(
        self,
        runs: Sequence[Run],
        rows: Mapping[str, Sequence[EvalRow]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {len(runs)} runs")
        self.runs = list(runs)
        self.comparison = compare_runs([(r.id, r.name or r.id) for r in runs], rows)
        self.tabs = QTabWidget()
        self.metrics = metrics_table(self.comparison)
        metrics_page = QWidget()
        page = QVBoxLayout(metrics_page)
        page.addWidget(self.metrics if self.comparison.rows else QLabel(
            "These runs have no validation metrics yet."))  # fmt: skip
        note = QLabel("★ the best value of its row (ties: each). Loss-like metrics: the lowest.")
        note.setWordWrap(True)
        page.addWidget(note)
        self.tabs.addTab(metrics_page, "Metrics")
        self.config_diff = ConfigDiffTable({r.id: r for r in runs})
        self.tabs.addTab(self.config_diff, "Config differences")
        self.parallel = ParallelCoordinates(
            [r.name or r.id for r in runs],
            numeric_differences([r.config for r in runs]),
            metric_axes(self.comparison),
        )
        self.tabs.addTab(self.parallel, "Parallel coordinates")
        overlay = QPushButton("Overlay curves in the Monitor")
        overlay.setToolTip("Plot these runs' curves together in the Monitor tab")
        overlay.clicked.connect(self._overlay)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(overlay, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.resize(960, 560)

    def _overlay(self) -> None:
        self.overlayRequested.emit([r.id for r in self.runs])
        self.accept()

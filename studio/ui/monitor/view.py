"""The Monitor tab: live curves, progress and log of runs, read incrementally from the run store."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QPushButton,
    QSlider,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.tasks.spec import TaskSpec
from studio.store.runs import RunStore
from studio.ui.empty_state import EmptyState
from studio.ui.monitor.data import (
    CLOCKS,
    LOAD_CHUNK,
    PLOTS,
    POLL_LIMIT,
    SeriesKey,
    ShownRun,
    describe,
    ingest,
    label,
    plot_for,
    reported_metric,
    rewound,
)
from studio.ui.monitor.run_status import FailureBanner, LogPanel, ProgressLine
from studio.ui.monitor.tasks import TaskLegend
from studio.ui.plotting.export import save_button
from studio.ui.plotting.plots import PlotPanel, panel_grid
from studio.ui.plotting.series import MINUTES, STEP, Series
from studio.ui.state import StudioState
from studio.ui.widgets import hbox, splitter

log = logging.getLogger(__name__)


class MonitorView(QWidget):
    """Live curves, progress and log of one primary run, with other runs overlaid."""

    demoRequested = Signal()  # the empty state's buttons
    runsRequested = Signal()

    def __init__(self, state: StudioState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.watcher = state.store
        self._runs: dict[str, ShownRun] = {}
        self._series: dict[SeriesKey, Series] = {}
        self._hidden_tasks: set[str] = set()
        self._fallback_metric: dict[str, str] = {}
        self._alpha, self._log_y, self._x_axis = 0.8, False, "step"
        self._build()
        self.watcher.tick.connect(self._tick)
        self.watcher.storeChanged.connect(lambda: self.show_runs([]))

    @property
    def _store(self) -> RunStore:
        """The window's one store connection (opened again after a read error)."""
        return self.watcher.store

    @property
    def _catalog(self) -> dict[str, TaskSpec]:
        return self.state.catalog

    def _build(self) -> None:
        self.status = ProgressLine()
        self.smoothing_slider = QSlider(Qt.Orientation.Horizontal)
        self.smoothing_slider.setRange(0, 99)
        self.smoothing_slider.setFixedWidth(140)
        self.smoothing_slider.setToolTip("Exponential moving average; 0 shows the raw values")
        self.smoothing_slider.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        self.smoothing_value = QLabel()
        self.log_check = QCheckBox("Log y")
        self.log_check.setToolTip("Logarithmic y axis for the loss and gradient-norm plots")
        self.log_check.toggled.connect(self.set_log_y)
        self.x_combo = QComboBox()
        self.x_combo.addItems(["step", "time"])
        self.x_combo.setToolTip("x axis: optimizer step, or minutes since the run's first row")
        self.x_combo.currentTextChanged.connect(self.set_x_axis)
        fit = QPushButton("Fit")
        fit.setToolTip("Zoom every plot back out to all of its data, and follow new rows")
        fit.clicked.connect(self._fit_all)
        self.readout = QLabel(" ")
        self.readout.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))

        # The plots are built when a run is first shown (`plots`): nine pyqtgraph plots were
        # a third of the window's start-up, for a tab that opens on its empty state.
        self._plots: dict[str, PlotPanel] | None = None
        self.task_legend = TaskLegend()
        self.task_legend.toggled.connect(self.set_task_visible)
        self.task_list = self.task_legend.list
        self._across = splitter(
            Qt.Orientation.Horizontal, (QWidget(), 1000), (self.task_legend, 160)
        )
        across = self._across

        self.log_view = LogPanel()
        self.failure = FailureBanner()
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.failure)
        layout.addLayout(
            hbox(QLabel("Smoothing"), self.smoothing_slider, self.smoothing_value, 16,
                 self.log_check, 16, QLabel("X axis"), self.x_combo, fit,
                 save_button(self, lambda: [p.plot for p in self.plots.values()]), 16,
                 (self.readout, 1))
        )  # fmt: skip
        layout.addWidget(splitter(Qt.Orientation.Vertical, (across, 700), (self.log_view, 140)), 1)
        self.empty = EmptyState(
            "No run shown",
            "Check tasks in the Tasks panel and press <b>Start</b> (Ctrl+R): the curves of the "
            "run appear here from its first update. Open a past run from the <b>Runs</b> tab, "
            "or try a one-minute run on the synthetic demo tasks.",
            (
                ("Try the demo", "A one-minute run on the synthetic demo tasks",
                 self.demoRequested.emit),
                ("Show runs", "The Runs tab: every run in the store", self.runsRequested.emit),
            ),
        )  # fmt: skip
        self.pages = QStackedLayout(self)
        self.pages.addWidget(content)
        self.pages.addWidget(self.empty)
        self.pages.setCurrentWidget(self.empty)
        self._sync_controls()

    @property
    def plots(self) -> dict[str, PlotPanel]:
        """The plot panels by PLOTS key, built on first use with the current settings."""
        if self._plots is None:
            self.graphics, self._plots = panel_grid(PLOTS)
            for panel in self._plots.values():
                panel.set_x_axis(self._x_axis)
                panel.set_smoothing(self._alpha > 0)
                panel.set_log(self._log_y)
            # Rate-limited: a mouse move otherwise searches every curve at the event rate.
            self._hover = pg.SignalProxy(
                self.graphics.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved
            )
            sizes = self._across.sizes()
            placeholder = self._across.replaceWidget(0, self.graphics)
            if placeholder is not None:
                placeholder.deleteLater()
            self._across.setSizes(sizes)
        return self._plots

    def _built(self) -> list[PlotPanel]:
        """The panels if they were built (a setting changed before then applies at build)."""
        return list(self._plots.values()) if self._plots is not None else []

    def _sync_controls(self) -> None:
        # blockSignals: setting a control from code must not call back into the setters.
        for widget in (self.smoothing_slider, self.log_check, self.x_combo):
            widget.blockSignals(True)
        self.smoothing_slider.setValue(round(self._alpha * 100))
        self.log_check.setChecked(self._log_y)
        self.x_combo.setCurrentText(self._x_axis)
        for widget in (self.smoothing_slider, self.log_check, self.x_combo):
            widget.blockSignals(False)
        self.smoothing_value.setText(f"{self._alpha:.2f}")

    def _fit_all(self) -> None:
        for panel in self._built():
            panel.plot.enableAutoRange()

    # -- public API --------------------------------------------------------------------------

    def show_runs(self, run_ids: list[str]) -> None:
        """Show these runs: the first is the primary one, the others are overlaid."""
        self._reset()
        for index, run_id in enumerate(dict.fromkeys(run_ids)):
            self._runs[run_id] = describe(self._store, run_id, index)
        for run in self._runs.values():
            for task in run.tasks:
                self._add_task(task)
        for run in self._runs.values():
            while True:
                rows = self._store.metrics_after(run.last_id, run.run_id, limit=LOAD_CHUNK)
                if rows:
                    self._ingest(run, rows)
                if len(rows) < LOAD_CHUNK:
                    break
        self._redraw(set(self._series))
        self._poll_logs()
        self._poll_progress()
        self.pages.setCurrentIndex(0 if self._runs else 1)  # the plots, or the empty state

    def poll(self) -> bool:
        """Read rows that arrived since the last poll and draw them; returns whether any did."""
        if not self._runs:
            return False
        changed: set[SeriesKey] = set()
        for run in self._runs.values():
            rows = self._store.metrics_after(run.last_id, run.run_id, limit=POLL_LIMIT)
            if rows and rewound(run, rows, self._series):
                # Another process resumed the run: the rows after its checkpoint were deleted
                # and come again. Draw the run from the store as it is now.
                self.show_runs(list(self._runs))
                return True
            if rows:
                changed |= self._ingest(run, rows)
        if changed:
            self._redraw(changed)
        logs, progress = self._poll_logs(), self._poll_progress()
        return bool(changed) or logs or progress

    def set_smoothing(self, alpha: float) -> None:
        """EMA weight in [0, 0.99]; 0 draws the raw values only."""
        alpha = min(max(float(alpha), 0.0), 0.99)
        if alpha == self._alpha:
            return
        self._alpha = alpha
        self._sync_controls()
        for panel in self._built():
            panel.set_smoothing(alpha > 0)
        self._redraw(set(self._series))

    def set_log_y(self, on: bool) -> None:
        """Logarithmic y on the loss and gradient-norm plots."""
        self._log_y = bool(on)
        self._sync_controls()
        for panel in self._built():
            panel.set_log(self._log_y)

    def set_x_axis(self, axis: str) -> None:
        """'step', or 'time' (minutes since each run's first row)."""
        if axis not in ("step", "time"):
            raise ValueError(f"x axis must be 'step' or 'time', not {axis!r}")
        if axis == self._x_axis:
            return
        self._x_axis = axis
        self._sync_controls()
        for panel in self._built():
            panel.plot.enableAutoRange()  # the old range means nothing on the new axis
            panel.set_x_axis(axis)

    def set_task_visible(self, task: str, visible: bool) -> None:
        """Show or hide one task's curves in every per-task plot."""
        (self._hidden_tasks.discard if visible else self._hidden_tasks.add)(task)
        for panel in self._built():
            for key in panel.curves:
                if key[1] == task:
                    panel.set_visible(key, visible)
        self.task_legend.set_checked(task, visible)

    @property
    def run_ids(self) -> list[str]:
        """The runs shown, the primary one first."""
        return list(self._runs)

    @property
    def tasks(self) -> list[str]:
        """Every task of the shown runs, in colour order."""
        return list(self.task_legend.colours)

    def curve_data(
        self, run_id: str, name: str, task: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw (x, y) of one series on the current x axis; empty arrays if there is none."""
        series = self._series.get((run_id, task, name))
        if series is None:
            return np.empty(0), np.empty(0)
        x_row = STEP if self._x_axis == "step" else MINUTES
        return series.row(x_row).copy(), series.value.copy()

    def curve_item(self, run_id: str, name: str, task: str | None = None) -> pg.PlotDataItem | None:
        """The persistent main PlotDataItem drawing a series, or None if it is not plotted."""
        key = (run_id, task, name)
        panel = self._panel_for(key)
        curve = panel.curves.get(key) if panel is not None else None
        return curve.main if curve is not None else None

    def progress_text(self) -> str:
        """The progress bar's text and the status line, as plain text."""
        return self.status.text()

    def log_text(self) -> str:
        return self.log_view.toPlainText()

    # -- loading and drawing -----------------------------------------------------------------

    def _reset(self) -> None:
        for panel in self._built():
            panel.clear()
        for table in (self._runs, self._series, self._fallback_metric):
            table.clear()
        self.task_legend.clear()
        self.log_view.reset()
        self.status.reset()
        self.failure.show_failure(None, [])
        self.readout.setText(" ")

    def _ingest(self, run: ShownRun, rows: list[dict[str, Any]]) -> set[SeriesKey]:
        """Append rows to their series, listing new tasks; returns the keys that grew."""
        keys = ingest(run, rows, self._series)
        for _, task, _ in keys:
            if task is not None:
                self._add_task(task)
        return set(keys)

    def _panel_for(self, key: SeriesKey) -> PlotPanel | None:
        target = plot_for(key, self._primary_metric)
        return self.plots[target] if target else None

    def _primary_metric(self, task: str) -> str | None:
        spec = self._catalog.get(task)
        if spec is not None:
            return spec.metric
        if task not in self._fallback_metric:
            # Not in the catalog: the first evaluation metric the run reported for it.
            metric = reported_metric(self._series, task)
            if metric is not None:
                self._fallback_metric[task] = metric
        return self._fallback_metric.get(task)

    def _redraw(self, keys: set[SeriesKey]) -> None:
        # Sorted so curves (and legend entries) are created in run, then task order.
        order: dict[str | None, int] = {t: i for i, t in enumerate(self.task_legend.colours)}
        for key in sorted(keys, key=lambda k: (self._runs[k[0]].index, order.get(k[1], 1e9), k[2])):
            panel = self._panel_for(key)
            if panel is None:
                continue
            run_id, task, name = key
            run, series = self._runs[run_id], self._series[key]
            colour, style, width = self.task_legend.pen(run.index, task, name)
            overlay = len(self._runs) > 1
            panel.ensure(key, series, colour, style, label(run, key, overlay), width)
            if task in self._hidden_tasks:
                panel.set_visible(key, False)
            if panel.smoothable:
                series.set_alpha(self._alpha)
            panel.refresh(key)

    def _add_task(self, task: str) -> None:
        if not self.task_legend.add(task):
            return
        # The palette grew: recolour what is drawn so colours stay distinct.
        for panel in self._built():
            for key in panel.curves:
                if key[1] is not None:
                    panel.set_colour(key, self.task_legend.colours[key[1]])

    def _on_mouse_moved(self, event: tuple) -> None:
        for panel in self._built():
            text = panel.hover(event[0])
            if text is not None:
                self.readout.setText(text)

    # -- progress and log --------------------------------------------------------------------

    def _poll_progress(self) -> bool:
        run = next(iter(self._runs.values()), None)
        if run is None:
            return False
        try:
            info = self._store.get_run(run.run_id)
        except KeyError:
            info = None
        rate = self._series.get((run.run_id, None, "examples_per_s"))
        clock = next((s for n in CLOCKS if (s := self._series.get((run.run_id, None, n)))), None)
        changed = self.status.show_run(run.run_id, info, rate, clock)
        if changed:
            failed = info is not None and info.status == "failed"
            self.failure.show_failure(info, self._store.logs(run.run_id) if failed else [])
        return changed

    def _poll_logs(self) -> bool:
        run = next(iter(self._runs.values()), None)
        if run is None:
            return False
        return self.log_view.poll(self._store, run.run_id)

    def _tick(self) -> None:
        # A hidden tab costs nothing; it catches up on the first tick after it is shown again.
        if not self.isVisible() or not self._runs:
            return
        try:
            self.poll()
        except (sqlite3.Error, StudioError) as e:
            # A connection can break while the store is fine (e.g. its files changed under
            # it): read through a new one from the next tick on, not through this one again.
            log.warning("monitor poll failed: %s; reconnecting to %s", e, self.watcher.path)
            self.watcher.close()
            self.status.show_message(f"cannot read the run store: {e} (reconnecting)")

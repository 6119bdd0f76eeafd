"""The Transfer tab's results side: data-efficiency panels, the task-count curve, the tables."""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.experiments.paired import compare, tally
from studio.core.experiments.transfer import (
    MODELS,
    Cell,
    MeanCurve,
    examples_by_size,
    summarize,
    sweep_curves,
    sweep_points,
    transfer_curves,
)
from studio.core.run_record import Run, TransferResult
from studio.store import RunStore
from studio.ui.plotting.export import save_button
from studio.ui.plotting.plots import dress
from studio.ui.state import StoreWatcher
from studio.ui.style import AMBER, AXIS, BLUE, GREEN, GREY, RED, TITLE, coloured
from studio.ui.text import date_time
from studio.ui.transfer.table import fill_sweep_table, fill_transfer_table
from studio.ui.widgets import never_widens, splitter

# colour, marker, legend label
STYLES = {
    "base": ("#7f7f7f", "o", "base model"),
    "pretuned": (BLUE, "s", "pre-finetuned"),
}
LEAK_NOTE = "(in mix — leaked)"
# Base and pre-finetuned points at one size sit this far apart (log10 units) so that their
# error bars do not hide each other; small enough to read as the same size.
DODGE = 0.012
SOLID = Qt.PenStyle.SolidLine


def _line(x: np.ndarray, y: np.ndarray, model: str, style: Qt.PenStyle = SOLID) -> pg.PlotDataItem:
    colour, marker, label = STYLES[model]
    pen, edge = pg.mkPen(colour, width=2, style=style), pg.mkPen("w", width=1)
    return pg.PlotDataItem(
        x, y, pen=pen, symbol=marker, symbolSize=7, symbolBrush=colour, symbolPen=edge, name=label
    )


class TransferPlots(pg.GraphicsLayoutWidget):
    """A grid of data-efficiency panels (one per target), or one task-count curve."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.ci.setSpacing(10)
        self.titles: list[str] = []
        self.curves: dict[tuple[str, str], MeanCurve] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self.show_message("Pick stored results above, or run a transfer experiment.")

    def _reset(self) -> None:
        self.clear()
        self.titles, self.curves, self.plots = [], {}, {}

    def show_message(self, text: str) -> None:
        """An empty canvas with one line of text."""
        self._reset()
        self.addLabel(html.escape(text), color=GREY, size="11pt")

    def _legend(self, columns: int, extra: str = "") -> None:
        parts = [
            coloured(f"{'●' if marker == 'o' else '■'} {label}", colour)
            for colour, marker, label in STYLES.values()
        ]
        text = "&nbsp;&nbsp;&nbsp;".join(parts) + extra
        self.addLabel(text, row=0, col=0, colspan=columns, size="9pt", color=TITLE)

    def _panel(self, row: int, col: int, title: str, colour: str) -> pg.PlotItem:
        plot = self.addPlot(row=row, col=col)
        dress(plot, html.escape(title), colour)
        plot.getAxis("left").setWidth(48)
        plot.getAxis("left").enableAutoSIPrefix(False)  # "accuracy (x0.001)" reads badly
        self.titles.append(title)
        return plot

    def show_transfer(self, cells: list[Cell], ks: dict[tuple[str, str], int]) -> None:
        """One panel per target: metric against k (log x), base vs pre-finetuned, ± std."""
        self._reset()
        if not cells:
            self.show_message("No results yet: the first fine-tuning run is still going.")
            return
        self.curves = transfer_curves(cells, ks)
        targets = sorted({c.target for c in cells})
        columns = 1 if len(targets) == 1 else 2 if len(targets) <= 4 else 3
        note = coloured("bars: ± std over seeds · x: training examples (log scale)", GREY)
        self._legend(columns, f"&nbsp;&nbsp;&nbsp;{note}")
        for i, target in enumerate(targets):
            mine = [c for c in cells if c.target == target]
            leaked = any(c.leaked for c in mine)
            title = f"{target} {LEAK_NOTE}" if leaked else target
            colour = AMBER if leaked else TITLE
            plot = self._panel(1 + i // columns, i % columns, title, colour)
            plot.setLabel("left", mine[0].metric, color=AXIS, size="8pt")
            self.plots[target] = plot
            self._draw_target(plot, target)

    def _draw_target(self, plot: pg.PlotItem, target: str) -> None:
        # Log x by hand (log10 of k, ticks labelled with k): ErrorBarItem ignores log mode.
        xs: set[float] = set()
        for offset, model in zip((-DODGE, DODGE), MODELS, strict=True):
            curve = self.curves.get((target, model))
            if curve is None:
                continue
            x, y, std = np.log10(curve.x) + offset, np.array(curve.y), np.array(curve.std)
            pen = pg.mkPen(STYLES[model][0], width=1.2)
            bars = pg.ErrorBarItem(x=x, y=y, top=std, bottom=std, beam=0.025)
            bars.setData(pen=pen)
            plot.addItem(bars)
            plot.addItem(_line(x, y, model))
            xs.update(float(v) for v in curve.x)
        ticks = [(math.log10(k), f"{k:,.0f}") for k in sorted(xs)]
        plot.getAxis("bottom").setTicks([ticks, []])
        if ticks:
            lo, hi = ticks[0][0], ticks[-1][0]
            pad = max(0.08, 0.06 * (hi - lo))
            plot.setXRange(lo - pad, hi + pad, padding=0)

    def show_sweep(self, points: dict[int, dict[str, float]]) -> None:
        """Mean target metric against the number of pre-finetuning tasks."""
        self._reset()
        if not points:
            self.show_message("No sweep points yet: the first subset is still training.")
            return
        note = coloured("base: dashed reference · labels: gain of pre-finetuning", GREY)
        self._legend(1, f"&nbsp;&nbsp;&nbsp;{note}")
        plot = self._panel(1, 0, "Mean target metric vs. number of pre-finetuning tasks", TITLE)
        plot.setLabel("bottom", "tasks in the pre-finetuning mix", color=AXIS, size="8pt")
        plot.setLabel("left", "mean target metric", color=AXIS, size="8pt")
        self.plots["sweep"] = plot
        styles = {"base": Qt.PenStyle.DashLine, "pretuned": Qt.PenStyle.SolidLine}
        for model, curve in sweep_curves(points).items():
            self.curves[("sweep", model)] = curve
            plot.addItem(_line(np.array(curve.x), np.array(curve.y), model, styles[model]))
        for step, point in points.items():
            if "gain" in point and "pretuned_mean" in point:
                colour = GREEN if point["gain"] >= 0 else RED
                text = pg.TextItem(f"{point['gain']:+.3f}", color=colour, anchor=(0.5, 1.3))
                text.setPos(step, point["pretuned_mean"])
                plot.addItem(text)
        plot.getAxis("bottom").setTicks([[(s, str(s)) for s in points], []])
        plot.setXRange(min(points) - 1, max(points) + 1, padding=0.02)
        values = [v for p in points.values() for n, v in p.items() if n != "gain"]
        span = max(max(values) - min(values), 0.01)
        # Head room above the highest point, where its gain label sits.
        plot.setYRange(min(values) - 0.1 * span, max(values) + 0.2 * span, padding=0)


class TransferResults(QWidget):
    """The stored results of one transfer or sweep run: a picker, a summary, plots, a table."""

    def __init__(self, watcher: StoreWatcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self.cells: list[Cell] = []
        self.shown: Run | None = None  # the run shown, as last read
        self.combo = QComboBox()
        self.combo.setToolTip("Stored transfer experiments (newest first) and task-count sweeps")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.currentIndexChanged.connect(self._on_pick)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        never_widens(self.summary)
        self.plots = TransferPlots()
        self.table = QTableWidget()
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        split = splitter(Qt.Orientation.Vertical, (self.plots, 560), (self.table, 220))
        top = QHBoxLayout()
        top.addWidget(QLabel("Results of"))
        top.addWidget(self.combo, 1)
        top.addWidget(save_button(self, lambda: self.plots.plots.values()))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    def refresh(self, select: str | None = None) -> None:
        """Reload the list of stored runs and show `select` (or keep the one shown)."""
        runs = self.watcher.read(
            lambda store: store.list_runs("transfer") + store.list_runs("sweep")
        )
        keep = select or (self.shown.id if self.shown else None)
        self.combo.blockSignals(True)
        self.combo.clear()
        for run in runs:
            kind = "Transfer" if run.kind == "transfer" else "Sweep"
            stamp = date_time(run.created)
            self.combo.addItem(f"{kind} · {run.name} · {run.status} · {stamp}", run.id)
        if not runs:
            self.combo.addItem("no stored transfer results yet", None)
        self.combo.setCurrentIndex(max(self.combo.findData(keep), 0) if keep else 0)
        self.combo.blockSignals(False)
        self._on_pick()

    def reload_if_running(self) -> None:
        """Pick up new rows of a shown run that is still being written."""
        if self.shown and self.shown.status == "running":
            self.display(self.shown.id)

    def _on_pick(self, *_: object) -> None:
        run_id = self.combo.currentData()
        if run_id is not None:
            self.display(run_id)
            return
        self.shown, self.cells = None, []
        self.summary.setText("")
        self.table.setRowCount(0)
        self.plots.show_message("Pick stored results above, or run a transfer experiment.")

    def display(self, run_id: str) -> None:
        """Draw one stored transfer or sweep run."""

        def read(store: RunStore) -> tuple[Run, list[dict[str, Any]], list[TransferResult]]:
            run = store.get_run(run_id)
            if run.kind == "sweep":
                return run, store.metrics_after(0, run_id), []
            return run, [], store.results(run_id)

        try:
            run, metric_rows, results = self.watcher.read(read)
        except KeyError:
            self.plots.show_message(f"Run {run_id} is no longer in the store.")
            return
        sweep = run.kind == "sweep"
        self.shown = run
        pairs = [] if sweep else compare(results)
        if sweep:
            self.cells, points = [], sweep_points(metric_rows)
            self.plots.show_sweep(points)
            fill_sweep_table(self.table, points)
        else:
            self.cells, ks = summarize(results), examples_by_size(results)
            self.plots.show_transfer(self.cells, ks)
            fill_transfer_table(self.table, self.cells, ks, pairs)
        leaked = sorted({c.target for c in self.cells if c.leaked})
        verdict = "" if sweep else tally(pairs)
        count = len(metric_rows) if sweep else len(results)
        self.summary.setText(_summary(run, count, leaked, verdict))


def _summary(run: Run, count: int, leaked: list[str], verdict: str) -> str:
    config = run.config
    if run.kind == "sweep":
        what = f"{len(config.get('children', []))} subsets done"
    else:
        mode = "probe (frozen encoder)" if config.get("probe") else "fine-tuning"
        what = f"{count} results · {mode} · source {config.get('source', '?')}"
    base = run.base_model or "?"
    parts = [f"<b>{html.escape(run.name)}</b>"]
    parts += [html.escape(p) for p in (run.status, what, f"base {base}", run.id)]
    if verdict:
        parts.append(html.escape(verdict))
    if leaked:
        names = html.escape(", ".join(leaked))
        parts.append(coloured(f"leaked: {names} (in the pre-finetuning mix)", AMBER))
    if run.error:
        parts.append(coloured(html.escape(run.error), RED))
    return " · ".join(parts)

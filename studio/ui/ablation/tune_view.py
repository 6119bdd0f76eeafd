"""The Tuning section of the Ablation tab: the store's tuning studies, one's trials table, its
best-so-far curve and the parameter importances Optuna computed; a study file starts one.

Everything shown is read from the study's run in the store (its `summary`, which the `tune`
job writes after each trial), so the window never imports Optuna. The view never runs jobs:
"Run study file…" emits `startRequested(where, config, name)` with the file's validated
config, and the window calls back with `set_running`, `set_progress` and `show_study`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.experiments.study_summary import StudySummary
from studio.core.experiments.tune import load_study
from studio.core.run_record import Run
from studio.ui.ablation.experiment_list import ExperimentList
from studio.ui.state import StudioState
from studio.ui.style import GREY, RED, STATUS_COLOURS, coloured
from studio.ui.widgets import hbox, never_widens, splitter

NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
STATE_COLOURS = {"complete": "finished", "pruned": "stopped", "fail": "failed"}
FILE_TIP = (
    "A study file (YAML): `base:` a run config, `space:` the settings to search (a range "
    "{low, high, log} or a list of choices), `trials:`, `objective:`. Each trial is a "
    "pre-finetuning run; running the same file again continues the study."
)


class TuneView(QWidget):
    """Studies of this store on the left; the chosen one's trials, curve and importances."""

    startRequested = Signal(str, object, str)  # where (the file), the study as a dict, its name
    stopRequested = Signal()
    openRuns = Signal(list)  # trials' runs, for the Monitor

    def __init__(self, state: StudioState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.current: str | None = None
        self.summary: StudySummary | None = None
        self.status = ""
        self._build()
        state.store.tick.connect(self._poll)
        state.store.storeChanged.connect(self._store_changed)
        state.store.runsChanged.connect(self.refresh)
        self.refresh()
        self.set_running(False)

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        left = ExperimentList(
            self.state,
            "tune",
            heading="Tuning studies in this store",
            run=("Run study file…", FILE_TIP),
            stop_tip="Stop the running trial (it saves); run the file to go on",
            dialog="Run a tuning study",
        )
        left.picked.connect(self.show_study)
        left.fileChosen.connect(self.start_file)
        left.stopRequested.connect(self.stopRequested.emit)
        self.experiments = left
        self.list = left.list  # the tests' name for it

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        never_widens(self.title)
        self.open_button = QPushButton("Open trials in Monitor")
        self.open_button.clicked.connect(self._open_trials)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.curve_plot = self.graphics.addPlot(title="Objective by trial (line: best so far)")
        self.curve_plot.setLabel("bottom", "trial")
        self.curve_plot.showGrid(x=True, y=True, alpha=0.3)
        self.importance_plot = self.graphics.addPlot(title="Parameter importance (fANOVA)")
        self.importance_plot.setLabel("bottom", "share of the objective's variance")
        top = QWidget()
        header = QVBoxLayout(top)
        header.setContentsMargins(0, 0, 0, 0)
        header.addLayout(hbox((self.title, 1), self.open_button))
        header.addWidget(self.table)
        right = splitter(Qt.Orientation.Vertical, (top, 260), (self.graphics, 380))
        sides = splitter(Qt.Orientation.Horizontal, (left, 220), (right, 1000))
        sides.setStretchFactor(0, 0)
        sides.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(sides)

    # -- public API --------------------------------------------------------------------------

    def refresh(self) -> None:
        """List the store's studies, newest first, keeping the one shown."""
        runs = self.experiments.load(self.current)
        if self.current is None and runs:
            self.show_study(runs[0].id)
        elif self.current is not None:
            self.show_study(self.current)
        else:
            self._show(None, "No tuning study in this store yet: run a study file.")

    def show_study(self, study_id: str) -> None:
        """Read the study's summary from its run and show its trials, curve and importances."""
        self.current = study_id
        try:
            run: Run = self.state.store.read(lambda store: store.get_run(study_id))
        except (StudioError, KeyError) as exc:
            self._show(None, f"Cannot read study {study_id}: {exc}")
            return
        summary = StudySummary.from_dict(dict(run.config.get("summary") or {}))
        self.status = run.status
        status = coloured(html.escape(run.status), STATUS_COLOURS.get(run.status, GREY))
        goal = run.config.get("trials", "?")
        title = f"<b>{html.escape(run.name)}</b> · {status} · {len(summary.trials)}/{goal} trials"
        if summary.best is not None:
            best = summary.best
            settings = ", ".join(f"{k}={_cell(v)}" for k, v in best.params.items())
            title += f"<br>best: trial {best.number}, {_cell(best.value)} · {html.escape(settings)}"
        if run.error:
            title += "<br>" + coloured(html.escape(run.error), GREY)
        self._show(summary, title)
        self.experiments.select(study_id)

    def set_running(self, running: bool) -> None:
        self.experiments.set_running(running)

    def set_progress(self, fraction: float, message: str) -> None:
        self.experiments.set_progress(fraction, message)

    def start_file(self, path: Path) -> bool:
        """Validate a study file and ask for it to run; a bad file is shown, not started."""
        from studio.core.experiments.transfer import load_yaml

        try:
            config = load_study(path)
            data = load_yaml(path)
        except StudioError as exc:
            self.note(str(exc), RED)
            return False
        self.note(f"study {config.name}: {config.trials} trials of {len(config.space)} settings")
        self.startRequested.emit(str(path), data, path.stem)
        return True

    def note(self, text: str, colour: str | None = None) -> None:
        self.experiments.note(text, colour)

    # -- the table, the curve, the importances -----------------------------------------------

    def _show(self, summary: StudySummary | None, title: str) -> None:
        self.summary = summary
        self.title.setText(title)
        trials = summary.trials if summary is not None else ()
        self.open_button.setEnabled(any(t.run_id for t in trials))
        keys = sorted({k for t in trials for k in t.params})
        header = ["trial", "state", "value", "run", *keys]
        self.table.clear()
        self.table.setColumnCount(len(header) if trials else 0)
        self.table.setRowCount(len(trials))
        self.table.setHorizontalHeaderLabels(header if trials else [])
        best = summary.best.number if summary is not None and summary.best else None
        for row, trial in enumerate(trials):
            state = trial.state + (" (interrupted)" if trial.interrupted else "")
            cells = [str(trial.number), state, _cell(trial.value), trial.run_id or ""]
            cells += [_cell(trial.params.get(k)) for k in keys]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (0, 2) or col >= 4:
                    item.setTextAlignment(NUMERIC)
                if col == 1:
                    colour = STATUS_COLOURS.get(STATE_COLOURS.get(trial.state, ""), GREY)
                    item.setForeground(QColor(colour))
                if trial.number == best:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        self._draw(summary)

    def _draw(self, summary: StudySummary | None) -> None:
        self.curve_plot.clear()
        self.importance_plot.clear()
        if summary is None:
            return
        done = [(t.number, t.value) for t in summary.trials if t.state == "complete" and t.value]
        if done:
            xs, ys = zip(*done, strict=True)
            self.curve_plot.plot(
                list(xs), list(ys), pen=None, symbol="o", symbolSize=7, symbolBrush="#7f7f7f"
            )
        best = summary.best_so_far()
        if best:
            xs, ys = zip(*best, strict=True)
            self.curve_plot.plot(list(xs), list(ys), pen=pg.mkPen("#1f77b4", width=2))
        names = list(summary.importances)
        if names:
            values = [summary.importances[n] for n in names]
            bars = pg.BarGraphItem(
                x0=0, y=list(range(len(names))), height=0.6, width=values, brush="#1f77b4"
            )
            self.importance_plot.addItem(bars)
            axis = self.importance_plot.getAxis("left")
            axis.setTicks([list(enumerate(names))])

    @property
    def importances(self) -> dict[str, float]:
        return dict(self.summary.importances) if self.summary is not None else {}

    # -- events ------------------------------------------------------------------------------

    def _store_changed(self) -> None:
        self.current = None

    def _open_trials(self) -> None:
        if self.summary is not None:
            self.openRuns.emit([t.run_id for t in self.summary.trials if t.run_id])

    def _poll(self) -> None:
        """While a study of this window runs, or the one shown is still going, re-read it."""
        if not self.isVisible() or self.current is None or not self.experiments.due():
            return
        if self.experiments.running or self.status == "running":
            self.show_study(self.current)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)

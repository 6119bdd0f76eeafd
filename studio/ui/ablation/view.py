"""The Ablation tab: the store's ablations, one's table of variants side by side, and the
variants' curves overlaid (total loss, validation mean); an ablation file starts one, and
the builder (ablation/builder.py) writes one. Its second section is the tuning studies
(ablation/tune_view.py).

The view never runs jobs: "Run ablation file…" emits `startRequested(where, config)` with the
file's validated config, and the window calls back with `set_running`, `set_progress` and
`show_ablation`.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.core.experiments.ablation import BASE, load_ablation
from studio.core.experiments.ablation_results import VariantResult, read_results, table_rows
from studio.core.run_record import Run
from studio.core.tasks.spec import TaskSpec
from studio.store import RunStore
from studio.ui.ablation.experiment_list import ExperimentList
from studio.ui.ablation.tune_view import TuneView
from studio.ui.file_dialogs import save_file
from studio.ui.plotting.export import save_button
from studio.ui.plotting.plots import PlotPanel, palette, panel_grid
from studio.ui.plotting.series import Series
from studio.ui.state import StudioState
from studio.ui.style import GREY, RED, STATUS_COLOURS, coloured
from studio.ui.widgets import hbox, never_widens, splitter

SMOOTHING = 0.6  # the total loss is noisy: its EMA is drawn over the faint raw curve
# key: (title, smoothable, log-y capable, symbols, row, column, row span, column span)
PLOTS = {
    "total": ("Total loss", True, True, False, 0, 0, 1, 1),
    "validation": ("Validation mean", False, False, True, 0, 1, 1, 1),
}
CURVES = {"total": "total_loss", "validation": "eval_mean"}
NUMERIC = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
FILE_TIP = (
    "An ablation file (YAML): `base:` a run config or its path, `vary:` each setting's values "
    "to try, optionally `transfer:` targets, sizes and seeds. Its variants are queued and "
    "trained one after another, then compared here."
)


class AblationView(QWidget):
    """Ablations of this store on the left; the chosen one's table and curves on the right."""

    startRequested = Signal(str, object)  # where (the file), the ablation config as a dict
    stopRequested = Signal()
    openRuns = Signal(list)  # the variants' runs, for the Monitor
    builderRequested = Signal()  # "New ablation or sweep…": the builder, on the drafted config

    def __init__(self, state: StudioState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.current: str | None = None  # the ablation shown
        self.results: list[VariantResult] = []
        self._build()
        state.store.tick.connect(self._poll)
        state.store.storeChanged.connect(self._store_changed)
        state.store.runsChanged.connect(self.refresh)
        # A task added or removed: its metric column comes or goes.
        state.catalogChanged.connect(self._catalog_changed)
        self.refresh()
        self.set_running(False)

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        self.build_button = QPushButton("New ablation or sweep…")
        self.build_button.setToolTip(
            "Build an ablation or a task-count sweep from the Configure tab's config: pick the "
            "settings and values (or the tasks to grow), save the file and run it"
        )
        self.build_button.clicked.connect(self.builderRequested.emit)
        left = ExperimentList(
            self.state,
            "ablation",
            heading="Ablations in this store",
            run=("Run ablation file…", FILE_TIP),
            stop_tip="Stop the running variant (it saves); the rest stay queued",
            dialog="Run an ablation",
            buttons=[self.build_button],
        )
        left.picked.connect(self.show_ablation)
        left.fileChosen.connect(self.start_file)
        left.stopRequested.connect(self.stopRequested.emit)
        self.experiments = left
        # The column's parts under the names the window, the actions and the tests use.
        self.list, self.run_button, self.stop_button = left.list, left.run_button, left.stop_button
        self.progress, self.progress_label, self.message = (
            left.progress,
            left.progress_label,
            left.message,
        )

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        never_widens(self.title)
        self.open_button = QPushButton("Open variants in Monitor")
        self.open_button.clicked.connect(self._open_variants)
        self.table_button = QPushButton("Save table…")
        self.table_button.setToolTip("Save the variants' table as a CSV file")
        self.table_button.clicked.connect(self._choose_table_file)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.graphics, self.plots = panel_grid(PLOTS)
        self.plots["total"].set_smoothing(True)
        saving = save_button(self, lambda: [p.plot for p in self.plots.values()])
        top = QWidget()
        header = QVBoxLayout(top)
        header.setContentsMargins(0, 0, 0, 0)
        header.addLayout(hbox((self.title, 1), self.open_button, self.table_button, saving))
        header.addWidget(self.table)
        right = splitter(Qt.Orientation.Vertical, (top, 220), (self.graphics, 480))
        sides = splitter(Qt.Orientation.Horizontal, (left, 220), (right, 1000))
        sides.setStretchFactor(0, 0)  # the results take the extra width, not the list
        sides.setStretchFactor(1, 1)
        # Tuning studies are the other way to search settings: a section of their own here.
        self.tune = TuneView(self.state)
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(sides, "Ablations")
        self.sections.addTab(self.tune, "Tuning studies")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.sections)

    # -- public API --------------------------------------------------------------------------

    @property
    def catalog(self) -> dict[str, TaskSpec]:
        return self.state.catalog

    def _store_changed(self) -> None:
        self.current = None

    def _catalog_changed(self) -> None:
        if self.current is not None:
            self.show_ablation(self.current)

    def refresh(self) -> None:
        """List the store's ablations, newest first, keeping the one shown."""
        runs = self.experiments.load(self.current)
        if self.current is None and runs:
            self.show_ablation(runs[0].id)
        elif self.current is not None:
            self.show_ablation(self.current)
        else:
            self._show([], "No ablation in this store yet: run an ablation file.")

    def show_ablation(self, ablation_id: str) -> None:
        """Read the ablation's table and curves from the store and show them."""
        self.current = ablation_id
        metrics = {name: spec.metric for name, spec in self.catalog.items()}

        def read(
            store: RunStore,
        ) -> tuple[Run, list[str], list[VariantResult], dict[tuple[str, str], Any]]:
            results = read_results(store, ablation_id, metrics)
            curves = {
                (r.run_id, plot): store.metric_series(r.run_id, name)
                for r in results
                for plot, name in CURVES.items()
            }
            notes = [e["message"] for e in store.logs(ablation_id)]
            return store.get_run(ablation_id), notes, results, curves

        try:
            run, notes, results, curves = self.state.store.read(read)
        except (StudioError, KeyError) as exc:
            self._show([], f"Cannot read ablation {ablation_id}: {exc}")
            return
        status = coloured(html.escape(run.status), STATUS_COLOURS.get(run.status, GREY))
        title = f"<b>{html.escape(run.name)}</b> · {status} · {ablation_id}"
        # Why it ended as it did: failed variants, variants left in the queue, its error.
        for note in [*notes[-2:], *([run.error] if run.error else [])]:
            title += "<br>" + coloured(html.escape(note), GREY)
        self._show(results, title)
        self._draw(results, curves)
        self.experiments.select(ablation_id)

    @property
    def last_message(self) -> str:
        """The latest note or error under the buttons, as plain text."""
        return self.experiments.last_message

    def set_running(self, running: bool) -> None:
        self.experiments.set_running(running)

    def set_progress(self, fraction: float, message: str) -> None:
        self.experiments.set_progress(fraction, message)

    def choose_file(self) -> None:
        self.experiments.choose_file()

    def start_file(self, path: Path) -> bool:
        """Validate an ablation file and ask for it to run; a bad file is shown, not started."""
        try:
            config = load_ablation(path)
        except StudioError as exc:
            self.note(str(exc), RED)
            return False
        self.note(f"{config.title}: {len(config.variants())} variants queued")
        self.startRequested.emit(str(path), config.to_dict())
        return True

    def note(self, text: str, colour: str | None = None) -> None:
        """The line under the buttons: what was last started, how it ended, or an error."""
        self.experiments.note(text, colour)

    # -- the table and the curves ------------------------------------------------------------

    def _show(self, results: list[VariantResult], title: str) -> None:
        self.results = results
        self.title.setText(title)
        self.open_button.setEnabled(bool(results))
        self.table_button.setEnabled(bool(results))
        header, body = table_rows(results)
        self.table.clear()
        self.table.setColumnCount(len(header) if body else 0)
        self.table.setRowCount(len(body))
        self.table.setHorizontalHeaderLabels(header if body else [])
        for row, cells in enumerate(body):
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col >= 2:
                    item.setTextAlignment(NUMERIC)
                if col == 1:
                    item.setForeground(QColor(STATUS_COLOURS.get(text, GREY)))
                self.table.setItem(row, col, item)

    def _draw(self, results: list[VariantResult], curves: dict[tuple[str, str], Any]) -> None:
        colours = palette(max(len(results), 1))
        for key, panel in self.plots.items():
            panel.clear()
            for i, result in enumerate(results):
                rows = curves.get((result.run_id, key)) or []
                if rows:
                    self._curve(panel, result, rows, colours[i], key == "total")
            panel.hide_legend()  # the table's variant column is the legend: names are long
        for row, colour in enumerate(colours[: len(results)]):
            # A swatch of the variant's curve colour beside its name.
            variant = self.table.item(row, 0)
            if variant is not None:
                variant.setData(Qt.ItemDataRole.DecorationRole, colour)

    @staticmethod
    def _curve(
        panel: PlotPanel, result: VariantResult, rows: list[Any], colour: QColor, smooth: bool
    ) -> None:
        steps = np.array([r[0] for r in rows], dtype=float)
        # A NaN the store kept as NULL comes back None: a gap in the curve.
        values = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
        walls = np.array([r[2] for r in rows], dtype=float)
        series = Series()
        if smooth:
            series.set_alpha(SMOOTHING)
        series.extend(steps, (walls - walls[0]) / 60.0, values)
        style = Qt.PenStyle.SolidLine if result.variant == BASE else Qt.PenStyle.DashLine
        key = (result.run_id,)
        panel.ensure(key, series, colour, style, result.variant)
        panel.refresh(key)

    def save_table(self, path: Path) -> Path:
        """The shown table as CSV: the header, then one row per variant, as the tab shows it."""
        header, body = table_rows(self.results)
        with Path(path).open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows([header, *body])
        return Path(path)

    def _choose_table_file(self) -> None:
        path, _ = save_file(self, "metrics", "Save table", "ablation.csv", "CSV (*.csv)")
        if path:
            try:
                self.save_table(Path(path))
            except OSError as exc:
                self.message.setText(coloured(html.escape(f"{path}: {exc}"), RED))

    # -- events ------------------------------------------------------------------------------

    def _open_variants(self) -> None:
        self.openRuns.emit([r.run_id for r in self.results])

    def _poll(self) -> None:
        """While an ablation of this window runs, or the one shown is still going, re-read it."""
        if not self.isVisible() or self.current is None or not self.experiments.due():
            return
        live = {"running", "queued"}
        if self.experiments.running or any(r.status in live for r in self.results):
            self.show_ablation(self.current)

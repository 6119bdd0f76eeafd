"""The Transfer tab: set up a transfer experiment, and browse stored transfer and sweep results."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.config.models import DEFAULT_MODEL, encoders, finetune_rate
from studio.core.config.settings import schema
from studio.core.errors import ConfigError
from studio.core.experiments.transfer import (
    Cell,
    FinetuneSettings,
    TransferConfig,
    export_mix,
    parse_seeds,
    parse_sizes,
)
from studio.core.tasks.spec import TaskSpec
from studio.ui.configure.setting_fields import SettingsForm
from studio.ui.file_dialogs import choose_folder
from studio.ui.state import StudioState
from studio.ui.style import AMBER, GREY, RED, coloured
from studio.ui.transfer.help import TIPS
from studio.ui.transfer.plots import TransferResults
from studio.ui.transfer.target_picker import IN_MIX_TIP, TargetPicker
from studio.ui.widgets import form_group, never_widens

EXPORT_ITEM = "Export folder…"
SOURCE_STATUSES = ("finished", "stopped")
LEAK_TIP = f"{IN_MIX_TIP} (flagged in the results)"
# Keyed by the attribute holding the widget; _build sets them all in one place.


class TransferView(QWidget):
    """Form for a TransferConfig on the left; stored results (plots and table) on the right.

    The view never runs jobs: Run emits `startRequested(TransferConfig)` and the window calls
    back with `set_running`, `set_progress` and `show_transfer`.
    """

    startRequested = Signal(object)
    stopRequested = Signal()

    def __init__(self, state: StudioState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._mixes: dict[str, list[str]] = {}  # source (run id or folder) -> its tasks
        self._folders: list[str] = []  # export folders picked this session
        self.last_message = ""  # the form's latest note or error, as plain text
        self._build()
        self.refresh()
        self.set_running(False)
        # A run that finishes becomes a source; a task added anywhere becomes a target.
        state.store.runsChanged.connect(self.refresh)
        state.catalogChanged.connect(
            lambda: self.targets.set_catalog(self.catalog, self._unavailable())
        )

    # -- layout ------------------------------------------------------------------------------

    def _build(self) -> None:
        form = QWidget()
        column = QVBoxLayout(form)
        column.addWidget(self._source_group())
        self.targets = TargetPicker(self.catalog, self._unavailable())
        self.targets.changed.connect(self._validate)
        self.target_list, self.filter_edit = self.targets.list, self.targets.filter_edit
        column.addWidget(self.targets, 1)
        column.addWidget(self._settings_group())
        self.run_button, self.stop_button = QPushButton("Run transfer"), QPushButton("Stop")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run)
        self.stop_button.clicked.connect(self.stopRequested.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button, 2)
        buttons.addWidget(self.stop_button, 1)
        column.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("%p%")
        self.progress_label = QLabel("idle")
        never_widens(self.progress_label)
        self.message = QLabel()
        never_widens(self.message)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        for widget in (self.progress, self.progress_label, self.message):
            column.addWidget(widget)
        scroll = QScrollArea()
        scroll.setWidget(form)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(360)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        self.results = TransferResults(self.state.store)
        self.plots, self.table = self.results.plots, self.results.table
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
        # Room for two label/field pairs per row of the fine-tuning settings.
        splitter.setSizes([560, 740])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        for attr, tip in TIPS.items():
            getattr(self, attr).setToolTip(tip)

    def _source_group(self) -> QGroupBox:
        self.source_combo = QComboBox()
        # A long run name must not widen the form past its panel (it is cut, whole in the list).
        self.source_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.source_combo.setMinimumContentsLength(24)
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.source_combo.activated.connect(self._on_source_activated)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.addItems(["best", "latest"])
        self.base_combo = QComboBox()
        self.base_combo.setEditable(True)
        self.base_combo.addItems(encoders())
        self.base_combo.currentTextChanged.connect(self._pick_rate)
        group, layout = form_group("Source")
        layout.addRow("Pre-finetuned", self.source_combo)
        layout.addRow("Checkpoint", self.checkpoint_combo)
        layout.addRow("Base model", self.base_combo)
        return group

    def _settings_group(self) -> QGroupBox:
        """The grid, then every fine-tuning setting as FinetuneSettings declares it."""
        self.sizes_edit = QLineEdit("32, 100, 300, 1000, all")
        self.seeds_edit = QLineEdit("0, 1, 2")
        for edit in (self.sizes_edit, self.seeds_edit):
            edit.textChanged.connect(self._validate)
        self.reuse_check = QCheckBox("Reuse pre-finetuned heads")
        self.reuse_check.setChecked(True)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("transfer from <source>")
        self.settings = SettingsForm(schema(FinetuneSettings, "finetune"), parent=self)
        self.settings.set_values(dataclasses.asdict(FinetuneSettings()))
        self.settings.edited.connect(self._update_probe)
        self._update_probe()
        group = QGroupBox("Grid and fine-tuning")
        grid = QGridLayout(group)
        wide = (("Sizes (k)", self.sizes_edit), ("Seeds", self.seeds_edit))
        for row, (text, edit) in enumerate(wide):
            grid.addWidget(QLabel(text), row, 0)
            grid.addWidget(edit, row, 1, 1, 3)
        # Two label/field pairs per row: the targets list above gets the room.
        for i, field in enumerate(self.settings.schema):
            row, col = len(wide) + i // 2, 2 * (i % 2)
            widget = self.settings.fields[field.key]
            label = QLabel("" if field.setting.kind == "bool" else field.setting.label)
            label.setToolTip(widget.toolTip())
            grid.addWidget(label, row, col)
            grid.addWidget(widget, row, col + 1)
        row = grid.rowCount()
        grid.addWidget(QLabel("Name"), row, 0)
        grid.addWidget(self.name_edit, row, 1, 1, 3)
        grid.addWidget(self.reuse_check, row + 1, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        return group

    def _pick_rate(self, base: str) -> None:
        """The fine-tuning rate follows the base model's size (core.config.models)."""
        base = base.strip() or DEFAULT_MODEL
        self.settings.set_values({"learning_rate": finetune_rate(base)})

    def _update_probe(self) -> None:
        probe = self.settings.value("probe")
        self.settings.fields["probe_learning_rate"].setEnabled(probe)

    # -- public API --------------------------------------------------------------------------

    @property
    def catalog(self) -> dict[str, TaskSpec]:
        return self.state.catalog

    def _unavailable(self) -> dict[str, str]:
        """Tasks whose data is not here, with why: offered as targets, a transfer would fail."""
        found = self.state.availability
        return {n: a.reason or "no data here" for n, a in found.items() if not a.available}

    def refresh(self) -> None:
        """Re-read the store: the source runs and the stored results, keeping the selections."""
        self._reload_sources()
        self.results.refresh()

    def config(self) -> TransferConfig:
        """The form as a TransferConfig; a ConfigError says what to fix."""
        source = self.source()
        if source is None:
            raise ConfigError("Source: pick a pre-finetuning run or an export folder")
        targets = self.checked_targets()
        if not targets:
            raise ConfigError("Targets: check at least one held-out target task")
        base = self.base_combo.currentText().strip()
        if not base:
            raise ConfigError("Base model: name the model to compare against, e.g. minilm")
        config = TransferConfig(
            source=source,
            targets=tuple(targets),
            base_model=base,
            sizes=parse_sizes(self.sizes_edit.text()),
            seeds=parse_seeds(self.seeds_edit.text()),
            reuse_heads=self.reuse_check.isChecked(),
            checkpoint=self.checkpoint_combo.currentText(),
            name=self.name_edit.text().strip(),
            settings=FinetuneSettings(**self.settings.values()),
        )
        return config

    def source(self) -> str | None:
        """The chosen source: a run id or an export folder (None when there is none)."""
        source: str | None = self.source_combo.currentData()  # a run id or a folder
        return source

    def set_source(self, source: str) -> bool:
        """Choose a run id of the store, or an export folder (added to the list); False if not."""
        index = self.source_combo.findData(source)
        if index < 0:
            try:
                mix = export_mix(Path(source))
            except ConfigError as exc:
                self._show_message(str(exc), RED)
                return False
            self._mixes[source] = mix
            self._folders.append(source)
            self._reload_sources()
            index = self.source_combo.findData(source)
        self.source_combo.setCurrentIndex(index)
        return True

    def mix(self) -> list[str]:
        """The tasks the chosen source was pre-finetuned on."""
        return list(self._mixes.get(self.source() or "", []))

    def is_marked_in_mix(self, name: str) -> bool:
        """Whether the target list marks `name` as part of the source's mix."""
        return self.targets.is_marked_in_mix(name)

    def checked_targets(self) -> list[str]:
        """Checked target tasks, in list order."""
        return self.targets.checked()

    def set_targets(self, names: list[str]) -> None:
        """Check exactly these targets."""
        self.targets.set_checked(names)

    def set_running(self, running: bool) -> None:
        """The window started or ended a transfer job."""
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        if running:
            self.progress.setValue(0)
            self.progress_label.setText("starting…")
        elif self.progress_label.text() in ("starting…", "idle"):
            self.progress_label.setText("idle")

    def set_progress(self, fraction: float, message: str) -> None:
        """Progress of the running job; a shown running transfer picks up new results."""
        self.progress.setValue(round(1000 * max(0.0, min(fraction, 1.0))))
        self.progress_label.setText(message)
        self.results.reload_if_running()

    def note(self, text: str, colour: str | None = None) -> None:
        """A line under the settings: how the last job ended."""
        self._show_message(text, colour or GREY)

    def show_transfer(self, transfer_id: str | None) -> None:
        """Show the results of a stored transfer (or sweep) run, reloading the list first
        (None keeps the run shown)."""
        self.results.refresh(select=transfer_id)

    def current_cells(self) -> list[Cell]:
        """The (target, size, model) cells shown now."""
        return list(self.results.cells)

    def panel_titles(self) -> list[str]:
        """The titles of the plot panels, in grid order."""
        return list(self.plots.titles)

    def plot_data(self, target: str, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, std) drawn for a target and model ('sweep' as target for a sweep's curve)."""
        curve = self.plots.curves[(target, model)]
        return np.array(curve.x), np.array(curve.y), np.array(curve.std)

    # -- sources and targets -----------------------------------------------------------------

    def _reload_sources(self) -> None:
        pretrained = self.state.store.read(lambda store: store.list_runs("pretrain"))
        runs = [r for r in pretrained if r.status in SOURCE_STATUSES]
        combo, current = self.source_combo, self.source()
        combo.blockSignals(True)
        combo.clear()
        for run in runs:
            combo.addItem(f"{run.name} · {run.id}", run.id)
            tasks = list(run.config.get("tasks", []))
            self._mixes[run.id] = tasks
            combo.setItemData(combo.count() - 1, f"{run.status}, {len(tasks)} tasks: "
                              + ", ".join(tasks), Qt.ItemDataRole.ToolTipRole)  # fmt: skip
        for folder in self._folders:
            combo.addItem(f"folder: {Path(folder).name}", folder)
            combo.setItemData(combo.count() - 1, folder, Qt.ItemDataRole.ToolTipRole)
        if combo.count() == 0:
            combo.addItem("no finished pre-finetuning run yet", None)
        combo.insertSeparator(combo.count())
        combo.addItem(EXPORT_ITEM, None)
        combo.setCurrentIndex(max(combo.findData(current), 0) if current else 0)
        combo.blockSignals(False)
        self._on_source_changed()

    def _on_source_activated(self, index: int) -> None:
        # activated: only the user's pick opens the dialog, never a refresh of the list.
        if self.source_combo.itemText(index) != EXPORT_ITEM:
            return
        folder = choose_folder(self, "export", "Export folder of a pre-finetuned model")
        if not (folder and self.set_source(folder)):
            self.source_combo.setCurrentIndex(0)

    def _on_source_changed(self, *_: object) -> None:
        is_run = bool(self.source()) and self.source() not in self._folders
        self.checkpoint_combo.setEnabled(is_run)
        self.targets.set_mix(self.mix())

    # -- form feedback -----------------------------------------------------------------------

    def _validate(self, *_: object) -> None:
        """Live feedback: size/seed typos in red, leaked targets as an amber note."""
        checked = self.checked_targets()
        try:
            sizes, seeds = parse_sizes(self.sizes_edit.text()), parse_seeds(self.seeds_edit.text())
        except ConfigError as exc:
            self._show_message(str(exc), RED)
            return
        leaked = [t for t in checked if t in set(self.mix())]
        if leaked:
            self._show_message(f"{', '.join(leaked)} {LEAK_TIP}.", AMBER)
        elif checked:
            runs = 2 * len(checked) * len(sizes) * len(seeds)
            self._show_message(f"{runs} fine-tuning runs (base and pre-finetuned).")
        else:
            self._show_message("")

    def _show_message(self, text: str, colour: str = GREY) -> None:
        self.message.setText(coloured(html.escape(text), colour))
        self.last_message = text

    def _on_run(self) -> None:
        try:
            config = self.config()
        except ConfigError as exc:
            self._show_message(str(exc), RED)
            return
        self.startRequested.emit(config)

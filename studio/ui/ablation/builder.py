"""Build an ablation or a task-count sweep without writing YAML: the Configure tab's config is
the base; pick settings and their values (an ablation) or a pool of tasks to grow and the
targets to transfer to (a sweep), see how many runs it makes, save the file and run it.

The file is the one the command line runs (`ablate FILE`, `sweep FILE`): an ablation as
`studio.core.experiments.ablation` reads it, a sweep as `studio.core.experiments.transfer`'s
`sweep_config` does, both checked by those readers before the file is written.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import yaml
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.config.run import CHOICES, FIELDS, RunConfig
from studio.core.config.settings import declared
from studio.core.errors import ConfigError, StudioError
from studio.core.experiments.ablation import NOT_VARIED, ablation_config
from studio.core.experiments.transfer import sweep_config
from studio.ui.file_dialogs import save_file
from studio.ui.style import GREY, RED, coloured
from studio.ui.widgets import never_widens

ABLATION, SWEEP = "ablation", "sweep"
LEFT_OUT = (*NOT_VARIED, "tasks", "manual_weights")  # a sweep varies the tasks; weights: a map


def parse_values(text: str) -> list[Any]:
    """`2e-5, 5e-5` or `heterogeneous, homogeneous` as YAML values, one per comma."""
    values = []
    for token in (t.strip() for t in text.split(",")):
        if token:
            try:
                values.append(yaml.safe_load(token))
            except yaml.YAMLError:
                values.append(token)
    return values


def _words(text: str) -> list[str]:
    return [t for t in (t.strip() for t in text.replace(";", ",").split(",")) if t]


class ExperimentBuilder(QDialog):
    """The builder; `runRequested(kind, path, config)` asks the window to run a saved file."""

    runRequested = Signal(str, str, object)

    def __init__(self, base: RunConfig, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New ablation or sweep")
        self.base = base
        self.settings = declared(RunConfig)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("a name for the experiment (optional)")
        self.tabs = QTabWidget()
        self.tabs.addTab(self._ablation_page(), "Ablation: vary settings")
        self.tabs.addTab(self._sweep_page(), "Sweep: grow the task mix")
        self.count = QLabel()
        never_widens(self.count)
        self.save_button = QPushButton("Save…")
        self.save_button.clicked.connect(self.save_as)
        self.run_button = QPushButton("Save and run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.save_and_run)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        based = f"Base: the Configure tab's config ({len(base.tasks)} tasks, {base.model}, "
        based += f"{base.max_steps} updates)"
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(html.escape(based)))
        layout.addWidget(self.name_edit)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.count)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.save_button, self.run_button, close):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        for signal in (self.name_edit.textChanged, self.tabs.currentChanged):
            signal.connect(self.update_count)
        self.resize(720, 480)
        self.update_count()

    # -- the ablation page -------------------------------------------------------------------

    def _ablation_page(self) -> QWidget:
        page = QWidget()
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Setting", "Values to try (comma-separated)"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        add = QPushButton("Add setting")
        add.clicked.connect(lambda: self.add_row())
        remove = QPushButton("Remove setting")
        remove.clicked.connect(self._remove_row)
        row = QHBoxLayout()
        for button in (add, remove):
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        return page

    def add_row(self, key: str = "", values: str = "") -> None:
        """A setting to vary; its values start as every choice it has, else the base's value."""
        row = self.table.rowCount()
        self.table.insertRow(row)
        combo = QComboBox()
        for name in FIELDS:
            if name not in LEFT_OUT:
                combo.addItem(f"{self.settings[name].label} ({name})", name)
        edit = QLineEdit(values)
        self.table.setCellWidget(row, 0, combo)
        self.table.setCellWidget(row, 1, edit)
        if key:
            combo.setCurrentIndex(combo.findData(key))
        combo.currentIndexChanged.connect(lambda _: self._fill(combo, edit))
        edit.textChanged.connect(self.update_count)
        if not values:
            self._fill(combo, edit)
        self.update_count()

    def _fill(self, combo: QComboBox, edit: QLineEdit) -> None:
        key = str(combo.currentData())
        base = getattr(self.base, key)
        choices = CHOICES.get(key)
        edit.setText(", ".join(choices) if choices else "" if base is None else str(base))

    def _remove_row(self) -> None:
        row = self.table.currentRow()
        self.table.removeRow(row if row >= 0 else self.table.rowCount() - 1)
        self.update_count()

    def vary(self) -> dict[str, list[Any]]:
        vary: dict[str, list[Any]] = {}
        for row in range(self.table.rowCount()):
            combo = self.table.cellWidget(row, 0)
            edit = self.table.cellWidget(row, 1)
            assert isinstance(combo, QComboBox) and isinstance(edit, QLineEdit)
            vary[str(combo.currentData())] = parse_values(edit.text())
        return vary

    # -- the sweep page ----------------------------------------------------------------------

    def _sweep_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.pool_edit = QLineEdit(", ".join(self.base.tasks))
        self.pool_edit.setToolTip("The tasks in the order they join the mix")
        n = len(self.base.tasks)
        self.counts_edit = QLineEdit(", ".join(str(c) for c in sorted({max(1, n // 2), n})))
        self.targets_edit = QLineEdit()
        self.targets_edit.setPlaceholderText("held-out tasks to fine-tune on, e.g. rte, copa")
        self.sizes_edit = QLineEdit("32, all")
        self.seeds_edit = QLineEdit("0, 1")
        for label, edit in (
            ("Task pool", self.pool_edit),
            ("Task counts", self.counts_edit),
            ("Transfer targets", self.targets_edit),
            ("Training sizes", self.sizes_edit),
            ("Seeds", self.seeds_edit),
        ):
            form.addRow(label, edit)
            edit.textChanged.connect(self.update_count)
        return page

    # -- the file ----------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return ABLATION if self.tabs.currentIndex() == 0 else SWEEP

    def document(self) -> dict[str, Any]:
        """The file's mapping for the page shown, checked by the reader that will run it."""
        name = self.name_edit.text().strip()
        base = {k: v for k, v in self.base.to_dict().items() if k != "name"}
        if self.kind == ABLATION:
            data: dict[str, Any] = {"name": name, "base": base, "vary": self.vary()}
            ablation_config(data, "the ablation")
            return data
        pretrain = {k: v for k, v in base.items() if k != "tasks"}
        data = {
            "name": name,
            "pool": _words(self.pool_edit.text()),
            "counts": parse_values(self.counts_edit.text()),
            "pretrain": pretrain,
            "transfer": {
                "targets": _words(self.targets_edit.text()),
                "base_model": self.base.model,
                "sizes": parse_values(self.sizes_edit.text()),
                "seeds": parse_values(self.seeds_edit.text()),
            },
        }
        sweep_config(data, "the sweep")
        return data

    def update_count(self, *_: object) -> None:
        """How many runs the file makes, or what is wrong with it."""
        try:
            data = self.document()
        except StudioError as exc:
            self.count.setText(coloured(html.escape(str(exc)), RED))
            self._enable(False)
            return
        if self.kind == ABLATION:
            variants = len(ablation_config(data, "the ablation").variants())
            text = f"{variants} variants: {variants} pre-finetuning runs"
        else:
            config = sweep_config(data, "the sweep")
            transfer = config.transfer
            grid = len(transfer["targets"]) * len(transfer["sizes"]) * len(transfer["seeds"])
            counts = len(config.counts)
            text = f"{counts} pre-finetuning runs, each with {grid * 2} fine-tunings"
        self.count.setText(coloured(html.escape(text), GREY))
        self._enable(True)

    def _enable(self, ok: bool) -> None:
        self.save_button.setEnabled(ok)
        self.run_button.setEnabled(ok)

    def write(self, path: Path) -> Path:
        """Save the file (ConfigError when it would not run)."""
        text = yaml.safe_dump(self.document(), sort_keys=False)
        Path(path).write_text(text, encoding="utf-8")
        return Path(path)

    def save_as(self) -> str:
        name = f"{self.kind}.yaml"
        path, _ = save_file(self, "config", f"Save the {self.kind}", name, "YAML (*.yaml *.yml)")
        if not path:
            return ""
        try:
            self.write(Path(path))
        except (ConfigError, OSError) as exc:
            self.count.setText(coloured(html.escape(f"{path}: {exc}"), RED))
            return ""
        return path

    def save_and_run(self) -> None:
        path = self.save_as()
        if path:
            self.runRequested.emit(self.kind, path, self.document())
            self.accept()

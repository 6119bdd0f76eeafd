"""The Configure tab: a form for every RunConfig setting, each explained in its tooltip."""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from pathlib import Path

import yaml
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core import paths, presets
from studio.core.config import CHOICES, RunConfig
from studio.core.errors import ConfigError
from studio.core.models import DEFAULT_MODEL, SEQ2SEQ_MODEL, is_encoder_decoder
from studio.ui.fields import SciSpinBox, WheelGuard

log = logging.getLogger(__name__)

HELP_FILE = paths.package_dir("resources") / "config_help.yaml"

# Friendly names for choice values; the value itself is the item's data.
CHOICE_LABELS = {
    "log_n": "log n (Muppet)",
    "heterogeneous": "heterogeneous (Muppet)",
    "proportional": "proportional (Muppet)",
    "shared": "shared (Muppet)",
    "per_dataset": "per dataset",
    "no": "no (fp32)",
}
MODELS = (
    (DEFAULT_MODEL, "minilm — all-MiniLM-L6-v2 (offline)"),
    (SEQ2SEQ_MODEL, "MiniLM encoder-decoder (offline)"),
    ("roberta-base", "roberta-base"),
    ("bert-base-uncased", "bert-base-uncased"),
    ("microsoft/deberta-v3-base", "microsoft/deberta-v3-base"),
    ("facebook/bart-base", "facebook/bart-base"),
    ("t5-small", "t5-small"),
)
BIG = 100_000_000
# Fields read and written with value()/setValue() as they are.
NUMBERS = (
    "tasks_per_update", "temperature", "batch_size", "learning_rate", "weight_decay",
    "max_steps", "warmup_ratio", "grad_clip", "eval_every", "log_every", "checkpoint_every",
    "keep_checkpoints", "max_length", "seed", "r3f_lambda", "r3f_eps",
    "max_target_length", "num_beams", "label_smoothing",
)  # fmt: skip
# Settings that only matter for summarization, i.e. with an encoder-decoder base model.
GENERATION = ("max_target_length", "num_beams", "label_smoothing")
# Optional integers: the spin box's 0 shows "all" / "default" and means None.
OPTIONAL = ("eval_max_examples", "num_threads", "num_proc", "doc_stride")


def load_help(path: Path = HELP_FILE) -> dict[str, str]:
    """Field tooltips, kept as data so the help can be edited without touching the layout."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    # A paragraph is rich text, which Qt word-wraps; plain tooltips would be one long line.
    return {key: f"<p>{html.escape(str(text))}</p>" for key, text in raw.items()}


HELP = load_help()


class _WeightDelegate(QStyledItemDelegate):
    """Edits a manual loss weight with a bounded spin box (weights must be >= 0)."""

    def createEditor(self, parent: QWidget, option: object, index: object) -> QWidget:
        spin = ConfigForm._double(0.0, 1000.0, 3, 0.1)
        spin.setParent(parent)
        spin.setFrame(False)
        spin.setToolTip(HELP["manual_weights"])
        return spin


class ConfigForm(QWidget):
    """Every RunConfig field except `tasks` (the checklist's); `changed` fires on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self._device = "cpu"  # until the window's probe says otherwise
        self._pristine = False  # showing a preset the window chose, not yet edited
        self._tasks: list[str] = []
        self._weights: dict[str, float] = {}
        self._guard = WheelGuard(self)
        self.fields: dict[str, QWidget] = {}
        self._build()
        self.set_config(RunConfig(tasks=("_",)))

    # -- public API ---------------------------------------------------------------------------

    def config(self, tasks: Iterable[str]) -> RunConfig:
        """The run config for `tasks`; a bad combination raises ConfigError naming the key."""
        tasks = tuple(tasks)
        f = self.fields
        values = {key: f[key].value() for key in NUMBERS}
        values.update({key: f[key].value() or None for key in OPTIONAL})
        values.update({key: self._choice(key) for key in CHOICES})
        manual = values["loss_scaling"] == "manual"
        return RunConfig(
            tasks=tasks,
            name=f["name"].text().strip(),
            model=self.model_name(),
            manual_weights={t: self._weights.get(t, 1.0) for t in tasks} if manual else {},
            examples_cap=self.sampling_settings()[2],
            **values,
        )

    def set_config(self, cfg: RunConfig) -> None:
        """Fill the form from `cfg` (its tasks are for the checklist); emits `changed` once."""
        self._pristine = False
        self._preset_chosen_index(0)
        self._loading = True
        try:
            f = self.fields
            f["name"].setText(cfg.name)
            self._set_model(cfg.model)
            for key in CHOICES:
                f[key].setCurrentIndex(max(f[key].findData(getattr(cfg, key)), 0))
            for key in NUMBERS:
                f[key].setValue(getattr(cfg, key))
            for key in OPTIONAL:
                f[key].setValue(getattr(cfg, key) or 0)
            self._cap_on.setChecked(cfg.examples_cap is not None)
            f["examples_cap"].setValue(cfg.examples_cap or 1000)
            self._weights = dict(cfg.manual_weights)
            self._fill_weights()
        finally:
            self._loading = False
        self._update_enabled()
        self.changed.emit()

    def set_tasks(self, names: Iterable[str]) -> None:
        """The checked tasks, listed in the manual loss-weight table."""
        self._tasks = list(names)
        self._fill_weights()

    def sampling_settings(self) -> tuple[str, float, int | None]:
        """(sampling, temperature, examples cap) for the checklist's share preview."""
        cap = self.fields["examples_cap"].value() if self._cap_on.isChecked() else None
        return self._choice("sampling"), self.fields["temperature"].value(), cap

    def model_name(self) -> str:
        """The base model as the config spells it: 'minilm', a hub id or a folder."""
        box = self.fields["model"]
        text = box.currentText().strip()
        index = box.findText(text, Qt.MatchFlag.MatchExactly)
        return box.itemData(index) if index >= 0 else text

    def set_device_info(self, text: str) -> None:
        """What was detected, e.g. 'CUDA: NVIDIA H200, 139 GB' or 'CPU: 2 cores'. A quick look
        nobody has edited yet is sized again for that device."""
        self._device_info.setText(text)
        self._device = presets.device_kind(text)
        if self._pristine and self._preset.currentText() == presets.QUICK_LOOK:
            self.apply_preset(presets.QUICK_LOOK, pristine=True)

    def preset_names(self) -> list[str]:
        """The built-in presets, then the user's saved ones."""
        return [self._preset.itemText(i) for i in range(1, self._preset.count())]

    def apply_preset(self, name: str, pristine: bool = False) -> None:
        """Fill the form with a preset's settings; the run name, tasks and weights stay.
        `pristine`: the window's own choice, sized again when the device is detected."""
        settings = self._presets().get(name)
        if settings is None:
            return
        try:
            current = self.config(self._tasks or ("_",))
        except ConfigError:  # a half-edited form: the preset starts from the defaults
            current = RunConfig(tasks=("_",), name=self.fields["name"].text().strip())
        self.set_config(presets.apply(current, settings))
        self._show_preset(name)
        self._pristine = pristine

    def save_preset(self, name: str) -> None:
        """Save the form's settings as the user preset `name` (ConfigError if it cannot be)."""
        presets.save(name, self.config(self._tasks or ("_",)))
        self._fill_presets()
        self._show_preset(name)

    def focus_field(self, key: str) -> None:
        """Bring a field into view and focus it (e.g. the key a ConfigError names)."""
        widget = self.fields.get(key)
        if widget is not None:
            self._scroll.ensureWidgetVisible(widget)
            widget.setFocus()

    # -- building -----------------------------------------------------------------------------

    def _build(self) -> None:
        body = QWidget()
        columns = QHBoxLayout(body)
        columns.setSpacing(12)
        left, right = QVBoxLayout(), QVBoxLayout()
        for column, groups in (
            (left, (self._model_group(), self._recipe_group())),
            (right, (self._optimisation_group(), self._evaluation_group(), self._summary_group())),
        ):
            for group in groups:
                column.addWidget(group)
            column.addStretch(1)
            columns.addLayout(column, 1)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._preset_bar())
        layout.addWidget(self._scroll)

    def _preset_bar(self) -> QWidget:
        self._preset = QComboBox()
        self._preset.setToolTip(HELP["preset"])
        self._preset.setMinimumContentsLength(28)
        self._preset.activated.connect(self._preset_chosen)
        self._fill_presets()
        save = QPushButton("Save as preset…")
        save.setToolTip("Keep these settings (not the tasks) under a name of your own.")
        save.clicked.connect(self._ask_preset_name)
        self._delete_preset = QPushButton("Delete preset")
        self._delete_preset.setToolTip("Delete the chosen preset of your own.")
        self._delete_preset.clicked.connect(self._remove_preset)
        bar = self._hbox(QLabel("Preset"), self._preset, save, self._delete_preset,
                         stretches=(0, 0, 0, 0))  # fmt: skip
        bar.layout().addStretch(1)
        bar.layout().setContentsMargins(4, 4, 4, 0)
        self._preset_chosen_index(0)
        return bar

    def _presets(self) -> dict[str, dict]:
        saved, problems = presets.user_presets()
        for problem in problems:
            log.warning("preset skipped: %s", problem)
        return presets.builtin_presets(self._device) | saved

    def _fill_presets(self) -> None:
        box = self._preset
        box.blockSignals(True)
        box.clear()
        box.addItem("Custom settings")
        for name in self._presets():
            box.addItem(name)
        box.blockSignals(False)

    def _show_preset(self, name: str) -> None:
        self._preset_chosen_index(max(self._preset.findText(name), 0))

    def _preset_chosen_index(self, index: int) -> None:
        self._preset.setCurrentIndex(index)
        builtin = self._preset.currentText() in (presets.QUICK_LOOK, presets.MUPPET)
        self._delete_preset.setEnabled(index > 0 and not builtin)

    def _preset_chosen(self, index: int) -> None:
        if index > 0:
            self.apply_preset(self._preset.itemText(index))
        self._preset_chosen_index(index)

    def _ask_preset_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save as preset", "Preset name:")
        if ok and name.strip():
            try:
                self.save_preset(name.strip())
            except ConfigError as exc:
                QMessageBox.warning(self, "The preset was not saved", str(exc))

    def _remove_preset(self) -> None:
        name = self._preset.currentText()
        (presets.presets_dir() / f"{name}.yaml").unlink(missing_ok=True)
        self._fill_presets()
        self._preset_chosen_index(0)

    def _group(self, title: str) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return box, form

    def _row(
        self, form: QFormLayout, label: str, key: str, widget: QWidget, cell: QWidget | None = None
    ) -> None:
        """Add a labelled row; the tooltip goes on the label and on the input."""
        tip = HELP[key]
        widget.setToolTip(tip)
        self.fields[key] = widget
        row = QLabel(label)
        row.setToolTip(tip)
        form.addRow(row, cell if cell is not None else widget)
        self._watch(widget)

    def _watch(self, widget: QWidget) -> None:
        if isinstance(widget, (QAbstractSpinBox, QComboBox, QSlider)):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            widget.installEventFilter(self._guard)
        # One signal per widget: a spin box's textChanged would repeat its valueChanged.
        for name in ("valueChanged", "currentIndexChanged", "toggled", "textChanged"):
            if hasattr(widget, name):
                getattr(widget, name).connect(self._edited)
                break
        if isinstance(widget, QComboBox) and widget.isEditable():
            widget.editTextChanged.connect(self._edited)

    def _combo(self, key: str) -> QComboBox:
        box = QComboBox()
        for value in CHOICES[key]:
            box.addItem(CHOICE_LABELS.get(value, value), value)
        return box

    @staticmethod
    def _spin(minimum: int, maximum: int, special: str | None = None) -> QSpinBox:
        """An integer field; with `special`, 0 shows that text and means None."""
        spin = QSpinBox()
        spin.setRange(0 if special else minimum, maximum)
        spin.setGroupSeparatorShown(True)
        if special:
            spin.setSpecialValueText(special)
        return spin

    @staticmethod
    def _double(minimum: float, maximum: float, decimals: int, step: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(minimum, maximum)
        spin.setDecimals(decimals)
        spin.setSingleStep(step)
        return spin

    def _model_group(self) -> QGroupBox:
        box, form = self._group("Model && device")
        name = QLineEdit(placeholderText="optional, e.g. glue-15-tasks")
        self._row(form, "Run name", "name", name)
        model = QComboBox()
        model.setEditable(True)
        model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for value, label in MODELS:
            model.addItem(label, value)
        model.lineEdit().setPlaceholderText("Hugging Face id or a local folder")
        browse = QPushButton("Browse…")
        browse.setToolTip("Pick a local model folder (one holding config.json).")
        browse.clicked.connect(self._browse_model)
        self._row(form, "Base model", "model", model, self._hbox(model, browse))
        device = self._combo("device")
        self._device_info = QLabel("not detected yet")
        self._device_info.setToolTip(HELP["device_info"])
        self._device_info.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # info, not input
        self._device_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        info = self._hbox(device, self._device_info, stretches=(0, 1))
        self._row(form, "Device", "device", device, info)
        self._row(form, "Mixed precision", "mixed_precision", self._combo("mixed_precision"))
        self._row(form, "CPU threads", "num_threads", self._spin(1, 1024, "default"))
        self._row(form, "Tokenizing processes", "num_proc", self._spin(1, 64, "auto"))
        self._row(form, "Max length", "max_length", self._spin(8, 8192))
        self._row(form, "Doc stride", "doc_stride", self._spin(1, 8192, "auto"))
        return box

    def _recipe_group(self) -> QGroupBox:
        box, form = self._group("Multi-task recipe")
        scaling = self._combo("loss_scaling")
        self._row(form, "Loss scaling", "loss_scaling", scaling)
        table = self._weights_table = QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(["Task", "Loss weight"])
        table.setToolTip(HELP["manual_weights"])
        table.verticalHeader().setVisible(False)
        table.setAlternatingRowColors(True)
        table.setItemDelegateForColumn(1, _WeightDelegate(table))
        table.setEditTriggers(QTableWidget.EditTrigger.AllEditTriggers)
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        table.setMinimumHeight(150)
        table.itemChanged.connect(self._weight_edited)
        form.addRow(table)
        self._row(form, "Batch mixing", "mixing", self._combo("mixing"))
        self._row(form, "Tasks per update", "tasks_per_update", self._spin(1, 1024))
        self._row(form, "Task sampling", "sampling", self._combo("sampling"))
        temperature = self._double(0.1, 100.0, 2, 0.1)
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(10, 100)  # T = 1.0 .. 10.0 in steps of 0.1
        self._slider.setToolTip(HELP["temperature"])
        self._slider.valueChanged.connect(lambda v: temperature.setValue(v / 10))
        temperature.valueChanged.connect(self._sync_slider)
        self._watch(self._slider)
        row = self._hbox(self._slider, temperature)
        self._row(form, "Temperature T", "temperature", temperature, row)
        self._cap_on = QCheckBox("Cap at")
        self._cap_on.setToolTip(HELP["examples_cap"])
        self._watch(self._cap_on)
        cap = self._spin(1, BIG)
        cap.setSuffix(" examples")
        cap_row = self._hbox(self._cap_on, cap, stretches=(0, 1))
        self._row(form, "Examples cap", "examples_cap", cap, cap_row)
        self._row(form, "Head sharing", "head_sharing", self._combo("head_sharing"))
        self._row(form, "R3F λ", "r3f_lambda", self._double(0.0, 100.0, 3, 0.1))
        self._row(form, "R3F noise ε", "r3f_eps", SciSpinBox(1e-12, 1.0))
        self._row(form, "R3F noise", "r3f_noise", self._combo("r3f_noise"))
        scaling.currentIndexChanged.connect(self._update_enabled)
        self.fields["sampling"].currentIndexChanged.connect(self._update_enabled)
        self._cap_on.toggled.connect(self._update_enabled)
        self.fields["r3f_lambda"].valueChanged.connect(self._update_enabled)
        return box

    def _summary_group(self) -> QGroupBox:
        box, form = self._group("Summarization (encoder-decoder models)")
        self._row(form, "Max target length", "max_target_length", self._spin(1, 8192))
        self._row(form, "Beams", "num_beams", self._spin(1, 64))
        self._row(form, "Label smoothing", "label_smoothing", self._double(0.0, 0.99, 3, 0.05))
        self.fields["model"].editTextChanged.connect(self._update_enabled)
        return box

    def _optimisation_group(self) -> QGroupBox:
        box, form = self._group("Optimisation")
        self._row(form, "Batch size", "batch_size", self._spin(1, 65536))
        self._row(form, "Learning rate", "learning_rate", SciSpinBox(1e-10, 10.0))
        self._row(form, "Weight decay", "weight_decay", self._double(0.0, 10.0, 4, 0.01))
        self._row(form, "Max steps", "max_steps", self._spin(1, BIG))
        self._row(form, "Warm-up ratio", "warmup_ratio", self._double(0.0, 0.99, 3, 0.01))
        # grad_clip 0 would scale every gradient to zero, so the field starts above it.
        self._row(form, "Gradient clip", "grad_clip", self._double(0.01, 1000.0, 2, 0.1))
        self._row(form, "Seed", "seed", self._spin(0, 2**31 - 1))
        return box

    def _evaluation_group(self) -> QGroupBox:
        box, form = self._group("Evaluation && checkpoints")
        self._row(form, "Evaluate every", "eval_every", self._spin(1, BIG))
        self._row(form, "Eval examples", "eval_max_examples", self._spin(1, BIG, "all"))
        self._row(form, "Log every", "log_every", self._spin(1, BIG))
        self._row(form, "Checkpoint every", "checkpoint_every", self._spin(1, BIG))
        self._row(form, "Keep checkpoints", "keep_checkpoints", self._spin(1, 1000))
        for key in ("eval_every", "log_every", "checkpoint_every"):
            self.fields[key].setSuffix(" steps")
        return box

    @staticmethod
    def _hbox(*widgets: QWidget, stretches: tuple[int, ...] = (1, 0)) -> QWidget:
        """Widgets side by side in one form cell, sharing spare width by `stretches`."""
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        for widget, stretch in zip(widgets, stretches, strict=True):
            row.addWidget(widget, stretch)
        return holder

    # -- behaviour ----------------------------------------------------------------------------

    def _choice(self, key: str) -> str:
        return self.fields[key].currentData()

    def _set_model(self, value: str) -> None:
        box = self.fields["model"]
        index = box.findData(value)
        if index >= 0:
            box.setCurrentIndex(index)
        box.setEditText(box.itemText(index) if index >= 0 else value)

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self._set_model(folder)

    def _sync_slider(self, value: float) -> None:
        self._slider.blockSignals(True)  # the slider is coarser than the spin box
        self._slider.setValue(round(min(max(value, 1.0), 10.0) * 10))
        self._slider.blockSignals(False)

    def _fill_weights(self) -> None:
        """One row per checked task, keeping weights already typed for tasks seen before."""
        table = self._weights_table
        table.blockSignals(True)  # rows being filled are not edits
        table.setRowCount(len(self._tasks))
        for row, task in enumerate(self._tasks):
            name = QTableWidgetItem(task)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            table.setItem(row, 0, name)
            weight = QTableWidgetItem()
            weight.setData(Qt.ItemDataRole.EditRole, float(self._weights.get(task, 1.0)))
            weight.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            weight.setToolTip(f"Loss weight of {task}; 0 leaves it out of the objective.")
            table.setItem(row, 1, weight)
        table.blockSignals(False)

    def _weight_edited(self, item: QTableWidgetItem) -> None:
        if item.column() == 1:
            task = self._weights_table.item(item.row(), 0).text()
            self._weights[task] = float(item.data(Qt.ItemDataRole.EditRole))
            self._edited()

    def _update_enabled(self) -> None:
        f = self.fields
        self._weights_table.setVisible(self._choice("loss_scaling") == "manual")
        on = self._choice("sampling") == "temperature"
        f["temperature"].setEnabled(on)
        self._slider.setEnabled(on)
        f["examples_cap"].setEnabled(self._cap_on.isChecked())
        f["r3f_eps"].setEnabled(f["r3f_lambda"].value() > 0)
        f["r3f_noise"].setEnabled(f["r3f_lambda"].value() > 0)
        generates = is_encoder_decoder(self.model_name())
        for key in GENERATION:
            f[key].setEnabled(generates)

    def _edited(self, *_: object) -> None:
        if not self._loading:
            self._pristine = False
            self._preset_chosen_index(0)  # the settings no longer are the preset's
            self.changed.emit()

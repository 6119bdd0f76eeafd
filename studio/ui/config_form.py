"""The Configure tab: a form for every RunConfig setting, each explained in its tooltip."""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path

import yaml
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.core import paths, presets
from studio.core.config import CHOICES, RunConfig
from studio.core.errors import ConfigError
from studio.core.models import BASE_MODELS, is_encoder_decoder
from studio.ui.fields import SciSpinBox, WheelGuard
from studio.ui.preset_bar import PresetBar
from studio.ui.weight_table import WeightTable
from studio.ui.widgets import double_spin, form_group, hbox_widget, int_spin

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


class ConfigForm(QWidget):
    """Every RunConfig field except `tasks` (the checklist's); `changed` fires on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self._pristine = False  # showing a preset the window chose, not yet edited
        self._tasks: list[str] = []
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
            manual_weights=(
                {t: self._weights_table.weights.get(t, 1.0) for t in tasks} if manual else {}
            ),
            examples_cap=self.sampling_settings()[2],
            **values,
        )

    def set_config(self, cfg: RunConfig) -> None:
        """Fill the form from `cfg` (its tasks are for the checklist); emits `changed` once."""
        self._pristine = False
        self.preset_bar.set_index(0)
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
            self._weights_table.set_weights(cfg.manual_weights)
        finally:
            self._loading = False
        self._update_enabled()
        self.changed.emit()

    def set_tasks(self, names: Iterable[str]) -> None:
        """The checked tasks, listed in the manual loss-weight table."""
        self._tasks = list(names)
        self._weights_table.set_tasks(self._tasks)

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
        self.preset_bar.device = presets.device_kind(text)
        if self._pristine and self.preset_bar.current() == presets.QUICK_LOOK:
            self.apply_preset(presets.QUICK_LOOK, pristine=True)

    def preset_names(self) -> list[str]:
        """The built-in presets, then the user's saved ones."""
        return self.preset_bar.names()

    def apply_preset(self, name: str, pristine: bool = False) -> None:
        """Fill the form with a preset's settings; the run name, tasks and weights stay.
        `pristine`: the window's own choice, sized again when the device is detected."""
        settings = self.preset_bar.presets().get(name)
        if settings is None:
            return
        try:
            current = self.config(self._tasks or ("_",))
        except ConfigError:  # a half-edited form: the preset starts from the defaults
            current = RunConfig(tasks=("_",), name=self.fields["name"].text().strip())
        self.set_config(presets.apply(current, settings))
        self.preset_bar.show_preset(name)
        self._pristine = pristine

    def save_preset(self, name: str) -> None:
        """Save the form's settings as the user preset `name` (ConfigError if it cannot be)."""
        presets.save(name, self.config(self._tasks or ("_",)))
        self.preset_bar.fill()
        self.preset_bar.show_preset(name)

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
        self.preset_bar = PresetBar(HELP["preset"])
        self.preset_bar.chosen.connect(self.apply_preset)
        self.preset_bar.saveRequested.connect(self._save_requested)
        layout.addWidget(self.preset_bar)
        layout.addWidget(self._scroll)

    def _save_requested(self, name: str) -> None:
        try:
            self.save_preset(name)
        except ConfigError as exc:
            QMessageBox.warning(self, "The preset was not saved", str(exc))

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

    def _model_group(self) -> QGroupBox:
        box, form = form_group("Model && device")
        name = QLineEdit(placeholderText="optional, e.g. glue-15-tasks")
        self._row(form, "Run name", "name", name)
        model = QComboBox()
        model.setEditable(True)
        model.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for value, label in BASE_MODELS:
            model.addItem(label, value)
        model.lineEdit().setPlaceholderText("Hugging Face id or a local folder")
        browse = QPushButton("Browse…")
        browse.setToolTip("Pick a local model folder (one holding config.json).")
        browse.clicked.connect(self._browse_model)
        self._row(form, "Base model", "model", model, hbox_widget((model, 1), browse))
        device = self._combo("device")
        self._device_info = QLabel("not detected yet")
        self._device_info.setToolTip(HELP["device_info"])
        self._device_info.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # info, not input
        self._device_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        info = hbox_widget(device, (self._device_info, 1))
        self._row(form, "Device", "device", device, info)
        self._row(form, "Mixed precision", "mixed_precision", self._combo("mixed_precision"))
        self._row(form, "CPU threads", "num_threads", int_spin(1, 1024, special="default"))
        self._row(form, "Tokenizing processes", "num_proc", int_spin(1, 64, special="auto"))
        self._row(form, "Max length", "max_length", int_spin(8, 8192))
        self._row(form, "Doc stride", "doc_stride", int_spin(1, 8192, special="auto"))
        return box

    def _recipe_group(self) -> QGroupBox:
        box, form = form_group("Multi-task recipe")
        scaling = self._combo("loss_scaling")
        self._row(form, "Loss scaling", "loss_scaling", scaling)
        self._weights_table = WeightTable(HELP["manual_weights"])
        self._weights_table.edited.connect(self._edited)
        form.addRow(self._weights_table)
        self._row(form, "Batch mixing", "mixing", self._combo("mixing"))
        self._row(form, "Tasks per update", "tasks_per_update", int_spin(1, 1024))
        self._row(form, "Task sampling", "sampling", self._combo("sampling"))
        temperature = double_spin(0.1, 100.0, 2, 0.1)
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(10, 100)  # T = 1.0 .. 10.0 in steps of 0.1
        self._slider.setToolTip(HELP["temperature"])
        self._slider.valueChanged.connect(lambda v: temperature.setValue(v / 10))
        temperature.valueChanged.connect(self._sync_slider)
        self._watch(self._slider)
        row = hbox_widget((self._slider, 1), temperature)
        self._row(form, "Temperature T", "temperature", temperature, row)
        self._cap_on = QCheckBox("Cap at")
        self._cap_on.setToolTip(HELP["examples_cap"])
        self._watch(self._cap_on)
        cap = int_spin(1, BIG)
        cap.setSuffix(" examples")
        cap_row = hbox_widget(self._cap_on, (cap, 1))
        self._row(form, "Examples cap", "examples_cap", cap, cap_row)
        self._row(form, "Head sharing", "head_sharing", self._combo("head_sharing"))
        self._row(form, "Head pooling", "pooling", self._combo("pooling"))
        self._row(form, "R3F λ", "r3f_lambda", double_spin(0.0, 100.0, 3, 0.1))
        self._row(form, "R3F noise ε", "r3f_eps", SciSpinBox(1e-12, 1.0))
        self._row(form, "R3F noise", "r3f_noise", self._combo("r3f_noise"))
        scaling.currentIndexChanged.connect(self._update_enabled)
        self.fields["sampling"].currentIndexChanged.connect(self._update_enabled)
        self._cap_on.toggled.connect(self._update_enabled)
        self.fields["r3f_lambda"].valueChanged.connect(self._update_enabled)
        return box

    def _summary_group(self) -> QGroupBox:
        box, form = form_group("Summarization (encoder-decoder models)")
        self._row(form, "Max target length", "max_target_length", int_spin(1, 8192))
        self._row(form, "Beams", "num_beams", int_spin(1, 64))
        self._row(form, "Label smoothing", "label_smoothing", double_spin(0.0, 0.99, 3, 0.05))
        self.fields["model"].editTextChanged.connect(self._update_enabled)
        return box

    def _optimisation_group(self) -> QGroupBox:
        box, form = form_group("Optimisation")
        self._row(form, "Batch size", "batch_size", int_spin(1, 65536))
        self._row(form, "Learning rate", "learning_rate", SciSpinBox(1e-10, 10.0))
        self._row(form, "Weight decay", "weight_decay", double_spin(0.0, 10.0, 4, 0.01))
        self._row(form, "Max steps", "max_steps", int_spin(1, BIG))
        self._row(form, "Warm-up ratio", "warmup_ratio", double_spin(0.0, 0.99, 3, 0.01))
        # grad_clip 0 would scale every gradient to zero, so the field starts above it.
        self._row(form, "Gradient clip", "grad_clip", double_spin(0.01, 1000.0, 2, 0.1))
        self._row(form, "Seed", "seed", int_spin(0, 2**31 - 1))
        return box

    def _evaluation_group(self) -> QGroupBox:
        box, form = form_group("Evaluation && checkpoints")
        self._row(form, "Evaluate every", "eval_every", int_spin(1, BIG))
        self._row(form, "Eval examples", "eval_max_examples", int_spin(1, BIG, special="all"))
        self._row(form, "Log every", "log_every", int_spin(1, BIG))
        self._row(form, "Checkpoint every", "checkpoint_every", int_spin(1, BIG))
        self._row(form, "Keep checkpoints", "keep_checkpoints", int_spin(1, 1000))
        self._row(form, "Report to", "report_to", self._combo("report_to"))
        for key in ("eval_every", "log_every", "checkpoint_every"):
            self.fields[key].setSuffix(" steps")
        return box

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
            self.preset_bar.set_index(0)  # the settings no longer are the preset's
            self.changed.emit()

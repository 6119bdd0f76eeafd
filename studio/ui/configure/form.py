"""The Configure tab: a form for every RunConfig setting, built from the settings' declarations
(core.settings), each explained in its tooltip."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.core.config import presets
from studio.core.config.models import BASE_MODELS, CATALOGUED, is_encoder_decoder
from studio.core.config.run import EVALUATION, MODEL, OPTIMISATION, RECIPE, SUMMARY, RunConfig
from studio.core.config.settings import help_texts, schema
from studio.core.errors import ConfigError
from studio.ui.configure.preset_bar import PresetBar
from studio.ui.configure.setting_fields import NumberField, SettingsForm, TextField, tip
from studio.ui.configure.weight_table import WeightTable
from studio.ui.file_dialogs import choose_folder
from studio.ui.widgets import ElidedLabel, hbox_widget

# Settings that only matter for summarization, i.e. with an encoder-decoder base model.
GENERATION = ("max_target_length", "num_beams", "label_smoothing")
COLUMNS = ((MODEL, RECIPE), (OPTIMISATION, EVALUATION, SUMMARY))
HELP = {key: tip(text) for key, text in help_texts()["run"].items()}
TOOLTIP = Qt.ItemDataRole.ToolTipRole


class ModelField(QComboBox):
    """The base model: a built-in name, a hub id or a folder, typed or picked."""

    def __init__(self) -> None:
        super().__init__()
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        for value, label in BASE_MODELS:
            self.addItem(label, value)
            # What it is, how big, what it reads and needs (core.config.models.CATALOG).
            self.setItemData(self.count() - 1, CATALOGUED[value].description, TOOLTIP)
        edit = self.lineEdit()
        assert edit is not None, "an editable combo box has a line edit"
        edit.setPlaceholderText("Hugging Face id or a local folder")

    def setting_value(self) -> str:
        """The base model as the config spells it: 'minilm', a hub id or a folder."""
        text = self.currentText().strip()
        index = self.findText(text, Qt.MatchFlag.MatchExactly)
        return str(self.itemData(index)) if index >= 0 else text

    def set_setting_value(self, value: str) -> None:
        index = self.findData(value)
        if index >= 0:
            self.setCurrentIndex(index)
        self.setEditText(self.itemText(index) if index >= 0 else value)


class ConfigForm(QWidget):
    """Every RunConfig field except `tasks` (the checklist's); `changed` fires on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pristine = False  # showing a preset the window chose, not yet edited
        self._tasks: list[str] = []
        self._weights_table = WeightTable(HELP["manual_weights"])
        self.settings = SettingsForm(
            schema(RunConfig, "run"),
            custom={
                "name": TextField(placeholderText="optional, e.g. glue-15-tasks"),
                "model": ModelField(),
                "manual_weights": self._weights_table,
            },
            parent=self,
        )
        self.fields = self.settings.fields
        self._build()
        self.set_config(RunConfig(tasks=("_",)))

    # -- public API ---------------------------------------------------------------------------

    def config(self, tasks: Iterable[str]) -> RunConfig:
        """The run config for `tasks`; a bad combination raises ConfigError naming the key."""
        tasks = tuple(tasks)
        values: dict[str, Any] = self.settings.values()
        weights = values["manual_weights"]
        manual = values["loss_scaling"] == "manual"
        values["manual_weights"] = {t: weights.get(t, 1.0) for t in tasks} if manual else {}
        return RunConfig(tasks=tasks, **values)

    def set_config(self, cfg: RunConfig) -> None:
        """Fill the form from `cfg` (its tasks are for the checklist); emits `changed` once."""
        self._pristine = False
        self.preset_bar.set_index(0)
        self.settings.set_values(cfg.to_dict())
        self._sync_slider(cfg.temperature)
        self._update_enabled()
        self.changed.emit()

    def set_tasks(self, names: Iterable[str]) -> None:
        """The checked tasks, listed in the manual loss-weight table."""
        self._tasks = list(names)
        self._weights_table.set_tasks(self._tasks)

    def sampling_settings(self) -> tuple[str, float, int | None]:
        """(sampling, temperature, examples cap) for the checklist's share preview."""
        values = self.settings.values()
        return values["sampling"], values["temperature"], values["examples_cap"]

    def model_name(self) -> str:
        """The base model as the config spells it: 'minilm', a hub id or a folder."""
        return str(self.settings.value("model"))

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
            name = cast(TextField, self.fields["name"]).setting_value()
            current = RunConfig(tasks=("_",), name=name)
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
        cells = {
            "model": hbox_widget((self.fields["model"], 1), self._browse_button()),
            "device": self._device_cell(),
            "temperature": self._temperature_cell(),
        }
        body = QWidget()
        columns = QHBoxLayout(body)
        columns.setSpacing(12)
        for groups in COLUMNS:
            column = QVBoxLayout()
            for group in groups:
                column.addWidget(self.settings.group_box(group, cells))
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
        self.settings.edited.connect(self._edited)

    def _save_requested(self, name: str) -> None:
        try:
            self.save_preset(name)
        except ConfigError as exc:
            QMessageBox.warning(self, "The preset was not saved", str(exc))

    def _browse_button(self) -> QPushButton:
        browse = QPushButton("Browse…")
        browse.setToolTip("Pick a local model folder (one holding config.json).")
        browse.clicked.connect(self._browse_model)
        return browse

    def _device_cell(self) -> QWidget:
        self._device_info = ElidedLabel("not detected yet")
        self._device_info.setToolTip(HELP["device_info"])
        self._device_info.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # info, not input
        self._device_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return hbox_widget(self.fields["device"], (self._device_info, 1))

    def _temperature_cell(self) -> QWidget:
        """The temperature's field with a coarse slider for T = 1.0 .. 10.0 beside it."""
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(10, 100)
        self._slider.setToolTip(HELP["temperature"])
        temperature = cast(NumberField, self.fields["temperature"])
        self._slider.valueChanged.connect(lambda v: temperature.setValue(v / 10))
        temperature.valueChanged.connect(self._sync_slider)
        self.settings.watch(self._slider)
        return hbox_widget((self._slider, 1), temperature)

    # -- behaviour ----------------------------------------------------------------------------

    def _browse_model(self) -> None:
        folder = choose_folder(self, "export", "Choose a model folder")
        if folder:
            cast(ModelField, self.fields["model"]).set_setting_value(folder)

    def _sync_slider(self, value: float) -> None:
        self._slider.blockSignals(True)  # the slider is coarser than the spin box
        self._slider.setValue(round(min(max(value, 1.0), 10.0) * 10))
        self._slider.blockSignals(False)

    def _update_enabled(self) -> None:
        f = self.fields
        manual = self.settings.value("loss_scaling") == "manual"
        self._weights_table.setVisible(manual)
        self.settings.labels["manual_weights"].setVisible(manual)
        on = self.settings.value("sampling") == "temperature"
        f["temperature"].setEnabled(on)
        self._slider.setEnabled(on)
        noisy = self.settings.value("r3f_lambda") > 0
        f["r3f_eps"].setEnabled(noisy)
        f["r3f_noise"].setEnabled(noisy)
        generates = is_encoder_decoder(self.model_name())
        for key in GENERATION:
            f[key].setEnabled(generates)

    def _edited(self) -> None:
        self._pristine = False
        self.preset_bar.set_index(0)  # the settings no longer are the preset's
        self._update_enabled()
        self.changed.emit()

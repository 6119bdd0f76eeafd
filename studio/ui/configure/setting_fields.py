"""Input fields built from a setting's declaration (core.settings), and the forms of them.

A field allows exactly the setting's range and holds exactly the value it was given: a float
is kept to the last bit (no fixed decimals), an integer up to the range's end (past a 32-bit
spin box's), None shows as the setting's word for it ("auto", "all").
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, cast

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from studio.core.config.settings import Field, Setting

# Friendly names for choice values; the value itself is the item's data.
CHOICE_LABELS = {
    "log_n": "log n (Muppet)",
    "heterogeneous": "heterogeneous (Muppet)",
    "proportional": "proportional (Muppet)",
    "shared": "shared (Muppet)",
    "per_dataset": "per dataset",
    "no": "no (fp32)",
}
# Qt's most decimals (DBL_MAX_10_EXP + DBL_DIG): every double survives setValue's rounding.
ALL_DECIMALS = 323
_NUMBER = re.compile(r"[+-]?[0-9,]*\.?[0-9]*([eE][+-]?[0-9]*)?")


def tip(text: str) -> str:
    """Help as rich text, which Qt word-wraps (a plain tooltip would be one long line)."""
    return f"<p>{html.escape(text)}</p>" if text else ""


class NumberField(QDoubleSpinBox):
    """An int, float or scientific-notation field over exactly a setting's range.

    A `sci` field steps its leading digit (3e-5 -> 4e-5, 9e-5 -> 1e-4), which suits
    log-scale values; None, where the setting allows it, is the step below the range.
    """

    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        assert setting.range is not None, "a number field needs its setting's range"
        self.kind = setting.kind
        self.none = setting.none
        self.setDecimals(0 if self.kind == "int" else ALL_DECIMALS)
        low, high = setting.range.low, setting.range.highest
        if self.kind == "int":
            low, high = math.ceil(low), math.floor(high)
        if self.none is not None:
            assert self.kind == "int", "only integer settings read None as a word"
            low -= 1
            self.setSpecialValueText(self.none)
        self.setRange(low, high)
        self.setSingleStep(setting.step)
        if setting.suffix:
            self.setSuffix(setting.suffix)

    def setting_value(self) -> int | float | None:
        value = self.value()
        if self.none is not None and value == self.minimum():
            return None
        return int(value) if self.kind == "int" else value

    def set_setting_value(self, value: int | float | None) -> None:
        self.setValue(self.minimum() if value is None else value)

    def textFromValue(self, value: float) -> str:
        if self.kind == "int":
            return f"{int(value):,}"
        if self.kind == "sci":
            return re.sub(r"e([+-])0*(\d)", r"e\1\2", repr(float(value)))
        text = repr(float(value))
        return text[:-2] if text.endswith(".0") and "e" not in text else text

    def valueFromText(self, text: str) -> float:
        try:
            return float(self._bare(text).replace(",", ""))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        return self._state(text), text, pos

    def _state(self, text: str) -> QValidator.State:
        bare = self._bare(text)
        if self.none is not None and bare == self.none:
            return QValidator.State.Acceptable
        try:
            value = float(bare.replace(",", ""))
        except ValueError:
            partial = _NUMBER.fullmatch(bare) or (self.none or "").startswith(bare)
            return QValidator.State.Intermediate if partial else QValidator.State.Invalid
        whole = self.kind != "int" or value == int(value)
        ok = whole and self.minimum() <= value <= self.maximum()
        return QValidator.State.Acceptable if ok else QValidator.State.Intermediate

    def _bare(self, text: str) -> str:
        suffix = self.suffix()
        return (text[: -len(suffix)] if suffix and text.endswith(suffix) else text).strip()

    def stepBy(self, steps: int) -> None:
        if self.kind != "sci":
            super().stepBy(steps)
            return
        value = self.value()
        for _ in range(abs(steps)):
            down = steps < 0
            exponent = math.floor(math.log10(value)) if value > 0 else -6
            if down and round(value / 10**exponent, 9) <= 1:
                exponent -= 1  # 1e-4 steps down to 9e-5, not 0
            value = float(f"{value + (-1 if down else 1) * 10**exponent:.6g}")
        self.setValue(min(max(value, self.minimum()), self.maximum()))


class ChoiceField(QComboBox):
    def __init__(self, setting: Setting, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for value in setting.choices:
            self.addItem(CHOICE_LABELS.get(value, value), value)

    def setting_value(self) -> str:
        return str(self.currentData())

    def set_setting_value(self, value: str) -> None:
        self.setCurrentIndex(max(self.findData(value), 0))


class TextField(QLineEdit):
    def setting_value(self) -> str:
        return self.text().strip()

    def set_setting_value(self, value: str) -> None:
        self.setText(value)


class BoolField(QCheckBox):
    def setting_value(self) -> bool:
        return self.isChecked()

    def set_setting_value(self, value: bool) -> None:
        self.setChecked(bool(value))


class SettingInput(Protocol):
    """What a form reads and fills; a caller's own widget for a setting provides it too."""

    def setting_value(self) -> Any: ...

    def set_setting_value(self, value: Any) -> None: ...


Input = NumberField | ChoiceField | TextField | BoolField
FIELD_TYPES: dict[str, Callable[[Setting], Input]] = {
    "int": NumberField,
    "float": NumberField,
    "sci": NumberField,
    "choice": ChoiceField,
    "text": lambda setting: TextField(),
    "bool": lambda setting: BoolField(setting.label),
}


def make_field(field: Field) -> Input:
    """The input for one declared setting, its help as the tooltip."""
    widget = FIELD_TYPES[field.setting.kind](field.setting)
    widget.setToolTip(tip(field.help))
    return widget


class WheelGuard(QObject):
    """Stops the mouse wheel from changing unfocused fields while the form scrolls."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


class SettingsForm(QObject):
    """The fields of a config class's declared settings, in titled groups of labelled rows.

    `custom` gives a setting a widget of the caller's (one with `setting_value` and
    `set_setting_value`); `group_box(cells=...)` puts a field inside a wider cell (a button
    beside it). `values()` reads every field, `set_values` fills them; `edited` fires on any
    change a user makes (not on set_values).
    """

    edited = Signal()

    def __init__(
        self,
        fields: Iterable[Field],
        custom: Mapping[str, QWidget] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.schema = list(fields)
        custom = custom or {}
        self.fields: dict[str, QWidget] = {}
        for field in self.schema:
            widget = custom.get(field.key) or make_field(field)
            if not widget.toolTip():
                widget.setToolTip(tip(field.help))
            self.fields[field.key] = widget
        self.labels: dict[str, QLabel] = {}
        self._guard = WheelGuard(self)
        self._loading = False
        for widget in self.fields.values():
            self.watch(widget)

    def groups(self) -> list[str]:
        return list(dict.fromkeys(f.setting.group for f in self.schema))

    def group_box(self, group: str, cells: dict[str, QWidget] | None = None) -> QGroupBox:
        """A titled box of the group's rows, in declaration order."""
        box = QGroupBox(group.replace("&", "&&"))
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for field in self.schema:
            if field.setting.group == group:
                self.add_row(form, field, (cells or {}).get(field.key))
        return box

    def add_row(self, form: QFormLayout, field: Field, cell: QWidget | None = None) -> None:
        widget = self.fields[field.key]
        label = QLabel(field.setting.label)
        label.setToolTip(widget.toolTip())
        self.labels[field.key] = label
        form.addRow(label, cell if cell is not None else widget)

    def value(self, key: str) -> Any:
        return _input(self.fields[key]).setting_value()

    def values(self) -> dict[str, Any]:
        return {key: _input(widget).setting_value() for key, widget in self.fields.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        self._loading = True
        try:
            for key, widget in self.fields.items():
                if key in values:
                    _input(widget).set_setting_value(values[key])
        finally:
            self._loading = False

    def watch(self, widget: QWidget) -> None:
        """Report the widget's edits as `edited`; the wheel changes it only when focused."""
        if isinstance(widget, (QAbstractSpinBox, QComboBox)):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            widget.installEventFilter(self._guard)
        # One signal per widget: a spin box's textChanged would repeat its valueChanged.
        for name in ("valueChanged", "currentIndexChanged", "toggled", "textChanged", "edited"):
            if hasattr(widget, name):
                getattr(widget, name).connect(self._changed)
                break
        if isinstance(widget, QComboBox) and widget.isEditable():
            widget.editTextChanged.connect(self._changed)

    def _changed(self, *_: object) -> None:
        if not self._loading:
            self.edited.emit()


def _input(widget: QWidget) -> SettingInput:
    return cast(SettingInput, widget)

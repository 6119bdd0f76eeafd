"""Input widgets the forms share: a scientific-notation spin box and a mouse-wheel guard."""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QWidget


class SciSpinBox(QDoubleSpinBox):
    """A spin box that reads and writes scientific notation (3e-5), for rates and noise scales.

    Steps move the leading digit (3e-5 -> 4e-5, 9e-5 -> 1e-4), which suits log-scale values.
    """

    def __init__(self, minimum: float, maximum: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(20)  # QDoubleSpinBox rounds values to `decimals` places
        self.setRange(minimum, maximum)

    def textFromValue(self, value: float) -> str:
        return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{value:.6g}")

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> QValidator.State:
        try:
            value = float(text)
        except ValueError:
            partial = re.fullmatch(r"[0-9.]*([eE][+-]?[0-9]*)?", text.strip())
            return QValidator.State.Intermediate if partial else QValidator.State.Invalid
        ok = self.minimum() <= value <= self.maximum()
        return QValidator.State.Acceptable if ok else QValidator.State.Intermediate

    def stepBy(self, steps: int) -> None:
        value = self.value()
        for _ in range(abs(steps)):
            down = steps < 0
            exponent = math.floor(math.log10(value)) if value > 0 else -6
            if down and round(value / 10**exponent, 9) <= 1:
                exponent -= 1  # 1e-4 steps down to 9e-5, not 0
            value = float(f"{value + (-1 if down else 1) * 10**exponent:.6g}")
        self.setValue(min(max(value, self.minimum()), self.maximum()))


class WheelGuard(QObject):
    """Stops the mouse wheel from changing unfocused fields while the form scrolls."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False

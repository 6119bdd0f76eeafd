"""The Configure tab's preset bar: pick a built-in or saved preset, save one, delete one."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QInputDialog, QLabel, QPushButton, QWidget

from studio.core.config import presets
from studio.ui.widgets import hbox

log = logging.getLogger(__name__)

CUSTOM = "Custom settings"  # the first entry: the form's settings are nobody's preset


class PresetBar(QWidget):
    """A preset list for the detected device; the form fills itself when one is chosen."""

    chosen = Signal(str)  # the user picked this preset
    saveRequested = Signal(str)  # the user named a preset to save the form's settings under

    def __init__(self, tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.device = "cpu"  # until the window's probe says otherwise
        self.combo = QComboBox()
        self.combo.setToolTip(tip)
        self.combo.setMinimumContentsLength(28)
        self.combo.activated.connect(self._chosen)
        save = QPushButton("Save as preset…")
        save.setToolTip("Keep these settings (not the tasks) under a name of your own.")
        save.clicked.connect(self._ask_name)
        self.delete_button = QPushButton("Delete preset")
        self.delete_button.setToolTip("Delete the chosen preset of your own.")
        self.delete_button.clicked.connect(self.remove)
        layout = hbox(QLabel("Preset"), self.combo, save, self.delete_button)
        layout.addStretch(1)
        layout.setContentsMargins(4, 4, 4, 0)
        self.setLayout(layout)
        self.fill()
        self.set_index(0)

    def presets(self) -> dict[str, dict[str, Any]]:
        """The built-in presets for the device, then the user's saved ones."""
        saved, problems = presets.user_presets()
        for problem in problems:
            log.warning("preset skipped: %s", problem)
        return presets.builtin_presets(self.device) | saved

    def names(self) -> list[str]:
        return [self.combo.itemText(i) for i in range(1, self.combo.count())]

    def current(self) -> str:
        return self.combo.currentText()

    def fill(self) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(CUSTOM)
        for name in self.presets():
            self.combo.addItem(name)
        self.combo.blockSignals(False)

    def show_preset(self, name: str) -> None:
        """Show `name` as the preset the form holds (custom settings if it is not listed)."""
        self.set_index(max(self.combo.findText(name), 0))

    def set_index(self, index: int) -> None:
        self.combo.setCurrentIndex(index)
        builtin = self.current() in (presets.QUICK_LOOK, presets.MUPPET)
        self.delete_button.setEnabled(index > 0 and not builtin)

    def remove(self) -> None:
        """Delete the chosen preset of the user's."""
        (presets.presets_dir() / f"{self.current()}.yaml").unlink(missing_ok=True)
        self.fill()
        self.set_index(0)

    def _chosen(self, index: int) -> None:
        if index > 0:
            self.chosen.emit(self.combo.itemText(index))
        self.set_index(index)

    def _ask_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save as preset", "Preset name:")
        if ok and name.strip():
            self.saveRequested.emit(name.strip())

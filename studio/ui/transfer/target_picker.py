"""The Transfer tab's held-out targets: a filterable checklist that marks the source's mix."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from studio.core.tasks.spec import TaskSpec
from studio.ui.style import AMBER

ROLE = Qt.ItemDataRole.UserRole
IN_MIX_TIP = "was in the pre-finetuning mix: results would be leaked"


class TargetPicker(QGroupBox):
    """Encoder tasks to check; those in the source's mix are listed last, marked 'in mix'.

    `changed` fires when the checked set or the list itself changes.
    """

    changed = Signal()

    def __init__(
        self, catalog: dict[str, TaskSpec], unavailable: dict[str, str] | None = None
    ) -> None:
        super().__init__("Held-out targets")
        self.catalog = catalog
        self.unavailable = unavailable or {}  # task -> why its data cannot be had here
        self._mix: set[str] = set()
        self._checked: set[str] = set()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("filter tasks…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.list = QListWidget()
        self.list.setMinimumHeight(180)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.list.itemChanged.connect(self._on_item_changed)
        self.count_label = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.count_label)

    def set_catalog(self, catalog: dict[str, TaskSpec], unavailable: dict[str, str]) -> None:
        """Tasks added or removed, or their data found or gone: the list follows, keeping
        what can still be a target checked."""
        self.catalog, self.unavailable = catalog, unavailable
        self._checked &= set(self._targetable())
        self._fill()

    def set_mix(self, mix: list[str]) -> None:
        """The tasks the chosen source was pre-finetuned on."""
        self._mix = set(mix)
        self._fill()

    def names(self) -> list[str]:
        """Every listed target, in list order."""
        return [self.list.item(i).data(ROLE) for i in range(self.list.count())]

    def checked(self) -> list[str]:
        """Checked targets, in list order."""
        return [n for n in self.names() if n in self._checked]

    def set_checked(self, names: list[str]) -> None:
        """Check exactly these targets (those that can be targets)."""
        self._checked = {n for n in names if n in self._targetable()}
        self._fill()

    def is_marked_in_mix(self, name: str) -> bool:
        """Whether the list marks `name` as part of the source's mix."""
        items = self.list.findItems(name, Qt.MatchFlag.MatchStartsWith)
        return any(i.data(ROLE) == name and "in mix" in i.text() for i in items)

    def _targetable(self) -> list[str]:
        """Tasks a transfer can fine-tune on here: an encoder's (summarization needs a
        decoder) whose data is here."""
        return [n for n in self._encoder_tasks() if n not in self.unavailable]

    def _encoder_tasks(self) -> list[str]:
        return [n for n, s in self.catalog.items() if s.family != "summarization"]

    def _fill(self) -> None:
        """Rebuild the list: tasks outside the source's mix first, then those in it, then
        those without data here (shown, with why, but not checkable)."""
        mix, names = self._mix, self._targetable()
        ordered = [n for n in names if n not in mix] + [n for n in names if n in mix]
        ordered += [n for n in self._encoder_tasks() if n in self.unavailable]
        self.list.blockSignals(True)
        self.list.clear()
        for name in ordered:
            spec = self.catalog[name]
            missing = self.unavailable.get(name)
            suffix = "   — no data here" if missing else "   — in mix" if name in mix else ""
            item = QListWidgetItem(name + suffix)
            item.setData(ROLE, name)
            item.setFlags(
                Qt.ItemFlag.ItemIsUserCheckable
                if missing
                else Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
            )
            checked = name in self._checked
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            tip = f"{spec.title} · {spec.family} · {spec.metric}"
            if missing:
                tip = f"{html.escape(missing)}<br>{tip}"
            elif name in mix:
                item.setForeground(QColor(AMBER))
                tip = f"{name} {IN_MIX_TIP}.<br>{tip}"
            item.setToolTip(tip)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._apply_filter(self.filter_edit.text())
        self._changed()

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            name = item.data(ROLE)
            hay = f"{name}\n{self.catalog[name].title}".lower()
            item.setHidden(bool(needle) and needle not in hay)

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        name = item.data(ROLE)
        if item.checkState() == Qt.CheckState.Checked:
            self._checked.add(name)
        else:
            self._checked.discard(name)
        self._changed()

    def _changed(self) -> None:
        text = f"{len(self.checked())} of {len(self._targetable())} checked"
        if self.unavailable:
            text += (
                f" · {len(set(self.unavailable) & set(self._encoder_tasks()))} without data here"
            )
        self.count_label.setText(text)
        self.changed.emit()

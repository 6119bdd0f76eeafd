"""The Runs tab's filter bar: a search box (the store's full-text index), status, task, model,
date and kind choices, a star switch, and a chip per tag; `query()` says what to show."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.run_query import RunQuery
from studio.core.run_record import STATUSES, Run, run_tasks

KINDS = (
    ("All kinds", ""),
    ("Pre-finetuning", "pretrain"),
    ("Transfer experiments", "transfer"),
    ("Fine-tuning", "finetune"),
    ("Sweeps", "sweep"),
    ("Ablations", "ablation"),
    ("Tuning studies", "tune"),
)
DATES = (("Any time", 0.0), ("Today", -1.0), ("Last 7 days", 7.0), ("Last 30 days", 30.0))
DAY_S = 86_400.0


def _since(days: float, now: float) -> float | None:
    """The start of the date filter's window: midnight today for -1, `days` back otherwise."""
    if days == 0:
        return None
    if days < 0:
        return time.mktime(time.localtime(now)[:3] + (0, 0, 0, 0, 0, -1))
    return now - days * DAY_S


def _combo(tip: str, everything: str) -> QComboBox:
    box = QComboBox()
    box.setToolTip(tip)
    box.addItem(everything, "")
    box.setMinimumContentsLength(8)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    return box


class TagChips(QWidget):
    """One checkable chip per tag (with how many runs carry it); checked chips filter."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips: dict[str, QPushButton] = {}
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("Tags")
        self.row.addWidget(self.label)
        self.row.addStretch(1)

    def set_tags(self, counts: Mapping[str, int]) -> None:
        """Show a chip per tag, keeping those checked that still exist."""
        if {t: c for t, c in counts.items()} == {
            t: b.property("count") for t, b in self.chips.items()
        }:
            return
        checked = self.checked()
        for chip in self.chips.values():
            self.row.removeWidget(chip)
            chip.deleteLater()
        self.chips = {}
        for i, (tag, count) in enumerate(counts.items()):
            chip = QPushButton(f"{tag} ({count})")
            chip.setCheckable(True)
            chip.setChecked(tag in checked)
            chip.setProperty("count", count)
            chip.setFlat(True)
            chip.setStyleSheet(
                "QPushButton { border: 1px solid #9ab; border-radius: 9px; padding: 1px 8px; }"
                " QPushButton:checked { background: #cfe3f7; border-color: #3a78c2; }"
            )
            chip.setToolTip(f"Show only runs tagged {tag!r} ({count})")
            chip.toggled.connect(lambda _: self.changed.emit())
            self.row.insertWidget(1 + i, chip)
            self.chips[tag] = chip
        self.setVisible(bool(counts))
        if checked - set(counts):
            self.changed.emit()

    def checked(self) -> set[str]:
        return {t for t, b in self.chips.items() if b.isChecked()}


class FilterBar(QWidget):
    """What the Runs tab shows: every choice narrows the list; `changed` on any change."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search names, notes, tags, settings, ids…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setToolTip(
            "Every word must start a word of the run's name, notes, tags, config values or id"
            ' ("swe lr" finds "lr sweep")'
        )
        self.kind_combo = _combo("Show runs of one kind", "")
        self.kind_combo.clear()
        for label, kind in KINDS:
            self.kind_combo.addItem(label, kind)
        self.status_combo = _combo("Show runs in one status", "Any status")
        for status in STATUSES:
            self.status_combo.addItem(status, status)
        self.task_combo = _combo(
            "Show runs that trained, fine-tuned or targeted a task", "Any task"
        )
        self.model_combo = _combo("Show runs of one base model", "Any model")
        self.date_combo = _combo("Show runs first started in this window", "")
        self.date_combo.clear()
        for label, days in DATES:
            self.date_combo.addItem(label, days)
        self.starred = QCheckBox("★ only")
        self.starred.setToolTip("Show only starred runs (right-click a run to star it)")
        self.chips = TagChips()
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search_edit, 2)
        for box in (self.kind_combo, self.status_combo, self.task_combo, self.model_combo,
                    self.date_combo):  # fmt: skip
            top.addWidget(box, 1)
            box.currentIndexChanged.connect(lambda _: self.changed.emit())
        top.addWidget(self.starred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.chips)
        self.search_edit.textChanged.connect(lambda _: self.changed.emit())
        self.starred.toggled.connect(lambda _: self.changed.emit())
        self.chips.changed.connect(self.changed.emit)

    def set_choices(self, runs: Iterable[Run], tags: Mapping[str, int]) -> None:
        """Offer the tasks and models the runs have, and a chip per tag."""
        runs = list(runs)
        tasks = sorted({t for r in runs for t in run_tasks(dict(r.config))})
        models = sorted({r.base_model for r in runs if r.base_model})
        for box, values in ((self.task_combo, tasks), (self.model_combo, models)):
            _refill(box, values)
        self.chips.set_tags(tags)

    def query(self, now: float | None = None) -> RunQuery:
        return RunQuery(
            text=self.search_edit.text().strip(),
            kind=self.kind_combo.currentData() or None,
            status=self.status_combo.currentData() or None,
            task=self.task_combo.currentData() or None,
            model=self.model_combo.currentData() or None,
            since=_since(float(self.date_combo.currentData() or 0), now or time.time()),
            tags=tuple(sorted(self.chips.checked())),
            starred=self.starred.isChecked(),
        )


def _refill(box: QComboBox, values: list[str]) -> None:
    """Replace a combo's choices (after its first, "any"), keeping the one chosen."""
    current = box.currentData()
    if [box.itemData(i) for i in range(1, box.count())] == values:
        return
    box.blockSignals(True)
    while box.count() > 1:
        box.removeItem(1)
    for value in values:
        box.addItem(value if len(value) <= 40 else "…" + value[-39:], value)
        box.setItemData(box.count() - 1, value, Qt.ItemDataRole.ToolTipRole)
    index = box.findData(current)
    box.setCurrentIndex(max(index, 0))
    box.blockSignals(False)
    if current and index < 0:
        box.currentIndexChanged.emit(0)

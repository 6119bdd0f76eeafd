"""The settings that differ between runs, side by side: a tab of the Compare view."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.run_record import Run


def config_differences(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Settings whose values are not the same in every config, in the configs' order."""
    keys = sorted({k for c in configs.values() for k in c})
    diff = {}
    for key in keys:
        values = [c.get(key) for c in configs.values()]
        if len({json.dumps(v, sort_keys=True) for v in values}) > 1:
            diff[key] = values
    return diff


class ConfigDiffTable(QWidget):
    """A table of the settings that differ between runs (only those), a column per run."""

    def __init__(self, runs: Mapping[str, Run], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        diff = config_differences({i: r.config for i, r in runs.items()})
        table = QTableWidget(len(diff), len(runs))
        table.setHorizontalHeaderLabels([r.name or r.id for r in runs.values()])
        table.setVerticalHeaderLabels(list(diff))
        for row, values in enumerate(diff.values()):
            for col, value in enumerate(values):
                text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                table.setItem(row, col, item)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table = table
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(table if diff else QLabel("The configs are identical."))

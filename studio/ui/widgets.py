"""Small builders the forms and panels share: number fields, form groups, rows, splitters."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QSplitter,
    QWidget,
)

Cell = QWidget | int | tuple[QWidget, int]  # a widget, a spacing, or (widget, stretch)


def int_spin(
    minimum: int, maximum: int, *, value: int | None = None, special: str | None = None
) -> QSpinBox:
    """An integer field; with `special`, 0 shows that text and means None (all, auto, ...)."""
    spin = QSpinBox()
    spin.setRange(0 if special else minimum, maximum)
    spin.setGroupSeparatorShown(True)
    if special:
        spin.setSpecialValueText(special)
    if value is not None:
        spin.setValue(value)
    return spin


def double_spin(
    minimum: float, maximum: float, decimals: int, step: float, *, value: float | None = None
) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(minimum, maximum)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    if value is not None:
        spin.setValue(value)
    return spin


def form_group(title: str) -> tuple[QGroupBox, QFormLayout]:
    """A titled box of label/field rows whose fields take the spare width."""
    box = QGroupBox(title)
    form = QFormLayout(box)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return box, form


def hbox(*cells: Cell) -> QHBoxLayout:
    """A horizontal layout of widgets, (widget, stretch) pairs and int spacings."""
    layout = QHBoxLayout()
    for cell in cells:
        if isinstance(cell, int):
            layout.addSpacing(cell)
        elif isinstance(cell, tuple):
            layout.addWidget(*cell)
        else:
            layout.addWidget(cell)
    return layout


def hbox_widget(*cells: Cell) -> QWidget:
    """`hbox` in a margin-less widget: several inputs side by side in one form cell."""
    holder = QWidget()
    layout = hbox(*cells)
    layout.setContentsMargins(0, 0, 0, 0)
    holder.setLayout(layout)
    return holder


def splitter(orientation: Qt.Orientation, *panes: tuple[QWidget, int]) -> QSplitter:
    """A splitter of (widget, initial size) panes whose first pane takes the extra space."""
    split = QSplitter(orientation)
    for widget, _ in panes:
        split.addWidget(widget)
    split.setStretchFactor(0, 1)
    split.setSizes([size for _, size in panes])
    return split

"""Small builders the forms and panels share: labels that never widen the window, form groups,
rows, splitters."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QWidget,
)

Cell = QWidget | int | tuple[QWidget, int]  # a widget, a spacing, or (widget, stretch)


class ElidedLabel(QLabel):
    """One line of plain text that never widens its window: cut with "…" to the width it is
    given, the whole text in its tooltip (a long error once pushed the window past the screen)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.full_text = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.full_text = text
        self.setToolTip(text if len(text) > 60 else "")
        self._elide()

    def text(self) -> str:
        return self.full_text

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(0, super().minimumSizeHint().height())

    def _elide(self) -> None:
        line = " ".join(self.full_text.split())
        shown = self.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, self.width())
        super().setText(shown)


def never_widens(label: QLabel) -> QLabel:
    """A wrapped label whose width the layout decides: its text (a long error, a path with no
    spaces) wraps or is cut instead of raising the window's minimum width."""
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(0)
    return label


def clear_button_when_typed(edit: QLineEdit) -> QLineEdit:
    """Qt's clear button, turned on at the first keystroke (it only shows over text anyway):
    looking up its themed icon took 13 ms of the window's first frame on X11."""

    def first(text: str) -> None:
        if text:
            edit.textChanged.disconnect(first)
            edit.setClearButtonEnabled(True)

    edit.textChanged.connect(first)
    return edit


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

"""A page that says why a view is empty and offers the next step (napari's welcome, Orange's
empty widgets): a title, a line of guidance and a few buttons."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """Centred guidance; `buttons` are (label, tooltip, slot)."""

    def __init__(
        self,
        title: str,
        text: str,
        buttons: tuple[tuple[str, str, Callable[[], object]], ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title = QLabel(f"<h3>{title}</h3>")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setFixedWidth(520)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        for label, tip, slot in buttons:
            button = self.buttons[label] = QPushButton(label)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.title)
        layout.addWidget(self.text, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(row)
        layout.addStretch(2)
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self.text.setText(text)
        # A stacked page gets no height-for-width pass: give the wrapped text its lines.
        self.text.setFixedHeight(max(self.text.heightForWidth(self.text.width()), 0))

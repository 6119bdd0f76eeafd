"""Message boxes that never block the event loop."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def show(parent: QWidget, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
    """A modal box, shown and not exec()'d: a nested event loop would stall the workers'
    queued signals."""
    box = QMessageBox(icon, title, text, parent=parent)
    box.setModal(True)
    box.show()
    return box


def show_error(parent: QWidget, title: str, text: str) -> QMessageBox:
    """A readable message; a traceback, if any, goes under "Show Details"."""
    summary, _, details = text.partition("\n\n")
    box = show(parent, QMessageBox.Icon.Warning, title, summary)
    if details:
        box.setDetailedText(text)
    return box

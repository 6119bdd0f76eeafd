"""Message boxes that never block the event loop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
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


def ask(parent: QWidget, title: str, text: str, act: str, then: Callable[[], None]) -> QMessageBox:
    """A question with `act` and Cancel; `then` runs when `act` is chosen (not exec()'d)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
    yes = box.addButton(act, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setModal(True)
    box.buttonClicked.connect(lambda button: then() if button is yes else None)
    box.show()
    return box


def saved(parent: QWidget, title: str, text: str, path: Path) -> QMessageBox:
    """Says where a file went, with a button that opens its folder."""
    box = QMessageBox(QMessageBox.Icon.Information, title, text, parent=parent)
    folder = box.addButton("Open folder", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Ok)
    box.buttonClicked.connect(lambda button: open_folder(path.parent) if button is folder else None)
    box.setModal(True)
    box.show()
    return box


def open_folder(folder: Path) -> bool:
    """The folder in the desktop's file manager; False when there is none to open it."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

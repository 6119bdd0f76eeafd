"""The Help menu: the README section by section, the keyboard shortcuts, and About (the
versions of the studio and of what it runs on, read from package metadata: no heavy import)."""

from __future__ import annotations

import html
import platform
import re
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QListWidget,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from studio.ui.actions import Action

DISTRIBUTION = "muppet-studio"
CHECKOUT_README = Path(__file__).resolve().parents[2] / "README.md"
LIBRARIES = ("torch", "transformers", "datasets", "accelerate", "pyqtgraph", "sqlite-utils")


def readme() -> tuple[str, Path | None]:
    """The README's markdown and the folder its pictures are relative to: the checkout's, or
    the installed package's description (its pictures then stay behind)."""
    if CHECKOUT_README.is_file():
        return CHECKOUT_README.read_text(encoding="utf-8"), CHECKOUT_README.parent
    try:
        text = metadata.metadata(DISTRIBUTION).get_payload()  # type: ignore[attr-defined]
    except metadata.PackageNotFoundError:
        text = None
    return (str(text) if text else "The README is not installed with this copy."), None


def sections(markdown: str) -> list[tuple[str, str]]:
    """(title, markdown) of each `## ` section; what precedes the first is 'Introduction'."""
    parts = re.split(r"(?m)^## (.+)$", markdown)
    found = [("Introduction", parts[0])] if parts[0].strip() else []
    found += [(parts[i].strip(), f"## {parts[i]}{parts[i + 1]}") for i in range(1, len(parts), 2)]
    return found


def versions() -> dict[str, str]:
    """What the studio runs on, by name: its own version, Python, Qt and the libraries."""
    found = {"Muppet Studio": _version(DISTRIBUTION), "Python": platform.python_version()}
    found |= {"Qt": qVersion(), "PySide6": pyside_version}
    return found | {name: _version(name) for name in LIBRARIES}


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


class GuideDialog(QDialog):
    """The README: its sections listed on the left, the chosen one on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Muppet Studio guide")
        text, folder = readme()
        self.sections = sections(text)
        self.list = QListWidget()
        self.list.addItems([title for title, _ in self.sections])
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        if folder is not None:
            self.browser.setSearchPaths([str(folder)])  # the README's pictures
        self.list.currentRowChanged.connect(self.show_section)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.list)
        split.addWidget(self.browser)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(split)
        self.resize(1100, 760)
        self.list.setCurrentRow(0)

    def show_section(self, row: int) -> None:
        if 0 <= row < len(self.sections):
            self.browser.setMarkdown(self.sections[row][1])


def shortcuts_html(actions: tuple[Action, ...]) -> str:
    """A table of every action that has a keyboard shortcut."""
    rows = "".join(
        f"<tr><td><b>{html.escape(a.shortcut)}</b></td><td>{html.escape(a.text)}</td>"
        f"<td>{html.escape(a.tip)}</td></tr>"
        for a in actions
        if a.shortcut
    )
    return f"<table cellpadding='4'>{rows}</table>"


def about_html() -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in versions().items()
    )
    return (
        "<h3>Muppet Studio</h3><p>Multi-task pre-finetuning (Aghajanyan et al., EMNLP 2021) "
        "from a window: pick tasks, train, watch, export, check the transfer.</p>"
        f"<table cellpadding='3'>{rows}</table>"
    )


def text_dialog(parent: QWidget, title: str, body: str) -> QDialog:
    """A closable dialog showing rich text; shown, not exec()'d."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    browser = QTextBrowser()
    browser.setHtml(body)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.close)
    layout = QVBoxLayout(dialog)
    layout.addWidget(browser)
    layout.addWidget(buttons)
    dialog.resize(640, 420)
    dialog.show()
    return dialog

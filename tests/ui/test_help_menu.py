"""The Help menu: the README's sections, the shortcuts, the versions; nothing heavy imported."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QTextBrowser

from studio.ui import actions as A
from studio.ui.help_menu import GuideDialog, readme, sections, versions


def test_the_guide_lists_the_readmes_sections_and_shows_each(qtbot) -> None:  # type: ignore[no-untyped-def]
    text, folder = readme()
    titles = [title for title, _ in sections(text)]
    assert folder is not None and "Command line" in titles and "Tasks and data" in titles
    guide = GuideDialog()
    qtbot.addWidget(guide)
    assert guide.list.count() == len(titles)
    guide.list.setCurrentRow(titles.index("Command line"))
    assert "muppet-studio-cli" in guide.browser.toPlainText()


def test_sections_split_at_second_level_headings() -> None:
    found = sections("# T\nintro\n## One\na\n### sub\nb\n## Two\nc\n")
    assert [t for t, _ in found] == ["Introduction", "One", "Two"]
    assert "### sub" in found[1][1]


def test_the_menu_has_the_guide_shortcuts_and_about(window) -> None:  # type: ignore[no-untyped-def]
    menu = next(m for m in window.menuBar().actions() if m.text() == "&Help").menu()
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == ["Guide", "Keyboard shortcuts", "About Muppet Studio"]
    window.menu_actions[A.SHORTCUTS].trigger()
    window.menu_actions[A.ABOUT].trigger()
    shown = {d.windowTitle(): d for d in window.findChildren(QDialog) if d.isVisible()}
    about = shown["About Muppet Studio"].findChild(QTextBrowser).toPlainText()
    assert "transformers" in about and versions()["Python"] in about
    shortcuts = shown["Keyboard shortcuts"].findChild(QTextBrowser).toPlainText()
    assert "Ctrl+R" in shortcuts and "Start" in shortcuts and "F1" in shortcuts

"""The state object a view is built on, for tests that build one view alone."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.core.tasks.spec import TaskSpec
from studio.ui.state import StudioState

# A view holds the watcher, whose parent the state is: keep each state alive for the session.
_KEPT: list[StudioState] = []


def state_for(store_path: Path, catalog: dict[str, TaskSpec] | None = None) -> StudioState:
    """A StudioState on `store_path` (its timer not started: tests call `store.poll()`)."""
    state = StudioState(catalog if catalog is not None else {}, Path(store_path))
    _KEPT.append(state)
    return state


def close_window(window: QWidget) -> None:
    """Close the main window, choosing "Stop and quit" if a training job makes it ask."""
    window.close()
    for box in window.findChildren(QMessageBox):
        quit_button = next((b for b in box.buttons() if b.text() == "Stop and quit"), None)
        if box.isVisible() and quit_button is not None:
            quit_button.click()

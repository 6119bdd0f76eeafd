"""The window's actions, its toolbar and its menus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar


@dataclass(frozen=True)
class Action:
    text: str
    tip: str
    shortcut: str | None = None


START = Action("Start", "Start pre-finetuning the checked tasks with this configuration", "Ctrl+R")
ADD_TO_QUEUE = Action(
    "Add to queue",
    "Save this configuration and the checked tasks as a queued run; queued runs train one"
    " after another (Run queue), and the queue survives closing the window",
    "Ctrl+Shift+R",
)
RUN_QUEUE = Action("Run queue", "Train the queued runs (Runs tab) one after another")
STOP = Action("Stop", "Finish the current update, save a checkpoint and stop", "Ctrl+.")
RESUME = Action("Resume", "Continue the run shown in Monitor from its latest checkpoint")
EXPORT = Action(
    "Export checkpoint…",
    "Export a checkpoint of the run shown in Monitor as a Hugging Face model folder",
    "Ctrl+E",
)
OPEN_CONFIG = Action(
    "Open config…", "Load a run config (YAML, the same file the CLI runs)", "Ctrl+O"
)
SAVE_CONFIG = Action(
    "Save config…", "Save this configuration and the checked tasks as YAML", "Ctrl+S"
)
OPEN_STORE = Action(
    "Open run store…",
    "Follow another run store file, e.g. the one a multi-process run is writing",
)
ADD_TASK = Action(
    "Add task…",
    "Add a task of your own: a CSV, JSON or Parquet file, a saved datasets folder or a "
    "Hugging Face dataset",
    "Ctrl+T",
)
DATA_FOLDER = Action("Set data folder…", "The folder of local task data (one sub-folder per task)")
DEMO = Action(
    "Try the demo", "A one-minute run on the synthetic demo tasks, offline, with live curves"
)
QUIT = Action("Quit", "Quit Muppet Studio", "Ctrl+Q")
GUIDE = Action("Guide", "The README, section by section", "F1")
SHORTCUTS = Action("Keyboard shortcuts", "Every action's keyboard shortcut", "Ctrl+/")
ABOUT = Action("About Muppet Studio", "The versions of the studio and what it runs on")

# Where each action shows; None is a separator.
TOOLBAR = (START, ADD_TO_QUEUE, STOP, RESUME, EXPORT, None, OPEN_CONFIG, SAVE_CONFIG)
MENUS = {
    "&File": (OPEN_CONFIG, SAVE_CONFIG, ADD_TASK, OPEN_STORE, DATA_FOLDER, EXPORT, None, QUIT),
    "&Run": (START, ADD_TO_QUEUE, RUN_QUEUE, STOP, RESUME, None, DEMO),
    "&Help": (GUIDE, SHORTCUTS, None, ABOUT),
}
EVERY = tuple(dict.fromkeys(a for entries in (TOOLBAR, *MENUS.values()) for a in entries if a))


def build(window: QMainWindow, slots: dict[Action, Callable[[], object]]) -> dict[Action, QAction]:
    """A QAction per entry of `slots`, placed in the toolbar and menus."""
    actions = {spec: _action(window, spec, slot) for spec, slot in slots.items()}
    toolbar = window.addToolBar("Run")
    toolbar.setObjectName("run-toolbar")
    _fill(toolbar, TOOLBAR, actions)
    for title, entries in MENUS.items():
        _fill(window.menuBar().addMenu(title), entries, actions)
    return actions


def _action(window: QMainWindow, spec: Action, slot: Callable[[], object]) -> QAction:
    action = QAction(spec.text, window)
    action.setToolTip(spec.tip)
    action.setStatusTip(spec.tip)
    action.triggered.connect(slot)
    if spec.shortcut:
        action.setShortcut(QKeySequence(spec.shortcut))
    return action


def _fill(
    bar: QToolBar | QMenu, entries: tuple[Action | None, ...], actions: dict[Action, QAction]
) -> None:
    for spec in entries:
        if spec is None:
            bar.addSeparator()
        else:
            bar.addAction(actions[spec])

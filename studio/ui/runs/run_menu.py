"""The Runs tab's right-click menu and the edits it makes to a run's name, tags, notes and star
(through the state's store watcher, the GUI thread's one store connection)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from studio.core.errors import StudioError
from studio.core.paths import run_dir
from studio.core.run_record import Run
from studio.store import RESUMABLE, RunStore
from studio.ui.state import StoreWatcher

# The menu's entries, in order: (key, label); None draws a separator.
ENTRIES: tuple[tuple[str, str] | None, ...] = (
    ("open", "Open in the Monitor"),
    ("compare", "Compare…"),
    None,
    ("rename", "Rename…"),
    ("tag", "Tags…"),
    ("note", "Notes…"),
    ("star", "Star"),
    None,
    ("resume", "Resume"),
    ("export", "Export…"),
    ("report", "Report…"),
    ("folder", "Open folder"),
    None,
    ("delete", "Delete…"),
)


@dataclass(frozen=True)
class MenuActions:
    """What each entry does: the Runs tab's own slots (resume, export, report and delete are
    the buttons' and the window's actions, not copies of them)."""

    open: Callable[[], None]
    compare: Callable[[], None]
    resume: Callable[[], None]
    export: Callable[[], None]
    report: Callable[[], None]
    delete: Callable[[], None]
    changed: Callable[[], None]  # a run's metadata changed: read the store again


def build_menu(
    parent: QWidget, watcher: StoreWatcher, runs: list[Run], actions: MenuActions
) -> QMenu:
    """The menu for the selected runs: the entries that apply to them enabled."""
    menu = QMenu(parent)
    one = runs[0] if len(runs) == 1 else None

    def edit(change: Callable[[], bool]) -> Callable[[], None]:
        def run() -> None:
            if change():
                actions.changed()

        return run

    def star() -> bool:
        set_star(watcher, runs, not all(r.starred for r in runs))
        return True

    slots: dict[str, Callable[[], None]] = {
        "open": actions.open,
        "compare": actions.compare,
        "rename": edit(lambda: one is not None and rename(parent, watcher, one)),
        "tag": edit(lambda: edit_tags(parent, watcher, runs)),
        "note": edit(lambda: one is not None and edit_notes(parent, watcher, one)),
        "star": edit(star),
        "resume": actions.resume,
        "export": actions.export,
        "report": actions.report,
        "folder": lambda: open_folder(watcher, one) if one is not None else None,
        "delete": actions.delete,
    }
    enabled = {
        "open": bool(runs),
        "compare": len(runs) > 1,
        "rename": one is not None,
        "note": one is not None,
        "resume": one is not None and one.status in RESUMABLE,
        "export": one is not None,
        "report": one is not None,
        "folder": one is not None and run_dir(watcher.path, one.id).is_dir(),
        "delete": bool(runs) and all(r.status != "running" for r in runs),
    }
    for entry in ENTRIES:
        if entry is None:
            menu.addSeparator()
            continue
        key, label = entry
        if key == "star" and runs and all(r.starred for r in runs):
            label = "Unstar"
        action = QAction(label, menu)
        action.setObjectName(key)
        action.setEnabled(enabled.get(key, bool(runs)))
        action.triggered.connect(lambda _=False, slot=slots[key]: slot())
        menu.addAction(action)
    return menu


def _write(parent: QWidget, watcher: StoreWatcher, work: Callable[..., object]) -> bool:
    """Run a store write; a refusal (a bad tag, a read-only store) is shown, never raised."""
    try:
        watcher.read(work)
    except (StudioError, ValueError) as e:
        QMessageBox.warning(parent, "Not changed", str(e))
        return False
    return True


def rename(parent: QWidget, watcher: StoreWatcher, run: Run) -> bool:
    name, ok = QInputDialog.getText(parent, "Rename run", f"New name of {run.id}:", text=run.name)
    if not ok or name.strip() == run.name:
        return False
    return _write(parent, watcher, lambda store: store.rename(run.id, name))


def edit_tags(parent: QWidget, watcher: StoreWatcher, runs: list[Run]) -> bool:
    """Ask for the tags: one run's are edited as a list; several runs get tags added (+tag,
    or a bare word) and removed (-tag)."""
    if len(runs) == 1:
        text, ok = QInputDialog.getText(
            parent, "Tags", "Tags, separated by spaces:", text=" ".join(runs[0].tags)
        )
        if not ok:
            return False
        wanted = set(text.split())
        add, remove = wanted - set(runs[0].tags), set(runs[0].tags) - wanted
    else:
        text, ok = QInputDialog.getText(
            parent, "Tags", f"Tags for {len(runs)} runs: +tag adds (or a bare word), -tag removes:"
        )
        if not ok:
            return False
        words = text.split()
        remove = {w[1:] for w in words if w.startswith("-") and len(w) > 1}
        add = {w.removeprefix("+") for w in words if not w.startswith("-")} - {""}

    def write(store: RunStore) -> None:
        for run in runs:
            store.tag(run.id, sorted(add), sorted(remove))

    return _write(parent, watcher, write)


def edit_notes(parent: QWidget, watcher: StoreWatcher, run: Run) -> bool:
    text, ok = QInputDialog.getMultiLineText(
        parent, "Notes", f"Notes on {run.name or run.id}:", run.notes
    )
    if not ok or text == run.notes:
        return False
    return _write(parent, watcher, lambda store: store.set_notes(run.id, text))


def set_star(watcher: StoreWatcher, runs: list[Run], starred: bool) -> None:
    def write(store: RunStore) -> None:
        for run in runs:
            store.set_starred(run.id, starred)

    watcher.read(write)


def open_folder(watcher: StoreWatcher, run: Run) -> None:
    """The run's folder (checkpoints, spill file) in the file manager."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(run_dir(watcher.path, run.id))))

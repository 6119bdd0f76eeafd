"""What the window does with a run store it cannot use: say why, offer another, never overwrite."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QAbstractButton, QFileDialog, QMessageBox, QWidget

from studio.store import RunStore, StoreError

OPEN, CREATE, QUIT = "open", "create", "quit"


def store_problem(path: Path) -> str | None:
    """Why the window cannot record runs in the store at `path`, or None when it can.

    A store not made yet is only checked for a folder it can be made in: it is made when
    first read, after the window shows."""
    if not path.exists():
        return _cannot_create(path)
    try:
        with RunStore(path) as store:
            if store.readonly:
                return (
                    f"{path} is read-only (the file or its folder cannot be written), so new "
                    "runs could not be recorded in it."
                )
    except StoreError as exc:
        return str(exc)
    return None


def _cannot_create(path: Path) -> str | None:
    folder = next(p for p in path.parents if p.exists())
    if not folder.is_dir():
        return f"cannot create a run store at {path}: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot create a run store in {path.parent}: the folder is read-only"
    return None


def ask(problem: str, parent: QWidget | None = None) -> str:
    """The dialog: OPEN another store, CREATE a new one, or QUIT."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Muppet Studio cannot use this run store")
    box.setText("The run store cannot be used.")
    box.setInformativeText(f"{problem}\n\nThe file is left as it is.")
    choices: dict[QAbstractButton, str] = {
        box.addButton("Open another store…", QMessageBox.ButtonRole.AcceptRole): OPEN,
        box.addButton("Create a new store…", QMessageBox.ButtonRole.ActionRole): CREATE,
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole): QUIT,
    }
    box.exec()
    return choices.get(box.clickedButton(), QUIT)


def usable_store(path: Path, parent: QWidget | None = None) -> Path | None:
    """`path` if the window can record runs in it, else the store the user picks instead.

    Returns None when the user quits. The unusable file is never written.
    """
    while (problem := store_problem(path)) is not None:
        choice = ask(problem, parent)
        if choice == QUIT:
            return None
        folder = str(path.parent if path.parent.is_dir() else Path.home())
        if choice == OPEN:
            picked, _ = QFileDialog.getOpenFileName(
                parent, "Open run store", folder, "Run store (*.db);;All files (*)"
            )
        else:
            picked, _ = QFileDialog.getSaveFileName(
                parent,
                "New run store",
                str(Path(folder) / "studio.db"),
                "Run store (*.db)",
                options=QFileDialog.Option.DontConfirmOverwrite,
            )  # fmt: skip  (an existing file is opened, never replaced)
        if picked:
            path = Path(picked)
    return path

"""A store the window cannot use: a dialog says why, offers another, never touches the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from studio.store import RunStore
from studio.store.schema import SCHEMA_VERSION
from studio.ui.store_dialog import store_problem, usable_store


def _answer(button: str, seen: list[str]) -> None:
    """Click `button` in the next message box that opens (what a user would do)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.informativeText())
        next(b for b in box.buttons() if b.text() == button).click()

    QTimer.singleShot(0, click)


def _newer(path: Path) -> Path:
    with RunStore(path) as store:
        store.create_run("mine", "pretrain", {}, "m")
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("kind", ["not a database", "a folder", "newer"])
def test_the_dialog_names_the_problem_and_quitting_leaves_the_file_alone(
    qtbot, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "studio.db"
    if kind == "not a database":
        path.write_bytes(b"my thesis draft " * 500)
    elif kind == "a folder":
        path.mkdir()
    else:
        _newer(path)
    before = path.read_bytes() if path.is_file() else None
    seen: list[str] = []
    _answer("Quit", seen)
    assert usable_store(path) is None
    expected = {"not a database": "not a run store", "a folder": "is a folder",
                "newer": "newer Muppet Studio"}[kind]  # fmt: skip
    assert expected in seen[0] and str(path) in seen[0]
    if before is not None:
        assert path.read_bytes() == before


def test_create_a_new_store_instead(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "studio.db"
    bad.write_bytes(b"garbage" * 100)
    fresh = tmp_path / "other" / "fresh.db"
    fresh.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(fresh), ""))
    seen: list[str] = []
    _answer("Create a new store…", seen)
    assert usable_store(bad) == fresh
    assert store_problem(fresh) is None and bad.read_bytes() == b"garbage" * 100


def test_a_usable_store_opens_without_a_dialog(tmp_path: Path) -> None:
    assert usable_store(tmp_path / "studio.db") == tmp_path / "studio.db"
    assert not (tmp_path / "studio.db").exists()  # made when first read, after the window shows


def test_a_new_store_needs_a_folder_to_be_made_in(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a folder")
    problem = store_problem(tmp_path / "notes.txt" / "runs" / "studio.db")
    assert problem is not None and "notes.txt is a file, not a folder" in problem
    assert store_problem(tmp_path / "new" / "deeper" / "studio.db") is None
    assert not (tmp_path / "new").exists()


@pytest.mark.process
def test_a_read_only_store_is_a_problem_for_the_window(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support import read_only_command

    home = tmp_path / "home"
    RunStore(home / "studio.db").close()
    code = (
        "import sys; from pathlib import Path; from studio.ui.store_dialog import "
        "store_problem; print(store_problem(Path(sys.argv[1])))"
    )
    command = read_only_command(home, [sys.executable, "-c", code, str(home / "studio.db")])
    if command is None:
        pytest.skip("this machine can make no folder read-only for this user")
    home.chmod(0o555)
    try:
        said = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        home.chmod(0o755)
    assert "is read-only" in said.stdout, said.stderr

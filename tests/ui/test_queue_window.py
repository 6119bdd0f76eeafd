"""The run queue in the window: Add to queue, the queue in the Runs tab, and a queue that goes on
after the window was closed and opened again."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.store import RunStore
from studio.ui import actions as A
from studio.ui.main_window import MainWindow
from studio.ui.runs.view import RunsView
from tests.support import tiny_config
from tests.ui.helpers import close_window, state_for

TASKS = ("synth_sentiment", "synth_choice")
JOB_MS = 300_000  # a job starts a Python process that imports torch: slow on a busy machine


def _open(qtbot, folder: Path) -> MainWindow:  # type: ignore[no-untyped-def]
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(load_catalog(default_tasks_dir()), folder / "studio.db", settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: hasattr(win, "probe"), timeout=10_000)  # see test_main_window
    return win


def _close(qtbot, win: MainWindow) -> None:  # type: ignore[no-untyped-def]
    close_window(win)
    qtbot.waitUntil(lambda: not win.jobs.threads, timeout=10_000)
    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    assert not lingering


@pytest.fixture
def window(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    win = _open(qtbot, tmp_path)
    yield win
    _close(qtbot, win)


def _queue(store_path: Path, *names: str, steps: int = 2) -> list[str]:
    with RunStore(store_path) as store:
        return [store.enqueue(tiny_config("m", TASKS, max_steps=steps), n) for n in names]


def test_add_to_queue_queues_the_current_config(window: MainWindow) -> None:
    action = window.menu_actions[A.ADD_TO_QUEUE]
    toolbar = window.findChild(type(window.addToolBar("x")), "run-toolbar")
    assert action in toolbar.actions()
    window.draft.apply(tiny_config("minilm", TASKS, max_steps=3, name="first"))
    action.trigger()
    window.draft.apply(tiny_config("minilm", TASKS[:1], max_steps=4, name="second"))
    action.trigger()
    with RunStore(window.store_path) as store:
        queued = store.queued_runs()
    assert [r.name for r in queued] == ["first", "second"]
    assert queued[1].config == window.current_config().to_dict()
    assert (queued[1].status, queued[1].max_steps) == ("queued", 4)
    assert not window.jobs.training.running  # queued, not started
    assert "2 run(s) waiting" in window.status.text()
    assert not window.runs.queue.isHidden() and window.runs.queue.ids == [r.id for r in queued]


def test_add_to_queue_refuses_an_invalid_config(window: MainWindow) -> None:
    window.checklist.set_checked([])
    window.menu_actions[A.ADD_TO_QUEUE].trigger()
    for box in window.findChildren(QMessageBox):
        box.close()
    assert "task" in window.last_error.lower()
    with RunStore(window.store_path) as store:
        assert store.queued_runs() == []


def test_run_queue_with_an_empty_queue_says_so(window: MainWindow) -> None:
    window.menu_actions[A.RUN_QUEUE].trigger()
    assert "queue is empty" in window.status.text() and not window.jobs.training.running


def test_the_runs_tab_moves_and_removes_queued_runs(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b, c = _queue(tmp_path / "studio.db", "a", "b", "c")
    view = RunsView(state_for(tmp_path / "studio.db").store)
    qtbot.addWidget(view)
    queue = view.queue
    assert queue.ids == [a, b, c] and not queue.isHidden()
    assert queue.table.item(0, 1).text() == "a" and queue.table.item(2, 0).text() == "3"
    queue.table.selectRow(2)
    assert not queue.buttons["down"].isEnabled()
    queue.buttons["up"].click()
    assert queue.ids == [a, c, b] and queue.selected() == c
    queue.buttons["up"].click()
    assert queue.ids == [c, a, b] and not queue.buttons["up"].isEnabled()
    queue.buttons["down"].click()
    assert queue.ids == [a, c, b]
    queue.table.selectRow(0)
    queue.buttons["remove"].click()
    assert queue.ids == [c, b] and a not in view.runs  # the runs table follows
    with RunStore(tmp_path / "studio.db") as store:
        assert [r.id for r in store.queued_runs()] == [c, b]
        store.remove_queued(c)
        store.remove_queued(b)
    view.refresh()
    assert queue.isHidden()


def test_a_run_started_elsewhere_is_not_removed(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (a,) = _queue(tmp_path / "studio.db", "a")
    view = RunsView(state_for(tmp_path / "studio.db").store)
    qtbot.addWidget(view)
    with RunStore(tmp_path / "studio.db") as store:
        store.claim(a, ("queued",))  # a worker took it after the tab read the queue
    view.queue.table.selectRow(0)
    view.queue.buttons["remove"].click()
    boxes = view.queue.findChildren(QMessageBox)
    assert boxes and "no longer queued" in boxes[0].text()
    for box in boxes:
        box.close()
    with RunStore(tmp_path / "studio.db") as store:
        assert store.get_run(a).status == "running"


@pytest.mark.train
@pytest.mark.process
def test_the_queue_goes_on_after_closing_and_reopening(
    qtbot,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    tiny_model: str,
) -> None:
    store_path = tmp_path / "studio.db"
    with RunStore(store_path) as store:
        long = store.enqueue(tiny_config(tiny_model, TASKS, max_steps=100_000), "long")
        rest = [store.enqueue(tiny_config(tiny_model, TASKS, max_steps=2), n) for n in "ab"]
    win = _open(qtbot, tmp_path)  # nothing trains: the window goes on with the queue
    assert win.queue_actions.running
    qtbot.waitUntil(lambda: win.jobs.training.run_id == long, timeout=JOB_MS)

    def training() -> bool:
        with RunStore(store_path) as store:
            return bool(store.get_run(long).step)

    qtbot.waitUntil(training, timeout=JOB_MS)
    _close(qtbot, win)  # stops the current run as Stop does; the rest stay queued
    with RunStore(store_path) as store:
        assert store.get_run(long).status == "stopped"
        assert [r.id for r in store.queued_runs()] == rest

    win = _open(qtbot, tmp_path)
    qtbot.waitUntil(lambda: not win.jobs.training.running, timeout=JOB_MS)
    assert win.jobs.training.run_id == rest[-1]  # the Monitor followed each run
    assert "2 run(s) trained, 0 still queued" in win.status.text()
    with RunStore(store_path) as store:
        assert [store.get_run(i).status for i in rest] == ["finished", "finished"]
    _close(qtbot, win)

"""UI test set-up: Qt renders offscreen, so the tests run headless, and no test may leave a
QThread running or a child process alive behind it: the next test (or the interpreter's exit)
would meet it, far from the test that left it."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before any Qt import: pytest-qt creates the QApplication with whatever platform is set here.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QThread  # noqa: E402  (after the platform is chosen)
from shiboken6 import isValid  # noqa: E402

# How long a test's threads and processes get to end after it returns (a job that was told to
# stop finishes its last write first).
GRACE_S = 10.0
# The interpreter's own helpers, started on first use and kept for the session by design.
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")
# Threads that outlived their test are kept referenced, so that Python never destroys a
# running QThread (which aborts the whole run instead of failing one test).
_LEFT_RUNNING: list[QThread] = []


def _children_of(pid: int) -> dict[int, str]:
    """The live descendants of `pid` (pid -> command line), read from /proc; {} without it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state not in ("Z", "X"):  # a zombie has ended; only its parent's wait is missing
            parents[int(entry)] = int(ppid)
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = _command(child)
                frontier.append(child)
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def _live_children(before: set[int]) -> dict[int, str]:
    multiprocessing.active_children()  # reaps the multiprocessing children that have ended
    children = _children_of(os.getpid()).items()
    return {p: c for p, c in children if p not in before and not any(h in c for h in _HELPERS)}


@pytest.fixture(autouse=True)
def no_threads_or_processes_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    started: list[QThread] = []
    original = QThread.start

    def start(self: QThread, *args: object) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    before = set(_children_of(os.getpid()))
    yield
    monkeypatch.undo()

    deadline = time.monotonic() + GRACE_S
    running = [t for t in started if isValid(t) and t.isRunning()]
    for thread in running:
        thread.wait(max(0, int((deadline - time.monotonic()) * 1000)))
    running = [t for t in running if isValid(t) and t.isRunning()]
    children = _live_children(before)
    while children and time.monotonic() < deadline:
        time.sleep(0.1)
        children = _live_children(before)

    problems = [f"QThread {t!r} still runs" for t in running]
    problems += [f"child process {pid} still runs: {cmd}" for pid, cmd in children.items()]
    _LEFT_RUNNING.extend(running)
    for pid in children:  # so the next test starts clean; this one fails below
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if problems:
        pytest.fail(
            f"the test left {len(problems)} thing(s) running {GRACE_S:.0f} s after it ended "
            "(or started them from what an earlier test left behind, e.g. a pending timer):\n"
            + "\n".join(problems),
            pytrace=False,
        )


@pytest.fixture
def window(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The main window on a store of its own, shown; closed and its jobs ended afterwards."""
    from PySide6.QtCore import QSettings

    from studio.core.tasks.spec import default_tasks_dir, load_catalog
    from studio.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(load_catalog(default_tasks_dir()), tmp_path / "studio.db", settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    # The device probe starts 300 ms after the window opens: wait for it, so that every test
    # also sees the probe's job started and ended by closing (not refused after the close).
    qtbot.waitUntil(lambda: hasattr(win, "probe"), timeout=10_000)
    yield win
    from tests.ui.helpers import close_window

    close_window(win)
    qtbot.waitUntil(lambda: not win.jobs.threads, timeout=10_000)
    # Qt threads that ran Python show up as daemon "Dummy" entries; no real thread may linger.
    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    assert not lingering

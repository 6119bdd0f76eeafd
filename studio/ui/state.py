"""The model under the window: what the studio shows, owned once, with signals when it changes.

Views and controllers hold a `StudioState` and listen to it; none opens the run store, keeps
its own timer on it, or is handed the catalog by another view (napari's model-first window).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core import paths
from studio.core.errors import StudioError
from studio.core.tasks.availability import Availability, resolve
from studio.core.tasks.spec import TaskSpec, studio_catalog
from studio.store import RunStore, StoreError

if TYPE_CHECKING:
    from studio.core.jobs import Job, JobRequest

log = logging.getLogger(__name__)

POLL_MS = 500
TASK_FILES_EVERY = 4  # polls between looks at the task library's files (a terminal's task add)
T = TypeVar("T")


class StoreWatcher(QObject):
    """The GUI thread's one connection to the run store, read on one timer.

    `runsChanged`: runs came, went or changed status. `stepsChanged`: only their steps moved.
    `tick`: every poll, for views that follow a run's new rows. A read error closes the
    connection and the next read opens a new one, so a store that another process changed
    under the window is read afresh instead of staying broken.
    """

    runsChanged = Signal()
    stepsChanged = Signal()
    tick = Signal()
    storeChanged = Signal()

    def __init__(self, path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = Path(path)
        self._store: RunStore | None = None
        self.states: dict[str, tuple[str, int]] = {}
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    @property
    def store(self) -> RunStore:
        if self._store is None:
            self._store = RunStore(self.path)
        return self._store

    def read(self, work: Callable[[RunStore], T]) -> T:
        """`work(store)`; after a read error, once more on a new connection."""
        try:
            return work(self.store)
        except sqlite3.DatabaseError as exc:
            log.warning("reading %s failed (%s); reconnecting", self.path, exc)
            self.close()
            return work(self.store)

    def set_path(self, path: Path) -> None:
        """Follow another store file: everything shown is read again."""
        self.close()
        self.path = Path(path)
        self.states = {}
        self.storeChanged.emit()
        self.runsChanged.emit()

    def start(self) -> None:
        self.timer.start()

    def poll(self) -> bool:
        """Mark dead runs interrupted, then say what changed since the last poll (returned)."""
        try:
            states = self.read(_live_states)
        except (sqlite3.Error, StoreError) as exc:  # shown on the next good read
            log.warning("polling %s failed: %s", self.path, exc)
            self.close()
            return False
        old, self.states = self.states, states
        if states.keys() != old.keys() or any(states[i][0] != s for i, (s, _) in old.items()):
            self.runsChanged.emit()
        elif states != old:
            self.stepsChanged.emit()
        self.tick.emit()
        return states != old

    def status(self, run_id: str) -> str | None:
        """A run's status as last polled (polled now for a run not seen yet); None if none."""
        if run_id not in self.states:
            self.poll()
        return self.states.get(run_id, (None, 0))[0]

    def close(self) -> None:
        """Close the connection (on the GUI thread, whose it is); the next read reopens it."""
        if self._store is not None:
            self._store.close()
            self._store = None


def _live_states(store: RunStore) -> dict[str, tuple[str, int]]:
    store.mark_interrupted()
    return store.run_states()


class StudioState(QObject):
    """The catalog (and where each task's data is) and the run store; the drafted run and its
    checked tasks are the Draft's (ui/draft.py).

    `catalogChanged` fires when tasks are added, edited or removed: by the window, or by a
    `task add` in a terminal (the library's files are looked at every few polls). Controllers
    speak to the user through `message`, `problem` and `runsOpened`; the window shows them.
    """

    catalogChanged = Signal()
    message = Signal(str)  # a line for the status bar
    problem = Signal(str, str)  # (title, text): something the user must read
    runsOpened = Signal(list)  # run ids for the Monitor, the first one primary

    def __init__(
        self,
        catalog: dict[str, TaskSpec],
        store_path: Path,
        data_dir: Path | None = None,
        tasks_dirs: tuple[str, ...] = (),
        problems: tuple[str, ...] = (),
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.problems = problems
        self.data_dir = data_dir
        self.tasks_dirs = tasks_dirs  # more folders of user task specs (--tasks-dir)
        self.hub_reachable = False  # until a background check finds otherwise
        self.availability = self._resolve_all()
        self.store = StoreWatcher(store_path, self)
        self._polls = 0
        self._task_files = _task_files(tasks_dirs)
        self.store.tick.connect(self._look_at_task_files)

    @property
    def store_path(self) -> Path:
        return self.store.path

    def job(self, request: JobRequest, data: bool = True) -> Job:
        """`request` as a job of this window: its tasks, data folder and store. Without `data`
        the job's run trains on the data folder it remembers (a resume).

        The job protocol (forty frozen dataclasses) is imported with the first job rather than
        before the window shows: it was a sixth of the window's start-up."""
        from studio.core.jobs import Job
        from studio.jobs.client import job_place

        data_dir = self.data_dir if data else None
        return Job(request, job_place(self.catalog, data_dir, self.store_path))

    def set_data_dir(self, folder: Path | None) -> None:
        self.data_dir = folder
        self.reload_catalog()

    def set_hub_reachable(self) -> None:
        self.hub_reachable = True
        self.reload_catalog()

    def reload_catalog(self) -> None:
        """Read the built-in catalog and the user's library again, and tell every view."""
        try:
            loaded = studio_catalog(self.tasks_dirs)
        except StudioError as exc:  # a broken built-in catalog: keep what is shown
            log.warning("the task catalog could not be read again: %s", exc)
            return
        self._task_files = _task_files(self.tasks_dirs)
        self.catalog, self.problems = loaded.tasks, loaded.problems
        self.availability = self._resolve_all()
        self.catalogChanged.emit()

    def _resolve_all(self) -> dict[str, Availability]:
        """Where each task's data is. The hub counts only once the background check found it
        reachable: a network probe on the GUI thread could freeze the window for seconds."""
        home, online = paths.synthetic_dir(), self.hub_reachable
        return {n: resolve(s, self.data_dir, home, online) for n, s in self.catalog.items()}

    def _look_at_task_files(self) -> None:
        self._polls += 1
        if self._polls % TASK_FILES_EVERY == 0 and _task_files(self.tasks_dirs) != self._task_files:
            log.info("the task library changed on disk; reading it again")
            self.reload_catalog()


def _task_files(tasks_dirs: tuple[str, ...]) -> frozenset[tuple[str, int, int]]:
    """Each user spec's path, size and change time: cheap to compare every few seconds."""
    found = set()
    for folder in paths.user_task_dirs(tasks_dirs):
        try:
            for spec in folder.glob("*.yaml"):
                stat = spec.stat()
                found.add((str(spec), stat.st_size, stat.st_mtime_ns))
        except OSError:
            continue
    return frozenset(found)

"""Is a run's process still alive? Used to spot runs whose training process died without saying
so, and the heartbeat that tells other processes (and other hosts) that it did not."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from studio.core.processes import pid_alive, process_started
from studio.core.run_record import Run

log = logging.getLogger(__name__)

# How often a process writes the heartbeat of the runs it owns, whatever its main thread does
# (tokenizing for minutes, evaluating, saving a checkpoint). The store's liveness limit
# (runs.HEARTBEAT_TIMEOUT_S) is several beats, so a beat lost to a busy store does no harm.
BEAT_INTERVAL_S = 15.0
# A beat waits this long for another writer, then tries again at the next beat.
BEAT_WAIT_S = 2.0
# Process start times come from a boot time in whole seconds: a pid's process counts as
# started after the run only when it started this much later.
START_SLACK_S = 2.0
INTERRUPTED_ERROR = "the training process ended without finishing the run"


def run_alive(run: Run, here: str, now: float, timeout: float) -> bool:
    """Whether the process of a 'running' run (its pid, host, heartbeat, started, created)
    still seems alive.

    A heartbeat (else start or creation time) older than `timeout` seconds means dead,
    whatever holds the row's pid now: its owner beats every BEAT_INTERVAL_S while it lives.
    On this host the pid must also name a live process that started before the run did (a
    pid is reused once its process is gone); another host's run only has its heartbeat.
    """
    last = run.heartbeat or run.started or run.created or 0.0
    if now - last >= timeout:
        return False
    if run.host != here or run.pid is None:
        return True
    return _owner_lives(run.pid, run.started)


def _owner_lives(pid: int, run_started: float | None) -> bool:
    if not pid_alive(pid):
        return False
    began = process_started(pid)
    if began is None or run_started is None:  # the platform cannot tell: trust the pid
        return True
    return began <= run_started + START_SLACK_S


class Heartbeats:
    """The runs this process owns, whose heartbeat one daemon thread writes every
    BEAT_INTERVAL_S seconds until they end.

    A beat only touches a run still `running` with this process's pid, host and start time,
    so a run that ended, or that another process claimed, drops out by itself. A run that
    another process marked interrupted while this one lived on (suspended, say, past the
    liveness limit) and that nobody claimed since is set running again: its owner is alive.
    """

    def __init__(self, interval: float = BEAT_INTERVAL_S) -> None:
        self.interval = interval
        self._runs: dict[tuple[str, str], float] = {}  # (store file, run id) -> started
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def own(self, store: Path, run_id: str, started: float) -> None:
        """Beat the heartbeat of `run_id`, started (as stored) at `started`, from now on."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child owns none of its parent's runs
                self._runs.clear()
                self._thread, self._pid = None, os.getpid()
            self._runs[(str(store), run_id)] = started
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
                self._thread.start()

    def release(self, store: Path, run_id: str) -> None:
        """This process no longer runs `run_id` (it ended, or was given back)."""
        with self._lock:
            self._runs.pop((str(store), run_id), None)

    def owned(self) -> list[str]:
        """The ids of the runs this process beats for."""
        with self._lock:
            return [run_id for _, run_id in self._runs]

    def beat(self) -> None:
        """Write the heartbeat of every owned run now."""
        with self._lock:
            runs = dict(self._runs)
        by_store: dict[str, list[tuple[str, float]]] = {}
        for (store, run_id), started in runs.items():
            by_store.setdefault(store, []).append((run_id, started))
        for store, owned in by_store.items():
            for run_id in _beat_store(store, owned):
                with self._lock:  # unless this process took the run on again meanwhile
                    if self._runs.get((store, run_id)) == runs[(store, run_id)]:
                        del self._runs[(store, run_id)]

    def _loop(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                self.beat()
            except Exception as exc:  # noqa: BLE001 - the beat must never end the process
                log.debug("heartbeat failed: %s", exc)
            with self._lock:
                if not self._runs:
                    self._thread = None
                    return


def _beat_store(store: str, owned: list[tuple[str, float]]) -> list[str]:
    """Beat `owned` runs of one store file; return those this process no longer owns."""
    if not Path(store).is_file():
        return [run_id for run_id, _ in owned]
    here, pid, now = socket.gethostname(), os.getpid(), time.time()
    gone = []
    try:
        conn = sqlite3.connect(store, timeout=BEAT_WAIT_S)
    except sqlite3.Error:
        return []
    try:
        with conn:
            for run_id, started in owned:
                mine = [run_id, pid, here, started]
                if _execute(conn, _BEAT, [now, *mine]):
                    continue
                if _execute(conn, _REVIVE, [now, INTERRUPTED_ERROR, *mine]):
                    log.warning(
                        "run %s was marked interrupted while its process lived on; it is"
                        " running again",
                        run_id,
                    )
                else:
                    gone.append(run_id)
    except sqlite3.Error as exc:  # busy or unwritable now: the next beat tries again
        log.debug("heartbeat of %s skipped: %s", store, exc)
        return []
    finally:
        conn.close()
    return gone


_MINE = "id = ? AND pid = ? AND host = ? AND started = ?"
_BEAT = f"UPDATE runs SET heartbeat = ? WHERE status = 'running' AND {_MINE}"
_REVIVE = (
    "UPDATE runs SET status = 'running', finished = NULL, heartbeat = ?,"
    " error = CASE WHEN error = ? THEN NULL ELSE error END"
    f" WHERE status = 'interrupted' AND {_MINE}"
)


def _execute(conn: sqlite3.Connection, sql: str, params: list[Any]) -> bool:
    return conn.execute(sql, params).rowcount > 0


HEARTBEATS = Heartbeats()

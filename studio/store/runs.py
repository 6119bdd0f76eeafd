"""RunStore: runs, metrics, checkpoints and logs in one SQLite file (WAL, one store per thread)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.core.mixing.plan import RunPlan, TaskPlan
from studio.core.paths import RUNS, UnsafeRunId, run_dir, store_path
from studio.core.run_record import Run, TransferResult
from studio.core.segments import Segment, current_end
from studio.core.sink import MetricRow
from studio.store import keeper
from studio.store.liveness import HEARTBEATS, INTERRUPTED_ERROR, run_alive
from studio.store.run_meta import RunMetadata
from studio.store.schema import (
    KINDS,
    RESUMABLE,
    RUN_COLUMNS,
    SCHEMA_VERSION,
    STATUSES,
    check_choice,
    create_schema,
    new_run_id,
    status_stamps,
)

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
# A running run whose heartbeat is older than this is interrupted, whatever holds its pid: its
# owner writes one every liveness.BEAT_INTERVAL_S seconds from a thread of its own.
HEARTBEAT_TIMEOUT_S = 120.0

_METRIC_COLUMNS = "id, run_id, step, task, name, value, wall_time"
_INSERT_METRIC = (
    "INSERT INTO metrics (run_id, step, task, name, value, wall_time) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_LOG = "INSERT INTO logs (run_id, time, level, message) VALUES (?, ?, ?, ?)"


class StoreError(StudioError):
    """The store file cannot be opened or created; the message names the file."""


class NoStore(StoreError):
    """No run store at the path, and the caller may not create one there."""


class ReadOnlyStore(StoreError):
    """A write to a store that this process may only read."""


class RunBusy(StudioError):
    """Another live process owns the run (it trains it); the message names the process."""


class UnknownRun(StudioError, KeyError):
    """No run has that id (a KeyError too, for lookups that try something else next)."""

    def __str__(self) -> str:  # KeyError's own str() would quote the message
        return str(self.args[0])


def _to_json(value: Mapping[str, Any]) -> str:
    # default=str: a config may hold Paths or enums; the record should still be written.
    return json.dumps(dict(value), default=str)


class RunStore(RunMetadata):
    """The SQLite run store.

    Each RunStore owns one sqlite3 connection, which may only be used from the thread that
    created it (sqlite3 enforces this). Give every thread that reads or writes its own RunStore
    on the same file: WAL mode lets one writer and many readers work at once, and the busy timeout
    makes concurrent writers wait instead of failing.
    """

    def __init__(self, path: str | Path | None = None, create: bool = True) -> None:
        """Open the store at `path` (default: STUDIO_HOME's). With `create` False a missing
        file is NoStore: a command that only reads must not leave an empty store (and its
        folders) behind a mistyped path."""
        self.path = Path(path) if path is not None else store_path()
        if not create and not self.path.exists():
            raise NoStore(missing_store(self.path))
        self.readonly = _read_only(self.path)
        self._kept: tuple[int, int] | None = None
        self._conn = self._connect()
        self._closed = False
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} was written by a newer Muppet Studio (store version {version};"
                    f" this one knows up to {SCHEMA_VERSION}). Update the studio, or open"
                    " another store; this file was left as it is."
                )
            if not self.readonly:
                self._prepare(version)
            if self._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                self._kept = keeper.hold(self.path)  # see keeper: the WAL stays while open
        except sqlite3.Error as e:
            self._conn.close()
            raise StoreError(f"{self.path}: {_describe(e)}") from e
        except StoreError:
            self._conn.close()
            raise
        log.debug("opened run store %s%s", self.path, " (read-only)" if self.readonly else "")

    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a run store file; choose a .db file")
        try:
            if not self.readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not self.path.exists() and not os.access(self.path.parent, os.W_OK):
                    raise StoreError(
                        f"cannot create a run store in {self.path.parent}: the folder is read-only"
                    )
                return sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000)
            uri = self.path.resolve().as_uri()
            conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                conn.execute("PRAGMA user_version").fetchone()
                return conn
            except sqlite3.OperationalError:
                # A WAL store in a folder we cannot write: SQLite cannot make its shared-memory
                # file, so read the file as it is (commits still in a -wal file are not seen).
                conn.close()
                return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"{self.path}: cannot open the run store: {_describe(e)}") from e

    def _prepare(self, version: int) -> None:
        self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if self._conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._conn.execute("PRAGMA journal_mode=wal")
        # NORMAL is durable to an application crash in WAL mode; only power loss can drop
        # the last commits, and it saves an fsync on every batch.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # Only a new or older file needs the schema written: skipping the write transaction
        # keeps opening cheap for the GUI thread while a worker holds the write lock.
        if version != SCHEMA_VERSION:
            with self.transaction():
                create_schema(self.db)
            self._enable_search()  # then the search index, and the version (run_meta)

    def busy_timeout(self, milliseconds: int) -> None:
        """How long a write waits for another process's write lock before it fails."""
        self._conn.execute(f"PRAGMA busy_timeout={int(milliseconds)}")

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection; further calls are no-ops."""
        if not self._closed:
            self._closed = True
            keeper.release(self._kept)  # first: a last connection still tidies the WAL
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all; nested blocks become savepoints."""
        if self._conn.in_transaction:
            yield from self._savepoint()
            return
        if self.readonly:
            raise ReadOnlyStore(
                f"{self.path} is read-only (the file or its folder cannot be written): its runs"
                " can be listed and viewed, not changed or recorded"
            )
        # IMMEDIATE takes the write lock up front, so a read followed by a write inside the block
        # cannot fail half-way with SQLITE_BUSY; the busy timeout makes it wait for other writers.
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if "readonly" in str(e):
                raise ReadOnlyStore(f"{self.path}: {_describe(e)}") from e
            raise
        try:
            yield
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise

    def _savepoint(self) -> Iterator[None]:
        name = f"sp_{secrets.token_hex(8)}"
        self._conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._conn.execute(f"ROLLBACK TO {name}")
            self._conn.execute(f"RELEASE {name}")
            raise
        self._conn.execute(f"RELEASE {name}")

    # -- runs --------------------------------------------------------------------------------

    def create_run(
        self,
        name: str,
        kind: str,
        config: Mapping[str, Any],
        base_model: str,
        device: str = "",
        max_steps: int | None = None,
        source_run: str | None = None,
        status: str = "queued",
        data_dir: str | None = None,
    ) -> str:
        """Record a new run and return its id."""
        check_choice(kind, KINDS, "kind")
        check_choice(status, STATUSES, "status")
        now = time.time()
        row: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "status": status,
            "config": _to_json(config),
            "base_model": base_model,
            "device": device,
            "source_run": source_run,
            "created": now,
            "step": 0,
            "max_steps": max_steps,
            "data_dir": data_dir,
            **status_stamps(status, now),
        }
        for _ in range(100):
            run_id = new_run_id(now)
            try:
                with self.transaction():
                    self._insert("runs", {"id": run_id, **row})
                    self._index(run_id)
            except sqlite3.IntegrityError:
                continue  # two runs created in the same second drew the same suffix
            self._track(run_id, row)
            return run_id
        raise StoreError(f"{self.path}: could not find a free run id")

    def _insert(self, table: str, row: Mapping[str, Any]) -> None:
        """Insert one row of `table`, its keys naming the columns."""
        # Plain SQL rather than Table.insert: older sqlite-utils commits inside its own writes.
        columns = ", ".join(f"[{k}]" for k in row)
        marks = ", ".join("?" for _ in row)
        with self.transaction():
            self._conn.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())
            )

    def set_status(self, run_id: str, status: str, error: str | None = None) -> None:
        """Move a run to `status`, stamping start/finish times, pid and host as due."""
        check_choice(status, STATUSES, "status")
        fields: dict[str, Any] = {"status": status, **status_stamps(status, time.time())}
        if error is not None:
            fields["error"] = error
        self._update(run_id, fields)
        self._track(run_id, fields)

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run (step, heartbeat, device, max_steps, ...)."""
        unknown = set(fields) - (set(RUN_COLUMNS) - {"id"})
        if unknown:
            raise ValueError(f"cannot update run column(s) {', '.join(sorted(unknown))}")
        if "status" in fields:
            check_choice(fields["status"], STATUSES, "status")
        if "kind" in fields:
            check_choice(fields["kind"], KINDS, "kind")
        if isinstance(fields.get("config"), Mapping):
            fields["config"] = _to_json(fields["config"])
        if fields:
            with self.transaction():
                self._update(run_id, fields)
                if {"name", "config", "notes"} & set(fields):
                    self._index(run_id)
        if fields.get("status", "running") != "running":
            self._track(run_id, fields)

    def _track(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Beat the heartbeat of a run this process now runs (status_stamps made it the
        owner); stop when the run leaves `running`."""
        if fields.get("status") == "running" and fields.get("pid") == os.getpid():
            HEARTBEATS.own(self.path.absolute(), run_id, fields["started"])
        else:
            HEARTBEATS.release(self.path.absolute(), run_id)

    def _update(self, run_id: str, fields: Mapping[str, Any]) -> None:
        assignments = ", ".join(f"[{k}] = ?" for k in fields)
        with self.transaction():
            if fields.get("started") is not None:  # a new session: keep the one it replaces
                self._keep_session(run_id)
            cursor = self._conn.execute(
                f"UPDATE runs SET {assignments} WHERE id = ?", [*fields.values(), run_id]
            )
        if cursor.rowcount == 0:
            raise UnknownRun(f"no run with id {run_id!r} in {self.path}")

    def get_run(self, run_id: str) -> Run:
        """One run (core.run_record.Run), its config parsed, with its sessions (core.segments);
        UnknownRun if there is none."""
        # list(): a half-read cursor would keep an old snapshot open on this connection.
        rows = list(self.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
        if not rows:
            raise UnknownRun(f"no run with id {run_id!r} in {self.path}")
        return self._with_segments(rows, run_id)[0]

    def list_runs(self, kind: str | None = None) -> list[Run]:
        """All runs (or those of one kind), newest first, as `get_run` gives each."""
        if kind is None:
            rows = self.db.query("SELECT * FROM runs ORDER BY created DESC, id DESC")
        else:
            check_choice(kind, KINDS, "kind")
            rows = self.db.query(
                "SELECT * FROM runs WHERE kind = ? ORDER BY created DESC, id DESC", [kind]
            )
        return self._with_segments(list(rows))

    # -- sessions of work (core.segments) ----------------------------------------------------

    def _keep_session(self, run_id: str) -> None:
        """A new session of the run starts: record the one it ends, if it had one (its end:
        the finish, or the last heartbeat of a session that ended unseen). Inside the
        transaction that stamps the new start, so no session is lost or kept twice."""
        row = self._conn.execute(
            "SELECT started, finished, heartbeat FROM runs WHERE id = ?", [run_id]
        ).fetchone()
        if row is None or row[0] is None or not _worked(row[0], row[1] or row[2] or row[0]):
            return
        started, finished, heartbeat = row
        self._conn.execute(
            "INSERT OR IGNORE INTO segments (run_id, started, finished) VALUES (?, ?, ?)",
            [run_id, started, finished or heartbeat or started],
        )

    def _earlier_sessions(self, run_id: str | None) -> dict[str, list[Segment]]:
        """The recorded earlier sessions of one run (or all), oldest first, by run."""
        where, params = ("", []) if run_id is None else (" WHERE run_id = ?", [run_id])
        sql = f"SELECT run_id, started, finished FROM segments{where} ORDER BY run_id, started"
        try:
            rows = self._conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # an older store opened read-only: not migrated
            return {}
        found: dict[str, list[Segment]] = {}
        for owner, started, finished in rows:
            found.setdefault(owner, []).append((started, finished))
        return found

    def _with_segments(
        self, rows: Sequence[Mapping[str, Any]], run_id: str | None = None
    ) -> list[Run]:
        """Each row as a Run with its sessions: the recorded earlier ones, then the run row's
        own (a run that never started has none); and its tags."""
        earlier = self._earlier_sessions(run_id)
        tags = self._tags_of(run_id)
        runs = []
        for row in rows:
            run = Run.from_row(row, tags=tags.get(str(row["id"]), ()))
            started, end = run.started, current_end(run)
            kept = [(started, end)] if started and _worked(started, end) else []
            runs.append(replace(run, segments=(*earlier.get(run.id, []), *kept)))
        return runs

    def claim(self, run_id: str, statuses: Sequence[str] = RESUMABLE) -> Run:
        """Make this process the owner of a run, now `running`; return the row as it was.

        One transaction moves the run from one of `statuses` to `running` with this pid and host,
        so of two processes that claim the same run only one can win; the other gets RunBusy
        naming the winner. A `running` run whose process is gone counts as interrupted.
        """
        now = time.time()
        with self.transaction():
            run = self.get_run(run_id)
            status = run.status
            if status == "running":
                if run_alive(run, socket.gethostname(), now, HEARTBEAT_TIMEOUT_S):
                    raise RunBusy(f"run {run_id} is already running ({_owner(run)})")
                status = "interrupted"
            if status not in statuses:
                raise StudioError(
                    f"run {run_id} is {status}; only a run that is "
                    f"{', '.join(statuses)} can be resumed"
                )
            fields = {"status": "running", **status_stamps("running", now)}
            self._update(run_id, fields)
        self._track(run_id, fields)
        return replace(run, status=status)

    # -- the run queue -----------------------------------------------------------------------
    # A queued run is a `queued` pre-finetuning row with a queue_position (a row created
    # `queued` without one is not in the queue). Claiming it (`claim(id, ("queued",))`) is what
    # takes it out, so two queue workers can never start the same run.

    def enqueue(
        self,
        config: RunConfig,
        name: str,
        source_run: str | None = None,
        data_dir: str | None = None,
    ) -> str:
        """Save a pre-finetuning run as `queued`, last in the queue; return its id."""
        with self.transaction():
            run_id = self.create_run(
                name,
                "pretrain",
                config.to_dict(),
                config.model,
                device=config.device,
                max_steps=config.max_steps,
                source_run=source_run,
                status="queued",
                data_dir=data_dir,
            )
            self.append_to_queue(run_id)
        return run_id

    def append_to_queue(self, run_id: str) -> None:
        """Give a `queued` run the place after every other queued run."""
        with self.transaction():
            if self.get_run(run_id).status != "queued":
                raise StudioError(f"run {run_id} is not queued; only a queued run joins the queue")
            (last,) = self._conn.execute(
                "SELECT MAX(queue_position) FROM runs WHERE status = 'queued'"
            ).fetchone()
            self._update(run_id, {"queue_position": 0.0 if last is None else last + 1.0})

    def queued_runs(self) -> list[Run]:
        """The runs waiting in the queue, the next to run first, as `get_run` gives each."""
        rows = self.db.query(
            "SELECT * FROM runs WHERE status = 'queued' AND kind = 'pretrain'"
            " AND queue_position IS NOT NULL ORDER BY queue_position, created, id"
        )
        return self._with_segments(list(rows))

    def move_queued(self, run_id: str, position: int) -> None:
        """Move a queued run to `position` (0: next to run; past the end: last); the others
        keep their order."""
        with self.transaction():
            order = [r.id for r in self.queued_runs()]
            if run_id not in order:
                raise StudioError(f"run {run_id} is not in the queue of {self.path}")
            order.remove(run_id)
            order.insert(max(0, min(int(position), len(order))), run_id)
            self._conn.executemany(
                "UPDATE runs SET queue_position = ? WHERE id = ?",
                [(float(i), r) for i, r in enumerate(order)],
            )

    def remove_queued(self, run_id: str) -> None:
        """Take a run out of the queue and delete its row; refused once a worker started it."""
        with self.transaction():
            status = self.get_run(run_id).status
            if status != "queued":
                raise StudioError(f"run {run_id} is {status}, no longer queued; it stays")
            self.delete_run(run_id)

    def run_states(self) -> dict[str, tuple[str, int]]:
        """Every run's (status, step): a cheap poll for views that list runs."""
        cursor = self._conn.execute("SELECT id, status, step FROM runs")
        return {run_id: (status, step or 0) for run_id, status, step in cursor}

    def delete_run(self, run_id: str) -> bool:
        """Delete a run and its metrics, logs and checkpoint rows (not its files).

        Returns whether the run existed. A run that a live process trains is refused (RunBusy):
        the check and the delete are one transaction, so it cannot start in between.
        """
        with self.transaction():
            rows = list(self.db.query("SELECT * FROM runs WHERE id = ?", [run_id]))
            if rows and rows[0]["status"] == "running":
                run = Run.from_row(rows[0])
                if run_alive(run, socket.gethostname(), time.time(), HEARTBEAT_TIMEOUT_S):
                    raise RunBusy(
                        f"run {run_id} is running ({_owner(run)}); stop it before deleting it"
                    )
            for table in ("metrics", "logs", "checkpoints", "task_plan", "segments"):
                self._conn.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            self._forget(run_id)  # tags, search row, manifests (run_meta)
            self._conn.execute("DELETE FROM results WHERE transfer_id = ?", [run_id])
            cursor = self._conn.execute("DELETE FROM runs WHERE id = ?", [run_id])
        return cursor.rowcount > 0

    def delete_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Delete runs with their rows and their folders (checkpoints) beside the store.

        A run that a live process trains (it may have started since the user chose it) is kept,
        folder and all; returns why each kept run was.
        """
        refused = []
        for run_id in run_ids:
            try:
                existed = self.delete_run(run_id)
            except RunBusy as e:
                refused.append(str(e))
                continue
            if existed:
                self._remove_run_folder(run_id)
        return refused

    def _remove_run_folder(self, run_id: str) -> None:
        """Remove runs/<run_id> beside the store, and nothing else: an id that is not of the
        generated pattern names no folder, and a link is unlinked, never followed."""
        try:
            folder = run_dir(self.path, run_id)
        except UnsafeRunId as e:
            log.warning("kept every folder of deleted run %r: %s", run_id, e)
            return
        runs = (self.path.parent / RUNS).resolve()
        if folder.is_symlink():
            folder.unlink()
        elif folder.is_dir() and folder.resolve().parent == runs:
            shutil.rmtree(folder, ignore_errors=True)

    def mark_interrupted(self, heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S) -> list[str]:
        """Mark 'running' runs whose process is gone as 'interrupted'; return their ids.

        A run is dead once its heartbeat is older than `heartbeat_timeout`; on this host also
        once its pid names no process, or a process that started after the run (pid reuse).
        """
        here = socket.gethostname()
        now = time.time()
        candidates = map(Run.from_row, self.db.query("SELECT * FROM runs WHERE status = 'running'"))
        dead = [r.id for r in candidates if not run_alive(r, here, now, heartbeat_timeout)]
        marked: list[str] = []
        if not dead or self.readonly:  # read-only: the caller may only show them as interrupted
            return dead
        with self.transaction():
            for run_id in dead:
                # The status guard: the run may have finished between our read and this write.
                # It ended at its last sign of life, not now (maybe days later): its duration.
                cursor = self._conn.execute(
                    "UPDATE runs SET status = 'interrupted', finished = COALESCE(heartbeat, ?),"
                    " error = COALESCE(error, ?) WHERE id = ? AND status = 'running'",
                    [now, INTERRUPTED_ERROR, run_id],
                )
                if cursor.rowcount:
                    marked.append(run_id)
        if marked:
            log.info("marked %d run(s) interrupted: %s", len(marked), ", ".join(marked))
        return marked

    # -- metrics -----------------------------------------------------------------------------

    def add_metrics(self, run_id: str, rows: Sequence[MetricRow]) -> None:
        """Append metric rows for a run in one transaction."""
        if not rows:
            return
        # int()/float(): the loop may hand numpy or torch scalars, which sqlite3 cannot bind.
        params = [
            (run_id, int(r.step), r.task, r.name, float(r.value), float(r.wall_time)) for r in rows
        ]
        with self.transaction():
            self._conn.executemany(_INSERT_METRIC, params)

    def metric_keys(self, run_id: str) -> set[tuple[int, str, str | None, float]]:
        """(step, name, task, wall_time) of every metric row of a run: what it already has."""
        cursor = self._conn.execute(
            "SELECT step, name, task, wall_time FROM metrics WHERE run_id = ?", [run_id]
        )
        return {(int(a), str(b), c, float(d)) for a, b, c, d in cursor}

    def log_keys(self, run_id: str) -> set[tuple[float, str, str]]:
        """(time, level, message) of every log line of a run."""
        cursor = self._conn.execute(
            "SELECT time, level, message FROM logs WHERE run_id = ?", [run_id]
        )
        return {(float(a), str(b), str(c)) for a, b, c in cursor}

    def metrics_after(
        self, after_id: int, run_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Metric rows with id > after_id (of one run, or all), oldest first: the live poll."""
        sql = f"SELECT {_METRIC_COLUMNS} FROM metrics WHERE id > ?"
        params: list[Any] = [after_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return list(self.db.query(sql, params))

    def metric_series(
        self, run_id: str, name: str, task: str | None = None
    ) -> list[tuple[int, float, float]]:
        """(step, value, wall_time) of one metric, by step; task None means the run-wide value.

        A NaN value was stored as NULL and comes back as None.
        """
        cursor = self._conn.execute(
            "SELECT step, value, wall_time FROM metrics"
            " WHERE run_id = ? AND name = ? AND task IS ? ORDER BY step, id",
            [run_id, name, task],
        )
        return [(s, v, w) for s, v, w in cursor]

    def best_values(self, name: str = "eval_mean") -> dict[str, float]:
        """The highest value of a run-wide metric for every run that logged it."""
        cursor = self._conn.execute(
            "SELECT run_id, MAX(value) FROM metrics WHERE name = ? AND task IS NULL"
            " GROUP BY run_id",
            [name],
        )
        return {run_id: value for run_id, value in cursor if value is not None}

    def add_result(self, row: Mapping[str, Any]) -> None:
        """Record one fine-tuning result of a transfer experiment (see schema.RESULT_COLUMNS)."""
        self._insert("results", row)

    def results(self, transfer_id: str) -> list[TransferResult]:
        """Every result of one transfer experiment, in the order they were recorded."""
        rows = self.db.query(
            "SELECT * FROM results WHERE transfer_id = ? ORDER BY rowid", [transfer_id]
        )
        return [TransferResult.from_row(r) for r in rows]

    def delete_metrics_after(self, run_id: str, step: int) -> int:
        """Delete a run's metric rows past `step` (resuming from a checkpoint); return how many."""
        with self.transaction():
            cursor = self._conn.execute(
                "DELETE FROM metrics WHERE run_id = ? AND step > ?", [run_id, step]
            )
        return cursor.rowcount

    # -- the task plan -----------------------------------------------------------------------

    def set_plan(self, run_id: str, plan: RunPlan) -> None:
        """Record a run's plan (core.mix.RunPlan), replacing the one it had (a resume's)."""
        rows = [
            (run_id, i, t.task, int(t.examples), float(t.share), t.size, float(t.scale))
            for i, t in enumerate(plan.tasks)
        ]
        with self.transaction():
            self._conn.execute("DELETE FROM task_plan WHERE run_id = ?", [run_id])
            self._conn.executemany(
                "INSERT INTO task_plan (run_id, position, task, examples, share, size, scale)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._update(run_id, {"device_used": plan.device or None})

    def plan(self, run_id: str) -> RunPlan:
        """A run's recorded plan; no tasks and no device for a run that recorded none (one
        from before plans were recorded, or one that stopped while preparing)."""
        try:
            cursor = self._conn.execute(
                "SELECT task, examples, share, size, scale FROM task_plan WHERE run_id = ?"
                " ORDER BY position",
                [run_id],
            )
            tasks = tuple(TaskPlan(*row) for row in cursor)
            found = self._conn.execute("SELECT device_used FROM runs WHERE id = ?", [run_id])
            device = found.fetchone()
        except sqlite3.OperationalError:  # an older store opened read-only: not migrated
            return RunPlan(())
        return RunPlan(tasks, (device[0] or "") if device else "")

    # -- logs --------------------------------------------------------------------------------

    def add_log(self, run_id: str, level: str, message: str, time: float | None = None) -> None:
        """Append one log line to a run."""
        self.add_logs(run_id, [(time if time is not None else _now(), level, message)])

    def add_logs(self, run_id: str, entries: Sequence[tuple[float, str, str]]) -> None:
        """Append (time, level, message) lines to a run in one transaction."""
        if not entries:
            return
        with self.transaction():
            self._conn.executemany(
                _INSERT_LOG, [(run_id, float(t), lvl, msg) for t, lvl, msg in entries]
            )

    def logs(self, run_id: str, after_id: int = 0) -> list[dict[str, Any]]:
        """A run's log lines with id > after_id, oldest first."""
        return list(
            self.db.query(
                "SELECT id, run_id, time, level, message FROM logs"
                " WHERE run_id = ? AND id > ? ORDER BY id",
                [run_id, after_id],
            )
        )

    # -- checkpoints -------------------------------------------------------------------------

    def add_checkpoint(
        self, run_id: str, step: int, path: str | Path, metrics: Mapping[str, float]
    ) -> None:
        """Record (or replace) the checkpoint of a run at a step."""
        values = {k: float(v) for k, v in metrics.items()}
        with self.transaction():
            self._conn.execute(
                "INSERT OR REPLACE INTO checkpoints (run_id, step, path, metrics, created)"
                " VALUES (?, ?, ?, ?, ?)",
                [run_id, int(step), str(path), json.dumps(values), _now()],
            )

    def checkpoints(self, run_id: str) -> list[dict[str, Any]]:
        """A run's checkpoints by step, metrics parsed."""
        rows = self.db.query("SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step", [run_id])
        out = []
        for row in rows:
            row["metrics"] = json.loads(row["metrics"]) if row["metrics"] else {}
            out.append(row)
        return out

    def remove_checkpoint(self, run_id: str, step: int) -> None:
        """Forget the checkpoint of a run at a step (its files are the caller's)."""
        with self.transaction():
            self._conn.execute(
                "DELETE FROM checkpoints WHERE run_id = ? AND step = ?", [run_id, step]
            )

    # -- maintenance -------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """SQLite's own consistency check: 'ok', or the problems found."""
        return "\n".join(str(r[0]) for r in self._conn.execute("PRAGMA integrity_check"))


def missing_store(path: Path) -> str:
    """Why there is no store at `path`, naming the first folder that is missing."""
    if path.parent.exists():
        return f"no run store at {path}"
    missing = path.parent
    while not missing.parent.exists() and missing.parent != missing:
        missing = missing.parent
    return f"no run store at {path}: the folder {missing} does not exist (a mistyped path?)"


def _worked(started: float, end: float | None) -> bool:
    """Whether a session ran: a resume given back before training (session._release) keeps
    its new start with the old finish, an end before the start; it is no session."""
    return end is None or end >= started


def _read_only(path: Path) -> bool:
    """Whether an existing store cannot be written: the file, or the folder where SQLite
    keeps its -wal and -shm files beside it."""
    return path.is_file() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _describe(error: BaseException) -> str:
    """SQLite's reasons in words a user can act on."""
    text = str(error)
    if "file is not a database" in text:
        return "this file is not a run store (not an SQLite database, or damaged)"
    if "readonly" in text or "read-only" in text:
        return f"it is read-only ({text})"
    return text


def _owner(run: Run) -> str:
    if run.pid and run.host:
        return f"process {run.pid} on {run.host}"
    return "another process"


def _now() -> float:
    # A module function, because add_log's `time` parameter shadows the module inside it.
    return time.time()

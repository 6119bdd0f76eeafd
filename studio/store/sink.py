"""StoreSink: the training loop's reports, batched into the run store."""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from studio.core.files import describe_os_error
from studio.core.manifest import Manifest
from studio.core.mixing.plan import RunPlan
from studio.core.sink import MetricRow
from studio.store.runs import BUSY_TIMEOUT_MS, RunStore, StoreError

log = logging.getLogger(__name__)

# Log lines at these levels are written at once: they are often the last words before a crash.
_URGENT_LEVELS = frozenset({"ERROR", "CRITICAL"})
# A periodic write waits this long for another process's write lock, then tries again later:
# a busy store must never hold a training step for seconds.
QUICK_WAIT_MS = 100
# close() waits this long for a busy store before it writes the rows to the spill file.
CLOSE_PATIENCE_S = 30.0
SPILL_FILE = "unsaved-rows.jsonl"


class StoreSink:
    """Implements studio.core.sink.Sink for one run, writing to a RunStore in batches.

    The training loop calls it in line, so it only buffers: metric rows, log lines, the latest
    progress and checkpoint records are written together in one transaction once
    `flush_interval` seconds have passed since the last write, or on flush(), checkpoint() or
    close(). A write that finds the store busy (another process holds its lock) or full keeps
    everything buffered and is tried again later; nothing the loop reports is lost to a store
    problem. What close() still cannot write goes to `spill` (JSON lines, read back by
    `recover_spill`), as much of it as the disk takes (whole lines), and stderr says what was
    kept where and how many rows were lost. Use it from the thread that created `store`; close()
    leaves the store open: the caller owns it. `clock` times the flush interval (tests pass a
    fake one); close() waits for a busy store in real time.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        flush_interval: float = 1.0,
        spill: Path | None = None,
        patience: float = CLOSE_PATIENCE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.spill = spill
        self.patience = patience
        self.clock = clock
        self._rows: list[MetricRow] = []
        self._logs: list[tuple[float, str, str]] = []
        self._progress: tuple[int, int] | None = None
        self._stage: tuple[str, float | None] | None = None
        # ("add", step, path, metrics) or ("drop", step), in the order they happened.
        self._checkpoints: list[tuple[Any, ...]] = []
        self._plan: RunPlan | None = None
        self._manifest: Manifest | None = None
        self._spill_start: int | None = None  # where this sink's copy starts in the spill file
        self._last_write = clock()
        self._failing = False
        self._store_error = ""  # why the latest write failed, for the spill's message

    def __enter__(self) -> StoreSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the Sink protocol -------------------------------------------------------------------

    def metrics(self, rows: list[MetricRow]) -> None:
        """Buffer metric rows."""
        self._rows.extend(rows)
        self._maybe_write()

    def log(self, level: str, message: str) -> None:
        """Buffer a log line; errors are written at once."""
        self._logs.append((time.time(), level, message))
        if level.upper() in _URGENT_LEVELS:
            self._try_write()
        else:
            self._maybe_write()

    def progress(self, step: int, total: int) -> None:
        """Remember the latest step; it reaches the run row with the next batch."""
        self._progress = (int(step), int(total))
        self._maybe_write()

    def stage(self, text: str, fraction: float | None) -> None:
        """Remember what the run prepares; written with the next batch (the end at once)."""
        self._stage = (text, fraction)
        if text:
            self._maybe_write()
        else:
            self._try_write()

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        """Record a checkpoint, with everything buffered so far, now if the store lets us.

        Writing the buffer in the same transaction means a checkpoint row never exists without
        the metrics that led up to it, which resuming from it relies on.
        """
        self._checkpoints.append(("add", int(step), str(path), dict(metrics)))
        if not self._try_write():
            # The checkpoint is on disk: a kill now must not lose the rows that led up to it,
            # which a resume from it keeps. They stay buffered too, so that the next write
            # stores them in step order (and takes them back out of the spill file).
            self._spill(keep=True)

    def drop_checkpoint(self, step: int) -> None:
        """The checkpoint of `step` was deleted from disk: forget its row."""
        self._checkpoints.append(("drop", int(step)))
        self._try_write()

    def plan(self, plan: RunPlan) -> None:
        """Record the run's plan (the task_plan rows), with everything buffered, now if the
        store lets us; else with the next write."""
        self._plan = plan
        self._try_write()

    def manifest(self, manifest: Manifest) -> None:
        """Record what produced this session of the run (core.manifest), now if the store
        lets us; else with the next write (a manifest is not spilled: it is facts, not rows)."""
        self._manifest = manifest
        self._try_write()

    def flush(self) -> bool:
        """Write everything buffered now if the store lets us; return whether it did."""
        return self._try_write()

    def close(self) -> bool:
        """Write everything, waiting for a busy store; what cannot be written is spilled.

        Returns whether everything reached the store. Never raises for a store problem.
        """
        deadline = time.monotonic() + self.patience
        wait_ms = min(BUSY_TIMEOUT_MS, int(self.patience * 1000 / 3))
        while not self._try_write(wait_ms):
            if time.monotonic() >= deadline:
                self._spill(keep=False)
                return False
            time.sleep(0.2)
        if self.spill is not None and self.spill.exists():
            try:
                recover_spill(self.store, self.run_id, self.spill)
            except (sqlite3.Error, StoreError, OSError) as e:  # still kept for the next resume
                log.warning("run %s: %s stays for the next resume (%s)", self.run_id, self.spill, e)
        return True

    @property
    def pending(self) -> int:
        """How many rows, lines and checkpoint records wait to be written."""
        plan = (self._plan is not None) + (self._manifest is not None)
        return len(self._rows) + len(self._logs) + len(self._checkpoints) + plan

    # -- writing -----------------------------------------------------------------------------

    def _maybe_write(self) -> None:
        if self.clock() - self._last_write >= self.flush_interval:
            self._try_write()

    def _try_write(self, wait_ms: int = QUICK_WAIT_MS) -> bool:
        """Write, but keep training if the store is busy, full or gone: retry later."""
        try:
            self.store.busy_timeout(wait_ms)
            try:
                self._write()
            finally:
                self.store.busy_timeout(BUSY_TIMEOUT_MS)
        except (sqlite3.Error, StoreError) as e:
            self._last_write = self.clock()
            self._store_error = str(e)
            if not self._failing:  # once per outage, not once per update
                log.warning(
                    "run %s: could not write to %s (%s); keeping the rows to retry",
                    self.run_id,
                    self.store.path,
                    e,
                )
            self._failing = True
            return False
        if self._failing:
            log.info("run %s: the store takes writes again", self.run_id)
        self._failing = False
        return True

    def _write(self) -> None:
        store = self.store
        with store.transaction():
            store.add_metrics(self.run_id, self._rows)
            store.add_logs(self.run_id, self._logs)
            if self._progress is not None:
                step, total = self._progress
                store.update_run(self.run_id, step=step, max_steps=total, heartbeat=time.time())
            elif self._rows or self._logs or self._stage:
                # Any write shows the run is alive; other hosts judge liveness by the heartbeat.
                store.update_run(self.run_id, heartbeat=time.time())
            if self._stage is not None:
                text, fraction = self._stage
                store.update_run(self.run_id, stage=text or None, stage_progress=fraction)
            _apply_checkpoints(store, self.run_id, self._checkpoints)
            if self._plan is not None:
                store.set_plan(self.run_id, self._plan)
            if self._manifest is not None:
                store.add_manifest(self.run_id, self._manifest)
        # Forget the buffers only once committed, so a failed write loses nothing.
        self._rows = []
        self._logs = []
        self._progress = None
        self._stage = None
        self._checkpoints = []
        self._plan = None
        self._manifest = None
        self._last_write = self.clock()
        self._unspill()

    def _spill(self, keep: bool) -> None:
        """Keep what the store would not take in the run's folder, and say so on stderr.

        The file holds what an earlier process left (merged at close or on resume), then this
        sink's buffer as of its latest spill; `keep` leaves the buffer to be written later.
        On a full disk the file takes what fits, in whole lines; the message says how much
        that was and, when the buffer is given up, how many rows were lost.
        """
        records: list[dict[str, Any]] = [
            {"metric": [r.step, r.name, r.value, r.task, r.wall_time]} for r in self._rows
        ]
        records += [{"log": list(entry)} for entry in self._logs]
        records += [{"checkpoint": list(op)} for op in self._checkpoints]
        if self._progress is not None:
            records.append({"progress": list(self._progress)})
        if self._plan is not None:
            records.append({"plan": self._plan.to_dict()})
        if not records:
            return
        kept, problem = self._write_spill([(json.dumps(r) + "\n").encode() for r in records])
        self._report_spill(len(records), kept, problem, keep)
        if not keep:
            self._rows, self._logs, self._checkpoints, self._progress = [], [], [], None
            self._plan = None
            self._spill_start = None  # the file keeps what it could take

    def _write_spill(self, lines: list[bytes]) -> tuple[int, str]:
        """Write `lines` to the spill file in place of this sink's earlier copy, as many whole
        ones as the disk takes; return how many, and why not all ("" when all)."""
        if self.spill is None:
            return 0, "there is no spill file"
        try:
            self.spill.parent.mkdir(parents=True, exist_ok=True)
            with self.spill.open("a+b", buffering=0) as out:
                if self._spill_start is None:
                    self._spill_start = out.seek(0, os.SEEK_END)
                out.truncate(self._spill_start)  # the buffer replaces its earlier copy
                return _append_lines(out, self._spill_start, lines, self.spill.parent)
        except OSError as e:
            why = describe_os_error(e, self.spill.parent)
            return 0, f"{self.spill} could not be written: {why}"

    def _report_spill(self, total: int, kept: int, problem: str, keep: bool) -> None:
        """Say truthfully where the rows the store refused are, and how many are gone."""
        head = f"run {self.run_id}: {total} rows could not be written to {self.store.path}"
        if self._store_error:
            head += f" ({self._store_error})"
        if kept == total:
            log.warning(
                "%s yet; they are kept in %s until it can take them (at the end of the run, "
                "or when it is resumed)",
                head,
                self.spill,
            )
        elif keep:
            also = f"{kept} of them are also kept in {self.spill}" if kept else "none is kept"
            log.warning(
                "%s yet; they stay in memory to retry, and %s in case this process dies (%s)",
                head,
                also,
                problem,
            )
        else:
            saved = (
                f"{kept} are kept in {self.spill} until it can take them (when the run is "
                "resumed), "
                if kept
                else ""
            )
            log.error("%s: %s%d are lost (%s)", head, saved, total - kept, problem)

    def _unspill(self) -> None:
        """The store took the buffer: drop its copy from the spill file. (A kill just before
        this leaves rows the store has; `recover_spill` skips them.)"""
        if self._spill_start is None or self.spill is None:
            return
        try:
            if self._spill_start == 0:
                self.spill.unlink(missing_ok=True)
            else:
                os.truncate(self.spill, self._spill_start)
        except OSError as e:
            log.warning("run %s: could not tidy %s (%s)", self.run_id, self.spill, e)
        self._spill_start = None


def _append_lines(out: BinaryIO, start: int, lines: list[bytes], folder: Path) -> tuple[int, str]:
    """Write `lines` at `start` of `out` (opened unbuffered); on a write error cut the file back
    to the last whole line, since a half line is no row. How many lines stayed, and why not all."""
    data = b"".join(lines)
    written = 0
    try:
        while written < len(data):
            count = _write(out, memoryview(data)[written:])
            if not count:
                raise OSError(errno.ENOSPC, "the disk took nothing")
            written += count
    except OSError as e:
        whole = data.rfind(b"\n", 0, written) + 1
        out.truncate(start + whole)
        return data.count(b"\n", 0, whole), describe_os_error(e, folder)
    return len(lines), ""


def _write(out: BinaryIO, chunk: memoryview) -> int:
    """One write; how many bytes the disk took (tests stand in a full disk here)."""
    return out.write(chunk)


def _apply_checkpoints(store: RunStore, run_id: str, ops: list[tuple[Any, ...]]) -> None:
    for op in ops:
        if op[0] == "add":
            store.add_checkpoint(run_id, *op[1:])
        else:
            store.remove_checkpoint(run_id, op[1])


def recover_spill(store: RunStore, run_id: str, spill: Path) -> int:
    """Write the rows a sink had to spill back into the store, then remove the file.

    Returns how many records it restored. A line that cannot be read (the disk filled while
    it was written) is skipped with a warning.
    """
    if not spill.is_file():
        return 0
    rows: list[MetricRow] = []
    logs: list[tuple[float, str, str]] = []
    ops: list[tuple[Any, ...]] = []
    plan: RunPlan | None = None
    for number, line in enumerate(spill.read_text(encoding="utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
            if "metric" in record:
                rows.append(MetricRow(*record["metric"]))
            elif "log" in record:
                logs.append(tuple(record["log"]))
            elif "checkpoint" in record:
                ops.append(tuple(record["checkpoint"]))
            elif "plan" in record:
                plan = RunPlan.from_dict(record["plan"])
        except (ValueError, TypeError, KeyError):
            log.warning("%s, line %d: not a spilled row; skipped", spill, number)
    with store.transaction():
        known = store.metric_keys(run_id)
        store.add_metrics(run_id, [r for r in rows if _metric_key(r) not in known])
        known_logs = store.log_keys(run_id)
        store.add_logs(run_id, [entry for entry in logs if tuple(entry) not in known_logs])
        _apply_checkpoints(store, run_id, ops)
        if plan is not None:
            store.set_plan(run_id, plan)
    spill.unlink()
    return len(rows) + len(logs) + len(ops) + (plan is not None)


def _metric_key(row: MetricRow) -> tuple[int, str, str | None, float]:
    return int(row.step), row.name, row.task, float(row.wall_time)

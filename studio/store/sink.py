"""StoreSink: the training loop's reports, batched into the run store."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping
from types import TracebackType

from studio.core.sink import MetricRow
from studio.store.runs import RunStore

log = logging.getLogger(__name__)

# Log lines at these levels are written at once: they are often the last words before a crash.
_URGENT_LEVELS = frozenset({"ERROR", "CRITICAL"})


class StoreSink:
    """Implements studio.core.sink.Sink for one run, writing to a RunStore in batches.

    The training loop calls it in line, so it only buffers: metric rows, log lines and the
    latest progress are written together in one transaction once `flush_interval` seconds have
    passed since the last write, or on flush(), checkpoint() or close(). Use it from the thread
    that created `store` (a RunStore belongs to one thread). close() flushes but leaves the store
    open: the caller owns it.
    """

    def __init__(self, store: RunStore, run_id: str, flush_interval: float = 1.0) -> None:
        self.store = store
        self.run_id = run_id
        self.flush_interval = flush_interval
        self._rows: list[MetricRow] = []
        self._logs: list[tuple[float, str, str]] = []
        self._progress: tuple[int, int] | None = None
        self._stage: tuple[str, float | None] | None = None
        self._last_write = time.monotonic()

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
        """Record a checkpoint now, with everything buffered so far.

        Writing the buffer in the same transaction means a checkpoint row never exists without
        the metrics that led up to it, which resuming from it relies on.
        """
        self._write(checkpoint=(step, path, metrics))

    def drop_checkpoint(self, step: int) -> None:
        """The checkpoint of `step` was deleted from disk: forget its row."""
        self.store.remove_checkpoint(self.run_id, step)

    def flush(self) -> None:
        """Write everything buffered now."""
        self._write()

    def close(self) -> None:
        """Flush; the store stays open."""
        self.flush()

    # -- writing -----------------------------------------------------------------------------

    def _maybe_write(self) -> None:
        if time.monotonic() - self._last_write >= self.flush_interval:
            self._try_write()

    def _try_write(self) -> None:
        """Write, but keep training if the database is busy or full: retry at the next interval."""
        try:
            self._write()
        except sqlite3.OperationalError as e:
            self._last_write = time.monotonic()
            log.warning(
                "run %s: could not write to %s (%s); keeping %d rows to retry",
                self.run_id,
                self.store.path,
                e,
                len(self._rows) + len(self._logs),
            )

    def _write(self, checkpoint: tuple[int, str, Mapping[str, float]] | None = None) -> None:
        store = self.store
        with store.transaction():
            store.add_metrics(self._rows, self.run_id)
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
            if checkpoint is not None:
                store.add_checkpoint(self.run_id, *checkpoint)
        # Forget the buffers only once committed, so a failed write loses nothing.
        self._rows = []
        self._logs = []
        self._progress = None
        self._stage = None
        self._last_write = time.monotonic()

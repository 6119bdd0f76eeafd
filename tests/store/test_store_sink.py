"""StoreSink: batching, flushing, progress and checkpoints."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from studio.core.sink import MetricRow
from studio.store import RunStore, StoreSink

NEVER = 3600.0


def _rows(n: int, start: int = 0) -> list[MetricRow]:
    return [MetricRow(step=start + i, name="total_loss", value=1.0 / (i + 1)) for i in range(n)]


def _count(reader: RunStore, table: str) -> int:
    return reader.db[table].count


class FakeClock:
    """A monotonic clock that moves only when a test sets `now`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_written_before_the_interval_unless_flushed(
    store: RunStore, run_id: str, db_path: Path
) -> None:
    sink = StoreSink(store, run_id, flush_interval=NEVER)
    with RunStore(db_path) as reader:
        for step in range(1, 51):
            sink.metrics(_rows(3, start=step))
            sink.progress(step, 100)
        sink.log("INFO", "hello")
        assert _count(reader, "metrics") == 0
        assert _count(reader, "logs") == 0
        assert reader.get_run(run_id).step == 0

        sink.flush()
        assert _count(reader, "metrics") == 150
        assert [r["message"] for r in reader.logs(run_id)] == ["hello"]
        run = reader.get_run(run_id)
        assert (run.step, run.max_steps) == (50, 100)
        assert run.heartbeat is not None


def test_close_flushes(store: RunStore, run_id: str) -> None:
    with StoreSink(store, run_id, flush_interval=NEVER) as sink:
        sink.metrics(_rows(4))
        sink.log("INFO", "bye")
    assert len(store.metrics_after(0, run_id)) == 4
    assert len(store.logs(run_id)) == 1
    store.close()  # the sink never closes the store it was given; closing twice is fine


def test_writes_once_the_interval_has_passed(store: RunStore, run_id: str) -> None:
    clock = FakeClock()
    sink = StoreSink(store, run_id, flush_interval=0.5, clock=clock)
    sink.metrics(_rows(2))
    clock.now = 0.499
    sink.metrics(_rows(1, start=2))
    assert store.metrics_after(0) == []
    clock.now = 0.5
    sink.metrics(_rows(1, start=3))
    assert [r["step"] for r in store.metrics_after(0)] == [0, 1, 2, 3]


def test_progress_does_not_write_per_call(store: RunStore, run_id: str) -> None:
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    clock = FakeClock()
    sink = StoreSink(store, run_id, flush_interval=50, clock=clock)
    calls = 200
    for step in range(1, calls + 1):
        clock.now = step  # one tick per training step
        sink.progress(step, 10_000)
    sink.flush()
    store.db.conn.set_trace_callback(None)
    updates = [s for s in statements if s.startswith("UPDATE runs")]
    assert len(updates) == calls // 50  # one write per interval, none per call
    assert store.get_run(run_id).step == calls


def test_error_lines_are_written_at_once(store: RunStore, run_id: str) -> None:
    sink = StoreSink(store, run_id, flush_interval=NEVER)
    sink.metrics(_rows(2))
    sink.log("ERROR", "out of memory in task rte")
    assert [r["message"] for r in store.logs(run_id)] == ["out of memory in task rte"]
    assert len(store.metrics_after(0)) == 2


def test_checkpoint_is_written_at_once_with_the_buffer(store: RunStore, run_id: str) -> None:
    sink = StoreSink(store, run_id, flush_interval=NEVER)
    sink.metrics(_rows(5))
    sink.progress(5, 10)
    sink.checkpoint(5, "/runs/x/step-5", {"eval_accuracy": 0.75})
    assert [c["step"] for c in store.checkpoints(run_id)] == [5]
    assert store.checkpoints(run_id)[0]["metrics"] == {"eval_accuracy": 0.75}
    assert len(store.metrics_after(0)) == 5
    assert store.get_run(run_id).step == 5


def test_a_locked_database_keeps_the_rows_for_later(
    store: RunStore, run_id: str, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store.db.execute("PRAGMA busy_timeout=0")  # fail fast instead of waiting 10 s
    sink = StoreSink(store, run_id, flush_interval=0.0)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.WARNING, logger="studio.store.sink"):
            sink.metrics(_rows(3))  # the training loop goes on
        assert "keeping the rows to retry" in caplog.text
        blocker.execute("ROLLBACK")
    finally:
        blocker.close()
    assert store.metrics_after(0) == []
    sink.flush()
    assert [r["step"] for r in store.metrics_after(0)] == [0, 1, 2]


def test_the_stage_reaches_the_run_row_and_its_end_at_once(
    store: RunStore, run_id: str, db_path: Path
) -> None:
    sink = StoreSink(store, run_id, flush_interval=NEVER)
    with RunStore(db_path) as reader:
        sink.stage("tokenizing mnli (1 of 3): 41%", 0.41)
        assert reader.get_run(run_id).stage is None  # buffered, like progress
        sink.flush()
        row = reader.get_run(run_id)
        assert (row.stage, row.stage_progress) == ("tokenizing mnli (1 of 3): 41%", 0.41)
        sink.stage("", None)  # training starts: no waiting for the interval
        row = reader.get_run(run_id)
        assert (row.stage, row.stage_progress) == (None, None)

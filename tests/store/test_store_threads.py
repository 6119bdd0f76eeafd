"""A training thread writes through its own RunStore while the main thread polls."""

from __future__ import annotations

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from studio.core.sink import MetricRow
from studio.store import RunStore, StoreSink

STEPS = 400
TASKS = ("rte", "sst2", None)


def _train(db_path: Path, run_id: str) -> None:
    """A stand-in training loop: owns its store, reports every step, sleeps a little."""
    with RunStore(db_path) as store, StoreSink(store, run_id, flush_interval=0.01) as sink:
        store.set_status(run_id, "running")
        for step in range(STEPS):
            sink.metrics([MetricRow(step, "loss", float(step), task=t) for t in TASKS])
            sink.progress(step + 1, STEPS)
            if step % 50 == 0:
                time.sleep(0.005)
        sink.flush()
        store.set_status(run_id, "finished")


def test_incremental_reads_while_another_thread_writes(db_path: Path) -> None:
    with RunStore(db_path) as reader:
        run_id = reader.create_run("live", "pretrain", {}, "minilm", max_steps=STEPS)
        pool = ThreadPoolExecutor(max_workers=1)
        writer = pool.submit(_train, db_path, run_id)
        seen: list[dict[str, Any]] = []
        last_id = 0
        polls = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            finished = writer.done()
            new = reader.metrics_after(last_id, run_id)
            polls += 1
            if new:
                assert new[0]["id"] > last_id
                last_id = int(new[-1]["id"])
                seen.extend(new)
            if finished:
                break
            time.sleep(0.002)
        writer.result()  # re-raises whatever failed in the writer thread
        pool.shutdown()
        assert polls > 1
        ids = [r["id"] for r in seen]
        assert len(ids) == len(set(ids)) == STEPS * len(TASKS)
        assert ids == sorted(ids)
        assert [r["step"] for r in seen[:: len(TASKS)]] == list(range(STEPS))
        run = reader.get_run(run_id)
        assert (run.status, run.step) == ("finished", STEPS)
        assert reader.integrity_check() == "ok"


def test_a_store_belongs_to_its_thread(store: RunStore) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(sqlite3.ProgrammingError):
        pool.submit(store.list_runs).result()

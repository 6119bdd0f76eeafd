"""RunStore: schema, runs, status, metrics, logs, checkpoints and maintenance."""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core.sink import MetricRow
from studio.store import RunStore, StoreError


def _rows(n: int, start: int = 0, task: str | None = None) -> list[MetricRow]:
    return [MetricRow(step=start + i, name="loss", value=float(i), task=task) for i in range(n)]


# -- schema -------------------------------------------------------------------------------------


def test_schema_is_created_and_reopening_is_idempotent(db_path: Path) -> None:
    with RunStore(db_path) as first:
        schema = first.db.schema
        rid = first.create_run("a", "pretrain", {}, "m")
    with RunStore(db_path) as second:
        assert second.db.schema == schema
        assert second.get_run(rid).name == "a"
        assert {"runs", "metrics", "checkpoints", "logs"} <= set(second.db.table_names())
        assert set(second.db.table("metrics").columns_dict) == {
            "id",
            "run_id",
            "step",
            "task",
            "name",
            "value",
            "wall_time",
        }
        indexes = {tuple(i.columns) for i in second.db.table("metrics").indexes}
        assert ("run_id", "id") in indexes


def test_a_store_of_an_older_studio_gains_the_new_columns(db_path: Path) -> None:
    import sqlite3

    with RunStore(db_path) as store:
        rid = store.create_run("old", "pretrain", {}, "m")
    conn = sqlite3.connect(db_path)  # what schema version 2 had: no stage columns
    conn.execute("ALTER TABLE runs DROP COLUMN stage")
    conn.execute("ALTER TABLE runs DROP COLUMN stage_progress")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()
    with RunStore(db_path) as store:
        assert store.get_run(rid).name == "old"
        store.update_run(rid, stage="tokenizing x: 5%", stage_progress=0.05)
        assert store.get_run(rid).stage == "tokenizing x: 5%"


def test_results_of_an_older_studio_keep_their_rows_and_gain_the_baseline(db_path: Path) -> None:
    import sqlite3

    row = {
        "transfer_id": "t", "target": "rte", "k": 32, "size": "32", "seed": 0, "model": "base",
        "metric": "accuracy", "value": 0.6, "run_id": "r", "leaked": 0,
    }  # fmt: skip
    with RunStore(db_path) as store:
        store.add_result(row)
    conn = sqlite3.connect(db_path)  # schema version 5: results had no baseline
    conn.execute("ALTER TABLE results DROP COLUMN baseline")
    conn.execute("PRAGMA user_version=5")
    conn.commit()
    conn.close()
    with RunStore(db_path) as store:
        (old,) = store.results("t")
        assert old.value == 0.6 and old.baseline is None
        store.add_result({**row, "seed": 1, "baseline": 0.52})
        assert [r.baseline for r in store.results("t")] == [None, 0.52]


def test_pragmas(store: RunStore) -> None:
    assert store.db.journal_mode == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_default_path_is_under_studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "deep" / "home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    with RunStore() as s:
        assert s.path == home / "studio.db"
    assert (home / "studio.db").exists()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "studio.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=re.escape(str(bad))):
        RunStore(bad)


def test_integrity_check(store: RunStore, run_id: str) -> None:
    store.add_metrics(run_id, _rows(10))
    assert store.integrity_check() == "ok"


# -- runs -----------------------------------------------------------------------------------------


def test_create_get_list_delete(store: RunStore) -> None:
    a = store.create_run("a", "pretrain", {"lr": 1e-4, "tasks": ["rte"]}, "minilm", device="cpu")
    b = store.create_run("b", "finetune", {}, "minilm", max_steps=50, source_run=a)
    run = store.get_run(b)
    assert run.config == {}
    assert (run.kind, run.status, run.source_run, run.max_steps) == (
        "finetune",
        "queued",
        a,
        50,
    )
    assert store.get_run(a).config == {"lr": 1e-4, "tasks": ["rte"]}
    assert store.get_run(a).device == "cpu"
    assert [r.id for r in store.list_runs()] == [b, a]
    assert [r.id for r in store.list_runs(kind="pretrain")] == [a]
    assert store.list_runs(kind="transfer") == []
    assert store.delete_run(a) is True
    assert store.delete_run(a) is False
    assert [r.id for r in store.list_runs()] == [b]
    with pytest.raises(KeyError, match=a):
        store.get_run(a)


def test_run_ids_are_unique_readable_and_sortable(store: RunStore) -> None:
    ids = [store.create_run(f"r{i}", "pretrain", {}, "m") for i in range(40)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", i) for i in ids)
    assert ids[0][:15] == time.strftime(
        "%Y%m%d-%H%M%S", time.localtime(store.get_run(ids[0]).created)
    )


def test_bad_kind_or_status_is_rejected(store: RunStore, run_id: str) -> None:
    with pytest.raises(ValueError, match="kind"):
        store.create_run("x", "pretraining", {}, "m")
    with pytest.raises(ValueError, match="status"):
        store.create_run("x", "pretrain", {}, "m", status="done")
    with pytest.raises(ValueError, match="'done'"):
        store.set_status(run_id, "done")
    with pytest.raises(ValueError, match="status"):
        store.update_run(run_id, status="paused")
    with pytest.raises(ValueError, match="kind"):
        store.list_runs(kind="bogus")
    assert store.get_run(run_id).status == "queued"


def test_status_transitions_stamp_times_pid_and_host(store: RunStore, run_id: str) -> None:
    before = time.time()
    store.set_status(run_id, "running")
    run = store.get_run(run_id)
    assert run.status == "running"
    assert run.started >= before and run.heartbeat >= before
    assert (run.pid, run.host) == (os.getpid(), socket.gethostname())
    assert run.finished is None

    store.set_status(run_id, "stopped")
    stopped = store.get_run(run_id)
    assert stopped.finished >= run.started

    store.set_status(run_id, "running")  # resumed
    assert store.get_run(run_id).finished is None

    store.set_status(run_id, "failed", error="loss is NaN at step 12")
    failed = store.get_run(run_id)
    assert (failed.status, failed.error) == ("failed", "loss is NaN at step 12")
    assert failed.finished is not None


def test_create_run_already_running(store: RunStore) -> None:
    rid = store.create_run("x", "transfer", {}, "m", status="running")
    assert store.get_run(rid).pid == os.getpid()


def test_update_run(store: RunStore, run_id: str) -> None:
    store.update_run(run_id, step=7, heartbeat=123.0, device="cuda:0", config={"a": 2})
    run = store.get_run(run_id)
    assert (run.step, run.heartbeat, run.device, run.config) == (
        7,
        123.0,
        "cuda:0",
        {"a": 2},
    )
    with pytest.raises(ValueError, match="colour"):
        store.update_run(run_id, colour="red")
    with pytest.raises(ValueError, match="id"):
        store.update_run(run_id, id="other")


def test_missing_run_is_a_key_error_naming_it(store: RunStore) -> None:
    with pytest.raises(KeyError, match="nope"):
        store.set_status("nope", "running")
    with pytest.raises(KeyError, match="nope"):
        store.update_run("nope", step=3)


def test_delete_run_removes_its_rows_only(store: RunStore, run_id: str) -> None:
    other = store.create_run("other", "pretrain", {}, "m")
    for rid in (run_id, other):
        store.add_metrics(rid, _rows(5))
        store.add_log(rid, "INFO", "hello")
        store.add_checkpoint(rid, 5, f"/runs/{rid}/step-5", {"loss": 0.5})
    store.delete_run(run_id)
    for table in ("metrics", "logs", "checkpoints"):
        assert store.db.table(table).count_where("run_id = ?", [run_id]) == 0
        assert store.db.table(table).count_where("run_id = ?", [other]) > 0


# -- metrics --------------------------------------------------------------------------------------


def test_add_metrics_and_series(store: RunStore, run_id: str) -> None:
    store.add_metrics(run_id, _rows(3) + _rows(3, task="rte") + [MetricRow(3, "loss", math.nan)])
    run_wide = store.metric_series(run_id, "loss")
    assert [(s, v) for s, v, _ in run_wide] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, None)]
    assert [s for s, _, _ in store.metric_series(run_id, "loss", task="rte")] == [0, 1, 2]
    assert store.metric_series(run_id, "lr") == []


def test_a_bad_batch_writes_nothing(store: RunStore, run_id: str) -> None:
    bad = _rows(5) + [MetricRow(step=5, name=None, value=1.0)]  # type: ignore[arg-type]
    with pytest.raises(Exception, match="NOT NULL"):
        store.add_metrics(run_id, bad)
    assert store.metrics_after(0) == []


def test_metrics_after_returns_only_new_rows(store: RunStore, run_id: str) -> None:
    other = store.create_run("other", "pretrain", {}, "m")
    store.add_metrics(run_id, _rows(3))
    store.add_metrics(other, _rows(2))
    first = store.metrics_after(0, run_id)
    assert [r["step"] for r in first] == [0, 1, 2]
    assert set(first[0]) == {"id", "run_id", "step", "task", "name", "value", "wall_time"}
    last = first[-1]["id"]
    assert store.metrics_after(last, run_id) == []
    store.add_metrics(run_id, _rows(2, start=3))
    assert [r["step"] for r in store.metrics_after(last, run_id)] == [3, 4]
    assert len(store.metrics_after(0)) == 7
    assert [r["step"] for r in store.metrics_after(0, run_id, limit=2)] == [0, 1]
    ids = [r["id"] for r in store.metrics_after(0)]
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("sql", "params", "expected"),
    [
        ("WHERE id > ? AND run_id = ? ORDER BY id LIMIT ?", [0, "r", 10], "idx_metrics_run_id"),
        ("WHERE id > ? ORDER BY id", [0], "INTEGER PRIMARY KEY"),
    ],
)
def test_metrics_after_queries_use_an_index(
    store: RunStore, sql: str, params: list[object], expected: str
) -> None:
    plan = store.db.execute(
        f"EXPLAIN QUERY PLAN SELECT id, run_id, step, task, name, value, wall_time "
        f"FROM metrics {sql}",
        params,
    ).fetchall()
    detail = " ".join(str(row[-1]) for row in plan)
    assert expected in detail
    assert "SCAN" not in detail and "TEMP B-TREE" not in detail


def test_delete_metrics_after_and_ids_are_never_reused(store: RunStore, run_id: str) -> None:
    store.add_metrics(run_id, _rows(10))
    seen = store.metrics_after(0, run_id)[-1]["id"]
    assert store.delete_metrics_after(run_id, 4) == 5
    assert [s for s, _, _ in store.metric_series(run_id, "loss")] == [0, 1, 2, 3, 4]
    store.add_metrics(run_id, _rows(3, start=5))
    # A live reader that had read up to `seen` must still see the rows written after resuming.
    assert [r["step"] for r in store.metrics_after(seen, run_id)] == [5, 6, 7]


# -- logs and checkpoints -----------------------------------------------------------------------


def test_logs(store: RunStore, run_id: str) -> None:
    store.add_log(run_id, "INFO", "started", time=100.0)
    store.add_log(run_id, "WARNING", "slow")
    lines = store.logs(run_id)
    assert [(r["level"], r["message"]) for r in lines] == [("INFO", "started"), ("WARNING", "slow")]
    assert lines[0]["time"] == 100.0 and lines[1]["time"] > 100.0
    assert [r["message"] for r in store.logs(run_id, after_id=lines[0]["id"])] == ["slow"]


def test_checkpoints(store: RunStore, run_id: str) -> None:
    store.add_checkpoint(run_id, 200, "/c/200", {"eval_accuracy": 0.7})
    store.add_checkpoint(run_id, 100, Path("/c/100"), {"eval_accuracy": 0.6})
    store.add_checkpoint(run_id, 200, "/c/200b", {"eval_accuracy": 0.8})  # replaces
    cps = store.checkpoints(run_id)
    assert [(c["step"], c["path"], c["metrics"]) for c in cps] == [
        (100, "/c/100", {"eval_accuracy": 0.6}),
        (200, "/c/200b", {"eval_accuracy": 0.8}),
    ]
    store.remove_checkpoint(run_id, 100)
    assert [c["step"] for c in store.checkpoints(run_id)] == [200]


# -- interrupted runs -----------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped, so the pid no longer names any process
    return child.pid


def test_mark_interrupted(store: RunStore) -> None:
    host = socket.gethostname()
    now = time.time()
    ids = {
        name: store.create_run(name, "pretrain", {}, "m", status="running")
        for name in ("dead", "alive", "remote_stale", "remote_fresh")
    }
    done = store.create_run("done", "pretrain", {}, "m", status="finished")
    store.update_run(ids["dead"], pid=_dead_pid())
    store.update_run(ids["remote_stale"], host=host + "-elsewhere", heartbeat=now - 600)
    store.update_run(ids["remote_fresh"], host=host + "-elsewhere", heartbeat=now - 5)

    assert sorted(store.mark_interrupted()) == sorted([ids["dead"], ids["remote_stale"]])
    dead = store.get_run(ids["dead"])
    assert dead.status == "interrupted" and dead.finished is not None and dead.error
    for name in ("alive", "remote_fresh"):
        assert store.get_run(ids[name]).status == "running"
    assert store.get_run(done).status == "finished"
    assert store.mark_interrupted() == []


def test_transactions_nest_and_roll_back(store: RunStore, run_id: str) -> None:
    with store.transaction():
        store.add_metrics(run_id, _rows(1))
        with pytest.raises(RuntimeError), store.transaction():
            store.add_metrics(run_id, _rows(1, start=1))
            raise RuntimeError("inner block fails")
        store.add_metrics(run_id, _rows(1, start=2))
    with pytest.raises(RuntimeError), store.transaction():
        store.add_metrics(run_id, _rows(1, start=3))
        raise RuntimeError("outer block fails")
    assert [r["step"] for r in store.metrics_after(0)] == [0, 2]
    assert not store.db.conn.in_transaction


def test_best_values_per_run(tmp_path: Path) -> None:
    with RunStore(tmp_path / "s.db") as store:
        a = store.create_run("a", "pretrain", {}, "m")
        b = store.create_run("b", "pretrain", {}, "m")
        store.add_metrics(
            a,
            [
                MetricRow(1, "eval_mean", 0.5),
                MetricRow(2, "eval_mean", 0.7),
                MetricRow(2, "eval_mean", 0.9, "task"),
            ],
        )
        store.add_metrics(b, [MetricRow(1, "loss", 3.0)])
        assert store.best_values() == {a: 0.7}


def test_a_store_of_version_6_gains_the_task_plan_and_keeps_its_runs(db_path: Path) -> None:
    import sqlite3

    from studio.core.mixing.plan import RunPlan, TaskPlan

    with RunStore(db_path) as store:
        old = store.create_run("old", "pretrain", {"tasks": ["rte"]}, "m")
    conn = sqlite3.connect(db_path)  # schema version 6: no task plan, no device used
    conn.execute("DROP TABLE task_plan")
    conn.execute("ALTER TABLE runs DROP COLUMN device_used")
    conn.execute("PRAGMA user_version=6")
    conn.commit()
    conn.close()
    plan = RunPlan((TaskPlan("rte", 2490, 0.6, 2, 1.4427), TaskPlan("stsb", 10, 0.4, None, 1.0)))
    with RunStore(db_path) as store:
        assert store.plan(old) == RunPlan(())  # recorded none: the report shows "—"
        new = store.create_run("new", "pretrain", {"tasks": ["rte", "stsb"]}, "m")
        store.set_plan(new, RunPlan(plan.tasks[::-1], "cpu (no precision)"))
        store.set_plan(new, RunPlan(plan.tasks, "cuda:0 (bf16 precision)"))  # a resume's
        assert store.plan(new) == RunPlan(plan.tasks, "cuda:0 (bf16 precision)")
        assert store.delete_run(new)
        assert store.db.execute("SELECT COUNT(*) FROM task_plan").fetchone()[0] == 0

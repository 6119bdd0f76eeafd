"""A resumed run's sessions ("segments"): Started is the first start and the duration their
sum, in the store, the Runs tab, the HTML report and `runs --json`; a store written before
segments were recorded gives each run one session, started..finished."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.cli.commands import main
from studio.core.segments import first_start, run_segments, worked_seconds
from studio.store import RunStore
from studio.store import runs as store_runs
from studio.store.report_data import write_report
from studio.ui.text import run_duration


class _Clock:
    """The store's `time` module, at a time the test sets."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_000.0
        monkeypatch.setattr(store_runs, "time", SimpleNamespace(time=lambda: self.now))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    return _Clock(monkeypatch)


def _resumed(store: RunStore, clock: _Clock) -> str:
    """A run that trained 100 s, stopped, and was resumed an hour later for 40 s."""
    run_id = store.create_run("resumed", "pretrain", {"tasks": ["rte"]}, "m", status="running")
    clock.now = 1_100.0
    store.set_status(run_id, "stopped")
    clock.now = 4_700.0
    store.claim(run_id)
    clock.now = 4_740.0
    store.set_status(run_id, "finished")
    return run_id


def test_a_resumed_run_counts_every_session(store: RunStore, clock: _Clock) -> None:
    run_id = _resumed(store, clock)
    run = store.get_run(run_id)
    assert run_segments(run) == [(1_000.0, 1_100.0), (4_700.0, 4_740.0)]
    assert first_start(run) == 1_000.0 and worked_seconds(run) == 140.0
    assert run_duration(run) == "2m 20s"  # not the last session's 40s
    assert store.list_runs()[0].segments == run.segments
    assert store.delete_run(run_id)
    assert store.db.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 0


def test_a_running_session_counts_up_to_now(store: RunStore, clock: _Clock) -> None:
    run_id = store.create_run("r", "pretrain", {}, "m", status="running")
    clock.now = 1_030.0
    store.set_status(run_id, "stopped")
    clock.now = 2_000.0
    store.set_status(run_id, "running")
    run = store.get_run(run_id)
    assert run_segments(run) == [(1_000.0, 1_030.0), (2_000.0, None)]
    assert worked_seconds(run, now=2_010.0) == 40.0


def test_a_session_that_ended_unseen_ends_at_its_last_heartbeat(
    store: RunStore, clock: _Clock
) -> None:
    run_id = store.create_run("r", "pretrain", {}, "m", status="running")
    store.update_run(run_id, heartbeat=1_060.0, pid=2**22 + 1)  # a pid no process has
    clock.now = 9_000.0
    assert store.mark_interrupted() == [run_id]
    assert store.get_run(run_id).finished == 1_060.0  # not when it was found dead
    store.update_run(run_id, status="running", finished=None)  # as if it died mid-session
    store.claim(run_id)
    assert run_segments(store.get_run(run_id))[0] == (1_000.0, 1_060.0)


def test_a_store_without_segments_gives_each_run_one_session(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RunStore(db_path) as store:
        run_id = store.create_run("old", "pretrain", {}, "m", status="finished")
    conn = sqlite3.connect(db_path)  # what schema version 7 had: no segments table
    conn.execute("DROP TABLE segments")
    conn.execute("UPDATE runs SET started = 500, finished = 620")
    conn.execute("PRAGMA user_version=7")
    conn.commit()
    conn.close()
    with monkeypatch.context() as patch:  # read-only: not migrated, still read
        patch.setattr(store_runs, "_read_only", lambda _path: True)
        with RunStore(db_path) as store:
            assert store.readonly and run_segments(store.get_run(run_id)) == [(500.0, 620.0)]
    with RunStore(db_path) as store:  # migrated on open
        assert "segments" in store.db.table_names()
        assert worked_seconds(store.list_runs()[0]) == 120.0


def test_runs_json_and_the_report_carry_the_sum(
    db_path: Path, clock: _Clock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with RunStore(db_path) as store:
        run_id = _resumed(store, clock)
    assert main(["runs", "--json", "--store", str(db_path)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["segments"] == [[1_000.0, 1_100.0], [4_700.0, 4_740.0]]
    assert row["duration_s"] == 140.0 and row["first_started"] == 1_000.0
    html = write_report(db_path, run_id, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "2.3 min in 2 sessions" in html


def test_a_resume_given_back_before_training_is_no_session(store: RunStore, clock: _Clock) -> None:
    run_id = store.create_run("r", "pretrain", {}, "m", status="running")
    clock.now = 1_050.0
    store.set_status(run_id, "stopped")
    clock.now = 3_000.0
    before = store.claim(run_id)  # as session.resume does, then gives the run back
    store.update_run(run_id, status=before.status, finished=before.finished)
    assert run_segments(store.get_run(run_id)) == [(1_000.0, 1_050.0)]
    clock.now = 4_000.0
    store.claim(run_id)
    clock.now = 4_010.0
    store.set_status(run_id, "finished")
    assert run_segments(store.get_run(run_id)) == [(1_000.0, 1_050.0), (4_000.0, 4_010.0)]

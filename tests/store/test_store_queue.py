"""The run queue in the store: order, moving, removal, claiming, and stores from before it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from studio.core.errors import StudioError
from studio.store import RunBusy, RunStore


def _queue(store: RunStore, *names: str) -> list[str]:
    ids = []
    for name in names:
        run_id = store.create_run(name, "pretrain", {"tasks": ["rte"]}, "m", status="queued")
        store.append_to_queue(run_id)
        ids.append(run_id)
    return ids


def _order(store: RunStore) -> list[str]:
    return [r.name for r in store.queued_runs()]


def test_queued_runs_come_in_the_order_they_were_queued(store: RunStore) -> None:
    _queue(store, "a", "b", "c")
    # Created `queued` but never put in the queue: not a queue entry; nor is a running run.
    store.create_run("loose", "pretrain", {}, "m")
    store.create_run("busy", "pretrain", {}, "m", status="running")
    assert _order(store) == ["a", "b", "c"]
    assert store.queued_runs()[0].config == {"tasks": ["rte"]}  # parsed


def test_moving_a_queued_run_keeps_the_others_in_order(store: RunStore) -> None:
    a, b, c, d = _queue(store, "a", "b", "c", "d")
    store.move_queued(c, 0)
    assert _order(store) == ["c", "a", "b", "d"]
    store.move_queued(c, 2)
    assert _order(store) == ["a", "b", "c", "d"]
    store.move_queued(a, 99)  # past the end: last
    assert _order(store) == ["b", "c", "d", "a"]
    store.move_queued(a, -5)
    assert _order(store) == ["a", "b", "c", "d"]
    _queue(store, "e")  # a run queued after a move still goes last
    assert _order(store) == ["a", "b", "c", "d", "e"]


def test_only_a_queued_run_can_be_moved_or_queued(store: RunStore) -> None:
    done = store.create_run("done", "pretrain", {}, "m", status="finished")
    with pytest.raises(StudioError, match="not in the queue"):
        store.move_queued(done, 0)
    with pytest.raises(StudioError, match="not queued"):
        store.append_to_queue(done)


def test_removing_a_queued_run_deletes_it_and_only_while_queued(store: RunStore) -> None:
    a, b, c = _queue(store, "a", "b", "c")
    store.remove_queued(b)
    assert _order(store) == ["a", "c"]
    assert b not in {r.id for r in store.list_runs()}
    store.claim(a, ("queued",))  # a worker started it meanwhile
    with pytest.raises(StudioError, match="is running, no longer queued"):
        store.remove_queued(a)
    assert store.get_run(a).status == "running"


def test_a_queued_run_is_claimed_once(db_path: Path) -> None:
    with RunStore(db_path) as first, RunStore(db_path) as second:
        (run_id,) = _queue(first, "a")
        assert first.claim(run_id, ("queued",)).status == "queued"
        with pytest.raises(RunBusy):
            second.claim(run_id, ("queued",))
        assert first.queued_runs() == []


def test_a_store_from_before_the_queue_gains_the_column(db_path: Path) -> None:
    with RunStore(db_path) as store:
        old = store.create_run("old", "pretrain", {}, "m", status="finished")
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE runs DROP COLUMN queue_position")
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    with RunStore(db_path) as store:
        (run_id,) = _queue(store, "new")
        assert store.get_run(old).queue_position is None
        assert [r.id for r in store.queued_runs()] == [run_id]

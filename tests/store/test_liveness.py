"""Which running runs are alive: pid reuse, stale heartbeats, and the heartbeat a live run beats."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from studio.core.processes import process_started
from studio.store import RunStore
from studio.store.liveness import HEARTBEATS, INTERRUPTED_ERROR, Heartbeats

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process start times come from /proc"
)


@pytest.fixture
def stranger() -> Iterator[int]:
    """A live process that is not ours and started just now."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_process_started_is_the_start_of_this_process() -> None:
    began = process_started(os.getpid())
    if began is None:
        pytest.skip("this platform does not give process start times")
    assert began <= time.time() and began > time.time() - 3600


@linux_only
def test_a_reused_pid_does_not_keep_a_crashed_run_running(store: RunStore, stranger: int) -> None:
    """The run's process died and its pid went to a process that started after the run: the
    run is interrupted (and resumable) though its pid is alive."""
    run_id = store.create_run("crashed", "pretrain", {}, "m", status="running")
    store.update_run(run_id, pid=stranger, started=time.time() - 30, heartbeat=time.time())
    assert store.mark_interrupted() == [run_id]
    assert store.get_run(run_id).status == "interrupted"


@linux_only
def test_resume_takes_over_a_run_whose_pid_was_reused(store: RunStore, stranger: int) -> None:
    run_id = store.create_run("crashed", "pretrain", {}, "m", status="running")
    store.update_run(run_id, pid=stranger, started=time.time() - 30, heartbeat=time.time())
    before = store.claim(run_id)
    assert before.status == "interrupted"
    assert store.get_run(run_id).pid == os.getpid()


def test_a_stale_heartbeat_interrupts_whatever_holds_the_pid(store: RunStore) -> None:
    """A live pid that started before the run (this very process) cannot save a run whose
    heartbeat stopped long ago."""
    run_id = store.create_run("hung", "pretrain", {}, "m", status="running")
    long_ago = time.time() - 3600
    store.update_run(run_id, started=long_ago, heartbeat=long_ago)
    assert store.mark_interrupted(heartbeat_timeout=120) == [run_id]


def test_a_live_run_with_a_fresh_heartbeat_stays_running(store: RunStore) -> None:
    run_id = store.create_run("alive", "pretrain", {}, "m", status="running")
    assert store.mark_interrupted() == []
    assert store.get_run(run_id).status == "running"


def test_a_running_run_is_beaten_until_it_ends(store: RunStore) -> None:
    run_id = store.create_run("busy", "pretrain", {}, "m", status="running")
    assert run_id in HEARTBEATS.owned()
    store.set_status(run_id, "stopped")
    assert run_id not in HEARTBEATS.owned()
    store.claim(run_id)
    assert run_id in HEARTBEATS.owned()
    store.set_status(run_id, "finished")
    assert run_id not in HEARTBEATS.owned()


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_the_heartbeat_is_written_while_the_main_thread_is_busy(tmp_path: Path) -> None:
    """A run that tokenizes for minutes writes no metrics, yet its heartbeat stays fresh."""
    path = tmp_path / "studio.db"
    with RunStore(path) as store:
        run_id = store.create_run("tokenizing", "pretrain", {}, "m", status="running")
        run = store.get_run(run_id)
        store.update_run(run_id, heartbeat=run.started - 500)
    beats = Heartbeats(interval=0.05)
    beats.own(path, run_id, run.started)
    with RunStore(path) as reader:
        assert _wait_for(lambda: reader.get_run(run_id).heartbeat > run.started)
        assert reader.mark_interrupted(heartbeat_timeout=120) == []
        reader.set_status(run_id, "finished")
    assert _wait_for(lambda: run_id not in beats.owned())  # it ended: no more beats


def test_a_run_marked_interrupted_while_its_owner_lived_runs_again(tmp_path: Path) -> None:
    """E.g. a laptop suspended past the limit: the owner beats again and takes it back, as
    long as nobody claimed it meanwhile."""
    path = tmp_path / "studio.db"
    with RunStore(path) as store:
        run_id = store.create_run("asleep", "pretrain", {}, "m", status="running")
        run = store.get_run(run_id)
        store.update_run(run_id, heartbeat=run.started - 500)
        assert store.mark_interrupted(heartbeat_timeout=120) == [run_id]
        assert store.get_run(run_id).error == INTERRUPTED_ERROR
        beats = Heartbeats(interval=3600)
        beats.own(path, run_id, run.started)
        beats.beat()
        again = store.get_run(run_id)
        assert (again.status, again.error, again.finished) == ("running", None, None)
        # Another process claimed it meanwhile (a claim stamps its own start time): not ours.
        store.update_run(run_id, status="interrupted", started=run.started + 1)
        beats.beat()
        assert store.get_run(run_id).status == "interrupted"
        assert run_id not in beats.owned()

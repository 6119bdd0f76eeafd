"""The store under faults: newer files, read-only files, racing claims, live deletes, busy locks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.core.mixing.plan import RunPlan, TaskPlan
from studio.core.paths import run_dir
from studio.core.sink import MetricRow
from studio.store import ReadOnlyStore, RunBusy, RunStore, StoreError, StoreSink
from studio.store.schema import SCHEMA_VERSION
from studio.store.sink import recover_spill
from tests.support import read_only_command


def _rows(n: int, start: int = 1) -> list[MetricRow]:
    return [MetricRow(step=start + i, name="loss", value=float(i)) for i in range(n)]


# -- versions and damaged files -----------------------------------------------------------------


def test_a_store_of_a_newer_studio_is_refused_and_left_as_it_is(db_path: Path) -> None:
    with RunStore(db_path) as store:
        store.create_run("new", "pretrain", {}, "m")
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="newer Muppet Studio"):
        RunStore(db_path)
    assert db_path.read_bytes() == before
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_a_folder_or_a_file_of_another_kind_is_named_for_what_it_is(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder, not a run store file"):
        RunStore(tmp_path)
    other = tmp_path / "notes.db"
    other.write_text("my notes " * 200)
    with pytest.raises(StoreError, match="not a run store"):
        RunStore(other)
    assert other.read_text() == "my notes " * 200


# -- claiming and deleting ----------------------------------------------------------------------


def test_a_claim_is_refused_while_the_owner_lives(store: RunStore, run_id: str) -> None:
    store.set_status(run_id, "stopped")
    before = store.claim(run_id)
    assert before.status == "stopped"
    run = store.get_run(run_id)
    assert (run.status, run.pid) == ("running", os.getpid())
    with pytest.raises(RunBusy, match=f"process {os.getpid()} on"):
        store.claim(run_id)


def test_a_run_whose_owner_died_can_be_claimed(store: RunStore, run_id: str) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    store.set_status(run_id, "running")
    store.update_run(run_id, pid=int(dead.stdout))
    assert store.claim(run_id).status == "interrupted"
    store.set_status(run_id, "finished")
    with pytest.raises(Exception, match="is finished; only a run that is stopped"):
        store.claim(run_id)


CLAIMER = textwrap.dedent(
    """
    import sys, time
    from studio.store import RunStore, RunBusy
    with RunStore(sys.argv[1]) as store:
        sys.stdin.readline()  # start together
        try:
            store.claim(sys.argv[2])
            print("won", flush=True)
            time.sleep(2)
        except RunBusy as e:
            print("refused:", e, flush=True)
    """
)


@pytest.mark.process
def test_of_racing_claims_exactly_one_wins(store: RunStore, run_id: str, db_path: Path) -> None:
    store.set_status(run_id, "interrupted")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(db_path), run_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    said = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert sorted(s.split(":")[0] for s in said) == ["refused"] * 3 + ["won"]
    winner = procs[[s == "won" for s in said].index(True)]
    assert all(f"process {winner.pid}" in s for s in said if s != "won")


def test_a_live_run_cannot_be_deleted(store: RunStore, run_id: str) -> None:
    store.set_status(run_id, "running")  # owned by this (live) process
    with pytest.raises(RunBusy, match="stop it before deleting it"):
        store.delete_run(run_id)
    assert store.get_run(run_id).status == "running"
    store.update_run(run_id, pid=2**22 + 12345)  # no such process: a dead run
    assert store.delete_run(run_id)


def test_deleting_runs_removes_their_folders_and_keeps_a_live_one(
    store: RunStore, db_path: Path
) -> None:
    done = store.create_run("done", "pretrain", {}, "m")
    live = store.create_run("live", "pretrain", {}, "m", status="running")  # this live process
    store.add_metrics(done, _rows(3))
    for run_id in (done, live):
        (run_dir(db_path, run_id) / "checkpoints" / "step-3").mkdir(parents=True)
    refused = store.delete_runs([done, live, "no-such-run"])
    assert len(refused) == 1 and f"run {live} is running" in refused[0]
    assert "stop it before deleting it" in refused[0]
    assert not run_dir(db_path, done).exists() and run_dir(db_path, live).is_dir()
    assert [r.id for r in store.list_runs()] == [live]
    assert store.metrics_after(0, done) == []


# -- read-only stores ---------------------------------------------------------------------------


def _read_only_run(folder: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = read_only_command(folder, [sys.executable, "-m", "studio", *argv])
    if command is None:
        pytest.skip("this machine can make no folder read-only for this user")
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    for f in folder.iterdir():
        f.chmod(0o444)
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        folder.chmod(mode)
        for f in folder.iterdir():
            f.chmod(0o644)


@pytest.mark.process
def test_a_read_only_store_lists_its_runs_and_refuses_writes_by_name(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with RunStore(home / "studio.db") as store:
        done = store.create_run("done", "pretrain", {}, "m", status="finished")
        dead = store.create_run("dead", "pretrain", {}, "m", status="running")
        store.update_run(dead, pid=2**22 + 12345)
    listed = _read_only_run(home, "runs", "--store", str(home / "studio.db"), "--json")
    assert listed.returncode == 0, listed.stderr
    status = {r["id"]: r["status"] for r in json.loads(listed.stdout)}
    assert status == {done: "finished", dead: "interrupted"}

    config = tmp_path / "run.yaml"
    config.write_text("tasks: [rte]\nmax_steps: 2\n")
    trained = _read_only_run(home, "train", str(config), "--store", str(home / "studio.db"))
    assert trained.returncode == 2
    assert "is read-only" in trained.stderr and "Traceback" not in trained.stderr
    with RunStore(home / "studio.db") as store:  # nothing changed
        assert [r.status for r in store.list_runs()] == ["running", "finished"]


def test_writes_to_a_read_only_store_say_so(db_path: Path) -> None:
    with RunStore(db_path) as store:
        run_id = store.create_run("a", "pretrain", {}, "m")
    with RunStore(db_path) as store:
        store.readonly = True  # what the constructor decides for a file it cannot write
        with pytest.raises(ReadOnlyStore, match="is read-only"):
            store.set_status(run_id, "finished")


# -- a busy store -------------------------------------------------------------------------------


def test_a_sink_waits_briefly_keeps_everything_and_spills_what_close_cannot_write(
    store: RunStore, run_id: str, db_path: Path, tmp_path: Path
) -> None:
    spill = tmp_path / "runs" / run_id / "unsaved-rows.jsonl"
    sink = StoreSink(store, run_id, flush_interval=0.0, spill=spill, patience=1.0)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock throughout
    try:
        sink.metrics(_rows(3))
        sink.checkpoint(3, "/runs/x/step-3", {"eval_mean": 0.5})
        sink.metrics(_rows(2, start=4))
        sink.drop_checkpoint(3)
        assert sink.pending == 7  # on disk at the checkpoint, and still buffered
        sink.log("error", "last words")
        assert sink.close() is False  # no exception: the run must not die of it
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.metrics_after(0) == []
    assert len(spill.read_text().splitlines()) == 8  # 5 rows, 2 checkpoint records, 1 log
    assert recover_spill(store, run_id, spill) == 8
    assert [r["step"] for r in store.metrics_after(0)] == [1, 2, 3, 4, 5]
    assert store.checkpoints(run_id) == []  # added, then dropped: in order
    assert store.logs(run_id)[-1]["message"] == "last words"
    assert not spill.exists()


def test_a_plan_the_busy_store_refused_is_spilled_and_recovered(
    store: RunStore, run_id: str, db_path: Path, tmp_path: Path
) -> None:
    plan = RunPlan((TaskPlan("rte", 100, 1.0, 2, 1.4427),), "cpu (no precision)")
    spill = tmp_path / "unsaved-rows.jsonl"
    sink = StoreSink(store, run_id, flush_interval=0.0, spill=spill, patience=1.0)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        sink.plan(plan)  # the loop goes on
        assert sink.pending == 1
        assert sink.close() is False
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.plan(run_id) == RunPlan(())
    assert recover_spill(store, run_id, spill) == 1
    assert store.plan(run_id) == plan


def test_rows_before_a_checkpoint_the_store_refused_are_kept_on_disk_until_it_takes_them(
    store: RunStore, run_id: str, db_path: Path, tmp_path: Path
) -> None:
    spill = tmp_path / "unsaved-rows.jsonl"
    sink = StoreSink(store, run_id, flush_interval=0.0, spill=spill, patience=1.0)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        sink.metrics(_rows(4))
        sink.checkpoint(4, "/runs/x/step-4", {})  # on disk now; a kill -9 may come next
        assert len(spill.read_text().splitlines()) == 5 and sink.pending == 5
        sink.metrics(_rows(2, start=5))
        sink.checkpoint(6, "/runs/x/step-6", {})  # the file's copy is replaced, not added to
        assert len(spill.read_text().splitlines()) == 8
        kill_now = spill.read_text()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert sink.close() is True
    assert [r["step"] for r in store.metrics_after(0)] == [1, 2, 3, 4, 5, 6]  # in step order
    assert [c["step"] for c in store.checkpoints(run_id)] == [4, 6] and not spill.exists()
    # A kill between the store's commit and the file's tidy-up: a resume adds nothing twice.
    spill.write_text(kill_now)
    assert recover_spill(store, run_id, spill) == 8
    assert [r["step"] for r in store.metrics_after(0)] == [1, 2, 3, 4, 5, 6]


# -- a disk that stays full ---------------------------------------------------------------------


def _disk_of(monkeypatch: pytest.MonkeyPatch, capacity: int) -> None:
    """The spill file's disk holds `capacity` bytes of it: a write takes what fits, then
    ENOSPC (as the kernel does); cutting the file back frees room again."""
    import errno

    from studio.store import sink as sink_module

    def write(out: object, chunk: memoryview) -> int:
        free = capacity - os.fstat(out.fileno()).st_size  # type: ignore[attr-defined]
        if free <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return out.write(chunk[:free])  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(sink_module, "_write", write)


def test_a_disk_full_to_the_end_keeps_what_fits_in_the_spill_file_and_counts_what_is_lost(
    store: RunStore,
    run_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def full(*args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "add_metrics", full)
    _disk_of(monkeypatch, capacity=6000)
    spill = tmp_path / "runs" / run_id / "unsaved-rows.jsonl"
    sink = StoreSink(store, run_id, flush_interval=0.0, spill=spill, patience=0.1)
    sink.metrics(_rows(172))
    sink.checkpoint(172, "/runs/x/step-172", {})  # the store refuses it: spilled, and kept
    assert "they stay in memory to retry" in caplog.text and sink.pending == 173
    caplog.clear()
    assert sink.close() is False
    lines = spill.read_text().splitlines()
    kept = len(lines)
    assert 0 < kept < 173 and spill.stat().st_size <= 6000
    assert all(json.loads(line)["metric"] for line in lines)  # whole lines only
    said = caplog.text
    assert "173 rows could not be written to" in said and "database or disk is full" in said
    assert f"{kept} are kept in {spill}" in said and f"{173 - kept} are lost" in said
    assert f"the disk holding {spill.parent} is full" in said and "nowhere" not in said
    monkeypatch.undo()  # space again, and a store that takes writes
    assert recover_spill(store, run_id, spill) == kept
    assert [r["step"] for r in store.metrics_after(0)] == list(range(1, kept + 1))


def test_a_disk_with_no_room_at_all_says_every_row_is_lost(
    store: RunStore,
    run_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(store, "add_metrics", lambda *args: (_ for _ in ()).throw(
        sqlite3.OperationalError("database or disk is full")))  # fmt: skip
    _disk_of(monkeypatch, capacity=0)
    spill = tmp_path / "unsaved-rows.jsonl"
    sink = StoreSink(store, run_id, flush_interval=0.0, spill=spill, patience=0.1)
    sink.metrics(_rows(5))
    assert sink.close() is False
    assert spill.read_bytes() == b""
    assert "5 rows could not be written" in caplog.text and ": 5 are lost (" in caplog.text
    assert "are kept" not in caplog.text

"""The run queue end to end: enqueue, order, stop, a crash mid-run, two workers, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from studio.cli.commands import main
from studio.core.config.run import RunConfig
from studio.core.tasks.spec import TaskSpec
from studio.queue import enqueue, queued, run_queue
from studio.session import execute_queued
from studio.store import RunStore
from tests.support import tiny_config

TASKS = ("synth_sentiment", "synth_choice")


def _config(model: str, name: str, steps: int = 2) -> RunConfig:
    return tiny_config(model, TASKS, max_steps=steps, name=name)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped, so the pid no longer names any process
    return child.pid


def test_enqueue_saves_the_config_last_in_the_queue(db_path: Path, tiny_model: str) -> None:
    first = enqueue(db_path, _config(tiny_model, "first"))
    second = enqueue(
        db_path, _config(tiny_model, "second", steps=3), name="renamed", source_run="x"
    )
    assert [r.id for r in queued(db_path)] == [first, second]
    with RunStore(db_path) as store:
        run = store.get_run(second)
    assert (run.status, run.kind, run.name) == ("queued", "pretrain", "renamed")
    assert (run.max_steps, run.source_run, run.step) == (3, "x", 0)
    assert run.config == _config(tiny_model, "second", steps=3).to_dict()


def test_a_claimed_run_is_not_trained_again(db_path: Path, tiny_model: str, catalog) -> None:
    run_id = enqueue(db_path, _config(tiny_model, "a"))
    with RunStore(db_path) as store:
        store.claim(run_id, ("queued",))  # another worker took it first
    created: list[str] = []
    outcome = execute_queued(
        run_id, catalog, None, db_path, threading.Event(), None, created.append
    )
    assert outcome is None and created == []
    with RunStore(db_path) as store:
        assert store.get_run(run_id).step == 0


def test_a_queued_run_whose_config_cannot_be_read_fails_and_the_queue_goes_on(
    db_path: Path, catalog: dict[str, TaskSpec]
) -> None:
    bad = enqueue(db_path, RunConfig(tasks=TASKS, max_steps=2))
    with RunStore(db_path) as store:
        store.update_run(bad, config={"tasks": list(TASKS), "max_step": 2})
    outcomes = run_queue(catalog, None, db_path, threading.Event())
    assert [(o.run_id, o.status) for o in outcomes] == [(bad, "failed")]
    assert "max_step" in (outcomes[0].error or "")
    with RunStore(db_path) as store:
        assert store.get_run(bad).status == "failed"


@pytest.mark.train
def test_runs_train_in_queue_order_as_execute_would(
    db_path: Path, tiny_model: str, catalog: dict[str, TaskSpec]
) -> None:
    a, b, c = (enqueue(db_path, _config(tiny_model, n)) for n in "abc")
    with RunStore(db_path) as store:
        store.move_queued(c, 0)
    started: list[str] = []
    outcomes = run_queue(catalog, None, db_path, threading.Event(), started.append)
    assert started == [c, a, b] == [o.run_id for o in outcomes]
    assert [(o.status, o.step) for o in outcomes] == [("finished", 2)] * 3
    with RunStore(db_path) as store:
        assert store.queued_runs() == []
        run = store.get_run(a)
        assert (run.status, run.step) == ("finished", 2)
        assert {r["name"] for r in store.metrics_after(0, a)} >= {"total_loss", "loss"}


@pytest.mark.train
def test_only_the_chosen_runs_train(
    db_path: Path, tiny_model: str, catalog: dict[str, TaskSpec]
) -> None:
    a, b, c = (enqueue(db_path, _config(tiny_model, n)) for n in "abc")
    outcomes = run_queue(catalog, None, db_path, threading.Event(), only=[c, a])
    assert [o.run_id for o in outcomes] == [a, c]
    assert [r.id for r in queued(db_path)] == [b]


@pytest.mark.train
def test_stop_stops_the_current_run_and_the_rest_stay_queued(
    db_path: Path, tiny_model: str, catalog: dict[str, TaskSpec]
) -> None:
    a, b, c = (enqueue(db_path, _config(tiny_model, n, steps=50)) for n in "abc")
    stop = threading.Event()
    outcomes = run_queue(catalog, None, db_path, stop, lambda run_id: stop.set())
    assert [(o.run_id, o.status) for o in outcomes] == [(a, "stopped")]
    assert [r.id for r in queued(db_path)] == [b, c]


@pytest.mark.train
def test_a_run_left_running_by_a_dead_worker_is_interrupted_and_the_queue_goes_on(
    db_path: Path, tiny_model: str, catalog: dict[str, TaskSpec]
) -> None:
    crashed, waiting = (enqueue(db_path, _config(tiny_model, n)) for n in ("crashed", "next"))
    with RunStore(db_path) as store:
        store.claim(crashed, ("queued",))  # a worker started it, then its process died
        store.update_run(crashed, pid=_dead_pid())
    outcomes = run_queue(catalog, None, db_path, threading.Event())
    assert [(o.run_id, o.status) for o in outcomes] == [(waiting, "finished")]
    with RunStore(db_path) as store:
        assert store.get_run(crashed).status == "interrupted"


@pytest.mark.train
@pytest.mark.process
def test_two_workers_never_train_the_same_run(db_path: Path, tiny_model: str) -> None:
    """Two `queue run` processes on one store (two trainings in one process would share the
    libraries' global state, which no real worker does)."""
    ids = [enqueue(db_path, _config(tiny_model, str(n))) for n in range(4)]
    command = [sys.executable, "-m", "studio", "queue", "run", "--store", str(db_path)]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    said = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    trained = [line for out in said for line in out.split() if line in ids]
    assert sorted(trained) == sorted(ids)  # each run reported by exactly one worker
    with RunStore(db_path) as store:
        assert {store.get_run(i).status for i in ids} == {"finished"}
        for run_id in ids:  # trained once: one row per update, no update twice
            steps = [r["step"] for r in store.metrics_after(0, run_id) if r["name"] == "total_loss"]
            assert steps == [1, 2]


# -- the command line ---------------------------------------------------------------------------


def _yaml(tmp_path: Path, model: str, name: str, **extra: object) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**_config(model, name).to_dict(), **extra}))
    return str(path)


def _cli(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_queue_add_list_move_remove(
    tmp_path: Path, tiny_model: str, db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = ("--store", str(db_path))
    a = _cli(capsys, "queue", "add", _yaml(tmp_path, tiny_model, "a"), *store).strip()
    b = _cli(capsys, "queue", "add", _yaml(tmp_path, tiny_model, "b"), "--name", "bee", *store)
    c = _cli(capsys, "queue", "add", _yaml(tmp_path, tiny_model, "c"), *store).strip()
    b = b.strip()
    listed = json.loads(_cli(capsys, "queue", "list", "--json", *store))
    assert [(r["position"], r["id"], r["name"]) for r in listed] == [(1, a, "a"), (2, b, "bee"),
                                                                     (3, c, "c")]  # fmt: skip
    assert listed[0]["tasks"] == list(TASKS)
    _cli(capsys, "queue", "move", c, "1", *store)
    _cli(capsys, "queue", "remove", a, *store)
    text = _cli(capsys, "queue", "list", *store).splitlines()
    assert [line.split()[:2] for line in text] == [["1", c], ["2", b]]
    assert "synth_sentiment, synth_choice" in text[0]


def test_queue_add_names_an_unknown_task(
    tmp_path: Path, tiny_model: str, db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = _yaml(tmp_path, tiny_model, "bad", tasks=["synth_sentiment", "no_such_task"])
    assert main(["queue", "add", path, "--store", str(db_path)]) == 2
    err = capsys.readouterr().err
    assert "no_such_task" in err and "bad.yaml" in err
    assert queued(db_path) == []


def test_queue_remove_refuses_a_run_that_is_not_queued(
    db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with RunStore(db_path) as store:
        done = store.create_run("done", "pretrain", {}, "m", status="finished")
    assert main(["queue", "remove", done, "--store", str(db_path)]) == 2
    assert "finished, no longer queued" in capsys.readouterr().err
    assert main(["queue", "move", done, "1", "--store", str(db_path)]) == 2
    assert "not in the queue" in capsys.readouterr().err


@pytest.mark.train
def test_queue_run_trains_every_queued_run(
    tmp_path: Path, tiny_model: str, db_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = ("--store", str(db_path))
    ids = [
        _cli(capsys, "queue", "add", _yaml(tmp_path, tiny_model, n), *store).strip() for n in "ab"
    ]
    out = _cli(capsys, "queue", "run", *store).splitlines()
    assert out == [f"{i} finished at update 2" for i in ids]
    assert json.loads(_cli(capsys, "queue", "list", "--json", *store)) == []


@pytest.mark.train
@pytest.mark.process
def test_a_worker_killed_mid_run_leaves_it_interrupted_and_the_queue_goes_on(
    tmp_path: Path, tiny_model: str, db_path: Path, catalog: dict[str, TaskSpec]
) -> None:
    import os
    import signal
    import time

    killed = enqueue(db_path, _config(tiny_model, "killed", steps=100_000))
    waiting = enqueue(db_path, _config(tiny_model, "waiting"))
    worker = subprocess.Popen(
        [sys.executable, "-m", "studio", "queue", "run", "--store", str(db_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    try:
        deadline = time.monotonic() + 300  # a bound for a hung worker, not a timing claim
        while time.monotonic() < deadline and worker.poll() is None:
            with RunStore(db_path) as store:
                if store.get_run(killed).step:
                    break
            time.sleep(0.2)
        with RunStore(db_path) as store:
            assert store.get_run(killed).status == "running" and store.get_run(killed).step
        worker.send_signal(signal.SIGKILL)  # no chance to save or record anything
    finally:
        worker.kill()
        worker.wait()
    outcomes = run_queue(catalog, None, db_path, threading.Event())
    assert [(o.run_id, o.status) for o in outcomes] == [(waiting, "finished")]
    with RunStore(db_path) as store:
        assert store.get_run(killed).status == "interrupted"

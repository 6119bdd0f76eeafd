"""Nothing lost: runs, checkpoints and the store under what users and machines do to them.

Real files and real processes: two resumes at once, damaged and half-written checkpoints,
data edited between a checkpoint and its resume, a store another process locks, signals.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.core.config.run import RunConfig
from studio.core.paths import checkpoints_dir
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.session import execute, export_run, resume
from studio.store import RunStore
from studio.train.checkpoint import DataChanged
from studio.train.export import ExportError
from tests.support import StopAt, tiny_config

pytestmark = [pytest.mark.train, pytest.mark.process]

TASKS = ("synth_sentiment", "synth_choice")
PIPES: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}


def _config(model: str, **changes: object) -> RunConfig:
    return tiny_config(model, TASKS, checkpoint_every=2, eval_every=2).replace(**changes)


def _stopped_run(
    model: str, db: Path, at: int = 4, data_dir: Path | None = None, **changes: object
) -> str:
    stop = threading.Event()
    catalog = load_catalog(default_tasks_dir())
    outcome = execute(_config(model, **changes), catalog, data_dir, db, stop, StopAt(stop, at))
    assert (outcome.status, outcome.step) == ("stopped", at)
    return outcome.run_id


def _duplicates(store: RunStore, run_id: str) -> list[tuple[int, str | None, str]]:
    keys = Counter((r["step"], r["task"], r["name"]) for r in store.metrics_after(0, run_id))
    return [k for k, n in keys.items() if n > 1]


def _studio(*argv: str) -> list[str]:
    return [sys.executable, "-m", "studio", *argv]


def _wait_for(predicate: object, proc: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():  # type: ignore[operator]
        assert proc.poll() is None, f"the process ended first: {proc.communicate()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


# -- 1. two resumes of the same run ---------------------------------------------------------


def test_of_two_resumes_at_once_one_trains_and_the_other_is_refused(
    tiny_model: str, tmp_path: Path
) -> None:
    db = tmp_path / "studio.db"
    run_id = _stopped_run(tiny_model, db, max_steps=40, log_every=2)
    procs = [
        subprocess.Popen(_studio("resume", run_id, "--store", str(db)), **PIPES)
        for _ in range(2)
    ]  # fmt: skip
    said = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], said
    refused = next(err for (out, err), p in zip(said, procs, strict=True) if p.returncode == 2)
    assert f"run {run_id} is already running (process" in refused
    with RunStore(db) as store:
        run = store.get_run(run_id)
        assert (run.status, run.step, run.error) == ("finished", 40, None)
        assert _duplicates(store, run_id) == []
        steps = sorted(
            {r["step"] for r in store.metrics_after(0, run_id) if r["name"] == "total_loss"}
        )
        assert steps == [1, *range(2, 41, 2)]  # the first update is always logged


# -- 3, 4. damaged and half-written checkpoints ---------------------------------------------


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(
    tiny_model: str, tmp_path: Path
) -> None:
    db = tmp_path / "studio.db"
    run_id = _stopped_run(tiny_model, db, at=5, keep_checkpoints=5)
    root = checkpoints_dir(db, run_id)
    model = root / "step-5" / "model.safetensors"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # a truncated write
    (root / ".tmp-step-6-x1y2").mkdir()  # what a kill during a save leaves
    (root / ".tmp-step-6-x1y2" / "model.safetensors").write_bytes(b"half")
    (root / ".pruning-step-2-abcdef").mkdir()  # what a kill during a prune leaves

    with pytest.raises(ExportError, match=f"{root / 'step-5'}.*truncated"):
        export_run(db, run_id, "5", tmp_path / "out")
    latest = export_run(db, run_id, "latest", tmp_path / "latest")
    assert json.loads((latest / "heads.json").read_text())["heads"]  # step 4's export

    catalog = load_catalog(default_tasks_dir())
    outcome = resume(run_id, catalog, None, db, threading.Event())
    assert (outcome.status, outcome.step) == ("finished", 10)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == []
    with RunStore(db) as store:
        logs = [r["message"] for r in store.logs(run_id)]
        assert any(str(root / "step-5") in m and "resuming from update 4" in m for m in logs)
        assert _duplicates(store, run_id) == []
        steps = [r["step"] for r in store.metrics_after(0, run_id) if r["name"] == "total_loss"]
        assert steps == list(range(1, 11))


# -- 5. data edited between a checkpoint and its resume -------------------------------------


def _write_task(folder: Path, rows: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", rows), ("validation", 20)):
        with (folder / f"{split}.jsonl").open("w") as f:
            for i in range(n):
                f.write(
                    json.dumps({"text": f"row {i} is {'good' if i % 2 else 'bad'}", "label": i % 2})
                    + "\n"
                )


def test_changed_data_is_refused_unless_allowed_and_the_data_folder_is_remembered(
    tiny_model: str, tmp_path: Path
) -> None:
    tasks = tmp_path / "specs"
    tasks.mkdir()
    (tasks / "mine.yaml").write_text(
        "name: mine\ntitle: Mine\nfamily: classification\nformat: classification\n"
        "labels: [bad, good]\nmetric: accuracy\nsource: {local: mine}\n"
    )
    data = tmp_path / "data"
    _write_task(data / "mine", 200)
    catalog = {**load_catalog(default_tasks_dir()), **load_catalog(tasks)}
    db = tmp_path / "studio.db"
    stop = threading.Event()
    config = _config(tiny_model, tasks=("mine", "synth_sentiment"))
    first = execute(config, catalog, data, db, stop, StopAt(stop, 4))
    assert first.status == "stopped"

    with (data / "mine" / "train.jsonl").open("a") as f:  # the user appends rows
        f.write(json.dumps({"text": "one more", "label": 1}) + "\n")
    with pytest.raises(DataChanged, match="task mine: 200 training examples then, 201 now"):
        resume(first.run_id, catalog, None, db, threading.Event())  # no data_dir: remembered
    with RunStore(db) as store:
        run = store.get_run(first.run_id)
        assert (run.status, run.step) == ("stopped", 4)  # left as it was

    _write_task(data / "mine", 200)  # same size, other content: rows swapped around
    lines = (data / "mine" / "train.jsonl").read_text().splitlines()
    (data / "mine" / "train.jsonl").write_text("\n".join(lines[::-1]) + "\n")
    with pytest.raises(DataChanged, match="as many examples .200., other content"):
        resume(first.run_id, catalog, None, db, threading.Event())

    outcome = resume(first.run_id, catalog, None, db, threading.Event(), allow_data_change=True)
    assert (outcome.status, outcome.step) == ("finished", 10)
    with RunStore(db) as store:
        assert any("resuming on changed data" in r["message"] for r in store.logs(first.run_id))


# -- 7. a store that another process locks --------------------------------------------------


def test_a_locked_store_neither_stalls_nor_kills_the_run_nor_loses_rows(
    tiny_model: str, tmp_path: Path
) -> None:
    db = tmp_path / "studio.db"
    path = tmp_path / "run.yaml"
    path.write_text(_config(tiny_model, max_steps=60, log_every=1, checkpoint_every=10).to_yaml())
    with subprocess.Popen(_studio("train", str(path), "--store", str(db)),
                          **PIPES) as proc:  # fmt: skip
        try:
            _wait_for(lambda: db.exists() and _step(db) >= 5, proc)
            blocker = sqlite3.connect(db, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # like an sqlite3 shell in the middle of a write
            locked = time.time()
            time.sleep(8)  # training (and at least one checkpoint) goes on meanwhile
            released = time.time()
            blocker.execute("ROLLBACK")
            blocker.close()
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert err.count("Traceback") == 0
    run_id = out.strip().splitlines()[-1]
    with RunStore(db) as store:
        assert store.get_run(run_id).status == "finished"
        rows = [r for r in store.metrics_after(0, run_id) if r["name"] == "total_loss"]
        assert [r["step"] for r in rows] == list(range(1, 61))
        # Updates went on while the store was locked (a 10 s wait per write would allow one).
        assert sum(locked + 1 < r["wall_time"] < released - 1 for r in rows) >= 3
        assert [c["step"] for c in store.checkpoints(run_id)][-1] == 60


def _step(db: Path) -> int:
    with RunStore(db) as store:
        runs = store.list_runs()
        return int(runs[0].step or 0) if runs else 0


# -- 8, 13. signals -----------------------------------------------------------------------------


def test_sigterm_stops_a_window_job_with_a_checkpoint(tiny_model: str, tmp_path: Path) -> None:
    from studio.core.jobs import Job, TrainRequest, job_line
    from studio.jobs.client import COMMAND, child_env, job_place

    db = tmp_path / "studio.db"
    config = _config(tiny_model, max_steps=100000, checkpoint_every=100000)
    place = job_place(load_catalog(default_tasks_dir()), None, db)
    spec = job_line(Job(TrainRequest(config.to_dict()), place))
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
    with subprocess.Popen(COMMAND, text=True, env=child_env(), **pipes) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(spec + "\n")
        proc.stdin.flush()
        try:
            _wait_for(lambda: db.exists() and _step(db) >= 3, proc)
            proc.send_signal(signal.SIGTERM)  # a logout, `kill PID`, a task manager
            events = [json.loads(line) for line in proc.stdout]
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    result = events[-1]
    assert result["event"] == "result" and result["value"]["status"] == "stopped"
    run_id = result["value"]["run_id"]
    with RunStore(db) as store:
        run = store.get_run(run_id)
        assert run.status == "stopped"
        assert [c["step"] for c in store.checkpoints(run_id)] == [run.step]


@pytest.mark.parametrize("command", ["finetune", "transfer"])
def test_ctrl_c_stops_finetune_and_transfer_gracefully(
    tiny_model: str, tmp_path: Path, command: str
) -> None:
    db = tmp_path / "studio.db"
    source = None
    if command == "transfer":
        source = _stopped_run(tiny_model, db, at=2)
    settings = {
        "finetune": {"task": "synth_sentiment", "model": tiny_model, "epochs": 400,
                     "batch_size": 4, "device": "cpu", "max_length": 64},
        "transfer": {"source": source, "base_model": tiny_model, "targets": ["synth_sentiment"],
                     "sizes": ["all"], "seeds": [1, 2], "epochs": 400, "checkpoint": "latest",
                     "batch_size": 4, "device": "cpu", "max_length": 64},
    }[command]  # fmt: skip
    path = tmp_path / f"{command}.yaml"
    path.write_text(json.dumps(settings))
    with subprocess.Popen(_studio(command, str(path), "--store", str(db)),
                          **PIPES) as proc:  # fmt: skip
        try:
            _wait_for(lambda: db.exists() and _finetune_step(db) >= 2, proc)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    with RunStore(db) as store:
        runs = {r.kind: r.status for r in store.list_runs() if r.kind != "pretrain"}
    expected = {"finetune": "stopped"} | ({"transfer": "stopped"} if command == "transfer" else {})
    assert runs == expected


def _finetune_step(db: Path) -> int:
    with RunStore(db) as store:
        steps = [r.step or 0 for r in store.list_runs("finetune") if r.status == "running"]
    return max(steps, default=0)


# -- 12. exports inside a run folder ------------------------------------------------------------


def test_an_export_inside_the_runs_folder_is_refused(tiny_model: str, tmp_path: Path) -> None:
    db = tmp_path / "studio.db"
    run_id = _stopped_run(tiny_model, db, at=2)
    inside = checkpoints_dir(db, run_id) / "my-export"
    assert main(["export", run_id, str(inside), "--store", str(db), "--checkpoint", "latest"]) == 2
    assert not inside.exists()


# -- a full disk, an unsafe checkpoint, a killed export (the reliability issue's 5, 8, 9, 11) --


def test_a_checkpoint_torch_refuses_as_unsafe_falls_back_to_the_one_before(
    tiny_model: str, tmp_path: Path
) -> None:
    import fractions

    import torch

    db = tmp_path / "studio.db"
    run_id = _stopped_run(tiny_model, db, at=5, keep_checkpoints=5)
    folder = checkpoints_dir(db, run_id) / "step-5"
    optimizer = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer["note"] = fractions.Fraction(1, 3)  # whole, but more than tensors and containers
    torch.save(optimizer, folder / "optimizer.pt")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["optimizer.pt"] = (folder / "optimizer.pt").stat().st_size
    (folder / "manifest.json").write_text(json.dumps(manifest))

    outcome = resume(run_id, load_catalog(default_tasks_dir()), None, db, threading.Event())
    assert (outcome.status, outcome.step, outcome.error) == ("finished", 10, None)
    with RunStore(db) as store:
        logs = [r["message"] for r in store.logs(run_id)]
        assert _duplicates(store, run_id) == []
    said = next(m for m in logs if "refused as unsafe" in m)
    assert str(folder) in said and "fractions.Fraction" in said and "from update 4" in said
    assert not any("weights_only" in m or "safe_globals" in m for m in logs)


def test_a_full_disk_during_a_checkpoint_fails_the_run_with_the_cause(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from studio.core import files
    from studio.train import checkpoint

    def fills_the_disk(obj: object, path: object, *args: object, **kwargs: object) -> None:
        Path(str(path)).write_bytes(b"PK\x03\x04")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 4")

    monkeypatch.setattr(torch, "save", fills_the_disk)
    monkeypatch.setattr(checkpoint, "free_bytes", lambda folder: 10 << 30)
    monkeypatch.setattr(files, "free_bytes", lambda folder: 0)
    db = tmp_path / "studio.db"
    catalog = load_catalog(default_tasks_dir())
    outcome = execute(_config(tiny_model), catalog, None, db, threading.Event())
    assert (outcome.status, outcome.step) == ("failed", 2)
    root = checkpoints_dir(db, outcome.run_id)
    assert outcome.error is not None and "unexpected pos" not in outcome.error
    assert f"the disk holding {root} is full (0 bytes free; a checkpoint needs" in outcome.error
    assert list(root.iterdir()) == []


def test_a_full_disk_during_export_is_named_whatever_the_writer_raises(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors import SafetensorError

    from studio.train import export

    db = tmp_path / "studio.db"
    run_id = _stopped_run(tiny_model, db, at=2)

    def fills_the_disk(*args: object, **kwargs: object) -> None:
        raise SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)"
        )  # noqa: E501

    monkeypatch.setattr(export, "save_file", fills_the_disk)
    out = tmp_path / "exports" / "mine"
    with pytest.raises(ExportError, match="ran out of disk space") as caught:
        export_run(db, run_id, "latest", out)
    assert f"the disk holding {out.parent} is full (" in str(caught.value)
    assert "the export needs about" in str(caught.value)
    assert list(out.parent.iterdir()) == []


def test_a_partial_export_whose_process_is_gone_is_removed_by_the_next_export(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.train import export

    db = tmp_path / "studio.db"
    run_id = _stopped_run(tiny_model, db, at=2)
    exports = tmp_path / "exports"
    exports.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    killed = exports / f".mine.export-{gone.stdout.strip()}-k9x2ab_c"  # what a kill -9 leaves
    killed.mkdir()
    (killed / "model.safetensors").write_bytes(b"\0" * 4096)
    live = exports / f".other.export-{os.getpid()}-abcd1234"  # being written right now
    live.mkdir()
    old = exports / ".older.export-abcd1234"  # an older studio's: whose, nobody can tell
    old.mkdir()
    seen: list[str] = []
    real_write = export._write

    def write(checkpoint: Path, tmp: Path, *args: object) -> None:
        seen.append(tmp.name)
        real_write(checkpoint, tmp, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "_write", write)
    export_run(db, run_id, "latest", exports / "mine")
    assert sorted(p.name for p in exports.iterdir()) == [old.name, live.name, "mine"]
    assert export.PARTIAL.match(seen[0]) and f".mine.export-{os.getpid()}-" in seen[0]

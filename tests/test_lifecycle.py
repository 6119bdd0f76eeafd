"""Run lifecycle through the store: stop, kill -9, resume, and export."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoModel, AutoTokenizer

from studio.cli.commands import main
from studio.core.config.run import RunConfig
from studio.core.paths import checkpoints_dir
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.session import execute, resume
from studio.store import RunStore
from studio.train.checkpoint import complete_checkpoints
from studio.train.export import ExportError, export_checkpoint
from tests.support import StopAt, tiny_config

pytestmark = [pytest.mark.train, pytest.mark.process]

TASKS = ("synth_sentiment", "synth_choice", "synth_span")


def _config(model: str, **changes: object) -> RunConfig:
    return tiny_config(model, TASKS, eval_every=5, checkpoint_every=5).replace(**changes)


def _steps(store: RunStore, run_id: str, name: str) -> list[int]:
    return [r["step"] for r in store.metrics_after(0, run_id) if r["name"] == name]


def test_stop_and_resume_through_the_store(tiny_model: str, tmp_path: Path) -> None:
    catalog = load_catalog(default_tasks_dir())
    db = tmp_path / "studio.db"
    stop = threading.Event()
    first = execute(_config(tiny_model), catalog, None, db, stop, StopAt(stop, 3))
    assert (first.status, first.step) == ("stopped", 3)
    with RunStore(db) as store:
        assert store.get_run(first.run_id).status == "stopped"
        assert [c["step"] for c in store.checkpoints(first.run_id)] == [3]
    second = resume(first.run_id, catalog, None, db, threading.Event())
    assert (second.status, second.step) == ("finished", 10)
    with RunStore(db) as store:
        assert _steps(store, first.run_id, "total_loss") == list(range(1, 11))
        assert store.get_run(first.run_id).status == "finished"
    with pytest.raises(Exception, match="finished"):
        resume(first.run_id, catalog, None, db, threading.Event())


def test_kill_minus_nine_then_resume(tiny_model: str, tmp_path: Path) -> None:
    config = _config(tiny_model, max_steps=400, checkpoint_every=20, eval_every=1000, log_every=5)
    path = tmp_path / "run.yaml"
    path.write_text(config.to_yaml())
    db = tmp_path / "studio.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "train", str(path), "--store", str(db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    run_id = None
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if not db.exists():
                continue
            with RunStore(db) as store:
                runs = store.list_runs()
                if runs and store.checkpoints(runs[0].id):
                    run_id = runs[0].id
                    if (store.get_run(run_id).step or 0) > 45:
                        break
        assert run_id is not None and proc.poll() is None, "the run ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()  # type: ignore[union-attr]
    with RunStore(db) as store:
        assert store.get_run(run_id).status == "running"  # as the killed process left it
    assert main(["runs", "--store", str(db)]) == 0
    with RunStore(db) as store:
        assert store.get_run(run_id).status == "interrupted"
    assert main(["resume", run_id, "--store", str(db)]) == 0
    with RunStore(db) as store:
        assert store.get_run(run_id).status == "finished"
        assert _steps(store, run_id, "total_loss") == [1, *range(5, 401, 5)]
        assert store.integrity_check() == "ok"


def test_export_loads_with_plain_transformers(
    tiny_model: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    catalog = load_catalog(default_tasks_dir())
    db = tmp_path / "studio.db"
    outcome = execute(_config(tiny_model), catalog, None, db, threading.Event())
    out = tmp_path / "export"
    assert (
        main(["export", outcome.run_id, str(out), "--store", str(db), "--checkpoint", "latest"])
        == 0
    )
    assert capsys.readouterr().out.strip().endswith("export")
    for name in (
        "config.json",
        "model.safetensors",
        "heads.safetensors",
        "heads.json",
        "studio_config.yaml",
        "README.md",
    ):
        assert (out / name).is_file(), name
    model = AutoModel.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    checkpoint = complete_checkpoints(checkpoints_dir(db, outcome.run_id))[10]
    from safetensors.torch import load_file

    weights = load_file(str(checkpoint / "model.safetensors"))
    reference = AutoModel.from_pretrained(tiny_model)
    reference.load_state_dict(
        {k.removeprefix("encoder."): v for k, v in weights.items() if k.startswith("encoder.")}
    )
    inputs = tokenizer(["Pre-finetuning helps small data."], return_tensors="pt")
    with torch.no_grad():
        got = model(**inputs).last_hidden_state
        expected = reference.eval()(**inputs).last_hidden_state
    torch.testing.assert_close(got, expected)
    heads = yaml.safe_load((out / "heads.json").read_text())["heads"]
    assert {h["head"] for h in heads} == {
        "classification/synth_sentiment",
        "multiple_choice",
        "extractive_qa",
    }
    card = (out / "README.md").read_text()
    assert "synth_choice" in card and "log_n" in card and "heterogeneous" in card


def test_bad_export_targets_fail_clearly_and_leave_nothing(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog(default_tasks_dir())
    db = tmp_path / "studio.db"
    outcome = execute(_config(tiny_model, max_steps=5), catalog, None, db, threading.Event())
    checkpoint = complete_checkpoints(checkpoints_dir(db, outcome.run_id))[5]
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="exists and is not empty"):
        export_checkpoint(checkpoint, busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    from studio.train import export as export_module

    real_access = export_module.os.access
    monkeypatch.setattr(
        export_module.os,
        "access",
        lambda p, mode: False if Path(p) == tmp_path / "ro" else real_access(p, mode),
    )
    (tmp_path / "ro").mkdir()
    with pytest.raises(ExportError, match="not writable"):
        export_checkpoint(checkpoint, tmp_path / "ro" / "out")
    assert not list((tmp_path / "ro").iterdir())


def test_a_full_disk_leaves_no_half_written_export(
    tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = load_catalog(default_tasks_dir())
    db = tmp_path / "studio.db"
    outcome = execute(_config(tiny_model, max_steps=5), catalog, None, db, threading.Event())
    checkpoint = complete_checkpoints(checkpoints_dir(db, outcome.run_id))[5]
    import errno

    from studio.train import export as export_module

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module, "save_file", full)
    with pytest.raises(ExportError, match="ran out of disk space"):
        export_checkpoint(checkpoint, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]
    monkeypatch.setattr(export_module, "free_bytes", lambda folder: 1000)
    with pytest.raises(ExportError, match="not enough disk space.*1000 bytes are free"):
        export_checkpoint(checkpoint, tmp_path / "out")

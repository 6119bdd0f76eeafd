"""Tuning studies end to end on a tiny model and synthetic tasks: `tune` runs a study's trials
as pre-finetuning runs under the study's run, continues it when run again (also after a kill
mid-trial, without a duplicate), marks a pruned trial, and `results` prints the best."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.cli.commands import main
from studio.core.errors import ConfigError
from studio.core.experiments.tune import study_config
from studio.store import RunStore
from studio.store.report_data import build_report

TASKS = ["synth_sentiment", "synth_pair"]
ROOT = Path(__file__).resolve().parents[1]


def _base(model: str, steps: int = 4) -> dict[str, Any]:
    return {
        "tasks": TASKS,
        "model": model,
        "max_steps": steps,
        "eval_every": max(1, steps // 2),
        "checkpoint_every": 1000,  # the last update's only
        "log_every": 1,
        "batch_size": 8,
        "device": "cpu",
        "mixed_precision": "no",
        "max_length": 64,
        "tasks_per_update": 2,
        "eval_max_examples": 10,
    }


def _study(path: Path, model: str, trials: int, **more: Any) -> Path:
    study = {
        "name": "lr-and-slots",
        "base": _base(model, more.pop("steps", 2)),
        "space": {
            "learning_rate": {"low": 1.0e-5, "high": 1.0e-3, "log": True},
            "tasks_per_update": [1, 2],
            "manual_weights.synth_pair": {"low": 0.5, "high": 2.0},
        },
        "trials": trials,
        "sampler": {"name": "tpe", "seed": 3},
        "pruner": "none",
        **more,
    }
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def _tune(study: Path, db: Path, capsys: pytest.CaptureFixture) -> dict[str, Any]:
    assert main(["tune", str(study), "--store", str(db), "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def _trial_runs(db: Path, study_id: str) -> list[Any]:
    with RunStore(db) as store:
        return [r for r in store.list_runs("pretrain") if r.source_run == study_id]


@pytest.mark.train
def test_a_study_run_again_continues_to_its_trial_count_and_results_prints_the_best(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "studio.db"
    first = _tune(_study(tmp_path / "study.yaml", tiny_model, 3), db, capsys)
    assert [t["number"] for t in first["trials"]] == [0, 1, 2]
    # The same study with a larger budget: three more trials, none run twice.
    second = _tune(_study(tmp_path / "study.yaml", tiny_model, 6), db, capsys)
    trials = second["trials"]
    assert [t["number"] for t in trials] == list(range(6))
    assert {t["state"] for t in trials} == {"complete"}
    assert trials[:3] == first["trials"]
    assert second["run_id"] == first["run_id"]
    runs = _trial_runs(db, second["run_id"])
    assert sorted(r.id for r in runs) == sorted(t["run_id"] for t in trials)
    assert {r.status for r in runs} == {"finished"}
    best = second["best"]
    assert best["value"] == max(t["value"] for t in trials)
    with RunStore(db) as store:
        study_run = store.get_run(second["run_id"])
        assert (study_run.kind, study_run.status, study_run.step) == ("tune", "finished", 6)
        trial = store.get_run(best["run_id"]).config
        # The searched weight made the trial scale by hand; the other task weighs 1.
        assert trial["loss_scaling"] == "manual"
        assert trial["manual_weights"] == {
            "synth_sentiment": 1.0,
            "synth_pair": best["params"]["manual_weights.synth_pair"],
        }
        assert trial["learning_rate"] == best["params"]["learning_rate"]
        report = build_report(store, second["run_id"])  # the study's HTML report
        assert [t.title for t in report.tables][0] == "Trials" and len(report.tables[0].rows) == 6
    assert (tmp_path / "optuna.db").is_file()  # Optuna's own storage, beside the store
    assert main(["results", str(tmp_path / "study.yaml"), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"best: trial {best['number']}" in out and "learning_rate" in out


@pytest.mark.train
def test_a_trial_the_pruner_stops_is_marked_pruned(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A validation mean is at most 1: a threshold of 2 prunes at the first validation.
    pruner = {"name": "threshold", "lower": 2.0}
    # A new user's first command: STUDIO_HOME and the store's folder are not there yet.
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "new-home"))
    db = tmp_path / "new-home" / "studio.db"
    study = _study(tmp_path / "s.yaml", tiny_model, 1, pruner=pruner)
    assert main(["tune", str(study), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (trial,) = summary["trials"]
    assert trial["state"] == "pruned" and summary["best"] is None
    with RunStore(db) as store:
        run = store.get_run(trial["run_id"])
        assert run.status == "stopped" and run.step == 1  # stopped at its first validation
        assert run.tags == ("pruned",)
        assert store.get_run(summary["run_id"]).status == "finished"


@pytest.mark.train
def test_a_study_killed_mid_trial_continues_that_trial_without_a_duplicate(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    db = tmp_path / "studio.db"
    study = _study(tmp_path / "study.yaml", tiny_model, 2, steps=8)
    command = [sys.executable, "-m", "studio", "tune", str(study), "--store", str(db)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not _started(db):
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            assert time.monotonic() < deadline, "no trial started"
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)  # no chance to save or record anything
        worker.wait(timeout=30)
    finally:
        worker.kill()
        if worker.stderr:
            worker.stderr.close()
    summary = _tune(study, db, capsys)
    trials = summary["trials"]
    assert [(t["number"], t["state"], t.get("interrupted", False)) for t in trials] == [
        (0, "fail", True),
        (1, "complete", False),
        (2, "complete", False),
    ]
    # The killed trial's run was continued by its re-run, with the same settings.
    assert trials[1]["run_id"] == trials[0]["run_id"]
    assert trials[1]["params"] == trials[0]["params"]
    runs = _trial_runs(db, summary["run_id"])
    assert sorted(r.id for r in runs) == sorted({t["run_id"] for t in trials})
    assert {r.status for r in runs} == {"finished"} and len(runs) == 2


def _started(db: Path) -> bool:
    """A trial's run has made an update."""
    if not db.exists():
        return False
    try:
        with RunStore(db) as store:
            return any(r.step > 0 and r.source_run for r in store.list_runs("pretrain"))
    except Exception:  # noqa: BLE001 - the store is being created
        return False


def test_a_bad_study_file_names_the_key_at_fault(tiny_model: str) -> None:
    base = _base(tiny_model)
    cases = [
        ({"learning_rate": {"low": 1.0, "high": 0.1}}, "learning_rate: low"),
        ({"tasks_per_update": {"low": 1.5, "high": 4}}, "whole number"),
        ({"nonsense": [1, 2]}, "unknown config key 'nonsense'"),
        ({"manual_weights.rte": {"low": 1, "high": 2}}, "'rte' is not one of the base's tasks"),
        ({"mixing": ["heterogeneous", "sideways"]}, "mixing"),
    ]
    for space, message in cases:
        with pytest.raises(ConfigError, match=message):
            study_config({"base": base, "space": space, "trials": 2}, "s.yaml")
    with pytest.raises(ConfigError, match="objective"):
        study_config({"base": base, "space": {"seed": [1]}, "trials": 2, "objective": "x"})
    targets = {"transfer": {"targets": ["synth_pair"], "sizes": [8], "seeds": [0]}}
    with pytest.raises(ConfigError, match="held out"):
        study_config({"base": base, "space": {"seed": [1]}, "trials": 2, "objective": targets})


@pytest.mark.train
def test_a_stopped_study_continues_the_stopped_trial_s_run(
    tmp_path: Path, tiny_model: str, catalog: dict[str, Any]
) -> None:
    from studio.core.experiments.tune import load_study
    from studio.tune import run_study
    from tests.support import StopAt

    db = tmp_path / "studio.db"
    config = load_study(_study(tmp_path / "s.yaml", tiny_model, 1))
    stop = threading.Event()
    first = run_study(config, catalog, None, db, stop, extra_sink=StopAt(stop, 1))  # Ctrl-C
    # The stopped trial, and its settings waiting to run again.
    assert [(t.state, t.interrupted) for t in first.trials] == [("fail", True), ("waiting", False)]
    second = run_study(config, catalog, None, db, threading.Event())
    assert [(t.number, t.state) for t in second.trials] == [(0, "fail"), (1, "complete")]
    assert second.trials[1].run_id == first.trials[0].run_id  # its run, resumed
    with RunStore(db) as store:
        run = store.get_run(first.trials[0].run_id)
        assert run.status == "finished" and len(run.segments or ()) == 2
        assert store.get_run(second.run_id).status == "finished"

"""The headless commands, end to end, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from studio.cli.commands import main
from studio.store import RunStore


def _config(tmp_path: Path, model: str, **extra: object) -> Path:
    config = {
        "tasks": ["synth_sentiment", "synth_choice", "synth_span"],
        "model": model,
        "max_steps": 6,
        "eval_every": 3,
        "log_every": 2,
        "batch_size": 8,
        "device": "cpu",
        "max_length": 64,
        "tasks_per_update": 2,
        "eval_max_examples": 20,
        **extra,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_tasks_json_lists_the_catalog(shared_data: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["tasks", "--json", "--data-dir", str(shared_data)]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert len(rows) >= 43 + 14 + 6
    assert rows["rte"] | {"reason": None} == rows["rte"]
    assert (rows["rte"]["source"], rows["rte"]["available"], rows["rte"]["train_size"]) == (
        "local",
        True,
        2488,
    )
    assert rows["synth_span"]["source"] == "synthetic" and rows["synth_span"]["available"]
    assert rows["qqp"]["source"] == "hub" and not rows["qqp"]["available"]
    assert "hub" in rows["qqp"]["reason"] and rows["qqp"]["train_size"] is None
    for key in ("name", "family", "format", "source", "available", "reason", "train_size"):
        assert all(key in r for r in rows.values())


@pytest.mark.train
def test_train_prints_the_run_id_and_fills_the_store(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    store_path = tmp_path / "studio.db"
    assert main(["train", str(_config(tmp_path, tiny_model)), "--store", str(store_path)]) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1]
    with RunStore(store_path) as store:
        run = store.get_run(run_id)
        assert (run.status, run.kind, run.step) == ("finished", "pretrain", 6)
        names = {(r["task"], r["name"]) for r in store.metrics_after(0, run_id)}
        assert (None, "total_loss") in names and ("synth_span", "eval_f1") in names
        assert ("synth_choice", "share") in names and ("synth_span", "eval_exact_match") in names
    assert main(["runs", "--json", "--store", str(store_path)]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in runs] == [run_id]
    assert {"id", "name", "status", "kind", "created"} <= set(runs[0])


def test_unknown_config_key_names_the_key(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    path = _config(tmp_path, tiny_model, learnin_rate=0.1)
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "learnin_rate" in err and "learning_rate" in err


def test_bad_value_names_the_allowed_values(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    assert main(["train", str(_config(tmp_path, tiny_model, mixing="random"))]) == 2
    err = capsys.readouterr().err
    assert "mixing" in err and "heterogeneous" in err


@pytest.mark.train
def test_bad_data_fails_before_training_and_keeps_the_store(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    store_path = tmp_path / "studio.db"
    assert main(["train", str(_config(tmp_path, tiny_model)), "--store", str(store_path)]) == 0
    good_run = capsys.readouterr().out.strip().splitlines()[-1]
    with RunStore(store_path) as store:
        rows_before = len(store.metrics_after(0))
    data = tmp_path / "data" / "copa"
    data.mkdir(parents=True)
    line = {"context": "c", "question": "q", "choices": ["a", "b"], "label": 0}
    (data / "train.jsonl").write_text(json.dumps(line) + "\n" + "{not json\n")
    (data / "validation.jsonl").write_text(json.dumps(line) + "\n")
    config = _config(tmp_path, tiny_model, tasks=["copa", "synth_sentiment"])
    code = main(
        ["train", str(config), "--store", str(store_path), "--data-dir", str(tmp_path / "data")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "copa" in err and "train.jsonl, line 2: malformed JSON" in err
    with RunStore(store_path) as store:
        failed = [r for r in store.list_runs() if r.id != good_run]
        assert failed[0].status == "failed" and "line 2" in failed[0].error
        assert store.get_run(good_run).status == "finished"
        assert len(store.metrics_after(0)) == rows_before  # nothing trained, nothing lost
        assert store.integrity_check() == "ok"

"""Ablations end to end on a tiny model and synthetic tasks: the CLI queues and trains every
variant under the ablation run, `results` prints its table, and the transfer switch adds a
transfer per variant."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.ablation import run_ablation
from studio.cli.commands import main
from studio.core.errors import ConfigError
from studio.core.experiments.ablation import ablation_config
from studio.store import RunStore

TASKS = ["synth_sentiment", "synth_pair"]


def _base(model: str) -> dict[str, Any]:
    return {
        "tasks": TASKS,
        "model": model,
        "max_steps": 2,
        "eval_every": 2,
        "checkpoint_every": 2,
        "log_every": 1,
        "batch_size": 8,
        "device": "cpu",
        "max_length": 64,
        "tasks_per_update": 2,
        "eval_max_examples": 10,
    }


@pytest.mark.train
def test_ablate_trains_every_variant_and_results_prints_the_table(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(_base(tiny_model)))
    ablation = tmp_path / "ablation.yaml"
    ablation.write_text(
        yaml.safe_dump(
            {
                "name": "mixing x scaling",
                "base": "run.yaml",
                "vary": {
                    "mixing": ["heterogeneous", "homogeneous"],
                    "loss_scaling": ["log_n", "none"],
                },
            },
            sort_keys=False,  # the file's order is the variants' order
        )
    )
    db = tmp_path / "studio.db"
    assert main(["ablate", str(ablation), "--store", str(db)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    ablation_id = out[-1]
    names = [
        "base",
        "loss_scaling=none",
        "mixing=homogeneous",
        "mixing=homogeneous,loss_scaling=none",
    ]
    assert [line.split()[0] for line in out[1:-1]] == names
    with RunStore(db) as store:
        run = store.get_run(ablation_id)
        assert (run.kind, run.status, run.name) == (
            "ablation",
            "finished",
            "mixing x scaling",
        )
        children = [r for r in store.list_runs("pretrain") if r.source_run == ablation_id]
        assert len(children) == 4 and {r.status for r in children} == {"finished"}
        by_id = {r.id: r for r in children}
        base = by_id[run.config["variants"][0]["run_id"]].config
        for entry in run.config["variants"]:
            config = by_id[entry["run_id"]].config
            differing = {k for k in base if config[k] != base[k]}
            assert differing == set(entry["changes"]), entry["name"]
            assert config["seed"] == base["seed"] and config["max_steps"] == 2
        assert store.queued_runs() == []

    assert main(["results", ablation_id, "--store", str(db), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == names
    assert all(r["final_mean"] is not None and set(r["tasks"]) == set(TASKS) for r in rows)
    assert rows[0]["delta"] == 0.0 and all(r["throughput"] > 0 for r in rows)
    assert main(["results", ablation_id, "--store", str(db)]) == 0
    text = capsys.readouterr().out
    assert "Δ vs base" in text and "synth_pair (" in text and "transfer" not in text


@pytest.mark.train
def test_the_transfer_switch_transfers_from_each_variant(
    tmp_path: Path, tiny_model: str, catalog
) -> None:  # type: ignore[no-untyped-def]
    config = ablation_config(
        {
            "base": _base(tiny_model),
            "vary": {"loss_scaling": ["none"]},
            "transfer": {
                "targets": ["synth_choice"],
                "sizes": [8],
                "seeds": [0],
                "learning_rate": 3e-3,
                "epochs": 1.0,
                "min_steps": 2,
                "batch_size": 8,
                "max_length": 64,
                "eval_max_examples": 10,
                "device": "cpu",
            },
        }
    )
    db = tmp_path / "studio.db"
    seen: list[str] = []
    ablation_id = run_ablation(config, catalog, None, db, threading.Event(), None, seen.append)
    assert seen == [ablation_id]
    with RunStore(db) as store:
        run = store.get_run(ablation_id)
        assert run.status == "finished"
        variants = run.config["variants"]
        for entry in variants:
            transfer = store.get_run(entry["transfer_id"])
            assert transfer.kind == "transfer" and transfer.source_run == entry["run_id"]
            assert transfer.config["base_model"] == tiny_model
            models = {r.model for r in store.results(entry["transfer_id"])}
            assert models == {"base", "pretuned"}


def test_unknown_tasks_fail_before_anything_is_queued(tmp_path: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    config = ablation_config(
        {"base": {"tasks": ["synth_pair"]}, "vary": {"tasks": [["synth_pair"], ["nope"]]}}
    )
    db = tmp_path / "studio.db"
    with pytest.raises(ConfigError, match=r"variant tasks=nope: tasks \['nope'\]"):
        run_ablation(config, catalog, None, db, threading.Event())
    with RunStore(db) as store:
        assert store.list_runs() == []


def test_a_stopped_ablation_leaves_its_variants_queued(tmp_path: Path, catalog) -> None:  # type: ignore[no-untyped-def]
    config = ablation_config({"base": {"tasks": ["synth_pair"]}, "vary": {"seed": [1, 2]}})
    db = tmp_path / "studio.db"
    stop = threading.Event()
    stop.set()
    ablation_id = run_ablation(config, catalog, None, db, stop)
    with RunStore(db) as store:
        assert store.get_run(ablation_id).status == "stopped"
        queued = store.queued_runs()
        assert [r.source_run for r in queued] == [ablation_id] * 3
        assert "still queued" in store.logs(ablation_id)[-1]["message"]


@pytest.mark.train
def test_an_ablation_of_the_muppet_and_tasknet_recipes_runs(
    tmp_path: Path, tiny_model: str, capsys: pytest.CaptureFixture
) -> None:
    base = _base(tiny_model) | {"tasks": [*TASKS, "synth_choice"]}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(base))
    recipe = "mixing+loss_scaling+sampling+head_sharing+task_embedding"
    ablation = tmp_path / "recipes.yaml"
    ablation.write_text(
        yaml.safe_dump(
            {
                "base": "run.yaml",
                "vary": {
                    recipe: [
                        ["heterogeneous", "log_n", "proportional", "shared", False],
                        ["homogeneous", "none", "temperature", "by_label_set", True],
                    ]
                },
            }
        )
    )
    db = tmp_path / "studio.db"
    assert main(["ablate", str(ablation), "--store", str(db)]) == 0
    ablation_id = capsys.readouterr().out.strip().splitlines()[-1]
    with RunStore(db) as store:
        children = [r for r in store.list_runs("pretrain") if r.source_run == ablation_id]
        assert {r.status for r in children} == {"finished"} and len(children) == 2
        tasknet = [r.config for r in children if r.config["task_embedding"]]
        assert len(tasknet) == 1 and tasknet[0]["head_sharing"] == "by_label_set"

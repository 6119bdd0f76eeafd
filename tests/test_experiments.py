"""Transfer experiments on a tiny model and synthetic tasks: fine-tuning, grids, sweeps."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path

import pytest
import yaml

from studio.cli.commands import main
from studio.core.errors import ConfigError
from studio.core.experiments.paired import table
from studio.core.experiments.transfer import (
    FinetuneConfig,
    FinetuneSettings,
    SweepConfig,
    TransferConfig,
    finetune_config,
)
from studio.core.sink import MemorySink
from studio.experiments import resolve_source, sweep, transfer
from studio.session import execute
from studio.store import RunStore
from studio.train.finetune import finetune
from studio.train.setup import Workspace
from tests.support import tiny_config

pytestmark = pytest.mark.train

MIX = ("synth_sentiment", "synth_pair", "synth_topic")
FAST = {
    "learning_rate": 3e-3,
    "batch_size": 8,
    "epochs": 1.0,
    "min_steps": 2,
    "max_length": 64,
    "eval_max_examples": 20,
    "device": "cpu",
}


def _pretrain(catalog, model: str, db: Path, tasks=MIX) -> str:  # type: ignore[no-untyped-def]
    config = tiny_config(model, tasks, max_steps=6, eval_every=6, checkpoint_every=6, log_every=10)
    outcome = execute(config, catalog, None, db, threading.Event())
    assert outcome.status == "finished"
    return outcome.run_id


def test_finetune_honours_k_seed_and_scores_the_full_split(
    catalog,
    tiny_model: str,  # type: ignore[no-untyped-def]
    studio_home: Path,
) -> None:
    ws = Workspace.default(catalog)
    settings = FinetuneSettings(**{**FAST, "eval_max_examples": None})
    config = FinetuneConfig(task="synth_span", model=tiny_model, k=16, seed=3, settings=settings)
    sink = MemorySink()
    result = finetune(config, sink, threading.Event(), ws)
    assert result.examples == 16 and result.steps == 2  # 16 examples / 8 = 2 updates, 1 epoch
    assert result.metric == "f1" and set(result.metrics) >= {"f1", "exact_match", "loss"}
    again = finetune(config, MemorySink(), threading.Event(), ws)
    assert again.value == pytest.approx(result.value)  # same seed, same subsample, same result
    other = finetune(
        finetune_config({**config.to_dict(), "seed": 4}), MemorySink(), threading.Event(), ws
    )
    assert other.examples == 16
    evaluated = [r for r in sink.rows if r.name == "eval_f1"]
    assert len(evaluated) == 1  # scored once, on the whole validation split (200 examples)
    (mean,) = [r for r in sink.rows if r.name == "eval_mean"]  # the Runs table's column
    assert mean.task is None and mean.value == pytest.approx(result.value)


def test_transfer_grid_results_table_and_leakage(
    catalog,
    tiny_model: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    capsys: pytest.CaptureFixture,
) -> None:
    db = tmp_path / "studio.db"
    source = _pretrain(catalog, tiny_model, db)
    config = {
        "source": source,
        "base_model": tiny_model,
        "checkpoint": "latest",
        "targets": ["synth_choice", "synth_sentiment"],
        "sizes": [8, 24],
        "seeds": [0, 1],
        **FAST,
    }
    path = tmp_path / "transfer.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["transfer", str(path), "--store", str(db), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 * 2 * 2 * 2  # targets x sizes x seeds x models
    assert {(r["target"], r["k"], r["seed"], r["model"]) for r in rows} == {
        (t, k, s, m)
        for t in ("synth_choice", "synth_sentiment")
        for k in (8, 24)
        for s in (0, 1)
        for m in ("base", "pretuned")
    }
    assert all({"metric", "value"} <= set(r) for r in rows)
    assert all(0 < r["baseline"] < 1 for r in rows)  # the majority label's metric
    assert {r["leaked"] for r in rows if r["target"] == "synth_sentiment"} == {True}
    assert {r["leaked"] for r in rows if r["target"] == "synth_choice"} == {False}
    with RunStore(db) as store:
        transfers = store.list_runs(kind="transfer")
        assert len(transfers) == 1 and transfers[0].status == "finished"
        finetunes = store.list_runs(kind="finetune")
        assert len(finetunes) == 16
        assert {r.source_run for r in finetunes} == {source}
        assert len({r.name for r in finetunes}) == 16  # a pair's two runs are told apart
        assert f"synth_choice k=8 seed 0 · pre-finetuned ({source})" in {r.name for r in finetunes}
        text = table(store.results(transfers[0].id))
        messages = [entry["message"] for entry in store.logs(transfers[0].id)]
        assert not any("same examples" in m for m in messages)  # every pair trained alike
    assert "LEAK" in text and text.count("\n") == 5  # header + 2 targets x 2 sizes + tally
    assert main(["results", transfers[0].id, "--store", str(db)]) == 0
    assert "synth_choice" in capsys.readouterr().out


def test_pretuned_model_reuses_the_shared_head(catalog, tiny_model: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "studio.db"
    source_id = _pretrain(catalog, tiny_model, db, ("synth_sentiment", "synth_choice"))
    with RunStore(db) as store:
        source = resolve_source(store, source_id, "latest")
    assert source.mix == ("synth_sentiment", "synth_choice")
    ws = Workspace.default(catalog)
    config = FinetuneConfig(
        "synth_choice", source.model, k=8, reuse_heads=True, settings=FinetuneSettings(**FAST)
    )
    result = finetune(config, MemorySink(), threading.Event(), ws)
    assert result.head_reused == "multiple_choice"
    # A head trained on mean-pooled vectors would read first tokens: a fresh head instead.
    first = FinetuneSettings(**{**FAST, "pooling": "first"})
    sink = MemorySink()
    other = finetune(dataclasses.replace(config, settings=first), sink, threading.Event(), ws)
    assert other.head_reused is None
    assert any("read mean pooling" in m for _, m in sink.logs)


def test_bad_sources_and_configs_are_named(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with RunStore(tmp_path / "s.db") as store, pytest.raises(ConfigError, match="neither"):
        resolve_source(store, "no-such-run")
    with pytest.raises(ConfigError, match="sizes"):
        TransferConfig(source="x", targets=("a",), sizes=(0,))
    with pytest.raises(ConfigError, match="held out"):
        SweepConfig(pool=("a", "b"), counts=(1, 2), pretrain={}, transfer={"targets": ["b"]})


def test_task_count_sweep_gives_one_point_per_subset(
    catalog,
    tiny_model: str,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    db = tmp_path / "studio.db"
    config = SweepConfig(
        pool=("synth_sentiment", "synth_pair", "synth_topic", "synth_regression"),
        counts=(2, 4),
        pretrain={
            "model": tiny_model,
            "max_steps": 4,
            "eval_every": 4,
            "checkpoint_every": 4,
            "batch_size": 8,
            "device": "cpu",
            "max_length": 64,
            "tasks_per_update": 2,
            "eval_max_examples": 10,
        },
        transfer={
            "base_model": tiny_model,
            "targets": ["synth_choice"],
            "sizes": [8],
            "seeds": [0],
            **FAST,
        },
    )
    sweep_id = sweep(config, catalog, None, db, threading.Event())
    with RunStore(db) as store:
        run = store.get_run(sweep_id)
        assert run.status == "finished"
        children = run.config["children"]
        pretrains = [store.get_run(c["pretrain"]).config["tasks"] for c in children]
        assert pretrains[0] == list(config.pool[:2]) and pretrains[1] == list(config.pool)
        points = {(r["step"], r["name"]) for r in store.metrics_after(0, sweep_id)}
    assert points == {(n, k) for n in (2, 4) for k in ("base_mean", "pretuned_mean", "gain")}


def test_transfer_with_unknown_target_fails_clearly(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="not in the catalog"):
        transfer(
            TransferConfig(source="x", targets=("nope",)),
            catalog,
            None,
            tmp_path / "s.db",
            threading.Event(),
        )


def test_a_pair_that_trained_differently_is_named_in_the_log(  # type: ignore[no-untyped-def]
    catalog, tiny_model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from studio.train import finetune as module

    real = module.finetune

    def unpaired(config, *args):  # type: ignore[no-untyped-def]
        result = real(config, *args)
        return dataclasses.replace(result, order=result.order + config.model)

    monkeypatch.setattr(module, "finetune", unpaired)
    db = tmp_path / "studio.db"
    source = _pretrain(catalog, tiny_model, db)
    config = TransferConfig(
        source, ("synth_choice",), tiny_model, sizes=(8,), seeds=(0,), checkpoint="latest",
        settings=FinetuneSettings(**FAST),
    )  # fmt: skip
    transfer_id = transfer(config, catalog, None, db, threading.Event())
    with RunStore(db) as store:
        messages = [entry["message"] for entry in store.logs(transfer_id)]
    assert any("synth_choice, k=8, seed 0: base and pre-finetuned did not" in m for m in messages)

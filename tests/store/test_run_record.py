"""The store gives typed runs and results (core.run_record), one field per column."""

from __future__ import annotations

import dataclasses
from typing import get_args

import pytest

from studio.core.config.run import RunConfig
from studio.core.errors import ConfigError
from studio.core.run_record import Kind, Run, Status, TransferResult
from studio.store import RunStore
from studio.store.schema import KINDS, RESULT_COLUMNS, RUN_COLUMNS, STATUSES


def test_the_records_have_a_field_per_column_and_the_schema_s_choices() -> None:
    assert [f.name for f in dataclasses.fields(Run)] == [*RUN_COLUMNS, "segments", "tags"]
    assert [f.name for f in dataclasses.fields(TransferResult)] == list(RESULT_COLUMNS)
    assert get_args(Kind) == KINDS and get_args(Status) == STATUSES


def test_a_run_is_frozen_and_has_no_dict_access(store: RunStore) -> None:
    run = store.get_run(store.create_run("a", "finetune", {"task": "rte"}, "minilm"))
    assert isinstance(run, Run) and run.config == {"task": "rte"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "running"  # type: ignore[misc]
    with pytest.raises(TypeError):
        run["status"]  # type: ignore[index]


def test_a_pre_finetuning_run_gives_its_run_config(store: RunStore) -> None:
    config = RunConfig(tasks=("rte", "cola"), max_steps=7)
    run = store.get_run(store.create_run("p", "pretrain", config.to_dict(), "minilm"))
    assert run.run_config() == config


def test_other_kinds_have_no_run_config_and_say_which_run(store: RunStore) -> None:
    run_id = store.create_run("t", "transfer", {"targets": ["rte"]}, "minilm")
    with pytest.raises(ConfigError, match=f"run {run_id} is a transfer run"):
        store.get_run(run_id).run_config()


def test_an_unreadable_config_names_the_run(store: RunStore) -> None:
    run_id = store.create_run("p", "pretrain", {"tasks": ["rte"], "nope": 1}, "minilm")
    with pytest.raises(ConfigError, match=f"run {run_id}: unknown key"):
        store.get_run(run_id).run_config()


def test_results_are_typed_rows(store: RunStore) -> None:
    row = {
        "transfer_id": "t", "target": "rte", "k": 32, "size": "32", "seed": 1, "model": "base",
        "metric": "accuracy", "value": 0.6, "run_id": "r", "leaked": 1, "baseline": 0.5,
    }  # fmt: skip
    store.add_result(row)
    (result,) = store.results("t")
    assert result == TransferResult(**{**row, "leaked": True})  # type: ignore[arg-type]

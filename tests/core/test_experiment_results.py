"""Shaping stored transfer and sweep results: the tasks a run names, curves, sweep points."""

from __future__ import annotations

import math

import pytest

from studio.core.experiments.transfer import (
    Cell,
    examples_by_size,
    sweep_curves,
    sweep_points,
    transfer_curves,
)
from studio.core.run_record import TransferResult, run_tasks


@pytest.mark.parametrize(
    ("config", "tasks"),
    [
        ({"tasks": ["rte", "cola"]}, ["rte", "cola"]),  # pre-finetuning
        ({"targets": ["mrpc"], "source": "x"}, ["mrpc"]),  # transfer
        ({"pool": ["a", "b", "c"], "counts": [2]}, ["a", "b", "c"]),  # sweep
        ({"task": "boolq", "k": 32}, ["boolq"]),  # fine-tuning
        (
            {"name": "lr", "base": {"tasks": ["rte", "qnli"]}, "vary": {}},
            ["rte", "qnli"],
        ),  # ablation
        ({"tasks": [], "targets": ["copa"]}, ["copa"]),  # an empty key is skipped
        ({}, []),
        ("not a mapping", []),
    ],
)
def test_run_tasks_reads_the_key_of_each_kind(config: object, tasks: list[str]) -> None:
    assert run_tasks(config) == tasks


def _row(step: int, name: str, value: float | None, task: str | None = None) -> dict:
    return {"step": step, "name": name, "value": value, "task": task}


def test_sweep_points_keep_the_run_wide_curve_sorted_by_task_count() -> None:
    rows = [
        _row(8, "base_mean", 0.6),
        _row(8, "pretuned_mean", 0.66),
        _row(8, "gain", 0.06),
        _row(4, "pretuned_mean", 0.58),
        _row(4, "base_mean", 0.6),
        _row(4, "gain", None),  # a NaN the store kept as NULL
        _row(4, "loss", 1.0),  # not a sweep metric
        _row(4, "base_mean", 0.1, task="rte"),  # a per-task row
    ]
    points = sweep_points(rows)
    assert list(points) == [4, 8]
    assert points[4] == {"pretuned_mean": 0.58, "base_mean": 0.6}
    assert points[8] == {"base_mean": 0.6, "pretuned_mean": 0.66, "gain": 0.06}


def test_sweep_curves_one_per_model_with_its_points() -> None:
    curves = sweep_curves({4: {"base_mean": 0.6}, 8: {"base_mean": 0.6, "pretuned_mean": 0.7}})
    assert curves["base"].x == (4.0, 8.0) and curves["base"].y == (0.6, 0.6)
    assert curves["pretuned"].x == (8.0,) and curves["pretuned"].std == (0.0,)


def test_transfer_curves_sort_by_the_examples_really_used() -> None:
    rows = [
        TransferResult("t", "rte", 2490, "all", 0, "base", "accuracy", 0.8, None, False, None),
        TransferResult("t", "rte", 32, "32", 0, "base", "accuracy", 0.6, None, False, None),
        TransferResult("t", "rte", None, "32", 1, "base", "accuracy", 0.6, None, False, None),
    ]
    ks = examples_by_size(rows)
    assert ks == {("rte", "all"): 2490, ("rte", "32"): 32}
    cells = [
        Cell("rte", "all", "base", "accuracy", 0.8, 0.01, 3, False),
        Cell("rte", "32", "base", "accuracy", 0.6, 0.05, 3, False),
        Cell("cola", "all", "base", "mcc", 0.4, 0.0, 1, False),  # no k recorded: left out
        Cell("cola", "100", "base", "mcc", 0.3, 0.0, 1, False),  # falls back to the size
    ]
    curves = transfer_curves(cells, ks)
    assert curves[("rte", "base")].x == (32.0, 2490.0)
    assert curves[("rte", "base")].y == (0.6, 0.8)
    assert curves[("rte", "base")].std == (0.05, 0.01)
    assert curves[("cola", "base")].x == (100.0,)
    assert all(math.isfinite(x) for c in curves.values() for x in c.x)

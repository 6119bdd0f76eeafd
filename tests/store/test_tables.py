"""Metric export: every row of the chosen runs, tidy, as CSV or Parquet, exactly as stored."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.core.errors import StudioError
from studio.core.sink import MetricRow
from studio.store import RunStore
from studio.store.tables import COLUMNS, export_metrics


def _runs(store: RunStore) -> list[str]:
    """Two runs with run-wide and per-task rows, a NaN (stored as NULL) and odd task names."""
    ids = []
    for i, name in enumerate(("first, run", 'second "run"')):
        run_id = store.create_run(name, "pretrain", {"tasks": ["a", "b,c"]}, "minilm")
        rows = [
            MetricRow(step, "total_loss", 1.0 / (step + i + 0.3), None, 1000.0 + step / 7)
            for step in range(1, 4)
        ]
        rows += [
            MetricRow(2, "loss", 0.1 + 1 / 3, "b,c", 1001.5),
            MetricRow(3, "loss", math.nan, "a"),
        ]
        store.add_metrics(run_id, rows)
        ids.append(run_id)
    store.add_metrics(store.create_run("other", "pretrain", {}, "m"), [MetricRow(1, "lr", 0.1)])
    return ids


def _expected(store: RunStore, ids: list[str]) -> list[dict]:
    rows = []
    for run_id in ids:
        name = store.get_run(run_id).name
        rows += [{**r, "run_name": name} for r in store.metrics_after(0, run_id)]
    return rows


def test_csv_holds_exactly_the_store_rows(store: RunStore, tmp_path: Path) -> None:
    ids = _runs(store)
    out = tmp_path / "out" / "metrics.csv"
    assert export_metrics(store.path, ids, "csv", out) == 10
    with out.open(newline="", encoding="utf-8") as handle:
        read = list(csv.DictReader(handle))
    assert tuple(read[0]) == COLUMNS
    assert len(read) == 10
    for got, want in zip(read, _expected(store, ids), strict=True):
        assert got["run_id"] == want["run_id"] and got["run_name"] == want["run_name"]
        assert int(got["step"]) == want["step"] and got["name"] == want["name"]
        assert (got["task"] or None) == want["task"]
        assert (float(got["value"]) if got["value"] else None) == want["value"]
        assert float(got["wall_time"]) == want["wall_time"]
    assert {r["run_id"] for r in read} == set(ids)  # not the third run


def test_parquet_round_trips(store: RunStore, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    ids = _runs(store)
    out = tmp_path / "metrics.parquet"
    export_metrics(store.path, ids[::-1], "parquet", out)
    table = pq.read_table(out)
    assert tuple(table.column_names) == COLUMNS
    assert str(table.schema.field("step").type) == "int64"
    want = [{k: r[k] for k in COLUMNS} for r in _expected(store, ids[::-1])]
    assert table.to_pylist() == want


def test_unknown_run_and_format_are_named(store: RunStore, tmp_path: Path) -> None:
    ids = _runs(store)
    with pytest.raises(StudioError, match="no run with id 'nope'"):
        export_metrics(store.path, [ids[0], "nope"], "csv", tmp_path / "m.csv")
    with pytest.raises(StudioError, match="unknown format 'xlsx'.*csv, parquet"):
        export_metrics(store.path, ids, "xlsx", tmp_path / "m.xlsx")
    assert not (tmp_path / "m.csv").exists()


def test_command_writes_the_file(
    store: RunStore, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ids = _runs(store)
    out = tmp_path / "m.csv"
    argv = ["export-metrics", *ids, "--store", str(store.path), "--format", "csv", str(out)]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == ["10 rows", str(out)]
    assert len(out.read_text(encoding="utf-8").splitlines()) == 11
    # The options may come first too.
    parquet = tmp_path / "m.parquet"
    assert (
        main(
            [
                "export-metrics",
                "--store",
                str(store.path),
                "--format",
                "parquet",
                ids[1],
                str(parquet),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["5 rows", str(parquet)]
    other = tmp_path / "other.csv"
    assert main(["export-metrics", "nope", "--store", str(store.path), str(other)]) == 2
    assert "no run with id 'nope'" in capsys.readouterr().err and not other.exists()

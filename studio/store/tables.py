"""Metric rows of stored runs as one tidy table, written as CSV or Parquet."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.files import check_output, write_atomically
from studio.store.runs import RunStore

log = logging.getLogger(__name__)

# One row per (run, step, task, metric): the key first, then the value and its context.
COLUMNS = ("run_id", "run_name", "step", "task", "name", "value", "wall_time")
FORMATS = ("csv", "parquet")


def metric_table(store: RunStore, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every metric row of the runs, run by run in the order given, each in the order written.

    An unknown id raises UnknownRun naming it (and the store) before anything is read.
    """
    names = {run_id: store.get_run(run_id).name for run_id in dict.fromkeys(run_ids)}
    rows: list[dict[str, Any]] = []
    for run_id, name in names.items():
        for row in store.metrics_after(0, run_id):
            rows.append({"run_name": name, **{k: row[k] for k in COLUMNS if k != "run_name"}})
    return rows


def write_csv(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """A header row then one line per row; a missing task or value is an empty field."""
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        # DictWriter writes floats with repr(): they read back to the same value.
        writer.writerows(rows)


def write_parquet(rows: Sequence[dict[str, Any]], out: Path) -> None:
    """One Parquet file with typed columns (nullable task and value)."""
    import pyarrow as pa  # only here: the window need not load it to list runs
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("run_id", pa.string()),
            ("run_name", pa.string()),
            ("step", pa.int64()),
            ("task", pa.string()),
            ("name", pa.string()),
            ("value", pa.float64()),
            ("wall_time", pa.float64()),
        ]
    )
    columns = {c: [r[c] for r in rows] for c in COLUMNS}
    pq.write_table(pa.table(columns, schema=schema), str(out))


WRITERS = {"csv": write_csv, "parquet": write_parquet}


def export_metrics(
    store_path: Path, run_ids: Sequence[str], fmt: str, out: Path, force: bool = False
) -> int:
    """Write the metric rows of `run_ids` to `out` as `fmt`; returns how many rows.

    The studio's own files are refused, and an existing `out` unless `force`.
    """
    if fmt not in WRITERS:
        raise StudioError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not run_ids:
        raise StudioError("name at least one run to export")
    out = check_output(out, store_path, force)
    with RunStore(store_path, create=False) as store:  # only reads: never makes a store
        rows = metric_table(store, run_ids)
    write_atomically(out, lambda temporary: WRITERS[fmt](rows, temporary))
    log.info("wrote %d metric rows of %d run(s) to %s", len(rows), len(run_ids), out)
    return len(rows)

"""Converting the user's data into records of a new task: every row mapped and checked, the
good ones written to a staging folder, the bad ones reported with row and column."""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import datasets
import pyarrow.compute as pc

from studio.core.errors import StudioError
from studio.core.importing import ImportPlan, RowProblem, StageReport
from studio.core.library import new_staging
from studio.core.mapping import build_record
from studio.core.tasks import TaskSpec
from studio.train.sources import open_source

MAX_PROBLEMS = 200  # listed; every bad row is counted


def _split(tables: dict[str, datasets.Dataset], name: str, source: str) -> datasets.Dataset:
    if name not in tables:
        raise StudioError(f"{source} has no split '{name}'; its splits are {sorted(tables)}")
    return tables[name]


def _choice_count(plan: ImportPlan, train: datasets.Dataset) -> int | None:
    """Multiple choice: one column per choice, or the usual length of a list column."""
    if plan.format != "multiple_choice":
        return None
    columns = plan.columns["choices"]
    if len(columns) > 1:
        return len(columns)
    column = columns[0]
    if column not in train.column_names:
        return None  # reported row by row
    try:
        lengths = pc.value_counts(pc.list_value_length(train.data.column(column))).to_pylist()
    except Exception:  # noqa: BLE001 - not a list column: every row says so
        return None
    usual = max(
        (item for item in lengths if item["values"]), key=lambda i: i["counts"], default=None
    )
    if usual is None or usual["values"] < 2:
        raise StudioError(f"column '{column}' holds fewer than two choices per row")
    return int(usual["values"])


def _rows(table: datasets.Dataset) -> Iterator[dict[str, Any]]:
    for batch in table.iter(batch_size=1000):
        keys = list(batch)
        for values in zip(*batch.values(), strict=True):
            yield dict(zip(keys, values, strict=True))


def _check_columns(plan: ImportPlan, table: datasets.Dataset, where: str) -> None:
    mapped = [c for columns in plan.columns.values() for c in columns]
    missing = [c for c in mapped if c not in table.column_names]
    if missing:
        raise StudioError(
            f"{where} has no column(s) {missing}; its columns are {table.column_names}"
        )


def _parts(
    plan: ImportPlan, tables: dict[str, datasets.Dataset]
) -> tuple[datasets.Dataset, datasets.Dataset | None, str, str]:
    """(train, validation or None to carve, and how messages name each)."""
    ref = plan.source
    if ref.kind == "files":
        names = (Path(ref.path).name, Path(ref.validation).name if ref.validation else "")
        return tables["train"], tables.get("validation"), names[0], names[1]
    label = "hub dataset " + ref.path if ref.kind == "hub" else ref.path
    train = _split(tables, ref.train_split, label)
    validation = _split(tables, ref.validation_split, label) if ref.validation_split else None
    return train, validation, f"split {ref.train_split}", f"split {ref.validation_split}"


def stage(plan: ImportPlan, cache: Path, stop: threading.Event | None = None) -> StageReport:
    """Map and check every row; write the good ones to a new staging folder (`stop` ends
    the work early, leaving nothing behind)."""
    tables = open_source(plan.source, cache)
    train, validation, train_name, validation_name = _parts(plan, tables)
    for table, where in ((train, train_name), (validation, validation_name)):
        if table is not None:
            _check_columns(plan, table, where)
    spec = plan.spec(_choice_count(plan, train))
    carved: set[int] = set()
    if validation is None:
        count = max(1, round(len(train) * plan.validation_fraction))
        if count >= len(train):
            raise StudioError(
                f"{train_name} has {len(train)} row(s): too few to carve a validation set"
            )
        carved = set(random.Random(plan.seed).sample(range(len(train)), count))
    folder = new_staging()
    try:
        parts = [(train, train_name), (validation, validation_name)]
        return _write(plan, spec, folder, parts, carved, stop or threading.Event())
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _write(
    plan: ImportPlan,
    spec: TaskSpec,
    folder: Path,
    parts: list[tuple[datasets.Dataset | None, str]],
    carved: set[int],
    stop: threading.Event,
) -> StageReport:
    sizes = {"train": 0, "validation": 0}
    labels: dict[str, Counter[str]] = {"train": Counter(), "validation": Counter()}
    problems: list[RowProblem] = []
    bad = 0
    names = list(spec.labels) if spec.labels else None
    with (
        (folder / "train.jsonl").open("w", encoding="utf-8") as train_out,
        (folder / "validation.jsonl").open("w", encoding="utf-8") as validation_out,
    ):
        outputs: dict[str, IO[str]] = {"train": train_out, "validation": validation_out}
        for index, (table, where) in enumerate(parts):
            if table is None:
                continue
            for row_index, row in enumerate(_rows(table)):
                if row_index % 1000 == 0 and stop.is_set():
                    raise StudioError("stopped before every row was checked; nothing was saved")
                split = "validation" if index == 1 or row_index in carved else "train"
                rec, problem = build_record(row, plan, spec)
                if problem is not None:
                    bad += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(RowProblem(where, row_index + 1, *problem))
                    continue
                assert rec is not None
                outputs[split].write(json.dumps(rec, ensure_ascii=False) + "\n")
                sizes[split] += 1
                if "label" in rec and spec.format != "regression":
                    key = names[rec["label"]] if names else str(rec["label"] + 1)
                    labels[split][key] += 1
    for split, size in sizes.items():
        if size == 0:
            raise StudioError(
                f"no {split} records: every row was refused or the {split} data is empty"
                + (f"; first problem: {problems[0]}" if problems else "")
            )
    return StageReport(
        folder=str(folder),
        sizes=sizes,
        bad_rows=bad,
        problems=problems,
        choices=spec.choices,
        label_counts={s: dict(c) for s, c in labels.items()},
    )

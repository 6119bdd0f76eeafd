"""Converting the user's data into records of a new task: every row mapped and checked, the
good ones written to a staging folder, the bad ones reported with row and column."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import pyarrow.compute as pc

from studio.core.errors import StudioError
from studio.core.importing.mapping import UNLABELLED, build_record
from studio.core.importing.plan import ImportPlan, RowProblem, StageReport, held_out
from studio.core.importing.preview import label_name
from studio.core.tasks.formats import LABELLED_FORMATS
from studio.core.tasks.library import new_staging
from studio.core.tasks.spec import TaskSpec
from studio.train.data.hub import batch_rows
from studio.train.data.sources import open_source

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
        yield from batch_rows(batch)


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
    train = _split(tables, ref.train_split, ref.describe())
    validation = (
        _split(tables, ref.validation_split, ref.describe()) if ref.validation_split else None
    )
    return train, validation, f"split {ref.train_split}", f"split {ref.validation_split}"


def stage(
    plan: ImportPlan,
    cache: Path,
    stop: threading.Event | None = None,
    owner: int | None = None,
) -> StageReport:
    """Map and check every row; write the good ones to a new staging folder, owned by the
    process `owner` (default: this one). `stop` ends the work early, leaving nothing behind
    (nor anything of the import in the cache)."""
    with open_source(plan.source, cache) as tables:
        return _stage(plan, tables, stop or threading.Event(), owner)


def _stage(
    plan: ImportPlan,
    tables: dict[str, datasets.Dataset],
    stop: threading.Event,
    owner: int | None,
) -> StageReport:
    train, validation, train_name, validation_name = _parts(plan, tables)
    for table, where in ((train, train_name), (validation, validation_name)):
        if table is not None:
            _check_columns(plan, table, where)
    spec = plan.spec(_choice_count(plan, train))
    folder = new_staging(owner)
    try:
        converter = _Converter(plan, spec, folder, stop)
        if validation is None:
            converter.convert(train, train_name, "pool")
            converter.carve(train_name)
        else:
            converter.convert(train, train_name, "train")
            converter.convert(validation, validation_name, "validation")
        return converter.finish()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


class _Converter:
    """Rows to records in a staging folder: counts, problems, and a carved validation split
    drawn (seeded) from the good training rows only."""

    def __init__(
        self, plan: ImportPlan, spec: TaskSpec, folder: Path, stop: threading.Event
    ) -> None:
        self.plan, self.spec, self.folder, self.stop = plan, spec, folder, stop
        self.problems: list[RowProblem] = []
        self.bad = self.unlabelled = 0

    def convert(self, table: datasets.Dataset, where: str, into: str) -> None:
        """Every usable row of `table` into `into`.jsonl (`pool`: to be carved)."""
        with (self.folder / f"{into}.jsonl").open("w", encoding="utf-8") as out:
            for index, row in enumerate(_rows(table)):
                if index % 1000 == 0 and self.stop.is_set():
                    raise StudioError("stopped before every row was checked; nothing was saved")
                rec, problem = build_record(row, self.plan, self.spec)
                if problem == UNLABELLED:
                    self.unlabelled += 1
                elif problem is not None:
                    self.bad += 1
                    if len(self.problems) < MAX_PROBLEMS:
                        self.problems.append(RowProblem(where, index + 1, *problem))
                else:
                    out.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def carve(self, where: str) -> None:
        """Split the good training rows: a seeded share becomes the validation set, stratified
        by label for classification (core.importing.held_out)."""
        pool = self.folder / "pool.jsonl"
        stratify = self.spec.format in LABELLED_FORMATS
        with pool.open(encoding="utf-8") as lines:
            labels = [json.loads(line).get("label") if stratify else None for line in lines]
        total = len(labels)
        if not total:
            raise self._nothing("train")
        held = held_out(labels, self.plan.validation_fraction, self.plan.seed, stratify)
        if not held or len(held) >= total:
            why = " (no label has two examples; one stays in training)" if stratify else ""
            raise StudioError(
                f"{where} has {total} usable row(s): too few to carve a validation set{why}"
            )
        with (
            pool.open(encoding="utf-8") as lines,
            (self.folder / "train.jsonl").open("w", encoding="utf-8") as train,
            (self.folder / "validation.jsonl").open("w", encoding="utf-8") as validation,
        ):
            for index, line in enumerate(lines):
                (validation if index in held else train).write(line)
        pool.unlink()

    def finish(self) -> StageReport:
        sizes: dict[str, int] = {}
        labels: dict[str, Counter[str]] = {}
        for split in ("train", "validation"):
            sizes[split], labels[split] = 0, Counter()
            with (self.folder / f"{split}.jsonl").open(encoding="utf-8") as lines:
                for line in lines:
                    sizes[split] += 1
                    label = self._label(json.loads(line))
                    if label is not None:
                        labels[split][label] += 1
            if not sizes[split]:
                raise self._nothing(split)
        return StageReport(
            folder=str(self.folder),
            sizes=sizes,
            bad_rows=self.bad,
            problems=self.problems,
            choices=self.spec.choices,
            label_counts={s: dict(c) for s, c in labels.items()},
            unlabelled=self.unlabelled,
        )

    def _nothing(self, split: str) -> StudioError:
        first = f"; first problem: {self.problems[0]}" if self.problems else ""
        return StudioError(
            f"no {split} records: every row was refused or the {split} data is empty{first}"
        )

    def _label(self, rec: dict[str, Any]) -> str | None:
        if "label" not in rec or self.spec.format == "regression":
            return None
        return label_name(self.spec, rec["label"])

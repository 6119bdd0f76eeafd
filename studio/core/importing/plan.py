"""Adding a task from the user's own data: what to read, how columns map to record fields,
which labels there are. One plan, shared by the window's wizard and `task add`."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.tasks.formats import (
    FORMATS,
    LABELLED_FORMATS,
    METRICS,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
)
from studio.core.tasks.records import iter_jsonl
from studio.core.tasks.spec import HubSource, TaskSpec, name_problem, shown_name

SOURCE_KINDS = ("files", "folder", "hub")
FILE_TYPES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
}
DEFAULT_FAMILY = {
    "classification": "classification",
    "pair_classification": "classification",
    "regression": "classification",
    "multiple_choice": "commonsense",
    "extractive_qa": "mrc",
    "summarization": "summarization",
}
# The record fields each format maps from columns; `?` marks optional ones.
MAPPED_FIELDS: dict[str, tuple[str, ...]] = {
    "classification": ("text", "label"),
    "pair_classification": ("text", "text_pair", "label"),
    "regression": ("text", "text_pair?", "label"),
    "multiple_choice": ("context?", "question?", "choices", "label"),
    "extractive_qa": ("context", "question", "answers", "answer_start?"),
    "summarization": ("document", "summary"),
}
# How a multiple-choice label names the right choice.
CHOICE_LABELS = ("index", "number", "letter", "text")
CHOICE_LABEL_HELP = {
    "index": "0 for the first choice",
    "number": "1 for the first choice",
    "letter": "A for the first choice",
    "text": "the text of the right choice",
}


def fields(fmt: str) -> list[tuple[str, bool]]:
    """(field, required) of the columns a format maps."""
    return [(f.rstrip("?"), not f.endswith("?")) for f in MAPPED_FIELDS[fmt]]


@dataclass(frozen=True)
class SourceRef:
    """Where the user's data is.

    files: `path` is the train file (or the only one), `validation` an optional second file;
    folder: `path` is a folder written by `datasets` (`save_to_disk`) or of data files;
    hub: `path` is a dataset id (or a local clone), with `config`, `revision` and `data_dir`
    (a folder of the repository: one config of a parquet export).
    `train_split` / `validation_split` name the splits to use (files: always train and
    validation); no validation split means a seeded fraction is carved from train. Local
    paths are kept absolute, so a plan means the same files from any working directory.
    """

    kind: str
    path: str
    validation: str | None = None
    config: str | None = None
    revision: str | None = None
    data_dir: str | None = None
    train_split: str = "train"
    validation_split: str | None = "validation"

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise StudioError(f"source kind {self.kind!r} is not one of {list(SOURCE_KINDS)}")
        if not self.path.strip():
            raise StudioError(f"no {'dataset id' if self.kind == 'hub' else self.kind} given")
        if self.kind != "files" and self.train_split == self.validation_split:
            raise StudioError(
                f"train and validate on different splits, not both on '{self.train_split}'"
            )
        local = self.kind != "hub" or self.path.startswith(("/", ".", "~"))
        for key in ("path", "validation") if local else ():
            value = getattr(self, key)
            if value:  # frozen: set once, here
                object.__setattr__(self, key, str(Path(value).expanduser().resolve()))

    def describe(self) -> str:
        if self.kind == "hub":
            return f"hub dataset {self.hub().label}"
        if self.kind == "files" and self.validation:
            return f"{self.path} + {self.validation}"
        return self.path

    def hub(self) -> HubSource:
        """The hub source this names (kind hub)."""
        return HubSource(self.path, self.config, self.revision, self.data_dir)


@dataclass(frozen=True)
class ImportPlan:
    """Everything needed to turn a source into a task of the user's library."""

    name: str
    format: str
    source: SourceRef
    columns: dict[str, tuple[str, ...]]  # record field -> source column(s)
    label_values: tuple[str, ...] = ()  # classification: column values, in label order
    labels: tuple[str, ...] = ()  # their names (defaults to the values)
    choice_label: str = "index"  # multiple choice: see CHOICE_LABELS
    validation_fraction: float = 0.1  # carved from train when there is no validation split
    seed: int = 13
    title: str = ""
    family: str = ""
    metric: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise StudioError(f"format {self.format!r} is not one of {list(FORMATS)}")
        check_name(self.name)
        if not 0 < self.validation_fraction < 1:
            raise StudioError("the validation fraction must be between 0 and 1 (e.g. 0.1)")
        if self.choice_label not in CHOICE_LABELS:
            raise StudioError(f"choice label {self.choice_label!r} is not one of {CHOICE_LABELS}")
        if self.metric and self.metric not in METRICS[self.format]:
            raise StudioError(
                f"metric {self.metric!r} does not fit {self.format}; use one of "
                f"{list(METRICS[self.format])}"
            )
        if self.labels and len(self.labels) != len(self.label_values):
            raise StudioError("give one label name for each label value")
        for name, required in fields(self.format):
            if required and not self.columns.get(name):
                raise StudioError(f"map a column to '{name}' (a {self.format} task needs it)")
        unknown = sorted(set(self.columns) - {f for f, _ in fields(self.format)})
        if unknown:
            allowed = [f for f, _ in fields(self.format)]
            raise StudioError(f"{unknown} are not fields of {self.format}; use {allowed}")
        if self.format in LABELLED_FORMATS and len(self.label_values) < 2:
            raise StudioError(
                f"a {self.format} task needs at least two labels; the label column "
                f"'{self.column('label')}' has {len(self.label_values)} value(s)"
            )
        if len(set(self.label_values)) != len(self.label_values):
            raise StudioError("label values must be different from each other")
        if len(set(self.label_names)) != len(self.label_names):
            raise StudioError("label names must be different from each other")

    def column(self, field: str) -> str | None:
        """The single column mapped to `field`, or None."""
        columns = self.columns.get(field) or ()
        return columns[0] if columns else None

    @property
    def label_names(self) -> tuple[str, ...]:
        return self.labels or self.label_values

    def spec(self, choices: int | None = None, path: str = "") -> TaskSpec:
        """The task this plan makes (`choices`: the number of choices the data has)."""
        return TaskSpec(
            name=self.name,
            title=self.title or self.name,
            family=self.family or DEFAULT_FAMILY[self.format],
            format=self.format,
            metric=self.metric or METRICS[self.format][0],
            labels=self.label_names if self.format in LABELLED_FORMATS else (),
            choices=choices if self.format == "multiple_choice" else None,
            description=self.description,
            path=path,
            origin="user",
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data (defaults left out), as stored in the spec's `added.plan`."""
        data = dataclasses.asdict(self)
        # `validation_split: None` means "carve": kept, unlike other unset source fields.
        source = data["source"].items()
        data["source"] = {k: v for k, v in source if v is not None or k == "validation_split"}
        data["columns"] = {k: list(v) for k, v in self.columns.items() if v}
        for key in ("label_values", "labels"):
            data[key] = list(data[key])
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return {k: v for k, v in data.items() if v != defaults.get(k) and v not in ("", [])}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportPlan:
        try:
            values = dict(data)
            values["source"] = SourceRef(**values["source"])
            values["columns"] = {
                str(k): tuple(v if isinstance(v, list) else [v])
                for k, v in values["columns"].items()
            }
            for key in ("label_values", "labels"):
                values[key] = tuple(str(v) for v in values.get(key) or ())
            return cls(**values)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a hand-edited spec
            raise StudioError(f"not a complete import plan: {exc}") from None

    def replace(self, **changes: Any) -> ImportPlan:
        return dataclasses.replace(self, **changes)


def check_name(name: str) -> None:
    """The spec parser's name rule (`tasks.name_problem`), as the importer reports it."""
    problem = name_problem(name)
    if problem:
        raise StudioError(f"task name {shown_name(name)} {problem}")


@dataclass(frozen=True)
class SourceTable:
    """What a source holds, for the wizard's preview and for guessing the mapping.

    `types` gives each column a tag: str, int, float, bool, class (a `datasets` ClassLabel,
    its names in `class_names`), list[str], list[int], struct or other. `counts[split][column]`
    holds the value counts of columns with few distinct values (labels, mostly); list
    columns get the counts of their lengths under `"#" + column`. `distinct[split][column]`
    is the number of distinct values of each column with too many to count.
    """

    source: SourceRef
    splits: dict[str, int]
    types: dict[str, str]
    rows: list[dict[str, Any]]
    class_names: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    counts: dict[str, dict[str, dict[str, int]]] = dataclasses.field(default_factory=dict)
    distinct: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def value_counts(self, column: str, splits: list[str]) -> dict[str, int]:
        """A column's value counts summed over `splits` (empty when it has many values)."""
        total: dict[str, int] = {}
        for split in splits:
            for value, count in self.counts.get(split, {}).get(column, {}).items():
                total[value] = total.get(value, 0) + count
        return total

    def distinct_values(self, column: str, splits: list[str]) -> int:
        """How many distinct values a column has in its largest split, when too many to count
        (0 when its values are counted)."""
        return max((self.distinct.get(split, {}).get(column, 0) for split in splits), default=0)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["source"] = dataclasses.asdict(self.source)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceTable:
        return cls(**{**data, "source": SourceRef(**data["source"])})


@dataclass(frozen=True)
class RowProblem:
    """One source row that cannot become a record."""

    where: str  # the file, or the split of a folder or hub dataset
    row: int  # 1-based, header excluded
    column: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}, row {self.row}, column '{self.column}': {self.problem}"


@dataclass(frozen=True)
class StageReport:
    """The outcome of converting a source: where the records wait, and what was wrong."""

    folder: str
    sizes: dict[str, int]
    bad_rows: int
    problems: list[RowProblem]  # the first ones, in row order
    choices: int | None = None
    unlabelled: int = 0  # rows without a gold label (-1): left out, not a problem
    label_counts: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageReport:
        problems = [RowProblem(**p) for p in data["problems"]]
        return cls(**{**data, "problems": problems})


def held_out(labels: Sequence[Hashable], fraction: float, seed: int, stratify: bool) -> set[int]:
    """The positions of the rows a carved validation set takes: a seeded `fraction` of them.

    Stratified (classification), each label keeps its share of both sets, so a rare label is
    not left out of validation by chance (nor all of it drawn into it); a label with a single
    example stays in train. The shares are rounded so that the total is what an unstratified
    draw would take (largest remainders first). Too few rows leave none (stratified, when no
    label has two examples) or all of them (unstratified) for the caller to refuse.
    """
    total = len(labels)
    target = max(1, round(total * fraction))
    if not stratify:
        return set(random.Random(seed).sample(range(total), min(target, total)))
    groups: dict[Hashable, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    keys = sorted(groups, key=repr)  # a fixed order: the same seed draws the same rows
    quotas = _quotas([len(groups[k]) for k in keys], fraction, target)
    rng = random.Random(seed)
    return {i for key, k in zip(keys, quotas, strict=True) for i in rng.sample(groups[key], k)}


def _quotas(sizes: Sequence[int], fraction: float, target: int) -> list[int]:
    """How many of each group to hold out: `fraction` of it rounded down, then one more for
    the largest remainders until `target` is reached; each group keeps at least one row."""
    caps = [n - 1 for n in sizes]
    quotas = [min(math.floor(n * fraction), cap) for n, cap in zip(sizes, caps, strict=True)]
    left = min(target, sum(caps)) - sum(quotas)
    order = sorted(range(len(sizes)), key=lambda g: (-(sizes[g] * fraction % 1), -sizes[g], g))
    while left > 0:
        for group in order:
            if left > 0 and quotas[group] < caps[group]:
                quotas[group] += 1
                left -= 1
    return quotas


def suggest_name(source: SourceRef, taken: set[str]) -> str:
    """A free task name from the file, folder or dataset name (`My Reviews.csv` -> my_reviews)."""
    stem = source.path.rstrip("/").split("/")[-1]
    if source.kind == "files":
        stem = stem.split(".")[0]
    name = re.sub(r"[^0-9a-zA-Z]+", "_", stem).strip("_").lower() or "my_task"
    if name[0].isdigit():
        name = f"task_{name}"
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def plan_from_records(spec: TaskSpec, folder: str) -> ImportPlan:
    """A plan that reads a task's own records (`folder` in the record format) back in: how
    a task is edited once its original files have moved, or was written by hand."""
    train = Path(folder) / "train.jsonl"
    source = SourceRef("files", str(train), validation=str(Path(folder) / "validation.jsonl"))
    columns = [f for f in REQUIRED_FIELDS[spec.format]]
    optional = OPTIONAL_FIELDS.get(spec.format, ())
    if optional and any(f in _first_record(train) for f in optional):
        columns += list(optional)
    labelled = spec.format in LABELLED_FORMATS
    return ImportPlan(
        name=spec.name,
        format=spec.format,
        source=source,
        columns={field: (field,) for field in columns},
        label_values=tuple(str(i) for i in range(len(spec.labels))) if labelled else (),
        labels=spec.labels if labelled else (),
        title=spec.title,
        family=spec.family,
        metric=spec.metric,
        description=spec.description,
    )


def _first_record(path: Path) -> dict[str, Any]:
    with contextlib.closing(iter_jsonl(path)) as lines:
        for _, record in lines:
            return record if isinstance(record, dict) else {}
    return {}


def edit_plan(spec: TaskSpec) -> ImportPlan:
    """How the wizard re-opens a user task: the plan that made it, while its source is still
    there; otherwise its records in the library."""
    stored = (spec.added or {}).get("plan")
    if isinstance(stored, dict):
        plan = ImportPlan.from_dict(stored).replace(
            name=spec.name,
            title=spec.title,
            family=spec.family,
            metric=spec.metric,
            description=spec.description,
        )
        ref = plan.source
        files = [ref.path, *([ref.validation] if ref.validation else [])]
        if ref.kind == "hub" or all(Path(f).expanduser().exists() for f in files):
            return plan
    if not spec.folder:
        raise StudioError(f"task '{spec.name}' has no records of its own to edit")
    return plan_from_records(spec, spec.folder)

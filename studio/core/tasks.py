"""Task specs: one YAML file per task in `tasks/`, validated into frozen dataclasses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio.core import paths
from studio.core.errors import TaskSpecError
from studio.core.formats import FAMILIES, FORMATS, LABELLED_FORMATS, METRICS

TASK_KEYS = {
    "name",
    "title",
    "family",
    "format",
    "labels",
    "choices",
    "metric",
    "source",
    "description",
    "paper",
    "added",
}
SOURCE_KEYS = {"local", "folder", "hub", "synthetic"}
HUB_KEYS = {"path", "name", "revision", "data_dir", "splits", "columns", "label_map", "unsupported"}
ORIGINS = ("builtin", "user")


@dataclass(frozen=True)
class HubSource:
    """Where a task lives on the Hugging Face hub and how its columns map to the record format.

    `columns` maps a source column to a record field; several columns mapped to `choices`
    are gathered into the choices list in the order given. `label_map` turns source label
    values (strings or ints) into label indices. `revision` picks a branch, tag or commit
    (`refs/convert/parquet` is the hub's parquet export of a loading-script repository, whose
    configs are folders: name one with `data_dir`). `unsupported` says why the dataset cannot
    be loaded at all; the task is then listed as unavailable with that reason.
    """

    path: str
    name: str | None = None
    revision: str | None = None
    data_dir: str | None = None
    splits: tuple[tuple[str, str], ...] = (("train", "train"), ("validation", "validation"))
    columns: tuple[tuple[str, str], ...] = ()
    label_map: tuple[tuple[str, int], ...] = ()
    unsupported: str | None = None

    def split(self, split: str) -> str:
        return dict(self.splits)[split]

    @property
    def label(self) -> str:
        """How messages name the dataset: `owner/name (config) @ revision`."""
        text = self.path + (f" ({self.name})" if self.name else "")
        text += f" [{self.data_dir}]" if self.data_dir else ""
        return text + (f" @ {self.revision}" if self.revision else "")


@dataclass(frozen=True)
class TaskSpec:
    """One task of the catalog (DESIGN.md §3)."""

    name: str
    title: str
    family: str
    format: str
    metric: str
    labels: tuple[str, ...] = ()
    choices: int | None = None
    local: str | None = None
    folder: str | None = None  # absolute: `source.folder` resolved against the spec's folder
    hub: HubSource | None = None
    synthetic: str | None = None
    description: str = ""
    paper: bool = False
    added: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    path: str = field(default="", compare=False)
    origin: str = field(default="builtin", compare=False)

    @property
    def num_outcomes(self) -> int | None:
        """Size of the decision for classification and multiple choice (None otherwise)."""
        if self.format in LABELLED_FORMATS:
            return len(self.labels)
        if self.format == "multiple_choice":
            return self.choices
        return None

    @property
    def is_synthetic(self) -> bool:
        return self.synthetic is not None

    @property
    def is_user(self) -> bool:
        return self.origin == "user"


def _fail(path: str, problem: str) -> TaskSpecError:
    return TaskSpecError(f"{path}: {problem}")


def _check_keys(path: str, where: str, data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(path, f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def _parse_hub(path: str, raw: Any) -> HubSource:
    if not isinstance(raw, dict) or not isinstance(raw.get("path"), str):
        raise _fail(path, "source.hub must be a mapping with a string 'path'")
    _check_keys(path, "source.hub", raw, HUB_KEYS)
    splits = raw.get("splits") or {"train": "train", "validation": "validation"}
    if not isinstance(splits, dict) or not {"train", "validation"} <= set(splits):
        raise _fail(path, "source.hub.splits must map 'train' and 'validation' to hub splits")
    columns = raw.get("columns") or {}
    label_map = raw.get("label_map") or {}
    if not isinstance(columns, dict) or not isinstance(label_map, dict):
        raise _fail(path, "source.hub.columns and source.hub.label_map must be mappings")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in label_map.values()):
        raise _fail(path, "source.hub.label_map values must be integer label indices")
    for key in ("name", "revision", "data_dir", "unsupported"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _fail(path, f"source.hub.{key} must be a string")
    return HubSource(
        path=raw["path"],
        name=raw.get("name"),
        revision=raw.get("revision"),
        data_dir=raw.get("data_dir"),
        unsupported=raw.get("unsupported"),
        splits=tuple((str(k), str(v)) for k, v in splits.items()),
        columns=tuple((str(k), str(v)) for k, v in columns.items()),
        label_map=tuple((str(k), int(v)) for k, v in label_map.items()),
    )


def _folder(path: str, raw: Any) -> str | None:
    """`source.folder` as an absolute path: relative ones start at the spec file's folder."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise _fail(
            path, "source.folder must be a folder path (absolute, or relative to this file)"
        )
    folder = Path(raw).expanduser()
    return os.path.normpath(folder if folder.is_absolute() else Path(path).parent / folder)


def parse_task(data: Any, path: str, origin: str = "builtin") -> TaskSpec:
    """Validate one task mapping; errors name the file and the key at fault."""
    if not isinstance(data, dict):
        raise _fail(path, "a task file must hold a mapping")
    _check_keys(path, "the task", data, TASK_KEYS)
    for key in ("name", "family", "format", "source"):
        if key not in data:
            raise _fail(path, f"missing key '{key}'")
    name, family, fmt = data["name"], data["family"], data["format"]
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise _fail(path, f"name {name!r} must be letters, digits and underscores")
    if family not in FAMILIES:
        raise _fail(path, f"family {family!r} is not one of {list(FAMILIES)}")
    if fmt not in FORMATS:
        raise _fail(path, f"format {fmt!r} is not one of {list(FORMATS)}")
    metric = data.get("metric", METRICS[fmt][0])
    if metric not in METRICS[fmt]:
        raise _fail(
            path, f"metric {metric!r} is not allowed for {fmt}; use one of {list(METRICS[fmt])}"
        )
    raw_labels = data.get("labels") or []
    if not isinstance(raw_labels, list):
        raise _fail(path, "labels must be a list of label names, e.g. [negative, positive]")
    labels = tuple(str(x) for x in raw_labels)
    if fmt in LABELLED_FORMATS and len(labels) < 2:
        raise _fail(path, f"a {fmt} task needs 'labels' with at least two names")
    choices = data.get("choices")
    if fmt == "multiple_choice" and (not isinstance(choices, int) or choices < 2):
        raise _fail(path, "a multiple_choice task needs 'choices': the number of choices (>= 2)")
    source = data["source"]
    if not isinstance(source, dict) or not source:
        raise _fail(path, "source must be a mapping with 'local', 'folder', 'hub' or 'synthetic'")
    _check_keys(path, "source", source, SOURCE_KEYS)
    hub = _parse_hub(path, source["hub"]) if source.get("hub") is not None else None
    added = data.get("added")
    if added is not None and not isinstance(added, dict):
        raise _fail(path, "added must be a mapping (how the task was added)")
    return TaskSpec(
        name=name,
        title=str(data.get("title") or name),
        family=family,
        format=fmt,
        metric=metric,
        labels=labels,
        choices=choices if fmt == "multiple_choice" else None,
        local=source.get("local"),
        folder=_folder(path, source.get("folder")),
        hub=hub,
        synthetic=source.get("synthetic"),
        description=str(data.get("description") or ""),
        paper=bool(data.get("paper", False)),
        added=added,
        path=path,
        origin=origin,
    )


def load_task(path: Path, origin: str = "builtin") -> TaskSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(str(path), f"cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise _fail(str(path), f"not valid YAML: {exc}") from exc
    spec = parse_task(data, str(path), origin)
    if spec.name != path.stem:
        raise _fail(str(path), f"name {spec.name!r} must match the file name {path.stem!r}")
    return spec


def load_catalog(tasks_dir: Path) -> dict[str, TaskSpec]:
    """Read every `*.yaml` in `tasks_dir`, sorted by name; any bad file is an error."""
    if not tasks_dir.is_dir():
        raise TaskSpecError(f"{tasks_dir}: the task catalog folder does not exist")
    specs = [load_task(p) for p in sorted(tasks_dir.glob("*.yaml"))]
    return {s.name: s for s in sorted(specs, key=lambda s: s.name)}


def default_tasks_dir() -> Path:
    """The catalog shipped with the studio (the checkout's `tasks/`, package data)."""
    return paths.package_dir("tasks")


@dataclass(frozen=True)
class Catalog:
    """The built-in catalog merged with the user's task library.

    `problems` names each user file that was left out (broken, or a clashing name); the rest
    of the catalog loads regardless.
    """

    tasks: dict[str, TaskSpec]
    problems: tuple[str, ...] = ()


def load_user_tasks(
    folders: list[Path], taken: dict[str, TaskSpec]
) -> tuple[list[TaskSpec], list[str]]:
    """User specs from `folders` (first folder wins a name), and why any file was left out."""
    specs: list[TaskSpec] = []
    problems: list[str] = []
    seen = dict(taken)
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            try:
                spec = load_task(path, origin="user")
            except TaskSpecError as exc:
                problems.append(str(exc))
                continue
            other = seen.get(spec.name)
            if other is not None:
                kind = (
                    "a built-in task" if other.origin == "builtin" else f"defined in {other.path}"
                )
                problems.append(
                    f"{path}: name {spec.name!r} is already {kind}; rename this task "
                    "(its file name and its 'name' key)"
                )
                continue
            seen[spec.name] = spec
            specs.append(spec)
    return specs, problems


def merged_catalog(builtin_dir: Path, user_dirs: list[Path]) -> Catalog:
    """Built-in tasks (every file must be valid) plus the user's, sorted by name."""
    builtin = load_catalog(builtin_dir)
    user, problems = load_user_tasks(user_dirs, builtin)
    tasks = sorted([*builtin.values(), *user], key=lambda s: s.name)
    return Catalog({s.name: s for s in tasks}, tuple(problems))


def studio_catalog(extra_dirs: list[str | Path] | tuple[str | Path, ...] = ()) -> Catalog:
    """The catalog every command and the window use: built-in plus the user's library."""
    return merged_catalog(default_tasks_dir(), paths.user_task_dirs(extra_dirs))

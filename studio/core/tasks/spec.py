"""Task specs: one YAML file per task in `tasks/`, validated into frozen dataclasses."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio.core import paths
from studio.core.errors import TaskSpecError
from studio.core.tasks.formats import FAMILIES, FORMATS, LABELLED_FORMATS, METRICS

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
MAX_NAME = 64  # characters: a name is a file name (the spec) and a folder name (its records)
MAX_SPEC_BYTES = 64 * 1024  # the longest built-in spec is about 1 KiB


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
    """One task of the catalog (docs/DESIGN.md §3)."""

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


def _kind(value: Any) -> str:
    """How a message names a YAML value's type ("a list", "true/false" ...)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "empty" if value is None else f"a {type(value).__name__}"


def _check_keys(path: str, where: str, data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted((str(k) for k in set(data) - allowed), key=str)
    if unknown:
        raise _fail(path, f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def shown_name(name: Any) -> str:
    """A name as messages quote it: cut, so a huge one does not flood the message."""
    text = repr(name)
    return text if len(text) <= MAX_NAME + 2 else text[: MAX_NAME - 8] + "…"


def name_problem(name: Any) -> str | None:
    """Why `name` cannot name a task, or None. The one rule of the spec parser and the
    importer: a name is also a file and a folder name, so it is short, plain ASCII."""
    if not isinstance(name, str) or not name:
        return f"must be letters, digits and underscores, not {_kind(name)}"
    if len(name) > MAX_NAME:
        return f"is {len(name):,} characters long; use at most {MAX_NAME}"
    if not name.isascii() or not name.replace("_", "").isalnum():
        return "must be letters, digits and underscores (e.g. my_reviews)"
    return None


def _string(path: str, where: str, raw: Any, required: bool = False) -> str | None:
    """A text value (None when absent and not required); anything else names its type."""
    if raw is None and not required:
        return None
    if not isinstance(raw, str):
        raise _fail(path, f"{where} must be text, not {_kind(raw)}")
    return raw


def _string_map(path: str, where: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """A mapping of scalars to text (hub splits and columns), in the order given."""
    if not isinstance(raw, dict):
        raise _fail(path, f"{where} must be a mapping, not {_kind(raw)}")
    for key, value in raw.items():
        if isinstance(key, (list, dict)) or key is None or not isinstance(value, str):
            raise _fail(path, f"{where} must map names to text; {key!r}: {_kind(value)}")
    return tuple((str(k), v) for k, v in raw.items())


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
    if any(isinstance(k, (list, dict)) or k is None for k in label_map):
        raise _fail(path, "source.hub.label_map keys must be label values (text or numbers)")
    for key in ("name", "revision", "data_dir", "unsupported"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise _fail(path, f"source.hub.{key} must be a string")
    return HubSource(
        path=raw["path"],
        name=raw.get("name"),
        revision=raw.get("revision"),
        data_dir=raw.get("data_dir"),
        unsupported=raw.get("unsupported"),
        splits=_string_map(path, "source.hub.splits", splits),
        columns=_string_map(path, "source.hub.columns", columns),
        label_map=tuple((str(k), int(v)) for k, v in label_map.items()),
    )


def _folder(path: str, raw: Any) -> str | None:
    """`source.folder` as an absolute path: relative ones start at the spec file's folder."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip() or "\0" in raw:
        raise _fail(
            path, "source.folder must be a folder path (absolute, or relative to this file)"
        )
    try:
        folder = Path(raw).expanduser()
    except RuntimeError as exc:  # `~someone` of no known user
        raise _fail(path, f"source.folder {raw!r}: {exc}") from None
    return os.path.normpath(folder if folder.is_absolute() else Path(path).parent / folder)


def _source_name(path: str, source: dict[str, Any], key: str) -> str | None:
    """`source.local` or `source.synthetic`: the name of a folder, as text."""
    value = _string(path, f"source.{key}", source.get(key))
    if value is not None and (not value.strip() or "\0" in value):
        raise _fail(path, f"source.{key} must name a folder, not {value!r}")
    return value


def _labels(path: str, raw: Any, fmt: str) -> tuple[str, ...]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise _fail(path, "labels must be a list of label names, e.g. [negative, positive]")
    for item in raw:
        if item is None or isinstance(item, (list, dict)):
            raise _fail(path, f"labels must be a list of label names, not hold {_kind(item)}")
    labels = tuple(str(x) for x in raw)
    if fmt in LABELLED_FORMATS and len(labels) < 2:
        raise _fail(path, f"a {fmt} task needs 'labels' with at least two names")
    if len(set(labels)) != len(labels):
        raise _fail(path, f"labels must be different from each other: {list(labels)}")
    return labels


def _choices(path: str, raw: Any, fmt: str) -> int | None:
    if raw is None and fmt != "multiple_choice":
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 2:
        raise _fail(path, "a multiple_choice task needs 'choices': the number of choices (>= 2)")
    return raw if fmt == "multiple_choice" else None


def _kind_of_task(path: str, data: dict[str, Any]) -> tuple[str, str, str]:
    """(family, format, metric), each checked against what the studio knows."""
    family, fmt = data["family"], data["format"]
    if not isinstance(family, str) or family not in FAMILIES:
        raise _fail(path, f"family {family!r} is not one of {list(FAMILIES)}")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise _fail(path, f"format {fmt!r} is not one of {list(FORMATS)}")
    metric = data.get("metric", METRICS[fmt][0])
    if not isinstance(metric, str) or metric not in METRICS[fmt]:
        raise _fail(
            path, f"metric {metric!r} is not allowed for {fmt}; use one of {list(METRICS[fmt])}"
        )
    return family, fmt, metric


def _paper(path: str, raw: Any) -> bool:
    """A real true/false: `paper: "no"` is text, and Python would read it as true."""
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise _fail(path, f"paper must be true or false, not {_kind(raw)} {raw!r}")
    return raw


def parse_task(data: Any, path: str, origin: str = "builtin") -> TaskSpec:
    """Validate one task mapping, every value's type included; errors name the file and the
    key at fault (a user's broken spec is then reported and left out, never a crash)."""
    if not isinstance(data, dict):
        raise _fail(path, "a task file must hold a mapping")
    _check_keys(path, "the task", data, TASK_KEYS)
    for key in ("name", "family", "format", "source"):
        if key not in data:
            raise _fail(path, f"missing key '{key}'")
    name = data["name"]
    problem = name_problem(name)
    if problem:
        raise _fail(path, f"name {shown_name(name)} {problem}")
    family, fmt, metric = _kind_of_task(path, data)
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
        title=_string(path, "title", data.get("title")) or name,
        family=family,
        format=fmt,
        metric=metric,
        labels=_labels(path, data.get("labels"), fmt),
        choices=_choices(path, data.get("choices"), fmt),
        local=_source_name(path, source, "local"),
        folder=_folder(path, source.get("folder")),
        hub=hub,
        synthetic=_source_name(path, source, "synthetic"),
        description=_string(path, "description", data.get("description")) or "",
        paper=_paper(path, data.get("paper")),
        added=added,
        path=path,
        origin=origin,
    )


class _SpecLoader(yaml.SafeLoader):
    """The safe loader without anchors and aliases: a task spec never needs them, and nested
    aliases let a few hundred bytes expand to gigabytes (a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (& and *) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def read_spec(path: Path) -> str:
    """A spec file's text. Only a regular file of at most MAX_SPEC_BYTES is read (at most one
    byte more): a link to a device or an endless file must not hang the catalog."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: opening a pipe must not wait for a writer
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _fail(str(path), "not a regular file (a device, pipe or folder)")
        with os.fdopen(fd, "rb") as file:
            data = file.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise _fail(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_SPEC_BYTES:
        raise _fail(str(path), f"larger than {MAX_SPEC_BYTES // 1024} KiB: not a task spec")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_yaml(text: str, path: str) -> Any:
    """A spec's YAML, refused with the file named when it is invalid, uses aliases or nests
    deeper than the parser can follow."""
    try:
        if _C_LOADER is not None and not _has_anchors(text):
            # libyaml: a fifth of the window's start-up was this pure-Python parse of the
            # built-in specs. Its events were checked for anchors first, also in C.
            return yaml.load(text, Loader=_C_LOADER)  # noqa: S506 - a safe loader
        loader = _SpecLoader(text)  # says where the anchor is
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _fail(path, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise _fail(path, "not valid YAML: nested too deeply") from None


_C_LOADER = getattr(yaml, "CSafeLoader", None)


def _has_anchors(text: str) -> bool:
    """Whether the YAML has an anchor or an alias (its syntax errors are left to the load)."""
    if "&" not in text and "*" not in text:  # neither can be written without these
        return False
    try:
        for event in yaml.parse(text, Loader=_C_LOADER or yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                return True
    except yaml.YAMLError:
        return True  # the checking loader says what is wrong, and where
    return False


def load_task(path: Path, origin: str = "builtin") -> TaskSpec:
    spec = parse_task(parse_yaml(read_spec(path), str(path)), str(path), origin)
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


def _user_files(folder: Path) -> list[Path]:
    """The `*.yaml` files of one user folder, sorted (none when it is not a folder)."""
    return sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _load_user_task(path: Path) -> TaskSpec:
    """One user spec; whatever goes wrong is a TaskSpecError naming the file."""
    try:
        return load_task(path, origin="user")
    except TaskSpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - one user file must never stop the catalog
        raise _fail(str(path), f"cannot be read as a task: {type(exc).__name__}: {exc}") from None


def load_user_tasks(
    folders: list[Path], taken: dict[str, TaskSpec]
) -> tuple[list[TaskSpec], list[str]]:
    """User specs from `folders` (first folder wins a name), and why any file was left out."""
    specs: list[TaskSpec] = []
    problems: list[str] = []
    seen = dict(taken)
    for folder in folders:
        try:
            files = _user_files(folder)
        except OSError as exc:
            problems.append(f"{folder}: cannot read the folder: {exc.strerror or exc}")
            continue
        for path in files:
            try:
                spec = _load_user_task(path)
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
    """The catalog every command and the window use: built-in plus the user's library.

    Saves and removals that a kill interrupted are finished first, so no start reads a
    spec paired with another version's records.
    """
    from studio.core.tasks import library  # here: the library module is built on this one

    recovered = library.recover()
    catalog = merged_catalog(default_tasks_dir(), paths.user_task_dirs(extra_dirs))
    return Catalog(catalog.tasks, (*recovered, *catalog.problems))

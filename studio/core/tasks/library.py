"""The user's task library on disk: a spec per task in `STUDIO_HOME/tasks/` and its records in
`STUDIO_HOME/data/<name>/`. Records are staged, then saved with their spec through a journal
(`core/journal.py`), so a failure or a kill never pairs a spec with another version's records."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import uuid
from pathlib import Path

import yaml

from studio.core import journal, paths
from studio.core.errors import StudioError
from studio.core.importing.plan import ImportPlan, StageReport, check_name
from studio.core.tasks.formats import LABELLED_FORMATS
from studio.core.tasks.spec import TaskSpec, parse_task

STAGING = ".staging-"
REMOVING = ".removing-"  # `.removing-<pid>-<id>-<name>`: records set aside by `remove`


def new_staging(owner: int | None = None) -> Path:
    """A fresh hidden folder in the library's data folder (same file system as the target).

    `owner` is the pid of the process that will save or drop it (default: this one); the
    job process that fills it for the window names the window.
    """
    root = paths.library_data_dir()
    root.mkdir(parents=True, exist_ok=True)
    clean_stale(root)
    folder = root / f"{STAGING}{owner or os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def clean_stale(root: Path) -> list[str]:
    """Drop staging folders whose owner is gone; finish the saves and removals that a kill
    interrupted. Returns why any could not be finished."""
    for folder in root.glob(f"{STAGING}*"):
        if journal.owner_gone(folder):
            shutil.rmtree(folder, ignore_errors=True)
    problems = journal.recover(root, paths.user_tasks_dir())
    for folder in root.glob(f"{REMOVING}*"):
        if journal.owner_gone(folder):
            problems += _finish_removal(folder, root)
    return problems


def recover() -> list[str]:
    """What every start does before reading the library: `clean_stale` on its data folder."""
    root = paths.library_data_dir()
    return clean_stale(root) if root.is_dir() else []


def discard(folder: Path | str) -> None:
    """Drop a staging folder (the user cancelled, or its rows were refused)."""
    folder = Path(folder)
    if folder.name.startswith(STAGING):
        shutil.rmtree(folder, ignore_errors=True)


def spec_data(plan: ImportPlan, report: StageReport) -> dict[str, object]:
    """The YAML mapping of the task a plan made: the catalog's spec format, plus `added`
    (how it was made, which the wizard re-opens on Edit)."""
    spec = plan.spec(report.choices)
    data: dict[str, object] = {
        "name": spec.name,
        "title": spec.title,
        "family": spec.family,
        "format": spec.format,
    }
    if spec.format in LABELLED_FORMATS:
        data["labels"] = list(spec.labels)
    if spec.format == "multiple_choice":
        data["choices"] = spec.choices
    data["metric"] = spec.metric
    if spec.description:
        data["description"] = spec.description
    data["source"] = {"folder": f"../data/{spec.name}"}
    data["added"] = {
        "date": datetime.date.today().isoformat(),
        "from": plan.source.describe(),
        "sizes": dict(report.sizes),
        "skipped_rows": report.bad_rows,  # saved only when skipping was chosen
        "unlabelled_rows": report.unlabelled,
        "plan": plan.to_dict(),
    }
    return data


def check_free(name: str, catalog: dict[str, TaskSpec], replacing: str | None) -> None:
    """A new name must not be taken by a built-in task, another user task, or a library file
    that could not be read (it would be overwritten)."""
    check_name(name)  # first: an over-long name is no file name to look for
    spec = catalog.get(name)
    if name == replacing:
        return
    if spec is not None and spec.origin == "builtin":
        raise StudioError(f"'{name}' is a built-in task; choose another name")
    if spec is not None:
        raise StudioError(f"a task named '{name}' is already in your library ({spec.path})")
    path = paths.user_tasks_dir() / f"{name}.yaml"
    if path.exists():
        raise StudioError(f"{path} already exists (it cannot be read as a task); fix or remove it")


def commit(
    plan: ImportPlan,
    report: StageReport,
    catalog: dict[str, TaskSpec],
    skip_bad_rows: bool = False,
    replacing: str | None = None,
) -> Path:
    """Move staged records into the library and write the spec; returns the spec's path.

    Refused (and the staged records dropped) when rows were bad and skipping was not
    chosen. `replacing` names the user task being edited: it is replaced in one step.
    The journal (`core/journal.py`) saves spec and records together: a failure takes the
    save back, a kill is finished by the next start.
    """
    staged = Path(report.folder)
    tasks_dir, data_root = paths.user_tasks_dir(), paths.library_data_dir()
    spec_path = tasks_dir / f"{plan.name}.yaml"
    try:
        if report.bad_rows and not skip_bad_rows:
            first = "\n".join(str(p) for p in report.problems[:10])
            raise StudioError(
                f"{report.bad_rows} row(s) cannot become records; fix them or skip them.\n\n{first}"
            )
        if replacing is not None and replacing in catalog:
            problem = removable(catalog[replacing])
            if problem:
                raise StudioError(f"cannot replace it: {problem}")
        check_free(plan.name, catalog, replacing)
        text = yaml.safe_dump(spec_data(plan, report), sort_keys=False)
        parse_task(yaml.safe_load(text), str(spec_path), "user")  # never write an unreadable spec
    except StudioError:
        discard(staged)
        raise
    try:
        tasks_dir.mkdir(parents=True, exist_ok=True)
        saving = journal.begin(data_root, plan.name, text, staged)
    except OSError as exc:
        discard(staged)
        raise StudioError(f"cannot save task '{plan.name}' in {tasks_dir}: {exc}") from None
    try:
        journal.roll_forward(saving, data_root, tasks_dir)
    except OSError as exc:
        with contextlib.suppress(OSError):  # what is left, the next start finishes
            journal.roll_back(saving, data_root)
        raise StudioError(f"cannot save task '{plan.name}' in {tasks_dir}: {exc}") from None
    if replacing and replacing != plan.name and replacing in catalog:
        remove(catalog[replacing])
    return spec_path


def removable(spec: TaskSpec) -> str | None:
    """Why a task cannot be removed from the window, or None."""
    if spec.origin != "user":
        return f"'{spec.name}' is a built-in task"
    if Path(spec.path).parent != paths.user_tasks_dir():
        return f"'{spec.name}' is defined in {spec.path}; remove it there"
    return None


def _same_entry(folder: str, path: Path) -> bool:
    """Whether `folder` names the entry `path` itself (a link is not what it points to)."""
    here = Path(folder)
    return (
        Path(os.path.realpath(here.parent)) / here.name
        == Path(os.path.realpath(path.parent)) / path.name
    )


def remove(spec: TaskSpec) -> None:
    """Delete a user task's spec and, if the library holds them, its records.

    The records are first set aside (one rename: a link moves as a link), so the spec is
    deleted only once they are known to go; then they are dropped, a link only unlinked.
    """
    problem = removable(spec)
    if problem:
        raise StudioError(problem)
    root = paths.library_data_dir()
    data = root / spec.name
    aside = None
    if spec.folder and _same_entry(spec.folder, data) and os.path.lexists(data):
        aside = root / f"{REMOVING}{os.getpid()}-{uuid.uuid4().hex[:8]}-{spec.name}"
        try:
            data.rename(aside)
        except OSError as exc:
            raise StudioError(
                f"cannot remove the records of '{spec.name}' ({data}): {exc}"
            ) from None
    try:
        Path(spec.path).unlink(missing_ok=True)
    except OSError as exc:
        if aside is not None:
            aside.rename(data)
        raise StudioError(f"cannot remove {spec.path}: {exc}") from None
    if aside is not None:
        journal.drop(aside)


def _finish_removal(aside: Path, root: Path) -> list[str]:
    """A removal a kill interrupted: its records go back while the spec is still there,
    else they are dropped."""
    name = aside.name.split("-", 3)[-1]
    try:
        if (paths.user_tasks_dir() / f"{name}.yaml").exists() and not os.path.lexists(root / name):
            aside.rename(root / name)
        else:
            journal.drop(aside)
    except OSError as exc:
        return [f"{aside}: an interrupted removal could not be finished: {exc}"]
    return []

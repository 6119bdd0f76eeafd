"""The user's task library on disk: a spec per task in `STUDIO_HOME/tasks/` and its records in
`STUDIO_HOME/data/<name>/`. Records are staged and moved into place, and the spec file is
replaced last, so a failure or a kill never leaves a half-written task behind."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import time
import uuid
from pathlib import Path

import yaml

from studio.core import paths
from studio.core.errors import StudioError
from studio.core.formats import LABELLED_FORMATS
from studio.core.importing import ImportPlan, StageReport
from studio.core.processes import pid_alive
from studio.core.tasks import TaskSpec, parse_task

STAGING = ".staging-"
JOURNAL = ".saving-"
STALE_AFTER = 24 * 3600.0  # seconds: a staging folder this old is abandoned whoever owns it


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


def _abandoned(folder: Path) -> bool:
    pid = folder.name.split("-")[1]
    if not pid.isdigit():
        return False
    return not pid_alive(int(pid)) or time.time() - folder.stat().st_mtime > STALE_AFTER


def clean_stale(root: Path) -> None:
    """Drop staging folders whose owner is gone; undo saves that a kill interrupted."""
    for folder in root.glob(".*-*"):
        if folder.name.startswith(STAGING) and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
        elif folder.name.startswith(JOURNAL) and _abandoned(folder):
            _roll_back(folder, root)


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
    Replacing the spec file is the commit point; a journal folder lets a failure, or a
    later start after a kill, put the old records back before it.
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
    tasks_dir.mkdir(parents=True, exist_ok=True)
    journal = data_root / f"{JOURNAL}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        journal.mkdir()
        (journal / "name").write_text(plan.name, encoding="utf-8")
        (journal / "spec.yaml").write_text(text, encoding="utf-8")
        target = data_root / plan.name
        if target.exists():  # an edit, or records left by a kill before their spec was written
            target.rename(journal / "old")
        staged.rename(target)
        os.replace(journal / "spec.yaml", spec_path)  # the commit point
    except OSError as exc:
        _roll_back(journal, data_root)
        discard(staged)
        raise StudioError(f"cannot save task '{plan.name}' in {tasks_dir}: {exc}") from None
    shutil.rmtree(journal, ignore_errors=True)
    if replacing and replacing != plan.name and replacing in catalog:
        remove(catalog[replacing])
    return spec_path


def _roll_back(journal: Path, data_root: Path) -> None:
    """Undo a save that did not reach its commit point: the old records go back in place."""
    name_file = journal / "name"
    if (journal / "spec.yaml").exists() and name_file.exists():
        target = data_root / name_file.read_text(encoding="utf-8").strip()
        if (journal / "old").exists():
            shutil.rmtree(target, ignore_errors=True)
            (journal / "old").rename(target)
    shutil.rmtree(journal, ignore_errors=True)


def removable(spec: TaskSpec) -> str | None:
    """Why a task cannot be removed from the window, or None."""
    if spec.origin != "user":
        return f"'{spec.name}' is a built-in task"
    if Path(spec.path).parent != paths.user_tasks_dir():
        return f"'{spec.name}' is defined in {spec.path}; remove it there"
    return None


def remove(spec: TaskSpec) -> None:
    """Delete a user task's spec and, if the library holds them, its records."""
    problem = removable(spec)
    if problem:
        raise StudioError(problem)
    Path(spec.path).unlink(missing_ok=True)
    data = paths.library_data_dir() / spec.name
    if spec.folder and Path(spec.folder).resolve() == data.resolve():
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(data)

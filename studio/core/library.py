"""The user's task library on disk: a spec per task in `STUDIO_HOME/tasks/` and its records in
`STUDIO_HOME/data/<name>/`. Writes are staged and moved into place, so a failure or a kill
never leaves a half-written task behind."""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import uuid
from pathlib import Path

import yaml

from studio.core import paths
from studio.core.errors import StudioError
from studio.core.formats import LABELLED_FORMATS
from studio.core.importing import ImportPlan, StageReport
from studio.core.tasks import TaskSpec, parse_task

STAGING = ".staging-"
TRASH = ".trash-"


def new_staging() -> Path:
    """A fresh hidden folder in the library's data folder (same file system as the target)."""
    root = paths.library_data_dir()
    root.mkdir(parents=True, exist_ok=True)
    clean_stale(root)
    folder = root / f"{STAGING}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(root: Path) -> None:
    """Remove staging and trash folders left by processes that died mid-way."""
    for folder in root.glob(".*-*"):
        if not folder.name.startswith((STAGING, TRASH)):
            continue
        pid = folder.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def discard(folder: Path | str) -> None:
    """Drop a staging folder (the user cancelled, or its rows were refused)."""
    folder = Path(folder)
    if folder.name.startswith(STAGING):
        shutil.rmtree(folder, ignore_errors=True)


def spec_data(plan: ImportPlan, report: StageReport, skipped: int) -> dict[str, object]:
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
        "skipped_rows": skipped,
        "plan": plan.to_dict(),
    }
    return data


def check_free(name: str, catalog: dict[str, TaskSpec], replacing: str | None) -> None:
    """A new name must not be taken by a built-in task or another user task."""
    spec = catalog.get(name)
    if spec is None or name == replacing:
        return
    if spec.origin == "builtin":
        raise StudioError(f"'{name}' is a built-in task; choose another name")
    raise StudioError(f"a task named '{name}' is already in your library ({spec.path})")


def _write_atomic(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


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
        check_free(plan.name, catalog, replacing)
        text = yaml.safe_dump(spec_data(plan, report, report.bad_rows), sort_keys=False)
        parse_task(yaml.safe_load(text), str(spec_path), "user")  # never write an unreadable spec
    except StudioError:
        discard(staged)
        raise
    tasks_dir.mkdir(parents=True, exist_ok=True)
    target = data_root / plan.name
    trash = data_root / f"{TRASH}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    trash.mkdir()
    try:
        if target.exists():  # an edit, or records left by a kill before their spec was written
            target.rename(trash / "old")
        staged.rename(target)
        _write_atomic(spec_path, text)
    except OSError as exc:
        if not target.exists() and (trash / "old").exists():
            (trash / "old").rename(target)
        discard(staged)
        shutil.rmtree(trash, ignore_errors=True)
        raise StudioError(f"cannot save task '{plan.name}' in {tasks_dir}: {exc}") from None
    shutil.rmtree(trash, ignore_errors=True)
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

"""Saving a user task's spec and records together, or not at all.

A save first gathers the new records and the new spec in a journal folder beside the
records (`.saving-<pid>-<id>`). The spec's arrival in the journal is the commit point: from
then on, the records and then the spec are moved into place by steps that can each be
redone, so a kill is finished at the next start (`recover`), never left half done. A journal
without its spec is dropped: nothing in the library had changed yet. A failure while the
saving process lives takes the save back instead (`roll_back`).
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

from studio.core.processes import pid_alive

JOURNAL = ".saving-"
STALE_AFTER = 24 * 3600.0  # seconds: a folder this old is abandoned whoever owns it
NAME, SPEC, PART, NEW, OLD = "name", "spec.yaml", "spec.part", "new", "old"


def owner_gone(folder: Path) -> bool:
    """Whether the process named in a `.<kind>-<pid>-...` folder is gone (or it is stale)."""
    pid = folder.name.split("-")[1]
    if not pid.isdigit():
        return False
    try:
        return not pid_alive(int(pid)) or time.time() - folder.stat().st_mtime > STALE_AFTER
    except OSError:  # removed meanwhile by its owner
        return False


def drop(path: Path) -> None:
    """Delete a records folder, or only the link when it is one (never what it points to)."""
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path)


def _name(journal: Path) -> str:
    name = (journal / NAME).read_text(encoding="utf-8").strip()
    if not name or name.startswith(".") or Path(name).name != name:
        raise OSError(f"the journal names no task ({name!r})")
    return name


def begin(data_root: Path, name: str, spec_text: str, staged: Path) -> Path:
    """A journal holding the staged records and the spec: the save is committed on return."""
    journal = data_root / f"{JOURNAL}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        journal.mkdir()
        (journal / NAME).write_text(name, encoding="utf-8")
        staged.rename(journal / NEW)
        (journal / PART).write_text(spec_text, encoding="utf-8")
        (journal / PART).rename(journal / SPEC)  # the commit point
    except OSError:
        shutil.rmtree(journal, ignore_errors=True)
        raise
    return journal


def roll_forward(journal: Path, data_root: Path, tasks_dir: Path) -> None:
    """Move a committed journal's records, then its spec, into place. Every step can be
    redone after a kill at any point, and each state in between is finished the same way."""
    name = _name(journal)
    target, new, old = data_root / name, journal / NEW, journal / OLD
    if new.exists():
        if os.path.lexists(target):
            if os.path.lexists(old):  # only when a save of the same task ran meanwhile
                drop(target)
            else:
                target.rename(old)
        new.rename(target)
    if (journal / SPEC).exists():
        os.replace(journal / SPEC, tasks_dir / f"{name}.yaml")
    shutil.rmtree(journal, ignore_errors=True)


def roll_back(journal: Path, data_root: Path) -> None:
    """Take back a save whose spec did not reach its place: the new records go back into the
    journal first, so a kill during this leaves a state `recover` finishes consistently."""
    name = _name(journal)
    target, new, old = data_root / name, journal / NEW, journal / OLD
    if (journal / SPEC).exists() and not new.exists() and os.path.lexists(target):
        target.rename(new)  # the new records were in place: back into the journal
    if os.path.lexists(old):
        old.rename(target)
    (journal / SPEC).unlink(missing_ok=True)
    shutil.rmtree(journal, ignore_errors=True)


def recover(data_root: Path, tasks_dir: Path) -> list[str]:
    """Finish the saves a kill interrupted (their owner is gone); why any could not be."""
    problems: list[str] = []
    for journal in sorted(data_root.glob(f"{JOURNAL}*")) if data_root.is_dir() else []:
        if not owner_gone(journal):
            continue
        try:
            _recover(journal, data_root, tasks_dir)
        except OSError as exc:
            problems.append(f"{journal}: an interrupted save could not be finished: {exc}")
    return problems


def _recover(journal: Path, data_root: Path, tasks_dir: Path) -> None:
    if not (journal / SPEC).exists():  # not committed, or done: the library is consistent
        shutil.rmtree(journal, ignore_errors=True)
        return
    target = data_root / _name(journal)
    if (journal / NEW).exists() or os.path.lexists(target):
        tasks_dir.mkdir(parents=True, exist_ok=True)
        roll_forward(journal, data_root, tasks_dir)
    else:  # the records are gone (a journal of an older studio): keep the old task
        roll_back(journal, data_root)

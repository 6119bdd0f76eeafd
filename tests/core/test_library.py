"""The user's task library: the merged catalog, saving staged records, editing and removing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.core import paths
from studio.core.errors import StudioError
from studio.core.importing.plan import (
    ImportPlan,
    RowProblem,
    SourceRef,
    StageReport,
    edit_plan,
    suggest_name,
)
from studio.core.tasks import library
from studio.core.tasks.availability import resolve
from studio.core.tasks.spec import default_tasks_dir, load_catalog, studio_catalog

BUILTIN = load_catalog(default_tasks_dir())
RECORDS = [{"text": "good", "label": 1}, {"text": "bad", "label": 0}]


def _plan(name: str = "mine", source: str = "/data/mine.csv") -> ImportPlan:
    return ImportPlan(
        name=name,
        format="classification",
        source=SourceRef("files", source),
        columns={"text": ("review",), "label": ("stars",)},
        label_values=("1", "5"),
        labels=("bad", "good"),
        title="My reviews",
    )


def _staged(bad_rows: int = 0) -> StageReport:
    folder = library.new_staging()
    for split in ("train", "validation"):
        lines = "".join(json.dumps(r) + "\n" for r in RECORDS)
        (folder / f"{split}.jsonl").write_text(lines, encoding="utf-8")
    problems = [RowProblem("mine.csv", 3, "stars", "is blank")] * bad_rows
    return StageReport(str(folder), {"train": 2, "validation": 2}, bad_rows, problems)


def _leftovers() -> list[str]:
    root = paths.library_data_dir()
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) if root.exists() else []


def test_a_saved_task_joins_the_catalog_as_a_user_task(tmp_path: Path) -> None:
    spec_path = library.commit(_plan(), _staged(bad_rows=1), BUILTIN, skip_bad_rows=True)
    assert spec_path == paths.user_tasks_dir() / "mine.yaml"
    loaded = studio_catalog()
    spec = loaded.tasks["mine"]
    assert spec.origin == "user" and spec.is_user and loaded.problems == ()
    assert loaded.tasks["rte"].origin == "builtin"
    assert spec.labels == ("bad", "good") and spec.title == "My reviews"
    assert Path(spec.folder or "") == paths.library_data_dir() / "mine"
    assert spec.added is not None and spec.added["skipped_rows"] == 1
    assert spec.added["from"] == "/data/mine.csv"
    assert ImportPlan.from_dict(spec.added["plan"]) == _plan()
    where = resolve(spec, None, tmp_path)
    assert where.available and where.train_size == 2
    assert _leftovers() == []


def test_bad_rows_refuse_the_save_and_leave_nothing(tmp_path: Path) -> None:
    report = _staged(bad_rows=2)
    with pytest.raises(StudioError, match=r"(?s)2 row\(s\) cannot become records.*mine.csv, row 3"):
        library.commit(_plan(), report, BUILTIN)
    assert not Path(report.folder).exists() and _leftovers() == []
    assert not (paths.user_tasks_dir() / "mine.yaml").exists()


@pytest.mark.parametrize(("name", "message"), [("rte", "built-in task"), ("mine", "already in")])
def test_a_taken_name_is_refused(name: str, message: str) -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    with pytest.raises(StudioError, match=message):
        library.commit(_plan(name), _staged(), studio_catalog().tasks)
    assert _leftovers() == []


def test_editing_replaces_records_and_a_rename_drops_the_old_task() -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    catalog = studio_catalog().tasks
    library.commit(_plan("renamed"), _staged(), catalog, replacing="mine")
    after = studio_catalog().tasks
    assert "renamed" in after and "mine" not in after
    assert not (paths.library_data_dir() / "mine").exists()
    library.commit(_plan("renamed"), _staged(), after, replacing="renamed")  # in place
    assert studio_catalog().tasks["renamed"].added is not None
    assert _leftovers() == []


def test_a_failed_save_keeps_the_old_task(monkeypatch: pytest.MonkeyPatch) -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    old = (paths.library_data_dir() / "mine" / "train.jsonl").read_text()
    spec_text = (paths.user_tasks_dir() / "mine.yaml").read_text()
    real = os.replace

    def full_disk(source: object, target: object) -> None:
        if str(target).endswith("mine.yaml"):
            raise OSError(28, "No space left on device")
        real(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(library.os, "replace", full_disk)
    edited = _plan().replace(labels=("good", "bad"))
    with pytest.raises(StudioError, match="No space left"):
        library.commit(edited, _staged(), studio_catalog().tasks, replacing="mine")
    assert (paths.library_data_dir() / "mine" / "train.jsonl").read_text() == old
    assert (paths.user_tasks_dir() / "mine.yaml").read_text() == spec_text
    assert studio_catalog().tasks["mine"].labels == ("bad", "good") and _leftovers() == []


class Killed(BaseException):
    """What a kill does to a save: it stops between two steps, and nothing runs after."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, step: int) -> list[int]:
    """Stop the save at its `step`-th rename (1-based); returns the count of renames seen."""
    seen = [0]
    real_rename, real_replace = os.rename, os.replace

    def counted(real: Any) -> Any:
        def move(source: Any, target: Any) -> None:
            seen[0] += 1
            if seen[0] == step:
                raise Killed
            real(source, target)

        return move

    monkeypatch.setattr(os, "rename", counted(real_rename))
    monkeypatch.setattr(os, "replace", counted(real_replace))
    return seen


def _as_if_dead(root: Path) -> None:
    """Give this process's leftovers a dead owner, as a later start finds them."""
    for folder in root.glob(f".*-{os.getpid()}-*"):
        folder.rename(root / folder.name.replace(f"-{os.getpid()}-", "-999999999-", 1))


def _new_records() -> StageReport:
    report = _staged()
    for split in ("train", "validation"):
        (Path(report.folder) / f"{split}.jsonl").write_text('{"text": "new", "label": 0}\n')
    return report


@pytest.mark.parametrize("step", range(1, 6))
def test_a_replace_killed_at_any_step_is_finished_or_undone_at_the_next_start(
    step: int,
) -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    root = paths.library_data_dir()
    edited = _plan().replace(labels=("good", "bad"))  # flipped: a wrong pairing shows
    catalog, report = studio_catalog().tasks, _new_records()
    with pytest.MonkeyPatch.context() as patch, pytest.raises(Killed):
        seen = _kill_at(patch, step)
        library.commit(edited, report, catalog, replacing="mine")
    assert seen[0] == step
    _as_if_dead(root)
    loaded = studio_catalog()  # any start
    spec = loaded.tasks["mine"]
    records = (root / "mine" / "train.jsonl").read_text()
    assert loaded.problems == ()
    assert (spec.labels == ("good", "bad")) == ('"new"' in records)
    assert spec.labels == (("bad", "good") if step <= 2 else ("good", "bad"))
    assert _leftovers() == []


@pytest.mark.parametrize("step", [5, 6])
def test_a_failed_save_killed_while_it_is_taken_back_is_consistent_at_the_next_start(
    step: int,
) -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    root = paths.library_data_dir()
    edited = _plan().replace(labels=("good", "bad"))
    catalog, report = studio_catalog().tasks, _new_records()
    with pytest.MonkeyPatch.context() as patch, pytest.raises(Killed):
        _kill_at(patch, step)  # 4 renames save, then the spec cannot be written

        def full_disk(source: Any, target: Any) -> None:
            raise OSError(28, "No space left on device")

        patch.setattr(os, "replace", full_disk)
        library.commit(edited, report, catalog, replacing="mine")
    _as_if_dead(root)
    loaded = studio_catalog()
    records = (root / "mine" / "train.jsonl").read_text()
    assert (loaded.tasks["mine"].labels == ("good", "bad")) == ('"new"' in records)
    assert loaded.problems == () and _leftovers() == []


def test_a_journal_is_left_alone_while_its_save_runs() -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    root = paths.library_data_dir()
    running = root / f".saving-{os.getpid()}-live"
    running.mkdir()
    (running / "name").write_text("mine")
    (running / "spec.yaml").write_text("name: mine\n")
    assert studio_catalog().problems == () and running.exists()


def test_a_journal_of_an_older_studio_keeps_the_old_task_when_records_are_gone() -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    root = paths.library_data_dir()
    old = (root / "mine" / "train.jsonl").read_text()
    # An older save, killed after it set the old records aside and before the new moved in.
    journal = root / ".saving-999999999-dead"
    journal.mkdir()
    (journal / "name").write_text("mine")
    (journal / "spec.yaml").write_text("name: mine\n")
    (root / "mine").rename(journal / "old")
    library.new_staging()  # any later save cleans up first
    assert (root / "mine" / "train.jsonl").read_text() == old
    assert not journal.exists() and studio_catalog().tasks["mine"].labels == ("bad", "good")


def test_remove_deletes_spec_and_records_but_not_builtin_tasks() -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    spec = studio_catalog().tasks["mine"]
    library.remove(spec)
    assert "mine" not in studio_catalog().tasks
    assert not (paths.library_data_dir() / "mine").exists()
    with pytest.raises(StudioError, match="built-in"):
        library.remove(BUILTIN["rte"])


def test_remove_unlinks_a_linked_data_folder_and_keeps_what_it_points_to(
    tmp_path: Path,
) -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    data = paths.library_data_dir() / "mine"
    elsewhere = tmp_path / "kept"
    data.rename(elsewhere)
    data.symlink_to(elsewhere, target_is_directory=True)
    library.remove(studio_catalog().tasks["mine"])
    assert not os.path.lexists(data) and (elsewhere / "train.jsonl").is_file()
    assert "mine" not in studio_catalog().tasks and _leftovers() == []


def test_a_remove_whose_records_cannot_go_keeps_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    library.commit(_plan(), _staged(), BUILTIN)

    def refused(source: Any, target: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "rename", refused)
    with pytest.raises(StudioError, match="Permission denied"):
        library.remove(studio_catalog().tasks["mine"])
    monkeypatch.setattr(os, "rename", os.replace)
    assert studio_catalog().tasks["mine"].labels == ("bad", "good")
    assert (paths.library_data_dir() / "mine" / "train.jsonl").is_file()


def test_a_remove_killed_before_the_spec_went_keeps_the_task() -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    root = paths.library_data_dir()

    def killed(*_: Any, **__: Any) -> None:
        raise Killed

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Killed):
        patch.setattr(Path, "unlink", killed)  # the records are set aside, the spec stays
        library.remove(studio_catalog().tasks["mine"])
    _as_if_dead(root)
    assert (studio_catalog().tasks["mine"].folder or "") == str(root / "mine")
    assert (root / "mine" / "train.jsonl").is_file() and _leftovers() == []


def test_broken_and_clashing_user_files_are_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = paths.user_tasks_dir()
    mine.mkdir(parents=True)
    (mine / "broken.yaml").write_text("name: broken\nformat: [nope\n")
    (mine / "rte.yaml").write_text((default_tasks_dir() / "rte.yaml").read_text())
    (mine / "nolabels.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "nolabels",
                "family": "classification",
                "format": "classification",
                "source": {"folder": "x"},
            }
        )  # fmt: skip
    )
    shared = tmp_path / "team"
    shared.mkdir()
    (shared / "extra.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "extra",
                "family": "summarization",
                "format": "summarization",
                "source": {"folder": "./extra"},
            }
        )  # fmt: skip
    )
    monkeypatch.setenv("STUDIO_TASKS_DIR", str(shared))
    loaded = studio_catalog()
    text = "\n".join(loaded.problems)
    assert "broken.yaml: not valid YAML" in text
    assert "rte.yaml: name 'rte' is already a built-in task" in text
    assert "nolabels.yaml" in text and "labels" in text
    assert loaded.tasks["rte"].origin == "builtin" and len(loaded.problems) == 3
    extra = loaded.tasks["extra"]
    assert extra.origin == "user" and extra.folder == str(shared / "extra")
    assert library.removable(extra) is not None  # lives in the team's folder, not the library
    assert set(BUILTIN) < set(loaded.tasks)


def test_stale_staging_of_dead_processes_is_cleaned() -> None:
    root = paths.library_data_dir()
    dead = root / ".staging-999999999-abc"
    dead.mkdir(parents=True)
    alive = root / f".staging-{os.getpid()}-abc"
    alive.mkdir()
    library.new_staging()
    assert not dead.exists() and alive.exists()


def test_suggested_names_are_valid_and_free() -> None:
    assert suggest_name(SourceRef("files", "/x/My Reviews.v2.csv"), set()) == "my_reviews"
    assert suggest_name(SourceRef("hub", "stanfordnlp/imdb"), {"imdb"}) == "imdb_2"
    assert suggest_name(SourceRef("folder", "/x/2024-data/"), set()) == "task_2024_data"


def test_edit_reopens_the_plan_or_falls_back_to_the_records(tmp_path: Path) -> None:
    source = tmp_path / "mine.csv"
    source.write_text("review,stars\ngood,5\n")
    library.commit(_plan(source=str(source)), _staged(), BUILTIN)
    assert edit_plan(studio_catalog().tasks["mine"]).source.path == str(source)
    source.unlink()  # the original file moved away: edit the library's own records
    plan = edit_plan(studio_catalog().tasks["mine"])
    assert plan.source.path.endswith("data/mine/train.jsonl")
    assert plan.columns == {"text": ("text",), "label": ("label",)}
    assert plan.label_values == ("0", "1") and plan.labels == ("bad", "good")


@pytest.mark.parametrize("plan", [{"columns": 5}, {"source": "x"}, {"source": {"kind": "ftp"}}])
def test_a_hand_edited_plan_that_is_broken_is_named(plan: dict[str, Any]) -> None:
    library.commit(_plan(), _staged(), BUILTIN)
    spec = studio_catalog().tasks["mine"]
    stored = {**(spec.added or {})["plan"], **plan}
    with pytest.raises(StudioError):
        ImportPlan.from_dict(stored)

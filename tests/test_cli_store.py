"""`--store`: a mistyped path is an error, and commands that only read never create a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.store import RunStore

RUN = "20250101-120000-abcd"

READING = {
    "runs": ["runs"],
    "results": ["results", RUN],
    "report": ["report", RUN, "{out}/r.html"],
    "export-metrics": ["export-metrics", RUN, "{out}/m.csv"],
    "export": ["export", RUN, "{out}/model"],
    "resume": ["resume", RUN],
    "queue list": ["queue", "list"],
    "queue run": ["queue", "run"],
}


def _args(words: list[str], out: Path, store: Path | None) -> list[str]:
    args = [w.format(out=out) for w in words]
    return [*args, "--store", str(store)] if store is not None else args


@pytest.mark.parametrize("command", sorted(READING))
def test_a_reading_command_with_a_mistyped_folder_creates_nothing(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "experiements" / "studio.db"
    assert main(_args(READING[command], tmp_path, typo)) == 2
    assert not typo.parent.exists()
    error = capsys.readouterr().err
    assert f"no run store at {typo}" in error and "does not exist" in error


@pytest.mark.parametrize("command", sorted(READING))
def test_a_reading_command_never_creates_a_missing_store_file(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    assert main(_args(READING[command], tmp_path, missing)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_default_store_is_not_created_by_reading(
    studio_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A fresh STUDIO_HOME simply has no runs yet; `runs` says so and creates nothing.
    assert main(["runs"]) == 0 and "no runs yet" in capsys.readouterr().out
    assert main(["runs", "--json"]) == 0 and capsys.readouterr().out.strip() == "[]"
    assert main(["results", "20260101-000000-abcd"]) == 2
    assert not (studio_home / "studio.db").exists()


def test_a_reading_command_reads_an_existing_store(tmp_path: Path) -> None:
    with RunStore(tmp_path / "studio.db"):
        pass
    assert main(["runs", "--store", str(tmp_path / "studio.db")]) == 0


def test_training_into_a_mistyped_folder_is_refused(tmp_path: Path) -> None:
    typo = tmp_path / "experiements" / "nested" / "studio.db"
    assert main(["demo", "--steps", "1", "--store", str(typo)]) == 2
    assert not (tmp_path / "experiements").exists()


def test_a_missing_store_opened_to_read_names_the_file(tmp_path: Path) -> None:
    from studio.store import NoStore

    with pytest.raises(NoStore, match="typo.db"):
        RunStore(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()

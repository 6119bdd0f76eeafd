"""Nothing outside the store's own run folders is ever removed, and nothing the studio keeps is
ever written over by a report or a metric table (a store may come from someone else)."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.cli.commands import main
from studio.core import paths
from studio.core.files import OutputExists, OutputRefused
from studio.core.paths import UnsafeRunId, run_dir
from studio.core.sink import MetricRow
from studio.store import RunStore
from studio.store.report_data import write_report
from studio.store.tables import export_metrics


def _hostile(store: RunStore, run_id: str) -> None:
    """A run row with `run_id`, as a store edited by someone else may hold it."""
    with store.transaction():
        store._conn.execute(
            "INSERT INTO runs (id, name, kind, status, config, base_model, created, step)"
            " VALUES (?, 'x', 'pretrain', 'finished', '{}', 'm', 0, 0)",
            [run_id],
        )


@pytest.mark.parametrize(
    "run_id", ["..", "../../victim", "/tmp", "a/b", "", "20260101-000000-ab/.."]
)
def test_an_id_not_of_the_generated_pattern_names_no_folder(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(UnsafeRunId, match="not a run id"):
        run_dir(tmp_path / "studio.db", run_id)


def test_deleting_hostile_ids_removes_their_rows_and_nothing_on_disk(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    store = RunStore(home / "studio.db")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    good = store.create_run("good", "pretrain", {}, "m")
    (run_dir(store.path, good) / "checkpoints").mkdir(parents=True)
    for bad in ("..", "../../victim", "../runs"):
        _hostile(store, bad)
    assert store.delete_runs(["..", "../../victim", "../runs", good]) == []
    assert (victim / "keep.txt").read_text() == "mine"
    assert (home / "studio.db").exists() and (home / "runs").is_dir()
    assert not run_dir(store.path, good).exists()
    assert store.list_runs() == []
    store.close()


def test_a_run_folder_that_is_a_link_is_unlinked_not_followed(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home" / "studio.db")
    run_id = store.create_run("r", "pretrain", {}, "m")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    folder = run_dir(store.path, run_id)
    folder.parent.mkdir(parents=True)
    folder.symlink_to(elsewhere)
    store.delete_runs([run_id])
    assert not folder.is_symlink() and (elsewhere / "keep.txt").exists()
    store.close()


def test_an_id_with_no_row_removes_nothing(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "studio.db")
    orphan = run_dir(store.path, "20260101-000000-abcd")
    orphan.mkdir(parents=True)
    store.delete_runs(["20260101-000000-abcd"])
    assert orphan.is_dir()
    store.close()


@pytest.fixture
def finished(store: RunStore) -> str:
    run_id = store.create_run("done", "pretrain", {"tasks": ["rte"]}, "m")
    store.add_metrics(run_id, [MetricRow(1, "total_loss", 0.5)])
    return run_id


def _targets(store: RunStore, run_id: str) -> list[Path]:
    checkpoint = run_dir(store.path, run_id) / "checkpoints" / "step-1"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"weights")
    paths.user_tasks_dir().mkdir(parents=True, exist_ok=True)
    spec = paths.user_tasks_dir() / "mine.yaml"
    spec.write_text("name: mine")
    link = store.path.parent / "innocent.html"
    link.symlink_to(store.path)
    return [store.path, Path(f"{store.path}-wal"), checkpoint / "model.safetensors", spec, link]


def test_reports_and_tables_never_write_over_the_studios_files(
    store: RunStore, finished: str
) -> None:
    for target in _targets(store, finished):
        before = target.read_bytes() if target.exists() else None
        with pytest.raises(OutputRefused, match="part of"):
            write_report(store.path, finished, target, force=True)
        with pytest.raises(OutputRefused, match="part of"):
            export_metrics(store.path, [finished], "csv", target, force=True)
        assert (target.read_bytes() if target.exists() else None) == before
    assert store.integrity_check() == "ok"


def test_an_existing_file_is_replaced_only_when_asked(
    store: RunStore, finished: str, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    out.write_text("mine")
    with pytest.raises(OutputExists, match="--force"):
        write_report(store.path, finished, out)
    assert out.read_text() == "mine"
    write_report(store.path, finished, out, force=True)
    assert "done" in out.read_text()
    table = tmp_path / "out" / "rows.csv"
    table.write_text("mine")
    with pytest.raises(OutputExists):
        export_metrics(store.path, [finished], "csv", table)
    assert export_metrics(store.path, [finished], "csv", table, force=True) == 1
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_leaves_the_old_file_whole(
    store: RunStore, finished: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    out = tmp_path / "report.html"
    out.write_text("the old report")

    def full(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(Exception, match="disk holding .* is full"):
        write_report(store.path, finished, out, force=True)
    monkeypatch.undo()
    assert out.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_the_commands_refuse_the_store_and_take_force(
    store: RunStore, finished: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = store.path.read_bytes()
    assert main(["report", finished, str(store.path), "--store", str(store.path)]) != 0
    assert "part of the run store" in capsys.readouterr().err
    assert store.path.read_bytes() == before
    out = tmp_path / "m.csv"
    out.write_text("x")
    assert main(["export-metrics", finished, str(out), "--store", str(store.path)]) != 0
    assert "--force" in capsys.readouterr().err
    assert main(["export-metrics", finished, str(out), "--store", str(store.path), "--force"]) == 0

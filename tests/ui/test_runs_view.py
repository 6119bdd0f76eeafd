"""The Runs tab: the table of runs, filtering, and what the buttons do with the selection."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from studio.core.paths import checkpoints_dir, run_dir
from studio.core.sink import MetricRow
from studio.store.runs import RunStore
from studio.ui.runs.config_diff import ConfigDiffTable, config_differences
from studio.ui.runs.view import RunsView
from tests.ui.helpers import state_for


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "studio.db"


@pytest.fixture
def runs(store_path: Path) -> dict[str, str]:
    """A finished and a stopped pre-finetuning run, a transfer and one of its fine-tunings."""
    with RunStore(store_path) as store:
        ids = {
            "muppet": store.create_run(
                "muppet", "pretrain", {"tasks": ["rte", "cola"], "seed": 1}, "minilm", max_steps=9
            ),
            "stopped": store.create_run(
                "halfway", "pretrain", {"tasks": ["rte"], "seed": 2}, "minilm", max_steps=9
            ),
            "transfer": store.create_run(
                "transfer", "transfer", {"targets": ["mrpc", "copa", "boolq"]}, "minilm"
            ),
        }
        checkpoint = checkpoints_dir(store_path, ids["muppet"]) / "step-9"
        checkpoint.mkdir(parents=True)
        ids["finetune"] = store.create_run(
            "finetune mrpc k=32 seed 0", "finetune", {"task": "mrpc"}, str(checkpoint)
        )
        store.add_metrics(ids["muppet"], [MetricRow(5, "eval_mean", 0.61),
                                          MetricRow(9, "eval_mean", 0.72)])  # fmt: skip
        store.add_metrics(ids["finetune"], [MetricRow(3, "eval_mean", 0.4)])
        store.update_run(ids["muppet"], step=9)
        store.update_run(ids["stopped"], step=4)
        for key in ("muppet", "transfer", "finetune"):
            store.set_status(ids[key], "finished")
        store.set_status(ids["stopped"], "stopped")
    return ids


@pytest.fixture
def view(qtbot, store_path: Path, runs: dict[str, str]) -> RunsView:
    widget = RunsView(state_for(store_path).store)
    qtbot.addWidget(widget)
    return widget


def _cells(view: RunsView, run_id: str) -> dict[str, str]:
    model = view.model
    for row in range(model.rowCount()):
        if model.index(row, 0).data(Qt.ItemDataRole.UserRole + 1) == run_id:
            return {
                model.horizontalHeaderItem(c).text(): model.index(row, c).data()
                for c in range(model.columnCount())
            }
    raise AssertionError(f"{run_id} is not in the table")


def test_the_table_describes_every_kind_of_run(view: RunsView, runs: dict[str, str]) -> None:
    assert set(view.visible_ids()) == set(runs.values())
    muppet = _cells(view, runs["muppet"])
    assert (muppet["Status"], muppet["Tasks"], muppet["Steps"]) == ("finished", "2", "9 / 9")
    assert muppet["Best mean"] == "0.7200"
    assert _cells(view, runs["transfer"])["Tasks"] == "3"  # its targets
    finetune = _cells(view, runs["finetune"])
    assert finetune["Tasks"] == "1" and finetune["Best mean"] == "0.4000"
    assert finetune["Base model"] == f"{runs['muppet']} step-9"  # the source checkpoint


def test_kind_and_search_filter_the_rows(view: RunsView, runs: dict[str, str]) -> None:
    view.show_kind("pretrain")
    assert set(view.visible_ids()) == {runs["muppet"], runs["stopped"]}
    view.search_edit.setText("HALF")
    assert view.visible_ids() == [runs["stopped"]]
    view.show_kind("")
    view.search_edit.setText(runs["finetune"])  # an id matches too
    assert view.visible_ids() == [runs["finetune"]]
    view.search_edit.clear()
    assert len(view.visible_ids()) == 4
    with pytest.raises(ValueError, match="unknown run kind"):
        view.show_kind("pretrian")


def test_a_filtered_out_row_leaves_the_selection(view: RunsView, runs: dict[str, str]) -> None:
    view.select([runs["stopped"]])
    assert view.buttons["resume"].isEnabled() and view.buttons["delete"].isEnabled()
    view.show_kind("transfer")
    assert view.selected() == []
    assert not view.buttons["resume"].isEnabled() and not view.buttons["delete"].isEnabled()


def test_open_overlay_and_resume_emit_the_selection(
    qtbot, view: RunsView, runs: dict[str, str]
) -> None:
    view.select([runs["stopped"]])
    assert view.buttons["resume"].isEnabled() and not view.buttons["overlay"].isEnabled()
    with qtbot.waitSignal(view.resumeRun) as resumed:
        view.buttons["resume"].click()
    assert resumed.args == [runs["stopped"]]
    with qtbot.waitSignal(view.openRuns) as opened:
        view.buttons["open"].click()
    assert opened.args == [[runs["stopped"]]]

    view.table.clearSelection()
    view.select([runs["muppet"]])
    assert not view.buttons["resume"].isEnabled()  # finished: nothing to resume
    view.select([runs["stopped"]])  # adds to the selection
    assert view.buttons["overlay"].isEnabled() and view.buttons["compare"].isEnabled()
    with qtbot.waitSignal(view.openRuns) as opened:
        view.buttons["overlay"].click()
    assert set(opened.args[0]) == {runs["stopped"], runs["muppet"]}


def test_config_differences_list_only_what_differs(view: RunsView, runs: dict[str, str]) -> None:
    configs = {i: view.runs[i].config for i in (runs["muppet"], runs["stopped"])}
    assert config_differences(configs) == {"seed": [1, 2], "tasks": [["rte", "cola"], ["rte"]]}
    table = ConfigDiffTable({i: view.runs[i] for i in configs}, view).table
    assert table.rowCount() == 2
    assert table.item(0, 0).text() == "1" and table.item(1, 0).text() == "rte, cola"


def test_delete_removes_runs_with_their_folders(
    view: RunsView, runs: dict[str, str], store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = run_dir(store_path, runs["muppet"])
    assert folder.is_dir()
    asked: list[str] = []
    answer = QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QMessageBox, "question", lambda *args: asked.append(args[2]) or answer)
    view.select([runs["muppet"]])
    assert view.buttons["delete"].isEnabled()
    view.buttons["delete"].click()
    assert asked == ["Delete 1 run(s) with their metrics and checkpoints?"]
    assert runs["muppet"] not in view.visible_ids() and not folder.exists()
    with RunStore(store_path) as store:
        assert runs["muppet"] not in {r.id for r in store.list_runs()}
        assert store.metrics_after(0, runs["muppet"]) == []
    answer = QMessageBox.StandardButton.No  # a refused question deletes nothing
    view.select([runs["stopped"]])
    assert view.buttons["delete"].isEnabled()
    view.buttons["delete"].click()
    assert len(asked) == 2 and runs["stopped"] in view.visible_ids()
    with RunStore(store_path) as store:
        assert store.get_run(runs["stopped"]).status == "stopped"


@pytest.mark.process
def test_the_tab_follows_runs_other_processes_start_and_refuses_to_delete_a_live_one(
    view: RunsView, runs: dict[str, str], store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    # Another process resumes the stopped run (its claim makes it `running`, owned by it).
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with RunStore(store_path) as store:
            store.set_status(runs["stopped"], "running")
            store.update_run(runs["stopped"], pid=owner.pid)
        view.select([runs["stopped"]])
        assert view.buttons["delete"].isEnabled()  # what the tab knew before it looked again
        # The user clicks Delete before the tab's next poll: the store refuses in its transaction.
        warned: list[str] = []
        monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
        monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
        view.buttons["delete"].click()
        assert f"process {owner.pid}" in warned[0] and "stop it before deleting it" in warned[0]
        assert run_dir(store_path, runs["muppet"]).is_dir()
        assert _cells(view, runs["stopped"])["Status"] == "running"  # refreshed after the refusal
        assert not view.buttons["delete"].isEnabled()
        with RunStore(store_path) as store:
            store.update_run(runs["stopped"], step=7)
        assert view.watcher.poll() is True and _cells(view, runs["stopped"])["Steps"] == "7 / 9"
        assert view.watcher.poll() is False
    finally:
        owner.kill()
        owner.wait()
    assert view.watcher.poll() is True  # its process is gone: interrupted, and deletable again
    assert _cells(view, runs["stopped"])["Status"] == "interrupted"
    view.select([runs["stopped"]])
    assert view.buttons["delete"].isEnabled()


def test_an_empty_store_says_what_to_do(qtbot, tmp_path: Path) -> None:
    widget = RunsView(state_for(tmp_path / "empty.db").store)
    qtbot.addWidget(widget)
    assert widget.pages.currentWidget() is widget.empty
    assert "holds no run" in widget.empty.text.text() and "Start" in widget.empty.text.text()
    with qtbot.waitSignal(widget.demoRequested):
        widget.empty.buttons["Try the demo"].click()
    with RunStore(tmp_path / "empty.db") as store:
        store.create_run("first", "pretrain", {"tasks": ["rte"]}, "tiny", status="running")
    assert widget.watcher.poll()  # a run came: the table shows
    assert widget.pages.currentWidget() is not widget.empty

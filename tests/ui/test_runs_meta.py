"""The Runs tab's filter bar, tag chips, right-click menu, details and Compare view."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QInputDialog

from studio.core.manifest import Manifest, TaskData
from studio.core.paths import run_dir
from studio.core.sink import MetricRow
from studio.store.runs import RunStore
from studio.ui.runs.view import COLUMNS, RunsView
from tests.ui.helpers import state_for


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "studio.db"


@pytest.fixture
def runs(store_path: Path) -> dict[str, str]:
    """Three pre-finetuning runs with validation rows and a fine-tuning."""
    with RunStore(store_path) as store:
        ids = {}
        for i, name in enumerate(("alpha", "beta", "gamma")):
            config = {"tasks": ["rte", "cola"][: 1 + i % 2], "learning_rate": 1e-4 * (i + 1),
                      "seed": i, "mixing": "heterogeneous"}  # fmt: skip
            ids[name] = store.create_run(name, "pretrain", config, "minilm", status="finished")
            store.add_metrics(ids[name], [
                MetricRow(5, "eval_accuracy", 0.5 + i / 10, "rte"),
                MetricRow(9, "eval_accuracy", 0.55 + (i % 2) / 10, "rte"),
                MetricRow(9, "eval_mean", 0.3 + i / 20),
            ])  # fmt: skip
        ids["ft"] = store.create_run("probe", "finetune", {"task": "mrpc"}, "bert-base")
        store.set_status(ids["ft"], "stopped")
        store.tag(ids["alpha"], ["paper"])
        store.add_manifest(
            ids["alpha"],
            Manifest("0.1.0", "3.11.9", {"torch": "2.5.1"}, "Linux", "cpu", 0, {"seed": 0},
                     {"rte": TaskData("local", "sha1:beef")}),
        )  # fmt: skip
    return ids


@pytest.fixture
def view(qtbot, store_path: Path, runs: dict[str, str]) -> RunsView:
    widget = RunsView(state_for(store_path).store)
    qtbot.addWidget(widget)
    return widget


def _menu(view: RunsView, *ids: str) -> dict[str, object]:
    view.table.clearSelection()
    view.select(list(ids))
    menu = view.context_menu()
    return {a.objectName(): a for a in menu.actions() if a.objectName()}


def test_the_filter_bar_narrows_the_rows(view: RunsView, runs: dict[str, str]) -> None:
    bar = view.filters
    assert set(view.visible_ids()) == set(runs.values())
    bar.status_combo.setCurrentIndex(bar.status_combo.findData("stopped"))
    assert view.visible_ids() == [runs["ft"]]
    bar.status_combo.setCurrentIndex(0)
    bar.task_combo.setCurrentIndex(bar.task_combo.findData("cola"))
    assert view.visible_ids() == [runs["beta"]]
    bar.task_combo.setCurrentIndex(0)
    bar.model_combo.setCurrentIndex(bar.model_combo.findData("bert-base"))
    assert view.visible_ids() == [runs["ft"]]
    bar.model_combo.setCurrentIndex(0)
    bar.date_combo.setCurrentIndex(1)  # today
    assert len(view.visible_ids()) == 4
    assert list(bar.chips.chips) == ["paper"]
    bar.chips.chips["paper"].click()
    assert view.visible_ids() == [runs["alpha"]]
    bar.chips.chips["paper"].click()
    bar.search_edit.setText("0.0003")  # a config value, through the full-text index
    assert view.visible_ids() == [runs["gamma"]]


def test_the_menu_renames_tags_notes_and_stars_and_it_survives_a_restart(
    qtbot, view: RunsView, runs: dict[str, str], store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    alpha = runs["alpha"]
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("alpha prime", True))
    _menu(view, alpha)["rename"].trigger()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("paper best", True))
    _menu(view, alpha)["tag"].trigger()
    note = "the warm-up was too short"
    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *a, **k: (note, True))
    _menu(view, alpha)["note"].trigger()
    assert _menu(view, alpha)["star"].text() == "Star"
    _menu(view, alpha)["star"].trigger()
    assert _menu(view, alpha)["star"].text() == "Unstar"
    # Several runs: +tag adds to each.
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("+shared", True))
    _menu(view, runs["beta"], runs["gamma"])["tag"].trigger()

    again = RunsView(state_for(store_path).store)  # a new window on the same store
    qtbot.addWidget(again)
    run = again.runs[alpha]
    assert (run.name, run.tags, run.notes, run.starred) == (
        "alpha prime", ("best", "paper"), note, True,
    )  # fmt: skip
    assert again.runs[runs["beta"]].tags == ("shared",)
    row = next(r for r in range(again.model.rowCount()) if again.model.item(r, 0).data(
        Qt.ItemDataRole.UserRole + 1) == alpha)  # fmt: skip
    assert again.model.item(row, 0).text() == "★ alpha prime"
    assert again.model.item(row, COLUMNS.index("Tags")).text() == "best, paper"
    assert set(again.filters.chips.chips) == {"best", "paper", "shared"}
    again.search_edit.setText("warm")  # a word of the note
    assert again.visible_ids() == [alpha]
    again.search_edit.clear()
    again.filters.starred.setChecked(True)
    assert again.visible_ids() == [alpha]


def test_the_menu_reuses_the_tab_s_actions(
    qtbot, view: RunsView, runs: dict[str, str], store_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import studio.ui.runs.takeaway as takeaway

    reports: list[str] = []  # the tab's Report… action: its file dialog, not opened here
    monkeypatch.setattr(takeaway, "report_dialog", lambda _v, _s, run_id: reports.append(run_id))
    actions = _menu(view, runs["ft"])
    assert actions["resume"].isEnabled() and not actions["compare"].isEnabled()
    for key, signal in (("resume", view.resumeRun), ("export", view.exportRun),
                        ("report", view.reportRun)):  # fmt: skip
        with qtbot.waitSignal(signal) as emitted:
            _menu(view, runs["ft"])[key].trigger()
        assert emitted.args == [runs["ft"]]
    assert reports == [runs["ft"]]
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()))
    assert not _menu(view, runs["ft"])["folder"].isEnabled()  # no folder yet
    run_dir(store_path, runs["ft"]).mkdir(parents=True)
    _menu(view, runs["ft"])["folder"].trigger()
    assert opened == [str(run_dir(store_path, runs["ft"]))]
    deleted: list[bool] = []
    monkeypatch.setattr(view, "_delete", lambda: deleted.append(True))
    _menu(view, runs["ft"])["delete"].trigger()
    assert deleted == [True]
    several = _menu(view, runs["alpha"], runs["beta"])
    assert several["compare"].isEnabled() and not several["rename"].isEnabled()


def test_the_menu_opens_on_a_right_click(
    qtbot, view: RunsView, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[list[str]] = []

    class Menu:  # the real one would wait for a click
        def exec(self, *_: object) -> None:
            shown.append(view.selected())

    monkeypatch.setattr(view, "context_menu", Menu)
    view.resize(1200, 500)
    view.show()
    qtbot.waitExposed(view)
    rect = view.table.visualRect(view.proxy.index(1, 0))
    view.table.customContextMenuRequested.emit(rect.center())
    assert shown == [[view.visible_ids()[1]]]  # the row clicked, selected


def test_the_details_show_the_manifest(view: RunsView, runs: dict[str, str]) -> None:
    view.select([runs["alpha"]])
    text = view.details.toPlainText()
    assert "paper" in text and "Manifest, start" in text and "local sha1:beef" in text
    view.table.clearSelection()
    view.select([runs["beta"]])
    assert "No manifest recorded" in view.details.toPlainText()


def test_compare_shows_metrics_config_differences_and_parallel_coordinates(
    qtbot, view: RunsView, runs: dict[str, str]
) -> None:
    view.select([runs["alpha"], runs["beta"], runs["gamma"]])
    assert view.buttons["compare"].isEnabled()
    compare = view.compare_view()
    assert compare is not None
    qtbot.addWidget(compare)
    assert [compare.tabs.tabText(i) for i in range(3)] == [
        "Metrics", "Config differences", "Parallel coordinates",
    ]  # fmt: skip
    table = compare.metrics
    cells = {(table.item(r, 0).text(), c): table.item(r, c).text()
             for r in range(table.rowCount()) for c in range(2, table.columnCount())}  # fmt: skip
    names = [compare.runs[i].name for i in range(3)]
    assert names == ["gamma", "beta", "alpha"]  # the table's order, newest first
    assert cells[("validation mean", 2)] == "0.4000 ★"  # gamma's final mean: the best
    assert cells[("rte", 4)] == "0.6500 ★"  # beta's final rte accuracy
    assert cells[("rte", 3)] == "0.7000 ★"  # gamma's best
    diff = compare.config_diff.table
    assert [diff.verticalHeaderItem(r).text() for r in range(diff.rowCount())] == [
        "learning_rate", "seed", "tasks",
    ]  # fmt: skip
    parallel = compare.parallel
    assert [a.name for a in parallel.axes] == ["learning_rate", "seed", "validation mean (final)"]
    parallel.metric_combo.setCurrentIndex(parallel.metric_combo.findText("rte accuracy (best)"))
    assert parallel.axes[-1].values == pytest.approx((0.7, 0.65, 0.55))
    with qtbot.waitSignal(view.openRuns) as opened:
        compare.overlayRequested.emit([r.id for r in compare.runs])
    assert len(opened.args[0]) == 3

"""The task checklist: families, counts, shares, search, bulk selection and the scale warning."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from studio.core.tasks.availability import resolve  # noqa: E402
from studio.core.tasks.spec import (  # noqa: E402
    FAMILIES,  # noqa: E402
    default_tasks_dir,
    load_catalog,
)
from studio.ui.configure.checklist import TaskChecklist  # noqa: E402
from studio.ui.configure.checklist_rows import (  # noqa: E402
    DEMO,
    FAMILY_TITLES,
    MIN_TASKS,
    SHARE,
    SHARE_ROLE,
    SOURCE,
    TASK,
    compute_shares,
    group,
)

DATA = Path("/work/shared/data")
CATALOG = load_catalog(default_tasks_dir())


@pytest.fixture
def checklist(qtbot, tmp_path: Path) -> TaskChecklist:
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is not present")
    availability = {
        name: resolve(spec, DATA, tmp_path / "synthetic", online=False)
        for name, spec in CATALOG.items()
    }
    widget = TaskChecklist(CATALOG, availability)
    qtbot.addWidget(widget)
    return widget


def available(widget: TaskChecklist, family: str | None = None) -> list[str]:
    return [
        n
        for n, s in CATALOG.items()
        if widget.is_checkable(n) and (family is None or group(s) == family)
    ]


def shown_shares(widget: TaskChecklist) -> dict[str, float]:
    """Shares as displayed, parsed back from the '12.3%' texts."""
    out = {}
    for name, item in widget._items.items():
        if item.text(SHARE):
            out[name] = float(item.text(SHARE).rstrip("%")) / 100
    return out


def test_groups_and_counts_match_the_catalog(checklist: TaskChecklist) -> None:
    tree = checklist._tree
    families = Counter(group(s) for s in CATALOG.values())
    assert tree.topLevelItemCount() == len(families)
    for i in range(tree.topLevelItemCount()):
        top = tree.topLevelItem(i)
        family = top.data(TASK, Qt.ItemDataRole.UserRole)
        assert top.childCount() == families[family]
        assert top.text(TASK) == f"{FAMILY_TITLES[family]} (0/{families[family]})"
        assert not top.icon(TASK).isNull()
    checklist.set_checked(["rte", "sst2", "arc"])
    assert checklist._families["classification"].text(TASK).startswith("Classification (2/")
    assert checklist._families["commonsense"].text(TASK).startswith("Commonsense (1/")


def test_columns_show_size_outcomes_and_source(checklist: TaskChecklist) -> None:
    rte = checklist._items["rte"]
    assert (rte.text(1), rte.text(2), rte.text(3)) == ("2,488", "2 labels", "local")
    assert "Recognizing Textual Entailment" in rte.toolTip(TASK)
    assert checklist._items["arc"].text(2).endswith("choices")
    assert checklist._items["squad_v1"].text(2) == "span"
    assert checklist._items["aeslc"].text(2) == "summary"
    assert checklist._items["xsum"].text(1) == "—"


def test_checking_updates_checked_and_emits(qtbot, checklist: TaskChecklist) -> None:
    with qtbot.waitSignal(checklist.checkedChanged) as blocker:
        checklist._items["sst2"].setCheckState(TASK, Qt.CheckState.Checked)
    assert blocker.args == [["sst2"]]
    with qtbot.waitSignal(checklist.checkedChanged) as blocker:
        checklist.set_checked(["rte", "cola", "sst2"])
    assert checklist.checked() == ["cola", "rte", "sst2"]  # catalog order
    assert blocker.args == [["cola", "rte", "sst2"]]
    assert checklist.set_checked(["rte", "xsum", "nope"]) == ["nope", "xsum"]
    assert checklist.checked() == ["rte"]


def test_shares_sum_to_one_and_follow_sampling(checklist: TaskChecklist) -> None:
    names = ["cb", "rte", "sst2", "arc", "squad_v1"]
    checklist.set_checked(names)
    proportional = shown_shares(checklist)
    assert set(proportional) == set(names)
    assert sum(proportional.values()) == pytest.approx(1.0, abs=0.01)
    assert proportional["sst2"] > proportional["cb"]  # 10,000 vs 250 examples
    assert checklist._items["cola"].text(SHARE) == ""  # unchecked: blank

    checklist.set_sampling("uniform", 2.0, None)
    assert all(v == pytest.approx(0.2, abs=0.001) for v in shown_shares(checklist).values())
    checklist.set_sampling("temperature", 4.0, None)
    tempered = shown_shares(checklist)
    assert proportional["cb"] < tempered["cb"] < 0.2
    assert sum(tempered.values()) == pytest.approx(1.0, abs=0.01)
    assert checklist._items["cb"].data(SHARE, SHARE_ROLE) == pytest.approx(
        compute_shares(names, checklist.sizes(), "temperature", 4.0)["cb"]
    )

    checklist.set_shares({"rte": 0.25, "cb": 0.75, "cola": 0.5})
    assert checklist._items["rte"].text(SHARE) == "25.0%"
    assert checklist._items["cola"].text(SHARE) == ""


def test_compute_shares_treats_unknown_sizes_as_zero() -> None:
    sizes = {"a": 300, "b": 100, "c": None}
    shares = compute_shares(["a", "b", "c"], sizes, "proportional")
    assert shares == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.0})
    assert compute_shares(["a", "b", "c"], sizes, "uniform")["c"] == pytest.approx(1 / 3)
    assert compute_shares(["a", "b"], sizes, "proportional", cap=100) == pytest.approx(
        {"a": 0.5, "b": 0.5}
    )


def test_search_filters_by_name_and_title(checklist: TaskChecklist) -> None:
    checklist.set_filter("TWEET")
    visible = [n for n, item in checklist._items.items() if not item.isHidden()]
    assert visible and all(n.startswith("tweet_") for n in visible)
    assert checklist._families["commonsense"].isHidden()
    checklist.set_filter("textual entailment")  # matches RTE's title only
    assert [n for n, item in checklist._items.items() if not item.isHidden()] == ["rte"]
    checklist.set_filter("")
    assert not any(item.isHidden() for item in checklist._items.values())


def test_the_search_box_gets_its_clear_button_with_its_first_text(checklist: TaskChecklist) -> None:
    search = checklist._search
    assert not search.isClearButtonEnabled()  # nothing to clear: no themed icon looked up yet
    search.setText("tweet")
    assert search.isClearButtonEnabled()
    search.clear()
    search.setText("rte")
    assert search.isClearButtonEnabled()


def test_all_and_none(checklist: TaskChecklist) -> None:
    checklist.select_all()
    assert checklist.checked() == available(checklist)
    assert "xsum" not in checklist.checked()  # unavailable offline
    checklist.select_none()
    assert checklist.checked() == []
    checklist._search.setText("tweet")
    checklist.select_all()  # only what the search shows
    assert checklist.checked() and all(n.startswith("tweet_") for n in checklist.checked())


def test_family_selection_is_one_action(qtbot, checklist: TaskChecklist) -> None:
    top = checklist._families["commonsense"]
    with qtbot.waitSignal(checklist.checkedChanged) as blocker:
        top.setCheckState(TASK, Qt.CheckState.Checked)  # what a click on the box does
    assert blocker.args == [available(checklist, "commonsense")]
    assert top.checkState(TASK) == Qt.CheckState.Checked
    checklist._items["arc"].setCheckState(TASK, Qt.CheckState.Unchecked)
    assert top.checkState(TASK) == Qt.CheckState.PartiallyChecked
    top.setCheckState(TASK, Qt.CheckState.Unchecked)
    assert checklist.checked() == []
    checklist.set_family_checked("mrc", True)
    assert checklist.checked() == available(checklist, "mrc")


def test_scale_warning_below_fifteen_tasks(checklist: TaskChecklist) -> None:
    names = available(checklist, "classification")
    checklist.set_checked(names[: MIN_TASKS - 1])
    assert not checklist._warning.isHidden()
    assert "15" in checklist._warning.text()
    assert checklist._count.text().startswith(f"{MIN_TASKS - 1} tasks checked")
    checklist.set_checked(names[:MIN_TASKS])
    assert checklist._warning.isHidden()
    assert checklist._count.text().startswith(f"{MIN_TASKS} tasks checked")


def test_unavailable_task_is_disabled_with_reason(checklist: TaskChecklist) -> None:
    xsum = checklist._items["xsum"]
    assert xsum.text(SOURCE) == "unavailable"
    assert not xsum.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "not reachable offline" in xsum.toolTip(SOURCE)
    xsum.setCheckState(TASK, Qt.CheckState.Checked)  # even if forced, it is not selectable
    checklist.select_none()
    assert "xsum" not in checklist.checked()


def test_synthetic_tasks_are_marked(checklist: TaskChecklist) -> None:
    item = checklist._items["synth_sentiment"]
    assert item.text(TASK) == "synth_sentiment (demo)"
    assert item.font(TASK).italic()
    assert item.text(SOURCE) == "synthetic"
    assert "not a benchmark" in item.toolTip(TASK)
    assert checklist.is_checkable("synth_sentiment")


def test_demo_tasks_have_their_own_group(checklist: TaskChecklist) -> None:
    demo = [n for n, s in CATALOG.items() if s.is_synthetic]
    assert demo and all(group(CATALOG[n]) == DEMO for n in demo)
    assert checklist._families[DEMO].text(TASK).startswith("Demo tasks")
    for family in FAMILIES:  # a family's box never mixes toys into a real run
        checklist.set_family_checked(family, True)
    assert checklist.checked() and not set(demo) & set(checklist.checked())
    checklist.select_none()
    checklist._families[DEMO].setCheckState(TASK, Qt.CheckState.Checked)
    assert set(checklist.checked()) == {n for n in demo if checklist.is_checkable(n)}


def test_summarization_can_be_switched_off(checklist: TaskChecklist) -> None:
    checklist.set_checked(["aeslc", "rte"])
    reason = "the base model is encoder-only and cannot generate summaries"
    checklist.set_summarization_enabled(False, reason)
    assert checklist.checked() == ["rte"]
    aeslc = checklist._items["aeslc"]
    assert not aeslc.flags() & Qt.ItemFlag.ItemIsEnabled
    assert aeslc.toolTip(TASK) == reason
    assert checklist.set_checked(["aeslc"]) == ["aeslc"]
    checklist.set_family_checked("summarization", True)
    assert checklist.checked() == []
    checklist.set_summarization_enabled(True, "")
    assert checklist.is_checkable("aeslc")
    assert reason not in aeslc.toolTip(TASK)


def test_new_availability_keeps_checked_tasks(checklist: TaskChecklist, tmp_path: Path) -> None:
    checklist.set_checked(["rte", "synth_topic"])
    offline = {n: resolve(s, None, tmp_path, online=False) for n, s in CATALOG.items()}
    checklist.set_availability(offline)  # no data folder: only the synthetic suite is left
    assert checklist.checked() == ["synth_topic"]
    assert checklist._items["rte"].text(SOURCE) == "unavailable"


def test_without_real_data_a_banner_offers_the_demo(qtbot, tmp_path: Path) -> None:
    availability = {
        name: resolve(spec, tmp_path / "no-data", tmp_path / "synthetic", online=False)
        for name, spec in CATALOG.items()
    }
    widget = TaskChecklist(CATALOG, availability)
    qtbot.addWidget(widget)
    assert not widget.has_real_data() and not widget._no_data.isHidden()
    demo = next(b for b in widget._no_data.findChildren(QPushButton) if b.text() == "Try the demo")
    with qtbot.waitSignal(widget.demoRequested):
        demo.click()


def test_with_real_data_there_is_no_banner(checklist: TaskChecklist) -> None:
    assert checklist.has_real_data() and checklist._no_data.isHidden()

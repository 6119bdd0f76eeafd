"""The wizard names a bad choice on the page where it is made: a label column of one value
on the Columns page (a value seen once is a warning there), an invalid or taken task name on
the Details page (a warning, not a TypeError from a widget hiding QWizardPage.title)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from studio.core.importing.plan import SourceRef, SourceTable
from studio.core.tasks.spec import studio_catalog
from studio.ui.style import AMBER, RED
from studio.ui.wizard.columns import ColumnsPage
from studio.ui.wizard.dialog import TaskWizard
from studio.ui.wizard.pages import COLUMNS, DETAILS, DetailsPage

REF = SourceRef("files", "/data/reviews.csv")


def _table(labels: dict[str, int]) -> SourceTable:
    counts = {"label": labels, "stars": {"1": 5, "2": 5}}
    return SourceTable(
        REF, {"train": 10}, {"text": "str", "label": "str", "stars": "int"}, [],
        counts={"train": counts},
    )  # fmt: skip


def _wizard(qtbot, table: SourceTable) -> TaskWizard:  # type: ignore[no-untyped-def]
    wizard = TaskWizard(studio_catalog().tasks, launch=lambda _worker: None)
    qtbot.addWidget(wizard)
    wizard.table = table
    return wizard


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    return shown


def _columns(wizard: TaskWizard) -> ColumnsPage:
    page = wizard.page(COLUMNS)
    assert isinstance(page, ColumnsPage)
    page.initializePage()
    page.format.setCurrentIndex(page.format.findData("classification"))
    return page


def test_a_label_column_of_one_value_is_refused_on_the_columns_page(
    qtbot, warnings: list[str]
) -> None:  # type: ignore[no-untyped-def]
    wizard = _wizard(qtbot, _table({"positive": 10}))
    page = _columns(wizard)
    label = page.widgets["label"]
    label.setCurrentIndex(label.findData("label"))  # type: ignore[attr-defined]
    assert not page.label_state.isHidden() and RED in page.label_state.styleSheet()
    assert "('positive')" in page.label_state.text()
    assert not page.validatePage()
    assert "at least two labels" in warnings[0] and "'label'" in warnings[0]
    label.setCurrentIndex(label.findData("stars"))  # type: ignore[attr-defined]
    assert page.label_state.isHidden()
    assert page.validatePage() and wizard.draft["columns"]["label"] == ("stars",)


def test_a_label_value_seen_once_is_a_warning(qtbot, warnings: list[str]) -> None:  # type: ignore[no-untyped-def]
    wizard = _wizard(qtbot, _table({"positive": 6, "negative": 3, "mixed": 1}))
    page = _columns(wizard)
    label = page.widgets["label"]
    label.setCurrentIndex(label.findData("label"))  # type: ignore[attr-defined]
    assert AMBER in page.label_state.styleSheet() and "'mixed'" in page.label_state.text()
    assert page.validatePage() and not warnings


def _details(wizard: TaskWizard) -> DetailsPage:
    wizard.draft.update(
        format="classification",
        columns={"text": ("text",), "label": ("stars",)},
        label_values=("1", "2"),
        source=REF,
    )
    page = wizard.page(DETAILS)
    assert isinstance(page, DetailsPage)
    page.initializePage()
    return page


@pytest.mark.parametrize(
    ("name", "expected"),
    [("2 bad name!", "task name"), ("rte", "built-in task")],
)
def test_an_invalid_or_taken_name_shows_the_warning(
    qtbot, warnings: list[str], tmp_path: Path, name: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    wizard = _wizard(qtbot, _table({"a": 5, "b": 5}))
    page = _details(wizard)
    page.name.setText(name)
    assert expected in page.name_state.text()
    assert not page.validatePage()  # used to raise: 'QLineEdit' object is not callable
    assert len(warnings) == 1 and expected in warnings[0]
    page.name.setText("my_reviews")
    assert page.validatePage() and page.draft["name"] == "my_reviews"

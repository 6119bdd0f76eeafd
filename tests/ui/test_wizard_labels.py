"""The wizard's Labels page on a label column that holds text: it says how many distinct values
the column has and that it looks like a text column, rather than "0 values"."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox, QWizard

from studio.core.importing.plan import SourceRef, SourceTable
from studio.ui.wizard.pages import LabelsPage


class _Wizard(QWizard):
    """The little of the task wizard the page reads: the table, the draft, the edited plan."""

    def __init__(self, table: SourceTable, draft: dict[str, object]) -> None:
        super().__init__()
        self.table, self.draft, self.initial = table, draft, None


def test_a_label_column_of_many_values_is_called_a_text_column(
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    ref = SourceRef("files", "/data/reviews.csv")
    table = SourceTable(
        ref, {"train": 50_000}, {"title": "str", "body": "str"}, [],
        counts={"train": {}}, distinct={"train": {"body": 50_000}},
    )  # fmt: skip
    draft = {"format": "classification", "columns": {"text": ("title",), "label": ("body",)}}
    wizard = _Wizard(table, {**draft, "source": ref})
    qtbot.addWidget(wizard)
    page = LabelsPage()
    wizard.addPage(page)
    page.initializePage()
    assert "Column 'body' has 50,000 distinct values" in page.subTitle()
    assert "text column" in page.subTitle() and "0 values" not in page.subTitle()
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warnings.append(text))
    assert not page.validatePage()
    assert "50,000 distinct values" in warnings[0] and "text column" in warnings[0]

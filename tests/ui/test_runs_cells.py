"""The Runs tab's cells: a resumed run's Started is its first start and its Duration the sum
of its sessions; a long name is elided (whole in its tooltip) so Duration and Id stay in
view; and the sort arrow of the newest-first order points down."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QHeaderView

from studio.store import RunStore
from studio.store import runs as store_runs
from studio.ui.header_style import SortArrowStyle
from studio.ui.runs.view import COLUMNS, STARTED_COLUMN, RunsView
from studio.ui.text import date_time
from tests.ui.helpers import state_for

LONG = "a pre-finetuning run with a name far too long for its column " * 4 + "seed 3"


@pytest.fixture
def view(qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunsView:  # type: ignore[no-untyped-def]
    clock = SimpleNamespace(now=1_000.0)
    monkeypatch.setattr(store_runs, "time", SimpleNamespace(time=lambda: clock.now))
    db = tmp_path / "studio.db"
    with RunStore(db) as store:
        resumed = store.create_run("resumed", "pretrain", {"tasks": ["rte"]}, "m", status="running")
        clock.now = 1_100.0
        store.set_status(resumed, "stopped")
        clock.now = 4_700.0
        store.claim(resumed)
        clock.now = 4_740.0
        store.set_status(resumed, "finished")
        clock.now = 5_000.0
        long = store.create_run(LONG, "pretrain", {"tasks": ["rte"]}, "m", status="running")
        clock.now = 5_030.0
        store.set_status(long, "finished")
    monkeypatch.undo()
    view = RunsView(state_for(db).store)
    qtbot.addWidget(view)
    view.resize(1100, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def _cell(view: RunsView, name: str, column: str) -> tuple[str, object]:
    model = view.model
    row = next(r for r in range(model.rowCount()) if model.item(r, 0).text() == name)
    item = model.item(row, COLUMNS.index(column))
    return item.text(), item.data(Qt.ItemDataRole.UserRole)


def test_a_resumed_runs_started_and_duration_count_every_session(view: RunsView) -> None:
    assert _cell(view, "resumed", "Started") == (date_time(1_000.0), 1_000.0)
    assert _cell(view, "resumed", "Duration") == ("2m 20s", 140.0)  # not 40s


# 1050: the Runs tab of a 1600-px window.
@pytest.mark.parametrize("width", [1050, 1600])
def test_a_long_name_is_elided_and_duration_and_id_stay_in_view(
    qtbot, view: RunsView, width: int
) -> None:
    view.resize(width, 400)
    qtbot.wait(10)
    header = view.table.horizontalHeader()
    assert view.table.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert header.sectionResizeMode(0) == QHeaderView.ResizeMode.Stretch  # takes what is left
    for column in (COLUMNS.index("Duration"), COLUMNS.index("Id")):
        right = header.sectionViewportPosition(column) + header.sectionSize(column)
        assert 0 < right <= view.table.viewport().width()
    id_column = COLUMNS.index("Id")  # never cut: as wide as the ids
    assert header.sectionSize(id_column) >= view.table.sizeHintForColumn(id_column)
    row = next(r for r in range(view.model.rowCount()) if view.model.item(r, 0).text() == LONG)
    assert view.model.item(row, 0).toolTip().startswith(LONG)


def _started_section(header: QHeaderView) -> QImage:
    QApplication.processEvents()
    left = header.sectionViewportPosition(STARTED_COLUMN)
    image = header.grab().toImage()
    return image.copy(left, 0, header.sectionSize(STARTED_COLUMN), image.height())


def test_the_newest_first_order_shows_a_descending_arrow(view: RunsView) -> None:
    header = view.table.horizontalHeader()
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert isinstance(header.style(), SortArrowStyle)
    ours = _started_section(header)
    header.setStyle(QApplication.style())  # the plain style draws descending as ▲ ...
    plain_descending = _started_section(header)
    header.setSortIndicator(STARTED_COLUMN, Qt.SortOrder.AscendingOrder)
    plain_ascending = _started_section(header)  # ... and ascending as ▼
    assert ours == plain_ascending and ours != plain_descending

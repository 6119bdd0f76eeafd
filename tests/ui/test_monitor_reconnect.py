"""The Monitor reads through a new connection after a read error, instead of staying broken
(and calling a healthy store malformed) for as long as the window is open."""

from __future__ import annotations

import sqlite3

import pytest

from studio.core.sink import MetricRow
from studio.store.runs import RunStore
from studio.ui.monitor.view import MonitorView
from tests.ui.helpers import state_for


def _loss(steps: range) -> list[MetricRow]:
    return [MetricRow(s, "total_loss", 1.0 / s, None, 1_700_000_000.0 + s) for s in steps]


def test_a_read_error_reopens_the_connection(
    qtbot, store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = store.create_run("r", "pretrain", {"tasks": []}, "m", status="running")
    store.add_metrics(run, _loss(range(1, 11)))
    view = MonitorView(state_for(store.path, {}))
    qtbot.addWidget(view)
    view.show()
    view.show_runs([run])
    broken = view._store
    assert broken is not None

    def malformed(*args: object, **kwargs: object) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(broken, "metrics_after", malformed)
    view._tick()
    assert "reconnecting" in view.progress_text()
    store.add_metrics(run, _loss(range(11, 21)))
    view._tick()  # a new connection reads on from the last row seen
    assert view._store is not None and view._store is not broken
    assert view.curve_data(run, "total_loss")[1].size == 20
    assert "reconnecting" not in view.progress_text()
    view.watcher.close()

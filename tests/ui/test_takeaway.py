"""The Runs tab's Export metrics… and Report… buttons write what the commands write."""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.core.sink import MetricRow
from studio.store import RunStore
from studio.ui.runs.view import RunsView
from tests.ui.helpers import state_for


def test_runs_tab_exports_metrics_and_writes_a_report(qtbot, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "studio.db"
    with RunStore(db) as store:
        ids = [store.create_run(f"run {i}", "pretrain", {"tasks": ["rte"]}, "m") for i in (1, 2)]
        for run_id in ids:
            store.add_metrics(
                run_id, [MetricRow(1, "total_loss", 0.5), MetricRow(2, "loss", 0.4, "rte")]
            )
    view = RunsView(state_for(db).store)
    qtbot.addWidget(view)
    assert not view.buttons["metrics"].isEnabled() and not view.buttons["report"].isEnabled()
    view.select(ids)
    assert view.buttons["metrics"].isEnabled() and not view.buttons["report"].isEnabled()
    # A name without a suffix takes the chosen filter's.
    out = tmp_path / "all"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "CSV (*.csv)"))
    view.buttons["metrics"].click()
    with (tmp_path / "all.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted((r["run_id"], r["name"]) for r in rows) == sorted(
        (i, n) for i in ids for n in ("total_loss", "loss")
    )
    assert _told(view) == [f"4 rows of 2 run(s) in {tmp_path / 'all.csv'}"]

    view.table.selectionModel().clearSelection()
    view.select(ids[:1])
    assert view.buttons["report"].isEnabled()
    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True
    )
    report = tmp_path / "r.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(report), ""))
    view.buttons["report"].click()
    assert "run 1" in report.read_text(encoding="utf-8") and opened == [str(report)]
    assert len(_told(view)) == 1  # the browser showed it: nothing more to say


def _told(view: RunsView) -> list[str]:
    return [b.text() for b in view.findChildren(QMessageBox) if b.isVisible()]


def test_a_report_no_browser_opens_says_where_it_is_and_opens_its_folder(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "studio.db"
    with RunStore(db) as store:
        run_id = store.create_run("run", "pretrain", {"tasks": ["rte"]}, "m")
    view = RunsView(state_for(db).store)
    qtbot.addWidget(view)
    view.select([run_id])
    opened: list[str] = []

    def no_browser(url):  # type: ignore[no-untyped-def]
        opened.append(url.toLocalFile())
        return url.toLocalFile() == str(tmp_path)  # a file manager, but no browser

    monkeypatch.setattr(QDesktopServices, "openUrl", no_browser)
    report = tmp_path / "r.html"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(report), ""))
    view.buttons["report"].click()
    (box,) = [b for b in view.findChildren(QMessageBox) if b.isVisible()]
    assert box.text() == f"The report of {run_id} is in {report}"
    (folder,) = [b for b in box.buttons() if b.text() == "Open folder"]
    folder.click()
    assert opened == [str(report), str(tmp_path)]


def test_a_file_the_dialog_did_not_confirm_is_replaced_only_after_asking(
    qtbot, tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "studio.db"
    with RunStore(db) as store:
        run_id = store.create_run("run", "pretrain", {"tasks": ["rte"]}, "m")
        store.add_metrics(run_id, [MetricRow(1, "total_loss", 0.5)])
    view = RunsView(state_for(db).store)
    qtbot.addWidget(view)
    view.select([run_id])
    existing = tmp_path / "all.csv"
    existing.write_text("mine")
    # The dialog confirmed "all"; the suffix it gains makes it an existing file.
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "all"), "CSV (*.csv)")
    )
    asked: list[str] = []

    def answer(reply: QMessageBox.StandardButton):
        return lambda *a: asked.append(a[2]) or reply

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    view.buttons["metrics"].click()
    assert existing.read_text() == "mine" and asked == [f"{existing} exists. Replace it?"]
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    view.buttons["metrics"].click()
    assert existing.read_text().startswith("run_id,")
    # The store (here through a link) is refused with a warning, whatever the dialog confirmed.
    warned: list[str] = []
    link = tmp_path / "link.csv"
    link.symlink_to(db)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(link), ""))
    before = db.read_bytes()
    view.buttons["metrics"].click()
    assert "part of the run store" in warned[0] and db.read_bytes() == before

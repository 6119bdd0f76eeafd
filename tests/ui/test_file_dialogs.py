"""Save and open dialogs start under STUDIO_HOME (reports, exports, configs), not in the
working directory, and then where the user last chose for that kind of file; each
STUDIO_HOME remembers its own folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.core.sink import MetricRow
from studio.store import RunStore
from studio.ui import file_dialogs
from studio.ui.file_dialogs import choose_folder, open_file, save_file, start_folder
from studio.ui.plotting import export as plot_export
from studio.ui.runs.takeaway import export_metrics_dialog, report_dialog
from studio.ui.transfer.plots import TransferPlots


class _Dialog:
    """Stands in for QFileDialog's static functions: records where each one started and
    answers `answer` (a path, or "" for Cancel)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.starts: list[str] = []
        self.answer = ""
        for name in ("getSaveFileName", "getOpenFileName"):
            monkeypatch.setattr(QFileDialog, name, self._file)
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", self._folder)

    def _file(self, _parent: Any, _caption: str, start: str, *_: Any) -> tuple[str, str]:
        self.starts.append(start)
        return self.answer, ""

    def _folder(self, _parent: Any, _caption: str, start: str, *_: Any) -> str:
        self.starts.append(start)
        return self.answer


@pytest.fixture
def dialog(monkeypatch: pytest.MonkeyPatch) -> _Dialog:
    return _Dialog(monkeypatch)


def test_each_kind_starts_under_studio_home_then_where_it_was_left(
    dialog: _Dialog, studio_home: Path, tmp_path: Path
) -> None:
    assert save_file(None, "report", "Save report", "r.html", "HTML (*.html)") == ("", "")
    assert dialog.starts == [str(studio_home / "reports" / "r.html")]  # cancel: nothing kept
    assert (studio_home / "reports").is_dir()
    chosen = tmp_path / "papers"
    chosen.mkdir()
    dialog.answer = str(chosen / "r.html")
    save_file(None, "report", "Save report", "r.html", "HTML (*.html)")
    save_file(None, "report", "Save report", "s.html", "HTML (*.html)")
    assert dialog.starts[-1] == str(chosen / "s.html")
    open_file(None, "config", "Open config", "YAML (*.yaml)")  # another kind: its own folder
    assert dialog.starts[-1] == str(studio_home / "configs")
    dialog.answer = str(tmp_path)
    choose_folder(None, "export", "Export into")
    assert start_folder("export") == tmp_path and start_folder("report") == chosen
    chosen.rmdir()  # a folder that is gone: back to the default
    assert start_folder("report") == studio_home / "reports"


def test_each_studio_home_remembers_its_own(
    dialog: _Dialog, studio_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog.answer = str(tmp_path / "t.csv")
    save_file(None, "metrics", "Export metrics", "m.csv", "CSV (*.csv)")
    assert start_folder("metrics") == tmp_path
    other = tmp_path / "other-home"
    monkeypatch.setenv("STUDIO_HOME", str(other))
    assert start_folder("metrics") == other / "reports"
    monkeypatch.setenv("STUDIO_HOME", str(studio_home))
    (studio_home / file_dialogs.MEMORY_FILE).write_text("{not json")
    assert start_folder("metrics") == studio_home / "reports"  # unreadable: forgotten
    with pytest.raises(ValueError, match="unknown dialog kind 'nope'"):
        start_folder("nope")


def test_takeaway_and_plot_dialogs_use_the_kinds_folders(
    dialog: _Dialog, studio_home: Path, tmp_path: Path, qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "studio.db"
    with RunStore(db) as store:
        run_id = store.create_run("run", "pretrain", {"tasks": ["rte"]}, "m")
        store.add_metrics(run_id, [MetricRow(1, "total_loss", 0.5)])
    monkeypatch.setattr(QMessageBox, "information", lambda *a: None)
    report_dialog(None, db, run_id)  # cancelled
    assert dialog.starts == [str(studio_home / "reports" / f"{run_id}-report.html")]
    out = tmp_path / "tables"
    out.mkdir()
    dialog.answer = str(out / "m.csv")
    assert export_metrics_dialog(None, db, [run_id]) == out / "m.csv"
    dialog.answer = ""
    export_metrics_dialog(None, db, [run_id])
    assert dialog.starts[-1] == str(out / f"{run_id}-metrics.csv")

    plots = TransferPlots()
    qtbot.addWidget(plots)
    plots.show_sweep({4: {"base_mean": 0.5, "pretuned_mean": 0.6, "gain": 0.1}})
    plot_export.save_dialog(plots, list(plots.plots.values()))  # cancelled
    assert dialog.starts[-1] == str(studio_home / "exports")

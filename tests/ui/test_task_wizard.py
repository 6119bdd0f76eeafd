"""Add task…, Edit and Remove in the window, and the Data tab: a new user's own files become
checked tasks; bad input is named on the page where it is entered; nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox, QWizard

from studio.core import paths
from studio.core.tasks.spec import studio_catalog
from studio.ui.main_window import MainWindow
from studio.ui.style import RED
from studio.ui.wizard.dialog import TaskWizard
from studio.ui.wizard.pages import CHECK, COLUMNS, DETAILS, LABELS, SOURCE, SPLITS

pytestmark = pytest.mark.process

JOB_MS = 120_000  # each step runs a job process that imports datasets
PAIRS = "sentence1,sentence2,gold\n" + "".join(
    f"Line {i} here.,Claim {i}.,{'yes' if i % 2 else 'no'}\n" for i in range(20)
)


@pytest.fixture
def window(qtbot, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(studio_catalog().tasks, tmp_path / "studio.db", settings=settings)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    qtbot.waitUntil(lambda: not win.jobs.threads, timeout=JOB_MS)


def _open(window: MainWindow, qtbot) -> TaskWizard:  # type: ignore[no-untyped-def]
    window.library.add_task()
    wizard = window.library.wizard
    qtbot.waitUntil(wizard.isVisible)
    return wizard


def _next(wizard: TaskWizard, qtbot, page: int) -> None:  # type: ignore[no-untyped-def]
    wizard.next()
    qtbot.waitUntil(lambda: wizard.currentId() == page, timeout=JOB_MS)


def _checked(wizard: TaskWizard, qtbot) -> None:  # type: ignore[no-untyped-def]
    check = wizard.page(CHECK)
    qtbot.waitUntil(lambda: wizard.report is not None or RED in check.summary.styleSheet(),
                    timeout=JOB_MS)  # fmt: skip


def _through(window: MainWindow, qtbot, path: Path) -> TaskWizard:  # type: ignore[no-untyped-def]
    """Open the wizard on `path` and accept every guess up to the checked rows."""
    wizard = _open(window, qtbot)
    wizard.page(SOURCE).train_file.setText(str(path))
    for page in (COLUMNS, SPLITS, LABELS, DETAILS, CHECK):
        _next(wizard, qtbot, page)
    _checked(wizard, qtbot)
    return wizard


def _staging() -> list[Path]:
    root = paths.library_data_dir()
    return list(root.glob(".staging-*")) if root.exists() else []


def test_a_csv_of_pairs_becomes_a_checked_task(window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "my pairs.csv"
    path.write_text(PAIRS + "Line x.,,yes\n")
    wizard = _open(window, qtbot)
    wizard.page(SOURCE).train_file.setText(str(path))
    _next(wizard, qtbot, COLUMNS)
    columns = wizard.page(COLUMNS)
    assert columns.format.currentData() == "pair_classification"
    assert columns.columns() == {
        "label": ("gold",),
        "text": ("sentence1",),
        "text_pair": ("sentence2",),
    }
    assert columns.rows.rowCount() == 20 and "gold" in columns.rows.horizontalHeaderItem(2).text()
    _next(wizard, qtbot, SPLITS)
    assert wizard.page(SPLITS).validation.currentData() == ""  # one file: carve validation
    _next(wizard, qtbot, LABELS)
    labels = wizard.page(LABELS).labels
    assert [labels.item(r, 0).text() for r in range(2)] == ["no", "yes"]
    assert [labels.item(r, 1).text() for r in range(2)] == ["10", "11"]
    labels.item(1, 2).setText("agrees")
    labels.setCurrentCell(1, 2)
    wizard.page(LABELS)._move(-1)  # "yes" becomes label 0
    _next(wizard, qtbot, DETAILS)
    details = wizard.page(DETAILS)
    assert details.name.text() == "my_pairs"
    details.name.setText("rte")
    assert "built-in task" in details.name_state.text()
    details.name.setText("my_pairs")
    _next(wizard, qtbot, CHECK)
    _checked(wizard, qtbot)
    check = wizard.page(CHECK)
    assert wizard.report is not None and wizard.report.bad_rows == 1
    assert (
        check.problems.item(0, 1).text() == "21" and check.problems.item(0, 2).text() == "sentence2"
    )
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert not finish.isEnabled()  # bad rows: fix them or choose to skip them
    check.skip.setChecked(True)
    assert finish.isEnabled()
    finish.click()
    qtbot.waitUntil(lambda: not wizard.isVisible())
    spec = window.catalog["my_pairs"]
    assert spec.is_user and spec.labels == ("agrees", "no")
    assert spec.added is not None and spec.added["skipped_rows"] == 1
    assert "my_pairs" in window.checklist.checked()
    assert window.checklist._items["my_pairs"].text(0) == "my_pairs (yours)"
    assert window.library.availability["my_pairs"].train_size == 18 and not _staging()


def test_a_parquet_of_questions_with_choice_columns(
    window: MainWindow, qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "quiz.parquet"
    n = 10
    pq.write_table(
        pa.table({"question": [f"Q{i}?" for i in range(n)], "option1": ["a"] * n,
                  "option2": ["b"] * n, "option3": ["c"] * n, "correct": [1, 2, 3, 1, 2] * 2}),
        path,
    )  # fmt: skip
    wizard = _open(window, qtbot)
    wizard.page(SOURCE).train_file.setText(str(path))
    _next(wizard, qtbot, COLUMNS)
    assert wizard.page(COLUMNS).columns()["choices"] == ("option1", "option2", "option3")
    _next(wizard, qtbot, SPLITS)
    _next(wizard, qtbot, LABELS)
    assert wizard.page(LABELS).kind.currentData() == "number"  # 1..3, no 0
    _next(wizard, qtbot, DETAILS)
    _next(wizard, qtbot, CHECK)
    _checked(wizard, qtbot)
    assert wizard.report is not None and wizard.report.bad_rows == 0 and wizard.report.choices == 3
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: not wizard.isVisible())
    spec = window.catalog["quiz"]
    assert (spec.format, spec.family, spec.choices) == ("multiple_choice", "commonsense", 3)


def test_bad_sources_are_named_on_the_first_page(window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    wizard = _open(window, qtbot)
    source = wizard.page(SOURCE)
    wizard.next()
    assert wizard.currentId() == SOURCE and "no files given" in source.status.text()
    (tmp_path / "empty.csv").write_text("")
    source.train_file.setText(str(tmp_path / "empty.csv"))
    wizard.next()
    qtbot.waitUntil(lambda: "empty" in source.status.text() and not wizard.busy, timeout=JOB_MS)
    assert wizard.currentId() == SOURCE
    source.kinds.button(2).setChecked(True)
    source.hub_id.setText("nobody/nothing")
    wizard.next()
    qtbot.waitUntil(lambda: "nobody/nothing" in source.status.text(), timeout=JOB_MS)
    assert "Traceback" not in source.status.text() and wizard.currentId() == SOURCE
    wizard.reject()


def test_cancel_and_back_leave_no_staged_records(window: MainWindow, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pairs.csv"
    path.write_text(PAIRS)
    wizard = _through(window, qtbot, path)
    assert len(_staging()) == 1
    wizard.back()
    assert not _staging()
    _next(wizard, qtbot, CHECK)
    _checked(wizard, qtbot)
    wizard.reject()
    assert not _staging() and "pairs" not in studio_catalog().tasks


def test_edit_reopens_the_task_and_remove_deletes_it(
    window: MainWindow, qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pairs.csv"
    path.write_text(PAIRS)
    wizard = _through(window, qtbot, path)
    wizard.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: not wizard.isVisible())

    window.library.edit_task("pairs")
    editing = window.library.wizard
    assert editing.windowTitle() == "Edit task pairs"
    assert editing.page(SOURCE).train_file.text() == str(path)
    _next(editing, qtbot, COLUMNS)
    _next(editing, qtbot, SPLITS)
    _next(editing, qtbot, LABELS)
    editing.page(LABELS).labels.item(0, 2).setText("disagree")
    _next(editing, qtbot, DETAILS)
    assert editing.page(DETAILS).name.text() == "pairs"
    assert editing.page(DETAILS).name_state.text().startswith("Saved as")  # its own name is free
    _next(editing, qtbot, CHECK)
    _checked(editing, qtbot)
    editing.button(QWizard.WizardButton.FinishButton).click()
    qtbot.waitUntil(lambda: not editing.isVisible())
    assert window.catalog["pairs"].labels == ("disagree", "yes")

    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    window.library.remove_task("pairs")
    assert "pairs" not in window.catalog and "pairs" not in window.checklist._items
    assert not (paths.library_data_dir() / "pairs").exists()
    window.library.remove_task("rte")
    assert "built-in" in window.last_error


def test_data_tab_shows_records_and_the_first_batch(window: MainWindow, qtbot) -> None:  # type: ignore[no-untyped-def]
    window.tabs.setCurrentWidget(window.preview)
    item = window.checklist._items["synth_choice"]
    window.checklist._tree.setCurrentItem(item)
    qtbot.waitUntil(lambda: "First training batch" in window.preview.batch.toPlainText(),
                    timeout=JOB_MS)  # fmt: skip
    text = window.preview.batch.toPlainText()
    assert "choice 4:" in text and "[CLS]" in text and "padding" in text
    assert window.preview.records.rowCount() == 5
    assert "train" in window.preview.header.text() and "examples" in window.preview.header.text()
    assert window.checklist._items["synth_choice"].flags() & Qt.ItemFlag.ItemIsEnabled


def test_going_back_while_checking_drops_the_stale_answer(
    window: MainWindow, qtbot, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pairs.csv"
    path.write_text(PAIRS)
    wizard = _open(window, qtbot)
    wizard.page(SOURCE).train_file.setText(str(path))
    for page in (COLUMNS, SPLITS, LABELS, DETAILS, CHECK):
        _next(wizard, qtbot, page)
    wizard.back()  # before the first check answers
    wizard.back()
    wizard.page(LABELS).labels.item(0, 2).setText("refuted")
    _next(wizard, qtbot, DETAILS)
    _next(wizard, qtbot, CHECK)
    _checked(wizard, qtbot)
    assert wizard.report is not None and "refuted" in wizard.report.label_counts["train"]
    qtbot.waitUntil(lambda: not window.jobs.threads, timeout=JOB_MS)
    assert _staging() == [Path(wizard.report.folder)]  # the first job's records were dropped
    wizard.reject()
    assert not _staging()


def test_a_broken_library_file_is_shown_not_fatal(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths.user_tasks_dir().mkdir(parents=True)
    (paths.user_tasks_dir() / "oops.yaml").write_text("name: oops\nformat: nope\n")
    loaded = studio_catalog()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(loaded.tasks, tmp_path / "s.db", settings=settings, problems=loaded.problems)
    qtbot.addWidget(win)
    problems = win.checklist._problems
    assert not problems.isHidden() and "1 task file" in problems.text()
    assert "oops.yaml" in problems.toolTip() and "rte" in win.checklist._items
    (paths.user_tasks_dir() / "oops.yaml").unlink()
    win.library.reload_catalog()
    assert problems.isHidden()
    win.close()

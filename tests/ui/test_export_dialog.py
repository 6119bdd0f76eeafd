"""The export dialog: which checkpoints it offers, and which folders it refuses up front."""

from __future__ import annotations

from pathlib import Path

from studio.store.runs import RunStore
from studio.ui.export_dialog import ExportDialog
from tests.ui.helpers import state_for


def _run(store_path: Path, checkpoints: dict[int, float | None]) -> str:
    with RunStore(store_path) as store:
        run_id = store.create_run("muppet", "pretrain", {"tasks": ["rte"]}, "minilm")
        for step, mean in checkpoints.items():
            metrics = {} if mean is None else {"eval_mean": mean}
            store.add_checkpoint(run_id, step, f"/runs/{run_id}/step-{step}", metrics)
    return run_id


def test_offers_best_latest_and_every_checkpoint(qtbot, tmp_path: Path) -> None:
    store = tmp_path / "studio.db"
    dialog = ExportDialog(state_for(store).store, _run(store, {5: None, 10: 0.0, 15: 0.625}))
    qtbot.addWidget(dialog)
    items = [dialog.choice.itemText(i) for i in range(dialog.choice.count())]
    assert [dialog.choice.itemData(i) for i in range(len(items))] == [
        "best", "latest", "5", "10", "15",
    ]  # fmt: skip
    assert items[2] == "update 5"
    assert items[3].endswith("mean metric 0.0000")  # a zero mean is still a mean
    assert items[4].endswith("mean metric 0.6250")
    dialog.choice.setCurrentIndex(3)
    assert dialog.which() == "10"
    assert dialog.folder() == tmp_path / "exports" / dialog.windowTitle().split()[-1]


def test_refuses_a_non_empty_folder_and_a_run_without_checkpoints(qtbot, tmp_path: Path) -> None:
    store = tmp_path / "studio.db"
    dialog = ExportDialog(state_for(store).store, _run(store, {5: 0.5}))
    qtbot.addWidget(dialog)
    assert dialog.problem() is None  # the default folder does not exist yet
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    dialog.path.setText(str(full))
    assert "not empty" in dialog.problem()
    dialog.path.setText(str(full / "keep.txt"))
    assert "is a file" in dialog.problem()
    dialog.path.setText("  ")
    assert "Choose a folder" in dialog.problem()
    empty = ExportDialog(state_for(store).store, _run(store, {}))
    qtbot.addWidget(empty)
    assert not empty.choice.isEnabled() and not empty.ok_button.isEnabled()
    assert dialog.ok_button.isEnabled()

"""The model under the window: the catalog and the store are owned once, and every view follows
what changes (a task a terminal added, a run that finished) without a restart."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from studio.core import paths
from studio.core.sink import MetricRow
from studio.store import RunStore
from studio.ui.main_window import MainWindow
from studio.ui.state import TASK_FILES_EVERY


def _add_task_from_a_terminal(name: str) -> None:
    """What `task add` leaves in the library: a spec beside its records."""
    folder = paths.library_data_dir() / name
    folder.mkdir(parents=True)
    for split in ("train", "validation"):
        rows = [{"text": f"{split} {i}", "label": i % 2} for i in range(8)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    paths.user_tasks_dir().mkdir(parents=True, exist_ok=True)
    spec = {
        "name": name,
        "family": "classification",
        "format": "classification",
        "labels": ["no", "yes"],
        "source": {"folder": f"../data/{name}"},
    }
    (paths.user_tasks_dir() / f"{name}.yaml").write_text(yaml.safe_dump(spec))


def _polls(window: MainWindow, count: int = TASK_FILES_EVERY) -> None:
    for _ in range(count):
        window.state.store.poll()


def test_a_task_added_in_a_terminal_reaches_every_view(window: MainWindow) -> None:
    assert "my_reviews" not in window.checklist.sizes()
    _add_task_from_a_terminal("my_reviews")
    _polls(window)
    assert window.checklist.is_checkable("my_reviews")
    assert "my_reviews" in window.monitor._catalog
    targets = [
        window.transfer.target_list.item(i).text()
        for i in range(window.transfer.target_list.count())
    ]
    assert any(t.startswith("my_reviews") for t in targets)
    assert "my_reviews" in window.ablation.catalog  # its metric column, once a variant has it


def test_a_pretraining_run_that_finishes_becomes_a_transfer_source(window: MainWindow) -> None:
    with RunStore(window.store_path) as store:
        run_id = store.create_run(
            "mine", "pretrain", {"tasks": ["rte"]}, "minilm", status="running"
        )
    _polls(window, 1)
    assert window.transfer.source() is None  # running: not a source yet
    with RunStore(window.store_path) as store:
        store.add_metrics(run_id, [MetricRow(1, "total_loss", 0.5)])
        store.set_status(run_id, "finished")
    _polls(window, 1)
    assert window.transfer.source() == run_id


def test_a_finished_run_cannot_be_resumed_and_the_refusal_is_no_failure(
    window: MainWindow, tmp_path: Path
) -> None:
    with RunStore(window.store_path) as store:
        done = store.create_run("done", "pretrain", {"tasks": ["rte"]}, "minilm", status="running")
        store.set_status(done, "finished")
        stopped = store.create_run("paused", "pretrain", {"tasks": ["rte"]}, "m", status="running")
        store.set_status(stopped, "stopped")
    _polls(window, 1)
    window.open_runs([done])
    assert not window.resume_action.isEnabled()
    window.run_actions.resume(done)  # e.g. from a stale menu: refused, nothing started
    assert not window.jobs.training.running
    assert "nothing to resume" in window.status.text() and "failed" not in window.status.text()
    assert not hasattr(window, "last_error")
    window.open_runs([stopped])
    assert window.resume_action.isEnabled()

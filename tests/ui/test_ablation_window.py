"""An ablation started from the window's Ablation tab: its variants train in a child job, other
training is refused meanwhile, and the tab shows their table when it ends."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio.store import RunStore
from studio.ui.main_window import MainWindow

JOB_MS = 300_000  # a job starts a Python process that imports torch: slow on a busy machine


@pytest.mark.train
@pytest.mark.process
def test_an_ablation_runs_from_the_tab(
    window: MainWindow, qtbot, tiny_model: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    base = {
        "tasks": ["synth_sentiment", "synth_pair"], "model": tiny_model, "max_steps": 2,
        "eval_every": 2, "checkpoint_every": 2, "log_every": 1, "batch_size": 8,
        "device": "cpu", "max_length": 64, "eval_max_examples": 10,
    }  # fmt: skip
    path = tmp_path / "ablation.yaml"
    path.write_text(yaml.safe_dump({"name": "heads", "base": base, "vary": {"seed": [42, 43]}}))
    view = window.ablation
    window.show_tab(view)
    assert view.start_file(path)
    assert window.jobs.ablation.running and window.jobs.busy
    assert not view.run_button.isEnabled() and not window.start_action.isEnabled()
    window.run_actions.start_run()  # one training job at a time
    assert "one training job runs at a time" in window.last_error
    qtbot.waitUntil(lambda: not window.jobs.ablation.running, timeout=JOB_MS)
    assert view.current is not None and view.run_button.isEnabled()
    with RunStore(window.store_path) as store:
        assert store.get_run(view.current).status == "finished"
    assert [r.variant for r in view.results] == ["base", "seed=43"]
    assert all(r.status == "finished" and r.final_mean is not None for r in view.results)
    assert view.table.rowCount() == 2 and view.list.count() == 1
    assert len(view.plots["validation"].curves) == 2

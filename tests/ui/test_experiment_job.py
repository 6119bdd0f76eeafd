"""The Ablation tab's two sections share their job handling (ui/experiment_job.py):
starting marks the section busy, progress reaches its bar, a failure is told in its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.ui.ablation.actions import AblationActions
from studio.ui.ablation.view import AblationView
from studio.ui.jobs_controller import JobsController
from tests.ui.helpers import state_for


def test_both_sections_start_show_progress_and_tell_a_failure(
    qtbot, catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    view = AblationView(state_for(tmp_path / "studio.db", catalog))
    qtbot.addWidget(view)
    jobs = JobsController()
    actions = AblationActions(view.state, jobs, view, view)
    problems: list[str] = []
    messages: list[str] = []
    started: list[object] = []
    view.state.problem.connect(lambda title, _: problems.append(title))
    view.state.message.connect(messages.append)
    monkeypatch.setattr(jobs.tune, "start", started.append)  # no job really runs
    monkeypatch.setattr(jobs.ablation, "start", started.append)
    tune = view.tune.experiments
    study = tmp_path / "study.yaml"
    actions.tune.start(str(study), {}, "study")
    assert len(started) == 1 and messages[-1] == f"Tuning study started: {study}"
    assert tune.running and not tune.run_button.isEnabled() and tune.stop_button.isEnabled()
    jobs.tune.progress.emit(0.25, "trial 1/4")
    assert tune.progress.value() == 250 and tune.progress_label.text() == "trial 1/4"
    jobs.tune.ended.emit(None, "boom\nthe traceback")
    assert not tune.running and tune.progress_label.text() == "idle"
    assert tune.last_message == "The study failed: boom" and problems == ["The study failed"]

    actions.start_sweep("sweep.yaml", {})
    assert messages[-1] == "Sweep started: sweep.yaml" and not view.build_button.isEnabled()
    jobs.ablation.ended.emit(None, "bad")
    assert view.last_message == "The ablation failed: bad" and view.build_button.isEnabled()

"""The Ablation tab's builder writes the files the command line runs (an ablation that
load_ablation reads back, a sweep that sweep_config reads), counting their runs as they are
edited; the tab's Tuning section shows a stored study's trials, best-so-far curve and
importances from its run, without Optuna."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QComboBox, QLineEdit

from studio.core.config.run import RunConfig
from studio.core.experiments.ablation import load_ablation
from studio.core.experiments.study_summary import StudySummary, TrialRow
from studio.core.experiments.transfer import load_yaml, sweep_config
from studio.store import RunStore
from studio.ui.ablation.builder import ExperimentBuilder
from studio.ui.ablation.view import AblationView
from tests.ui.helpers import state_for

BASE = RunConfig(tasks=("synth_sentiment", "synth_pair", "synth_choice"), max_steps=5)


@pytest.fixture
def builder(qtbot) -> ExperimentBuilder:  # type: ignore[no-untyped-def]
    dialog = ExperimentBuilder(BASE)
    qtbot.addWidget(dialog)
    return dialog


def _row(builder: ExperimentBuilder, row: int) -> tuple[QComboBox, QLineEdit]:
    combo, edit = builder.table.cellWidget(row, 0), builder.table.cellWidget(row, 1)
    assert isinstance(combo, QComboBox) and isinstance(edit, QLineEdit)
    return combo, edit


def test_the_builder_writes_an_ablation_that_load_ablation_reads_back(
    builder: ExperimentBuilder, tmp_path: Path
) -> None:
    assert not builder.save_button.isEnabled()  # nothing varied yet: says so
    assert "vary" in builder.count.text()
    builder.add_row("mixing")  # a choice setting starts with all its choices
    combo, edit = _row(builder, 0)
    assert combo.currentData() == "mixing" and "homogeneous" in edit.text()
    edit.setText("heterogeneous, homogeneous")
    builder.add_row("learning_rate", "2e-5, 5e-5")
    assert "4 variants" in builder.count.text() and builder.run_button.isEnabled()
    builder.name_edit.setText("mix x lr")
    config = load_ablation(builder.write(tmp_path / "ablation.yaml"))
    assert config.name == "mix x lr" and config.base.tasks == BASE.tasks
    assert len(config.variants()) == 4
    assert {a.label: [v[0] for v in a.values] for a in config.axes} == {
        "mixing": ["heterogeneous", "homogeneous"],
        "learning_rate": [2e-5, 5e-5],
    }
    _row(builder, 1)[1].setText("2e-5, -1")  # out of range: named, and nothing to save
    assert "learning_rate" in builder.count.text() and not builder.save_button.isEnabled()


def test_the_builder_writes_a_sweep_that_sweep_config_reads(
    builder: ExperimentBuilder, tmp_path: Path
) -> None:
    builder.tabs.setCurrentIndex(1)
    builder.counts_edit.setText("1, 3")
    builder.targets_edit.setText("synth_ner")
    builder.seeds_edit.setText("0")
    assert "2 pre-finetuning runs, each with 4 fine-tunings" in builder.count.text()
    path = builder.write(tmp_path / "sweep.yaml")
    config = sweep_config(load_yaml(path), str(path))
    assert config.subsets() == [BASE.tasks[:1], BASE.tasks]
    assert config.pretrain["max_steps"] == 5 and config.transfer["targets"] == ["synth_ner"]
    builder.targets_edit.setText("synth_pair")  # in the pool: refused, and why
    assert "held out" in builder.count.text() and not builder.run_button.isEnabled()


def test_the_tuning_section_shows_a_stored_study(qtbot, catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "studio.db"
    trials = (
        TrialRow(0, "complete", {"learning_rate": 1e-4, "tasks_per_update": 2}, 0.5, "r0"),
        TrialRow(1, "pruned", {"learning_rate": 1e-3, "tasks_per_update": 1}, 0.1, "r1"),
        TrialRow(2, "complete", {"learning_rate": 3e-4, "tasks_per_update": 1}, 0.7, "r2"),
        TrialRow(3, "fail", {"learning_rate": 2e-4, "tasks_per_update": 2}, None, "r3", True),
    )
    importances = {"learning_rate": 0.8, "tasks_per_update": 0.2}
    with RunStore(db) as store:
        study = store.create_run("lr study", "tune", {}, "minilm", status="finished")
        summary = StudySummary("lr study", study, "optuna.db", trials, trials[2], importances)
        store.update_run(study, config={"trials": 4, "summary": summary.to_dict()})
    view = AblationView(state_for(db, catalog))
    qtbot.addWidget(view)
    tune = view.tune
    assert view.sections.tabText(1) == "Tuning studies"
    assert tune.list.count() == 1 and tune.current == study
    table = tune.table
    rows = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    assert rows[1][:3] == ["1", "pruned", "0.1"] and rows[3][1] == "fail (interrupted)"
    assert table.item(2, 0).font().bold()  # the best trial
    assert "best: trial 2" in tune.title.text() and "4/4 trials" in tune.title.text()
    assert tune.summary is not None and tune.summary.best_so_far() == [(0, 0.5), (2, 0.7)]
    assert tune.importances == importances
    assert len(tune.curve_plot.listDataItems()) == 2  # the trials and the best so far


class _Draft:
    def config(self) -> RunConfig:
        return BASE


def test_the_tab_opens_the_builder_on_the_draft_and_runs_what_it_saves(
    qtbot, catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.ablation.actions import AblationActions
    from studio.ui.jobs_controller import JobsController

    view = AblationView(state_for(tmp_path / "studio.db", catalog))
    qtbot.addWidget(view)
    actions = AblationActions(view.state, JobsController(), view, view, _Draft())  # type: ignore[arg-type]
    started: list[tuple[str, str]] = []
    monkeypatch.setattr(actions, "start", lambda where, config: started.append(("a", where)))
    monkeypatch.setattr(actions, "start_sweep", lambda where, config: started.append(("s", where)))
    view.build_button.click()
    builder = actions.builder
    assert isinstance(builder, ExperimentBuilder) and builder.base == BASE
    builder.add_row("seed", "1, 2")
    path = str(builder.write(tmp_path / "a.yaml"))
    builder.runRequested.emit("ablation", path, builder.document())
    builder.runRequested.emit("sweep", path, {})
    assert started == [("a", path), ("s", path)]

"""The Ablation tab: a stored ablation's table and overlaid curves, read from the store; an
ablation file is validated before it is asked to run."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from studio.core.sink import MetricRow
from studio.store.runs import RunStore
from studio.ui.ablation.view import AblationView
from tests.ui.helpers import state_for

TASKS = ["synth_sentiment", "synth_pair"]
VARIANTS = {"base": 0.6, "mixing=homogeneous": 0.5}  # final validation means


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """An ablation with two finished variants, their rows written by hand."""
    path = tmp_path / "studio.db"
    with RunStore(path) as store:
        ablation = store.create_run(
            "mixing study", "ablation", {"vary": {"mixing": ["homogeneous"]}}, "minilm",
            status="finished",
        )  # fmt: skip
        entries = []
        for name, final in VARIANTS.items():
            run_id = store.create_run(
                f"mixing study: {name}", "pretrain", {"tasks": TASKS}, "minilm",
                source_run=ablation, status="finished",
            )  # fmt: skip
            rows = [MetricRow(s, "total_loss", 2.0 / s, None, 100.0 + s) for s in (1, 2, 3, 4)]
            rows += [MetricRow(s, "examples_per_s", 50.0, None, 100.0 + s) for s in (1, 2)]
            rows += [MetricRow(2, "eval_mean", final - 0.1, None, 102.0)]
            rows += [MetricRow(4, "eval_mean", final, None, 104.0)]
            rows += [MetricRow(4, "eval_accuracy", final, t, 104.0) for t in TASKS]
            store.add_metrics(run_id, rows)
            entries.append({"name": name, "changes": {}, "run_id": run_id, "transfer_id": None})
        store.update_run(ablation, config={"variants": entries})
        store.add_log(ablation, "warning", "variants that failed: none really")
    return path


@pytest.fixture
def view(qtbot, catalog, store_path: Path) -> AblationView:
    widget = AblationView(state_for(store_path, catalog))
    qtbot.addWidget(widget)
    return widget


def _table(view: AblationView) -> list[list[str]]:
    table = view.table
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def test_the_table_and_curves_of_the_stored_ablation(view: AblationView) -> None:
    assert view.list.count() == 1 and "mixing study" in view.list.item(0).text()
    header = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert header[:5] == ["variant", "status", "final mean", "best mean", "Δ vs base"]
    assert "synth_pair (accuracy)" in header and "examples/s" in header
    rows = _table(view)
    assert [r[0] for r in rows] == list(VARIANTS)
    assert rows[0][2:5] == ["0.6000", "0.6000", "+0.0000"]
    assert rows[1][2:5] == ["0.5000", "0.5000", "-0.1000"]
    assert rows[1][header.index("examples/s")] == "50.0"
    for key in ("total", "validation"):
        panel = view.plots[key]
        assert [c.label for c in panel.curves.values()] == list(VARIANTS)
    loss = next(iter(view.plots["total"].curves.values())).series
    assert list(loss.step) == [1, 2, 3, 4] and list(loss.value) == [2.0, 1.0, 2 / 3, 0.5]
    assert "mixing study" in view.title.text() and "finished" in view.title.text()
    assert "variants that failed: none really" in view.title.text()  # the ablation's log


def test_the_table_saves_as_csv(view: AblationView, tmp_path: Path) -> None:
    path = view.save_table(tmp_path / "table.csv")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["variant", "status", "final mean"]
    assert rows[1:] == _table(view)


def test_open_variants_emits_their_runs(view: AblationView, qtbot) -> None:
    with qtbot.waitSignal(view.openRuns) as blocker:
        view.open_button.click()
    assert blocker.args[0] == [r.run_id for r in view.results]


def test_an_empty_store_says_how_to_start(qtbot, catalog, tmp_path: Path) -> None:
    view = AblationView(state_for(tmp_path / "empty.db", catalog))
    qtbot.addWidget(view)
    assert view.list.count() == 0 and view.table.rowCount() == 0
    assert "run an ablation file" in view.title.text()


def test_a_file_is_validated_before_it_is_asked_to_run(
    view: AblationView, qtbot, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"base": {"tasks": TASKS}, "vary": {"mixng": ["homogeneous"]}}))
    with qtbot.assertNotEmitted(view.startRequested):
        assert not view.start_file(bad)
    assert "bad.yaml: vary: mixng: unknown config key" in view.last_message
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"base": {"tasks": TASKS}, "vary": {"seed": [1, 2]}}))
    with qtbot.waitSignal(view.startRequested) as blocker:
        assert view.start_file(good)
    where, config = blocker.args
    assert where == str(good) and config["vary"] == {"seed": [1, 2]}
    assert "3 variants" in view.last_message


def test_running_switches_the_buttons(view: AblationView) -> None:
    view.set_running(True)
    assert view.stop_button.isEnabled() and not view.run_button.isEnabled()
    view.set_progress(0.5, "variant 2/4: mixing=homogeneous")
    assert view.progress.value() == 500 and "variant 2/4" in view.progress_label.text()
    view.set_running(False)
    assert view.run_button.isEnabled() and view.progress_label.text() == "idle"

"""The Transfer tab: source and target picking, the config it emits, stored results shown."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from PySide6.QtCore import Qt

from studio.core.experiments.transfer import FinetuneSettings, TransferConfig
from studio.core.sink import MetricRow
from studio.store.runs import RunStore
from studio.ui.style import AMBER, GREEN, RED
from studio.ui.transfer.plots import LEAK_NOTE
from studio.ui.transfer.view import TransferView
from tests.ui.helpers import state_for

MIX = ["synth_sentiment", "synth_pair"]
TARGETS = ["synth_topic", "synth_sentiment"]  # synth_sentiment was in the mix: leaked
SIZES, SEEDS = [16, 64], [0, 1]


def value(target: str, size: int, seed: int, model: str) -> float:
    """A made-up metric: pre-finetuning helps synth_topic and hurts synth_sentiment."""
    bonus = 0.1 if target == "synth_topic" else -0.05
    return 0.5 + size / 200 + 0.02 * seed + (bonus if model == "pretuned" else 0.0)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A store with a finished pre-finetuning run and a transfer from it, filled by hand."""
    path = tmp_path / "studio.db"
    with RunStore(path) as store:
        pretrain = store.create_run(
            "muppet mix", "pretrain", {"tasks": MIX, "model": "minilm"}, "minilm",
            status="finished",
        )  # fmt: skip
        store.create_run("still going", "pretrain", {"tasks": MIX}, "minilm", status="running")
        config = TransferConfig(pretrain, tuple(TARGETS), sizes=tuple(SIZES), seeds=tuple(SEEDS))
        transfer = store.create_run(
            "transfer test", "transfer", config.to_dict(), "minilm", source_run=pretrain,
            status="finished",
        )  # fmt: skip
        for target in TARGETS:
            for size in SIZES:
                for seed in SEEDS:
                    for model in ("base", "pretuned"):
                        store.add_result({
                            "transfer_id": transfer, "target": target, "k": size,
                            "size": str(size), "seed": seed, "model": model,
                            "metric": "accuracy", "value": value(target, size, seed, model),
                            "run_id": f"ft-{target}-{size}-{seed}-{model}",
                            "leaked": int(target in MIX), "baseline": 0.5,
                        })  # fmt: skip
    return path


def _ids(store_path: Path, kind: str) -> list[str]:
    with RunStore(store_path) as store:
        return [r.id for r in store.list_runs(kind)]


@pytest.fixture
def view(qtbot, catalog, store_path: Path) -> TransferView:
    widget = TransferView(state_for(store_path, catalog))
    qtbot.addWidget(widget)
    return widget


def test_source_combo_lists_finished_pretrain_runs_and_marks_the_mix(view, store_path) -> None:
    (pretrain,) = [i for i in _ids(store_path, "pretrain") if view.source_combo.findData(i) >= 0]
    texts = [view.source_combo.itemText(i) for i in range(view.source_combo.count())]
    assert any("muppet mix" in t and pretrain in t for t in texts)
    assert not any("still going" in t for t in texts)  # a running run is no source yet
    assert texts[-1] == "Export folder…"
    assert view.set_source(pretrain) and view.source() == pretrain
    assert set(view.mix()) == set(MIX)
    for name in MIX:
        assert view.is_marked_in_mix(name)
    assert not view.is_marked_in_mix("synth_topic")
    names = view.targets.names()
    assert "synth_summary" not in names  # summarization needs a decoder
    here = [n for n in names if n not in view.targets.unavailable]
    assert names[: len(here)] == here  # tasks without data here are listed last
    in_mix = [i for i, n in enumerate(here) if n in MIX]
    assert in_mix == list(range(len(here) - len(MIX), len(here)))  # then the mix
    item = view.target_list.item(names.index("synth_pair"))
    assert item.foreground().color().name() == AMBER
    assert "leaked" in item.toolTip()


def test_run_emits_the_config_from_the_form(view, qtbot) -> None:
    view.set_targets(["synth_topic", "synth_sentiment"])
    view.sizes_edit.setText("16, 64, all")
    view.seeds_edit.setText("3, 4")
    view.reuse_check.setChecked(False)
    view.settings.fields["eval_max_examples"].setValue(0)  # the word for None: "full split"
    assert view.settings.fields["eval_max_examples"].text() == "full split"
    assert "leaked" in view.last_message  # synth_sentiment is in the source's mix
    with qtbot.waitSignal(view.startRequested) as blocker:
        view.run_button.click()
    config = blocker.args[0]
    assert isinstance(config, TransferConfig)
    assert config.source == view.source()
    assert set(config.targets) == {"synth_topic", "synth_sentiment"}
    assert config.sizes == (16, 64, "all") and config.seeds == (3, 4)
    assert config.reuse_heads is False and config.settings.eval_max_examples is None
    assert config.base_model == "minilm" and config.checkpoint == "best"
    assert config.settings == FinetuneSettings(
        **{**FinetuneSettings().__dict__, "eval_max_examples": None}
    )  # every other setting at its default


def test_the_probe_mode_and_its_settings_reach_the_config(view, qtbot) -> None:
    view.set_targets(["synth_topic"])
    fields = view.settings.fields
    assert not fields["probe_learning_rate"].isEnabled()  # fine-tuning: no probe rate
    fields["probe"].setChecked(True)
    assert fields["probe_learning_rate"].isEnabled()
    fields["probe_learning_rate"].setValue(3e-3)
    fields["pooling"].setCurrentIndex(fields["pooling"].findData("first"))
    fields["min_steps"].setValue(80)
    with qtbot.waitSignal(view.startRequested) as blocker:
        view.run_button.click()
    settings = blocker.args[0].settings
    assert settings.probe and settings.probe_learning_rate == pytest.approx(3e-3)
    assert settings.pooling == "first" and settings.min_steps == 80


def test_the_learning_rate_follows_the_base_models_size(view, qtbot) -> None:
    view.set_targets(["synth_topic"])
    view.base_combo.setEditText("roberta-base")
    with qtbot.waitSignal(view.startRequested) as blocker:
        view.run_button.click()
    assert blocker.args[0].settings.learning_rate == pytest.approx(2e-5)
    view.base_combo.setEditText("minilm")
    assert view.settings.value("learning_rate") == pytest.approx(1e-4)


def test_bad_sizes_show_a_message_instead_of_raising(view, qtbot) -> None:
    view.set_targets(["synth_topic"])
    view.sizes_edit.setText("16, lots")
    with qtbot.assertNotEmitted(view.startRequested):
        view.run_button.click()
    assert "Sizes: 'lots' is not a positive whole number" in view.last_message
    assert "lots" in view.message.text()
    view.set_targets([])
    view.sizes_edit.setText("16")
    with qtbot.assertNotEmitted(view.startRequested):
        view.run_button.click()
    assert "check at least one held-out target" in view.last_message


def test_running_state_and_progress(view, qtbot) -> None:
    assert view.run_button.isEnabled() and not view.stop_button.isEnabled()
    view.set_running(True)
    assert not view.run_button.isEnabled() and view.stop_button.isEnabled()
    view.set_progress(0.25, "synth_topic, k=16, seed 0: base")
    assert view.progress.value() == 250
    assert "k=16" in view.progress_label.text()
    with qtbot.waitSignal(view.stopRequested):
        view.stop_button.click()
    view.set_running(False)
    assert view.run_button.isEnabled()


def test_show_transfer_draws_one_panel_per_target(view, store_path) -> None:
    (transfer,) = _ids(store_path, "transfer")
    view.show_transfer(transfer)
    assert sorted(view.panel_titles()) == sorted(["synth_topic", f"synth_sentiment {LEAK_NOTE}"])
    for target in TARGETS:
        for model in ("base", "pretuned"):
            x, y, std = view.plot_data(target, model)
            assert list(x) == SIZES
            expect = [[value(target, k, s, model) for s in SEEDS] for k in SIZES]
            np.testing.assert_allclose(y, [statistics.fmean(v) for v in expect])
            np.testing.assert_allclose(std, [statistics.stdev(v) for v in expect])
    assert {(c.target, c.size, c.model) for c in view.current_cells()} == {
        (t, str(k), m) for t in TARGETS for k in SIZES for m in ("base", "pretuned")
    }


def test_table_shows_gains_and_the_leaked_target(view, store_path) -> None:
    view.show_transfer(_ids(store_path, "transfer")[0])
    table = view.table
    rows = {(table.item(r, 0).text(), table.item(r, 1).text()): r for r in range(table.rowCount())}
    assert set(rows) == {(t, str(k)) for t in TARGETS for k in SIZES}
    up, down = rows[("synth_topic", "16")], rows[("synth_sentiment", "64")]
    assert table.item(up, 3).text() == "0.500"  # the majority label's accuracy
    assert table.item(up, 6).text() == "+0.100"
    assert table.item(up, 7).text() == "[+0.100, +0.100]"  # the same gain at both seeds
    assert table.item(up, 8).text() == "gain"
    assert table.item(up, 6).foreground().color().name() == GREEN
    assert table.item(down, 6).text() == "-0.050" and table.item(down, 8).text() == "loss"
    assert table.item(down, 6).foreground().color().name() == RED
    assert table.item(down, 9).text() == "yes" and table.item(up, 9).text() == ""
    assert "±" in table.item(up, 4).text() and "±" in table.item(up, 5).text()
    summary = view.results.summary.text()
    assert "leaked" in summary and "significant gain in 2 of 4 cells" in summary


def test_size_all_is_plotted_at_the_examples_used(qtbot, catalog, tmp_path) -> None:
    path = tmp_path / "studio.db"
    with RunStore(path) as store:
        transfer = store.create_run("all", "transfer", {"source": "x"}, "minilm")
        for size, k in (("16", 16), ("all", 500)):
            for model in ("base", "pretuned"):
                store.add_result({
                    "transfer_id": transfer, "target": "synth_topic", "k": k, "size": size,
                    "seed": 0, "model": model, "metric": "accuracy", "value": 0.7,
                    "run_id": "r", "leaked": 0,
                })  # fmt: skip
    view = TransferView(state_for(path, catalog))
    qtbot.addWidget(view)
    view.show_transfer(transfer)
    assert list(view.plot_data("synth_topic", "base")[0]) == [16, 500]
    assert view.table.item(1, 1).text() == "500 (all)"


def test_sweep_plots_mean_metric_against_task_count(view, store_path) -> None:
    with RunStore(store_path) as store:
        sweep = store.create_run("sweep", "sweep", {"pool": [], "children": []}, "minilm")
        rows = []
        for step, base, tuned in ((4, 0.60, 0.58), (8, 0.60, 0.66)):
            rows += [MetricRow(step, "base_mean", base), MetricRow(step, "pretuned_mean", tuned),
                     MetricRow(step, "gain", tuned - base)]  # fmt: skip
        store.add_metrics(sweep, rows)
    view.refresh()
    index = view.results.combo.findData(sweep)
    assert index >= 0 and "Sweep" in view.results.combo.itemText(index)
    view.results.combo.setCurrentIndex(index)
    x, y, _ = view.plot_data("sweep", "pretuned")
    assert list(x) == [4, 8]
    np.testing.assert_allclose(y, [0.58, 0.66])
    assert list(view.plot_data("sweep", "base")[1]) == [0.60, 0.60]
    assert view.table.rowCount() == 2
    assert view.table.item(1, 3).text() == "+0.060"
    assert view.table.item(0, 3).foreground().color().name() == RED


def test_results_reopen_in_a_fresh_view(qtbot, catalog, view, store_path) -> None:
    transfer = _ids(store_path, "transfer")[0]
    view.show_transfer(transfer)
    before = sorted(view.current_cells(), key=repr)
    fresh = TransferView(state_for(store_path, catalog))
    qtbot.addWidget(fresh)
    fresh.results.combo.setCurrentIndex(fresh.results.combo.findData(transfer))
    assert sorted(fresh.current_cells(), key=repr) == before
    assert sorted(fresh.panel_titles()) == sorted(view.panel_titles())


def test_export_folder_source_reads_its_mix(view, tmp_path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    assert not view.set_source(str(folder))
    assert "no heads.json" in view.last_message
    (folder / "heads.json").write_text('{"heads": []}')
    (folder / "studio_config.yaml").write_text(yaml.safe_dump({"tasks": ["synth_topic"]}))
    assert view.set_source(str(folder))
    assert view.source() == str(folder)
    assert view.is_marked_in_mix("synth_topic") and not view.is_marked_in_mix("synth_pair")
    assert not view.checkpoint_combo.isEnabled()  # an export has one checkpoint
    view.refresh()
    assert view.source() == str(folder)  # a refresh keeps the picked folder


def test_every_input_has_a_tooltip(view) -> None:
    inputs = [
        view.source_combo, view.checkpoint_combo, view.base_combo, view.target_list,
        view.sizes_edit, view.seeds_edit, view.reuse_check, view.name_edit,
        view.run_button, view.stop_button, view.results.combo, view.filter_edit,
        *view.settings.fields.values(),
    ]  # fmt: skip
    assert all(w.toolTip() for w in inputs)
    assert Qt.ItemFlag.ItemIsUserCheckable & view.target_list.item(0).flags()


def test_export_folder_item_opens_a_folder_dialog(view, tmp_path, monkeypatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "heads.json").write_text('{"heads": []}')
    (folder / "studio_config.yaml").write_text(yaml.safe_dump({"tasks": ["synth_pair"]}))
    answers = iter(["", str(folder)])  # first cancelled, then picked
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: next(answers))
    combo = view.source_combo
    first = combo.currentData()
    combo.setCurrentIndex(combo.count() - 1)
    combo.activated.emit(combo.count() - 1)
    assert combo.currentData() == first  # a cancelled dialog goes back to a real source
    combo.setCurrentIndex(combo.count() - 1)
    combo.activated.emit(combo.count() - 1)
    assert view.source() == str(folder) and view.mix() == ["synth_pair"]


def test_a_task_without_data_here_is_shown_but_cannot_be_a_target(view) -> None:
    view.state.availability = {
        **view.state.availability,
        "synth_topic": replace(view.state.availability["synth_topic"], available=False,
                               reason="its folder is missing"),
    }  # fmt: skip
    view.state.catalogChanged.emit()
    names = view.targets.names()
    item = view.target_list.item(names.index("synth_topic"))
    assert "no data here" in item.text() and "its folder is missing" in item.toolTip()
    assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
    view.targets.set_checked(["synth_topic", "synth_pair"])
    assert view.targets.checked() == ["synth_pair"]
    assert "without data here" in view.targets.count_label.text()

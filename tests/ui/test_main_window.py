"""The main window end to end: catalog, shares, config YAML, Start / Stop / Resume / Export."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QMessageBox
from transformers import AutoModel

from studio.core.config.presets import QUICK_LOOK, quick_look
from studio.core.config.run import RunConfig, load_config
from studio.core.jobs import HubResult
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.store import RunStore
from studio.ui import export_dialog as export_dialog_module
from studio.ui import main_window as main_window_module
from studio.ui import run_actions as run_actions_module
from studio.ui.main_window import MainWindow
from tests.support import tiny_config

TASKS = ("synth_sentiment", "synth_choice", "synth_span")
# Upper bound for a job: each starts a Python process that imports torch, slow on a busy machine.
JOB_MS = 300_000


def _config(model: str, **changes: object) -> RunConfig:
    steps = {"max_steps": 400, "eval_every": 50, "log_every": 2, "checkpoint_every": 50}
    return tiny_config(model, TASKS, **steps).replace(**changes)


def test_window_shows_the_catalog_and_live_shares(window: MainWindow) -> None:
    catalog = load_catalog(default_tasks_dir())
    assert window.checklist.sizes().keys() >= {"synth_sentiment", "rte"}
    assert {window.tabs.tabText(i) for i in range(window.tabs.count())} >= {
        "Configure",
        "Monitor",
        "Runs",
    }
    from studio.ui.configure.checklist import SHARE, SHARE_ROLE

    def shares() -> dict[str, float]:
        items = window.checklist._items
        return {n: items[n].data(SHARE, SHARE_ROLE) for n in window.checklist.checked()}

    data = Path(__file__).resolve().parents[3] / "shared" / "data"
    if not data.is_dir():
        pytest.skip("../shared/data is not present")
    window.library.set_data_dir(data)
    window.checklist.set_checked(["synth_sentiment", "cb"])  # 800 and 250 examples
    assert shares() == pytest.approx({"synth_sentiment": 800 / 1050, "cb": 250 / 1050})
    window.draft.apply(window.current_config().replace(sampling="uniform"))
    assert shares() == pytest.approx({"synth_sentiment": 0.5, "cb": 0.5})
    assert set(window.current_config().tasks) <= set(catalog)


def test_config_round_trips_through_yaml(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(
        "minilm",
        mixing="homogeneous",
        sampling="temperature",
        temperature=3.0,
        learning_rate=2e-5,
        seed=9,
    )
    window.draft.apply(config)
    path = tmp_path / "saved.yaml"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.files.save_config()
    assert load_config(path) == config
    window.draft.apply(_config("minilm"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.files.open_config()
    assert window.current_config() == config


def test_summarization_follows_the_base_model(window: MainWindow, tmp_path: Path) -> None:
    checklist = window.checklist
    assert not checklist.is_checkable("synth_summary")  # minilm is encoder-only
    window.draft.apply(_config("minilm-seq2seq", tasks=("synth_summary", "synth_sentiment")))
    assert checklist.is_checkable("synth_summary")
    assert window.current_config().tasks == ("synth_summary", "synth_sentiment")
    window.form.fields["model"].setEditText("roberta-base")
    assert not checklist.is_checkable("synth_summary")
    assert window.current_config().tasks == ("synth_sentiment",)  # unchecked with the reason
    assert "encoder-decoder" in checklist._items["synth_summary"].toolTip(0)
    folder = tmp_path / "my-model"  # a local folder is judged by its config.json
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bart", "is_encoder_decoder": true}')
    window.form.fields["model"].setEditText(str(folder))
    assert checklist.is_checkable("synth_summary")


class FakeExportDialog:
    """Stands in for the modal dialog: export the latest checkpoint to a chosen folder."""

    target: Path

    def __init__(self, *args: object) -> None:
        pass

    def exec(self) -> bool:
        return True

    def which(self) -> str:
        return "latest"

    def folder(self) -> Path:
        return self.target


@pytest.mark.train
@pytest.mark.process
def test_start_stop_resume_finish_export(
    window: MainWindow,
    qtbot,
    tiny_model: str,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window.draft.apply(_config(tiny_model))
    window.run_actions.start_run()
    qtbot.waitUntil(lambda: window.jobs.training.run_id is not None, timeout=JOB_MS)
    run_id = window.jobs.training.run_id

    def has_points() -> bool:
        window.monitor.poll()
        return len(window.monitor.curve_data(run_id, "total_loss")[1]) >= 3

    qtbot.waitUntil(has_points, timeout=JOB_MS)
    assert window.stop_action.isEnabled() and not window.start_action.isEnabled()
    window.run_actions.stop_run()
    qtbot.waitUntil(lambda: not window.jobs.training.running, timeout=JOB_MS)
    with RunStore(window.store_path) as store:
        run = store.get_run(run_id)
        assert run.status == "stopped" and 0 < run.step < 400
        assert store.checkpoints(run_id)
        stopped_at = run.step
    window.run_actions.resume(run_id)
    qtbot.waitUntil(lambda: not window.jobs.training.running, timeout=JOB_MS)
    with RunStore(window.store_path) as store:
        assert store.get_run(run_id).status == "finished"
        steps = [r["step"] for r in store.metrics_after(0, run_id) if r["name"] == "total_loss"]
        # The first update, every second one, and the stop's partial window (if it had one).
        assert steps == sorted({1, *range(2, 401, 2), stopped_at})
    FakeExportDialog.target = tmp_path / "exported"
    monkeypatch.setattr(export_dialog_module, "ExportDialog", FakeExportDialog)
    window.run_actions.export(run_id)
    qtbot.waitUntil(lambda: not window.jobs.export.running, timeout=JOB_MS)
    for box in window.findChildren(QMessageBox):
        box.close()
    assert AutoModel.from_pretrained(tmp_path / "exported").config.hidden_size == 32
    assert json.loads((tmp_path / "exported" / "heads.json").read_text())["heads"]


@pytest.mark.train
@pytest.mark.process
def test_a_failing_run_shows_its_error_and_the_window_survives(
    window: MainWindow,
    qtbot,
    tiny_model: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    data = tmp_path / "data" / "copa"
    data.mkdir(parents=True)
    good = {"context": "c", "question": "q", "choices": ["a", "b"], "label": 0}
    (data / "train.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": 5}))
    (data / "validation.jsonl").write_text(json.dumps(good) + "\n")
    window.library.set_data_dir(tmp_path / "data")
    window.draft.apply(_config(tiny_model, tasks=("copa", "synth_sentiment"), max_steps=4))
    assert "copa" in window.checklist.checked()
    window.run_actions.start_run()
    qtbot.waitUntil(
        lambda: not window.jobs.training.running and hasattr(window, "last_error"), timeout=JOB_MS
    )
    assert "train.jsonl, line 2" in window.last_error and "out of range" in window.last_error
    for box in window.findChildren(QMessageBox):
        box.close()
    assert window.start_action.isEnabled()
    window.draft.apply(_config(tiny_model, max_steps=4))
    window.run_actions.start_run()
    qtbot.waitUntil(lambda: not window.jobs.training.running, timeout=JOB_MS)
    with RunStore(window.store_path) as store:
        assert sorted(r.status for r in store.list_runs()) == ["failed", "finished"]


@pytest.mark.train
@pytest.mark.process
def test_closing_mid_run_saves_and_does_not_hang(qtbot, tmp_path: Path, tiny_model: str) -> None:  # type: ignore[no-untyped-def]
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(load_catalog(default_tasks_dir()), tmp_path / "studio.db", settings=settings)
    win.show()
    win.draft.apply(_config(tiny_model, max_steps=100_000))
    win.run_actions.start_run()
    qtbot.waitUntil(lambda: win.jobs.training.run_id is not None, timeout=JOB_MS)
    run_id = win.jobs.training.run_id

    def training() -> bool:  # past preparation (a Stop there ends with nothing to save)
        with RunStore(win.store_path) as store:
            return bool(store.get_run(run_id).step)

    qtbot.waitUntil(training, timeout=JOB_MS)
    win.close()  # asks first: quitting stops the run
    assert win.isVisible() and win.jobs.training.running
    (box,) = [b for b in win.findChildren(QMessageBox) if b.isVisible()]
    assert box.windowTitle() == "Quit while training?"
    (quit_button,) = [b for b in box.buttons() if b.text() == "Stop and quit"]
    quit_button.click()  # waits for the worker to finish its update and save, no deadlock
    assert not win.isVisible()
    assert not win.jobs.threads
    with RunStore(win.store_path) as store:
        assert store.get_run(run_id).status == "stopped"
        assert store.checkpoints(run_id)  # the Stop on close saved one


@pytest.mark.train
@pytest.mark.process
def test_transfer_tab_runs_an_experiment(window: MainWindow, qtbot, tiny_model: str) -> None:  # type: ignore[no-untyped-def]
    from studio.session import execute

    source = execute(
        _config(tiny_model, max_steps=4, tasks=("synth_sentiment", "synth_topic")),
        window.catalog,
        None,
        window.store_path,
        threading.Event(),
    )
    view = window.transfer
    view.refresh()
    assert view.set_source(source.run_id)
    assert view.is_marked_in_mix("synth_sentiment") and not view.is_marked_in_mix("synth_choice")
    view.set_targets(["synth_choice"])
    view.sizes_edit.setText("8, 16")
    view.seeds_edit.setText("0")
    view.base_combo.setEditText(tiny_model)
    view.checkpoint_combo.setCurrentText("latest")
    view.settings.set_values({"epochs": 1.0, "eval_max_examples": 20, "device": "cpu"})
    view.run_button.click()
    qtbot.waitUntil(lambda: not window.jobs.transfer.running, timeout=JOB_MS)
    cells = view.current_cells()
    assert {(c.size, c.model) for c in cells} == {
        (s, m) for s in ("8", "16") for m in ("base", "pretuned")
    }
    x, y, _ = view.plot_data("synth_choice", "pretuned")
    assert list(x) == [8, 16] and len(y) == 2


def test_open_another_run_store(window: MainWindow, tmp_path: Path) -> None:
    """A multi-process run on a cluster writes its own store; the window can follow it."""
    other = tmp_path / "cluster" / "studio.db"
    other.parent.mkdir()
    with RunStore(other) as store:
        run_id = store.create_run("on the cluster", "pretrain", {"tasks": ["rte"]}, "minilm")
    window.files.set_store(other)
    assert window.store_path == other and str(other) in window.windowTitle()
    assert run_id in window.runs.runs
    window.open_runs([run_id])
    assert window.monitor.run_ids == [run_id]
    (tmp_path / "broken.db").write_text("not a database")
    window.files.set_store(tmp_path / "broken.db")
    assert "broken.db: this file is not a run store" in window.last_error
    assert window.store_path == other  # unchanged
    for box in window.findChildren(QMessageBox):
        box.close()


def test_a_first_start_uses_the_quick_look_for_this_machine(window: MainWindow) -> None:
    assert window.form.preset_bar.current() == QUICK_LOOK
    config = window.form.config(["rte"])
    assert config.max_length == quick_look("cpu")["max_length"]
    window._probe_done_text("CUDA: NVIDIA H200, 139 GiB")
    assert window.form.config(["rte"]).max_length == quick_look("cuda")["max_length"]


@pytest.mark.train
@pytest.mark.process
def test_try_the_demo_trains_on_the_demo_tasks(
    window: MainWindow, qtbot, tiny_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    real = run_actions_module.demo_config
    monkeypatch.setattr(
        run_actions_module,
        "demo_config",
        lambda catalog: real(catalog, steps=4).replace(model=tiny_model, max_length=32),
    )
    window.run_actions.try_demo()
    qtbot.waitUntil(
        lambda: not window.jobs.training.running and bool(window.runs.runs), timeout=JOB_MS
    )
    with RunStore(window.store_path) as store:
        (run,) = store.list_runs()
    assert (run.name, run.status) == ("demo (synthetic tasks)", "finished")
    assert all(t.startswith("synth_") for t in run.config["tasks"])
    assert window.tabs.currentWidget() is window.monitor_tab


@pytest.mark.process
def test_the_hub_is_probed_in_a_child_job(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A network probe on the GUI thread could freeze the window: the window asks a child."""
    started: list[dict] = []
    monkeypatch.setattr(
        main_window_module.JobsController, "start", lambda self, w: started.append(w.job.job)
    )
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "no-data"))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(load_catalog(default_tasks_dir()), tmp_path / "studio.db", settings=settings)
    qtbot.addWidget(win)
    library = win.library
    hub_tasks = [n for n, a in library.availability.items() if a.source == "hub"]
    assert hub_tasks and not any(library.availability[n].available for n in hub_tasks)
    qtbot.waitUntil(lambda: "hub" in [job.kind for job in started])
    library._hub_checked(HubResult(True))  # the child job's answer when the hub is reachable
    assert win.state.hub_reachable
    assert any(library.availability[n].available for n in hub_tasks)
    win.close()


def test_quitting_while_training_asks_and_cancel_keeps_the_window(window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(type(window.jobs.training), "running", property(lambda slot: True))
    window.close()
    assert window.isVisible()
    (box,) = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert "stops it after the current update" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert window.isVisible() and not window._quit_asked
    monkeypatch.undo()  # nothing trains: the fixture's close goes through without asking

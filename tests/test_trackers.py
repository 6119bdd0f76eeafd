"""report_to: a run's metrics also reach accelerate's trackers (TensorBoard event files and
MLflow's local store, read back offline; the others refused naming their package when absent),
and a GPU out of memory ends the run with the settings to lower."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from studio.core.config.run import config_from_dict
from studio.core.errors import ConfigError
from studio.core.paths import run_dir
from studio.core.sink import MetricRow
from studio.core.tasks.spec import TaskSpec
from studio.session import execute
from studio.store import RunStore
from studio.train import trackers
from studio.train.trackers import FOLDER, TrackerSink, flat_config, tracker_settings
from tests.support import tiny_config

TASKS = ("synth_sentiment", "synth_choice")


def _run(model: str, db: Path, catalog: dict[str, TaskSpec], **changes: Any) -> str:
    config = tiny_config(model, TASKS, max_steps=4, eval_every=2, **changes)
    outcome = execute(config, catalog, None, db, threading.Event())
    assert outcome.status == "finished", outcome.error
    return outcome.run_id


def _scalars(folder: Path) -> dict[str, dict[int, float]]:
    """Every scalar TensorBoard finds in the event files directly in `folder`, by tag."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {
        name: {e.step: e.value for e in events.Scalars(name)} for name in events.Tags()["scalars"]
    }


def _store_series(db: Path, run_id: str, name: str, task: str | None = None) -> dict[int, float]:
    with RunStore(db) as store:
        rows = store.metrics_after(0, run_id)
    return {r["step"]: r["value"] for r in rows if r["name"] == name and r["task"] == task}


@pytest.mark.train
def test_tensorboard_gets_the_curves_the_store_has(
    tiny_model: str, db_path: Path, catalog: dict[str, TaskSpec]
) -> None:
    run_id = _run(tiny_model, db_path, catalog, report_to="tensorboard")
    logged = _scalars(run_dir(db_path, run_id) / FOLDER / run_id)
    for name, task in (("total_loss", None), ("loss", TASKS[0]), ("eval_mean", None)):
        stored = _store_series(db_path, run_id, name, task)
        shown = logged[name if task is None else f"{name}/{task}"]
        assert sorted(shown) == sorted(stored) and stored, name
        # TensorBoard keeps float32
        assert shown == pytest.approx(stored, rel=1e-6), name
    assert sorted(logged["total_loss"]) == [1, 2, 3, 4]


@pytest.mark.train
def test_report_to_none_writes_no_event_files(
    tiny_model: str, db_path: Path, catalog: dict[str, TaskSpec]
) -> None:
    run_id = _run(tiny_model, db_path, catalog)
    folder = run_dir(db_path, run_id)
    assert (folder / "checkpoints").is_dir()  # the run did write its folder
    assert not (folder / FOLDER).exists()
    assert not list(folder.rglob("events.out.tfevents*"))


@pytest.mark.train
def test_out_of_gpu_memory_fails_the_run_naming_the_settings_to_lower(
    tiny_model: str,
    db_path: Path,
    catalog: dict[str, TaskSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_memory(*args: object) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    finished: list[object] = []
    finish = trackers._finish
    monkeypatch.setattr("studio.train.loop.clipped_update", no_memory)
    monkeypatch.setattr(trackers, "_finish", lambda acc: (finished.append(acc), finish(acc)))
    config = tiny_config(tiny_model, TASKS, batch_size=8, max_length=64, report_to="tensorboard")
    outcome = execute(config, catalog, None, db_path, threading.Event())
    assert outcome.status == "failed"
    error = outcome.error or ""
    assert error.startswith("the GPU ran out of memory (CUDA out of memory."), error
    assert "batch_size (now 8" in error and "max_length (now 64)" in error
    assert "Traceback" not in error  # a user's error, not a crash
    with RunStore(db_path) as store:
        assert store.get_run(outcome.run_id).error == error
    assert len(finished) == 1  # the trackers were ended on the failure too


def test_a_report_to_that_is_not_a_tracker_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"report_to: 'neptune' is not allowed.*mlflow"):
        config_from_dict({"tasks": ["rte"], "report_to": "neptune"}, "run.yaml")
    assert config_from_dict({"tasks": ["rte"]}).report_to == "none"


@pytest.mark.parametrize(
    ("tracker", "package"),
    [("wandb", "wandb"), ("comet", "comet-ml"), ("aim", "aim"), ("clearml", "clearml")],
)
def test_each_tracker_not_installed_names_its_package(
    tracker: str, package: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(trackers, "get_available_trackers", lambda: ["tensorboard"])
    config = config_from_dict({"tasks": ["rte"], "report_to": tracker})
    with pytest.raises(
        ConfigError,
        match=rf"report_to: {tracker} is not installed.*"
        rf"`pip install {package}`",
    ):
        tracker_settings(config, tmp_path / "runs" / "abc")


def test_mlflow_without_its_sql_store_packages_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    config = config_from_dict({"tasks": ["rte"], "report_to": "mlflow"})
    home = tmp_path / "home"
    assert tracker_settings(config, home / "runs" / "abc") == ("mlflow", home / "mlflow")
    monkeypatch.setattr(trackers, "MLFLOW_SQL", ("no_such_package_here",))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ConfigError, match=r"mlflow is not installed.*`pip install mlflow`"):
        tracker_settings(config, home / "runs" / "abc")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://localhost:5000")  # a server: no SQL here
    assert tracker_settings(config, home / "runs" / "abc")[0] == "mlflow"


@pytest.mark.train
def test_mlflow_gets_the_curves_the_store_has_in_a_local_folder(
    tiny_model: str, db_path: Path, catalog: dict[str, TaskSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_id = _run(tiny_model, db_path, catalog, report_to="mlflow")
    database = db_path.parent / "mlflow" / "mlflow.db"
    assert database.is_file()
    assert "MLFLOW_TRACKING_URI" not in os.environ  # put back when the run ended
    client = MlflowClient(f"sqlite:///{database}")
    experiment = client.get_experiment_by_name(trackers.PROJECT)
    assert experiment is not None
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == run_id and found.info.status == "FINISHED"
    assert found.data.params["tasks"] == ",".join(TASKS)
    for name, task in (("total_loss", None), ("loss", TASKS[0]), ("eval_mean", None)):
        stored = _store_series(db_path, run_id, name, task)
        key = name if task is None else f"{name}/{task}"
        shown = {m.step: m.value for m in client.get_metric_history(found.info.run_id, key)}
        assert stored and shown == pytest.approx(stored), name


def test_a_tracker_that_is_not_installed_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = config_from_dict({"tasks": ["rte"], "report_to": "tensorboard"})
    assert tracker_settings(config, tmp_path) == ("tensorboard", tmp_path / FOLDER)
    assert tracker_settings(config.replace(report_to="none"), tmp_path) == (None, None)
    monkeypatch.setattr(trackers, "get_available_trackers", lambda: [])
    with pytest.raises(ConfigError, match=r"report_to: tensorboard is not installed.*pip install"):
        tracker_settings(config, tmp_path)


class _Accelerator:
    """What TrackerSink uses of an Accelerator: log() and its trackers."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, float], int | None]] = []
        self.trackers: list[object] = []

    def log(self, values: dict[str, float], step: int | None = None) -> None:
        self.calls.append((values, step))


def test_the_tracker_sink_logs_each_steps_rows_in_one_call() -> None:
    accelerator = _Accelerator()
    sink = TrackerSink(accelerator)  # type: ignore[arg-type]
    sink.metrics(
        [
            MetricRow(2, "total_loss", 0.5),
            MetricRow(1, "total_loss", 0.75),
            MetricRow(2, "loss", 0.25, "rte"),
            MetricRow(2, "eval_accuracy", 0.5, "rte"),
        ]
    )
    sink.log("info", "not a metric")
    sink.flush()
    assert accelerator.calls == [
        ({"total_loss": 0.75}, 1),
        ({"total_loss": 0.5, "loss/rte": 0.25, "eval_accuracy/rte": 0.5}, 2),
    ]


def test_the_config_reaches_a_tracker_as_scalars() -> None:
    config = config_from_dict(
        {
            "tasks": ["rte", "boolq"],
            "loss_scaling": "manual",
            "manual_weights": {"rte": 1.0, "boolq": 0.5},
            "eval_max_examples": None,
        }
    )
    flat = flat_config(config)
    assert flat["tasks"] == "rte,boolq"
    assert flat["manual_weights/boolq"] == 0.5 and "manual_weights" not in flat
    assert "eval_max_examples" not in flat
    assert all(isinstance(v, (bool, int, float, str)) for v in flat.values())

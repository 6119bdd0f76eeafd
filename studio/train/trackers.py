"""A run's metrics also go to accelerate's trackers (TensorBoard, MLflow, ...) when `report_to`
asks.

The store stays the studio's record; a tracker gets the same rows through `TrackerSink`, one
more sink beside the store's, so the loop reports once and never calls a tracker itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from accelerate.tracking import get_available_trackers

from studio.core.config.run import TRACKERS, RunConfig
from studio.core.errors import ConfigError
from studio.core.sink import MetricRow, NullSink, Sink, TeeSink

FOLDER = "tensorboard"  # inside the run's folder: runs/<id>/tensorboard/<id>/events.out...
PROJECT = "muppet-studio"  # the project (MLflow: experiment) the other trackers file runs under
# report_to -> accelerate's name for the tracker, and what `pip install` brings it
ACCELERATE_NAME = {name: name for name in TRACKERS} | {"comet": "comet_ml"}
PACKAGES = {name: name for name in TRACKERS} | {"comet": "comet-ml"}
# The keyword that names a run in each tracker (the studio's run id goes there).
RUN_NAME = {"mlflow": "run_name", "wandb": "name", "trackio": "name", "clearml": "task_name"}
# MLflow's local store is a SQLite file (its file store refuses to start since 3.x), which
# needs these beside mlflow-skinny; the full `mlflow` package brings them.
MLFLOW_SQL = ("sqlalchemy", "alembic")


def _home(run_dir: Path) -> Path:
    """The store's folder (runs/<id> lies in it): where trackers shared by all runs write."""
    return run_dir.parent.parent


def tracker_folder(config: RunConfig, run_dir: Path) -> Path:
    """Where a tracker writing local files writes: the run's own folder for TensorBoard, one
    folder beside the store for MLflow and Aim, whose viewers compare runs in one store."""
    if config.report_to == "tensorboard":
        return run_dir / FOLDER
    return _home(run_dir) / config.report_to


def tracker_settings(config: RunConfig, run_dir: Path | None) -> tuple[str | None, Path | None]:
    """The Accelerator's `log_with` and `project_dir` for the run; (None, None): no tracker.

    A tracker the environment lacks is refused here, before any training: accelerate would
    skip it without a word.
    """
    if config.report_to == "none" or run_dir is None:
        return None, None
    name = ACCELERATE_NAME[config.report_to]
    if name not in {str(t) for t in get_available_trackers()} or _mlflow_lacks_sql(config):
        raise ConfigError(
            f"report_to: {config.report_to} is not installed in this environment; "
            f"`pip install {PACKAGES[config.report_to]}`, or set report_to to none"
        )
    return name, tracker_folder(config, run_dir)


def _mlflow_lacks_sql(config: RunConfig) -> bool:
    """MLflow to its local store without the SQL packages that store needs."""
    if config.report_to != "mlflow" or os.environ.get("MLFLOW_TRACKING_URI"):
        return False
    return any(importlib.util.find_spec(package) is None for package in MLFLOW_SQL)


def _tracker_options(config: RunConfig, run_dir: Path, cleanup: contextlib.ExitStack) -> Any:
    """(project name, init_kwargs, where it writes) for accelerate's init_trackers."""
    name = ACCELERATE_NAME[config.report_to]
    if config.report_to == "tensorboard":
        # The run's id names it in TensorBoard: `tensorboard --logdir runs` lists runs by id.
        return run_dir.name, {}, str(run_dir / FOLDER)
    options: dict[str, Any] = {}
    if config.report_to in RUN_NAME:
        options[RUN_NAME[config.report_to]] = run_dir.name
    where = "the place its own settings name"
    if config.report_to == "mlflow":
        where = _local_mlflow(tracker_folder(config, run_dir), options, cleanup)
    elif config.report_to == "aim":
        where = str(tracker_folder(config, run_dir))
    return PROJECT, {name: options}, where


def _local_mlflow(folder: Path, options: dict[str, Any], cleanup: contextlib.ExitStack) -> str:
    """Point MLflow at the SQLite store in `folder` for this run, unless MLFLOW_TRACKING_URI
    names another (a server); the variable is put back when the run ends."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    cleanup.callback(os.environ.pop, "MLFLOW_TRACKING_URI", None)
    options["logging_dir"] = str(folder / "artifacts")  # a new experiment's artifacts
    return uri


def start_tracking(
    accelerator: Accelerator,
    config: RunConfig,
    run_dir: Path | None,
    sink: Sink,
    cleanup: contextlib.ExitStack,
) -> Sink:
    """Start the accelerator's trackers for the run; return `sink` with a TrackerSink beside it.

    The trackers are finished when `cleanup` closes, however the run ends (finished, stopped,
    failed). Only the trackers: `end_training` would also end the process group, which a
    sweep's fine-tunings in the same processes still need.
    """
    if config.report_to == "none":
        return sink
    if run_dir is None:
        sink.log("warning", f"report_to {config.report_to}: the run has no folder to write to")
        return sink
    project, options, where = _tracker_options(config, run_dir, cleanup)
    cleanup.callback(_finish, accelerator)
    accelerator.init_trackers(project, config=flat_config(config), init_kwargs=options)
    sink.log("info", f"reporting metrics to {config.report_to} in {where}")
    return TeeSink(sink, TrackerSink(accelerator))


def _finish(accelerator: Accelerator) -> None:
    for tracker in accelerator.trackers:
        tracker.finish()
    accelerator.trackers = []


def flat_config(config: RunConfig) -> dict[str, bool | int | float | str]:
    """The config as the scalars a tracker's hyperparameters take: lists joined, mappings
    spread over `key/item`, unset values (None) left out."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in config.to_dict().items():
        if isinstance(value, list):
            flat[key] = ",".join(map(str, value))
        elif isinstance(value, dict):
            flat.update({f"{key}/{k}": v for k, v in value.items()})
        elif value is not None:
            flat[key] = value
    return flat


def tag(row: MetricRow) -> str:
    """A row's name in a tracker: `total_loss`, or `loss/<task>` (TensorBoard groups a task's
    rows of one metric in one section)."""
    return row.name if row.task is None else f"{row.name}/{row.task}"


class TrackerSink(NullSink):
    """Forwards metric rows to the accelerator's trackers, one `log` call per step.

    Logs, progress and checkpoints stay with the store (the rest of NullSink's no-ops): a
    tracker gets only the curves.
    """

    def __init__(self, accelerator: Accelerator) -> None:
        self.accelerator = accelerator

    def metrics(self, rows: list[MetricRow]) -> None:
        by_step: dict[int, dict[str, Any]] = defaultdict(dict)
        for row in rows:
            by_step[row.step][tag(row)] = row.value
        for step, values in sorted(by_step.items()):
            self.accelerator.log(values, step=step)

    def flush(self) -> None:
        """Write what the trackers buffer (a checkpoint, the end): TensorBoard shows it then."""
        for tracker in self.accelerator.trackers:
            flush = getattr(getattr(tracker, "tracker", None), "flush", None)
            if callable(flush):
                flush()

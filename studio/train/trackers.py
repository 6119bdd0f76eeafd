"""A run's metrics also go to accelerate's trackers (TensorBoard, ...) when `report_to` asks.

The store stays the studio's record; a tracker gets the same rows through `TrackerSink`, one
more sink beside the store's, so the loop reports once and never calls a tracker itself.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from accelerate import Accelerator
from accelerate.tracking import get_available_trackers

from studio.core.config.run import RunConfig
from studio.core.errors import ConfigError
from studio.core.sink import MetricRow, NullSink, Sink, TeeSink

FOLDER = "tensorboard"  # inside the run's folder: runs/<id>/tensorboard/<id>/events.out...
PACKAGES = {"tensorboard": "tensorboard"}  # what `pip install` brings a tracker


def tracker_settings(config: RunConfig, run_dir: Path | None) -> tuple[str | None, Path | None]:
    """The Accelerator's `log_with` and `project_dir` for the run; (None, None): no tracker.

    A tracker the environment lacks is refused here, before any training: accelerate would
    skip it without a word.
    """
    if config.report_to == "none" or run_dir is None:
        return None, None
    if config.report_to not in {str(t) for t in get_available_trackers()}:
        package = PACKAGES.get(config.report_to, config.report_to)
        raise ConfigError(
            f"report_to: {config.report_to} is not installed in this environment; "
            f"`pip install {package}`, or set report_to to none"
        )
    return config.report_to, run_dir / FOLDER


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
    # The run's id names it in TensorBoard: `tensorboard --logdir runs` lists runs by id.
    accelerator.init_trackers(run_dir.name, config=flat_config(config))
    cleanup.callback(_finish, accelerator)
    sink.log("info", f"reporting metrics to {config.report_to} in {run_dir / FOLDER}")
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

"""What the Monitor reads: the shown runs, their metric rows as series, and each series' plot.

No widgets here: the view (studio.ui.monitor.view) draws what these functions keep up to date.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.core import metric_catalogue as mc
from studio.core.errors import StudioError
from studio.core.tasks.spec import TaskSpec, studio_catalog
from studio.store.runs import RunStore
from studio.ui.plotting.series import Series

log = logging.getLogger(__name__)

LOAD_CHUNK = 200_000  # rows per query while loading a run's history
POLL_LIMIT = 50_000  # rows per run per tick, so catching up never freezes the GUI for long
# key: (title, smoothable, log-y capable, symbols, row, column, row span, column span)
PLOTS: dict[str, tuple[str, bool, bool, bool, int, int, int, int]] = {
    "total": ("Total loss", True, True, False, 0, 0, 1, 1),
    "task_loss": ("Per-task loss", True, True, False, 0, 1, 1, 2),
    "validation": ("Validation (primary metric; thick: the mean)", False, False, True, 1, 0, 1, 2),
    "shares": ("Task shares", False, False, False, 1, 2, 1, 1),
    "lr": ("Learning rate", False, False, False, 2, 0, 1, 1),
    "grad": ("Gradient norm", True, True, False, 2, 1, 1, 1),
    "throughput": ("Throughput (examples/s)", True, False, False, 2, 2, 1, 1),
}
# Which plot draws each metric: core.metric_catalogue declares it.
RUN_WIDE = {m.name: m.plot for m in mc.RUN_WIDE.values() if m.plot}
PER_TASK = {m.name: m.plot for m in mc.PER_TASK.values() if m.plot}
CLOCKS = (mc.TOTAL_LOSS, mc.EXAMPLES_PER_S, mc.LR)  # run-wide series whose rows time the steps
SeriesKey = tuple[str, str | None, str]  # (run id, task or None, metric name)


@dataclass
class ShownRun:
    """What the view tracks per shown run."""

    run_id: str
    index: int
    name: str
    tasks: list[str]
    last_id: int = 0
    t0: float = math.nan  # wall time of the run's first row: zero of the time axis


def describe(store: RunStore, run_id: str, index: int) -> ShownRun:
    """A run as the view shows it; one missing from the store has no name or tasks."""
    try:
        info = store.get_run(run_id)
    except KeyError:
        return ShownRun(run_id, index, run_id, [])
    tasks = [t for t in info.config.get("tasks") or [] if isinstance(t, str)]
    return ShownRun(run_id, index, info.name or run_id, tasks)


def ingest(
    run: ShownRun, rows: list[dict[str, Any]], series: dict[SeriesKey, Series]
) -> list[SeriesKey]:
    """Append rows (one run, ordered by id) to their series; the keys that grew, in row order."""
    groups: dict[tuple[str | None, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["name"]), []).append(row)
    if math.isnan(run.t0):
        walls = [r["wall_time"] for r in rows if r["wall_time"] is not None]
        run.t0 = min(walls) if walls else time.time()
    run.last_id = rows[-1]["id"]
    for (task, name), group in groups.items():
        steps = np.array([r["step"] for r in group], dtype=float)
        times = np.array([r["wall_time"] for r in group], dtype=float)
        # None (a NaN the store kept as NULL) becomes NaN: a gap in the curve.
        values = np.array([r["value"] for r in group], dtype=float)
        key = (run.run_id, task, name)
        if key not in series:
            series[key] = Series()
        series[key].extend(steps, (times - run.t0) / 60.0, values)
    return [(run.run_id, task, name) for task, name in groups]


def rewound(run: ShownRun, rows: list[dict[str, Any]], series: dict[SeriesKey, Series]) -> bool:
    """Whether new rows go back to steps a series already has (another process resumed it)."""
    for row in rows:
        known = series.get((run.run_id, row["task"], row["name"]))
        if known is not None and row["step"] <= known.last_step:
            return True
    return False


def plot_for(key: SeriesKey, primary_metric: Callable[[str], str | None]) -> str | None:
    """The PLOTS key a series is drawn in; None for a series no plot shows."""
    _, task, name = key
    if task is None:
        return RUN_WIDE.get(name)
    if name in PER_TASK:
        return PER_TASK[name]
    primary = primary_metric(task)
    return "validation" if primary and name == mc.eval_name(primary) else None


def reported_metric(keys: Iterable[SeriesKey], task: str) -> str | None:
    """The first evaluation metric a run reported for a task (one the catalog does not know)."""
    for _, t, name in keys:
        metric = mc.task_metric(name)
        if t == task and metric:
            return metric
    return None


def label(run: ShownRun, key: SeriesKey, overlaid: bool) -> str:
    """A curve's legend entry: its task (or metric), led by the run's name when runs overlay."""
    _, task, name = key
    what = task if task is not None else ("mean" if name == mc.EVAL_MEAN else None)
    if not overlaid:
        return what or name
    return f"{run.name} · {what}" if what else run.name


def default_catalog() -> dict[str, TaskSpec]:
    """The studio's task catalog, for each task's primary metric; empty when it cannot load."""
    try:
        return studio_catalog().tasks
    except StudioError as e:
        # Without the catalog, validation falls back to the first metric each task reports.
        log.warning("monitor: task catalog unavailable: %s", e)
        return {}

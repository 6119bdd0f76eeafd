"""An ablation's results, pure: each variant's row (final and best validation mean, the
difference from the base variant, each task's metric, wall time, throughput, the transfer gain)
read through any run store, and the table the CLI, the window and the report show."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from studio.core.experiments.ablation import BASE
from studio.core.experiments.transfer import summarize
from studio.core.metric_catalogue import EVAL_MEAN, EXAMPLES_PER_S, eval_name
from studio.core.run_record import Run, TransferResult
from studio.core.text import duration


class MetricReader(Protocol):
    """What reading results needs of a run store (studio.store.RunStore has it)."""

    def get_run(self, run_id: str) -> Run: ...

    def metric_series(
        self, run_id: str, name: str, task: str | None = None
    ) -> list[tuple[int, float, float]]: ...

    def results(self, transfer_id: str) -> list[TransferResult]: ...


@dataclass(frozen=True)
class VariantResult:
    """One row of the ablation table."""

    variant: str
    run_id: str
    status: str
    final_mean: float | None  # the validation mean at the last evaluation
    best_mean: float | None
    delta: float | None  # final_mean minus the base variant's
    tasks: dict[str, float]  # task -> its primary metric at the last evaluation
    metrics: dict[str, str]  # task -> the metric's name
    wall_s: float | None
    throughput: float | None  # mean examples per second over the logged windows
    transfer_id: str | None = None
    transfer_mean: float | None = None  # the pre-finetuned encoders' mean target metric
    transfer_gain: float | None = None  # over the base encoder, mean over targets and sizes


def variant_entries(run: Run) -> list[dict[str, Any]]:
    """The ablation run's variants as stored: name, changes, run_id, transfer_id."""
    return [v for v in run.config.get("variants") or [] if isinstance(v, dict)]


def read_results(
    store: MetricReader, ablation_id: str, metric_of: Mapping[str, str]
) -> list[VariantResult]:
    """The table of a stored ablation, one row per variant (in the file's order).

    `metric_of` gives each task's primary metric; a task it does not know has no column value.
    """
    rows = []
    for entry in variant_entries(store.get_run(ablation_id)):
        try:
            run = store.get_run(entry["run_id"])
        except KeyError:  # deleted from the store since
            continue
        rows.append(_variant_row(store, entry, run, metric_of))
    base = next((r for r in rows if r.variant == BASE), None)
    if base is None or base.final_mean is None:
        return rows
    return [
        _with_delta(r, None if r.final_mean is None else r.final_mean - base.final_mean)
        for r in rows
    ]


def _with_delta(row: VariantResult, delta: float | None) -> VariantResult:
    return dataclasses.replace(row, delta=delta)


def _variant_row(
    store: MetricReader,
    entry: Mapping[str, Any],
    run: Run,
    metric_of: Mapping[str, str],
) -> VariantResult:
    run_id = str(entry["run_id"])
    means = [v for _, v, _ in store.metric_series(run_id, EVAL_MEAN) if v is not None]
    tasks: dict[str, float] = {}
    metrics: dict[str, str] = {}
    for task in run.config.get("tasks") or []:
        metric = metric_of.get(task)
        if not metric:
            continue
        values = [v for _, v, _ in store.metric_series(run_id, eval_name(metric), task)]
        if values and values[-1] is not None:
            tasks[task], metrics[task] = float(values[-1]), metric
    rates = [v for _, v, _ in store.metric_series(run_id, EXAMPLES_PER_S) if v is not None]
    transfer_id = entry.get("transfer_id")
    mean, gain = transfer_gain(store.results(transfer_id)) if transfer_id else (None, None)
    return VariantResult(
        variant=str(entry["name"]),
        run_id=run_id,
        status=run.status,
        final_mean=means[-1] if means else None,
        best_mean=max(means) if means else None,
        delta=None,
        tasks=tasks,
        metrics=metrics,
        wall_s=wall_seconds(run),
        throughput=statistics.fmean(rates) if rates else None,
        transfer_id=transfer_id,
        transfer_mean=mean,
        transfer_gain=gain,
    )


def wall_seconds(run: Run) -> float | None:
    """From start to finish (or to the last heartbeat of a run still going)."""
    started, ended = run.started, run.finished or run.heartbeat
    return float(ended - started) if started and ended else None


def transfer_gain(results: list[TransferResult]) -> tuple[float | None, float | None]:
    """The pre-finetuned mean target metric and its gain over the base encoder, each the mean
    over the (target, size) cells both models finished."""
    cells = {(c.target, c.size, c.model): c.mean for c in summarize(results)}
    pairs = [
        (cells[(t, s, "pretuned")], cells[(t, s, "base")])
        for t, s, m in cells
        if m == "pretuned" and (t, s, "base") in cells
    ]
    if not pairs:
        return None, None
    tuned = statistics.fmean(p for p, _ in pairs)
    return tuned, tuned - statistics.fmean(b for _, b in pairs)


def task_columns(rows: Sequence[VariantResult]) -> list[tuple[str, str]]:
    """(task, metric) of every task any variant reports, in first-seen order."""
    columns: dict[str, str] = {}
    for row in rows:
        for task, metric in row.metrics.items():
            columns.setdefault(task, metric)
    return list(columns.items())


def table_rows(rows: Sequence[VariantResult]) -> tuple[list[str], list[list[str]]]:
    """The table as text cells: the header and one row per variant (the window and the CLI)."""
    tasks = task_columns(rows)
    transfer = any(r.transfer_id for r in rows)
    header = ["variant", "status", "final mean", "best mean", "Δ vs base"]
    header += [f"{t} ({m})" for t, m in tasks] + ["wall time", "examples/s"]
    header += ["transfer mean", "transfer gain"] if transfer else []
    body = []
    for r in rows:
        cells = [r.variant, r.status, _num(r.final_mean), _num(r.best_mean), _num(r.delta, "+")]
        cells += [_num(r.tasks.get(t)) for t, _ in tasks]
        cells += [_duration(r.wall_s), _num(r.throughput, digits=1)]
        cells += [_num(r.transfer_mean), _num(r.transfer_gain, "+")] if transfer else []
        body.append(cells)
    return header, body


def results_table(rows: Sequence[VariantResult]) -> str:
    """The ablation table as aligned text (`python -m studio results ID`)."""
    header, body = table_rows(rows)
    if not body:
        return "no variants yet"
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for line in [header, *body]:
        # The names left-aligned, the numbers right-aligned.
        pairs = enumerate(zip(line, widths, strict=True))
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _num(value: float | None, sign: str = "", digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:{sign}.{digits}f}"


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)

"""Runs side by side: each task's final and best validation metric in every run, the best cell
of each row marked (`compare RUN RUN...` and the Runs tab's Compare view)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.core.metric_catalogue import EVAL_MEAN, higher_is_better, task_metric

MEAN = "(mean)"


@dataclass(frozen=True)
class Cell:
    final: float | None = None
    best: float | None = None


@dataclass(frozen=True)
class CompareRow:
    """One task's metric in every run; `best_final` / `best_best`: the runs whose value is the
    best of the row (ties: every one of them)."""

    task: str
    metric: str
    cells: Mapping[str, Cell]
    best_final: tuple[str, ...] = ()
    best_best: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    runs: tuple[tuple[str, str], ...]  # (id, name) in the order asked for
    rows: tuple[CompareRow, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [{"id": i, "name": n} for i, n in self.runs],
            "rows": [
                {
                    "task": r.task,
                    "metric": r.metric,
                    "values": {i: {"final": c.final, "best": c.best} for i, c in r.cells.items()},
                    "best_final": list(r.best_final),
                    "best_best": list(r.best_best),
                }
                for r in self.rows
            ],
        }


# (step, task, name, value) of a run's validation rows.
EvalRow = tuple[int, str | None, str, float | None]


def compare_runs(
    runs: Sequence[tuple[str, str]], rows: Mapping[str, Sequence[EvalRow]]
) -> Comparison:
    """The comparison of `runs` ((id, name) each) from their validation rows (`rows` by id):
    one row per (task, metric) any run evaluated, the validation mean first."""
    series: dict[tuple[str, str], dict[str, list[tuple[int, float]]]] = {}
    for run_id, _ in runs:
        for step, task, name, value in rows.get(run_id, ()):
            if value is None or not math.isfinite(value):
                continue
            key = _key(task, name)
            if key is not None:
                series.setdefault(key, {}).setdefault(run_id, []).append((step, value))
    ordered = sorted(series, key=lambda k: (k[0] != MEAN, k))
    return Comparison(tuple(runs), tuple(_row(key, series[key], runs) for key in ordered))


def _key(task: str | None, name: str) -> tuple[str, str] | None:
    if task is None:
        return (MEAN, "mean") if name == EVAL_MEAN else None
    metric = task_metric(name)
    return None if metric is None else (task, metric)


def _row(
    key: tuple[str, str],
    by_run: Mapping[str, list[tuple[int, float]]],
    runs: Sequence[tuple[str, str]],
) -> CompareRow:
    up = higher_is_better("eval_" + key[1])
    pick = max if up else min
    cells: dict[str, Cell] = {}
    for run_id, _ in runs:
        points = sorted(by_run.get(run_id, []))
        values = [v for _, v in points]
        cells[run_id] = Cell(values[-1], pick(values)) if values else Cell()
    return CompareRow(
        key[0], key[1], cells, _winners(cells, "final", up), _winners(cells, "best", up)
    )


def _winners(cells: Mapping[str, Cell], which: str, up: bool) -> tuple[str, ...]:
    values = {i: getattr(c, which) for i, c in cells.items() if getattr(c, which) is not None}
    if len(values) < 2:  # nothing to compare it with
        return ()
    best = max(values.values()) if up else min(values.values())
    return tuple(i for i, v in values.items() if v == best)


def compare_table(comparison: Comparison) -> str:
    """The comparison as aligned text, the best cell of each column pair marked with *."""
    if not comparison.rows:
        return "no validation metrics in these runs yet"
    header = ["task", "metric"]
    for _, name in comparison.runs:
        header += [f"{_short(name)} final", "best"]
    body = []
    for row in comparison.rows:
        cells = [row.task, row.metric]
        for run_id, _ in comparison.runs:
            cell = row.cells[run_id]
            cells.append(_num(cell.final, run_id in row.best_final))
            cells.append(_num(cell.best, run_id in row.best_best))
        body.append(cells)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for line in [header, *body]:
        pairs = enumerate(zip(line, widths, strict=True))
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs))
    ids = "; ".join(f"{_short(n)} = {i}" for i, n in comparison.runs)
    return "\n".join(line.rstrip() for line in lines) + f"\n* best of the row.  {ids}"


def _num(value: float | None, best: bool) -> str:
    return "—" if value is None else f"{value:.4f}{'*' if best else ' '}"


def _short(name: str, width: int = 18) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


@dataclass(frozen=True)
class Axis:
    """One axis of a parallel-coordinates plot: a setting (or the metric) and each run's value."""

    name: str
    values: tuple[float | None, ...]  # in the runs' order; None: the run has none

    @property
    def span(self) -> tuple[float, float]:
        known = [v for v in self.values if v is not None]
        return (min(known), max(known)) if known else (0.0, 1.0)

    def scaled(self) -> tuple[float | None, ...]:
        """Each value as 0..1 between the axis's lowest and highest (0.5 when all are equal)."""
        low, high = self.span
        return tuple(
            None if v is None else 0.5 if high == low else (v - low) / (high - low)
            for v in self.values
        )


def numeric_differences(configs: Sequence[Mapping[str, Any]]) -> list[Axis]:
    """The numeric settings (numbers, not switches) whose values are not the same in every
    config, one axis each, by name: what a parallel-coordinates plot lays side by side."""
    axes = []
    for key in sorted({k for c in configs for k in c}):
        values = [c.get(key) for c in configs]
        numbers = [v for v in values if v is not None]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)
        if numbers and numeric and len(set(numbers)) > 1:
            axes.append(Axis(key, tuple(None if v is None else float(v) for v in values)))
    return axes


def metric_axes(comparison: Comparison) -> list[Axis]:
    """Each comparison row's final and best value as an axis ("rte accuracy (final)")."""
    ids = [i for i, _ in comparison.runs]
    axes = []
    for row in comparison.rows:
        label = "validation mean" if row.task == MEAN else f"{row.task} {row.metric}"
        for which in ("final", "best"):
            values = tuple(getattr(row.cells[i], which) for i in ids)
            axes.append(Axis(f"{label} ({which})", values))
    return axes

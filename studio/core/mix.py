"""The task mix of a stored pre-finetuning run: each task's examples, sampling share and loss
scale, from what the run recorded (its config, its log and its metric rows)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from studio.core.sampling import task_probabilities

# What train/loop.py logs for each task before the first update.
_LOGGED = re.compile(
    r"^task (?P<task>.+): (?P<n>\d+) examples, share (?P<share>[-+0-9.eE]+),"
    r" loss scale (?P<scale>[-+0-9.eE]+)$"
)


@dataclass(frozen=True)
class MixRow:
    """One task of the mix; None where the run recorded nothing to say it."""

    task: str
    examples: int | None  # training examples the run had
    share: float | None  # sampling probability, from the config and the task sizes
    observed: float | None  # share of the examples the run really drew (last `share` row)
    scale: float | None  # the factor its losses were multiplied by


def logged_mix(messages: Iterable[str]) -> dict[str, tuple[int, float, float]]:
    """task -> (examples, share, loss scale) from the run's log lines; the last line wins
    (a resumed run logs them again)."""
    found: dict[str, tuple[int, float, float]] = {}
    for message in messages:
        match = _LOGGED.match(message)
        if match:
            n, share, scale = match["n"], match["share"], match["scale"]
            found[match["task"]] = (int(n), float(share), float(scale))
    return found


def _planned(config: Mapping[str, Any], sizes: dict[str, int]) -> dict[str, float]:
    try:
        return task_probabilities(
            sizes,
            str(config.get("sampling", "proportional")),
            float(config.get("temperature", 1.0)),
            config.get("examples_cap"),
        )
    except (ValueError, TypeError, ZeroDivisionError):
        return {}  # an old or hand-edited config: fall back to the logged shares


def _known_scale(config: Mapping[str, Any], task: str) -> float | None:
    """The scale the config alone decides (none, manual); log n needs the task's format."""
    mode = config.get("loss_scaling")
    if mode == "none":
        return 1.0
    weights = config.get("manual_weights") or {}
    if mode == "manual" and task in weights:
        return float(weights[task])
    return None


def task_mix(
    config: Mapping[str, Any],
    messages: Iterable[str],
    last_values: Mapping[tuple[str, str], float],
) -> list[MixRow]:
    """One row per task of the config, in its order.

    `last_values` maps (task, metric name) to the metric's last value (`share`, `loss_scale`).
    The share is recomputed from the config and the logged sizes (core.sampling, as the loop
    does); the scale is the logged one (core.scaling's factor as the loop applied it).
    """
    tasks = [str(t) for t in config.get("tasks") or ()]
    logged = logged_mix(messages)
    sizes = {t: logged[t][0] for t in tasks if t in logged}
    planned = _planned(config, sizes) if len(sizes) == len(tasks) else {}
    rows = []
    for task in tasks:
        log_row = logged.get(task)
        share = planned.get(task, log_row[1] if log_row else None)
        scale = last_values.get((task, "loss_scale"))
        if scale is None:
            scale = log_row[2] if log_row else _known_scale(config, task)
        rows.append(
            MixRow(
                task,
                log_row[0] if log_row else None,
                share,
                last_values.get((task, "share")),
                scale,
            )
        )
    return rows

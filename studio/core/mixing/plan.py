"""A pre-finetuning run's plan — each task's examples, sampling share and loss scale, and the
device it trains on — decided once by the loop's set-up and recorded as data (Sink.plan, the
store's task_plan table), and the task mix a report shows from it.

The report reads what the loop decided instead of deciding it again: the sampling and
loss-scaling rules live in core.sampling and core.scaling and are applied in one place
(`plan_tasks`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from studio.core.config.run import RunConfig
from studio.core.metric_catalogue import LOSS_SCALE, SHARE
from studio.core.mixing.sampling import task_probabilities
from studio.core.mixing.scaling import decision_size, loss_scale
from studio.core.tasks.spec import TaskSpec


@dataclass(frozen=True)
class TaskPlan:
    """One task of a run's plan, as the set-up decided it before the first update."""

    task: str
    examples: int  # training examples
    share: float  # planned sampling probability (core.sampling)
    size: int | None  # n of a log-n scale (classes, choices, positions, vocabulary); else None
    scale: float  # the factor each of its example losses is multiplied by (core.scaling)


@dataclass(frozen=True)
class RunPlan:
    """What a run decided before its first update: its tasks' plan and where it trains."""

    tasks: tuple[TaskPlan, ...]
    device: str = ""  # e.g. "cpu (no precision)", "cuda:0 (bf16 precision) in 2 processes"

    def to_dict(self) -> dict[str, Any]:
        return {"tasks": [asdict(t) for t in self.tasks], "device": self.device}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunPlan:
        return cls(tuple(TaskPlan(**t) for t in data["tasks"]), str(data.get("device", "")))


def plan_tasks(
    config: RunConfig, specs: Sequence[TaskSpec], examples: Mapping[str, int], vocab_size: int
) -> tuple[TaskPlan, ...]:
    """Each task's share and loss scale from the config and the tasks' sizes, in config order."""
    probs = task_probabilities(
        dict(examples), config.sampling, config.temperature, config.examples_cap
    )
    plan = []
    for spec in specs:
        size = decision_size(spec, config.max_length, vocab_size)
        scale = loss_scale(
            spec, config.loss_scaling, config.max_length, vocab_size, config.manual_weights
        )
        decided = size if config.loss_scaling == "log_n" else None
        plan.append(TaskPlan(spec.name, examples[spec.name], probs[spec.name], decided, scale))
    return tuple(plan)


@dataclass(frozen=True)
class MixRow:
    """One task of the mix a report shows; None where the run recorded nothing to say it."""

    task: str
    examples: int | None  # training examples the run had
    share: float | None  # planned sampling probability
    observed: float | None  # share of the examples the run really drew (last `share` row)
    size: int | None  # n of a log-n scale
    scale: float | None  # the factor its losses were multiplied by


def task_mix(
    config: Mapping[str, Any],
    plan: Sequence[TaskPlan],
    last_values: Mapping[tuple[str, str], float],
) -> list[MixRow]:
    """One row per task of the config, in its order, from the run's recorded plan.

    `last_values` maps (task, metric name) to the metric's last value: the drawn share, and
    the loss scale of a run from before plans were recorded (its plan is empty).
    """
    planned = {p.task: p for p in plan}
    rows = []
    for task in (str(t) for t in config.get("tasks") or ()):
        p = planned.get(task)
        rows.append(
            MixRow(
                task,
                p.examples if p else None,
                p.share if p else None,
                last_values.get((task, SHARE)),
                p.size if p else None,
                p.scale if p else last_values.get((task, LOSS_SCALE)),
            )
        )
    return rows

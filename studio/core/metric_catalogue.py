"""Every metric a training writes, declared once: its name, title, whether it is per task or
run-wide, the Monitor plot it belongs to, which way is better, and whether it times the machine.

The loops write rows under these names, and the Monitor, the report and the ablation table
read them from here, so a metric renamed or added is one entry, not a string hunted through
the code. A task's validation metrics are a family (`eval_<metric>`, see `eval_name`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric the loops write."""

    name: str
    title: str
    per_task: bool  # a row per task (MetricRow.task set), else one run-wide row
    plot: str | None  # the Monitor's plot that draws it (studio.ui.monitor.data.PLOTS)
    higher_is_better: bool | None  # None: neither (a setting, a share)
    wall_clock: bool = False  # it times the machine: two runs of one training differ in it


# Run-wide training rows, every log point (train/loop_state.train_rows).
TOTAL_LOSS = "total_loss"
LR = "lr"
GRAD_NORM = "grad_norm"
EXAMPLES_PER_S = "examples_per_s"
TOKENS_PER_S = "tokens_per_s"
PADDING_EFFICIENCY = "padding_efficiency"
# Per-task training rows.
LOSS = "loss"
SCALED_LOSS = "scaled_loss"
LOSS_SCALE = "loss_scale"
SHARE = "share"
# Validation (train/loop.py, train/finetune.py): run-wide rows, and the per-task family.
EVAL_MEAN = "eval_mean"
EVAL_EXAMPLES_PER_S = "eval_examples_per_s"
EVAL_PREFIX = "eval_"
EVAL_LOSS = "eval_loss"

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(TOTAL_LOSS, "Total loss", False, "total", False),
        Metric(LR, "Learning rate", False, "lr", None),
        Metric(GRAD_NORM, "Gradient norm", False, "grad", None),
        Metric(EXAMPLES_PER_S, "Examples per second", False, "throughput", True, True),
        Metric(TOKENS_PER_S, "Tokens per second", False, None, True, True),
        Metric(PADDING_EFFICIENCY, "Padding efficiency", False, None, True),
        Metric(LOSS, "Loss", True, "task_loss", False),
        Metric(SCALED_LOSS, "Scaled loss", True, None, False),
        Metric(LOSS_SCALE, "Loss scale", True, None, None),
        Metric(SHARE, "Share of the examples drawn", True, "shares", None),
        Metric(EVAL_MEAN, "Validation mean", False, "validation", True),
        Metric(EVAL_EXAMPLES_PER_S, "Validation examples per second", False, None, True, True),
        Metric(EVAL_LOSS, "Validation loss", True, None, False),
    )
}
# Metrics that time the machine, not the model: two runs of the same training differ in them.
WALL_CLOCK = frozenset(m.name for m in METRICS.values() if m.wall_clock)
RUN_WIDE = {m.name: m for m in METRICS.values() if not m.per_task}
# The per-task training rows (a task's validation rows are the `eval_<metric>` family).
PER_TASK = {m.name: m for m in METRICS.values() if m.per_task and m.name != EVAL_LOSS}


def eval_name(metric: str) -> str:
    """The row name of a task's validation metric (`accuracy` -> `eval_accuracy`)."""
    return EVAL_PREFIX + metric


def is_eval_name(name: str) -> bool:
    """Whether rows of `name` are validation results (a task's metric, its loss, the mean)."""
    return name.startswith(EVAL_PREFIX) and name != EVAL_EXAMPLES_PER_S


def task_metric(name: str) -> str | None:
    """The task metric a per-task validation row holds (`eval_f1` -> `f1`); None for the
    validation loss and for names that are no validation metric."""
    if not name.startswith(EVAL_PREFIX) or name == EVAL_LOSS or name in RUN_WIDE:
        return None
    return name.removeprefix(EVAL_PREFIX)


def higher_is_better(name: str) -> bool:
    """Which way a metric improves: declared ones as declared; any other (a task's validation
    metric) improves upwards unless it is a loss."""
    metric = METRICS.get(name)
    if metric is not None and metric.higher_is_better is not None:
        return metric.higher_is_better
    return not name.endswith("loss")

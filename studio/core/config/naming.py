"""A run's name when its config gives none: the store, the queue and the window say the same."""

from __future__ import annotations

from studio.core.config.run import RunConfig


def run_name(config: RunConfig) -> str:
    """`config.name`, else e.g. "3 tasks, heterogeneous, log_n" ("1 task, ...")."""
    count = len(config.tasks)
    tasks = f"{count} task" if count == 1 else f"{count} tasks"
    return config.name or f"{tasks}, {config.mixing}, {config.loss_scaling}"

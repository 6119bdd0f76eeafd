"""What the pre-finetuning loop carries from update to update, and saves to resume from."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch

from studio.core import metric_catalogue as mc
from studio.core.mixing.sampling import TaskScheduler
from studio.core.sink import MetricRow
from studio.train.batching import TaskStream


@dataclass
class RunningSums:
    """What the updates since the last log point add up to: examples, tokens and losses."""

    start: float = field(default_factory=time.perf_counter)
    examples: int = 0
    real_tokens: int = 0
    computed_tokens: int = 0
    objective: Any = 0.0
    updates: int = 0
    task_loss: dict[str, Any] = field(default_factory=lambda: defaultdict(float))
    task_examples: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def state_dict(self) -> dict[str, Any]:
        """The sums (not the clock), so a resumed run logs the same numbers."""
        return {
            "examples": self.examples,
            "real_tokens": self.real_tokens,
            "computed_tokens": self.computed_tokens,
            "objective": float(self.objective),
            "updates": self.updates,
            "task_loss": {t: float(v) for t, v in self.task_loss.items()},
            "task_examples": dict(self.task_examples),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> RunningSums:
        sums = cls(
            examples=state["examples"],
            real_tokens=state["real_tokens"],
            computed_tokens=state["computed_tokens"],
            objective=state["objective"],
            updates=state["updates"],
        )
        sums.task_loss.update(state["task_loss"])
        sums.task_examples.update(state["task_examples"])
        return sums

    def add(self, update: Increments) -> None:
        self.objective += update.objective
        self.real_tokens += update.real_tokens
        self.computed_tokens += update.computed_tokens
        for task, loss in update.task_loss.items():
            self.task_loss[task] += loss


@dataclass
class Increments:
    """One update's sums on this process; summed over processes before they reach RunningSums."""

    objective: Any = 0.0
    real_tokens: int = 0
    computed_tokens: int = 0
    task_loss: dict[str, Any] = field(default_factory=lambda: defaultdict(float))

    def add(self, task: str, loss_sum: Any, objective: Any) -> None:
        self.task_loss[task] += loss_sum
        self.objective += objective.detach()

    def reduce(self, accelerator: Any, stop: bool, tasks: tuple[str, ...]) -> bool:
        """Sum over processes (one collective); return whether any process asked to stop.

        Stopping is agreed on here, so every process leaves the loop after the same update.
        """
        device = accelerator.device
        parts = [self.objective, self.real_tokens, self.computed_tokens, float(stop)]
        parts += [self.task_loss.get(t, 0.0) for t in tasks]
        packed = torch.stack(
            [torch.as_tensor(p, dtype=torch.float64, device=device) for p in parts]
        )
        total = accelerator.reduce(packed, reduction="sum").cpu().tolist()
        objective, real, computed, stops = total[:4]
        self.objective = objective / accelerator.num_processes  # each weighed by N
        self.real_tokens, self.computed_tokens = int(real), int(computed)
        self.task_loss = defaultdict(
            float, {t: v for t, v in zip(tasks, total[4:], strict=True) if v}
        )
        return stops > 0


@dataclass
class LoopState:
    """Where a run is: everything besides weights, optimizer and RNGs that a resume restores.

    `state_dict` and `load_state_dict` are each other's inverse; the keys are those of the
    checkpoints' trainer_state.json (the sums under their old name, "window").
    """

    scheduler: TaskScheduler
    streams: dict[str, TaskStream]
    step: int = 0
    seen: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    sums: RunningSums = field(default_factory=RunningSums)
    eval_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    evaluated_at: int = -1

    @property
    def validated(self) -> bool:
        """Whether the current step's model was validated."""
        return self.evaluated_at == self.step

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "seen": dict(self.seen),
            "scheduler": self.scheduler.state_dict(),
            "streams": {t: s.state_dict() for t, s in self.streams.items()},
            "window": self.sums.state_dict(),
            "evaluated_at": self.evaluated_at,
            # Metrics of an earlier step would be taken for this step's.
            "eval_metrics": self.eval_metrics if self.validated else {},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = state["step"]
        self.seen = defaultdict(int, state["seen"])
        self.scheduler.load_state_dict(state["scheduler"])
        for name, stream_state in state["streams"].items():
            self.streams[name].load_state_dict(stream_state)
        self.sums = RunningSums.from_state_dict(state["window"])
        self.evaluated_at = state["evaluated_at"]
        self.eval_metrics = state["eval_metrics"]


def train_rows(
    step: int,
    sums: RunningSums,
    seen: dict[str, int],
    scales: dict[str, float],
    grad_norm: float,
    lr: float,
) -> list[MetricRow]:
    """The training rows of the updates `sums` adds up, at update `step`."""
    now = time.time()
    elapsed = max(time.perf_counter() - sums.start, 1e-9)
    total_seen = sum(seen.values())
    rows = [
        MetricRow(step, mc.TOTAL_LOSS, float(sums.objective) / max(sums.updates, 1), None, now),
        MetricRow(step, mc.LR, lr, None, now),
        MetricRow(step, mc.GRAD_NORM, grad_norm, None, now),
        MetricRow(step, mc.EXAMPLES_PER_S, sums.examples / elapsed, None, now),
        MetricRow(step, mc.TOKENS_PER_S, sums.real_tokens / elapsed, None, now),
        MetricRow(
            step,
            mc.PADDING_EFFICIENCY,
            sums.real_tokens / max(sums.computed_tokens, 1),
            None,
            now,
        ),
    ]
    for task, count in sums.task_examples.items():
        loss = float(sums.task_loss[task]) / count
        rows += [
            MetricRow(step, mc.LOSS, loss, task, now),
            MetricRow(step, mc.SCALED_LOSS, loss * scales[task], task, now),
            MetricRow(step, mc.LOSS_SCALE, scales[task], task, now),
        ]
    rows += [MetricRow(step, mc.SHARE, n / total_seen, t, now) for t, n in seen.items()]
    return rows

"""What the pre-finetuning and the fine-tuning loops share: set-up, the update, a running loss."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate import Accelerator
from transformers import get_linear_schedule_with_warmup

from studio.train.setup import make_accelerator, optimizer_groups


class OptimizerSettings(Protocol):
    """The settings `prepare_training` reads: a RunConfig's, a FinetuneSettings'."""

    @property
    def device(self) -> str: ...
    @property
    def num_threads(self) -> int | None: ...
    @property
    def learning_rate(self) -> float: ...
    @property
    def weight_decay(self) -> float: ...
    @property
    def warmup_ratio(self) -> float: ...


@dataclass
class Training:
    """A model placed on its device, with its optimizer and learning-rate schedule."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    schedule: Any  # a LambdaLR


def prepare_training(
    model: torch.nn.Module,
    settings: OptimizerSettings,
    precision: str,
    steps: int,
    log_with: str | None = None,
    project_dir: Path | None = None,
) -> Training:
    """AdamW (no decay on biases and norms) with linear warmup and decay over `steps`.

    `log_with`: the tracker the accelerator also logs to, writing under `project_dir`.
    """
    accelerator = make_accelerator(
        settings.device, precision, settings.num_threads, log_with, project_dir
    )
    # On CUDA, one fused kernel steps every parameter (the step checks the device, by then
    # the model's). Elsewhere torch's default, the multi-tensor (foreach) update.
    fused = True if accelerator.device.type == "cuda" else None
    optimizer = torch.optim.AdamW(
        optimizer_groups(model, settings.weight_decay), lr=settings.learning_rate, fused=fused
    )
    warmup = int(settings.warmup_ratio * steps)
    schedule = get_linear_schedule_with_warmup(optimizer, warmup, steps)
    # The schedule stays unprepared: accelerate would step a prepared one once per process.
    model, optimizer = accelerator.prepare(model, optimizer)
    return Training(accelerator, model, optimizer, schedule)


def clipped_update(training: Training, grad_clip: float) -> torch.Tensor:
    """Clip the gradients, step optimizer and schedule, clear the gradients.

    Returns the gradient norm before clipping, on the device: reading it waits for the device,
    so a loop reads it only when it logs.
    """
    norm = training.accelerator.clip_grad_norm_(training.model.parameters(), grad_clip)
    training.optimizer.step()
    training.schedule.step()
    training.optimizer.zero_grad(set_to_none=True)
    return norm


@dataclass
class RunningLoss:
    """The mean loss of the updates since the last log point, read from the device only then."""

    total: Any = 0.0
    updates: int = 0

    def add(self, loss: torch.Tensor) -> None:
        self.total = self.total + loss.detach().double()
        self.updates += 1

    def pop(self) -> float:
        """The mean so far, and start again."""
        mean = float(self.total) / max(self.updates, 1)
        self.total, self.updates = 0.0, 0
        return mean

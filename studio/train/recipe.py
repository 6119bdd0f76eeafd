"""The set-up step every training shares: one call builds the recipe a loop runs — model,
tasks, loss scales and sampling shares (the plan), optimizer, schedule, accelerator — and, for
pre-finetuning, the loop's state.

Pre-finetuning (train/loop.py), fine-tuning and the probe (train/finetune.py) take their
set-up from here in one order: validate the data, load tokenizer and base model, tokenize,
seed and build the multi-task model, plan the tasks, place it all on the device. Their loops
then only train: set-up policy never hides inside a loop.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import PreTrainedModel, PreTrainedTokenizerFast, set_seed

from studio.core.config.models import rate_note
from studio.core.config.run import RunConfig
from studio.core.mixing.plan import RunPlan, TaskPlan, plan_tasks
from studio.core.mixing.sampling import TaskScheduler
from studio.core.sink import Sink, Stages
from studio.train.batching import TaskStream
from studio.train.checkpoint import DataChanged, data_changes, read_state
from studio.train.data.loading import TaskData
from studio.train.loop_state import LoopState
from studio.train.model import MultiTaskModel
from studio.train.setup import (
    Workspace,
    check_tasks,
    load_backbone,
    load_tasks,
    load_tokenizer,
    quiet_libraries,
    within_model,
)
from studio.train.steps import OptimizerSettings, Training, prepare_training
from studio.train.trackers import tracker_settings

log = logging.getLogger(__name__)


@dataclass
class Recipe:
    """What a loop trains with: the model on its device with its optimizer and schedule, the
    tasks' data, and the plan that decided each task's share and loss scale."""

    tokenizer: PreTrainedTokenizerFast
    tasks: dict[str, TaskData]
    plan: RunPlan
    training: Training
    pad_id: int
    multiple: int  # batches are padded to a multiple of this (tensor cores like 8)

    @property
    def accelerator(self) -> Accelerator:
        return self.training.accelerator

    @property
    def model(self) -> torch.nn.Module:
        return self.training.model

    @property
    def scales(self) -> dict[str, float]:
        return {t.task: t.scale for t in self.plan.tasks}

    @property
    def probabilities(self) -> dict[str, float]:
        return {t.task: t.share for t in self.plan.tasks}


def build_recipe(
    model: MultiTaskModel,
    tokenizer: PreTrainedTokenizerFast,
    tasks: dict[str, TaskData],
    plan: tuple[TaskPlan, ...],
    settings: OptimizerSettings,
    precision: str,
    steps: int,
    trackers: tuple[str | None, Path | None] = (None, None),
) -> Recipe:
    """Place `model` on its device with AdamW and a linear schedule over `steps` (steps.py);
    `trackers`: the tracker the accelerator also logs to, and where it writes."""
    training = prepare_training(model, settings, precision, steps, *trackers)
    accelerator = training.accelerator
    multiple = 8 if accelerator.device.type == "cuda" else 1
    run_plan = RunPlan(plan, describe_device(accelerator))
    return Recipe(tokenizer, tasks, run_plan, training, tokenizer.pad_token_id or 0, multiple)


def describe_device(accelerator: Accelerator) -> str:
    """Where a run trains, as its plan records it: "cuda:0 (bf16 precision) in 2 processes"."""
    processes = accelerator.num_processes
    # accelerate calls full precision "no"; people call it fp32.
    precision = accelerator.mixed_precision
    text = f"{accelerator.device} ({'fp32' if precision == 'no' else precision} precision)"
    return text + (f" in {processes} processes" if processes > 1 else "")


def prepare_pretraining(
    config: RunConfig,
    ws: Workspace,
    sink: Sink,
    stop: threading.Event,
    run_dir: Path | None,
    resume: Path | None = None,
    allow_data_change: bool = False,
) -> tuple[Recipe, LoopState]:
    """The recipe of a pre-finetuning run and its fresh loop state (a resume loads its own).

    A Stop while the data is prepared raises PreparationStopped; a task whose training data
    differs from the `resume` checkpoint's raises DataChanged unless `allow_data_change`.
    """
    quiet_libraries()
    trackers = tracker_settings(config, run_dir)  # a tracker not installed: before any work
    # `config` from here on reads max_length as the model can (train/positions.py); the run
    # keeps the setting it was given.
    config, tokenizer, backbone, tasks = _load(config, ws, sink, stop)
    if resume is not None:
        _check_data(resume, tasks, allow_data_change, sink)
    specs = [tasks[name].spec for name in config.tasks]
    set_seed(config.seed)  # the heads' initial weights
    multitask = MultiTaskModel(
        backbone, specs, config.head_sharing, config.label_smoothing, config.pooling,
        config.task_embedding, config.task_embedding_dropout,
    )  # fmt: skip
    examples = {t: d.train_examples for t, d in tasks.items()}
    plan = plan_tasks(config, specs, examples, len(tokenizer))
    recipe = build_recipe(
        multitask, tokenizer, tasks, plan, config, config.mixed_precision, config.max_steps,
        trackers,
    )  # fmt: skip
    return recipe, fresh_state(config, recipe)


def _load(
    config: RunConfig, ws: Workspace, sink: Sink, stop: threading.Event
) -> tuple[RunConfig, PreTrainedTokenizerFast, PreTrainedModel, dict[str, TaskData]]:
    """Validate the tasks (before any heavy work), load tokenizer and base model, tokenize;
    the config comes back with its max_length cut to what the model reads, said in the log."""
    stages = Stages(sink)
    # Several processes stop together at an update (see Increments.reduce), not while preparing.
    preparing_stop = stop if int(os.environ.get("WORLD_SIZE", "1")) == 1 else None
    try:
        checked = check_tasks(config, ws, stages, preparing_stop)
        stages.begin("loading the model")
        spans = [s.name for s, _ in checked if s.format == "extractive_qa"]
        tokenizer = load_tokenizer(config.model, spans)
        backbone = load_backbone(config.model)
        config, said = within_model(config, tokenizer)
        if said is not None:
            sink.log("warning", said)
        sink.log("info", rate_note(config.model, config.learning_rate, pretraining=True))
        tasks = load_tasks(checked, tokenizer, config, ws, stages, preparing_stop)
    finally:
        stages.end()
    return config, tokenizer, backbone, tasks


def _check_data(
    resume: Path, tasks: dict[str, TaskData], allow_data_change: bool, sink: Sink
) -> None:
    """Refuse to resume on changed training data unless allowed; then warn about each change."""
    changes = data_changes(read_state(resume), tasks)
    if changes and not allow_data_change:
        raise DataChanged(resume, changes)
    for change in changes:
        sink.log("warning", f"resuming on changed data: {change}")


def fresh_state(config: RunConfig, recipe: Recipe) -> LoopState:
    """Where a new run starts: the task scheduler and one batch stream per task.

    Every process draws the same tasks and the same global batches and keeps its share of
    each batch (loop.shard): N processes train like one process on the same global batch.
    """
    scheduler = TaskScheduler(
        recipe.probabilities, config.mixing, config.tasks_per_update, config.max_steps,
        config.seed,
    )  # fmt: skip
    streams = {
        t: TaskStream(d.train_lengths, config.batch_size, config.seed + i)
        for i, (t, d) in enumerate(recipe.tasks.items())
    }
    return LoopState(scheduler, streams)

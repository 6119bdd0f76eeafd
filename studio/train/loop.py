"""The pre-finetuning loop: one function that reads top to bottom (nanoGPT / torchtune style).

The set-up (data, model, plan, optimizer, device) is train/recipe.py's; here is only what
happens update by update: draw the tasks, accumulate their gradients, step, log, validate,
save, stop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.core.metric_catalogue import EVAL_MEAN
from studio.core.paths import checkpoints_in
from studio.core.sink import Sink
from studio.train.checkpoint import (
    checkpoint_size,
    load_checkpoint,
    make_room,
    prune,
    save_checkpoint,
)
from studio.train.data.loading import TaskData, release_pages
from studio.train.data.tokenized import PreparationStopped
from studio.train.evaluate import mean_metric, validate
from studio.train.loop_state import LoopState, RunningSums, train_rows
from studio.train.manifest import recipe_manifest
from studio.train.memory import out_of_memory
from studio.train.recipe import Recipe, prepare_pretraining
from studio.train.setup import Workspace, keeps_process_settings
from studio.train.steps import Training, clipped_update
from studio.train.trackers import start_tracking
from studio.train.update import accumulate, prepare_updates

log = logging.getLogger(__name__)

RELEASE_SECONDS = 0.5  # between unmapping the pages that reading batches mapped
# The first updates' losses are read before their step (a sync each): a model that gives NaN
# from the start (a precision it cannot train in) fails before any weight turns NaN.
CHECKED_FIRST = 10


@dataclass
class TrainResult:
    status: str  # finished | stopped
    step: int
    eval_metrics: dict[str, dict[str, float]] = field(default_factory=dict)


@keeps_process_settings
def train(
    config: RunConfig,
    sink: Sink,
    stop: threading.Event,
    ws: Workspace,
    run_dir: Path | None = None,
    resume: Path | None = None,
    allow_data_change: bool = False,
) -> TrainResult:
    """Pre-finetune a shared encoder on `config.tasks`, reporting through `sink`.

    Checks `stop` between updates; when it is set, saves a checkpoint and returns with status
    `stopped`. A Stop while the data is prepared ends the run at once (status `stopped`, no
    checkpoint: there is nothing to save). Checkpoints go to `run_dir/checkpoints` (none
    without a run_dir); `resume` is a checkpoint folder to continue from. A task whose
    training data differs from the checkpoint's raises DataChanged unless `allow_data_change`.
    The metrics also go to the tracker `config.report_to` (under `run_dir/tensorboard`). A GPU
    out of memory raises OutOfMemory, which names the settings to lower.
    """
    with contextlib.ExitStack() as cleanup:  # the trackers end however the run does
        try:
            return _pretrain(config, sink, stop, ws, run_dir, resume, allow_data_change, cleanup)
        except torch.cuda.OutOfMemoryError as exc:
            raise out_of_memory(config, exc) from exc


def _pretrain(
    config: RunConfig,
    sink: Sink,
    stop: threading.Event,
    ws: Workspace,
    run_dir: Path | None,
    resume: Path | None,
    allow_data_change: bool,
    cleanup: contextlib.ExitStack,
) -> TrainResult:
    # -- set-up: the recipe, and where we start (fresh, or from a checkpoint) ------------
    try:
        recipe, state = prepare_pretraining(
            config, ws, sink, stop, run_dir, resume, allow_data_change
        )
    except PreparationStopped as exc:
        sink.log("info", str(exc))
        sink.flush()
        return TrainResult("stopped", 0)
    sink = start_tracking(recipe.accelerator, config, run_dir, sink, cleanup)
    _announce(sink, recipe, config)
    saved_at = -1
    if resume is not None:
        state.load_state_dict(_load(resume, recipe.training))
        saved_at = state.step
        sink.log("info", f"resumed from the checkpoint of update {state.step}")
    alone = recipe.accelerator.num_processes == 1
    pages = _Pages(recipe.tasks)
    budget = prepare_updates(recipe, config)
    trains = f"model {config.model}, {recipe.plan.device}"  # said when a loss is not finite

    # -- the loop ------------------------------------------------------------------------
    recipe.model.train()
    halt = False
    grad_norm: Any = math.nan  # a tensor on the device once an update ran
    while state.step < config.max_steps and not halt and not (alone and stop.is_set()):
        update = accumulate(recipe, state, config, budget)
        if not alone:
            halt = update.reduce(recipe.accelerator, stop.is_set(), config.tasks)
        state.sums.add(update)
        if state.step < CHECKED_FIRST:
            _check_finite(state.sums, state.step + 1, trains)
        grad_norm = clipped_update(recipe.training, config.grad_clip)
        state.step += 1
        state.sums.updates += 1
        step = state.step
        sink.progress(step, config.max_steps)
        pages.release()
        # The first update too: a curve starts at once, however long the logging interval.
        if step == 1 or _due(step, config.log_every, config.max_steps):
            _log_sums(sink, state, recipe, grad_norm, trains)
            state.sums = RunningSums()
        checkpoint_due = run_dir is not None and _due(
            step, config.checkpoint_every, config.max_steps
        )
        # A checkpoint is validated first, so the best one can be kept.
        if checkpoint_due or _due(step, config.eval_every, config.max_steps):
            state.eval_metrics = validate(recipe, config, sink, step, run_dir)
            state.evaluated_at = step
        if checkpoint_due:
            _save(recipe, state, config, run_dir, sink)
            saved_at = step

    # -- the end: finished, or stopped (log and save what the last updates did) -----------
    step = state.step
    stopped = step < config.max_steps
    if stopped:
        if state.sums.updates and step > saved_at:  # the updates since the last log point
            _log_sums(sink, state, recipe, grad_norm, trains)
        if saved_at != step:
            sink.stage("stopping · saving a checkpoint", None)
            _save(recipe, state, config, run_dir, sink)
            sink.stage("", None)
        sink.log("info", f"stopped at update {step} of {config.max_steps}")
    sink.flush()
    return TrainResult("stopped" if stopped else "finished", step, state.eval_metrics)


def _due(step: int, every: int, last: int) -> bool:
    """Whether something done every `every` updates (and after the last) is due at `step`."""
    return step % every == 0 or step == last


def _announce(sink: Sink, recipe: Recipe, config: RunConfig) -> None:
    """Record the run's plan and manifest as data (Sink.plan, Sink.manifest), and say the plan
    in the log for people."""
    sink.plan(recipe.plan)
    sink.manifest(recipe_manifest(config.to_dict(), config.seed, recipe))
    for task in recipe.plan.tasks:
        sink.log(
            "info",
            f"task {task.task}: {task.examples} examples, "
            f"share {task.share:.3f}, loss scale {task.scale:.4f}",
        )
    sink.log(
        "info",
        f"training on {recipe.plan.device}, {config.max_steps} updates of "
        f"{config.tasks_per_update} sub-batches",
    )


class _Pages:
    """Unmaps the pages reading batches mapped, at most every RELEASE_SECONDS: memory stays
    flat however big the data."""

    def __init__(self, tasks: dict[str, TaskData]) -> None:
        self.splits = [data.train for data in tasks.values()]
        self.released = time.monotonic()

    def release(self) -> None:
        if time.monotonic() - self.released > RELEASE_SECONDS:
            release_pages(*self.splits)
            self.released = time.monotonic()


def _save(
    recipe: Recipe, state: LoopState, config: RunConfig, run_dir: Path | None, sink: Sink
) -> None:
    """Save (main process), prune old checkpoints and tell the sink about both."""
    accelerator, tasks = recipe.accelerator, recipe.tasks
    if accelerator.is_main_process and run_dir is not None:
        net = accelerator.unwrap_model(recipe.model)
        saved = {
            **state.state_dict(),
            EVAL_MEAN: mean_metric(state.eval_metrics, tasks) if state.validated else None,
            "config": config.to_dict(),
            "probabilities": recipe.probabilities,
            "train_examples": {t: d.train_examples for t, d in tasks.items()},
            "data": {t: d.fingerprint for t, d in tasks.items()},
            "heads": net.describe_heads(),
        }
        # Rows first: a crash mid-save must not leave a checkpoint whose rows are lost.
        sink.flush()
        root = checkpoints_in(run_dir)
        # What the prune after the save would delete goes first: a full disk never needs
        # room for one checkpoint more than kept (save_checkpoint checks the room).
        training = recipe.training
        needed = checkpoint_size(root, net, training.optimizer)
        for old in make_room(root, state.step, config.keep_checkpoints, needed):
            sink.drop_checkpoint(old)
        folder = save_checkpoint(
            root, state.step, net, training.optimizer, training.schedule, accelerator.scaler,
            saved, recipe.tokenizer,
        )  # fmt: skip
        sink.checkpoint(state.step, str(folder), _flat_metrics(saved))
        for old in prune(root, config.keep_checkpoints):
            sink.drop_checkpoint(old)
    accelerator.wait_for_everyone()


def _load(folder: Path, training: Training) -> dict[str, Any]:
    """Restore weights, optimizer, schedule, scaler and RNGs from a checkpoint; its state."""
    accelerator = training.accelerator
    net = accelerator.unwrap_model(training.model)
    return load_checkpoint(folder, net, training.optimizer, training.schedule, accelerator.scaler)


def _log_sums(sink: Sink, state: LoopState, recipe: Recipe, grad_norm: Any, trains: str) -> None:
    """The training rows of the updates since the last log point (reads the device)."""
    _check_finite(state.sums, state.step, trains)
    lr = recipe.training.schedule.get_last_lr()[0]
    sink.metrics(
        train_rows(state.step, state.sums, state.seen, recipe.scales, float(grad_norm), lr)
    )


def _check_finite(sums: RunningSums, step: int, trains: str) -> None:
    """Fail the run at a non-finite loss, naming the model and precision (`trains`)."""
    for task, total in sums.task_loss.items():
        if not np.isfinite(float(total)):
            raise StudioError(
                f"the loss of task '{task}' became {total} by update {step} ({trains}); "
                "lower the learning rate, train in fp32 (mixed_precision: no) or check the "
                "task's data"
            )


def _flat_metrics(state: dict[str, Any]) -> dict[str, float]:
    """A checkpoint's metrics for the store: eval_mean and <task>/<metric>."""
    flat = {f"{t}/{k}": v for t, m in state["eval_metrics"].items() for k, v in m.items()}
    if state[EVAL_MEAN] is not None:
        flat[EVAL_MEAN] = state[EVAL_MEAN]
    return flat

"""The pre-finetuning loop: one function that reads top to bottom (nanoGPT / torchtune style)."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from transformers import set_seed

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.paths import checkpoints_in
from studio.core.sampling import TaskScheduler, task_probabilities
from studio.core.scaling import loss_scale
from studio.core.sink import MetricRow, Sink, Stages
from studio.train.batching import TaskStream, collate
from studio.train.checkpoint import (
    DataChanged,
    checkpoint_size,
    data_changes,
    load_checkpoint,
    make_room,
    prune,
    read_state,
    save_checkpoint,
)
from studio.train.data import TaskData, release_pages
from studio.train.evaluate import evaluate_task
from studio.train.loop_state import Increments, LoopState, RunningSums, train_rows
from studio.train.memory import out_of_memory
from studio.train.model import MultiTaskModel
from studio.train.setup import (
    Workspace,
    check_tasks,
    keeps_process_settings,
    load_backbone,
    load_tasks,
    load_tokenizer,
    quiet_libraries,
)
from studio.train.steps import Training, clipped_update, prepare_training
from studio.train.tokenized import PreparationStopped
from studio.train.trackers import start_tracking, tracker_settings

log = logging.getLogger(__name__)

RELEASE_SECONDS = 0.5  # between unmapping the pages that reading batches mapped


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
    # -- data and model ------------------------------------------------------------------
    quiet_libraries()
    trackers = tracker_settings(config, run_dir)  # a tracker not installed: before any work
    stages = Stages(sink)
    # Several processes stop together at an update (see Increments.reduce), not while preparing.
    preparing_stop = stop if int(os.environ.get("WORLD_SIZE", "1")) == 1 else None
    try:
        checked = check_tasks(config, ws, stages, preparing_stop)  # before any heavy work
        stages.begin("loading the model")
        tokenizer = load_tokenizer(config.model)
        backbone = load_backbone(config.model)
        tasks = load_tasks(checked, tokenizer, config, ws, stages, preparing_stop)
    except PreparationStopped as exc:
        stages.end()
        sink.log("info", str(exc))
        sink.flush()
        return TrainResult("stopped", 0)
    stages.end()
    if resume is not None:
        changes = data_changes(read_state(resume), tasks)
        if changes and not allow_data_change:
            raise DataChanged(resume, changes)
        for change in changes:
            sink.log("warning", f"resuming on changed data: {change}")
    specs = [tasks[name].spec for name in config.tasks]
    set_seed(config.seed)
    multitask = MultiTaskModel(
        backbone, specs, config.head_sharing, config.label_smoothing, config.pooling
    )
    scales = {
        s.name: loss_scale(
            s, config.loss_scaling, config.max_length, len(tokenizer), config.manual_weights
        )
        for s in specs
    }
    probs = task_probabilities(
        {t: d.train_examples for t, d in tasks.items()},
        config.sampling,
        config.temperature,
        config.examples_cap,
    )
    for name in config.tasks:
        sink.log(
            "info",
            f"task {name}: {tasks[name].train_examples} examples, "
            f"share {probs[name]:.3f}, loss scale {scales[name]:.4f}",
        )

    # -- device, optimizer, schedule -----------------------------------------------------
    steps = config.max_steps
    training = prepare_training(multitask, config, config.mixed_precision, steps, *trackers)
    accelerator, model = training.accelerator, training.model
    sink = start_tracking(accelerator, config, run_dir, sink, cleanup)
    device = accelerator.device
    pad_id = tokenizer.pad_token_id or 0
    multiple = 8 if device.type == "cuda" else 1  # tensor cores like multiples of 8
    # Every process draws the same tasks and the same global batches and keeps its share of
    # each batch (`_shard`): N processes train like one process on the same global batch.
    state = LoopState(
        TaskScheduler(probs, config.mixing, config.tasks_per_update, config.max_steps, config.seed),
        {
            t: TaskStream(d.train_lengths, config.batch_size, config.seed + i)
            for i, (t, d) in enumerate(tasks.items())
        },
    )
    processes, rank = accelerator.num_processes, accelerator.process_index
    sink.log(
        "info",
        f"training on {device} ({accelerator.mixed_precision} precision)"
        + (f" in {processes} processes" if processes > 1 else "")
        + f", {config.max_steps} updates of {config.tasks_per_update} sub-batches",
    )

    # -- where we start: fresh, or from a checkpoint ------------------------------------
    saved_at = -1
    if resume is not None:
        state.load_state_dict(_load(resume, training))
        saved_at = state.step
        sink.log("info", f"resumed from the checkpoint of update {state.step}")

    def save_checkpoint_now() -> None:
        """Save (main process), prune old checkpoints and tell the sink about both."""
        if accelerator.is_main_process and run_dir is not None:
            net = accelerator.unwrap_model(model)
            saved = {
                **state.state_dict(),
                "eval_mean": _mean_metric(state.eval_metrics, tasks) if state.validated else None,
                "config": config.to_dict(),
                "probabilities": probs,
                "train_examples": {t: d.train_examples for t, d in tasks.items()},
                "data": {t: d.fingerprint for t, d in tasks.items()},
                "heads": net.describe_heads(),
            }
            # Rows first: a crash mid-save must not leave a checkpoint whose rows are lost.
            sink.flush()
            root = checkpoints_in(run_dir)
            # What the prune after the save would delete goes first: a full disk never needs
            # room for one checkpoint more than kept (save_checkpoint checks the room).
            needed = checkpoint_size(root, net, training.optimizer)
            for old in make_room(root, state.step, config.keep_checkpoints, needed):
                sink.drop_checkpoint(old)
            folder = save_checkpoint(
                root,
                state.step,
                net,
                training.optimizer,
                training.schedule,
                accelerator.scaler,
                saved,
                tokenizer,
            )
            sink.checkpoint(state.step, str(folder), _flat_metrics(saved))
            for old in prune(root, config.keep_checkpoints):
                sink.drop_checkpoint(old)
        accelerator.wait_for_everyone()

    # -- the loop ------------------------------------------------------------------------
    model.train()
    halt = False
    grad_norm: Any = math.nan
    released = time.monotonic()
    while state.step < config.max_steps:
        if halt or (processes == 1 and stop.is_set()):
            break
        slots = state.scheduler.next_update()
        update = Increments()
        for j, task in enumerate(slots):
            indices = state.streams[task].next()
            mine, share = _shard(indices, rank, processes)
            batch, real, computed = collate(tasks[task].train, mine, pad_id, multiple)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            sync = j == len(slots) - 1
            with accelerator.no_sync(model) if not sync else contextlib.nullcontext():
                with accelerator.autocast():
                    eps = config.r3f_eps if config.r3f_lambda else 0.0
                    losses, r3f = model(task, batch, eps, config.r3f_noise)
                    objective = losses.mean() * scales[task]
                    if r3f is not None:
                        objective = objective + config.r3f_lambda * r3f
                    # Gradients are averaged over processes: weigh each by its share.
                    objective = objective * share
                accelerator.backward(objective / len(slots))
            # Kept as tensors until the next log point: no device sync per sub-batch.
            if share:  # a weight-0 stand-in example is not counted
                update.add(task, losses.detach().sum(), objective / len(slots))
                update.real_tokens += real
                update.computed_tokens += computed
            state.sums.task_examples[task] += len(indices)
            state.sums.examples += len(indices)
            state.seen[task] += len(indices)
        if processes > 1:
            halt = update.reduce(accelerator, stop.is_set(), config.tasks)
        state.sums.add(update)
        grad_norm = clipped_update(training, config.grad_clip)
        state.step += 1
        state.sums.updates += 1
        step = state.step
        sink.progress(step, config.max_steps)
        if time.monotonic() - released > RELEASE_SECONDS:  # memory flat however big the data
            release_pages(*(data.train for data in tasks.values()))
            released = time.monotonic()

        # The first update too: a curve starts at once, however long the logging interval.
        if step % config.log_every == 0 or step in (1, config.max_steps):
            _log_sums(sink, state, scales, grad_norm, training.schedule)
            state.sums = RunningSums()
        checkpoint_due = run_dir is not None and (
            step % config.checkpoint_every == 0 or step == config.max_steps
        )
        # A checkpoint is validated first, so the best one can be kept.
        if step % config.eval_every == 0 or step == config.max_steps or checkpoint_due:
            state.eval_metrics = _evaluate(accelerator, model, tasks, config, pad_id, sink, step)
            state.evaluated_at = step
        if checkpoint_due:
            save_checkpoint_now()
            saved_at = step

    step = state.step
    stopped = step < config.max_steps
    if stopped:
        if state.sums.updates and step > saved_at:  # the updates since the last log point
            _log_sums(sink, state, scales, grad_norm, training.schedule)
        if saved_at != step:
            save_checkpoint_now()
        sink.log("info", f"stopped at update {step} of {config.max_steps}")
    sink.flush()
    return TrainResult("stopped" if stopped else "finished", step, state.eval_metrics)


def _load(folder: Path, training: Training) -> dict[str, Any]:
    """Restore weights, optimizer, schedule, scaler and RNGs from a checkpoint; its state."""
    accelerator = training.accelerator
    net = accelerator.unwrap_model(training.model)
    return load_checkpoint(folder, net, training.optimizer, training.schedule, accelerator.scaler)


def _log_sums(
    sink: Sink, state: LoopState, scales: dict[str, float], grad_norm: Any, schedule: Any
) -> None:
    """The training rows of the updates since the last log point (reads the device)."""
    _check_finite(state.sums, state.step)
    lr = schedule.get_last_lr()[0]
    sink.metrics(train_rows(state.step, state.sums, state.seen, scales, float(grad_norm), lr))


def _shard(indices: np.ndarray, rank: int, processes: int) -> tuple[np.ndarray, float]:
    """This process's part of a global batch and its weight (its share x processes).

    The weights make the average over processes of each process's mean loss equal the
    global batch's mean loss. A process left without examples runs one with weight 0, so
    every process still takes part in the gradient synchronisation.
    """
    if processes == 1:
        return indices, 1.0
    mine = indices[rank::processes]
    if len(mine) == 0:
        return indices[:1], 0.0
    return mine, len(mine) * processes / len(indices)


def _check_finite(sums: RunningSums, step: int) -> None:
    for task, total in sums.task_loss.items():
        if not np.isfinite(float(total)):
            raise StudioError(
                f"the loss of task '{task}' became {total} by update {step}; "
                "lower the learning rate or check the task's data"
            )


def _evaluate(
    accelerator: Accelerator,
    model: torch.nn.Module,
    tasks: dict[str, TaskData],
    config: RunConfig,
    pad_id: int,
    sink: Sink,
    step: int,
) -> dict[str, dict[str, float]]:
    """Validate every task on the main process; log eval_loss, eval_<metric> and eval_mean."""
    results: dict[str, dict[str, float]] = {}
    if accelerator.is_main_process:
        net = accelerator.unwrap_model(model)
        now = time.time()
        started, examples = time.perf_counter(), 0
        rows = []
        for name, data in tasks.items():
            result = evaluate_task(
                net,
                data,
                config.batch_size * 2,
                config.eval_max_examples,
                accelerator.device,
                pad_id,
                accelerator.autocast,
                config.max_target_length,
                config.num_beams,
                show=lambda text: sink.log("info", f"update {step}: {text}"),
            )
            results[name] = result
            rows += [MetricRow(step, f"eval_{k}", v, name, now) for k, v in result.items()]
            limit = config.eval_max_examples
            examples += (
                len(data.validation_lengths)
                if limit is None
                else min(limit, len(data.validation_lengths))
            )
            release_pages(data.validation)
        mean = _mean_metric(results, tasks)
        rows.append(MetricRow(step, "eval_mean", mean, None, now))
        # Validation's own speed, beside training's examples_per_s (bench/eval_speed.py).
        rate = examples / max(time.perf_counter() - started, 1e-9)
        rows.append(MetricRow(step, "eval_examples_per_s", rate, None, now))
        sink.metrics(rows)
        sink.log("info", f"update {step}: mean validation metric {mean:.4f}")
    accelerator.wait_for_everyone()
    return results


def _mean_metric(results: dict[str, dict[str, float]], tasks: dict[str, TaskData]) -> float:
    """Mean over tasks of each task's own metric (the number "best" is judged by)."""
    return float(np.mean([results[n][tasks[n].spec.metric] for n in results]))


def _flat_metrics(state: dict[str, Any]) -> dict[str, float]:
    """A checkpoint's metrics for the store: eval_mean and <task>/<metric>."""
    flat = {f"{t}/{k}": v for t, m in state["eval_metrics"].items() for k, v in m.items()}
    if state["eval_mean"] is not None:
        flat["eval_mean"] = state["eval_mean"]
    return flat

"""The pre-finetuning loop: one function that reads top to bottom (nanoGPT / torchtune style)."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import get_linear_schedule_with_warmup, set_seed

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.sampling import TaskScheduler, task_probabilities
from studio.core.scaling import loss_scale
from studio.core.sink import MetricRow, Sink, Stages
from studio.train.batching import TaskStream, collate
from studio.train.checkpoint import (
    DataChanged,
    data_changes,
    load_checkpoint,
    prune,
    read_state,
    save_checkpoint,
)
from studio.train.data import TaskData, release_pages
from studio.train.evaluate import evaluate_task
from studio.train.model import MultiTaskModel
from studio.train.setup import (
    Workspace,
    check_tasks,
    keeps_process_settings,
    load_encoder,
    load_tasks,
    load_tokenizer,
    make_accelerator,
    optimizer_groups,
    quiet_libraries,
)
from studio.train.tokenized import PreparationStopped

log = logging.getLogger(__name__)

RELEASE_SECONDS = 0.5  # between unmapping the pages that reading batches mapped


@dataclass
class TrainResult:
    status: str  # finished | stopped
    step: int
    eval_metrics: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Window:
    """Running sums between two log points."""

    start: float = field(default_factory=time.perf_counter)
    examples: int = 0
    real_tokens: int = 0
    computed_tokens: int = 0
    objective: Any = 0.0
    updates: int = 0
    task_loss: dict[str, Any] = field(default_factory=lambda: defaultdict(float))
    task_examples: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def state(self) -> dict[str, Any]:
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
    def from_state(cls, state: dict[str, Any]) -> Window:
        window = cls(
            examples=state["examples"],
            real_tokens=state["real_tokens"],
            computed_tokens=state["computed_tokens"],
            objective=state["objective"],
            updates=state["updates"],
        )
        window.task_loss.update(state["task_loss"])
        window.task_examples.update(state["task_examples"])
        return window

    def add(self, update: Increments) -> None:
        self.objective += update.objective
        self.real_tokens += update.real_tokens
        self.computed_tokens += update.computed_tokens
        for task, loss in update.task_loss.items():
            self.task_loss[task] += loss


@dataclass
class Increments:
    """One update's sums on this process; summed over processes before they reach the Window."""

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
    """
    # -- data and model ------------------------------------------------------------------
    quiet_libraries()
    stages = Stages(sink)
    # Several processes stop together at an update (see Window.reduce), not while preparing.
    preparing_stop = stop if int(os.environ.get("WORLD_SIZE", "1")) == 1 else None
    try:
        checked = check_tasks(config, ws, stages, preparing_stop)  # before any heavy work
        stages.begin("loading the model")
        tokenizer = load_tokenizer(config.model)
        encoder = load_encoder(config.model)
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
    model = MultiTaskModel(encoder, specs, config.head_sharing, config.label_smoothing)
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
    accelerator = make_accelerator(config.device, config.mixed_precision, config.num_threads)
    optimizer = torch.optim.AdamW(
        optimizer_groups(model, config.weight_decay), lr=config.learning_rate
    )
    warmup = int(config.warmup_ratio * config.max_steps)
    lr_schedule = get_linear_schedule_with_warmup(optimizer, warmup, config.max_steps)
    # The schedule stays unprepared: accelerate would step a prepared one once per process.
    model, optimizer = accelerator.prepare(model, optimizer)
    device = accelerator.device
    pad_id = tokenizer.pad_token_id or 0
    multiple = 8 if device.type == "cuda" else 1  # tensor cores like multiples of 8
    # Every process draws the same tasks and the same global batches and keeps its share of
    # each batch (`_shard`): N processes train like one process on the same global batch.
    scheduler = TaskScheduler(
        probs, config.mixing, config.tasks_per_update, config.max_steps, config.seed
    )
    streams = {
        t: TaskStream(d.train_lengths, config.batch_size, config.seed + i)
        for i, (t, d) in enumerate(tasks.items())
    }
    processes, rank = accelerator.num_processes, accelerator.process_index
    sink.log(
        "info",
        f"training on {device} ({accelerator.mixed_precision} precision)"
        + (f" in {processes} processes" if processes > 1 else "")
        + f", {config.max_steps} updates of {config.tasks_per_update} sub-batches",
    )

    # -- where we start: fresh, or from a checkpoint ------------------------------------
    step = 0
    seen: dict[str, int] = defaultdict(int)
    window = Window()
    eval_metrics: dict[str, dict[str, float]] = {}
    evaluated_at = saved_at = -1
    if resume is not None:
        state = load_checkpoint(
            resume, accelerator.unwrap_model(model), optimizer, lr_schedule, accelerator.scaler
        )
        step = saved_at = state["step"]
        seen.update(state["seen"])
        scheduler.load_state_dict(state["scheduler"])
        for name, stream_state in state["streams"].items():
            streams[name].load_state_dict(stream_state)
        window = Window.from_state(state["window"])
        eval_metrics = state["eval_metrics"]
        evaluated_at = state["evaluated_at"]
        sink.log("info", f"resumed from the checkpoint of update {step}")

    def save_checkpoint_now(validated: bool) -> None:
        """Save (main process), prune old checkpoints and tell the sink about both."""
        if accelerator.is_main_process and run_dir is not None:
            state = {
                "step": step,
                "seen": dict(seen),
                "scheduler": scheduler.state_dict(),
                "streams": {t: s.state_dict() for t, s in streams.items()},
                "window": window.state(),
                "evaluated_at": evaluated_at,
                "eval_metrics": eval_metrics if validated else {},
                "eval_mean": _mean_metric(eval_metrics, tasks) if validated else None,
                "config": config.to_dict(),
                "probabilities": probs,
                "train_examples": {t: d.train_examples for t, d in tasks.items()},
                "data": {t: d.fingerprint for t, d in tasks.items()},
                "heads": accelerator.unwrap_model(model).describe_heads(),
            }
            # Rows first: a crash mid-save must not leave a checkpoint whose rows are lost.
            sink.flush()
            folder = save_checkpoint(
                run_dir / "checkpoints",
                step,
                accelerator.unwrap_model(model),
                optimizer,
                lr_schedule,
                accelerator.scaler,
                state,
                tokenizer,
            )
            sink.checkpoint(step, str(folder), _flat_metrics(state))
            for old in prune(run_dir / "checkpoints", config.keep_checkpoints):
                sink.drop_checkpoint(old)
        accelerator.wait_for_everyone()

    # -- the loop ------------------------------------------------------------------------
    model.train()
    halt = False
    grad_norm = math.nan
    released = time.monotonic()
    while step < config.max_steps:
        if halt or (processes == 1 and stop.is_set()):
            break
        slots = scheduler.next_update()
        update = Increments()
        for j, task in enumerate(slots):
            indices = streams[task].next()
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
            window.task_examples[task] += len(indices)
            window.examples += len(indices)
            seen[task] += len(indices)
        if processes > 1:
            halt = update.reduce(accelerator, stop.is_set(), config.tasks)
        window.add(update)
        grad_norm = float(accelerator.clip_grad_norm_(model.parameters(), config.grad_clip))
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        window.updates += 1
        sink.progress(step, config.max_steps)
        if time.monotonic() - released > RELEASE_SECONDS:  # memory flat however big the data
            release_pages(*(data.train for data in tasks.values()))
            released = time.monotonic()

        # The first update too: a curve starts at once, however long the logging interval.
        if step % config.log_every == 0 or step in (1, config.max_steps):
            _check_finite(window, step)
            lr = lr_schedule.get_last_lr()[0]
            sink.metrics(_train_rows(step, window, seen, scales, grad_norm, lr))
            window = Window()
        checkpoint_due = run_dir is not None and (
            step % config.checkpoint_every == 0 or step == config.max_steps
        )
        # A checkpoint is validated first, so the best one can be kept.
        if step % config.eval_every == 0 or step == config.max_steps or checkpoint_due:
            eval_metrics = _evaluate(accelerator, model, tasks, config, pad_id, sink, step)
            evaluated_at = step
        if checkpoint_due:
            save_checkpoint_now(validated=True)
            saved_at = step

    stopped = step < config.max_steps
    if stopped:
        if window.updates and step > saved_at:  # the updates since the last log point
            _check_finite(window, step)
            lr = lr_schedule.get_last_lr()[0]
            sink.metrics(_train_rows(step, window, seen, scales, grad_norm, lr))
        if saved_at != step:
            save_checkpoint_now(validated=evaluated_at == step)
        sink.log("info", f"stopped at update {step} of {config.max_steps}")
    sink.flush()
    return TrainResult("stopped" if stopped else "finished", step, eval_metrics)


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


def _check_finite(window: Window, step: int) -> None:
    for task, total in window.task_loss.items():
        if not np.isfinite(float(total)):
            raise StudioError(
                f"the loss of task '{task}' became {total} by update {step}; "
                "lower the learning rate or check the task's data"
            )


def _train_rows(
    step: int,
    window: Window,
    seen: dict[str, int],
    scales: dict[str, float],
    grad_norm: float,
    lr: float,
) -> list[MetricRow]:
    now = time.time()
    elapsed = max(time.perf_counter() - window.start, 1e-9)
    total_seen = sum(seen.values())
    rows = [
        MetricRow(step, "total_loss", float(window.objective) / max(window.updates, 1), None, now),
        MetricRow(step, "lr", lr, None, now),
        MetricRow(step, "grad_norm", grad_norm, None, now),
        MetricRow(step, "examples_per_s", window.examples / elapsed, None, now),
        MetricRow(step, "tokens_per_s", window.real_tokens / elapsed, None, now),
        MetricRow(
            step,
            "padding_efficiency",
            window.real_tokens / max(window.computed_tokens, 1),
            None,
            now,
        ),
    ]
    for task, count in window.task_examples.items():
        loss = float(window.task_loss[task]) / count
        rows += [
            MetricRow(step, "loss", loss, task, now),
            MetricRow(step, "scaled_loss", loss * scales[task], task, now),
            MetricRow(step, "loss_scale", scales[task], task, now),
        ]
    rows += [MetricRow(step, "share", n / total_seen, t, now) for t, n in seen.items()]
    return rows


def _evaluate(
    accelerator,
    model,
    tasks,
    config: RunConfig,
    pad_id: int,
    sink: Sink,  # type: ignore[no-untyped-def]
    step: int,
) -> dict[str, dict[str, float]]:
    """Validate every task on the main process; log eval_loss, eval_<metric> and eval_mean."""
    results: dict[str, dict[str, float]] = {}
    if accelerator.is_main_process:
        net = accelerator.unwrap_model(model)
        now = time.time()
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
            release_pages(data.validation)
        mean = _mean_metric(results, tasks)
        rows.append(MetricRow(step, "eval_mean", mean, None, now))
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

"""One update's gradients: draw the tasks' sub-batches, then run them one pass each or fused.

Both paths weigh each task's mean loss by its loss scale, add R3F's term, weigh it by this
process's share of the global batch and average over the sub-batches: the objective is the
same; only how many forward and backward passes compute it differs (train/fused.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from studio.core.config.run import RunConfig
from studio.train.batching import collate
from studio.train.fused import FusedForward, Part, passes
from studio.train.loop_state import Increments, LoopState
from studio.train.memory import fused_token_budget
from studio.train.recipe import Recipe


@dataclass(frozen=True)
class SubBatch:
    """One task's sub-batch of an update: this process's rows, on the device."""

    task: str
    batch: dict[str, torch.Tensor]
    real: int  # real tokens
    computed: int  # tokens with padding
    share: float  # this process's weight (loop.shard)
    examples: int  # of the global batch


def prepare_updates(recipe: Recipe, config: RunConfig) -> int | None:
    """Compile the encoder if asked (compile on), and return the fusion budget."""
    if config.compile == "on":  # auto: off until measured better (README: the fused update)
        net = recipe.accelerator.unwrap_model(recipe.model)
        # In place: the weights keep their names, so checkpoints read the same. Batches
        # change length from one update to the next, hence dynamic shapes.
        net.encoder.compile(dynamic=True)
    return fusion_budget(recipe, config)


def fusion_budget(recipe: Recipe, config: RunConfig) -> int | None:
    """Tokens one fused pass may hold: None for one pass per update (fuse_update on), 0 for
    the per-sub-batch path (off), and what the free memory allows for auto."""
    if config.fuse_update == "on":
        return None
    if config.fuse_update == "off":
        return 0
    net = recipe.accelerator.unwrap_model(recipe.model)
    precision = recipe.accelerator.mixed_precision
    return fused_token_budget(config, net.encoder.config, recipe.accelerator.device, precision)


def draw(recipe: Recipe, state: LoopState, config: RunConfig) -> list[SubBatch]:
    """The update's sub-batches: the tasks the scheduler draws, a batch of each, this
    process's share of it, padded and on the device."""
    accelerator = recipe.accelerator
    rank, processes = accelerator.process_index, accelerator.num_processes
    drawn = []
    for task in state.scheduler.next_update():
        indices = state.streams[task].next()
        mine, share = shard(indices, rank, processes)
        batch, real, computed = collate(recipe.tasks[task].train, mine, recipe.pad_id,
                                        recipe.multiple)  # fmt: skip
        batch = {k: v.to(accelerator.device, non_blocking=True) for k, v in batch.items()}
        drawn.append(SubBatch(task, batch, real, computed, share, len(indices)))
    return drawn


def accumulate(
    recipe: Recipe, state: LoopState, config: RunConfig, budget: int | None = 0
) -> Increments:
    """One update's gradients (see `fusion_budget` for `budget`). Returns what it adds up to;
    the losses stay on the device until the next log point (no sync inside an update)."""
    subs = draw(recipe, state, config)
    if budget == 0:
        return _one_by_one(recipe, state, config, subs)
    return _fused(recipe, state, config, subs, budget)


def _one_by_one(
    recipe: Recipe, state: LoopState, config: RunConfig, subs: list[SubBatch]
) -> Increments:
    """A forward and backward pass per sub-batch (fuse_update off)."""
    accelerator, model = recipe.accelerator, recipe.model
    update = Increments()
    eps = config.r3f_eps if config.r3f_lambda else 0.0
    for j, sub in enumerate(subs):
        last = j == len(subs) - 1  # gradients are synchronised once, after the last
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            with accelerator.autocast():
                losses, r3f = model(sub.task, sub.batch, eps, config.r3f_noise)
                objective = _objective(recipe, config, sub, losses, r3f)
            accelerator.backward(objective / len(subs))
        _count(update, state, sub, losses, objective / len(subs))
    return update


def _fused(
    recipe: Recipe, state: LoopState, config: RunConfig, subs: list[SubBatch], budget: int | None
) -> Increments:
    """As few passes as `budget` allows, each one encoder call per length group."""
    accelerator, model = recipe.accelerator, recipe.model
    net = accelerator.unwrap_model(model)
    parts = [Part(s.task, net.specs[s.task].format, s.batch) for s in subs]
    eps = config.r3f_eps if config.r3f_lambda else 0.0
    update = Increments()
    cuts = passes(parts, budget)
    for n, members in enumerate(cuts):
        last = n == len(cuts) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(model):
            with accelerator.autocast():
                fused = FusedForward([parts[i] for i in members], recipe.pad_id, eps,
                                     config.r3f_noise)  # fmt: skip
                results = model(fused)
                objectives = [
                    _objective(recipe, config, subs[i], losses, r3f) / len(subs)
                    for i, (losses, r3f) in zip(members, results, strict=True)
                ]
            accelerator.backward(torch.stack(objectives).sum())
        for i, (losses, _), objective in zip(members, results, objectives, strict=True):
            _count(update, state, subs[i], losses, objective)
    return update


def _objective(
    recipe: Recipe,
    config: RunConfig,
    sub: SubBatch,
    losses: torch.Tensor,
    r3f: torch.Tensor | None,
) -> torch.Tensor:
    """The sub-batch's part of the update's objective, before the average over sub-batches."""
    objective = losses.mean() * recipe.scales[sub.task]
    if r3f is not None:
        objective = objective + config.r3f_lambda * r3f
    # Gradients are averaged over processes: weigh each by its share.
    return objective * sub.share


def _count(
    update: Increments,
    state: LoopState,
    sub: SubBatch,
    losses: torch.Tensor,
    objective: torch.Tensor,
) -> None:
    # Kept as tensors until the next log point: no device sync per sub-batch.
    if sub.share:  # a weight-0 stand-in example is not counted
        update.add(sub.task, losses.detach().sum(), objective)
        update.real_tokens += sub.real
        update.computed_tokens += sub.computed
    state.sums.task_examples[sub.task] += sub.examples
    state.sums.examples += sub.examples
    state.seen[sub.task] += sub.examples


def shard(indices: np.ndarray, rank: int, processes: int) -> tuple[np.ndarray, float]:
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

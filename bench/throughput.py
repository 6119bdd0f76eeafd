"""Studio update throughput against a minimal hand-written PyTorch loop, in one process.

Both loops train the same MultiTaskModel (MiniLM by default) on the same sub-batches: the
studio's own run records which (task, batch) it drew, then the bare loop replays them with
plain forward / backward / clip / AdamW and nothing else, from rows already in memory (the
studio gathers its rows from the memory-mapped tokenized cache as it goes). The two are
interleaved (studio, bare, studio, bare, ...) so machine drift hits both. Target: studio / bare
>= 0.97.

Usage: python bench/throughput.py [--updates 24] [--rounds 2] [--model minilm] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np
import torch

import studio.train.loop as loop_module
import studio.train.recipe as recipe_module
from bench.common import Clock, workspace
from studio.core.config.run import RunConfig
from studio.core.mixing.scaling import loss_scale
from studio.train.batching import collate
from studio.train.data.loading import rows
from studio.train.model import MultiTaskModel
from studio.train.setup import check_tasks, load_backbone, load_tasks, load_tokenizer

TASKS = ("sst2", "rte", "cola", "copa", "social_i_qa", "squad_v1", "ag_news", "mrpc")
WARMUP = 3


def studio_run(config: RunConfig, ws) -> tuple[list[float], list[tuple[str, np.ndarray]]]:  # type: ignore[no-untyped-def]
    """Per-update seconds of a real studio run, and the (task, batch) sub-batches it drew."""
    drawn: list[tuple[int, np.ndarray]] = []
    loaded: dict = {}
    original_collate, original_load = loop_module.collate, recipe_module.load_tasks

    def recording_collate(features, indices, pad_id, multiple=1):  # type: ignore[no-untyped-def]
        drawn.append((id(features), indices.copy()))
        return original_collate(features, indices, pad_id, multiple)

    def recording_load(*args, **kwargs):  # type: ignore[no-untyped-def]
        loaded.update(original_load(*args, **kwargs))
        return loaded

    loop_module.collate, recipe_module.load_tasks = recording_collate, recording_load
    try:
        clock = Clock()
        loop_module.train(config, clock, threading.Event(), ws)
    finally:
        loop_module.collate, recipe_module.load_tasks = original_collate, original_load
    names = {id(d.train): n for n, d in loaded.items()}
    return list(np.diff(clock.times)[WARMUP:]), [(names[f], i) for f, i in drawn]


def bare_run(config: RunConfig, ws, drawn: list[tuple[str, np.ndarray]]) -> list[float]:  # type: ignore[no-untyped-def]
    """The same updates with a hand-written loop: no accelerate, no logging, no scheduler."""
    tok = load_tokenizer(config.model)
    tasks = load_tasks(check_tasks(config, ws), tok, config, ws)
    torch.manual_seed(config.seed)
    model = MultiTaskModel(
        load_backbone(config.model), [d.spec for d in tasks.values()], config.head_sharing
    )
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    scales = {
        n: loss_scale(d.spec, "log_n", config.max_length, len(tok), {}) for n, d in tasks.items()
    }
    k = config.tasks_per_update
    # The bare loop's rows are in memory before the clock starts; the studio gathers each
    # sub-batch from the memory-mapped cache while it trains.
    ready = [(name, rows(tasks[name].train, indices)) for name, indices in drawn]
    times = [time.perf_counter()]
    for update in range(config.max_steps):
        for name, features in ready[update * k : (update + 1) * k]:
            positions = np.arange(len(features["input_ids"]))
            batch, _, _ = collate(features, positions, tok.pad_token_id)
            logits = model.logits(name, batch)
            loss = model.example_losses(name, logits, batch).mean()
            (loss * scales[name] / k).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter())
    return list(np.diff(times)[WARMUP:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    ws = workspace()
    config = RunConfig(
        tasks=TASKS,
        model=args.model,
        max_steps=args.updates,
        eval_every=10**9,
        log_every=5,
        batch_size=args.batch_size,
        tasks_per_update=4,
        max_length=128,
        device="cpu",
        num_threads=args.threads,
        eval_max_examples=1,
    )
    torch.set_num_threads(args.threads)
    studio_times: list[float] = []
    bare_times: list[float] = []
    for r in range(args.rounds):
        seconds, drawn = studio_run(config, ws)
        studio_times += seconds
        bare_times += bare_run(config, ws, drawn)
        print(
            f"round {r + 1}: studio {statistics.median(seconds):.3f} s/update, "
            f"bare {statistics.median(bare_times[-len(seconds) :]):.3f} s/update"
        )
    ratio = statistics.median(bare_times) / statistics.median(studio_times)
    print(
        f"updates per round: {args.updates} (first {WARMUP} dropped), rounds: {args.rounds}, "
        f"threads: {args.threads}, model: {args.model}"
    )
    print(
        f"median s/update  studio {statistics.median(studio_times):.4f}  "
        f"bare {statistics.median(bare_times):.4f}"
    )
    print(f"throughput ratio studio/bare: {ratio:.3f}  (target >= 0.97)")


if __name__ == "__main__":
    main()

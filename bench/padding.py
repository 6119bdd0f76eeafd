"""Padding efficiency (real / computed tokens) on a mix of every local non-summarization task.

Target: >= 0.90 with the studio's length-aware batching. Random batching is shown for contrast.
Usage: python bench/padding.py [--updates 2000] [--batch-size 16] [--max-length 256]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import local_tasks, workspace
from studio.core.config.run import RunConfig
from studio.core.mixing.sampling import TaskScheduler, task_probabilities
from studio.train.batching import TaskStream, collate
from studio.train.setup import check_tasks, load_tasks, load_tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    ws = workspace()
    assert ws.data_dir is not None
    names = local_tasks(ws.catalog, ws.data_dir)
    config = RunConfig(tasks=tuple(names), max_length=args.max_length, batch_size=args.batch_size)
    start = time.perf_counter()
    tok = load_tokenizer(config.model)
    tasks = load_tasks(check_tasks(config, ws), tok, config, ws)
    print(f"{len(tasks)} tasks tokenized in {time.perf_counter() - start:.1f} s")
    probs = task_probabilities({t: d.train_examples for t, d in tasks.items()}, "proportional")
    scheduler = TaskScheduler(probs, "heterogeneous", 4, args.updates, seed=0)
    streams = {
        t: TaskStream(d.train_lengths, args.batch_size, seed=i)
        for i, (t, d) in enumerate(tasks.items())
    }
    rng = np.random.default_rng(0)
    aware = [0, 0]
    naive = [0, 0]
    for _ in range(args.updates):
        for task in scheduler.next_update():
            data = tasks[task]
            _, real, computed = collate(data.train, streams[task].next(), tok.pad_token_id)
            aware[0], aware[1] = aware[0] + real, aware[1] + computed
            n = len(data.train_lengths)
            pick = rng.choice(n, size=min(args.batch_size, n), replace=False)
            _, real, computed = collate(data.train, pick, tok.pad_token_id)
            naive[0], naive[1] = naive[0] + real, naive[1] + computed
    print(f"sub-batches: {args.updates * 4} of {args.batch_size}, max_length {args.max_length}")
    print(f"padding efficiency, length-aware (studio): {aware[0] / aware[1]:.3f}  (target >= 0.90)")
    print(f"padding efficiency, random batches:        {naive[0] / naive[1]:.3f}")


if __name__ == "__main__":
    main()

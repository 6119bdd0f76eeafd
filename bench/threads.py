"""Training throughput (examples/s) with 1 or 2 CPU threads, alone and beside a busy process.

Why `num_threads` is a setting: on 2 cores, 2 threads are fastest when nothing else runs but
fall behind 1 thread when another process takes a core. Runs MiniLM on the synthetic suite.
Usage: python -m bench.threads [--updates 12]
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time

from bench.common import workspace
from studio.core.config.run import RunConfig
from studio.core.sink import NullSink
from studio.train.loop import train

WARMUP = 2


class Clock(NullSink):
    def __init__(self) -> None:
        self.times: list[float] = []

    def progress(self, step: int, total: int) -> None:
        self.times.append(time.perf_counter())


def _spin(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    while not stop.is_set():
        pass


def examples_per_s(threads: int, updates: int) -> float:
    ws = workspace()
    tasks = tuple(
        n for n, s in ws.catalog.items() if s.is_synthetic and s.format != "summarization"
    )
    config = RunConfig(
        tasks=tasks,
        max_steps=updates,
        batch_size=16,
        tasks_per_update=3,
        max_length=128,
        eval_every=10**9,
        eval_max_examples=1,
        device="cpu",
        num_threads=threads,
    )
    clock = Clock()
    train(config, clock, threading.Event(), ws)
    seconds = clock.times[-1] - clock.times[WARMUP - 1]
    return (updates - WARMUP) * 16 * 3 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=12)
    args = parser.parse_args()
    for busy in (False, True):
        stop = multiprocessing.Event()
        hog = multiprocessing.Process(target=_spin, args=(stop,)) if busy else None
        if hog:
            hog.start()
        try:
            for threads in (1, 2):
                rate = examples_per_s(threads, args.updates)
                where = "beside a busy process" if busy else "alone"
                print(f"{threads} thread(s), {where}: {rate:.1f} examples/s", flush=True)
        finally:
            if hog:
                stop.set()
                hog.join()


if __name__ == "__main__":
    main()

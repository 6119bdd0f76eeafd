"""The extra cost of R3F per update: the same run with and without it, in the same process.

R3F runs a second forward pass on noise-perturbed embeddings and adds a symmetric KL term,
so an update should cost somewhat under twice as much (no second optimizer step). Rounds
alternate plain / R3F on identical batches (same seed); the first updates of every run are
warm-up and not counted. Usage:
    python -m bench.r3f [--model minilm] [--updates 20] [--rounds 3] [--tasks a,b,c]
"""

from __future__ import annotations

import argparse
import statistics
import threading

from bench.common import Clock, workspace
from studio.core.config.run import RunConfig
from studio.train.loop import train

WARMUP = 3


def seconds_per_update(config: RunConfig, ws) -> float:  # type: ignore[no-untyped-def]
    clock = Clock()
    train(config, clock, threading.Event(), ws)
    gaps = [b - a for a, b in zip(clock.times[WARMUP:], clock.times[WARMUP + 1 :], strict=False)]
    return statistics.median(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--tasks",
        default="synth_sentiment,synth_choice,synth_span",
        help="comma-separated task names (default: one per encoder family)",
    )
    args = parser.parse_args()
    ws = workspace()
    plain = RunConfig(
        tasks=tuple(args.tasks.split(",")),
        model=args.model,
        max_steps=args.updates + WARMUP + 1,
        batch_size=16,
        tasks_per_update=3,
        max_length=128,
        eval_every=100_000,
        log_every=100_000,
        device="cpu",
        num_threads=args.threads,
    )
    with_r3f = plain.replace(r3f_lambda=1.0, r3f_eps=1e-5, r3f_noise="uniform")
    seconds_per_update(plain.replace(max_steps=WARMUP + 2), ws)  # caches, first-call costs
    times: dict[str, list[float]] = {"plain": [], "r3f": []}
    for round_ in range(args.rounds):
        for name, config in (("plain", plain), ("r3f", with_r3f)):
            times[name].append(seconds_per_update(config, ws))
            print(f"round {round_ + 1} {name}: {times[name][-1]:.3f} s/update", flush=True)
    # The fastest round of each is the least disturbed by other work on the machine.
    a, b = min(times["plain"]), min(times["r3f"])
    print(f"fastest round s/update: plain {a:.3f}, R3F {b:.3f}; R3F costs {b / a:.2f}x per update")


if __name__ == "__main__":
    main()

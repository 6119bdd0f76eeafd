"""Small-scale reproduction of the Muppet claim on ../shared/data with the default MiniLM.

Pre-finetune on every local non-summarization task outside the held-out targets, then compare
the base model and the pre-finetuned checkpoint on each target, paired by seed (same
k-subsample, same batches): once with full fine-tuning and once with the probe (frozen
encoder, head only). Prints both paired tables with 95 % intervals. Sized to fit in an hour on
2 CPU cores. The targets were chosen before any result (README, "Does pre-finetuning pay off
here?").

Usage: python -m bench.reproduce [--steps N] [--store PATH] [--targets rte mrpc copa cr]
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time
from pathlib import Path

from bench.common import local_tasks, study_store, workspace
from bench.factors import FINETUNE, TARGETS
from studio.core.config.run import RunConfig
from studio.core.experiments.paired import table
from studio.core.experiments.transfer import TransferConfig
from studio.experiments import transfer
from studio.session import execute
from studio.store import RunStore

# The pre-finetuning recipe the factor study supports at this scale (README): MiniLM's own
# mean pooling, short inputs so that many examples fit in the time.
PRETRAIN = {
    "batch_size": 16, "tasks_per_update": 4, "max_length": 64, "learning_rate": 5e-5,
    "warmup_ratio": 0.06, "eval_max_examples": 100, "device": "cpu", "log_every": 20,
}  # fmt: skip


def pretrain(mix: tuple[str, ...], steps: int, store: Path, pooling: str) -> str:
    config = RunConfig(
        tasks=mix,
        name=f"reproduce: {len(mix)} tasks",
        max_steps=steps,
        eval_every=steps,
        checkpoint_every=steps,
        pooling=pooling,
        **PRETRAIN,  # type: ignore[arg-type]
    )
    ws = workspace()
    outcome = execute(config, ws.catalog, ws.data_dir, store, threading.Event())
    if outcome.status != "finished":
        raise SystemExit(f"pre-finetuning {outcome.status}: {outcome.error}")
    return outcome.run_id


def compare(source: str, args: argparse.Namespace, store: Path, probe: bool) -> str:
    """One paired transfer; returns its table."""
    ws = workspace()
    config = TransferConfig(
        source=source,
        targets=tuple(args.targets),
        sizes=tuple(args.sizes),
        seeds=tuple(args.probe_seeds if probe else args.seeds),
        checkpoint="latest",
        reuse_heads=not probe,
        name=f"reproduce: {'probe' if probe else 'fine-tuning'}",
        settings=dataclasses.replace(FINETUNE, probe=probe, pooling=args.pooling),
    )
    transfer_id = transfer(
        config, ws.catalog, ws.data_dir, store, threading.Event(),
        lambda f, m: print(f"  {100 * f:3.0f}% {m}", flush=True),
    )  # fmt: skip
    with RunStore(store) as db:
        return f"transfer run {transfer_id}\n{table(db.results(transfer_id))}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1000, help="pre-finetuning updates")
    parser.add_argument("--pooling", default=FINETUNE.pooling, choices=("first", "mean"))
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 256])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--probe-seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--store", help="run store (default: a new one under a temp folder)")
    args = parser.parse_args()
    ws = workspace()
    assert ws.data_dir is not None
    store = study_store(args.store)
    mix = tuple(t for t in local_tasks(ws.catalog, ws.data_dir) if t not in args.targets)
    started = time.perf_counter()
    print(
        f"pre-finetuning MiniLM on {len(mix)} tasks for {args.steps} updates of "
        f"{PRETRAIN['tasks_per_update']} tasks x {PRETRAIN['batch_size']} examples (held out: "
        f"{', '.join(args.targets)}); store {store}",
        flush=True,
    )
    source = pretrain(mix, args.steps, store, args.pooling)
    minutes = [(time.perf_counter() - started) / 60]
    print(f"pre-finetuning done in {minutes[0]:.1f} min (run {source})", flush=True)
    tables = []
    for probe in (False, True):
        what = "probe (frozen encoder, head only)" if probe else "full fine-tuning"
        tables.append(f"\n== {what}, paired by seed ==\n{compare(source, args, store, probe)}")
        minutes.append((time.perf_counter() - started) / 60 - sum(minutes))
        print(tables[-1], flush=True)
    print("\n".join(tables))
    print(
        f"\ntotal {sum(minutes):.1f} min: pre-finetuning {minutes[0]:.1f}, fine-tuning "
        f"{minutes[1]:.1f}, probe {minutes[2]:.1f}"
    )


if __name__ == "__main__":
    main()

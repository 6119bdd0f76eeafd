"""Small-scale reproduction of the Muppet claim on ../shared/data with the default MiniLM.

Pre-finetune on every local non-summarization task outside a held-out set, then fine-tune the
base model and the pre-finetuned checkpoint on each held-out task at several training-set sizes
and seeds, and print the transfer table. Sized to fit in about one hour on 2 CPU cores.
Usage: python -m bench.reproduce [--steps 600] [--store PATH] [--targets rte copa mrpc]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from bench.common import local_tasks, workspace
from studio.core.config import RunConfig
from studio.core.experiments import FinetuneSettings, TransferConfig, table
from studio.experiments import transfer
from studio.session import execute
from studio.store import RunStore

TARGETS = ("rte", "copa", "mrpc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=600, help="pre-finetuning updates")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--sizes", nargs="+", default=["32", "128", "512"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--store", help="run store (default: a new one under a temp folder)")
    args = parser.parse_args()
    ws = workspace()
    assert ws.data_dir is not None
    store = Path(args.store) if args.store else Path(tempfile.mkdtemp()) / "studio.db"
    os.environ.setdefault("STUDIO_HOME", str(store.parent))
    mix = tuple(t for t in local_tasks(ws.catalog, ws.data_dir) if t not in args.targets)
    started = time.perf_counter()
    config = RunConfig(
        tasks=mix,
        name=f"reproduce: {len(mix)} tasks",
        max_steps=args.steps,
        batch_size=16,
        tasks_per_update=4,
        max_length=128,
        learning_rate=5e-5,
        eval_every=args.steps // 2,
        checkpoint_every=args.steps // 2,
        eval_max_examples=100,
        device="cpu",
        log_every=10,
    )
    print(
        f"pre-finetuning MiniLM on {len(mix)} tasks for {args.steps} updates "
        f"(held out: {', '.join(args.targets)}); store {store}",
        flush=True,
    )
    outcome = execute(config, ws.catalog, ws.data_dir, store, threading.Event())
    if outcome.status != "finished":
        raise SystemExit(f"pre-finetuning {outcome.status}: {outcome.error}")
    pretrain_minutes = (time.perf_counter() - started) / 60
    print(f"pre-finetuning done in {pretrain_minutes:.1f} min (run {outcome.run_id})", flush=True)
    sizes = tuple(s if s == "all" else int(s) for s in args.sizes)
    transfer_config = TransferConfig(
        source=outcome.run_id,
        targets=tuple(args.targets),
        sizes=sizes,
        seeds=tuple(args.seeds),
        checkpoint="latest",
        reuse_heads=True,
        name="reproduce: transfer",
        settings=FinetuneSettings(
            learning_rate=3e-5, batch_size=16, epochs=3.0, min_steps=30, max_length=128,
            device="cpu",
        ),
    )  # fmt: skip
    transfer_id = transfer(
        transfer_config,
        ws.catalog,
        ws.data_dir,
        store,
        threading.Event(),
        lambda f, m: print(f"  {100 * f:3.0f}% {m}", flush=True),
    )
    with RunStore(store) as db:
        print(table(db.results(transfer_id)))
    total = (time.perf_counter() - started) / 60
    print(
        f"total {total:.1f} min (pre-finetuning {pretrain_minutes:.1f} min); "
        f"transfer run {transfer_id}"
    )


if __name__ == "__main__":
    main()

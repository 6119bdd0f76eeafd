"""Validation's speed against training's, in the same run, and one transfer cell's wall time.

A short pre-finetuning (MiniLM, 4 real tasks from ../shared/data) validates every 50 updates;
the run logs `examples_per_s` for its updates and `eval_examples_per_s` for each validation.
Then one fine-tuning (a transfer grid cell: rte, 500 examples, 3 epochs) is timed.

    python -m bench.eval_speed                # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TASKS = ("sst2", "mrpc", "copa", "trec")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--precision", default="auto", choices=("auto", "no", "bf16"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="eval-speed-"))

    from studio.core.config.run import RunConfig
    from studio.core.experiments.transfer import FinetuneConfig, FinetuneSettings
    from studio.core.tasks.spec import studio_catalog
    from studio.experiments import finetune_run
    from studio.session import execute
    from studio.store import RunStore

    catalog = studio_catalog().tasks
    store = Path(tempfile.mkdtemp(prefix="eval-speed-store-")) / "studio.db"
    config = RunConfig(
        tasks=TASKS,
        max_steps=args.updates,
        batch_size=16,
        max_length=128,
        eval_every=50,
        eval_max_examples=300,
        log_every=10,
        device="cpu",
        mixed_precision=args.precision,
    )
    outcome = execute(config, catalog, DATA, store, threading.Event())
    with RunStore(store) as db:
        rows = db.metrics_after(0, outcome.run_id)
        train = statistics.median(r["value"] for r in rows if r["name"] == "examples_per_s")
        evals = [r["value"] for r in rows if r["name"] == "eval_examples_per_s"]
        cell = FinetuneConfig(
            task="rte",
            k=500,
            settings=FinetuneSettings(max_length=128, device="cpu", mixed_precision=args.precision),
        )
        start = time.perf_counter()
        finetune_run(cell, catalog, DATA, db, threading.Event())
        seconds = time.perf_counter() - start
    report = {
        "precision": args.precision,
        "train_examples_per_s": round(train, 1),
        "eval_examples_per_s": round(statistics.median(evals), 1),
        "eval_over_train": round(statistics.median(evals) / train, 2),
        "transfer_cell_seconds": round(seconds, 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

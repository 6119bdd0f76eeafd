"""bf16 autocast on a CPU against fp32: speed, accuracy and transfer of the same pre-finetuning.

Runs the same short pre-finetuning (MiniLM, real tasks from ../shared/data) twice through the
studio's own session, in fp32 and under bf16 autocast, and reports examples/s, the final
validation mean of each, the largest difference in a task's metric, and a transfer from each
checkpoint to one held-out task (the fine-tuning itself in fp32, so only the source differs).
This decides what `mixed_precision: auto` means on a CPU with AVX512-BF16 or AMX:

    python -m bench.cpu_bf16                  # about 15 minutes on 2 cores
    python -m bench.cpu_bf16 --updates 10 --transfer-size 32   # a smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TASKS = ("sst2", "cola", "trec", "mrpc", "snli", "copa", "piqa", "social_i_qa")
HELD_OUT = "rte"


def pretrain(config: Any, catalog: dict, store: Path) -> dict[str, Any]:
    from studio.session import execute
    from studio.store import RunStore

    start = time.perf_counter()
    outcome = execute(config, catalog, DATA, store, threading.Event())
    seconds = time.perf_counter() - start
    if outcome.status != "finished":
        raise SystemExit(f"the {config.mixed_precision} run {outcome.status}: {outcome.error}")
    with RunStore(store) as db:
        rows = db.metrics_after(0, outcome.run_id)
    rates = [r["value"] for r in rows if r["name"] == "examples_per_s"][1:]
    last_step = max(r["step"] for r in rows if r["name"] == "eval_mean")
    metrics = {
        (r["task"], r["name"]): r["value"]
        for r in rows
        if r["step"] == last_step and r["task"] and r["name"].startswith("eval_")
    }
    return {
        "run_id": outcome.run_id,
        "precision": config.mixed_precision,
        "seconds": round(seconds, 1),
        "examples_per_s": round(sorted(rates)[len(rates) // 2], 2),
        "eval_mean": next(
            r["value"] for r in rows if r["name"] == "eval_mean" and r["step"] == last_step
        ),
        "metrics": {f"{task}/{name}": value for (task, name), value in sorted(metrics.items())},
    }


def transfer_gain(run_id: str, catalog: dict, store: Path, args: argparse.Namespace) -> dict:
    from studio.core.experiments.transfer import FinetuneSettings, TransferConfig
    from studio.experiments import transfer
    from studio.store import RunStore

    config = TransferConfig(
        source=run_id,
        targets=(HELD_OUT,),
        sizes=(args.transfer_size,),
        seeds=tuple(range(args.seeds)),
        reuse_heads=False,
        checkpoint="latest",
        settings=FinetuneSettings(
            max_length=args.max_length, device="cpu", epochs=3.0, mixed_precision="no"
        ),
    )
    transfer_id = transfer(config, catalog, DATA, store, threading.Event())
    with RunStore(store) as db:
        rows = db.results(transfer_id)
    mean = {
        model: sum(r["value"] for r in rows if r["model"] == model)
        / max(sum(1 for r in rows if r["model"] == model), 1)
        for model in ("base", "pretuned")
    }
    return {"transfer_id": transfer_id, **{f"{k}_{HELD_OUT}": round(v, 4) for k, v in mean.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--transfer-size", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", help="JSON file for the figures")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="cpu-bf16-"))

    import torch

    from studio.core.config.run import RunConfig
    from studio.core.tasks.spec import studio_catalog

    catalog = studio_catalog().tasks
    store = Path(tempfile.mkdtemp(prefix="cpu-bf16-store-")) / "studio.db"
    base = RunConfig(
        name="cpu bf16 check",
        tasks=TASKS,
        max_steps=args.updates,
        batch_size=args.batch_size,
        tasks_per_update=4,
        max_length=args.max_length,
        eval_every=args.updates,
        checkpoint_every=args.updates,
        log_every=max(args.updates // 15, 1),
        eval_max_examples=300,
        device="cpu",
        mixed_precision="no",
    )
    report: dict[str, Any] = {
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "runs": [],
    }
    for config in (base, base.replace(mixed_precision="bf16")):
        run = pretrain(config, catalog, store)
        run.update(transfer_gain(run["run_id"], catalog, store, args))
        report["runs"].append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "metrics"}), flush=True)
    fp32, bf16 = report["runs"]
    report["speedup"] = round(bf16["examples_per_s"] / fp32["examples_per_s"], 3)
    report["largest_task_difference"] = max(  # over the tasks' metrics, not their losses
        abs(bf16["metrics"][k] - v)
        for k, v in fp32["metrics"].items()
        if k in bf16["metrics"] and not k.endswith("eval_loss")
    )
    print(
        f"bf16: {report['speedup']:.2f}x the examples/s of fp32; validation mean "
        f"{fp32['eval_mean']:.4f} (fp32) vs {bf16['eval_mean']:.4f} (bf16); largest task "
        f"difference {report['largest_task_difference']:.4f}; {HELD_OUT} after transfer "
        f"{fp32[f'pretuned_{HELD_OUT}']:.4f} (fp32 source) vs {bf16[f'pretuned_{HELD_OUT}']:.4f} "
        f"(bf16 source), base {fp32[f'base_{HELD_OUT}']:.4f}"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

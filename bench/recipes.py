"""Muppet or tasknet? The two multi-task recipes on the same data and budget (issue 29).

One ablation (the studio's `ablate` machinery) pre-finetunes MiniLM on every local
non-summarization task outside the held-out targets with each recipe at each amount:

- Muppet: heterogeneous batches, proportional sampling, log-n loss scaling, per-dataset
  classification heads with one shared multiple-choice and one shared span head;
- tasknet: homogeneous batches, temperature sampling (size^p, p = 1/T = 0.5), no loss scaling,
  a task embedding on the first token (dropped 10 % of the time), heads shared by label set.

Then a transfer (the studio's `transfer`) from each variant's checkpoint: the probe (frozen
encoder) and full fine-tuning (pre-finetuned heads reused where they fit) on every target and
size, paired by seed. Printed: each variant against base MiniLM, and tasknet against Muppet at
each amount (the same targets, sizes and seeds: the same k-subsamples and batch orders).

The targets were chosen before any result and differ from the last study's (rte, mrpc, copa,
cr): cb (3-way NLI; its label set is shared by mnli_subset, snli and sick in the mix),
tweet_irony (a binary tweet label no other task has), piqa (physical commonsense multiple
choice) and subjqa (span QA on reviews; squad_v1 stays in the mix).

    python -m bench.recipes                       # the full study (hours on 2 CPU cores)
    python -m bench.recipes --amounts 40 80 --sizes 32 --probe-seeds 0 1 2 --seeds 0 1 \\
        --eval-max 100                            # a reduced, preliminary run
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import local_tasks, study_store, workspace
from bench.factors import FINETUNE
from bench.reproduce import PRETRAIN
from studio.ablation import run_ablation
from studio.core.experiments.ablation import ablation_config
from studio.core.experiments.paired import table
from studio.core.experiments.transfer import TransferConfig
from studio.core.run_record import TransferResult
from studio.experiments import transfer
from studio.store import RunStore

TARGETS = ("cb", "tweet_irony", "piqa", "subjqa")  # chosen before any result (see above)
RECIPE = "mixing+sampling+temperature+loss_scaling+head_sharing+task_embedding"
MUPPET = ["heterogeneous", "proportional", 2.0, "log_n", "shared", False]
TASKNET = ["homogeneous", "temperature", 2.0, "none", "by_label_set", True]
EXAMPLES_PER_UPDATE = PRETRAIN["batch_size"] * PRETRAIN["tasks_per_update"]  # 64
# The last study's 64k examples; a full pass is the mix's training examples (--full-pass).
LAST_STUDY = 64_000 // EXAMPLES_PER_UPDATE


def ablation(mix: tuple[str, ...], amounts: list[int]) -> dict[str, Any]:
    # Fused updates: the same losses and gradients, 1.4x faster on a CPU (bench.throughput).
    base = {
        "tasks": list(mix), "name": "recipes", **PRETRAIN, "task_embedding_dropout": 0.1,
        "fuse_update": "on",
    }  # fmt: skip
    return {
        "name": "Muppet vs tasknet recipe",
        "base": base | {"max_steps": amounts[0], "checkpoint_every": 10**9, "eval_every": 10**9},
        "vary": {RECIPE: [MUPPET, TASKNET], "max_steps": amounts},
    }


def pretrain(mix: tuple[str, ...], amounts: list[int], store: Path) -> list[dict[str, Any]]:
    """The ablation's variants: name, run id, recipe and amount of each."""
    ws = workspace()
    config = ablation_config(ablation(mix, amounts), "bench.recipes")
    ablation_id = run_ablation(
        config, ws.catalog, ws.data_dir, store, threading.Event(),
        lambda f, m: print(f"  {100 * f:3.0f}% {m}", flush=True),
    )  # fmt: skip
    with RunStore(store) as db:
        entries = db.get_run(ablation_id).config["variants"]
        runs = {r.id: r for r in db.list_runs("pretrain") if r.source_run == ablation_id}
    variants = []
    for entry in entries:
        run = runs[entry["run_id"]]
        if run.status != "finished":
            raise SystemExit(f"variant {entry['name']} {run.status}")
        recipe = "tasknet" if run.config["task_embedding"] else "muppet"
        variants.append({"id": run.id, "recipe": recipe, "steps": run.config["max_steps"]})
    return variants


def compare(source: str, args: argparse.Namespace, store: Path, probe: bool) -> str:
    """One paired transfer (the variant against base MiniLM); returns its id."""
    ws = workspace()
    settings = dataclasses.replace(FINETUNE, probe=probe, eval_max_examples=args.eval_max)
    config = TransferConfig(
        source=source, targets=tuple(args.targets), sizes=tuple(args.sizes),
        seeds=tuple(args.probe_seeds if probe else args.seeds), checkpoint="latest",
        reuse_heads=not probe, name=f"recipes: {'probe' if probe else 'fine-tuning'}",
        settings=settings,
    )  # fmt: skip
    return transfer(config, ws.catalog, ws.data_dir, store, threading.Event(), None)


def head_to_head(muppet: list[TransferResult], tasknet: list[TransferResult]) -> str:
    """tasknet's pre-finetuned encoder against Muppet's, paired (Muppet in the base column)."""
    a = [dataclasses.replace(r, model="base") for r in muppet if r.model == "pretuned"]
    b = [dataclasses.replace(r, model="pretuned") for r in tasknet if r.model == "pretuned"]
    text = table(a + b)
    return text.replace("    base ", "  muppet ").replace("pretuned", " tasknet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--amounts", nargs="+", type=int, help="updates of 64 examples each "
                        f"(default: {LAST_STUDY} and one pass over the mix)")  # fmt: skip
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 256])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4],
                        help="fine-tuning seeds; none: the probe only")  # fmt: skip
    parser.add_argument("--probe-seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--eval-max", type=int, default=FINETUNE.eval_max_examples)
    parser.add_argument("--store", help="run store (default: a new one under a temp folder)")
    args = parser.parse_args()
    ws = workspace()
    assert ws.data_dir is not None
    store = study_store(args.store)
    mix = tuple(t for t in local_tasks(ws.catalog, ws.data_dir) if t not in args.targets)
    amounts = args.amounts or [LAST_STUDY, full_pass(mix)]
    started = time.perf_counter()
    print(f"{len(mix)} tasks, amounts {amounts} updates x {EXAMPLES_PER_UPDATE}; store {store}")
    variants = pretrain(mix, amounts, store)
    print(f"pre-finetuning done in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    results: dict[tuple[str, int, bool], list[TransferResult]] = {}
    for probe in (True, False):
        if not probe and not args.seeds:
            continue
        for v in variants:
            transfer_id = compare(v["id"], args, store, probe)
            with RunStore(store) as db:
                results[(v["recipe"], v["steps"], probe)] = db.results(transfer_id)
            what = "probe" if probe else "fine-tuning"
            print(f"\n== {v['recipe']} at {v['steps']} updates vs base MiniLM, {what} ==")
            print(table(results[(v["recipe"], v["steps"], probe)]), flush=True)
    for (recipe, steps, probe), rows in results.items():
        if recipe == "tasknet":
            what = "probe" if probe else "fine-tuning"
            print(f"\n== tasknet vs Muppet at {steps} updates, {what} ==")
            print(head_to_head(results[("muppet", steps, probe)], rows))
    print(f"\ntotal {(time.perf_counter() - started) / 60:.1f} min")


def full_pass(mix: tuple[str, ...]) -> int:
    """Updates of 64 examples that see every training example of the mix once (on average)."""
    from studio.core.tasks.records import count_records

    ws = workspace()
    assert ws.data_dir is not None
    total = sum(count_records(ws.data_dir / t / "train.jsonl") for t in mix)
    return -(-total // EXAMPLES_PER_UPDATE)


if __name__ == "__main__":
    main()

"""Paired A/B comparisons of two fine-tuning set-ups on held-out tasks: the factor study.

Each side is an encoder plus fine-tuning settings; both sides fine-tune on the same
k-subsample, seed and batch order, and the table gives the paired gain of B over A with its
95 % interval (studio.core.experiments.paired). Results are kept in a JSON-lines cache, so a side
that
recurs (the base model, say) is trained once across comparisons.

    python -m bench.factors --a minilm --b run:ID@latest --probe --targets rte copa
    python -m bench.factors --a minilm --b minilm --b-set pooling=mean --sizes 32 256

A side's model is a base model, an export folder or `run:ID@best|latest|STEP` of the store.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from bench.common import workspace
from studio.core.config.run import coerce_value
from studio.core.experiments.paired import table
from studio.core.experiments.transfer import FinetuneConfig, FinetuneSettings
from studio.core.sink import NullSink
from studio.experiments import resolve_source
from studio.store import RunStore
from studio.train.finetune import finetune

TARGETS = ("rte", "mrpc", "copa", "cr")  # chosen before any result: see the README's findings
# What the study and the reproduction fine-tune with beside the defaults: short inputs, a
# capped validation split, the CPU.
FINETUNE = FinetuneSettings(max_length=128, eval_max_examples=500, device="cpu")


def resolve_model(model: str, store: Path | None) -> str:
    if not model.startswith("run:"):
        return model
    if store is None:
        raise SystemExit(f"{model}: give --store to read runs from")
    run, _, which = model[4:].partition("@")
    with RunStore(store) as db:
        return resolve_source(db, run, which or "latest").model


def settings_with(base: FinetuneSettings, pairs: list[str]) -> FinetuneSettings:
    """`key=value` overrides of the fine-tuning settings, checked like YAML values."""
    kinds = {f.name: str(f.type) for f in dataclasses.fields(FinetuneSettings)}
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        if key not in kinds:
            raise SystemExit(f"{pair}: unknown setting; one of {sorted(kinds)}")
        changes[key] = coerce_value(key, kinds[key], yaml.safe_load(text))
    return dataclasses.replace(base, **changes)


def run_side(
    model: str,
    settings: FinetuneSettings,
    reuse: bool,
    cells: list[tuple[str, int, int]],
    cache: Path,
) -> dict[tuple[str, int, int], dict[str, Any]]:
    """Results of one side on every (target, k, seed), from the cache when it has them."""
    # The thread count changes the speed, not the result: not part of the key.
    recipe = dataclasses.asdict(settings) | {"num_threads": None}
    key = json.dumps([model, recipe, reuse], sort_keys=True)
    done: dict[tuple[str, int, int], dict[str, Any]] = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            if row["side"] == key:
                done[(row["target"], row["k"], row["seed"])] = row
    ws = workspace()
    for target, k, seed in cells:
        if (target, k, seed) in done:
            continue
        start = time.perf_counter()
        config = FinetuneConfig(target, model, k, seed, reuse, settings=settings)
        result = finetune(config, NullSink(), threading.Event(), ws)
        row = {
            "side": key, "target": target, "k": k, "seed": seed, "metric": result.metric,
            "value": result.value, "baseline": result.baseline, "order": result.order,
            "seconds": round(time.perf_counter() - start, 1),
        }  # fmt: skip
        with cache.open("a") as out:
            out.write(json.dumps(row) + "\n")
        done[(target, k, seed)] = row
        print(f"  {target} k={k} seed {seed}: {result.value:.4f} ({row['seconds']} s)", flush=True)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--a", default="minilm", help="side A's model (the reference)")
    parser.add_argument("--b", required=True, help="side B's model")
    parser.add_argument("--a-set", nargs="*", default=[], help="A's settings: key=value ...")
    parser.add_argument("--b-set", nargs="*", default=[], help="B's settings: key=value ...")
    parser.add_argument("--set", nargs="*", default=[], help="both sides' settings")
    parser.add_argument("--b-reuse", action="store_true", help="B reuses a pre-finetuned head")
    parser.add_argument("--probe", action="store_true", help="both sides probe (frozen encoder)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 256])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--store", type=Path, help="the run store for run:ID models")
    parser.add_argument("--cache", type=Path, default=Path("factors.jsonl"))
    parser.add_argument("--label", default="", help="a title for the printed table")
    args = parser.parse_args()
    shared = settings_with(
        FINETUNE,
        [*args.set, *(["probe=true"] if args.probe else [])],
    )
    sides = [
        (resolve_model(args.a, args.store), settings_with(shared, args.a_set), False),
        (resolve_model(args.b, args.store), settings_with(shared, args.b_set), args.b_reuse),
    ]
    cells = [(t, k, s) for t in args.targets for k in args.sizes for s in args.seeds]
    rows = []
    for label, (model, settings, reuse) in zip(("base", "pretuned"), sides, strict=True):
        print(f"{'A' if label == 'base' else 'B'}: {model} {reuse=}", flush=True)
        for (target, k, seed), r in run_side(model, settings, reuse, cells, args.cache).items():
            if (target, k, seed) in cells:
                rows.append({**r, "size": str(k), "model": label, "leaked": 0})
    orders = {(r["target"], r["k"], r["seed"], r["model"]): r["order"] for r in rows}
    unpaired = {c for c in cells if orders.get((*c, "base")) != orders.get((*c, "pretuned"))}
    print(f"\n{args.label or 'B vs A'}  (A: {args.a} {args.a_set}; B: {args.b} {args.b_set}"
          f"{' reusing heads' if args.b_reuse else ''}; both: {args.set}"
          f"{' probe' if args.probe else ''})")  # fmt: skip
    print(table(rows).replace(" base ", "    A ").replace("pretuned", "       B"))
    if unpaired:
        print(
            f"batch orders differ in {len(unpaired)} of {len(cells)} cells: expected when the "
            "sides make different numbers of updates or use different tokenizers"
        )


if __name__ == "__main__":
    main()

"""Update throughput: the fused update against the per-sub-batch one, and the studio against a
minimal hand-written PyTorch loop doing the same fused work, with model FLOPs utilisation.

The recipe is the Muppet-style heterogeneous batch: 8 tasks per update, 8 examples each,
length 128 (MiniLM by default, on the CPU). Per round, in one process: the studio with
fuse_update off, the studio with fuse_update on (the same seed: the same batches), then a bare
loop replaying the fused run's sub-batches from rows already in memory with plain
FusedForward / backward / clip / AdamW and nothing else (no accelerate, no logging, no
scheduler). Rounds interleave the three so machine drift hits each.

MFU: training FLOPs per real token ~ 6 x non-embedding parameters + 12 x layers x hidden x
the mean real length (attention's two matmuls, forward and backward), times real tokens per
second, over the device's peak: a table for known GPUs, a measured fp32 matmul on the CPU.
Also reported: the share of an update spent gathering and padding its batches (all that a
prefetching thread could hide).

Usage: python bench/throughput.py [--updates 12] [--rounds 2] [--threads 2] [--compile]
       [--precision no] [--model minilm] [--batch-size 8] [--tasks-per-update 8]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

import studio.train.recipe as recipe_module
import studio.train.update as update_module
from bench.common import Clock, workspace
from studio.core.config.run import RunConfig
from studio.core.mixing.scaling import loss_scale
from studio.train.batching import collate
from studio.train.data.loading import rows
from studio.train.fused import FusedForward, Part
from studio.train.loop import train
from studio.train.model import MultiTaskModel
from studio.train.setup import check_tasks, load_backbone, load_tasks, load_tokenizer

TASKS = ("sst2", "rte", "cola", "copa", "social_i_qa", "squad_v1", "ag_news", "mrpc")
WARMUP = 2
# Dense peak FLOP/s of known GPUs (bf16 tensor cores, fp32 without TF32), from the datasheets.
GPU_PEAK = {
    "H200": {"bf16": 989e12, "no": 67e12},
    "H100": {"bf16": 989e12, "no": 67e12},
    "A100": {"bf16": 312e12, "no": 19.5e12},
    "L4": {"bf16": 121e12, "no": 30e12},
}


class Timing:
    """Wall and CPU seconds of each update after the first WARMUP (the first update's start
    is not seen: the clocks begin at its end)."""

    wall: list[float]
    cpu: list[float]

    def __init__(self, wall: list[float], cpu: list[float]) -> None:
        self.wall = list(np.diff(wall)[WARMUP - 1 :])
        self.cpu = list(np.diff(cpu)[WARMUP - 1 :])


@dataclass
class Recorded:
    """What one studio run drew: (task, indices) per sub-batch, tokens, time in collate."""

    drawn: list[tuple[str, np.ndarray]] = field(default_factory=list)
    real_tokens: int = 0
    rows: int = 0
    collate_seconds: float = 0.0


class Clocks(Clock):
    """Wall time and this process's CPU time at every finished update."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []

    def progress(self, step: int, total: int) -> None:
        super().progress(step, total)
        self.cpu.append(time.process_time())


def studio_run(config: RunConfig, ws) -> tuple[Timing, Recorded]:  # type: ignore[no-untyped-def]
    """Per-update seconds (wall, CPU) of a real studio run, and what it drew."""
    record = Recorded()
    loaded: dict = {}
    ids: list[int] = []
    original_collate, original_load = update_module.collate, recipe_module.load_tasks

    def recording_collate(features, indices, pad_id, multiple=1):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        out = original_collate(features, indices, pad_id, multiple)
        record.collate_seconds += time.perf_counter() - started
        ids.append(id(features))
        record.drawn.append(("", indices.copy()))
        record.real_tokens += out[1]
        record.rows += int(out[0]["attention_mask"].numel() // out[0]["attention_mask"].shape[-1])
        return out

    def recording_load(*args, **kwargs):  # type: ignore[no-untyped-def]
        loaded.update(original_load(*args, **kwargs))
        return loaded

    update_module.collate, recipe_module.load_tasks = recording_collate, recording_load
    try:
        clock = Clocks()
        train(config, clock, threading.Event(), ws)
    finally:
        update_module.collate, recipe_module.load_tasks = original_collate, original_load
    names = {id(d.train): n for n, d in loaded.items()}
    record.drawn = [(names[f], i) for f, (_, i) in zip(ids, record.drawn, strict=True)]
    return Timing(clock.times, clock.cpu), record


def bare_fused_run(config: RunConfig, ws, drawn: list[tuple[str, np.ndarray]]) -> Timing:  # type: ignore[no-untyped-def]
    """The fused run's updates with a hand-written loop over FusedForward."""
    tok = load_tokenizer(config.model)
    tasks = load_tasks(check_tasks(config, ws), tok, config, ws)
    torch.manual_seed(config.seed)
    specs = [d.spec for d in tasks.values()]
    model = MultiTaskModel(load_backbone(config.model), specs, config.head_sharing,
                           pooling=config.pooling)  # fmt: skip
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    scales = {
        n: loss_scale(d.spec, "log_n", config.max_length, len(tok), {}) for n, d in tasks.items()
    }
    k = config.tasks_per_update
    ready = [(name, rows(tasks[name].train, indices)) for name, indices in drawn]
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=config.mixed_precision == "bf16")
    times, cpu = [], []
    for update in range(config.max_steps):
        parts = []
        for name, features in ready[update * k : (update + 1) * k]:
            positions = np.arange(len(features["input_ids"]))
            batch, _, _ = collate(features, positions, tok.pad_token_id)
            parts.append(Part(name, tasks[name].spec.format, batch))
        with autocast:
            results = model(FusedForward(parts, tok.pad_token_id))
            pairs = zip(parts, results, strict=True)
            loss = sum(losses.mean() * scales[p.task] / k for p, (losses, _) in pairs)
        loss.backward()  # type: ignore[union-attr]
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter())
        cpu.append(time.process_time())
    return Timing(times, cpu)


def cpu_peak(threads: int) -> float:
    """Measured fp32 matmul FLOP/s on `threads` threads (best of 5), by CPU time over the
    threads as the MFU column's rates are: other work on a shared machine counts in neither."""
    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        a @ b
        best = min(best, (time.process_time() - started) / threads)
    return 2 * 2048**3 / best


def device_peak(precision: str, threads: int) -> tuple[float, str]:
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        for key, peaks in GPU_PEAK.items():
            if key in name:
                return peaks["bf16" if precision in ("bf16", "auto") else "no"], f"{name} (table)"
        return float("nan"), f"{name} (not in the table)"
    return cpu_peak(threads), f"CPU, {threads} threads (measured fp32 matmul)"


def flops_per_token(config: RunConfig, mean_length: float) -> float:
    backbone = load_backbone(config.model)
    embeddings = sum(p.numel() for p in backbone.get_input_embeddings().parameters())
    embeddings += sum(
        p.numel() for n, p in backbone.named_parameters() if "embeddings" in n and "word" not in n
    )
    params = sum(p.numel() for p in backbone.parameters()) - embeddings
    c = backbone.config
    return 6 * params + 12 * c.num_hidden_layers * c.hidden_size * mean_length


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tasks-per-update", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--precision", default="no", help="fp32 (no) by default; or bf16")
    parser.add_argument("--compile", action="store_true", help="also: fused, compile on")
    args = parser.parse_args()
    ws = workspace()
    config = RunConfig(
        tasks=TASKS, model=args.model, max_steps=args.updates, eval_every=10**9, log_every=5,
        batch_size=args.batch_size, tasks_per_update=args.tasks_per_update,
        max_length=args.max_length, device="cpu", num_threads=args.threads,
        eval_max_examples=1, mixed_precision=args.precision, checkpoint_every=10**9,
    )  # fmt: skip
    torch.set_num_threads(args.threads)
    variants = {"studio, unfused": "off", "studio, fused": "on"}
    if args.compile:
        variants["studio, fused, compiled"] = "compile"
    names = [*variants, "bare loop, fused"]
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    record = Recorded()
    for r in range(args.rounds):
        for name, fuse in variants.items():
            changed = {"fuse_update": "on", "compile": "on"} if fuse == "compile" else {}
            run_config = config.replace(**({"fuse_update": fuse} | changed))
            timing, recorded = studio_run(run_config, ws)
            wall[name] += timing.wall
            cpu[name] += timing.cpu
            if fuse == "on":
                record = recorded
        timing = bare_fused_run(config, ws, record.drawn)
        wall["bare loop, fused"] += timing.wall
        cpu["bare loop, fused"] += timing.cpu
        kept = args.updates - WARMUP
        print(f"round {r + 1}: " + ", ".join(
            f"{n} {statistics.median(t[-kept:]):.3f} s" for n, t in wall.items()
        ), flush=True)  # fmt: skip
    examples = args.batch_size * args.tasks_per_update
    tokens = record.real_tokens / args.updates
    per_token = flops_per_token(config, record.real_tokens / max(record.rows, 1))
    peak, peak_label = device_peak(args.precision, args.threads)
    print(f"\n{args.model}, {args.tasks_per_update} tasks x {args.batch_size} examples, length "
          f"{args.max_length}, precision {args.precision}, {args.threads} threads; "
          f"{args.updates} updates a round ({WARMUP} dropped), {args.rounds} rounds")  # fmt: skip
    print(f"peak: {peak / 1e9:,.1f} GFLOP/s ({peak_label}); {per_token / 1e6:.1f} MFLOP per "
          f"real token; {tokens:,.0f} real tokens an update")  # fmt: skip
    # CPU seconds over the threads: what an update costs however busy the machine is with
    # other work (wall time on a shared machine counts the others' too); on the CPU, MFU is
    # taken from them.
    print(
        "\n| path | s/update | examples/s | real tokens/s | MFU | CPU s/update / threads |"
        "\n|---|---:|---:|---:|---:|---:|"
    )
    for name in names:
        s = statistics.median(wall[name])
        c = statistics.median(cpu[name]) / args.threads
        mfu = tokens / (s if torch.cuda.is_available() else c) * per_token / peak
        print(
            f"| {name} | {s:.3f} | {examples / s:.1f} | {tokens / s:,.0f} | {mfu:.1%} | {c:.3f} |"
        )
    for label, times in (("wall", wall), ("CPU", cpu)):
        unfused, fused, bare = (
            statistics.median(times[n]) for n in ("studio, unfused", "studio, fused", names[-1])
        )
        print(
            f"{label} time: fused / unfused examples/s {unfused / fused:.3f} (target >= 1.25); "
            f"studio / bare, fused {bare / fused:.3f} (target >= 0.97)"
        )
    update_seconds = statistics.mean(wall["studio, fused"])
    share = record.collate_seconds / args.updates / update_seconds
    print(f"gathering and padding batches: {share:.2%} of an update (what prefetching could hide)")


if __name__ == "__main__":
    main()

"""The CUDA check: bf16 autocast against fp32, throughput and peak memory, in one short command.

Runs the real training loop (MiniLM, the offline default) on the synthetic demo suite, once in
fp32 and once under bf16 autocast, and reports updates/s, examples/s, peak GPU memory and
whether the losses agree. With `--seq2seq` it adds the offline encoder-decoder
(minilm-seq2seq) with the summarization task. Meant for a CUDA machine:

    python -m bench.gpu_check                 # about a minute on one GPU
    python -m bench.gpu_check --device cpu --updates 4   # a smoke test of the script itself

Writes the figures as JSON to --out (default: $OUT/gpu_check.json when $OUT is set).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ENCODER_TASKS = ("synth_sentiment", "synth_pair", "synth_choice", "synth_span")


def run_once(config: Any, ws: Any) -> dict[str, Any]:
    import torch

    from studio.core.sink import MemorySink
    from studio.train.loop import train

    cuda = config.device != "cpu"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    sink = MemorySink()
    start = time.perf_counter()
    result = train(config, sink, threading.Event(), ws)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    rates = sink.values("examples_per_s")[1:] or sink.values("examples_per_s")
    return {
        "model": config.model,
        "precision": config.mixed_precision,
        "updates": result.step,
        "seconds": round(seconds, 2),
        "examples_per_s": round(sorted(rates)[len(rates) // 2], 1),
        "peak_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
        "first_loss": sink.values("total_loss")[0],
        "last_loss": sink.values("total_loss")[-1],
        "eval_mean": sink.values("eval_mean")[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq2seq", action="store_true", help="add minilm-seq2seq + summaries")
    parser.add_argument("--out", help="JSON file for the figures")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "STUDIO_HOME" not in os.environ:  # a scratch home (caches, minilm-seq2seq), removed after
        os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="gpu-check-")
        atexit.register(shutil.rmtree, os.environ["STUDIO_HOME"], True)

    import torch

    from studio.core.config import RunConfig
    from studio.core.tasks import default_tasks_dir, load_catalog
    from studio.train.setup import Workspace, quiet_libraries

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; use --device cpu for a smoke test")
    quiet_libraries()
    ws = Workspace.default(load_catalog(default_tasks_dir()), None)
    base = RunConfig(
        tasks=ENCODER_TASKS,
        max_steps=args.updates,
        batch_size=args.batch_size,
        tasks_per_update=4,
        max_length=128,
        eval_every=args.updates,
        log_every=max(args.updates // 10, 1),
        eval_max_examples=200,
        device=args.device,
        mixed_precision="no",
    )
    configs = [base, base.replace(mixed_precision="bf16")]
    if args.seq2seq:
        both = base.replace(model="minilm-seq2seq", tasks=(*ENCODER_TASKS, "synth_summary"))
        configs += [both, both.replace(mixed_precision="bf16")]
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "bf16_supported": args.device == "cuda" and torch.cuda.is_bf16_supported(),
        "runs": [],
    }
    for config in configs:
        figures = run_once(config, ws)
        report["runs"].append(figures)
        print(json.dumps(figures), flush=True)
    for fp32, bf16 in zip(report["runs"][::2], report["runs"][1::2], strict=True):
        speedup = bf16["examples_per_s"] / max(fp32["examples_per_s"], 1e-9)
        print(
            f"{fp32['model']}: bf16 {speedup:.2f}x the examples/s of fp32; peak memory "
            f"{fp32['peak_memory_mib']} -> {bf16['peak_memory_mib']} MiB; last loss "
            f"{fp32['last_loss']:.4f} (fp32) vs {bf16['last_loss']:.4f} (bf16)"
        )
    out = args.out or (
        os.path.join(os.environ["OUT"], "gpu_check.json") if "OUT" in os.environ else None
    )
    if out:
        Path(out).write_text(json.dumps(report, indent=1))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

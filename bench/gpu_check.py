"""The CUDA check: bf16 autocast against fp32, throughput and peak memory, in one short command.

Runs the real training loop (MiniLM, the offline default) on the synthetic demo suite, once in
fp32 and once under bf16 autocast, and reports updates/s, examples/s, peak GPU memory and
whether the losses agree. With `--seq2seq` it adds the offline encoder-decoder
(minilm-seq2seq) with the summarization task. Meant for a CUDA machine:

    python -m bench.gpu_check                 # about a minute on one GPU
    python -m bench.gpu_check --device cpu --updates 4   # a smoke test of the script itself

With `--model random-bert-base --tokenizer DIR` the encoder is a randomly initialised BERT-base
(12 layers, 768 wide) built from a config with that tokenizer: enough for speed, and it needs
no download. `--data DIR --tasks a,b,...` trains on real tasks; `--trainer TASK` adds the same
model and examples through Hugging Face's `Trainer` (bf16) on one classification task and the
studio on that task alone, for the ratio of real tokens/s.

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
WARMUP_STEPS = 10  # left out of the Trainer's rate, as the studio's first log window is


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
    tokens = sink.values("tokens_per_s")[1:] or sink.values("tokens_per_s")
    return {
        "tasks": len(config.tasks),
        "model": config.model,
        "precision": config.mixed_precision,
        "updates": result.step,
        "seconds": round(seconds, 2),
        "examples_per_s": round(sorted(rates)[len(rates) // 2], 1),
        "real_tokens_per_s": round(sorted(tokens)[len(tokens) // 2]),
        "peak_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
        "first_loss": sink.values("total_loss")[0],
        "last_loss": sink.values("total_loss")[-1],
        "eval_mean": sink.values("eval_mean")[-1],
    }


def random_bert_base(tokenizer: Path, out: Path) -> str:
    """A randomly initialised BERT-base encoder with `tokenizer`, saved to `out`."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(tokenizer)
    config = BertConfig(vocab_size=len(tok), max_position_embeddings=512)
    BertModel(config).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def trainer_rate(model: str, task_dir: Path, labels: int, args: argparse.Namespace) -> dict:
    """Real tokens/s of Hugging Face's Trainer (bf16) on one classification task."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    tok = AutoTokenizer.from_pretrained(model)
    rows = [json.loads(line) for line in (task_dir / "train.jsonl").open()]
    examples = [
        {**tok(r["text"], truncation=True, max_length=args.max_length), "labels": r["label"]}
        for r in rows
    ]
    pad = DataCollatorWithPadding(tok)
    real: list[int] = []

    def collate(batch: list[dict]) -> dict:
        out = pad(batch)
        real.append(int(out["attention_mask"].sum()))
        return out

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a: Any, **k: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter())

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(
        model=AutoModelForSequenceClassification.from_pretrained(model, num_labels=labels),
        args=TrainingArguments(
            output_dir=tempfile.mkdtemp(prefix="trainer-"),
            per_device_train_batch_size=args.batch_size,
            max_steps=args.updates,
            learning_rate=5e-5,
            bf16=True,
            use_cpu=not cuda,
            logging_strategy="no",
            save_strategy="no",
            report_to=[],
            dataloader_num_workers=0,
        ),
        train_dataset=examples,
        data_collator=collate,
        callbacks=[Clock()],
    )
    trainer.train()
    counted = real[WARMUP_STEPS : len(times)]
    seconds = times[-1] - times[WARMUP_STEPS - 1]
    return {
        "model": "HF Trainer",
        "precision": "bf16",
        "updates": len(times),
        "examples_per_s": round(args.batch_size * len(counted) / seconds, 1),
        "real_tokens_per_s": round(sum(counted) / seconds),
        "peak_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20) if cuda else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq2seq", action="store_true", help="add minilm-seq2seq + summaries")
    parser.add_argument("--model", default="minilm", help="a model, or random-bert-base")
    parser.add_argument("--tokenizer", help="the tokenizer folder for random-bert-base")
    parser.add_argument("--data", help="the data folder of real tasks")
    parser.add_argument("--tasks", help="comma-separated tasks (default: the synthetic suite)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--trainer", help="a classification task to run through HF Trainer too")
    parser.add_argument("--out", help="JSON file for the figures")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if "STUDIO_HOME" not in os.environ:  # a scratch home (caches, minilm-seq2seq), removed after
        os.environ["STUDIO_HOME"] = tempfile.mkdtemp(prefix="gpu-check-")
        atexit.register(shutil.rmtree, os.environ["STUDIO_HOME"], True)

    import torch

    from studio.core.config.run import RunConfig
    from studio.core.tasks.spec import default_tasks_dir, load_catalog
    from studio.train.setup import Workspace, quiet_libraries

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; use --device cpu for a smoke test")
    quiet_libraries()
    catalog = load_catalog(default_tasks_dir())
    ws = Workspace.default(catalog, Path(args.data) if args.data else None)
    model = args.model
    if model == "random-bert-base":
        folder = Path(os.environ["STUDIO_HOME"]) / "random-bert-base"
        model = random_bert_base(Path(args.tokenizer), folder)
    tasks = tuple(args.tasks.split(",")) if args.tasks else ENCODER_TASKS
    base = RunConfig(
        model=model,
        tasks=tasks,
        max_steps=args.updates,
        batch_size=args.batch_size,
        tasks_per_update=4,
        max_length=args.max_length,
        eval_every=args.updates,
        log_every=max(args.updates // 10, 1),
        eval_max_examples=200,
        device=args.device,
        mixed_precision="no",
    )
    configs = [base, base.replace(mixed_precision="bf16")]
    if args.trainer:  # the studio on the Trainer's one task, bf16, the Trainer's batch
        configs.append(base.replace(tasks=(args.trainer,), mixed_precision="bf16"))
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
    if args.trainer:
        labels = len(catalog[args.trainer].labels)
        task_dir = Path(args.data) / args.trainer
        trainer = trainer_rate(model, task_dir, labels, args)
        report["trainer"] = trainer
        print(json.dumps(trainer), flush=True)
        studio_one = report["runs"].pop()
        report["studio_one_task"] = studio_one
        ratio = studio_one["real_tokens_per_s"] / max(trainer["real_tokens_per_s"], 1)
        report["studio_over_trainer_tokens"] = round(ratio, 3)
        print(f"studio / HF Trainer real tokens/s on {args.trainer}: {ratio:.2f}")
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

"""Memory and start-up as the task mix grows toward the paper's scale (4.8M examples).

For each total size, a classification task of sentence pairs and a multiple-choice task (four
choices) of half that size each are generated as user tasks under a scratch STUDIO_HOME; then
a short pre-finetuning run (MiniLM, max_length 32) starts in a fresh process: cold (validating
and tokenizing with 2 processes), then warm (everything cached; the best of three). Each run
reports its peak RSS (ru_maxrss of the training process) and the time from launch to its first
update. At the middle size, a cold tokenization with 1 process is timed against 2 processes.

Targets (one run of this script):
  peak RSS at the largest size <= peak RSS at the smallest + 300 MB;
  warm time to the first update at the largest <= 1.5 x the time at the smallest;
  cold tokenization throughput with 2 processes >= 1.6 x with 1 process.

Usage: python -m bench.scale [--sizes 20000,200000,2000000] [--keep FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

WORDS = tuple(
    re.findall(
        r"\w+",
        """the a one this that man woman child dog cat bird car house tree river city road book
        song walks runs sits sleeps reads sings drives plays holds sees makes finds opens red
        blue old new small big quiet loud near far under over in on with without after before""",
    )
)
# Every input is longer than MAX_LENGTH tokens, so every batch has the same shape at every size
# (the peak memory of training steps then depends on the data path only).
MAX_LENGTH = 32


def _sentence(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + "."


def generate(home: Path, total: int) -> list[str]:
    """A pair-classification and a multiple-choice user task of total/2 examples each."""
    rng = random.Random(total)
    half = total // 2
    tasks = {
        "scale_pairs": ("pair_classification", "classification", {"labels": ["yes", "no"]}),
        "scale_choice": ("multiple_choice", "commonsense", {"choices": 4}),
    }
    for name, (fmt, family, extra) in tasks.items():
        folder = home / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        for split, count in (("train", half), ("validation", max(200, half // 50))):
            with (folder / f"{split}.jsonl").open("w", encoding="utf-8") as out:
                for i in range(count):
                    if fmt == "multiple_choice":
                        rec = {
                            "context": _sentence(rng, 30, 40),
                            "question": "What happens next?",
                            "choices": [_sentence(rng, 3, 8) for _ in range(4)],
                            "label": i % 4,
                        }
                    else:
                        rec = {
                            "text": _sentence(rng, 20, 30),
                            "text_pair": _sentence(rng, 20, 30),
                            "label": i % 2,
                        }
                    out.write(json.dumps(rec) + "\n")
        spec = {"name": name, "family": family, "format": fmt, **extra,
                "source": {"folder": f"../data/{name}"}}  # fmt: skip
        (home / "tasks").mkdir(exist_ok=True)
        (home / "tasks" / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    return list(tasks)


def launch(home: Path, tasks: list[str], workers: int, threads: bool = True) -> dict[str, float]:
    """One short run in a fresh process; its peak RSS and seconds from launch to update 1.

    `threads`: whether the tokenizer may use its own threads (it does, unless told not to).
    """
    os.sync()  # the last run's cache files reach the disk first: not this run's work
    started = time.time()
    env = {**os.environ, "STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env["TOKENIZERS_PARALLELISM"] = "true" if threads else "false"
    child = [sys.executable, "-m", "bench.scale", "--child", ",".join(tasks), str(workers)]
    done = subprocess.run(child, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["first_update_s"] = report.pop("first_update_at") - started
    return report


def _first_update(report: dict[str, float]) -> float:
    return report["first_update_s"]


def child(tasks: str, workers: int) -> None:
    """The training process: a short run; prints its figures as one JSON line."""
    from studio.core.config.run import RunConfig
    from studio.core.sink import NullSink
    from studio.core.tasks.spec import studio_catalog
    from studio.train.loop import train
    from studio.train.setup import Workspace

    class FirstUpdate(NullSink):
        at = 0.0
        prepared = 0.0
        tokenizing = 0.0  # seconds the tasks' tokenization took (logged per task)

        def log(self, level: str, message: str) -> None:
            match = re.match(r"prepared \S+: [\d,]+ examples in ([\d.]+) s", message)
            self.tokenizing += float(match.group(1)) if match else 0.0

        def stage(self, text: str, fraction: float | None) -> None:
            if not text:
                self.prepared = time.time()

        def progress(self, step: int, total: int) -> None:
            self.at = self.at or time.time()

    config = RunConfig(
        tasks=tuple(tasks.split(",")), max_steps=3, batch_size=16, tasks_per_update=2,
        max_length=MAX_LENGTH, doc_stride=16, eval_every=10**6, eval_max_examples=32,
        log_every=1, device="cpu", num_proc=workers,
    )  # fmt: skip
    sink = FirstUpdate()
    started = time.time()
    train(config, sink, threading.Event(), Workspace.default(studio_catalog().tasks))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    figures = {
        "first_update_at": sink.at,
        "prepare_s": sink.prepared - started,
        "tokenize_s": sink.tokenizing,
        "rss_mb": rss,
    }
    sys.stdout.write(json.dumps(figures) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,200000,2000000")
    parser.add_argument("--keep", help="generate into this folder and keep it")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    root = Path(args.keep or tempfile.mkdtemp(prefix="scale-"))
    rows = []
    try:
        for size in sizes:
            home = root / str(size)
            started = time.perf_counter()
            tasks = generate(home, size)
            print(f"{size:,} examples generated in {time.perf_counter() - started:.0f} s")
            cold = launch(home, tasks, 2)
            warm = min((launch(home, tasks, 2) for _ in range(3)), key=_first_update)
            row = {"size": size, "cold": cold, "warm": warm}
            if size == sizes[len(sizes) // 2]:  # 1 against 2 tokenizing processes
                for key, workers, threads in (("1", 1, False), ("1t", 1, True), ("2", 2, True)):
                    shutil.rmtree(home / "cache" / "tokenized")
                    report = launch(home, tasks, workers, threads)
                    row[f"tokenize_{key}"] = report["tokenize_s"]
            rows.append(row)
            print(
                f"{size:>9,}  cold: prepared in {cold['prepare_s']:6.1f} s "
                f"({size / cold['prepare_s']:8,.0f} ex/s), peak RSS {cold['rss_mb']:6.0f} MB  |  "
                f"warm: first update after {warm['first_update_s']:5.1f} s, "
                f"peak RSS {warm['rss_mb']:6.0f} MB"
            )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    small, large = rows[0], rows[-1]
    rss_growth = max(large["cold"]["rss_mb"], large["warm"]["rss_mb"]) - max(
        small["cold"]["rss_mb"], small["warm"]["rss_mb"]
    )
    start_ratio = large["warm"]["first_update_s"] / small["warm"]["first_update_s"]
    middle = next(r for r in rows if "tokenize_1" in r)
    speedup = middle["tokenize_1"] / middle["tokenize_2"]
    print(
        f"cold tokenization at {middle['size']:,}: 1 process with the tokenizer's own threads "
        f"{middle['tokenize_1t']:.1f} s ({middle['tokenize_1t'] / middle['tokenize_2']:.2f}x "
        "slower than 2 processes)"
    )
    print(f"peak RSS growth {sizes[0]:,} -> {sizes[-1]:,}: {rss_growth:+.0f} MB (target <= 300)")
    print(f"warm time to the first update, largest / smallest: {start_ratio:.2f} (target <= 1.5)")
    print(
        f"cold tokenization at {middle['size']:,}: 1 single-threaded process "
        f"{middle['tokenize_1']:.1f} s, "
        f"2 processes {middle['tokenize_2']:.1f} s: {speedup:.2f}x (target >= 1.6)"
    )


if __name__ == "__main__":
    main()

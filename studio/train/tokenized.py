"""The tokenized cache: a split is tokenized in chunks — by a pool of processes when it is big,
with progress and Stop between chunks — and each chunk is a memory-mapped Arrow file that
every later run reuses. A chunk is written under a temporary name and renamed when complete,
so a kill or a Stop leaves only whole chunks, which the next run does not tokenize again."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets

from studio.core.errors import StudioError

MIN_CHUNK = 10_000  # examples: smaller splits are one chunk, tokenized in this process
# Rows per Arrow record batch of the files the studio writes. Opening a memory-mapped file
# maps (and counts as resident) ~64 KB around each batch's header: few, large batches keep a
# run's memory flat however many examples it reads.
WRITER_BATCH = 10_000
MAX_CHUNKS = 40  # bigger splits get bigger chunks, so progress comes in steps of >= 2.5 %

Report = Callable[[int, int], None]  # (examples done, examples in all)


class PreparationStopped(StudioError):
    """Stop was asked for while a run was still preparing its data."""


def chunk_ranges(count: int) -> list[tuple[int, int]]:
    """[start, end) of each chunk of a split of `count` examples."""
    size = max(MIN_CHUNK, math.ceil(count / MAX_CHUNKS))
    return [(start, min(start + size, count)) for start in range(0, count, size)] or [(0, 0)]


def default_workers() -> int:
    """Processes that tokenize a big split when the run config leaves `num_proc` unset."""
    return max(1, min(os.cpu_count() or 1, 8))


# The pool's workers get the split and the function once, when they start.
_WORKER: dict[str, Any] = {}


def _init_worker(raw: datasets.Dataset, function: Any, with_indices: bool, child: bool) -> None:
    if child:
        # The parent used its tokenizer before forking: its thread pool is not in the child.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        datasets.disable_progress_bars()
    _WORKER.update(raw=raw, function=function, with_indices=with_indices)


def _tokenize_chunk(job: tuple[int, int, str]) -> int:
    """Tokenize examples [start, end) of the worker's split into the file `path`."""
    start, end, path = job
    raw, function = _WORKER["raw"], _WORKER["function"]
    part = raw.select(range(start, end))
    if _WORKER["with_indices"]:  # span QA keeps each feature's example row: offset it
        body = function
        function = lambda batch, indices: body(batch, [start + i for i in indices])  # noqa: E731
    temporary = f"{path}.{os.getpid()}.tmp"
    part.map(
        function,
        batched=True,
        with_indices=_WORKER["with_indices"],
        remove_columns=part.column_names,
        cache_file_name=temporary,
        load_from_cache_file=False,
        batch_size=WRITER_BATCH,  # each batch the function returns is one record batch
        writer_batch_size=WRITER_BATCH,
    )
    os.replace(temporary, path)
    return end - start


def tokenize(
    raw: datasets.Dataset,
    function: Any,
    with_indices: bool,
    prefix: Path,
    workers: int = 1,
    report: Report | None = None,
    stop: threading.Event | None = None,
) -> datasets.Dataset:
    """`raw` mapped by `function` (batched), cached as `<prefix>-<chunk>.arrow` files.

    Chunks already in the cache are reused; the rest are tokenized by `workers` processes
    (in this process when 1, or when only one chunk is missing). `report(done, total)` is
    called as chunks complete; `stop` ends the work between chunks (PreparationStopped).
    """
    prefix.parent.mkdir(parents=True, exist_ok=True)
    ranges = chunk_ranges(len(raw))
    jobs = [(a, b, f"{prefix}-{i:05d}.arrow") for i, (a, b) in enumerate(ranges)]
    todo = [job for job in jobs if not Path(job[2]).is_file()]
    done = len(raw) - sum(b - a for a, b, _ in todo)
    total = len(raw)

    def completed(examples: int) -> None:
        nonlocal done
        done += examples
        if report is not None:
            report(done, total)
        if stop is not None and stop.is_set() and done < total:
            raise PreparationStopped("stopped while tokenizing; the chunks done are kept")

    completed(0)
    if workers > 1 and len(todo) > 1:
        import multiprocess  # datasets' own dill-based pool: it pickles the closures

        with multiprocess.Pool(
            min(workers, len(todo)), _init_worker, (raw, function, with_indices, True)
        ) as pool:
            for examples in pool.imap_unordered(_tokenize_chunk, todo):
                completed(examples)  # a Stop leaves the pool, which terminates the workers
    else:
        _init_worker(raw, function, with_indices, child=False)
        for job in todo:
            completed(_tokenize_chunk(job))
    parts = [datasets.Dataset.from_file(path) for _, _, path in jobs]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)

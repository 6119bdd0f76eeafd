"""The tokenized cache: a split is tokenized in chunks — by worker processes when it is big,
with progress between chunks and Stop at any time — and each chunk is a memory-mapped Arrow
file that every later run reuses. A chunk is written in a scratch folder of the process that
writes it and renamed into the cache when complete, so a kill or a Stop leaves only whole
chunks, which the next run does not tokenize again."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import datasets

from studio.core.errors import StudioError
from studio.core.processes import pid_alive

log = logging.getLogger(__name__)

MIN_CHUNK = 10_000  # examples: smaller splits are one chunk, tokenized in this process
# Rows per Arrow record batch of the files the studio writes. Opening a memory-mapped file
# maps (and counts as resident) ~64 KB around each batch's header: few, large batches keep a
# run's memory flat however many examples it reads.
WRITER_BATCH = 10_000
MAX_CHUNKS = 40  # bigger splits get bigger chunks, so progress comes in steps of >= 2.5 %

Report = Callable[[int, int], None]  # (examples done, examples in all)
# How often the parent looks at Stop while workers tokenize; how long a stopped worker gets
# to end on SIGTERM before it is killed.
POLL_S = 0.1
END_GRACE_S = 2.0
SCRATCH = ".partial-"  # + the pid of the process writing chunks there
STOPPED = "stopped while tokenizing; the chunks done are kept"


class PreparationStopped(StudioError):
    """Stop was asked for while a run was still preparing its data."""


class TokenizingFailed(StudioError):
    """A worker process failed or died while tokenizing; the message says which chunk."""


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


def _scratch(folder: Path, pid: int) -> Path:
    return folder / f"{SCRATCH}{pid}"


def _tokenize_chunk(job: tuple[int, int, str]) -> int:
    """Tokenize examples [start, end) of the worker's split into the file `path`."""
    start, end, path = job
    raw, function = _WORKER["raw"], _WORKER["function"]
    part = raw.select(range(start, end))
    if _WORKER["with_indices"]:  # span QA keeps each feature's example row: offset it
        body = function
        function = lambda batch, indices: body(batch, [start + i for i in indices])  # noqa: E731
    # datasets writes its own temporary file beside the one named: both land in the scratch
    # folder, which whoever ends this process early removes.
    scratch = _scratch(Path(path).parent, os.getpid())
    scratch.mkdir(exist_ok=True)
    temporary = str(scratch / Path(path).name)
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
    called as chunks complete. `stop` raises PreparationStopped: between chunks in this
    process, within POLL_S seconds with workers, which are ended, with their scratch files.
    """
    prefix.parent.mkdir(parents=True, exist_ok=True)
    _tidy_scratch(prefix.parent)
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
            raise PreparationStopped(STOPPED)

    completed(0)
    if workers > 1 and len(todo) > 1:
        Workers(raw, function, with_indices, todo, min(workers, len(todo))).run(completed, stop)
    else:
        _init_worker(raw, function, with_indices, child=False)
        try:
            for job in todo:
                completed(_tokenize_chunk(job))
        finally:
            shutil.rmtree(_scratch(prefix.parent, os.getpid()), ignore_errors=True)
    parts = [datasets.Dataset.from_file(path) for _, _, path in jobs]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def _tidy_scratch(folder: Path) -> None:
    """Remove scratch folders that processes now gone (killed mid-chunk) left behind."""
    for entry in folder.glob(f"{SCRATCH}*"):
        found = re.fullmatch(rf"{re.escape(SCRATCH)}(\d+)", entry.name)
        if found and not pid_alive(int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


def _work(payload: str, todo: list[Any], pipe: Any) -> None:
    """A worker process: tokenize `todo` chunk after chunk, telling the parent each one.

    The split and the function come in the `payload` file, not through the start pipe: a
    worker that dies while it reads them (imports take seconds) must not leave its parent
    blocked for ever writing into a pipe nobody reads.
    """
    # Ctrl-C reaches every process of the terminal's group: the parent decides what it means.
    # SIGINT was blocked from the start (_sigint_blocked): ignore it before letting it in.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from multiprocess.reduction import ForkingPickler  # dill's

    raw, function, with_indices = ForkingPickler.loads(Path(payload).read_bytes())
    _init_worker(raw, function, with_indices, child=True)
    for job in todo:
        try:
            examples = _tokenize_chunk(job)
        except Exception as exc:  # noqa: BLE001 - the parent reports it, naming the chunk
            pipe.send(("error", f"{Path(job[2]).name}: {type(exc).__name__}: {exc}"))
            return
        pipe.send(("done", examples))


class Workers:
    """Processes that tokenize chunks, each every n-th chunk, and that a Stop ends at once.

    They are spawned, not forked: a forked child inherits the parent's locks (a thread of the
    parent may hold one, and the child then waits on it for ever) and its signal handlers (a
    Ctrl-C handler that only sets a flag would keep it from ending). Each has a pipe of its
    own, so ending one never leaves a shared queue's lock held. Their scratch folders go
    with them.
    """

    def __init__(
        self, raw: datasets.Dataset, function: Any, with_indices: bool, todo: list[Any], count: int
    ) -> None:
        import multiprocess
        from multiprocess.reduction import dump  # dill: it pickles the closures

        context = multiprocess.get_context("spawn")
        self.folder = Path(todo[0][2]).parent
        self.processes: list[Any] = []
        self.left: dict[Any, tuple[Any, int]] = {}  # reader -> (process, chunks it still owes)
        _LIVE.add(self)
        scratch = _scratch(self.folder, os.getpid())
        scratch.mkdir(exist_ok=True)
        self.payload = scratch / f"work-{threading.get_ident()}.pkl"
        try:
            with self.payload.open("wb") as handle:
                dump((raw, function, with_indices), handle)
            for i in range(count):
                share = todo[i::count]
                reader, writer = context.Pipe(duplex=False)
                process = context.Process(
                    target=_work,
                    args=(str(self.payload), share, writer),
                    name=f"tokenize-{i}",
                    daemon=True,
                )
                with _sigint_blocked():
                    process.start()
                writer.close()
                self.processes.append(process)
                self.left[reader] = (process, len(share))
        except BaseException:
            self.end()
            raise

    def run(self, completed: Callable[[int], None], stop: threading.Event | None) -> None:
        """Report each chunk done to `completed` until all are; always ends the workers."""
        from multiprocess.connection import wait

        try:
            while self.left:
                ready = wait(list(self.left), timeout=POLL_S)
                # Stop first: a Ctrl-C also reaches a worker still starting, which then ends.
                if stop is not None and stop.is_set():
                    raise PreparationStopped(STOPPED)
                for reader in ready:
                    self._receive(reader, completed)
        finally:
            self.end()

    def _receive(self, reader: Any, completed: Callable[[int], None]) -> None:
        process, owed = self.left[reader]
        try:
            kind, value = reader.recv()
        except EOFError:  # the worker ended: done, or died
            del self.left[reader]
            reader.close()
            if owed:
                process.join(END_GRACE_S)
                raise TokenizingFailed(
                    f"a tokenizing process ended (exit code {process.exitcode}) with {owed}"
                    f" chunk(s) of {self.folder} not done; out of memory? Try fewer processes"
                    " (num_proc)"
                ) from None
            return
        if kind == "error":
            raise TokenizingFailed(f"tokenizing {self.folder} failed: {value}")
        self.left[reader] = (process, owed - 1)
        completed(int(value))

    def end(self) -> None:
        """End every worker (SIGTERM, then SIGKILL after END_GRACE_S), wait for them, and
        remove their scratch folders: nothing half-written stays behind."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + END_GRACE_S
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for reader in self.left:
            reader.close()
        self.left.clear()
        for process in self.processes:
            if process.pid is not None:
                shutil.rmtree(_scratch(self.folder, process.pid), ignore_errors=True)
            with contextlib.suppress(ValueError):
                process.close()
        self.processes.clear()
        _LIVE.discard(self)
        self.payload.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # unless this process tokenizes there too
            self.payload.parent.rmdir()


_LIVE: set[Workers] = set()  # the workers' sets of this process, until they are ended


def kill_workers() -> None:
    """Kill every tokenizing worker of this process now, from any thread: for a process about
    to end without clean-up (os._exit). Their scratch folders go at the next tokenize."""
    for workers in list(_LIVE):
        for process in list(workers.processes):
            with contextlib.suppress(ValueError, OSError):
                process.kill()


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back in this thread: a child started meanwhile inherits the blocked signal
    through exec, so a Ctrl-C while it starts cannot kill it half-way (the parent, which
    gets the same Ctrl-C, ends it). A SIGINT held back here arrives when this ends."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    from multiprocess.resource_tracker import ensure_running

    ensure_running()  # started inside, it would unblock SIGINT again when it is up
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

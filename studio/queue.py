"""The run queue: pre-finetuning runs saved now and trained one after another later.

A queued run is a row in the store (status `queued`, its config saved, a place in the queue),
so the queue outlives the window, the worker and a crash. A worker (`run_queue`: the window's
`queue` job or `python -m studio queue run`) claims the next queued run in one transaction,
so two workers never train the same run, and trains it exactly as `session.execute` would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from pathlib import Path

from studio.core.config.naming import run_name
from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.core.run_record import Run
from studio.core.sink import Sink
from studio.core.tasks.spec import TaskSpec
from studio.session import Outcome, execute_queued, process_rank
from studio.store import RunStore

log = logging.getLogger(__name__)


def enqueue(
    store_path: Path,
    config: RunConfig,
    name: str | None = None,
    source_run: str | None = None,
    data_dir: Path | None = None,
) -> str:
    """Save a pre-finetuning run as `queued`, last in the queue; return its id.

    `data_dir`: the data folder it will train on (else the worker's); `source_run`: the run
    that queued it (an ablation).
    """
    folder = str(data_dir) if data_dir is not None else None
    with RunStore(store_path) as store:
        run_id = store.enqueue(config, name or run_name(config), source_run, folder)
    log.info("queued run %s (%s)", run_id, name or run_name(config))
    return run_id


def queued(store_path: Path) -> list[Run]:
    """The queued runs, next to run first."""
    with RunStore(store_path) as store:
        return store.queued_runs()


def run_queue(
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    on_created: Callable[[str], None] | None = None,
    only: Collection[str] | None = None,
    extra_sink: Sink | None = None,
) -> list[Outcome]:
    """Train queued runs one after another, in queue order, until none is left or `stop`.

    `only`: train just these runs (others stay queued). A stop stops the current run as Stop
    does (it saves and ends `stopped`); the rest stay queued. Runs queued while this works
    are trained too. A run left `running` by a process that died is marked interrupted
    first; the queue goes on without it.
    """
    if process_rank() > 0:
        raise StudioError(
            "the queue runs one run at a time in one process; under accelerate launch use"
            " `python -m studio train CONFIG` for each run"
        )
    wanted = set(only) if only is not None else None
    with RunStore(store_path) as store:
        dead = store.mark_interrupted()
    if dead:
        log.warning("runs left running by a process that ended, now interrupted: %s", dead)
    outcomes: list[Outcome] = []
    tried: set[str] = set()
    while not stop.is_set():
        run_id = _next(store_path, wanted, tried)
        if run_id is None:
            break
        tried.add(run_id)
        outcome = execute_queued(
            run_id, catalog, data_dir, store_path, stop, extra_sink, on_created
        )
        if outcome is not None:
            log.info("queued run %s %s at update %d", run_id, outcome.status, outcome.step)
            outcomes.append(outcome)
    return outcomes


def _next(store_path: Path, wanted: set[str] | None, tried: set[str]) -> str | None:
    """The first queued run this worker may take, read afresh: the queue may have changed."""
    with RunStore(store_path) as store:
        for run in store.queued_runs():
            if run.id not in tried and (wanted is None or run.id in wanted):
                return run.id
    return None

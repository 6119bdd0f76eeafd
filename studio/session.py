"""Running pre-finetuning jobs against the store: shared by the CLI and the desktop worker.

This is a composition root (like cli.py): the one place that joins `train` and `store`.
"""

from __future__ import annotations

import logging
import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from studio.core.config import RunConfig, config_from_dict
from studio.core.errors import StudioError
from studio.core.sink import Sink, TeeSink
from studio.core.tasks import TaskSpec
from studio.store import RunStore, StoreSink

log = logging.getLogger(__name__)

RESUMABLE = ("stopped", "interrupted", "failed")


@dataclass(frozen=True)
class Outcome:
    run_id: str
    status: str  # finished | stopped | failed
    step: int
    error: str | None = None


def run_name(config: RunConfig) -> str:
    return config.name or f"{len(config.tasks)} tasks, {config.mixing}, {config.loss_scaling}"


def run_dir(store_path: Path, run_id: str) -> Path:
    """Checkpoints and exports of a run live beside the store, under runs/<id>/."""
    return Path(store_path).parent / "runs" / run_id


def execute(
    config: RunConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    extra_sink: Sink | None = None,
    on_created: Callable[[str], None] | None = None,
) -> Outcome:
    """Create a run in the store, train it and record how it ended; never raises for a bad run.

    User errors (bad data, bad config) become the run's error; anything else is stored with
    its traceback. `on_created(run_id)` is called as soon as the run exists.
    """
    if process_rank() > 0:
        return _follower(config, catalog, data_dir, stop, None)
    with RunStore(store_path) as store:
        run_id = store.create_run(
            run_name(config),
            "pretrain",
            config.to_dict(),
            config.model,
            device=config.device,
            max_steps=config.max_steps,
        )
        if on_created is not None:
            on_created(run_id)
        return _train(store, run_id, config, catalog, data_dir, stop, extra_sink, None)


def resume(
    run_id: str,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    extra_sink: Sink | None = None,
    on_created: Callable[[str], None] | None = None,
) -> Outcome:
    """Continue a stopped, interrupted or failed run from its latest complete checkpoint.

    Metric rows logged after that checkpoint (by a process that then died) are deleted first,
    so the resumed run neither loses nor duplicates rows.
    """
    from studio.train.checkpoint import complete_checkpoints

    if process_rank() > 0:
        with RunStore(store_path) as store:  # only reads: the main process owns the run
            config = config_from_dict(store.get_run(run_id)["config"], f"run {run_id}")
        found = complete_checkpoints(run_dir(store_path, run_id) / "checkpoints")
        return _follower(config, catalog, data_dir, stop, found[max(found)] if found else None)
    with RunStore(store_path) as store:
        store.mark_interrupted()
        run = store.get_run(run_id)
        if run["status"] not in RESUMABLE:
            raise StudioError(
                f"run {run_id} is {run['status']}; only a run that is "
                f"{', '.join(RESUMABLE)} can be resumed"
            )
        config = config_from_dict(run["config"], f"run {run_id}")
        found = complete_checkpoints(run_dir(store_path, run_id) / "checkpoints")
        latest = max(found) if found else None
        with store.transaction():
            store.delete_metrics_after(run_id, latest or 0)
            for row in store.checkpoints(run_id):
                if row["step"] not in found:
                    store.remove_checkpoint(run_id, row["step"])
        where = f"update {latest}" if latest else "the start (no checkpoint was saved)"
        store.add_log(run_id, "info", f"resuming from {where}")
        if on_created is not None:  # the run's rows are now what the resumed run continues
            on_created(run_id)
        return _train(
            store,
            run_id,
            config,
            catalog,
            data_dir,
            stop,
            extra_sink,
            found.get(latest) if latest else None,
        )


def export_run(
    store_path: Path,
    run_id: str,
    which: str,
    out_dir: Path,
    progress: Callable[[float, str], None] | None = None,
) -> Path:
    """Export checkpoint `which` (best, latest or a step) of a run; return the folder."""
    from studio.train.export import export_checkpoint, select_checkpoint

    with RunStore(store_path) as store:
        run = store.get_run(run_id)
    checkpoint = select_checkpoint(run_dir(store_path, run_id) / "checkpoints", which)
    return export_checkpoint(checkpoint, out_dir, run, progress)


def process_rank() -> int:
    """This process's rank under `accelerate launch` (0 when launched alone)."""
    return int(os.environ.get("RANK", "0"))


def _follower(
    config: RunConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    stop: threading.Event,
    checkpoint: Path | None,
) -> Outcome:
    """A non-main process of `accelerate launch`: trains in lockstep, records nothing.

    The main process owns the run in the store and writes the checkpoints; a throwaway
    run_dir keeps the checkpoint cadence (and so the collective calls) the same everywhere.
    """
    import tempfile

    from studio.core.sink import NullSink
    from studio.train.loop import train
    from studio.train.setup import Workspace

    with tempfile.TemporaryDirectory() as scratch:
        result = train(
            config,
            NullSink(),
            stop,
            Workspace.default(catalog, data_dir),
            Path(scratch),
            checkpoint,
        )
    return Outcome("", result.status, result.step)


def _train(
    store: RunStore,
    run_id: str,
    config: RunConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    stop: threading.Event,
    extra_sink: Sink | None,
    checkpoint: Path | None,
) -> Outcome:
    from studio.train.loop import train
    from studio.train.setup import Workspace

    store.set_status(run_id, "running")
    sink = StoreSink(store, run_id)
    full_sink: Sink = TeeSink(sink, extra_sink) if extra_sink is not None else sink
    try:
        result = train(
            config,
            full_sink,
            stop,
            Workspace.default(catalog, data_dir),
            run_dir(store.path, run_id),
            checkpoint,
        )
    except StudioError as exc:
        return _fail(store, sink, run_id, str(exc), None)
    except Exception as exc:  # noqa: BLE001 - any crash must end up in the store
        return _fail(store, sink, run_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    sink.close()
    if result.step or checkpoint is None:  # a resumed run stopped while preparing keeps its step
        store.update_run(run_id, step=result.step)
    store.set_status(run_id, result.status)
    return Outcome(run_id, result.status, result.step)


def _fail(
    store: RunStore, sink: StoreSink, run_id: str, message: str, trace: str | None
) -> Outcome:
    sink.log("error", message if trace is None else f"{message}\n{trace}")
    sink.close()
    store.set_status(run_id, "failed", error=message)
    step = int(store.get_run(run_id).get("step") or 0)
    return Outcome(run_id, "failed", step, message)

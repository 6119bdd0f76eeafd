"""Running pre-finetuning jobs against the store: shared by the CLI and the desktop worker.

This is a composition root (like cli/commands.py): the one place that joins `train` and `store`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core import paths
from studio.core.config.models import check_model
from studio.core.config.naming import run_name
from studio.core.config.run import RunConfig
from studio.core.errors import StudioError
from studio.core.run_record import Run
from studio.core.sink import Sink, TeeSink
from studio.core.tasks.spec import TaskSpec
from studio.store import RunStore, StoreSink
from studio.store.sink import SPILL_FILE, recover_spill

if TYPE_CHECKING:  # the hub card's module imports huggingface_hub: only where it exports
    from studio.train.hub_card import HubFacts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    run_id: str
    status: str  # finished | stopped | failed
    step: int
    error: str | None = None


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
    its traceback. `on_created(run_id)` is called as soon as the run exists. A base model that
    cannot load (core.config.models.check_model) raises ConfigError before any run exists.
    """
    if process_rank() > 0:
        return _follower(config, catalog, data_dir, stop, None)
    check_model(config.model)  # a model that cannot load creates no run (ConfigError)
    with RunStore(store_path) as store:
        # Created `running` and owned by this process: the Runs tab never offers to delete it.
        run_id = store.create_run(
            run_name(config),
            "pretrain",
            config.to_dict(),
            config.model,
            device=config.device,
            max_steps=config.max_steps,
            status="running",
            data_dir=str(data_dir) if data_dir is not None else None,
        )
        if on_created is not None:
            on_created(run_id)
        return _train(store, run_id, config, catalog, data_dir, stop, extra_sink)


def execute_queued(
    run_id: str,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    extra_sink: Sink | None = None,
    on_created: Callable[[str], None] | None = None,
) -> Outcome | None:
    """Train a queued run exactly as `execute` trains its stored config; None when the run is
    not there to train (another worker claimed it, or it was removed or has ended).

    The claim moves it from `queued` to `running` in one transaction, so of two queue
    workers only one trains it. Its data folder: the one saved with it, else `data_dir`,
    else STUDIO_DATA_DIR.
    """
    with RunStore(store_path) as store:
        try:
            run = store.claim(run_id, ("queued",))
        except StudioError as exc:  # RunBusy, UnknownRun, or no longer queued
            log.info("queued run %s not started: %s", run_id, exc)
            return None
        try:
            config = run.run_config()
        except StudioError as exc:
            _record_end(store, run_id, "failed", error=str(exc))
            return Outcome(run_id, "failed", 0, str(exc))
        folder = Path(run.data_dir) if run.data_dir else data_dir or paths.data_dir()
        store.update_run(run_id, data_dir=str(folder) if folder is not None else None)
        if on_created is not None:
            on_created(run_id)
        return _train(store, run_id, config, catalog, folder, stop, extra_sink)


def resume(
    run_id: str,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    extra_sink: Sink | None = None,
    on_created: Callable[[str], None] | None = None,
    allow_data_change: bool = False,
) -> Outcome:
    """Continue a stopped, interrupted or failed run from its latest usable checkpoint.

    The run is claimed first, in one transaction, so a second resume of the same run is
    refused (RunBusy) before any work. `data_dir` overrides the folder the run remembers.
    Metric rows logged after the checkpoint (by a process that then died) are deleted, so the
    resumed run neither loses nor duplicates rows. A run whose training data changed since
    that checkpoint is refused (DataChanged, the run left as it was) unless
    `allow_data_change`.
    """
    if process_rank() > 0:
        from studio.train.checkpoint import resumable

        with RunStore(store_path) as store:  # only reads: the main process owns the run
            run = store.get_run(run_id)
        config = run.run_config()
        found, _ = resumable(paths.checkpoints_dir(store_path, run_id))  # as the main one does
        folder = found[max(found)] if found else None
        return _follower(config, catalog, _data_dir(run, data_dir), stop, folder)
    with RunStore(store_path) as store:
        kind = store.get_run(run_id).kind
        if kind != "pretrain":
            raise StudioError(f"run {run_id} is a {kind} run; only pre-finetuning runs resume")
        before = store.claim(run_id)
        try:
            config = before.run_config()
            data_dir = _data_dir(before, data_dir)
            store.update_run(run_id, data_dir=str(data_dir) if data_dir is not None else None)
            checkpoint = _prepare_resume(store, run_id)
        except BaseException:
            _release(store, run_id, before)
            raise
        if on_created is not None:  # the run's rows are now what the resumed run continues
            on_created(run_id)
        return _train(
            store, run_id, config, catalog, data_dir, stop, extra_sink, checkpoint, before,
            allow_data_change,
        )  # fmt: skip


def _data_dir(run: Run, given: Path | None) -> Path | None:
    """An explicit folder, else the one the run trained on, else STUDIO_DATA_DIR."""
    if given is not None:
        return given
    return Path(run.data_dir) if run.data_dir else paths.data_dir()


def _prepare_resume(store: RunStore, run_id: str) -> Path | None:
    """Tidy the run's folder and rows for a resume; return the checkpoint to continue from."""
    from studio.train.checkpoint import resumable, tidy

    folder = paths.run_dir(store.path, run_id)
    root = paths.checkpoints_in(folder)
    for name in tidy(root):
        store.add_log(run_id, "info", f"removed {root / name}, left by a save cut short")
    restored = recover_spill(store, run_id, folder / SPILL_FILE)
    if restored:
        store.add_log(run_id, "info", f"restored {restored} rows the store could not take before")
    # Damaged, or refused as unsafe by torch.load: the one before it is resumed from.
    found, problems = resumable(root)
    latest = max(found) if found else 0
    where = f"update {latest}" if latest else "the start (no usable checkpoint)"
    for step, problem in sorted(problems.items()):
        if step > latest:
            message = f"the checkpoint {problem}; resuming from {where} instead"
            log.warning("run %s: %s", run_id, message)
            store.add_log(run_id, "warning", message)
    with store.transaction():
        store.delete_metrics_after(run_id, latest)
        for row in store.checkpoints(run_id):
            if row["step"] not in found:
                store.remove_checkpoint(run_id, row["step"])
    store.add_log(run_id, "info", f"resuming from {where}")
    return found.get(latest)


def export_run(
    store_path: Path,
    run_id: str,
    which: str,
    out_dir: Path,
    progress: Callable[[float, str], None] | None = None,
    hub_ready: bool = False,
) -> Path:
    """Export checkpoint `which` (best, latest or a step) of a run; return the folder.

    `hub_ready`: the model card carries the Hub's metadata (the tasks as datasets, a
    model-index of the validation metrics and of the transfers fine-tuned from this run)."""
    from studio.train.export import ExportError, export_checkpoint, select_checkpoint

    runs = paths.run_dir(store_path, run_id).parent.resolve()
    target = Path(out_dir).expanduser().resolve()
    if target == runs or runs in target.parents:
        raise ExportError(
            f"{out_dir} is inside {runs}, where the studio keeps, prunes and deletes run "
            "folders: an export there could be deleted. Choose a folder outside it."
        )
    with RunStore(store_path) as store:
        run = store.get_run(run_id)
        hub = _hub_facts(store, run_id) if hub_ready else None
        manifests = store.manifests(run_id)  # the latest session's goes into the model card
    checkpoint = select_checkpoint(paths.checkpoints_dir(store_path, run_id), which)
    manifest = manifests[-1] if manifests else None
    return export_checkpoint(checkpoint, out_dir, run, progress, hub, manifest=manifest)


def _hub_facts(store: RunStore, run_id: str) -> HubFacts:
    """Each task's format and Hub dataset (the catalog's), and the results of the transfers
    fine-tuned from the run."""
    from studio.core.tasks.spec import studio_catalog
    from studio.train.hub_card import HubFacts

    tasks = studio_catalog().tasks
    transfers = [t for t in store.list_runs("transfer") if t.source_run == run_id]
    return HubFacts(
        formats={name: spec.format for name, spec in tasks.items()},
        datasets={name: spec.hub.path for name, spec in tasks.items() if spec.hub},
        transfers=tuple(row for t in transfers for row in store.results(t.id)),
    )


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
    checkpoint: Path | None = None,
    before: Run | None = None,
    allow_data_change: bool = False,
) -> Outcome:
    """Train a run this process owns (created or claimed `running`) and record how it ended."""
    from studio.train.checkpoint import DataChanged
    from studio.train.loop import train
    from studio.train.setup import Workspace

    folder = paths.run_dir(store.path, run_id)
    sink = StoreSink(store, run_id, spill=folder / SPILL_FILE)
    full_sink: Sink = TeeSink(sink, extra_sink) if extra_sink is not None else sink
    try:
        result = train(
            config,
            full_sink,
            stop,
            Workspace.default(catalog, data_dir),
            folder,
            checkpoint,
            allow_data_change,
        )
    except DataChanged as exc:  # nothing was trained: the run stays as it was
        sink.log("warning", f"not resumed: {exc}")
        sink.close()
        if before is not None:
            _release(store, run_id, before)
        raise
    except StudioError as exc:
        return _fail(store, sink, run_id, str(exc), None)
    except Exception as exc:  # noqa: BLE001 - any crash must end up in the store
        return _fail(store, sink, run_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    sink.close()
    # A resumed run stopped while preparing keeps its step.
    step = result.step if result.step or checkpoint is None else None
    _record_end(store, run_id, result.status, step=step)
    return Outcome(run_id, result.status, result.step)


def _fail(
    store: RunStore, sink: StoreSink, run_id: str, message: str, trace: str | None
) -> Outcome:
    """Record a failed run; a store that cannot take it is reported, never raised again."""
    sink.log("error", message if trace is None else f"{message}\n{trace}")
    sink.close()
    _record_end(store, run_id, "failed", error=message)
    with contextlib.suppress(sqlite3.Error, StudioError):
        return Outcome(run_id, "failed", store.get_run(run_id).step, message)
    return Outcome(run_id, "failed", 0, message)


def _record_end(
    store: RunStore, run_id: str, status: str, step: int | None = None, error: str | None = None
) -> None:
    """Set how a run ended, waiting out a busy store; if it cannot, say so on stderr.

    A run left `running` by a failed write is marked interrupted later (its process is gone),
    and resuming it restores what was spilled.
    """
    for attempt in range(3):
        try:
            with store.transaction():
                if step is not None:
                    store.update_run(run_id, step=step)
                store.set_status(run_id, status, error=error)
            return
        except (sqlite3.Error, StudioError) as exc:
            problem = exc
            time.sleep(0.5 * (attempt + 1))
    log.error(
        "run %s %s%s, but %s could not record it (%s); it will show as interrupted",
        run_id,
        status,
        f" ({error})" if error else "",
        store.path,
        problem,
    )


def _release(store: RunStore, run_id: str, before: Run) -> None:
    """Give a claimed run back as it was, when the resume ended before training."""
    try:
        store.update_run(
            run_id,
            status=before.status,
            error=before.error,
            finished=before.finished or time.time(),
            stage=None,
            stage_progress=None,
        )
    except (sqlite3.Error, StudioError) as exc:
        log.error("run %s: could not give the run back (%s)", run_id, exc)

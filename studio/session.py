"""Running a pre-finetuning job against the store: shared by the CLI and the desktop worker.

This is a composition root (like cli.py): it is the one place that joins `train` and `store`.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from studio.core.config import RunConfig
from studio.core.errors import StudioError
from studio.core.sink import Sink, TeeSink
from studio.store import RunStore, StoreSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    run_id: str
    status: str  # finished | stopped | failed
    step: int
    error: str | None = None


def run_name(config: RunConfig) -> str:
    return config.name or f"{len(config.tasks)} tasks, {config.mixing}, {config.loss_scaling}"


def execute(
    config: RunConfig,
    catalog: dict,
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    extra_sink: Sink | None = None,
    on_created: object = None,
) -> Outcome:
    """Create a run in the store, train it and record how it ended; never raises for a bad run.

    User errors (bad data, bad config) are stored as the run's error; anything else is stored
    with its traceback. `on_created(run_id)` is called as soon as the run exists.
    """
    from studio.train.loop import train
    from studio.train.setup import Workspace

    store = RunStore(store_path)
    try:
        run_id = store.create_run(
            run_name(config),
            "pretrain",
            config.to_dict(),
            config.model,
            device=config.device,
            max_steps=config.max_steps,
        )
        if callable(on_created):
            on_created(run_id)
        store.set_status(run_id, "running")
        sink = StoreSink(store, run_id)
        full_sink: Sink = TeeSink(sink, extra_sink) if extra_sink is not None else sink
        try:
            result = train(config, full_sink, stop, Workspace.default(catalog, data_dir))
        except StudioError as exc:
            return _fail(store, sink, run_id, str(exc), None)
        except Exception as exc:  # noqa: BLE001 - any crash must end up in the store
            return _fail(
                store, sink, run_id, f"{type(exc).__name__}: {exc}", traceback.format_exc()
            )
        sink.close()
        store.update_run(run_id, step=result.step)
        store.set_status(run_id, result.status)
        return Outcome(run_id, result.status, result.step)
    finally:
        store.close()


def _fail(
    store: RunStore, sink: StoreSink, run_id: str, message: str, trace: str | None
) -> Outcome:
    sink.log("error", message if trace is None else f"{message}\n{trace}")
    sink.close()
    store.set_status(run_id, "failed", error=message)
    step = int(store.get_run(run_id).get("step") or 0)
    return Outcome(run_id, "failed", step, message)

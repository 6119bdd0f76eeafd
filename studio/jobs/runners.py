"""The child's side of a job: one runner per job kind, and the process's main loop."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.tasks import TaskSpec, load_task
from studio.jobs.resources import sampling

log = logging.getLogger(__name__)

Emit = Callable[..., None]  # emit(event, **fields)
NICENESS = 5


# -- the child's side ---------------------------------------------------------------------------


def _catalog(spec: dict[str, Any]) -> dict[str, TaskSpec]:
    tasks = [load_task(Path(path), origin) for path, origin in spec["task_files"]]
    return {t.name: t for t in tasks}


def _data_dir(spec: dict[str, Any]) -> Path | None:
    return Path(spec["data_dir"]) if spec.get("data_dir") else None


def _where(spec: dict[str, Any]) -> tuple[Path | None, Path]:
    if not spec.get("store"):
        raise StudioError(f"the {spec['kind']} job needs a run store")
    return _data_dir(spec), Path(spec["store"])


def _train(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.core.config import config_from_dict
    from studio.session import execute

    data_dir, store = _where(spec)
    config = config_from_dict(spec["config"], "the run's config")
    created = lambda run_id: emit("created", run_id=run_id)  # noqa: E731
    return asdict(execute(config, _catalog(spec), data_dir, store, stop, on_created=created))


def _resume(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.session import resume

    data_dir, store = _where(spec)
    created = lambda run_id: emit("created", run_id=run_id)  # noqa: E731
    outcome = resume(
        spec["run_id"],
        _catalog(spec),
        data_dir,
        store,
        stop,
        on_created=created,
        allow_data_change=bool(spec.get("allow_data_change")),
    )
    return asdict(outcome)


def _queue(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    """The queued runs, one after another (`only`: just these); `created` as each starts."""
    from studio.queue import run_queue

    data_dir, store = _where(spec)
    created = lambda run_id: emit("created", run_id=run_id)  # noqa: E731
    only = spec.get("only")
    outcomes = run_queue(_catalog(spec), data_dir, store, stop, created, only)
    return {"queue": [asdict(o) for o in outcomes], "stopped": stop.is_set()}


def _transfer(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.core.experiments import transfer_config
    from studio.experiments import transfer

    data_dir, store = _where(spec)
    return transfer(
        transfer_config(spec["config"], "the transfer config"),
        _catalog(spec),
        data_dir,
        store,
        stop,
        lambda fraction, message: emit("progress", fraction=fraction, message=message),
        lambda run_id: emit("created", run_id=run_id),
    )


def _ablation(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    """An ablation's variants through the queue, then its transfers; `created` names the
    ablation run, progress the variant or transfer at work."""
    from studio.ablation import run_ablation
    from studio.core.ablation import ablation_config

    data_dir, store = _where(spec)
    return run_ablation(
        ablation_config(spec["config"], spec.get("where") or "the ablation"),
        _catalog(spec),
        data_dir,
        store,
        stop,
        lambda fraction, message: emit("progress", fraction=fraction, message=message),
        lambda run_id: emit("created", run_id=run_id),
    )


def _export(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.session import export_run

    folder = export_run(
        Path(spec["store"]),
        spec["run_id"],
        spec["which"],
        Path(spec["out_dir"]),
        lambda fraction, message: emit("progress", fraction=fraction, message=message),
    )
    return str(folder)


def _inspect(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.core import paths
    from studio.core.importing import SourceRef
    from studio.train.sources import inspect

    return inspect(SourceRef(**spec["source"]), paths.cache_dir()).to_dict()


def _stage(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.core import paths
    from studio.core.importing import ImportPlan
    from studio.train.importer import stage

    # The window saves or drops the staged records: it owns them, not this short-lived process.
    plan = ImportPlan.from_dict(spec["plan"])
    return stage(plan, paths.cache_dir(), stop, owner=os.getppid()).to_dict()


def _preview(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    """A task's records and stats (`summary`) and, with a config, its first batch."""
    from studio.core.availability import resolve
    from studio.core.config import config_from_dict
    from studio.train.preview import first_batch, summary
    from studio.train.setup import Workspace

    catalog = _catalog(spec)
    ws = Workspace.default(catalog, _data_dir(spec))
    task = catalog[spec["task"]]
    where = resolve(task, ws.data_dir, ws.synthetic_root)
    emit("partial", value={"summary": summary(task, where, ws)})
    if spec.get("config") is None:
        return {"batch": None}
    config = config_from_dict(spec["config"], "the previewed config")
    return {"batch": first_batch(task, where, config, ws)}


def describe_device() -> str:
    """The device training would use and what `mixed_precision: auto` means on it, as the
    window's Configure tab shows it."""
    import torch

    from studio.train.precision import auto_precision, cpu_bf16_features

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        device = f"CUDA: {props.name}, {props.total_memory / 2**30:.0f} GiB"
        return f"{device}; auto precision: {auto_precision(True)}"
    if torch.backends.mps.is_available():
        return "Apple MPS; auto precision: no (fp32)"
    precision = auto_precision(False)
    how = f"bf16 ({', '.join(cpu_bf16_features())})" if precision == "bf16" else "no (fp32)"
    return f"CPU: {os.cpu_count()} cores; auto precision: {how}"


def _probe(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    return describe_device()


def _hub(spec: dict[str, Any], stop: threading.Event, emit: Emit) -> Any:
    from studio.core.availability import hub_online

    return hub_online()


RUNNERS: dict[str, Callable[[dict[str, Any], threading.Event, Emit], Any]] = {
    "train": _train,
    "resume": _resume,
    "queue": _queue,
    "transfer": _transfer,
    "ablation": _ablation,
    "export": _export,
    "inspect": _inspect,
    "stage": _stage,
    "preview": _preview,
    "probe": _probe,
    "hub": _hub,
}


# Jobs with nothing to save: asked to stop, the process just ends (a hub download or a
# tokenization that takes minutes must not hold the window's closing).
ABANDONED = ("inspect", "preview", "probe", "hub")


def _watch_input(stop: threading.Event, kind: str, emit: Emit) -> None:
    """`stop` on stdin, or its end (the window closed or died), stops the job."""
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()
    if kind in ABANDONED:
        emit("error", message=f"the {kind} job was stopped")
        _abandon()


def _abandon() -> None:
    """End a job with nothing to save now, and the workers it tokenizes with: os._exit runs
    no clean-up, and they would tokenize on for minutes with nobody to read the result."""
    tokenizing = sys.modules.get("studio.train.tokenized")  # never imported just for this
    if tokenizing is not None:
        tokenizing.kill_workers()
    os._exit(1)


class Events:
    """The child's event stream: one JSON object per line on the parent's pipe."""

    def __init__(self, stop: threading.Event) -> None:
        # Events get their own copy of stdout; fd 1 then points at stderr, so whatever a
        # library prints cannot break the event stream.
        self.stream = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)
        self.stop = stop
        self.lock = threading.Lock()  # the runner's thread and the input watcher both emit

    def emit(self, event: str, **fields: Any) -> None:
        with self.lock:
            try:
                self.stream.write(json.dumps({"event": event, **fields}) + "\n")
            except OSError:  # nobody reads any more (the window died): save and stop
                self.stop.set()


def _on_signals(stop: threading.Event, kind: str) -> None:
    """Ctrl-C in the window's terminal, a logout, `kill PID` or a task manager: save and stop,
    like Stop (a job with nothing to save just ends)."""

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if kind in ABANDONED:
            _abandon()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)


def serve() -> int:
    """Read one job from stdin, run it, and report its events and its end on stdout."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    events = Events(stop)
    if hasattr(os, "nice"):
        # Below the window's priority: when both want a core the window gets it at once, and
        # when the window idles training still has every core.
        os.nice(NICENESS)
    _on_signals(stop, "")  # until the job's kind is known, a signal saves and stops
    try:
        spec = json.loads(sys.stdin.readline())
        kind = str(spec.get("kind"))
        _on_signals(stop, kind)
        threading.Thread(target=_watch_input, args=(stop, kind, events.emit), daemon=True).start()
        runner = RUNNERS.get(kind)
        if runner is None:
            raise StudioError(f"unknown job kind {kind!r}; known: {sorted(RUNNERS)}")
        with sampling(kind, events.emit):  # the Monitor's resource strip
            value = runner(spec, stop, events.emit)
    except StudioError as exc:
        events.emit("error", message=str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach the window
        log.exception("job failed")
        events.emit("error", message=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        return 1
    events.emit("result", value=value)
    return 0

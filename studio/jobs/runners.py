"""The window's long jobs (train, resume, transfer, export) run in a child process.

Why a process and not only a thread: while a run starts, torch, transformers, the tokenizers
and scikit-learn hold the interpreter lock for up to ~350 ms at a time (imports, weight
loading, tokenization), which froze the window when they ran in its worker thread. In a child
process they cannot; a crash there (a segfault, running out of memory) cannot take the window
down either. The window's worker thread only supervises the child (`run`).

Protocol: the parent writes the job as one JSON line to the child's stdin and later `stop` to
ask it to save and stop; end of input (the window died) stops it too. The child writes one
JSON event per line to stdout: `created` (run_id), `progress` (fraction, message), `partial`
(value: a first part of the result), and last `result` (value) or `error` (message). Anything
else it prints goes to stderr, which the parent logs and quotes if the child dies without a
last event.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from studio.core.errors import StudioError
from studio.core.tasks import TaskSpec, load_task
from studio.session import Outcome

log = logging.getLogger(__name__)

Emit = Callable[..., None]  # emit(event, **fields)
COMMAND = (sys.executable, "-m", "studio.jobs")
STDERR_LINES = 40  # quoted when the child dies without saying why
NICENESS = 5


def job(
    kind: str,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    **fields: Any,
) -> dict[str, Any]:
    """The JSON-ready description of a job; the child reloads the catalog from its files."""
    missing = [name for name, spec in catalog.items() if not spec.path]
    if missing:
        raise StudioError(f"tasks {missing} were not read from a file; a job cannot load them")
    return {
        "kind": kind,
        "task_files": [[spec.path, spec.origin] for spec in catalog.values()],
        "data_dir": str(data_dir) if data_dir is not None else None,
        "store": str(store_path),
        **fields,
    }


# -- the parent's side --------------------------------------------------------------------------


def run(
    spec: dict[str, Any],
    stop: threading.Event,
    on_event: Callable[[dict[str, Any]], None],
    command: tuple[str, ...] = COMMAND,
) -> Any:
    """Run `spec` in a child process until it ends; return its result or raise StudioError.

    `on_event` receives the created, progress and partial events (in this thread); `stop`
    asks the child to save and stop.
    """
    tail: deque[str] = deque(maxlen=STDERR_LINES)
    last = None
    with subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=_child_env(),
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        _send(proc.stdin, json.dumps(spec))  # before any `stop`: the job is the first line
        helpers = [
            threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True),
            threading.Thread(target=_forward_stop, args=(proc, stop), daemon=True),
        ]
        for helper in helpers:
            helper.start()
        for line in proc.stdout:
            event = _parse(line)
            if event is None:
                continue
            if event["event"] in ("result", "error"):
                last = event
            else:
                on_event(event)
        proc.wait()
        for helper in helpers:
            helper.join()
    if last is None:
        said = "".join(tail).strip() or "(it wrote nothing to stderr)"
        raise StudioError(
            f"The {spec['kind']} process ended without a result "
            f"(exit code {proc.returncode}).\n\n{said}"
        )
    if last["event"] == "error":
        raise StudioError(last["message"])
    return Outcome(**last["value"]) if spec["kind"] in ("train", "resume") else last["value"]


def _child_env() -> dict[str, str]:
    """The parent's environment, with this copy of `studio` importable however it was found."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _send(stream: IO[str], line: str) -> None:
    try:
        stream.write(line + "\n")
        stream.flush()
    except OSError:  # the child already ended; its exit says why
        with contextlib.suppress(OSError):
            stream.close()  # or Popen's exit would try to flush the same text again


def _drain(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line)
        log.info("job: %s", line.rstrip())


def _forward_stop(proc: subprocess.Popen[str], stop: threading.Event) -> None:
    while proc.poll() is None:
        if stop.wait(0.1):
            assert proc.stdin is not None
            _send(proc.stdin, "stop")
            return


def _parse(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        event = None
    if not isinstance(event, dict) or "event" not in event:
        log.warning("job: unexpected output %r", line.rstrip())
        return None
    return event


# -- the child's side ---------------------------------------------------------------------------


def _catalog(spec: dict[str, Any]) -> dict[str, TaskSpec]:
    tasks = [load_task(Path(path), origin) for path, origin in spec["task_files"]]
    return {t.name: t for t in tasks}


def _where(spec: dict[str, Any]) -> tuple[Path | None, Path]:
    data_dir = spec["data_dir"]
    return (Path(data_dir) if data_dir else None), Path(spec["store"])


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
    data_dir, _ = _where(spec)
    ws = Workspace.default(catalog, data_dir)
    task = catalog[spec["task"]]
    where = resolve(task, ws.data_dir, ws.synthetic_root)
    emit("partial", value={"summary": summary(task, where, ws)})
    if spec.get("config") is None:
        return {"batch": None}
    config = config_from_dict(spec["config"], "the previewed config")
    return {"batch": first_batch(task, where, config, ws)}


RUNNERS: dict[str, Callable[[dict[str, Any], threading.Event, Emit], Any]] = {
    "train": _train,
    "resume": _resume,
    "transfer": _transfer,
    "export": _export,
    "inspect": _inspect,
    "stage": _stage,
    "preview": _preview,
}


# Jobs with nothing to save: asked to stop, the process just ends (a hub download or a
# tokenization that takes minutes must not hold the window's closing).
ABANDONED = ("inspect", "preview")


def _watch_input(stop: threading.Event, kind: str, emit: Emit) -> None:
    """`stop` on stdin, or its end (the window closed or died), stops the job."""
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()
    if kind in ABANDONED:
        emit("error", message=f"the {kind} job was stopped")
        os._exit(1)


def main() -> int:
    # Events get their own copy of stdout; fd 1 then points at stderr, so whatever a library
    # prints cannot break the event stream.
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    lock = threading.Lock()
    stop = threading.Event()

    def emit(event: str, **fields: Any) -> None:
        with lock:
            try:
                events.write(json.dumps({"event": event, **fields}) + "\n")
            except OSError:  # nobody reads any more (the window died): save and stop
                stop.set()

    if hasattr(os, "nice"):
        # Below the window's priority: when both want a core the window gets it at once, and
        # when the window idles training still has every core.
        os.nice(NICENESS)
    kind = ""

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if kind in ABANDONED:
            os._exit(1)

    # Ctrl-C in the window's terminal, a logout, `kill PID` or a task manager: save and stop,
    # like Stop (a job with nothing to save just ends).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        spec = json.loads(sys.stdin.readline())
        kind = str(spec.get("kind"))
        threading.Thread(target=_watch_input, args=(stop, kind, emit), daemon=True).start()
        runner = RUNNERS.get(spec.get("kind"))
        if runner is None:
            raise StudioError(f"unknown job kind {spec.get('kind')!r}; known: {sorted(RUNNERS)}")
        value = runner(spec, stop, emit)
    except StudioError as exc:
        emit("error", message=str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach the window
        log.exception("job failed")
        emit("error", message=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
        return 1
    emit("result", value=value)
    return 0


if __name__ == "__main__":
    sys.exit(main())

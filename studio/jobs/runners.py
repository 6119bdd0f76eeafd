"""The child's side of a job: the process's main loop. It reads the job, builds its context
once, runs the use case that `studio.jobs.operations` has for its request, and writes its
events; every use case is in that table, none here."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from studio.core.errors import StudioError
from studio.core.job_events import Failed, Finished, JobEvent, event_line
from studio.core.jobs import JobRequest, read_job
from studio.jobs.context import Context
from studio.jobs.operations import perform
from studio.jobs.resources import sampling

log = logging.getLogger(__name__)

Emit = Callable[[JobEvent], None]
NICENESS = 5


def _watch_input(stop: threading.Event, request: JobRequest, emit: Emit) -> None:
    """`stop` on stdin, or its end (the window closed or died), stops the job; one with
    nothing to save (a hub download, a tokenization that takes minutes) just ends, so it
    cannot hold the window's closing."""
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()
    if request.abandoned:
        emit(Failed(f"the {request.tag} job was stopped"))
        _abandon()


def _abandon() -> None:
    """End a job with nothing to save now, and the workers it tokenizes with: os._exit runs
    no clean-up, and they would tokenize on for minutes with nobody to read the result."""
    tokenizing = sys.modules.get("studio.train.data.tokenized")  # never imported just for this
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

    def emit(self, event: JobEvent) -> None:
        with self.lock:
            try:
                self.stream.write(event_line(event) + "\n")
            except OSError:  # nobody reads any more (the window died): save and stop
                self.stop.set()


def _on_signals(stop: threading.Event, abandoned: bool) -> None:
    """Ctrl-C in the window's terminal, a logout, `kill PID` or a task manager: save and stop,
    like Stop (a job with nothing to save just ends)."""

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if abandoned:
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
    _on_signals(stop, False)  # until the job's kind is known, a signal saves and stops
    try:
        job = read_job(sys.stdin.readline())
        request = job.request
        _on_signals(stop, request.abandoned)
        watcher = threading.Thread(target=_watch_input, args=(stop, request, events.emit))
        watcher.daemon = True
        watcher.start()
        context = Context.at(job.place, request.tag, stop, events.emit)
        with sampling(request.trains, events.emit):  # the Monitor's resource strip
            value = perform(request, context)
    except StudioError as exc:
        events.emit(Failed(str(exc)))
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure must reach the window
        log.exception("job failed")
        events.emit(Failed(f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}"))
        return 1
    events.emit(Finished(value))
    return 0

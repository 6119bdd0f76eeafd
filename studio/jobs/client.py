"""The parent's side of a child job: describe it, start it, read its events, stop it.

Only the standard library and `studio.core`: the window imports this, and must not load torch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from studio.core.errors import StudioError
from studio.core.job_events import Failed, Finished, JobEvent, read_event
from studio.core.jobs import Job, JobResult, Place, job_line
from studio.core.tasks.spec import TaskSpec

log = logging.getLogger(__name__)

COMMAND = (sys.executable, "-m", "studio.jobs")
STDERR_LINES = 40  # quoted when the child dies without saying why


def job_place(
    catalog: Mapping[str, TaskSpec] | None = None,
    data_dir: Path | None = None,
    store_path: Path | None = None,
) -> Place:
    """Where a job finds its tasks, data and runs; the child reloads the catalog from its files."""
    catalog = catalog or {}
    missing = [name for name, spec in catalog.items() if not spec.path]
    if missing:
        raise StudioError(f"tasks {missing} were not read from a file; a job cannot load them")
    return Place(
        tuple((spec.path, spec.origin) for spec in catalog.values()),
        str(data_dir) if data_dir is not None else None,
        str(store_path) if store_path is not None else None,
    )


def child_env() -> dict[str, str]:
    """The parent's environment, with this copy of `studio` importable however it was found."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildJob:
    """One job in a child process, seen from the thread that waits for it.

    `run` blocks that thread until the child ends; `stop` and `kill` may be called from any
    other thread, also before the child has started (a Stop while a run is still preparing).
    """

    def __init__(self, job: Job, command: tuple[str, ...] = COMMAND) -> None:
        self.job = job
        self.command = command
        self._lock = threading.Lock()  # guards the child's stdin and the two flags
        self._proc: subprocess.Popen[str] | None = None
        self._stopped = False
        self._killed = False

    def run(self, on_event: Callable[[JobEvent], None]) -> JobResult:
        """Run the job until the child ends; return its result (of the request's `Result`
        type) or raise StudioError.

        `on_event` receives the other events (created, progress, partial, resources), in
        this thread.
        """
        last: Finished | Failed | None = None
        # A file, not a pipe: nothing has to drain it while this thread reads stdout.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
            with self._start(stderr) as proc:
                assert proc.stdout is not None
                for line in proc.stdout:
                    event = _parse(line)
                    if event is None:
                        continue
                    if isinstance(event, Finished | Failed):
                        last = event
                    else:
                        on_event(event)
            if last is None:
                raise StudioError(self._died(proc.returncode, stderr))
        if isinstance(last, Failed):
            raise StudioError(last.message)
        return self._checked(last.value)

    def _checked(self, value: JobResult) -> JobResult:
        expected = self.job.request.Result
        if not isinstance(value, expected):
            raise StudioError(
                f"the {self.job.kind} job answered a {type(value).__name__}, "
                f"not a {expected.__name__}"
            )
        return value

    def stop(self) -> None:
        """Ask the child to finish its current step, save and end."""
        with self._lock:
            self._stopped = True
            if self._proc is not None:
                self._send("stop")

    def kill(self) -> None:
        """End the child now, without saving (a shutdown that could wait no longer)."""
        with self._lock:
            self._killed = True
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()

    def _start(self, stderr: IO[str]) -> subprocess.Popen[str]:
        with self._lock:
            if self._killed:
                raise StudioError(f"the {self.job.kind} job was cancelled")
            self._proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=child_env(),
            )
            self._send(job_line(self.job))  # the job is the first line, before any `stop`
            if self._stopped:
                self._send("stop")
            return self._proc

    def _send(self, line: str) -> None:
        stream = self._proc.stdin if self._proc is not None else None
        if stream is None or stream.closed:
            return
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):  # the child ended (its exit says why) or was reaped
            with contextlib.suppress(OSError):
                stream.close()  # or Popen's exit would try to flush the same text again

    def _died(self, returncode: int | None, stderr: IO[str]) -> str:
        stderr.seek(0)
        said = "".join(stderr.readlines()[-STDERR_LINES:]).strip() or "(it wrote nothing to stderr)"
        if self._killed:
            return f"The {self.job.kind} process was ended before it could finish."
        return (
            f"The {self.job.kind} process ended without a result "
            f"(exit code {returncode}).\n\n{said}"
        )


def _parse(line: str) -> JobEvent | None:
    """The event on a line; anything else the child wrote there is logged and skipped."""
    try:
        return read_event(line)
    except StudioError as exc:
        log.warning("job: unexpected output: %s", exc)
        return None

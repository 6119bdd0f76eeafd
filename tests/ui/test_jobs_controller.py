"""The window's jobs: a bounded shutdown ends a child that does not stop when asked."""

from __future__ import annotations

import sys
import time

import pytest

from studio.core.jobs import Job, TrainRequest
from studio.jobs.client import ChildJob
from studio.ui.jobs_controller import JobsController
from studio.ui.worker import Worker

# A child that reads its job and then ignores `stop`: a run stuck in a long save.
DEAF = (sys.executable, "-c", "import sys, time; sys.stdin.readline(); time.sleep(120)")


@pytest.mark.process
def test_shutdown_waits_then_ends_a_child_that_does_not_stop(qtbot) -> None:  # type: ignore[no-untyped-def]
    jobs = JobsController()
    worker = Worker(Job(TrainRequest({})))
    worker.job = ChildJob(worker.job.job, DEAF)
    jobs.start(worker)
    with qtbot.waitSignal(worker.failed, timeout=30_000) as failed:
        started = time.monotonic()
        jobs.shutdown(timeout=1.0)
    assert 1.0 <= time.monotonic() - started < 20
    assert not jobs.threads
    assert "ended before it could finish" in failed.args[0]

"""The echo job, the protocol's own test kind: its progress comes first, then its input comes
back, the same through the table in process, through a child process and through the window's
worker and slot. Adding it took its request and result (studio/core/jobs.py), its use case and
row (studio/jobs/operations.py) and this file: nothing in the client, the child's loop, the
worker or the slots names a kind."""

from __future__ import annotations

import pytest

from studio.core.job_events import JobEvent, Progress
from studio.core.jobs import EchoRequest, EchoResult, Job
from studio.jobs.client import ChildJob
from studio.jobs.context import Context
from studio.jobs.operations import perform

VALUE = {"text": "héllo", "numbers": [1, 2.5], "nothing": None, "nested": {"yes": True}}


def test_echo_in_process_reports_progress_then_answers() -> None:
    events: list[JobEvent] = []
    result = perform(EchoRequest(VALUE, steps=3), Context(emit=events.append))
    assert result == EchoResult(VALUE)
    assert [e.fraction for e in events if isinstance(e, Progress)] == [1 / 3, 2 / 3, 1.0]


@pytest.mark.process
def test_echo_in_a_child_process() -> None:
    events: list[JobEvent] = []
    result = ChildJob(Job(EchoRequest(VALUE, steps=2))).run(events.append)
    assert result == EchoResult(VALUE)
    assert events == [Progress(0.5, "echo 1/2"), Progress(1.0, "echo 2/2")]


@pytest.mark.process
def test_echo_through_the_windows_slot(qtbot) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.jobs_controller import JobsController

    jobs = JobsController()
    slot = jobs.export  # any slot: none of them knows the kinds
    progress: list[tuple[float, str]] = []
    slot.progress.connect(lambda fraction, message: progress.append((fraction, message)))
    with qtbot.waitSignal(slot.ended, timeout=60_000) as ended:
        slot.start(Job(EchoRequest(["a", 1], steps=1)))
    assert ended.args == [EchoResult(["a", 1]), ""]
    assert isinstance(slot.request, EchoRequest) and not slot.running
    qtbot.waitUntil(lambda: progress == [(1.0, "echo 1/1")] and not jobs.threads, timeout=10_000)

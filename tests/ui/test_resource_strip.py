"""The Monitor's resource strip: what it shows of a sample, that it hides when the job ends, and
the relay of a child's `resources` event to the window."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from studio.core.job_events import Finished, Resources, event_line
from studio.core.jobs import Job, RunOutcome, TrainRequest
from studio.core.resources import GpuSample, ResourceSample
from studio.core.tasks.spec import default_tasks_dir, load_catalog
from studio.jobs.client import ChildJob
from studio.ui import jobs_controller
from studio.ui.jobs_controller import JobsController
from studio.ui.main_window import MainWindow
from studio.ui.monitor.resource_strip import ResourceStrip
from studio.ui.worker import Worker

SAMPLE = ResourceSample(
    42.4,
    8,
    3 * 2**30,
    16 * 2**30,
    (GpuSample(0, "NVIDIA H200", 87.0, 70 * 2**30, 140 * 2**30, 2**30),),
)


def test_the_strip_shows_the_sample_it_is_given(qtbot) -> None:  # type: ignore[no-untyped-def]
    strip = ResourceStrip()
    qtbot.addWidget(strip)
    assert strip.isHidden()  # nothing to show before a job reports
    strip.show_sample(SAMPLE)
    assert not strip.isHidden()
    assert strip.texts() == ["CPU 42%", "RAM 3.0 GiB", "GPU 0 87%, 70.0 GiB / 140.0 GiB"]
    assert "of all 8 cores" in strip.toolTip() and "NVIDIA H200" in strip.toolTip()
    assert "1.0 GiB by this run's tensors" in strip.toolTip()
    cpu_only = ResourceSample(5.0, 8, 2**30, 16 * 2**30)
    strip.show_sample(cpu_only)
    assert strip.texts() == ["CPU 5%", "RAM 1.0 GiB"]  # the GPU's label is gone
    strip.job_ended(None, "")
    assert strip.isHidden() and strip.sample is None


def test_memory_nearly_full_is_shown_in_amber(qtbot) -> None:  # type: ignore[no-untyped-def]
    strip = ResourceStrip()
    qtbot.addWidget(strip)
    strip.show_sample(ResourceSample(5.0, 8, 15 * 2**30, 16 * 2**30))
    assert "color:" in strip.memory.text() and "RAM 15.0 GiB" in strip.memory.text()


# A child that reads its job, reports one sample and ends with a result, as a training job would.
EVENT = event_line(Resources(SAMPLE))
RESULT = event_line(Finished(RunOutcome("r1", "finished", 4)))
CHILD = (
    sys.executable,
    "-c",
    f"import sys; sys.stdin.readline(); print({EVENT!r}); print({RESULT!r})",
)


class ScriptedWorker(Worker):
    def __init__(self, job: Job) -> None:
        super().__init__(job)
        self.job = ChildJob(job, CHILD)


@pytest.mark.process
def test_a_childs_sample_reaches_the_strip_and_the_end_hides_it(  # type: ignore[no-untyped-def]
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs_controller, "Worker", ScriptedWorker)
    jobs = JobsController()
    strip = ResourceStrip()
    qtbot.addWidget(strip)
    jobs.training.resources.connect(strip.show_sample)
    shown: list[list[str]] = []
    jobs.training.ended.connect(lambda *_: shown.append(strip.texts()))
    jobs.training.ended.connect(strip.job_ended)
    with (
        qtbot.waitSignal(jobs.training.resources, timeout=30_000) as relayed,
        qtbot.waitSignal(jobs.training.ended, timeout=30_000),
    ):
        jobs.training.start(Job(TrainRequest({})))
    assert relayed.args == [SAMPLE]
    assert shown == [["CPU 42%", "RAM 3.0 GiB", "GPU 0 87%, 70.0 GiB / 140.0 GiB"]]
    assert strip.isHidden()
    qtbot.waitUntil(lambda: not jobs.threads, timeout=10_000)


@pytest.mark.process  # the window starts its device probe in a child process
def test_the_window_shows_its_training_jobs_samples_in_the_monitor(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(load_catalog(default_tasks_dir()), tmp_path / "studio.db", settings=settings)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: hasattr(win, "probe"), timeout=10_000)
    strip = win.monitor.status.resources
    assert strip.isHidden()
    win.jobs.training.resources.emit(SAMPLE)
    assert strip.sample == SAMPLE and strip.texts()[0] == "CPU 42%"
    win.jobs.training.ended.emit(RunOutcome("r1", "finished", 4), "")
    assert strip.isHidden()
    win.close()
    qtbot.waitUntil(lambda: not win.jobs.threads, timeout=10_000)

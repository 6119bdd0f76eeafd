"""Jobs in a child process: events, Stop, the window dying, and failures that reach the parent."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import StudioError
from studio.core.job_events import Created, Failed, JobEvent, Partial, Resources, read_event
from studio.core.jobs import (
    DeviceResult,
    ExportRequest,
    HubRequest,
    HubResult,
    Job,
    Place,
    PreviewBatch,
    PreviewRequest,
    PreviewSummary,
    ProbeRequest,
    ResumeRequest,
    RunOutcome,
    TrainRequest,
    job_line,
)
from studio.core.tasks.spec import TaskSpec, default_tasks_dir, load_catalog
from studio.jobs.client import COMMAND, ChildJob, child_env, job_place
from studio.store import RunStore
from tests.support import tiny_config

pytestmark = [pytest.mark.train, pytest.mark.process]

CATALOG = load_catalog(default_tasks_dir())


def _train_job(model: str, store: Path, data_dir: Path | None = None, **changes: Any) -> Job:
    config = tiny_config(
        model,
        ("synth_sentiment", "synth_choice"),
        max_steps=100_000,
        batch_size=4,
        eval_every=100_000,
        checkpoint_every=100_000,
        eval_max_examples=8,
    ).replace(**changes)
    return Job(TrainRequest(config.to_dict()), job_place(CATALOG, data_dir, store))


def _has_rows(store: Path, run_id: str) -> bool:
    with RunStore(store) as db:
        return bool(db.metrics_after(0, run_id))


def _wait(condition: Any, alive: Any, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert alive(), "the job ended early"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_stop_saves_and_the_outcome_comes_back(tiny_model: str, tmp_path: Path) -> None:
    store = tmp_path / "studio.db"
    job = ChildJob(_train_job(tiny_model, store))
    events: list[JobEvent] = []
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(job.run(events.append)))
    runner.start()
    created = lambda: [e for e in events if isinstance(e, Created)]  # noqa: E731
    _wait(lambda: bool(created()) and _has_rows(store, created()[0].run_id), runner.is_alive)
    job.stop()
    runner.join(120)
    # Besides the run's creation, only the resource strip's samples (every 2 s while it runs).
    assert [type(e) for e in events if not isinstance(e, Resources)] == [Created]
    samples = [e.sample for e in events if isinstance(e, Resources)]
    assert all(s.rss > 0 and s.cpu_percent >= 0 for s in samples)
    outcome = result[0]
    assert isinstance(outcome, RunOutcome) and outcome.run_id == created()[0].run_id
    assert outcome.status == "stopped" and outcome.step > 0
    with RunStore(store) as db:
        assert db.get_run(outcome.run_id).status == "stopped"
        assert db.checkpoints(outcome.run_id)


def test_the_end_of_input_stops_the_child(tiny_model: str, tmp_path: Path) -> None:
    """When the window dies, its end of the pipe closes: the child saves and stops."""
    store = tmp_path / "studio.db"
    with subprocess.Popen(
        COMMAND,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(job_line(_train_job(tiny_model, store)) + "\n")
        proc.stdin.flush()
        created = read_event(proc.stdout.readline())
        assert isinstance(created, Created)
        _wait(lambda: _has_rows(store, created.run_id), lambda: proc.poll() is None)
        proc.stdin.close()
        last = json.loads(proc.stdout.read().splitlines()[-1])
        assert proc.wait(60) == 0
    # The wire's own words: what another program reading the child would see.
    assert last["event"] == "result" and last["value"]["type"] == "run"
    assert last["value"]["status"] == "stopped"


def test_a_failed_run_reports_the_file_and_line(tiny_model: str, tmp_path: Path) -> None:
    data = tmp_path / "data" / "copa"
    data.mkdir(parents=True)
    good = {"context": "c", "question": "q", "choices": ["a", "b"], "label": 0}
    (data / "train.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({**good, "label": 5}))
    (data / "validation.jsonl").write_text(json.dumps(good) + "\n")
    job = _train_job(
        tiny_model, tmp_path / "studio.db", tmp_path / "data", tasks=("copa",), max_steps=2
    )
    outcome = ChildJob(job).run(lambda event: None)
    assert isinstance(outcome, RunOutcome) and outcome.status == "failed"
    assert outcome.error and "train.jsonl, line 2" in outcome.error
    assert "out of range" in outcome.error


def test_user_errors_are_raised_as_plain_messages(tmp_path: Path) -> None:
    job = Job(ResumeRequest("nope"), job_place(CATALOG, None, tmp_path / "studio.db"))
    with pytest.raises(StudioError, match="no run with id 'nope'") as caught:
        ChildJob(job).run(lambda event: None)
    assert "Traceback" not in str(caught.value)
    flying = job_line(job).replace('"kind": "resume"', '"kind": "fly"')
    said = subprocess.run(
        COMMAND, input=flying + "\n", capture_output=True, text=True, env=child_env(), timeout=120
    )
    last = read_event(said.stdout.splitlines()[-1])
    assert said.returncode == 1 and isinstance(last, Failed)
    assert "unknown job kind 'fly'" in last.message
    with pytest.raises(StudioError, match="the train job needs a run store"):
        ChildJob(Job(TrainRequest({}), job_place(CATALOG))).run(lambda event: None)


def test_a_child_that_dies_is_reported_with_what_it_said() -> None:
    command = (sys.executable, "-c", "import sys; sys.stderr.write('out of memory\\n'); exit(3)")
    job = Job(ExportRequest("r", "best", "out"), Place(store="studio.db"))
    with pytest.raises(
        StudioError, match=r"(?s)export process ended.*exit code 3\).*out of memory"
    ):
        ChildJob(job, command).run(lambda event: None)


def test_tasks_must_come_from_files() -> None:
    spec = TaskSpec("adhoc", "Ad hoc", "classification", "single_sentence", "accuracy", ("a", "b"))
    with pytest.raises(StudioError, match=r"\['adhoc'\] were not read from a file"):
        job_place({"adhoc": spec}, None, Path("studio.db"))


def test_a_stop_before_the_child_reads_its_job_stops_the_run(
    tiny_model: str, tmp_path: Path
) -> None:
    """Start and Stop at once (or closing the window right after Start): no garbled job."""
    job = ChildJob(_train_job(tiny_model, tmp_path / "studio.db"))
    job.stop()
    outcome = job.run(lambda e: None)
    assert isinstance(outcome, RunOutcome)
    assert outcome.status == "stopped" and outcome.error is None


def test_preview_gives_its_summary_first_and_stops_at_once(tiny_model: str, tmp_path: Path) -> None:
    config = tiny_config(tiny_model, ("synth_pair",))
    spec = Job(PreviewRequest("synth_pair", config.to_dict()), job_place(CATALOG))
    events: list[JobEvent] = []
    result = ChildJob(spec).run(events.append)
    (partial,) = [e.value for e in events if isinstance(e, Partial)]
    assert isinstance(partial, PreviewSummary)
    assert partial.summary["splits"]["train"]["size"] == 800
    assert isinstance(result, PreviewBatch) and result.batch is not None
    batch = result.batch
    assert batch["task"] == "synth_pair" and len(batch["examples"]) == config.batch_size
    assert batch["examples"][0]["tokens"][0] == "[CLS]"
    job = ChildJob(spec)
    job.stop()  # nothing to save: the job process ends instead of finishing its work
    started = time.monotonic()
    with pytest.raises(StudioError, match="preview job was stopped"):
        job.run(events.append)
    assert time.monotonic() - started < 60


def test_kill_ends_a_job_at_once_without_saving(tiny_model: str, tmp_path: Path) -> None:
    """A shutdown that cannot wait longer: the child ends, and the parent says so."""
    store = tmp_path / "studio.db"
    job = ChildJob(_train_job(tiny_model, store))
    events: list[JobEvent] = []
    errors: list[str] = []

    def run() -> None:
        try:
            job.run(events.append)
        except StudioError as exc:
            errors.append(str(exc))

    runner = threading.Thread(target=run)
    runner.start()
    _wait(lambda: bool(events), runner.is_alive)
    job.kill()
    runner.join(60)
    assert not runner.is_alive() and errors == [
        "The train process was ended before it could finish."
    ]


def test_the_device_probe_is_an_entry_point_and_a_job() -> None:
    said = subprocess.run(
        [*COMMAND, "probe"], capture_output=True, text=True, env=child_env(), timeout=120
    )
    assert said.returncode == 0 and said.stdout.startswith(("CPU: ", "CUDA: ", "Apple MPS"))
    assert "; auto precision: " in said.stdout  # what Configure shows beside the device
    assert ChildJob(Job(ProbeRequest())).run(lambda e: None) == DeviceResult(said.stdout.strip())
    assert ChildJob(Job(HubRequest())).run(lambda e: None) == HubResult(False)  # tests: offline

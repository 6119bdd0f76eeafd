"""The typed job protocol: every request, result and event survives its JSON line, a line that
is not one is named precisely, and every request kind has its one operation."""

from __future__ import annotations

import json

import pytest

from studio.core.errors import StudioError
from studio.core.experiments.study_summary import StudySummary, TrialRow
from studio.core.importing.plan import ImportPlan, RowProblem, SourceRef, SourceTable, StageReport
from studio.core.job_events import (
    EVENTS,
    Created,
    Failed,
    Finished,
    JobEvent,
    Partial,
    Progress,
    Resources,
    event_line,
    read_event,
)
from studio.core.jobs import (
    REQUESTS,
    RESULTS,
    AblationRequest,
    AblationResult,
    DeviceResult,
    EchoRequest,
    EchoResult,
    ExportRequest,
    ExportResult,
    FinetuneOutcome,
    FinetuneRequest,
    HeadPrediction,
    HubRequest,
    HubResult,
    InspectRequest,
    InspectResult,
    Job,
    JobRequest,
    JobResult,
    Place,
    PredictRequest,
    PredictResult,
    PreviewBatch,
    PreviewRequest,
    PreviewSummary,
    ProbeRequest,
    PublishRequest,
    PublishResult,
    QueueRequest,
    QueueResult,
    ResumeRequest,
    RunOutcome,
    StageRequest,
    StageResult,
    SweepRequest,
    SweepResult,
    TrainRequest,
    TransferRequest,
    TransferResult,
    TuneRequest,
    TuneResult,
    job_line,
    read_job,
)
from studio.core.resources import GpuSample, ResourceSample
from studio.core.wire import from_json, to_json
from studio.jobs.operations import OPERATIONS

SOURCE = SourceRef("files", "/data/train.csv", validation="/data/dev.csv")
PLAN = ImportPlan("mine", "classification", SOURCE, {"text": ("t",), "label": ("l",)}, ("a", "b"))
TABLE = SourceTable(SOURCE, {"train": 2}, {"t": "str"}, [{"t": "x"}], counts={"train": {}})
REPORT = StageReport("/tmp/s", {"train": 2, "validation": 1}, 1, [RowProblem("f", 2, "l", "?")])
OUTCOME = RunOutcome("r1", "stopped", 12, None)
TRIAL = TrialRow(0, "complete", {"learning_rate": 1e-4, "mixing": "homogeneous"}, 0.5, "r1")

REQUEST_EXAMPLES: list[JobRequest] = [
    TrainRequest({"tasks": ["rte"], "max_steps": 3}),
    ResumeRequest("r1", allow_data_change=True),
    QueueRequest(),
    QueueRequest(("r1", "r2")),
    TransferRequest({"targets": ["rte"]}),
    SweepRequest({"subsets": [1]}, "sweep.yaml"),
    FinetuneRequest({"task": "rte"}),
    AblationRequest({"base": {}}, "a.yaml", "/configs"),
    ExportRequest("r1", "best", "/out"),
    InspectRequest(SOURCE),
    StageRequest(PLAN, owner=42),
    PreviewRequest("rte"),
    PreviewRequest("rte", {"max_length": 32}),
    ProbeRequest(),
    HubRequest(),
    EchoRequest({"any": ["json", 1, None]}, 2),
    TuneRequest({"base": {}, "space": {}}, "study.yaml", "/configs", "study"),
    PredictRequest("r1", "a sentence", "and its pair", task="rte", which="latest"),
    PredictRequest("/exports/r1", "which?", choices=("a", "b"), context=None),
    PublishRequest("r1", "me/muppet-minilm", "best", private=True),
]
RESULT_EXAMPLES: list[JobResult] = [
    OUTCOME,
    RunOutcome("r2", "failed", 0, "boom"),
    QueueResult((OUTCOME, OUTCOME), stopped=True),
    TransferResult("t1"),
    SweepResult("s1"),
    FinetuneOutcome("f1", "rte", 32, 1, "accuracy", 0.5, {"accuracy": 0.5}, None),
    AblationResult("a1"),
    ExportResult("/out/r1"),
    InspectResult(TABLE),
    StageResult(REPORT),
    PreviewSummary({"splits": {}, "records": []}),
    PreviewBatch(None),
    DeviceResult("CPU: 2 cores"),
    HubResult(False),
    EchoResult([1, "two"]),
    TuneResult(StudySummary("s", "t1", "/s/optuna.db", (TRIAL,), TRIAL, {"learning_rate": 1.0})),
    PredictResult(
        "/runs/r1/checkpoints/step-4",
        (
            HeadPrediction(
                "rte",
                ("rte",),
                "pair_classification",
                "entailment",
                (("entailment", 0.75), ("not_entailment", 0.25)),
            ),
            HeadPrediction("squad", ("squad",), "extractive_qa", "Paris", span=(10, 15)),
            HeadPrediction("stsb", ("stsb",), "regression", "3.2", value=3.2),
        ),
    ),  # fmt: skip
    PublishResult("https://huggingface.co/me/muppet-minilm"),
]
SAMPLE = ResourceSample(12.5, 4, 2**30, 2**34, (GpuSample(0, "H100", None, 1, 2, 0),))
EVENT_EXAMPLES: list[JobEvent] = [
    Created("r1"),
    Progress(0.25, "step 1"),
    Partial(PreviewSummary({"splits": {}})),
    Resources(SAMPLE),
    Finished(QueueResult((OUTCOME,), False)),
    Failed("no run with id 'x'"),
]


def test_every_kind_has_an_example_an_operation_and_its_result() -> None:
    assert {type(r) for r in REQUEST_EXAMPLES} == set(REQUESTS.values()) == set(OPERATIONS)
    assert {type(r) for r in RESULT_EXAMPLES} == set(RESULTS.values())
    assert {type(e) for e in EVENT_EXAMPLES} == set(EVENTS.values())
    answered = {r.Result for r in REQUESTS.values()}
    assert answered | {PreviewSummary} == set(RESULTS.values())  # a summary only comes first


@pytest.mark.parametrize("request_", REQUEST_EXAMPLES, ids=lambda r: type(r).__name__)
def test_a_job_survives_its_line(request_: JobRequest) -> None:
    job = Job(request_, Place((("/t/rte.yaml", "builtin"),), "/data", "/s/studio.db"))
    line = job_line(job)
    assert "\n" not in line and json.loads(line)["request"]["kind"] == request_.tag
    assert read_job(line) == job


@pytest.mark.parametrize("result", RESULT_EXAMPLES, ids=lambda r: type(r).__name__)
def test_a_result_survives_its_event(result: JobResult) -> None:
    assert read_event(event_line(Finished(result))) == Finished(result)


@pytest.mark.parametrize("event", EVENT_EXAMPLES, ids=lambda e: type(e).__name__)
def test_an_event_survives_its_line(event: JobEvent) -> None:
    assert read_event(event_line(event)) == event


def test_the_wire_keeps_the_protocols_words() -> None:
    """Another program reading a child (or an older test) sees `event`, `value`, `kind`."""
    assert json.loads(event_line(Finished(OUTCOME))) == {
        "event": "result",
        "value": {"type": "run", "run_id": "r1", "status": "stopped", "step": 12, "error": None},
    }
    assert json.loads(event_line(Failed("x"))) == {"event": "error", "message": "x"}
    assert to_json(ResumeRequest("r1")) == {
        "kind": "resume",
        "run_id": "r1",
        "allow_data_change": False,
    }


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("not json", "not a job event: 'not json'"),
        ('{"event": "landed"}', "unknown job event 'landed'; known: ['created', "),
        ('{"event": "created"}', "missing field(s) ['run_id']"),
        ('{"event": "created", "run_id": 7}', "a job event.run_id: expected str, got 7"),
        ('{"event": "progress", "fraction": true, "message": ""}', "expected float, got True"),
        ('{"event": "created", "run_id": "r", "extra": 1}', "unknown field(s) ['extra']"),
        ('{"event": "result", "value": {"type": "nope"}}', "unknown job result 'nope'"),
        ('{"event": "result", "value": {"type": "run", "run_id": "r", "status": "x"}}', "['step']"),
        ('{"event": "partial", "value": 3}', "a job event.value: expected an object"),
    ],
)
def test_a_bad_event_is_named(line: str, said: str) -> None:
    with pytest.raises(StudioError) as caught:
        read_event(line)
    assert said in str(caught.value)


def test_a_bad_job_is_named() -> None:
    with pytest.raises(StudioError, match="unknown job kind 'fly'"):
        read_job('{"request": {"kind": "fly"}}')
    with pytest.raises(StudioError, match=r"the job.request.config: expected an object"):
        read_job('{"request": {"kind": "train", "config": []}}')
    with pytest.raises(StudioError, match=r"place.task_files\[0\]: expected 2 items"):
        read_job('{"request": {"kind": "probe"}, "place": {"task_files": [["a"]]}}')
    with pytest.raises(StudioError, match="the job is not JSON"):
        read_job("")


def test_a_family_decodes_only_its_own_members() -> None:
    data = to_json(HubResult(True))
    assert from_json(JobResult, data) == HubResult(True)
    with pytest.raises(StudioError, match="unknown job result 'hub'"):
        from_json(RunOutcome, data)  # a hub answer is no run outcome

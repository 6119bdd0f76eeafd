"""What a job is asked to do and what it answers: one frozen dataclass per job kind's request
and one per result, the two side by side.

The window and the commands build requests; `studio.jobs.operations` maps each request type to
its use case, which answers with the request's `Result`. Between the window and its child
process they travel as JSON (`studio.core.wire`), and only there: `job_line` / `read_job` for
the job, `studio.core.job_events` for what comes back. Configs stay plain dicts in a request:
the child checks them, so a bad one is the job's error message, not the window's crash.

A new kind: its request and result here (and in REQUESTS and RESULTS), its use case in
`studio.jobs.operations.OPERATIONS`. The window can then start it with
`JobsController.start(Worker(Job(TheRequest(...))))` or a `JobSlot`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from studio.core.errors import StudioError
from studio.core.experiments.study_summary import StudySummary
from studio.core.importing.plan import ImportPlan, SourceRef, SourceTable, StageReport
from studio.core.wire import Tagged, from_json, registry, to_json


class JobResult(Tagged):
    """What a job answers: its `Finished` event's value (a preview's summary comes first)."""

    TAG_KEY = "type"
    NOUN = "job result"

    @classmethod
    def variants(cls) -> Mapping[str, type[Tagged]]:
        return RESULTS


class JobRequest(Tagged):
    """What a job is asked to do; its class says which result answers it and how it stops."""

    TAG_KEY = "kind"
    NOUN = "job kind"
    Result: ClassVar[type[JobResult]]
    trains: ClassVar[bool] = False  # the Monitor's resource strip samples its process
    abandoned: ClassVar[bool] = False  # nothing to save: a stop ends its process at once

    @classmethod
    def variants(cls) -> Mapping[str, type[Tagged]]:
        return REQUESTS


@dataclass(frozen=True)
class Place:
    """Where a job finds its tasks, data and runs: the child loads the catalog from the files
    (each a path and its origin), so a task the window holds only in memory cannot go."""

    task_files: tuple[tuple[str, str], ...] = ()
    data_dir: str | None = None
    store: str | None = None


# -- pre-finetuning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome(JobResult):
    """How a pre-finetuning run ended (finished, stopped or failed, with its error)."""

    tag = "run"
    run_id: str
    status: str
    step: int
    error: str | None = None


@dataclass(frozen=True)
class TrainRequest(JobRequest):
    """A new run of this config (RunConfig.to_dict)."""

    tag, Result, trains = "train", RunOutcome, True
    config: dict[str, Any]


@dataclass(frozen=True)
class ResumeRequest(JobRequest):
    tag, Result, trains = "resume", RunOutcome, True
    run_id: str
    allow_data_change: bool = False


@dataclass(frozen=True)
class QueueResult(JobResult):
    """The queued runs trained, in order; `stopped`: a stop ended the queue early."""

    tag = "queue"
    outcomes: tuple[RunOutcome, ...]
    stopped: bool


@dataclass(frozen=True)
class QueueRequest(JobRequest):
    """The queued runs, one after another (`only`: just these)."""

    tag, Result, trains = "queue", QueueResult, True
    only: tuple[str, ...] | None = None


# -- experiments ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferResult(JobResult):
    tag = "transfer"
    run_id: str


@dataclass(frozen=True)
class TransferRequest(JobRequest):
    tag, Result, trains = "transfer", TransferResult, True
    config: dict[str, Any]  # TransferConfig.to_dict


@dataclass(frozen=True)
class SweepResult(JobResult):
    tag = "sweep"
    run_id: str


@dataclass(frozen=True)
class SweepRequest(JobRequest):
    tag, Result, trains = "sweep", SweepResult, True
    config: dict[str, Any]
    where: str = "the sweep config"


@dataclass(frozen=True)
class FinetuneOutcome(JobResult):
    """One fine-tuning's score on its task (`examples`: how many it trained on)."""

    tag = "finetune"
    run_id: str
    task: str
    examples: int
    seed: int
    metric: str
    value: float
    metrics: dict[str, float]
    head_reused: str | None = None  # the head it started from, when it kept one


@dataclass(frozen=True)
class FinetuneRequest(JobRequest):
    """`config.model` may name a run (`run:ID[@checkpoint]`, or just a run id)."""

    tag, Result, trains = "finetune", FinetuneOutcome, True
    config: dict[str, Any]
    where: str = "the finetune config"


@dataclass(frozen=True)
class AblationResult(JobResult):
    tag = "ablation"
    run_id: str


@dataclass(frozen=True)
class AblationRequest(JobRequest):
    tag, Result, trains = "ablation", AblationResult, True
    config: dict[str, Any]
    where: str = "the ablation"  # the file it came from, for its errors
    folder: str | None = None  # where a relative `base:` path is read from


@dataclass(frozen=True)
class TuneResult(JobResult):
    """A study's trials, best trial and importances after this job's trials."""

    tag = "tune"
    summary: StudySummary


@dataclass(frozen=True)
class TuneRequest(JobRequest):
    """Run (or continue) a tuning study (`studio.tune`) until it holds its trial count."""

    tag, Result, trains = "tune", TuneResult, True
    config: dict[str, Any]
    where: str = "the study"  # the file it came from, for its errors
    folder: str | None = None  # where a relative `base:` path is read from
    name: str = "study"  # the study's name when the file gives none (the file's stem)


@dataclass(frozen=True)
class ExportResult(JobResult):
    tag = "export"
    folder: str


@dataclass(frozen=True)
class ExportRequest(JobRequest):
    """Checkpoint `which` (best, latest or a step) of a run, for transformers users."""

    tag, Result = "export", ExportResult
    run_id: str
    which: str
    out_dir: str
    hub_ready: bool = False  # a model card with the Hub's metadata (export --hub-ready)


# -- trying and publishing a model ------------------------------------------------------------


@dataclass(frozen=True)
class HeadPrediction:
    """One head's answer: the label (a class, a choice, an answer span's text, a value) and
    each outcome's probability, most likely first."""

    head: str
    tasks: tuple[str, ...]  # the tasks that share the head
    format: str
    label: str
    probabilities: tuple[tuple[str, float], ...] = ()
    value: float | None = None  # regression: the predicted score
    span: tuple[int, int] | None = None  # span QA: the answer's characters in the context


@dataclass(frozen=True)
class PredictResult(JobResult):
    tag = "predict"
    source: str  # the checkpoint or export folder that answered
    predictions: tuple[HeadPrediction, ...]


@dataclass(frozen=True)
class PredictRequest(JobRequest):
    """A sentence (with `text_pair`, a pair; with `choices`, a question and its choices; with
    `context`, a question about it) through every matching head of `model`: a run id (its
    checkpoint `which`), an export folder or a checkpoint folder. `task`: only its head."""

    tag, Result, abandoned = "predict", PredictResult, True
    model: str
    text: str
    text_pair: str | None = None
    choices: tuple[str, ...] = ()
    context: str | None = None
    task: str | None = None
    which: str = "best"


@dataclass(frozen=True)
class PublishResult(JobResult):
    tag = "publish"
    url: str


@dataclass(frozen=True)
class PublishRequest(JobRequest):
    """A run's checkpoint `which` (exported hub-ready) or an export folder, uploaded to the
    Hugging Face Hub as the model repository `repo_id` (created when missing)."""

    tag, Result = "publish", PublishResult
    source: str
    repo_id: str
    which: str = "best"
    private: bool = False


# -- the task library -------------------------------------------------------------------------


@dataclass(frozen=True)
class InspectResult(JobResult):
    tag = "inspect"
    table: SourceTable


@dataclass(frozen=True)
class InspectRequest(JobRequest):
    tag, Result, abandoned = "inspect", InspectResult, True
    source: SourceRef


@dataclass(frozen=True)
class StageResult(JobResult):
    tag = "stage"
    report: StageReport


@dataclass(frozen=True)
class StageRequest(JobRequest):
    """Convert and check every row; `owner`: the process that saves or drops the records
    (the window, not its short-lived job process; None: the one that stages)."""

    tag, Result = "stage", StageResult
    plan: ImportPlan
    owner: int | None = None


@dataclass(frozen=True)
class PreviewSummary(JobResult):
    """A task's records and per-split stats: a preview's first part (a `Partial` event)."""

    tag = "preview_summary"
    summary: dict[str, Any]


@dataclass(frozen=True)
class PreviewBatch(JobResult):
    """A task's first batch under a config (None without a config)."""

    tag = "preview_batch"
    batch: dict[str, Any] | None


@dataclass(frozen=True)
class PreviewRequest(JobRequest):
    tag, Result, abandoned = "preview", PreviewBatch, True
    task: str
    config: dict[str, Any] | None = None


# -- the machine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceResult(JobResult):
    """The device training would use, as Configure shows it."""

    tag = "device"
    text: str


@dataclass(frozen=True)
class ProbeRequest(JobRequest):
    tag, Result, abandoned = "probe", DeviceResult, True


@dataclass(frozen=True)
class HubResult(JobResult):
    tag = "hub"
    reachable: bool


@dataclass(frozen=True)
class HubRequest(JobRequest):
    tag, Result, abandoned = "hub", HubResult, True


@dataclass(frozen=True)
class EchoResult(JobResult):
    tag = "echo"
    value: Any


@dataclass(frozen=True)
class EchoRequest(JobRequest):
    """Answers `value` after `steps` progress events: the protocol's own test job."""

    tag, Result, abandoned = "echo", EchoResult, True
    value: Any
    steps: int = 3


REQUESTS: dict[str, type[JobRequest]] = registry(
    TrainRequest, ResumeRequest, QueueRequest, TransferRequest, SweepRequest, FinetuneRequest,
    AblationRequest, ExportRequest, InspectRequest, StageRequest, PreviewRequest, ProbeRequest,
    HubRequest, EchoRequest, PredictRequest, PublishRequest, TuneRequest,
)  # fmt: skip
RESULTS: dict[str, type[JobResult]] = registry(
    RunOutcome, QueueResult, TransferResult, SweepResult, FinetuneOutcome, AblationResult,
    ExportResult, InspectResult, StageResult, PreviewSummary, PreviewBatch, DeviceResult,
    HubResult, EchoResult, PredictResult, PublishResult, TuneResult,
)  # fmt: skip


@dataclass(frozen=True)
class Job:
    """A request and where its job finds tasks, data and runs: the first line the child reads."""

    request: JobRequest
    place: Place = Place()

    @property
    def kind(self) -> str:
        return self.request.tag


def job_line(job: Job) -> str:
    """The job as the one JSON line the child reads first."""
    return json.dumps(to_json(job))


def read_job(line: str) -> Job:
    """The job a line describes; StudioError naming what is wrong with it."""
    try:
        data = json.loads(line)
    except ValueError:
        raise StudioError(f"the job is not JSON: {line[:80]!r}") from None
    return from_json(Job, data, "the job")

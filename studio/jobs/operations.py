"""One table of operations: every job kind's request type and the use case that answers it.

A job process (`studio.jobs.runners`) and the command line (`studio.cli.commands`) both call
`perform`,
so a kind runs the same way wherever it is started. A use case takes `(request, context)` and
returns its request's `Result`; it imports what it needs when it runs, so importing this table
loads nothing heavy. A new kind: its request and result in `studio.core.jobs`, its use case
and its row here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from studio.core.errors import StudioError
from studio.core.jobs import (
    AblationRequest,
    DeviceResult,
    EchoRequest,
    EchoResult,
    ExportRequest,
    FinetuneRequest,
    HubRequest,
    HubResult,
    InspectRequest,
    InspectResult,
    JobRequest,
    JobResult,
    PredictRequest,
    PreviewBatch,
    PreviewRequest,
    PreviewSummary,
    ProbeRequest,
    PublishRequest,
    QueueRequest,
    ResumeRequest,
    StageRequest,
    StageResult,
    SweepRequest,
    TrainRequest,
    TransferRequest,
    TuneRequest,
)
from studio.jobs import model_ops
from studio.jobs import training_ops as ops
from studio.jobs.context import Context

Q = TypeVar("Q", bound=JobRequest)
R = TypeVar("R", bound=JobResult)


@dataclass(frozen=True)
class Operation(Generic[Q, R]):
    """A request type and its use case (type-checked to take that request)."""

    request: type[Q]
    run: Callable[[Q, Context], R]


# -- the task library -------------------------------------------------------------------------


def inspect(request: InspectRequest, context: Context) -> InspectResult:
    from studio.core import paths
    from studio.train.data.sources import inspect as inspect_source

    return InspectResult(inspect_source(request.source, paths.cache_dir()))


def stage(request: StageRequest, context: Context) -> StageResult:
    from studio.core import paths
    from studio.train.data.importer import stage as stage_plan

    report = stage_plan(request.plan, paths.cache_dir(), context.stop, owner=request.owner)
    return StageResult(report)


def preview(request: PreviewRequest, context: Context) -> PreviewBatch:
    """A task's records and stats first (a partial answer) and, with a config, its first batch."""
    from studio.core.config.run import config_from_dict
    from studio.core.tasks.availability import resolve
    from studio.train.data.preview import first_batch, summary
    from studio.train.setup import Workspace

    ws = Workspace.default(dict(context.catalog), context.data_dir)
    task = context.catalog[request.task]
    where = resolve(task, ws.data_dir, ws.synthetic_root)
    context.partial(PreviewSummary(summary(task, where, ws)))
    if request.config is None:
        return PreviewBatch(None)
    config = config_from_dict(request.config, "the previewed config")
    return PreviewBatch(first_batch(task, where, config, ws))


# -- the machine ------------------------------------------------------------------------------


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


def probe(request: ProbeRequest, context: Context) -> DeviceResult:
    return DeviceResult(describe_device())


def hub(request: HubRequest, context: Context) -> HubResult:
    from studio.core.tasks.availability import hub_online

    return HubResult(hub_online())


def echo(request: EchoRequest, context: Context) -> EchoResult:
    """Report `steps` progress events, then answer the request's value (the protocol's test)."""
    for step in range(1, request.steps + 1):
        if context.stop.is_set():
            break
        context.progress(step / request.steps, f"echo {step}/{request.steps}")
        time.sleep(0.01)
    return EchoResult(request.value)


def table(*operations: Operation[Any, Any]) -> dict[type[JobRequest], Operation[Any, Any]]:
    return {op.request: op for op in operations}


OPERATIONS = table(
    Operation(TrainRequest, ops.train),
    Operation(ResumeRequest, ops.resume),
    Operation(QueueRequest, ops.queue),
    Operation(TransferRequest, ops.transfer),
    Operation(SweepRequest, ops.sweep),
    Operation(FinetuneRequest, ops.finetune),
    Operation(AblationRequest, ops.ablation),
    Operation(ExportRequest, ops.export),
    Operation(InspectRequest, inspect),
    Operation(StageRequest, stage),
    Operation(PreviewRequest, preview),
    Operation(ProbeRequest, probe),
    Operation(HubRequest, hub),
    Operation(EchoRequest, echo),
    Operation(PredictRequest, model_ops.predict),
    Operation(PublishRequest, model_ops.publish),
    Operation(TuneRequest, ops.tune),
)


def perform(request: JobRequest, context: Context) -> JobResult:
    """Run `request`'s use case in `context`; its answer is of the request's `Result` type."""
    operation = OPERATIONS.get(type(request))
    if operation is None:
        raise StudioError(f"no operation answers a {request.tag} job")
    result = operation.run(request, context)
    if not isinstance(result, request.Result):
        raise TypeError(f"the {request.tag} job answered a {type(result).__name__}")
    return result

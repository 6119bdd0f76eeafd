"""The use cases that train or read runs: `(request, context) -> result`, for a job process and
for the command line alike. Heavy modules are imported inside each, so the command line and
the job process load only what their one use case needs."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.jobs import (
    AblationRequest,
    AblationResult,
    ExportRequest,
    ExportResult,
    FinetuneOutcome,
    FinetuneRequest,
    QueueRequest,
    QueueResult,
    ResumeRequest,
    RunOutcome,
    SweepRequest,
    SweepResult,
    TrainRequest,
    TransferRequest,
    TransferResult,
    TuneRequest,
    TuneResult,
)
from studio.jobs.context import Context

if TYPE_CHECKING:
    from studio.session import Outcome


def _outcome(outcome: Outcome) -> RunOutcome:
    return RunOutcome(**asdict(outcome))


def train(request: TrainRequest, context: Context) -> RunOutcome:
    from studio.core.config.run import config_from_dict
    from studio.session import execute

    store = context.store()
    config = config_from_dict(request.config, "the run's config")
    return _outcome(
        execute(
            config, dict(context.catalog), context.data_dir, store, context.stop, context.sink,
            on_created=context.created,
        )
    )  # fmt: skip


def resume(request: ResumeRequest, context: Context) -> RunOutcome:
    from studio.session import resume as resume_run

    outcome = resume_run(
        request.run_id, dict(context.catalog), context.data_dir, context.store(), context.stop,
        context.sink, on_created=context.created, allow_data_change=request.allow_data_change,
    )  # fmt: skip
    return _outcome(outcome)


def queue(request: QueueRequest, context: Context) -> QueueResult:
    """The queued runs one after another; `created` as each starts."""
    from studio.queue import run_queue

    outcomes = run_queue(
        dict(context.catalog), context.data_dir, context.store(), context.stop,
        context.created, request.only, extra_sink=context.sink,
    )  # fmt: skip
    return QueueResult(tuple(_outcome(o) for o in outcomes), context.stop.is_set())


def transfer(request: TransferRequest, context: Context) -> TransferResult:
    from studio.core.experiments.transfer import transfer_config
    from studio.experiments import transfer as run_transfer

    store = context.store()
    config = transfer_config(request.config, "the transfer config")
    run_id = run_transfer(
        config, dict(context.catalog), context.data_dir, store, context.stop,
        context.progress, context.created,
    )  # fmt: skip
    return TransferResult(run_id)


def sweep(request: SweepRequest, context: Context) -> SweepResult:
    from studio.core.experiments.transfer import sweep_config
    from studio.experiments import sweep as run_sweep

    store = context.store()
    config = sweep_config(request.config, request.where)
    run_id = run_sweep(
        config, dict(context.catalog), context.data_dir, store, context.stop, context.progress
    )
    return SweepResult(run_id)


def ablation(request: AblationRequest, context: Context) -> AblationResult:
    """An ablation's variants through the queue, then its transfers; `created` names the
    ablation run, progress the variant or transfer at work."""
    from studio.ablation import run_ablation
    from studio.core.experiments.ablation import ablation_config

    store = context.store()
    folder = Path(request.folder) if request.folder else None
    config = ablation_config(request.config, request.where, folder)
    run_id = run_ablation(
        config, dict(context.catalog), context.data_dir, store, context.stop,
        context.progress, context.created,
    )  # fmt: skip
    return AblationResult(run_id)


def finetune(request: FinetuneRequest, context: Context) -> FinetuneOutcome:
    """One fine-tuning; a `model` naming a run of the store starts from its checkpoint."""
    from studio.core.experiments.transfer import finetune_config
    from studio.experiments import finetune_run, resolve_source
    from studio.store import RunStore

    config = finetune_config(request.config, request.where)
    with RunStore(context.store()) as store:
        source_run = None
        run, _, which = config.model.removeprefix("run:").partition("@")
        if config.model.startswith("run:") or _is_run(store, run):
            source = resolve_source(store, run, which or "best")
            config, source_run = replace(config, model=source.model), source.run_id
        run_id, result = finetune_run(
            config, dict(context.catalog), context.data_dir, store, context.stop, source_run
        )
    return FinetuneOutcome(
        run_id, result.task, result.examples, config.seed, result.metric, result.value,
        dict(result.metrics), result.head_reused,
    )  # fmt: skip


def _is_run(store: Any, name: str) -> bool:
    try:
        store.get_run(name)
    except KeyError:
        return False
    return True


def export(request: ExportRequest, context: Context) -> ExportResult:
    from studio.session import export_run

    folder = export_run(
        context.store(), request.run_id, request.which, Path(request.out_dir), context.progress,
        request.hub_ready,
    )  # fmt: skip
    return ExportResult(str(folder))


def tune(request: TuneRequest, context: Context) -> TuneResult:
    """A tuning study's trials one after another; `created` names the study's run, progress
    the trial at work, the sink (the command's bar) sees each trial's metrics."""
    from studio.core.experiments.tune import study_config
    from studio.tune import run_study

    folder = Path(request.folder) if request.folder else None
    config = study_config(request.config, request.where, folder, request.name)
    summary = run_study(
        config, dict(context.catalog), context.data_dir, context.store(), context.stop,
        context.progress, context.created, context.sink,
    )  # fmt: skip
    return TuneResult(summary)

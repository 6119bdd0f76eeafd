"""Transfer experiments against the store: fine-tuning runs, transfer grids and task-count sweeps.

A composition root like session.py (it joins `train` and `store`), shared by the CLI and the
desktop worker. Every fine-tuning is a `finetune` run in the store, linked to its source run;
every result is a row of the `results` table under its transfer run.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core import paths
from studio.core.config.models import rate_note
from studio.core.config.run import config_from_dict
from studio.core.errors import ConfigError, StudioError
from studio.core.experiments.transfer import (
    FinetuneConfig,
    SweepConfig,
    TransferConfig,
    export_mix,
    summarize,
    transfer_config,
)
from studio.core.run_record import TransferResult
from studio.core.sink import MetricRow
from studio.core.tasks.spec import TaskSpec
from studio.session import execute
from studio.store import RunStore, StoreSink
from studio.store.sink import SPILL_FILE

if TYPE_CHECKING:
    from studio.train.finetune import FinetuneResult

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SourceModel:
    """What a transfer fine-tunes from: a folder `from_pretrained`-like code can read."""

    model: str  # a checkpoint folder, an export folder, or a base model
    run_id: str | None  # the pre-finetuning run, when the source is one
    mix: tuple[str, ...]  # the tasks it was pre-finetuned on (for the leakage check)


def child_name(config: FinetuneConfig, role: str, source: str, base_model: str) -> str:
    """A transfer's fine-tuning, named so that its base and pre-finetuned pair differ:
    "rte k=16 seed 0 · pre-finetuned (<run id or export folder>)" / "… · base (minilm)"."""
    model = Path(source).name if role == "pretuned" else Path(base_model).name or base_model
    what = "pre-finetuned" if role == "pretuned" else "base"
    return f"{config.task} k={config.k or 'all'} seed {config.seed} · {what} ({model})"


def resolve_source(store: RunStore, source: str, which: str = "best") -> SourceModel:
    """A run id of the store (its `which` checkpoint) or an export folder."""
    from studio.train.export import select_checkpoint

    try:
        run = store.get_run(source)
    except KeyError:
        folder = Path(source).expanduser()
        if not (folder / "heads.json").is_file():
            raise ConfigError(
                f"source: {source!r} is neither a run id in {store.path} nor an "
                "export folder (one with heads.json)"
            ) from None
        return SourceModel(str(folder), None, tuple(export_mix(folder)))
    if run.kind != "pretrain":
        raise ConfigError(f"source: run {source} is a {run.kind} run, not pre-finetuning")
    checkpoint = select_checkpoint(paths.checkpoints_dir(store.path, source), which)
    return SourceModel(str(checkpoint), source, run.run_config().tasks)


def finetune_run(
    config: FinetuneConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store: RunStore,
    stop: threading.Event,
    source_run: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[str, FinetuneResult]:
    """One fine-tuning run in the store; returns its id and result. Failures raise."""
    from studio.train.finetune import finetune
    from studio.train.setup import Workspace

    name = config.name or f"finetune {config.task} k={config.k or 'all'} seed {config.seed}"
    run_id = store.create_run(
        name,
        "finetune",
        {**config.to_dict(), **(extra or {})},
        config.model,
        device=config.settings.device,
        source_run=source_run,
        status="running",
    )
    sink = StoreSink(store, run_id, spill=paths.run_dir(store.path, run_id) / SPILL_FILE)
    try:
        result = finetune(config, sink, stop, Workspace.default(catalog, data_dir))
    except Exception as exc:
        sink.log("error", _message(exc) if isinstance(exc, StudioError) else traceback.format_exc())
        sink.close()
        store.set_status(run_id, "failed", error=_message(exc))
        raise
    sink.close()
    store.update_run(run_id, step=result.steps, max_steps=result.steps)
    store.set_status(run_id, result.status)
    return run_id, result


def transfer(
    config: TransferConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    progress: Progress | None = None,
    on_created: Callable[[str], None] | None = None,
) -> str:
    """Fine-tune base and pre-finetuned encoders on every target x size x seed; store results."""
    report = progress or (lambda fraction, message: None)
    unknown = [t for t in config.targets if t not in catalog]
    if unknown:
        raise ConfigError(f"targets: {unknown} are not in the catalog")
    with RunStore(store_path) as store:
        source = resolve_source(store, config.source, config.checkpoint)
        transfer_id = store.create_run(
            config.name or f"transfer from {config.source}",
            "transfer",
            config.to_dict(),
            config.base_model,
            device=config.settings.device,
            source_run=source.run_id,
            status="running",
        )
        if on_created is not None:
            on_created(transfer_id)
        cells = _TransferCells(config, source, transfer_id, catalog, data_dir, store, stop)
        jobs = [
            (t, s, seed, label)
            for t in config.targets
            for s in config.sizes
            for seed in config.seeds
            for label in ("base", "pretuned")
        ]
        with fails_run(store, transfer_id):
            for done, (target, size, seed, label) in enumerate(jobs):
                if stop.is_set():
                    store.set_status(transfer_id, "stopped")
                    return transfer_id
                report(done / len(jobs), f"{target}, k={size}, seed {seed}: {label}")
                cells.run(target, size, seed, label)
                store.update_run(transfer_id, step=done + 1, max_steps=len(jobs))
        store.set_status(transfer_id, "stopped" if stop.is_set() else "finished")
    report(1.0, "transfer finished")
    return transfer_id


class _TransferCells:
    """One transfer's fine-tunings, cell by cell: each run, its paired order checked, its
    result stored (flagged when the target was in the source's mix)."""

    def __init__(
        self,
        config: TransferConfig,
        source: SourceModel,
        transfer_id: str,
        catalog: dict[str, TaskSpec],
        data_dir: Path | None,
        store: RunStore,
        stop: threading.Event,
    ) -> None:
        self.config, self.source, self.transfer_id = config, source, transfer_id
        self.catalog, self.data_dir, self.store, self.stop = catalog, data_dir, store, stop
        self.orders: dict[tuple[str, int | str, int], str] = {}  # a base run's, for its pair
        store.add_log(
            transfer_id, "info", rate_note(config.base_model, config.settings.learning_rate)
        )
        self.leaked = [t for t in config.targets if t in source.mix]
        if self.leaked:
            store.add_log(
                transfer_id,
                "warning",
                f"targets {self.leaked} were in the pre-finetuning "
                "mix: their results are flagged as leaked",
            )

    def run(self, target: str, size: int | str, seed: int, label: str) -> None:
        config, store = self.config, self.store
        model = config.base_model if label == "base" else self.source.model
        ft = config.finetune(target, model, size, seed, config.reuse_heads and label == "pretuned")
        ft = replace(ft, name=child_name(ft, label, config.source, config.base_model))
        extra = {"transfer_id": self.transfer_id, "role": label}
        run_id, result = finetune_run(
            ft, self.catalog, self.data_dir, store, self.stop, self.source.run_id, extra
        )
        if result.status != "finished":  # stopped part-way: not a comparable result
            return
        if self.orders.setdefault((target, size, seed), result.order) != result.order:
            store.add_log(
                self.transfer_id,
                "warning",
                f"{target}, k={size}, seed {seed}: base and pre-finetuned did not train "
                "on the same examples in the same order (do their tokenizers differ?); "
                "their paired difference is not a fair comparison",
            )
        store.add_result(
            {
                "transfer_id": self.transfer_id, "target": target, "k": result.examples,
                "size": str(size), "seed": seed, "model": label, "metric": result.metric,
                "value": result.value, "run_id": run_id, "leaked": int(target in self.leaked),
                "baseline": result.baseline,
            }
        )  # fmt: skip


def sweep(
    config: SweepConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    progress: Progress | None = None,
) -> str:
    """Pre-finetune on nested subsets, transfer from each; the curve goes to the sweep's metrics.

    The sweep run logs, at step = number of tasks, `pretuned_mean` and `base_mean` (the mean
    target metric over targets, sizes and seeds) and `gain`.
    """
    report = progress or (lambda fraction, message: None)
    with RunStore(store_path) as store:
        sweep_id = store.create_run(
            config.name or f"task-count sweep {list(config.counts)}",
            "sweep",
            {
                "pool": list(config.pool),
                "counts": list(config.counts),
                "pretrain": config.pretrain,
                "transfer": config.transfer,
            },
            config.pretrain.get("model", "minilm"),
            status="running",
        )
        with fails_run(store, sweep_id):
            _sweep_subsets(config, catalog, data_dir, store_path, stop, report, sweep_id)
        store.set_status(sweep_id, "stopped" if stop.is_set() else "finished")
    return sweep_id


def _sweep_subsets(
    config: SweepConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    report: Progress,
    sweep_id: str,
) -> None:
    children: list[dict[str, Any]] = []
    share = 1 / len(config.counts)
    for i, subset in enumerate(config.subsets()):
        if stop.is_set():
            return
        report(i * share, f"pre-finetuning on {len(subset)} tasks")
        name = f"sweep {sweep_id}: {len(subset)} tasks"
        run_config = config_from_dict({**config.pretrain, "tasks": list(subset), "name": name})
        outcome = execute(run_config, catalog, data_dir, store_path, stop)
        if outcome.status == "stopped":
            return
        if outcome.status != "finished":
            raise StudioError(
                f"pre-finetuning on {len(subset)} tasks {outcome.status}: "
                f"{outcome.error or 'stopped'}"
            )
        settings = {
            **config.transfer,
            "source": outcome.run_id,
            "checkpoint": "latest",
            "name": name,
        }

        def progress(f: float, m: str, i: int = i) -> None:
            report((i + 0.5 + f / 2) * share, m)

        transfer_id = transfer(
            transfer_config(settings, "sweep transfer"),
            catalog,
            data_dir,
            store_path,
            stop,
            progress,
        )
        with RunStore(store_path) as store:
            point = sweep_point(store.results(transfer_id))
            store.add_metrics(sweep_id, [MetricRow(len(subset), k, v) for k, v in point.items()])
            children.append(
                {"tasks": len(subset), "pretrain": outcome.run_id, "transfer": transfer_id}
            )
            store.update_run(
                sweep_id,
                step=i + 1,
                max_steps=len(config.counts),
                config={**store.get_run(sweep_id).config, "children": children},
            )


def sweep_point(results: list[TransferResult]) -> dict[str, float]:
    """Mean target metric of each model over all (target, size) cells, and the gain."""
    cells = summarize(results)
    point = {}
    for model in ("base", "pretuned"):
        values = [c.mean for c in cells if c.model == model]
        if values:
            point[f"{model}_mean"] = sum(values) / len(values)
    if len(point) == 2:
        point["gain"] = point["pretuned_mean"] - point["base_mean"]
    return point


@contextmanager
def fails_run(store: RunStore, run_id: str) -> Iterator[None]:
    """Record an exception as the run's error (status failed), then let it propagate."""
    try:
        yield
    except Exception as exc:
        store.set_status(run_id, "failed", error=_message(exc))
        raise


def _message(exc: Exception) -> str:
    return str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"

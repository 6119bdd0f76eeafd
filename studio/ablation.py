"""Running an ablation: its variants through the run queue, then (the switch on) a transfer
from each variant's checkpoint; shared by the CLI and the window's `ablation` job.

The ablation is a run of kind `ablation` in the store; its config is the ablation file's (the
base inline) plus `variants`: each variant's name, changes, pre-finetuning run and transfer.
Each variant is a queued pre-finetuning run whose `source_run` is the ablation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.errors import ConfigError
from studio.core.experiments.ablation import AblationConfig, Variant
from studio.core.experiments.transfer import transfer_config
from studio.core.tasks.spec import TaskSpec
from studio.experiments import Progress, fails_run, transfer
from studio.queue import enqueue, run_queue
from studio.session import Outcome
from studio.store import RunStore

log = logging.getLogger(__name__)
# Every variant makes the same number of updates, so the latest checkpoint compares like with
# like (the best one would pick each variant's own step).
CHECKPOINT = "latest"


def run_ablation(
    config: AblationConfig,
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    progress: Progress | None = None,
    on_created: Callable[[str], None] | None = None,
) -> str:
    """Queue the variants, train them in order, transfer from each; return the ablation's id.

    A stop ends the running variant as Stop does; the variants not yet trained stay in the
    queue (a later `queue run` trains them) and the ablation ends `stopped`.
    """
    report = progress or (lambda fraction, message: None)
    variants = config.variants()
    _check_tasks(config, variants, catalog)
    with RunStore(store_path) as store:
        ablation_id = store.create_run(
            config.title,
            "ablation",
            config.to_dict(),
            config.base.model,
            device=config.base.device,
            max_steps=len(variants),
            status="running",
            data_dir=str(data_dir) if data_dir is not None else None,
        )
    if on_created is not None:
        on_created(ablation_id)
    with RunStore(store_path) as store, fails_run(store, ablation_id):
        entries = _queue(config, variants, ablation_id, data_dir, store_path)
        # With transfers, training the variants is the first half of the progress bar.
        split = 1.0 if config.transfer is None else 0.5
        scaled = lambda f, m: report(f * split, m)  # noqa: E731
        outcomes = _train(ablation_id, entries, catalog, data_dir, store_path, stop, scaled)
        if config.transfer is not None and not stop.is_set():
            rest = lambda f, m: report(split + f * (1 - split), m)  # noqa: E731
            jobs = (catalog, data_dir, store_path, stop, rest)
            _transfers(config, ablation_id, entries, outcomes, *jobs)
    _finish(ablation_id, entries, outcomes, store_path, stop)
    report(1.0, "ablation finished")
    return ablation_id


def _check_tasks(
    config: AblationConfig, variants: list[Variant], catalog: dict[str, TaskSpec]
) -> None:
    """Unknown tasks fail before anything is queued, naming the variant."""
    for variant in variants:
        unknown = [t for t in variant.config.tasks if t not in catalog]
        if unknown:
            raise ConfigError(f"variant {variant.name}: tasks {unknown} are not in the catalog")
    if config.transfer is not None:
        targets = transfer_config({**config.transfer, "source": "ablation"}).targets
        unknown = [t for t in targets if t not in catalog]
        if unknown:
            raise ConfigError(f"transfer: targets {unknown} are not in the catalog")


def _queue(
    config: AblationConfig,
    variants: list[Variant],
    ablation_id: str,
    data_dir: Path | None,
    store_path: Path,
) -> list[dict[str, Any]]:
    entries = []
    for variant in variants:
        run_id = enqueue(
            store_path,
            variant.config,
            name=f"{config.title}: {variant.name}",
            source_run=ablation_id,
            data_dir=data_dir,
        )
        entries.append(
            {
                "name": variant.name,
                "changes": variant.changes_dict(),
                "run_id": run_id,
                "transfer_id": None,
            }
        )
    _save_entries(store_path, ablation_id, entries)
    return entries


def _save_entries(store_path: Path, ablation_id: str, entries: list[dict[str, Any]]) -> None:
    with RunStore(store_path) as store:
        stored = store.get_run(ablation_id).config
        store.update_run(ablation_id, config={**stored, "variants": entries})


def _train(
    ablation_id: str,
    entries: list[dict[str, Any]],
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    report: Progress,
) -> dict[str, Outcome]:
    names = {e["run_id"]: e["name"] for e in entries}
    share = 1 / len(entries)
    started: list[str] = []

    def on_created(run_id: str) -> None:
        started.append(run_id)
        where = f"variant {len(started)}/{len(entries)}"
        report((len(started) - 1) * share, f"{where}: {names.get(run_id, run_id)}")
        with RunStore(store_path) as store:  # the Runs tab counts the ablation's variants done
            store.update_run(ablation_id, step=len(started) - 1)

    outcomes = run_queue(catalog, data_dir, store_path, stop, on_created, only=list(names))
    return {o.run_id: o for o in outcomes}


def _transfers(
    config: AblationConfig,
    ablation_id: str,
    entries: list[dict[str, Any]],
    outcomes: dict[str, Outcome],
    catalog: dict[str, TaskSpec],
    data_dir: Path | None,
    store_path: Path,
    stop: threading.Event,
    report: Progress,
) -> None:
    """A transfer from each finished variant; its id goes into the variant's entry."""
    assert config.transfer is not None
    done = [e for e in entries if _status(outcomes, e["run_id"]) == "finished"]
    for i, entry in enumerate(done):
        if stop.is_set():
            return
        report(i / len(done), f"transfer {i + 1}/{len(done)}: {entry['name']}")
        settings = {
            # The variant's own base model: the gain is its pre-finetuning's alone.
            "base_model": _model(store_path, entry["run_id"]),
            "checkpoint": CHECKPOINT,
            **config.transfer,
            "source": entry["run_id"],
            "name": f"{config.title}: {entry['name']} transfer",
        }

        def progress(f: float, m: str, i: int = i) -> None:
            report((i + f) / len(done), m)

        entry["transfer_id"] = transfer(
            transfer_config(settings, "the ablation's transfer"),
            catalog,
            data_dir,
            store_path,
            stop,
            progress,
        )
        _save_entries(store_path, ablation_id, entries)


def _model(store_path: Path, run_id: str) -> str:
    with RunStore(store_path) as store:
        return store.get_run(run_id).run_config().model


def _status(outcomes: dict[str, Outcome], run_id: str) -> str:
    outcome = outcomes.get(run_id)
    return outcome.status if outcome is not None else "queued"


def _finish(
    ablation_id: str,
    entries: list[dict[str, Any]],
    outcomes: dict[str, Outcome],
    store_path: Path,
    stop: threading.Event,
) -> None:
    failed = [e["name"] for e in entries if _status(outcomes, e["run_id"]) == "failed"]
    with RunStore(store_path) as store:
        # Read from the store: another queue worker may have taken a variant meanwhile.
        waiting = [e["name"] for e in entries if _stored_status(store, e["run_id"]) == "queued"]
        store.update_run(ablation_id, step=len(entries) - len(waiting))
        if failed:
            store.add_log(ablation_id, "warning", f"variants that failed: {', '.join(failed)}")
        if waiting:
            store.add_log(
                ablation_id,
                "info",
                f"variants still queued (`python -m studio queue run` trains them): "
                f"{', '.join(waiting)}",
            )
        if stop.is_set() or waiting:
            store.set_status(ablation_id, "stopped")
        elif len(failed) == len(entries):
            store.set_status(ablation_id, "failed", error="every variant failed")
        else:
            store.set_status(ablation_id, "finished")


def _stored_status(store: RunStore, run_id: str) -> str | None:
    try:
        return store.get_run(run_id).status
    except KeyError:  # removed from the queue meanwhile
        return None

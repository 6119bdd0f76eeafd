"""The headless commands: `python -m studio tasks | train | demo | resume | export | finetune |
transfer | sweep | ablate | tune | results | runs | compare`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

from studio.cli import exports as cli_export
from studio.cli import models as cli_models
from studio.cli import runs as cli_runs
from studio.cli import tasks as cli_task
from studio.cli import tune as cli_tune
from studio.core import paths
from studio.core.config import presets
from studio.core.config.run import RunConfig, load_config
from studio.core.errors import StudioError
from studio.core.job_events import Created, JobEvent, Progress
from studio.core.jobs import (
    AblationRequest,
    AblationResult,
    ExportRequest,
    ExportResult,
    FinetuneOutcome,
    FinetuneRequest,
    JobRequest,
    JobResult,
    QueueRequest,
    QueueResult,
    ResumeRequest,
    RunOutcome,
    SweepRequest,
    SweepResult,
    TrainRequest,
    TransferRequest,
    TransferResult,
)
from studio.core.sink import NullSink, Sink
from studio.core.tasks.availability import resolve
from studio.core.tasks.spec import Catalog, studio_catalog

log = logging.getLogger("studio")


def options(cmd: argparse.ArgumentParser, *names: str) -> None:
    """The options several commands share: --data-dir, --tasks-dir, --store, --json."""
    if "data" in names:
        cmd.add_argument("--data-dir", help="folder of local task data (default: STUDIO_DATA_DIR)")
    if "tasks" in names:
        cmd.add_argument(
            "--tasks-dir",
            action="append",
            default=[],
            help="another folder of your own task specs (repeatable; also STUDIO_TASKS_DIR)",
        )
    if "store" in names:
        cmd.add_argument("--store", help="run store file (default: STUDIO_HOME/studio.db)")
    if "json" in names:
        cmd.add_argument("--json", action="store_true", help="print JSON")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studio", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str, *names: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=text)
        options(cmd, *names, *(("tasks",) if "data" in names else ()))
        return cmd

    command("tasks", "list the task catalog and where each task's data is", "data", "json")
    command("train", "run pre-finetuning from a YAML config", "data", "store").add_argument(
        "config", help="run config (YAML)"
    )
    demo = command("demo", "a short offline run on the synthetic demo suite", "store")
    demo.add_argument("--steps", type=int, default=30, help="optimizer updates (default 30)")
    resume = command("resume", "continue a stopped or interrupted run", "data", "store")
    resume.add_argument("run_id")
    resume.add_argument(
        "--allow-data-change",
        action="store_true",
        help="continue even though a task's training data changed since the checkpoint",
    )
    export = command("export", "export a checkpoint for transformers users", "store")
    export.add_argument("run_id")
    export.add_argument("out_dir")
    export.add_argument("--checkpoint", default="best", help="best (default), latest or a step")
    export.add_argument(
        "--hub-ready",
        action="store_true",
        help="a model card with the Hugging Face Hub's metadata (tasks, results), to upload as is",
    )
    for name, text in (
        ("finetune", "fine-tune an encoder on one target task"),
        ("transfer", "fine-tune base vs pre-finetuned on held-out tasks"),
        ("sweep", "pre-finetune on growing task subsets, transfer from each"),
    ):
        command(name, text, "data", "store", "json").add_argument(
            "config", help=f"{name} config (YAML)"
        )
    command(
        "ablate", "pre-finetune an ablation's variants, then compare them", "data", "store", "json"
    ).add_argument("config", help="ablation file (YAML): base, vary, transfer")
    command(
        "results", "the table of a transfer, sweep, ablation or tuning study", "store", "json"
    ).add_argument("run_id", help="a run id; for a study also its name or its file")
    cli_runs.add_parsers(sub, options)
    cli_tune.add_parsers(sub, options)
    _queue_parser(sub)
    cli_task.add_parser(sub, options)
    cli_export.add_parsers(sub, options)
    cli_models.add_parsers(sub, options)
    return parser


def catalog(args: argparse.Namespace) -> Catalog:
    """The built-in catalog and the user's library; a user file that cannot be read is a
    warning, never the end of the command."""
    loaded = studio_catalog(getattr(args, "tasks_dir", None) or ())
    for problem in loaded.problems:
        log.warning("task file left out: %s", problem)
    return loaded


def cmd_tasks(args: argparse.Namespace) -> int:
    data_dir = paths.data_dir(args.data_dir)
    rows: list[dict[str, Any]] = []
    for spec in catalog(args).tasks.values():
        where = resolve(spec, data_dir, paths.synthetic_dir())
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "family": spec.family,
                "format": spec.format,
                "origin": spec.origin,
                "file": spec.path,
                "source": where.source,
                "available": where.available,
                "reason": where.reason,
                "where": where.detail,
                "train_size": where.train_size,
                "validation_size": where.validation_size,
                "labels": list(spec.labels),
                "choices": spec.choices,
                "metric": spec.metric,
                "synthetic": spec.is_synthetic,
                "paper": spec.paper,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'task':<20} {'family':<15} {'format':<20} {'source':<10} {'train':>7}  status")
    for r in rows:
        size = "" if r["train_size"] is None else str(r["train_size"])
        status = "ok" if r["available"] else f"unavailable: {r['reason']}"
        tag = " (synthetic)" if r["synthetic"] else " (yours)" if r["origin"] == "user" else ""
        name = r["name"] + tag
        print(
            f"{name:<20} {r['family']:<15} {r['format']:<20} {r['source']:<10} {size:>7}  {status}"
        )
    return 0


class TqdmSink(NullSink):
    """A progress bar and log lines on stderr (a run's plan shows in its log lines)."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total, unit="update", file=sys.stderr, dynamic_ncols=True, disable=quiet
        )

    def metrics(self, rows: list[Any]) -> None:
        for row in rows:
            if row.name == "total_loss":
                self.bar.set_postfix(loss=f"{row.value:.4f}")

    def log(self, level: str, message: str) -> None:
        self.bar.write(f"[{level}] {message}", file=sys.stderr)

    def progress(self, step: int, total: int) -> None:
        self.bar.update(step - self.bar.n)

    def stage(self, text: str, fraction: float | None) -> None:
        self.bar.set_description_str(text, refresh=True)

    def checkpoint(self, step: int, path: str, metrics: Mapping[str, float]) -> None:
        self.bar.write(f"[info] checkpoint at update {step}: {path}", file=sys.stderr)

    def drop_checkpoint(self, step: int) -> None:
        pass

    def flush(self) -> None:
        self.bar.refresh()


@contextmanager
def stopping() -> Iterator[threading.Event]:
    """An event that the first Ctrl-C (or SIGTERM) sets, to stop gracefully; a second aborts."""
    stop = threading.Event()
    launched = "WORLD_SIZE" in os.environ  # under accelerate launch / torchrun

    def handler(signum: int, frame: object) -> None:
        # The launcher passes a Ctrl-C on to every process again: that is not a second one.
        if stop.is_set() and not launched:
            raise KeyboardInterrupt
        log.warning("stopping after the current update (press Ctrl-C again to abort)")
        stop.set()

    signals = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.signal(sig, handler) for sig in signals]
    try:
        yield stop
    finally:
        for sig, old in zip(signals, previous, strict=True):
            signal.signal(sig, old)


def cmd_train(args: argparse.Namespace) -> int:
    return _train(load_config(args.config), args)


def cmd_demo(args: argparse.Namespace) -> int:
    config = presets.demo_config(catalog(args).tasks, args.steps)
    args.data_dir = None
    return _train(config, args)


def _log_progress(event: JobEvent) -> None:
    if isinstance(event, Progress):
        log.info("%3.0f%% %s", 100 * event.fraction, event.message)


def _run(
    request: JobRequest,
    args: argparse.Namespace,
    store: Path,
    data_dir: Path | None,
    sink: Sink | None = None,
    emit: Callable[[JobEvent], None] = _log_progress,
    stoppable: bool = True,
) -> JobResult:
    """Run a request's use case, the one a window job runs, in a context built once: the
    catalog, the data folder and store, Ctrl-C as the stop flag (when the work can stop)."""
    from studio.jobs.context import Context
    from studio.jobs.operations import perform

    tasks = catalog(args).tasks if "tasks_dir" in args else {}
    with stopping() if stoppable else nullcontext(threading.Event()) as stop:
        context = Context(tasks, data_dir, store, stop, emit, sink, request.tag)
        return perform(request, context)


def _train(config: RunConfig, args: argparse.Namespace) -> int:
    store = _store(args, create=True)
    request = TrainRequest(config.to_dict())
    return _finish(request, args, store, paths.data_dir(args.data_dir), config.max_steps)


def _finish(
    request: JobRequest, args: argparse.Namespace, store: Path, data_dir: Path | None, total: int
) -> int:
    """Run a training request with a progress bar and Ctrl-C as Stop; print the run id last."""
    from studio.session import process_rank

    follower = process_rank() > 0  # under accelerate launch, the main process reports
    bar = TqdmSink(total, quiet=follower)
    try:
        outcome = _run(request, args, store, data_dir, bar)
    finally:
        bar.bar.close()
    assert isinstance(outcome, RunOutcome)
    if outcome.error:
        print(f"error: run {outcome.run_id} failed: {outcome.error}", file=sys.stderr)
    if not follower:
        print(outcome.run_id)
    return 0 if outcome.status != "failed" else 1


def cmd_resume(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    store = _store(args)
    with RunStore(store) as db:
        total = db.get_run(args.run_id).max_steps or 0
    data_dir = Path(args.data_dir) if args.data_dir else None  # else the run's own folder
    request = ResumeRequest(args.run_id, args.allow_data_change)
    return _finish(request, args, store, data_dir, total)


def cmd_export(args: argparse.Namespace) -> int:
    request = ExportRequest(args.run_id, args.checkpoint, args.out_dir, args.hub_ready)
    result = _run(request, args, _store(args), None, stoppable=False)
    assert isinstance(result, ExportResult)
    print(result.folder)
    return 0


def _store(args: argparse.Namespace, create: bool = False) -> Path:
    """The run store a command uses (--store, else STUDIO_HOME's).

    A mistyped --store must never leave folders and an empty store behind: its folder must
    exist, and a command that only reads (`create` False) needs the file itself. Only a
    command that records runs may start a new store, and only the default one creates its
    folders.
    """
    from studio.store import NoStore
    from studio.store.runs import missing_store

    path = Path(args.store) if args.store else paths.store_path()
    if (args.store and not path.parent.is_dir()) or (not create and not path.exists()):
        raise NoStore(missing_store(path))
    return path


def cmd_finetune(args: argparse.Namespace) -> int:
    from studio.core.experiments.transfer import load_yaml

    request = FinetuneRequest(load_yaml(args.config), args.config)
    result = _run(request, args, _store(args, create=True), paths.data_dir(args.data_dir))
    assert isinstance(result, FinetuneOutcome)
    row = {
        "run_id": result.run_id,
        "task": result.task,
        "k": result.examples,
        "seed": result.seed,
        "metric": result.metric,
        "value": result.value,
        "metrics": result.metrics,
        "head_reused": result.head_reused,
    }
    print(
        json.dumps(row, indent=1)
        if args.json
        else f"{result.task}: {result.metric} = {result.value:.4f} ({result.examples} examples)"
    )
    print(result.run_id)
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from studio.core.experiments.transfer import load_yaml, transfer_config

    config = transfer_config(load_yaml(args.config), args.config)
    total = len(config.targets) * len(config.sizes) * len(config.seeds) * 2
    bar = TqdmSink(total)

    def show(event: JobEvent) -> None:
        if isinstance(event, Progress):
            bar.progress(round(event.fraction * total), total)
            bar.bar.set_description(event.message)

    try:
        request = TransferRequest(config.to_dict())
        store = _store(args, create=True)
        result = _run(request, args, store, paths.data_dir(args.data_dir), emit=show)
    finally:
        bar.bar.close()
    assert isinstance(result, TransferResult)
    args.run_id = result.run_id
    return cmd_results(args)


def cmd_sweep(args: argparse.Namespace) -> int:
    from studio.core.experiments.transfer import load_yaml

    request = SweepRequest(load_yaml(args.config), args.config)
    result = _run(request, args, _store(args, create=True), paths.data_dir(args.data_dir))
    assert isinstance(result, SweepResult)
    args.run_id = result.run_id
    return cmd_results(args)


def cmd_ablate(args: argparse.Namespace) -> int:
    from studio.core.experiments.transfer import load_yaml
    from studio.store import RunStore

    path = Path(args.config)
    request = AblationRequest(load_yaml(path), str(path), str(path.parent))
    result = _run(request, args, _store(args, create=True), paths.data_dir(args.data_dir))
    assert isinstance(result, AblationResult)
    args.run_id = result.run_id
    code = cmd_results(args)
    with RunStore(_store(args)) as store:
        failed = store.get_run(args.run_id).status == "failed"  # every variant failed
    return 1 if failed else code


def _ablation_results(store: Any, args: argparse.Namespace) -> tuple[list[Any], str]:
    from studio.core.experiments.ablation_results import read_results, results_table

    metrics = {name: spec.metric for name, spec in catalog(args).tasks.items()}
    results = read_results(store, args.run_id, metrics)
    return [asdict(r) for r in results], results_table(results)


def cmd_results(args: argparse.Namespace) -> int:
    from studio.core.experiments.paired import table
    from studio.core.experiments.transfer import sweep_points
    from studio.store import RunStore

    if cli_tune.results(_store(args), args.run_id, args.json):
        return 0
    with RunStore(_store(args)) as store:
        run = store.get_run(args.run_id)
        if run.kind == "ablation":
            rows, text = _ablation_results(store, args)
        elif run.kind == "sweep":
            points = sweep_points(store.metrics_after(0, args.run_id))
            rows = [{"tasks": n, **v} for n, v in points.items()]
            text = "\n".join(
                f"{r['tasks']:>4} tasks: "
                + ", ".join(f"{k} {v:.4f}" for k, v in r.items() if k != "tasks")
                for r in rows
            )
        else:
            results = store.results(args.run_id)
            rows = [{k: v for k, v in asdict(r).items() if k != "transfer_id"} for r in results]
            text = table(results)
    print(json.dumps(rows, indent=1) if args.json else f"{text}\n{args.run_id}")
    return 0


def _queue_parser(sub: Any) -> None:
    """`queue add | list | run | remove | move`: runs saved now, trained one after another."""
    queue = sub.add_parser("queue", help="queue runs and train them one after another")
    verbs = queue.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="queue a run config (YAML) at the end of the queue")
    add.add_argument("config", help="run config (YAML)")
    add.add_argument("--name", help="the run's name (default: from its config)")
    options(add, "data", "tasks", "store")
    options(verbs.add_parser("list", help="the queued runs, next first"), "store", "json")
    work = verbs.add_parser("run", help="train the queued runs one after another (Ctrl-C: stop)")
    options(work, "data", "tasks", "store")
    remove = verbs.add_parser("remove", help="take a queued run out of the queue")
    remove.add_argument("run_id")
    options(remove, "store")
    move = verbs.add_parser("move", help="move a queued run to a place in the queue")
    move.add_argument("run_id")
    move.add_argument("position", type=int, help="its new place: 1 is next")
    options(move, "store")


def cmd_queue(args: argparse.Namespace) -> int:
    from studio import queue
    from studio.store import RunStore

    store_path = _store(args, create=args.verb == "add")
    if args.verb == "add":
        config = load_config(args.config)
        unknown = [t for t in config.tasks if t not in catalog(args).tasks]
        if unknown:
            raise StudioError(f"{args.config}: tasks: {unknown} are not in the task catalog")
        data_dir = Path(args.data_dir) if args.data_dir else None
        print(queue.enqueue(store_path, config, args.name, data_dir=data_dir))
    elif args.verb == "list":
        runs = queue.queued(store_path)
        rows: list[dict[str, Any]] = [
            {"position": i, "id": r.id, "name": r.name, "tasks": r.config.get("tasks")}
            for i, r in enumerate(runs, 1)
        ]
        if args.json:
            print(json.dumps(rows, indent=1))
        for r in [] if args.json else rows:
            print(f"{r['position']:>3}  {r['id']:<22} {r['name']}  [{', '.join(r['tasks'])}]")
    elif args.verb == "run":
        return _run_queue(args, store_path)
    else:
        with RunStore(store_path) as store:
            if args.verb == "remove":
                store.remove_queued(args.run_id)
            else:
                store.move_queued(args.run_id, args.position - 1)
    return 0


def _run_queue(args: argparse.Namespace, store_path: Path) -> int:
    """Train the queue with a bar per run; Ctrl-C stops the current run, the rest stay queued."""
    from studio.store import RunStore

    bar = TqdmSink(0)

    def started(event: JobEvent) -> None:
        if not isinstance(event, Created):
            return
        with RunStore(store_path) as store:
            run = store.get_run(event.run_id)
        bar.bar.reset(total=run.max_steps or 0)
        bar.bar.set_description_str(f"{event.run_id} {run.name}", refresh=True)

    try:
        data_dir = paths.data_dir(args.data_dir)
        result = _run(QueueRequest(), args, store_path, data_dir, bar, emit=started)
    finally:
        bar.bar.close()
    assert isinstance(result, QueueResult)
    outcomes = result.outcomes
    for o in outcomes:
        print(f"{o.run_id} {o.status} at update {o.step}" + (f": {o.error}" if o.error else ""))
    with RunStore(store_path) as store:
        left = len(store.queued_runs())
    log.info("%d run(s) trained; %d still queued", len(outcomes), left)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


COMMANDS = {
    "tasks": cmd_tasks,
    "train": cmd_train,
    "demo": cmd_demo,
    "resume": cmd_resume,
    "export": cmd_export,
    "finetune": cmd_finetune,
    "transfer": cmd_transfer,
    "sweep": cmd_sweep,
    "ablate": cmd_ablate,
    "results": cmd_results,
    **cli_runs.COMMANDS,
    **cli_tune.COMMANDS,
    **cli_export.COMMANDS,
    **cli_models.COMMANDS,
    "queue": cmd_queue,
    "task": lambda args: cli_task.VERBS[args.verb](args, catalog(args)),
}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

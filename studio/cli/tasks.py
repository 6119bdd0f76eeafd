"""`python -m studio task add | show | remove`: the user's task library from the command line.

The window's Add task wizard runs the same steps (inspect, draft a plan, stage, commit).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from studio.core import paths
from studio.core.errors import StudioError
from studio.core.importing.guessing import draft_plan, with_splits
from studio.core.importing.plan import CHOICE_LABELS, ImportPlan, SourceRef
from studio.core.importing.preview import describe_stats
from studio.core.jobs import InspectRequest, InspectResult, JobResult, StageRequest, StageResult
from studio.core.tasks import library
from studio.core.tasks.availability import resolve
from studio.core.tasks.formats import FAMILIES, FORMATS
from studio.core.tasks.spec import Catalog, TaskSpec

SHOWN_PROBLEMS = 20


def add_parser(sub: Any, common: Any) -> None:
    """The `task` command and its sub-commands."""
    task = sub.add_parser("task", help="add, show or remove a task of your own library")
    verbs = task.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="add a task from a file, a folder or a hub dataset")
    common(add, "tasks")
    add.add_argument("name", help="the new task's name (letters, digits, underscores)")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", help="the data (train) file: CSV, TSV, JSON/JSONL or Parquet")
    source.add_argument("--folder", help="a folder written by datasets' save_to_disk, or of files")
    source.add_argument("--hub", help="a Hugging Face dataset id (or a local clone of one)")
    add.add_argument("--validation", help="a second file holding the validation split")
    add.add_argument("--config", help="hub: the dataset's config (subset) name")
    add.add_argument("--revision", help="hub: a branch, tag or commit (refs/convert/parquet)")
    add.add_argument(
        "--hub-data-dir", help="hub: a folder of the repository (a config of the parquet export)"
    )
    add.add_argument("--train-split", default="train", help="folder/hub: split to train on")
    add.add_argument("--validation-split", help="folder/hub: split to validate on")
    add.add_argument(
        "--validation-fraction",
        type=float,
        help="carve this share of train (seeded) as validation (default 0.1 when there is no "
        "validation file or split)",
    )
    add.add_argument("--seed", type=int, default=13, help="seed of the carved validation split")
    add.add_argument("--format", choices=FORMATS, help="the task format (guessed when omitted)")
    add.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="a record field and its column; choices=A,B,C for one column per choice "
        "(fields not given are guessed from the column names)",
    )
    add.add_argument(
        "--labels",
        help="label values in label order, comma-separated; VALUE=NAME renames one "
        "(default: the label column's values, sorted)",
    )
    add.add_argument("--choice-label", choices=CHOICE_LABELS, help="multiple choice: label kind")
    add.add_argument("--title", default="")
    add.add_argument("--family", choices=FAMILIES, help="default: by format")
    add.add_argument("--metric", default="", help="default: the format's first metric")
    add.add_argument("--description", default="")
    add.add_argument("--skip-bad-rows", action="store_true", help="leave out rows that fail")
    add.add_argument("--replace", action="store_true", help="replace a task of your library")
    show = verbs.add_parser("show", help="a task's spec, sizes, labels and first records")
    common(show, "data", "tasks", "json")
    show.add_argument("name")
    show.add_argument("--rows", type=int, default=3, help="records to show (default 3)")
    remove = verbs.add_parser("remove", help="remove a task of your library and its records")
    common(remove, "tasks")
    remove.add_argument("name")


def _source(args: argparse.Namespace) -> SourceRef:
    if args.file:
        return SourceRef("files", args.file, validation=args.validation)
    if args.validation:
        raise StudioError("--validation goes with --file; use --validation-split with a folder")
    kind = "folder" if args.folder else "hub"
    return SourceRef(
        kind,
        args.folder or args.hub,
        config=args.config,
        revision=args.revision,
        data_dir=args.hub_data_dir,
        train_split=args.train_split,
        validation_split=args.validation_split,
    )


def _pairs(items: list[str], what: str) -> dict[str, tuple[str, ...]]:
    mapping: dict[str, tuple[str, ...]] = {}
    for item in items:
        field, sep, columns = item.partition("=")
        if not sep or not field.strip() or not columns.strip():
            raise StudioError(f"{what} {item!r} must look like FIELD=COLUMN")
        mapping[field.strip()] = tuple(c.strip() for c in columns.split(","))
    return mapping


def _labels(text: str | None) -> list[tuple[str, str]] | None:
    if not text:
        return None
    pairs = [item.partition("=") for item in text.split(",")]
    return [(v.strip(), (n if sep else v).strip()) for v, sep, n in pairs]


def _perform(request: InspectRequest | StageRequest) -> JobResult:
    """The use case a window job runs for `request` (studio.jobs.operations)."""
    from studio.jobs.context import Context
    from studio.jobs.operations import perform

    return perform(request, Context(kind=request.tag))


def plan_from_args(args: argparse.Namespace) -> ImportPlan:
    """Inspect the source, then draft a plan with the user's choices on top of the guesses."""
    ref = _source(args)
    carve = args.validation_fraction is not None
    inspected = _perform(InspectRequest(ref))
    assert isinstance(inspected, InspectResult)
    table = with_splits(inspected.table, ref.validation_split, carve)
    details = {
        "title": args.title,
        "family": args.family or "",
        "metric": args.metric,
        "description": args.description,
        "seed": args.seed,
    }
    if args.validation_fraction is not None:
        details["validation_fraction"] = args.validation_fraction
    return draft_plan(
        table,
        args.name,
        args.format,
        _pairs(args.map, "--map"),
        _labels(args.labels),
        args.choice_label,
        **details,
    )


def cmd_add(args: argparse.Namespace, catalog: Catalog) -> int:
    replacing = args.name if args.replace else None
    if args.replace and args.name in catalog.tasks:
        problem = library.removable(catalog.tasks[args.name])
        if problem:
            raise StudioError(f"cannot replace: {problem}")
    library.check_free(args.name, catalog.tasks, replacing)
    plan = plan_from_args(args)
    mapping = ", ".join(f"{k}={','.join(v)}" for k, v in plan.columns.items())
    print(f"{plan.name}: {plan.format}, {mapping}", file=sys.stderr)
    if plan.label_values:
        print(f"labels: {', '.join(plan.label_names)}", file=sys.stderr)
    staged = _perform(StageRequest(plan))
    assert isinstance(staged, StageResult)
    report = staged.report
    if report.bad_rows and not args.skip_bad_rows:
        library.discard(report.folder)
        for row in report.problems[:SHOWN_PROBLEMS]:
            print(f"  {row}", file=sys.stderr)
        more = report.bad_rows - min(len(report.problems), SHOWN_PROBLEMS)
        if more > 0:
            print(f"  … and {more} more", file=sys.stderr)
        raise StudioError(
            f"{report.bad_rows} row(s) cannot become records of '{plan.name}'; nothing was "
            "saved. Fix them, change the mapping, or add --skip-bad-rows to leave them out"
        )
    path = library.commit(plan, report, catalog.tasks, args.skip_bad_rows, replacing)
    skipped = f", {report.bad_rows} bad row(s) skipped" if report.bad_rows else ""
    skipped += f", {report.unlabelled} without a gold label" if report.unlabelled else ""
    sizes = report.sizes
    print(
        f"added {plan.name}: {sizes['train']:,} train / {sizes['validation']:,} validation "
        f"records{skipped}",
        file=sys.stderr,
    )
    print(path)
    return 0


def cmd_show(args: argparse.Namespace, catalog: Catalog) -> int:
    spec = _spec(catalog, args.name)
    where = resolve(spec, paths.data_dir(args.data_dir), paths.synthetic_dir())
    info: dict[str, Any] = {
        "name": spec.name,
        "title": spec.title,
        "origin": spec.origin,
        "file": spec.path,
        "family": spec.family,
        "format": spec.format,
        "metric": spec.metric,
        "labels": list(spec.labels),
        "choices": spec.choices,
        "source": where.source,
        "available": where.available,
        "where": where.detail or where.reason,
    }
    if spec.added:
        info["added"] = {k: v for k, v in spec.added.items() if k != "plan"}
    if where.available:
        from studio.train.data.preview import summary
        from studio.train.setup import Workspace

        ws = Workspace.default(catalog.tasks, paths.data_dir(args.data_dir))
        info |= summary(spec, where, ws, args.rows)
    if args.json:
        print(json.dumps(info, indent=1, default=str))
        return 0
    for key in ("name", "title", "origin", "file", "family", "format", "metric", "where"):
        print(f"{key + ':':<9} {info[key]}")
    if spec.labels or spec.choices:
        print(f"{'labels:':<9} {', '.join(spec.labels) or f'{spec.choices} choices'}")
    if not where.available:
        print("unavailable")
        return 0
    for split, stats in info["splits"].items():
        print(f"{split + ':':<11} {describe_stats(stats)}")
    for rec in info["records"]:
        print(json.dumps(rec, ensure_ascii=False)[:400])
    return 0


def cmd_remove(args: argparse.Namespace, catalog: Catalog) -> int:
    spec = _spec(catalog, args.name)
    library.remove(spec)
    print(f"removed {spec.name} ({spec.path})", file=sys.stderr)
    return 0


def _spec(catalog: Catalog, name: str) -> TaskSpec:
    if name not in catalog.tasks:
        broken = [p for p in catalog.problems if f"/{name}.yaml" in p]
        hint = f" ({broken[0]})" if broken else ""
        raise StudioError(f"no task named '{name}' in the catalog{hint}")
    return catalog.tasks[name]


VERBS = {"add": cmd_add, "show": cmd_show, "remove": cmd_remove}

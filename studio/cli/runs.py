"""`python -m studio runs [filters] | runs tag | note | rename | show` and `compare`: find runs
by their words, tags, status, task, model and date; label them; read one run with its manifest;
put runs side by side. None loads torch or Qt."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from studio.core import paths
from studio.core.compare import compare_runs, compare_table
from studio.core.errors import StudioError
from studio.core.manifest import session_label
from studio.core.run_query import RunQuery
from studio.core.run_record import KINDS, STATUSES, Run
from studio.core.segments import first_start, run_segments, worked_seconds
from studio.core.text import duration


def add_parsers(sub: Any, common: Any) -> None:
    """`runs` with its filters and verbs, and `compare`."""
    runs = sub.add_parser(
        "runs",
        help="list, search and label the runs in the store (marks dead ones interrupted)",
        description="Without a verb: list the runs (newest first), narrowed by the options.",
    )
    common(runs, "store", "json")
    runs.add_argument("--search", metavar="WORDS", help="words of the name, notes, tags or config")
    runs.add_argument("--tag", action="append", default=[], help="has this tag (repeatable)")
    runs.add_argument("--status", choices=STATUSES)
    runs.add_argument("--kind", choices=KINDS)
    runs.add_argument("--task", help="trained, fine-tuned or transferred to this task")
    runs.add_argument("--model", help="part of the base model's name or path")
    runs.add_argument("--since", metavar="DATE", help="first started on or after (YYYY-MM-DD)")
    runs.add_argument("--until", metavar="DATE", help="first started before (YYYY-MM-DD)")
    runs.add_argument("--starred", action="store_true", help="only starred runs")
    verbs = runs.add_subparsers(dest="verb", metavar="{tag,note,rename,star,show}")
    tag = verbs.add_parser("tag", help="add (+TAG) and remove (-TAG) tags: runs tag RUN +a -b")
    tag.add_argument("run_id")
    tag.add_argument("changes", nargs=argparse.REMAINDER, metavar="+TAG|-TAG")
    note = verbs.add_parser("note", help="set a run's notes ('' clears them)")
    note.add_argument("run_id")
    note.add_argument("text")
    rename = verbs.add_parser("rename", help="give a run a new name")
    rename.add_argument("run_id")
    rename.add_argument("name")
    star = verbs.add_parser("star", help="star a run (--off: unstar it)")
    star.add_argument("run_id")
    star.add_argument("--off", action="store_true")
    show = verbs.add_parser("show", help="one run: its facts, notes, tags, config and manifest")
    show.add_argument("run_id")
    for verb in (tag, note, rename, star, show):
        # SUPPRESS: an option given before the verb (`runs --store S tag ...`) is kept.
        verb.add_argument("--store", default=argparse.SUPPRESS, help="run store file")
    show.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    compare = sub.add_parser(
        "compare", help="runs side by side: each task's final and best validation metric"
    )
    common(compare, "store", "json")
    compare.add_argument("run_ids", nargs="+", metavar="RUN", help="two or more runs")


def _store_path(args: argparse.Namespace) -> Path:
    return Path(args.store) if args.store else paths.store_path()


def _date(text: str | None, option: str) -> float | None:
    if not text:
        return None
    try:
        return time.mktime(time.strptime(text, "%Y-%m-%d"))
    except ValueError:
        raise StudioError(f"{option} {text!r}: give a date as YYYY-MM-DD") from None


def run_json(run: Run) -> dict[str, Any]:
    """A run for `runs --json`: its columns, its sessions (`segments`, [start, end] each, end
    null while it runs), `first_started` and `duration_s`, their sum (a running one up to
    now), its tags, notes and star."""
    segments = [list(segment) for segment in run_segments(run)]
    return asdict(run) | {
        "tags": list(run.tags),
        "segments": segments,
        "first_started": first_start(run),
        "duration_s": round(worked_seconds(run), 3),
    }


def cmd_runs(args: argparse.Namespace) -> int:
    if args.verb is not None:
        return VERBS[args.verb](args)
    from studio.store import RunStore

    if not args.store and not paths.store_path().exists():  # a fresh STUDIO_HOME: no run yet
        print("[]" if args.json else f"no runs yet in {paths.store_path()} (try: demo)")
        return 0
    query = RunQuery(
        text=args.search or "", kind=args.kind, status=args.status, task=args.task,
        model=args.model, since=_date(args.since, "--since"), until=_date(args.until, "--until"),
        tags=tuple(args.tag), starred=args.starred,
    )  # fmt: skip
    with RunStore(_store_path(args), create=False) as store:
        dead = store.mark_interrupted()  # a read-only store: only shown as interrupted
        runs = store.find_runs(replace(query, status=None))
    runs = [replace(r, status="interrupted") if r.id in dead else r for r in runs]
    runs = [r for r in runs if not query.status or r.status == query.status]
    if args.json:
        print(json.dumps([run_json(r) for r in runs], indent=1, default=str))
        return 0
    print(f"{'id':<22} {'kind':<9} {'status':<12} {'step':>6}  name")
    for r in runs:
        extra = (" ★" if r.starred else "") + (f"  [{', '.join(r.tags)}]" if r.tags else "")
        print(f"{r.id:<22} {r.kind:<9} {r.status:<12} {r.step:>6}  {r.name}{extra}")
    return 0


def _tag(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    add: list[str] = []
    remove: list[str] = []
    words = list(args.changes)
    while words:
        word = words.pop(0)
        if word == "--store" and words:  # REMAINDER took the option too
            args.store = words.pop(0)
        elif word.startswith("--store="):
            args.store = word.split("=", 1)[1]
        elif word[:1] in "+-" and len(word) > 1:
            (add if word[0] == "+" else remove).append(word[1:])
        else:
            raise StudioError(f"runs tag: {word!r}: write +TAG to add a tag, -TAG to remove one")
    if not add and not remove:
        raise StudioError("runs tag RUN +TAG -TAG: name at least one tag to add or remove")
    with RunStore(_store_path(args), create=False) as store:
        try:
            tags = store.tag(args.run_id, add, remove)
        except ValueError as e:
            raise StudioError(str(e)) from e
    print(" ".join(tags) if tags else "(no tags)")
    return 0


def _note(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    with RunStore(_store_path(args), create=False) as store:
        store.set_notes(args.run_id, args.text)
    return 0


def _rename(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    with RunStore(_store_path(args), create=False) as store:
        try:
            store.rename(args.run_id, args.name)
        except ValueError as e:
            raise StudioError(str(e)) from e
    return 0


def _star(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    with RunStore(_store_path(args), create=False) as store:
        store.get_run(args.run_id)  # UnknownRun names a mistyped id
        store.set_starred(args.run_id, not args.off)
    return 0


def _show(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    with RunStore(_store_path(args), create=False) as store:
        run = store.get_run(args.run_id)
        manifests = store.manifests(run.id)
    if getattr(args, "json", False):
        shown = run_json(run) | {"manifests": [m.to_dict() for m in manifests]}
        print(json.dumps(shown, indent=1, default=str))
        return 0
    print(show_text(run, manifests))
    return 0


def show_text(run: Run, manifests: list[Any]) -> str:
    """`runs show RUN` as text: the facts, notes, config and each session's manifest."""
    started = first_start(run)
    facts = [
        ("name", run.name + (" ★" if run.starred else "")),
        ("id", run.id),
        ("kind", run.kind),
        ("status", run.status + (f": {run.error}" if run.error else "")),
        ("base model", run.base_model),
        ("steps", f"{run.step} / {run.max_steps or '?'}"),
        ("started", time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started else ""),
        ("duration", duration(worked_seconds(run)) if run_segments(run) else ""),
        ("tags", ", ".join(run.tags)),
        ("source run", run.source_run or ""),
    ]
    lines = [f"{k + ':':<12} {v}" for k, v in facts if v]
    if run.notes:
        lines += ["", "notes:", *(f"  {line}" for line in run.notes.splitlines())]
    config = yaml.safe_dump(dict(run.config), sort_keys=False, allow_unicode=True)
    lines += ["", "config:", *(f"  {line}" for line in config.splitlines())]
    for i, manifest in enumerate(manifests):
        lines += ["", f"manifest, {session_label(i, manifest)}:"]
        lines += [f"  {k + ':':<22} {v}" for k, v in manifest.rows()]
    if not manifests:
        lines += ["", "manifest: none recorded (a run from before manifests, or never trained)"]
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    from studio.store import RunStore

    ids = list(dict.fromkeys(args.run_ids))
    if len(ids) < 2:
        raise StudioError("compare: name two or more different runs")
    with RunStore(_store_path(args), create=False) as store:
        runs = [store.get_run(i) for i in ids]  # UnknownRun names a mistyped id
        rows = {i: store.validation_rows(i) for i in ids}
    comparison = compare_runs([(r.id, r.name or r.id) for r in runs], rows)
    print(json.dumps(comparison.to_dict(), indent=1) if args.json else compare_table(comparison))
    return 0


VERBS = {"tag": _tag, "note": _note, "rename": _rename, "star": _star, "show": _show}
COMMANDS = {"runs": cmd_runs, "compare": cmd_compare}

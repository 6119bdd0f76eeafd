"""What a run's report shows, read from the store: one builder per run kind (BUILDERS), and
`write_report`, which renders it (core.report) to one HTML file."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.errors import StudioError
from studio.core.experiments.ablation_results import read_results, table_rows, variant_entries
from studio.core.experiments.paired import compare, tally
from studio.core.experiments.transfer import (
    MODELS,
    examples_by_size,
    summarize,
    sweep_curves,
    sweep_points,
    transfer_curves,
)
from studio.core.files import check_output, write_atomically
from studio.core.manifest import Manifest
from studio.core.metric_catalogue import (
    EVAL_MEAN,
    EVAL_PREFIX,
    LOSS,
    TOTAL_LOSS,
    higher_is_better,
    is_eval_name,
    task_metric,
)
from studio.core.mixing.plan import RunPlan, task_mix
from studio.core.report.page import Report, Table, render
from studio.core.report.svg_chart import Chart, Line
from studio.core.run_record import Run
from studio.core.segments import first_start, run_segments, worked_seconds
from studio.core.tasks.spec import studio_catalog
from studio.store.runs import RunStore

log = logging.getLogger(__name__)

Series = dict[tuple[str | None, str], list[tuple[int, float | None, float]]]
Builder = Callable[[RunStore, Run], Report]
MODEL_LABELS = {"base": "base model", "pretuned": "pre-finetuned"}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _stamp(seconds: float | None) -> str:
    return "" if not seconds else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def series_of(store: RunStore, run_id: str) -> Series:
    """(task, name) -> [(step, value, wall_time)] of every metric of a run, in step order."""
    out: Series = {}
    for row in store.metrics_after(0, run_id):
        out.setdefault((row["task"], row["name"]), []).append(
            (int(row["step"]), row["value"], float(row["wall_time"] or 0.0))
        )
    for points in out.values():
        points.sort(key=lambda p: p[0])
    return out


def _line(label: str, points: list[tuple[int, float | None, float]], dashed: bool = False) -> Line:
    return Line(label, tuple(float(p[0]) for p in points), tuple(p[1] for p in points), dashed)


def _values(points: list[tuple[int, float | None, float]]) -> list[float]:
    return [p[1] for p in points if p[1] is not None]


def _wall_time(run: Run) -> str:
    """The sum of the run's sessions (core.segments): a resumed run's whole time, not its last
    session's; "" while it runs or before it started."""
    segments = run_segments(run)
    if not segments or segments[-1][1] is None:
        return ""
    sessions = f" in {len(segments)} sessions" if len(segments) > 1 else ""
    return f"{worked_seconds(run) / 60:.1f} min{sessions}"


def _facts(store: RunStore, run: Run) -> tuple[tuple[str, str], ...]:
    started, finished, took = first_start(run), run.finished, _wall_time(run)
    facts = [
        ("Name", run.name),
        ("Id", run.id),
        ("Kind", run.kind),
        ("Status", run.status),
        ("Base model", run.base_model),
        ("Steps", f"{run.step} / {run.max_steps or '?'}"),
        ("Created", _stamp(run.created)),
        ("Started", _stamp(started)),
        ("Finished", _stamp(finished)),
        ("Wall time", took),
        ("Source run", run.source_run or ""),
        ("Error", run.error or ""),
        ("Store", str(store.path)),
        ("Report written", _stamp(time.time())),
    ]
    return tuple((k, v) for k, v in facts if v)


def environment(run: Run, plan: RunPlan, manifests: list[Manifest]) -> Table:
    """What the run recorded of its machine: its latest session's manifest (versions, device,
    data, seed); where sessions differed, each earlier value beside it. A run from before
    manifests were kept shows its device setting, device and host, and says so."""
    rows = [
        ("device setting", run.device or "—"),
        ("device used", plan.device or "—"),
        ("host", run.host or "—"),
    ]
    if not manifests:
        note = (
            "This run recorded no manifest (it ran before the studio kept them, or never"
            " trained): no library versions, data fingerprints or seed are known for it."
        )
        return Table("Environment", ("what", "value"), tuple(rows), note)
    earlier = [dict(m.rows()) for m in manifests[:-1]]
    for what, value in manifests[-1].rows():
        before = [e[what] for e in earlier if e.get(what) not in (None, value)]
        shown = value + "".join(f" (earlier session: {b})" for b in dict.fromkeys(before))
        rows.append((what, shown))
    resumes = len(manifests) - 1
    also = f" and on each of its {resumes} resume(s)" if resumes else ""
    note = (
        f"Recorded by the job process when the run started{also}: the latest session's values,"
        " with an earlier session's where it differed."
    )
    return Table("Environment", ("what", "value"), tuple(rows), note)


def _base(store: RunStore, run: Run, **parts: Any) -> Report:
    return Report(
        title=run.name or run.id,
        kind=run.kind,
        facts=_facts(store, run),
        config=dict(run.config),
        environment=environment(run, store.plan(run.id), store.manifests(run.id)),
        **parts,
    )


def _mix_table(store: RunStore, run: Run, series: Series) -> Table:
    """The task plan the run recorded (store.plan), beside the shares it really drew."""
    last = {
        (t, n): v[-1][1] for (t, n), v in series.items() if t is not None and v[-1][1] is not None
    }
    rows = task_mix(run.config, store.plan(run.id).tasks, last)
    cells = tuple(
        (
            r.task,
            "—" if r.examples is None else f"{r.examples:,}",
            _fmt(r.share, 3),
            _fmt(r.observed, 3),
            "—" if r.size is None else f"{r.size:,}",
            _fmt(r.scale),
        )
        for r in rows
    )
    config = run.config
    note = (
        f"sampling {config.get('sampling')}"
        + (f" (T = {config.get('temperature')})" if config.get("sampling") == "temperature" else "")
        + f", cap {config.get('examples_cap') or 'none'}, loss scaling"
        f" {config.get('loss_scaling')}, mixing {config.get('mixing')}. Share: the sampling"
        " probability the run planned from the config and the task sizes; drawn: the share of"
        " examples it really drew; n: the size of the task's decision that set a log-n loss"
        " scale. — : not recorded (a run from before plans were recorded)."
    )
    columns = ("task", "examples", "share", "drawn", "n", "loss scale")
    return Table("Tasks, shares and loss scales", columns, cells, note)


def _eval_table(series: Series) -> Table:
    """Each task's evaluation metrics: the last value and the best (highest, lowest for loss)."""
    rows = []
    for (task, name), points in sorted(series.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        values = _values(points)
        if not is_eval_name(name) or not values:
            continue
        best = max(values) if higher_is_better(name) else min(values)
        shown = task_metric(name) or name.removeprefix(EVAL_PREFIX)
        rows.append((task or "(mean)", shown, _fmt(values[-1]), _fmt(best)))
    return Table("Validation", ("task", "metric", "final", "best"), tuple(rows))


def _training_charts(series: Series) -> tuple[Chart, ...]:
    tasks = sorted({t for t, n in series if t is not None and n == LOSS})
    evals = sorted((t, n) for t, n in series if t is not None and task_metric(n))
    charts = [
        Chart("Total loss", (_line("total loss", series.get((None, TOTAL_LOSS), [])),)),
        Chart("Per-task loss", tuple(_line(t, series[(t, LOSS)]) for t in tasks)),
        Chart(
            "Validation",
            (
                _line("mean", series.get((None, EVAL_MEAN), []), dashed=True),
                *(_line(f"{t} {task_metric(n)}", series[(t, n)]) for t, n in evals),
            ),
        ),
    ]
    return tuple(c for c in charts if any(line.x for line in c.lines))


def pretrain_report(store: RunStore, run: Run) -> Report:
    series = series_of(store, run.id)
    checkpoints = tuple(
        (str(c["step"]), ", ".join(f"{k} {v:.4f}" for k, v in c["metrics"].items()), c["path"])
        for c in store.checkpoints(run.id)
    )
    tables = [_eval_table(series)]
    if checkpoints:
        tables.append(Table("Checkpoints", ("step", "metrics", "path"), checkpoints))
    mix = _mix_table(store, run, series) if run.config.get("tasks") else None
    return _base(store, run, mix=mix, charts=_training_charts(series), tables=tuple(tables))


def finetune_report(store: RunStore, run: Run) -> Report:
    series = series_of(store, run.id)
    return _base(store, run, charts=_training_charts(series), tables=(_eval_table(series),))


def transfer_report(store: RunStore, run: Run) -> Report:
    results = store.results(run.id)
    cells, ks = summarize(results), examples_by_size(results)
    rows = []
    for c in compare(results):
        k = ks.get((c.target, c.size))
        rows.append(
            (
                c.target,
                f"{k:,}" if k else c.size,
                c.metric,
                "—" if c.baseline is None else f"{c.baseline:.4f}",
                f"{c.base:.4f} ± {c.base_std:.4f}",
                f"{c.pretuned:.4f} ± {c.pretuned_std:.4f}",
                f"{c.gain:+.4f}",
                "—" if c.low is None else f"[{c.low:+.4f}, {c.high:+.4f}]",
                str(c.seeds),
                c.verdict + (" (leaked)" if c.leaked else ""),
            )
        )
    columns = (
        "target", "k", "metric", "majority", "base", "pre-finetuned", "gain", "95% interval",
        "seeds", "verdict",
    )  # fmt: skip
    summary = Table(f"Transfer, paired by seed: {tally(compare(results))}", columns, tuple(rows))
    raw_columns = ("target", "k", "size", "seed", "model", "metric", "value", "run")
    raw = tuple(
        (r.target, str(r.k), r.size, str(r.seed), r.model, r.metric, _fmt(r.value), r.run_id or "")
        for r in results
    )
    curves = transfer_curves(cells, ks)
    charts = tuple(
        Chart(
            target,
            tuple(
                Line(MODEL_LABELS[m], curves[(target, m)].x, curves[(target, m)].y, markers=True)
                for m in MODELS
                if (target, m) in curves
            ),
            x_label="training examples",
            y_label=next(c.metric for c in cells if c.target == target),
            log_x=True,
        )
        for target in sorted({c.target for c in cells})
    )
    all_results = Table("Every fine-tuning result", raw_columns, raw)
    return _base(store, run, charts=charts, tables=(summary, all_results))


def sweep_report(store: RunStore, run: Run) -> Report:
    points = sweep_points(store.metrics_after(0, run.id))
    rows = tuple(
        (
            str(n),
            _fmt(p.get("base_mean")),
            _fmt(p.get("pretuned_mean")),
            "" if p.get("gain") is None else f"{p['gain']:+.4f}",
        )
        for n, p in points.items()
    )
    columns = ("tasks in mix", "base mean", "pre-finetuned mean", "gain")
    lines = tuple(
        Line(MODEL_LABELS[m], c.x, c.y, dashed=m == "base", markers=True)
        for m, c in sweep_curves(points).items()
    )
    chart = Chart("Mean target metric vs. tasks in the mix", lines, "tasks in the mix", "metric")
    children = _children_table(store, run)
    tables = (Table("Sweep", columns, rows), *((children,) if children.rows else ()))
    return _base(store, run, charts=(chart,) if lines else (), tables=tables)


def _children_table(store: RunStore, run: Run) -> Table:
    """The runs this one started (an ablation's variants, a sweep's subsets)."""
    children = [r for r in store.list_runs() if r.source_run == run.id]
    rows = []
    for child in reversed(children):  # oldest first: the order they were started
        mean = _values([(0, v, 0.0) for _, v, _ in store.metric_series(child.id, EVAL_MEAN)])
        took = _wall_time(child)
        rows.append(
            (
                child.name,
                child.kind,
                child.status,
                _fmt(mean[-1] if mean else None),
                _fmt(max(mean) if mean else None),
                took,
                child.id,
            )
        )
    columns = ("run", "kind", "status", "final val. mean", "best val. mean", "wall time", "id")
    return Table("Runs started by this one", columns, tuple(rows))


def _primary_metrics(store: RunStore, run_ids: list[str]) -> dict[str, str]:
    """Each task's primary metric: the catalog's, else the first one a run evaluated."""
    known = {name: spec.metric for name, spec in studio_catalog().tasks.items()}
    found: dict[str, str] = {}
    for run_id in run_ids:
        for row in store.metrics_after(0, run_id):
            metric, task = task_metric(row["name"]), row["task"]
            if task and metric:
                found.setdefault(task, metric)
    return found | {t: m for t, m in known.items() if t in found}


def ablation_report(store: RunStore, run: Run) -> Report:
    """The variants side by side: core.ablation_results' table and their curves overlaid."""
    entries = [e for e in variant_entries(run) if e.get("run_id")]
    ids = [str(e["run_id"]) for e in entries]
    rows = read_results(store, run.id, _primary_metrics(store, ids))
    header, body = table_rows(rows)
    note = "Δ vs base: the final validation mean minus the base variant's."
    table = Table("Variants", tuple(header), tuple(tuple(r) for r in body), note)
    charts = []
    for title, name in (("Total loss", TOTAL_LOSS), ("Validation mean", EVAL_MEAN)):
        lines = tuple(
            _line(str(e["name"]), [(s, v, w) for s, v, w in store.metric_series(i, name)])
            for e, i in zip(entries, ids, strict=True)
        )
        if any(line.x for line in lines):
            charts.append(Chart(f"{title} of every variant", lines))
    return _base(store, run, charts=tuple(charts), tables=(table,))


def tune_report(store: RunStore, run: Run) -> Report:
    """A tuning study: its trials (best first marked), the objective by trial with the best so
    far, and the parameter importances, from the summary the study keeps in its run."""
    from studio.core.experiments.study_summary import StudySummary

    summary = StudySummary.from_dict(dict(run.config.get("summary") or {}))
    keys = sorted({k for t in summary.trials for k in t.params})
    best = summary.best.number if summary.best is not None else None
    rows = tuple(
        (
            f"{t.number}{' (best)' if t.number == best else ''}",
            t.state + (" (interrupted)" if t.interrupted else ""),
            _fmt(t.value),
            t.run_id or "",
            *(_cell(t.params.get(k)) for k in keys),
        )
        for t in summary.trials
    )
    tables = [Table("Trials", ("trial", "state", "value", "run", *keys), rows)]
    if summary.importances:
        shares = tuple((k, f"{v:.3f}") for k, v in summary.importances.items())
        tables.append(Table("Parameter importance (Optuna, fANOVA)", ("setting", "share"), shares))
    done = [(t.number, t.value) for t in summary.trials if t.state == "complete" and t.value]
    lines = []
    if done:
        xs, ys = zip(*done, strict=True)
        lines.append(Line("trial", tuple(float(x) for x in xs), tuple(ys), markers=True))
        curve = summary.best_so_far()
        lines.append(
            Line("best so far", tuple(float(n) for n, _ in curve), tuple(v for _, v in curve))
        )
    chart = Chart("Objective by trial", tuple(lines), "trial", "objective")
    return _base(store, run, charts=(chart,) if lines else (), tables=tuple(tables))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# The report of each run kind; a new kind is one entry here.
BUILDERS: dict[str, Builder] = {
    "pretrain": pretrain_report,
    "finetune": finetune_report,
    "transfer": transfer_report,
    "sweep": sweep_report,
    "ablation": ablation_report,
    "tune": tune_report,
}


def build_report(store: RunStore, run_id: str) -> Report:
    """The report of one run; UnknownRun for an id the store does not have."""
    run = store.get_run(run_id)
    builder = BUILDERS.get(run.kind)
    if builder is None:
        raise StudioError(f"run {run_id} is of kind {run.kind!r}, which has no report")
    return builder(store, run)


def write_report(store_path: Path, run_id: str, out: Path, force: bool = False) -> Path:
    """Write the HTML report of a run to `out`; returns the file written.

    The studio's own files are refused, and an existing `out` unless `force`.
    """
    out = check_output(out, store_path, force)
    with RunStore(store_path, create=False) as store:  # only reads: never makes a store
        text = render(build_report(store, run_id))
    write_atomically(out, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    log.info("wrote the report of %s to %s", run_id, out)
    return out

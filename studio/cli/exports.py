"""`python -m studio export-metrics | report`: a run's results to take away, as a table of its
metric rows (CSV, Parquet) or one self-contained HTML report. Neither loads torch or Qt."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.core import paths


def _metrics_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--store", help="run store file (default: STUDIO_HOME/studio.db)")
    cmd.add_argument(
        "--format", help="csv (default) or parquet: one row per run, step, task and metric"
    )
    _force_option(cmd)


def _force_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--force", action="store_true", help="replace OUT if it exists")


def _metrics_parser() -> argparse.ArgumentParser:
    """RUN_ID... OUT with the options anywhere between: argparse's intermixed parsing, which a
    parser with sub-commands cannot do itself."""
    parser = argparse.ArgumentParser(
        prog="python -m studio export-metrics",
        description="Every metric row of runs as one tidy table (run, step, task, name, value).",
    )
    _metrics_options(parser)
    parser.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="runs to export")
    parser.add_argument("out", help="the file to write")
    return parser


def add_parsers(sub: Any, common: Any) -> None:
    """The `export-metrics` and `report` commands."""
    metrics = sub.add_parser(
        "export-metrics",
        help="every metric row of runs as one tidy CSV or Parquet table",
        usage="python -m studio export-metrics RUN_ID... [--format csv|parquet] [--store S] OUT",
    )
    _metrics_options(metrics)
    metrics.add_argument("arguments", nargs=argparse.REMAINDER, metavar="RUN_ID... OUT")
    report = sub.add_parser(
        "report", help="one self-contained HTML report of a run, transfer, sweep or ablation"
    )
    common(report, "store")
    report.add_argument("run_id")
    report.add_argument("out", help="the HTML file to write")
    _force_option(report)


def _store(args: argparse.Namespace) -> Path:
    return Path(args.store) if args.store else paths.store_path()


def cmd_export_metrics(args: argparse.Namespace) -> int:
    from studio.store.tables import export_metrics

    inner = _metrics_parser().parse_intermixed_args(args.arguments)
    store = _store(argparse.Namespace(store=inner.store or args.store))
    fmt = inner.format or args.format or "csv"
    force = inner.force or args.force
    count = export_metrics(store, inner.run_ids, fmt, Path(inner.out), force=force)
    print(f"{count} rows")
    print(inner.out)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from studio.store.report_data import write_report

    print(write_report(_store(args), args.run_id, Path(args.out), force=args.force))
    return 0


COMMANDS = {"export-metrics": cmd_export_metrics, "report": cmd_report}

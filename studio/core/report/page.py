"""A run's report as one self-contained HTML file: facts, config, task mix, curves (inline SVG),
results tables and environment. Pure rendering: every text is escaped, nothing is fetched, no
script runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

import yaml

from studio.core.report.svg_chart import Chart, render_chart


@dataclass(frozen=True)
class Table:
    """A titled table of text cells; `note` is shown under it."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Report:
    """Everything a report shows, gathered from the store for one run of any kind."""

    title: str
    kind: str
    facts: tuple[tuple[str, str], ...]  # id, status, base model, dates, ...
    config: dict[str, Any]
    mix: Table | None = None
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    environment: Table | None = None
    notes: tuple[str, ...] = field(default=())


STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #222; max-width: 1100px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px;
     border-bottom: 1px solid #ddd; padding-bottom: 3px; }
table { border-collapse: collapse; margin: 8px 0; } caption { text-align: left;
        font-weight: bold; padding: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f7f7f7; border: 1px solid #e3e3e3; padding: 8px; overflow-x: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } .note { color: #666; font-size: 12px; }
.kind { color: #666; font-weight: normal; }
"""


def _numeric(text: str) -> bool:
    stripped = text.replace(",", "").replace("±", "").replace(" ", "").lstrip("+-")
    return bool(stripped) and stripped.replace(".", "", 1).replace("e-", "").isdigit()


def render_table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    thead = f"<thead><tr>{head}</tr></thead>" if table.columns else ""
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{escape(v)}</td>' if _numeric(v) else f"<td>{escape(v)}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return (
        f"<table><caption>{escape(table.title)}</caption>{thead}"
        f"<tbody>{''.join(body)}</tbody></table>{note}"
    )


def render(report: Report) -> str:
    """The report as an HTML5 document with its styles and charts inline."""
    facts = Table("Run", (), tuple((k, v) for k, v in report.facts))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>",
        f'<h1>{escape(report.title)} <span class="kind">({escape(report.kind)})</span></h1>',
        render_table(facts),
    ]
    parts += [f'<p class="note">{escape(n)}</p>' for n in report.notes]
    if report.mix is not None:
        parts += ["<h2>Task mix</h2>", render_table(report.mix)]
    if report.charts:
        charts = "".join(f"<figure>{render_chart(c)}</figure>" for c in report.charts)
        parts += ["<h2>Curves</h2>", f'<div class="charts">{charts}</div>']
    if report.tables:
        parts += ["<h2>Results</h2>", *(render_table(t) for t in report.tables)]
    # YAML, as the commands read it: the block can be saved as a config file again.
    text = yaml.safe_dump(report.config, sort_keys=False, allow_unicode=True)
    parts += ["<h2>Config</h2>", f"<pre>{escape(text)}</pre>"]
    if report.environment is not None:
        parts += ["<h2>Environment</h2>", render_table(report.environment)]
    parts.append("</body></html>")
    return "\n".join(parts)

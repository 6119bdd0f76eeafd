"""Line charts as standalone SVG text: pure Python, so a report needs neither Qt nor a browser
script to show its curves."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from studio.core.colours import palette

MAX_POINTS = 400  # per line: a report stays small however long the run was
WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 28, 40
LEGEND_ROW = 16
Scale = Callable[[float], float]  # axis units to SVG pixels


@dataclass(frozen=True)
class Line:
    """One series: x and y (None or NaN where there is no value), drawn dashed or solid."""

    label: str
    x: tuple[float, ...]
    y: tuple[float | None, ...]
    dashed: bool = False
    markers: bool = False


@dataclass(frozen=True)
class Chart:
    title: str
    lines: tuple[Line, ...]
    x_label: str = "step"
    y_label: str = ""
    log_x: bool = False
    log_y: bool = False


def _finite(value: float | None, log: bool) -> bool:
    return value is not None and math.isfinite(value) and (not log or value > 0)


def _points(line: Line, chart: Chart) -> list[tuple[float, float] | None]:
    """(x, y) in axis units (log10 where the axis is log); None breaks the line."""
    stride = max(1, math.ceil(len(line.x) / MAX_POINTS))
    out: list[tuple[float, float] | None] = []
    for i in range(0, len(line.x), stride):
        x, y = line.x[i], line.y[i]
        if not (_finite(x, chart.log_x) and _finite(y, chart.log_y)):
            out.append(None)
            continue
        assert y is not None  # _finite said so
        out.append(
            (math.log10(x) if chart.log_x else x, math.log10(y) if chart.log_y else float(y))
        )
    return out


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) covering low..high."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _label(value: float, log: bool) -> str:
    return f"{10**value:.3g}" if log else f"{value:.4g}"


def _span(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-12:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.04
    return low - pad, high + pad


def render_chart(chart: Chart, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The chart as one <svg> element; a chart without a finite point says so in its frame."""
    lines = [(line, _points(line, chart)) for line in chart.lines]
    found = [p for _, pts in lines for p in pts if p is not None]
    legend_rows = math.ceil(len(lines) / 4) if len(lines) > 1 else 0
    top = TOP + legend_rows * LEGEND_ROW
    plot_w, plot_h = width - LEFT - RIGHT, height - top - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="img" aria-label="{escape(chart.title)}">',
        f"<title>{escape(chart.title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2:.1f}" y="17" text-anchor="middle" font-size="13"'
        f' font-weight="bold" fill="#333">{escape(chart.title)}</text>',
    ]
    if not found:
        parts.append(
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" font-size="12"'
            ' fill="#7f7f7f">no values recorded</text></svg>'
        )
        return "".join(parts)
    (x0, x1), (y0, y1) = _span([p[0] for p in found]), _span([p[1] for p in found])

    def sx(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (y - y0) / (y1 - y0) * plot_h

    parts += _axes(chart, (x0, x1, y0, y1), sx, sy, top, plot_w, plot_h, height)
    for i, ((line, pts), colour) in enumerate(zip(lines, palette(len(lines)), strict=True)):
        parts += _polylines(line, pts, colour, sx, sy)
        if legend_rows:
            lx, ly = LEFT + (i % 4) * (plot_w / 4), TOP + (i // 4) * LEGEND_ROW
            dash = ' stroke-dasharray="5 3"' if line.dashed else ""
            parts.append(
                f'<line x1="{lx:.1f}" y1="{ly - 4}" x2="{lx + 18:.1f}" y2="{ly - 4}"'
                f' stroke="{colour}" stroke-width="2"{dash}/>'
                f'<text x="{lx + 22:.1f}" y="{ly}" font-size="10" fill="#333">'
                f"{escape(line.label[:28])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _axes(
    chart: Chart,
    bounds: tuple[float, float, float, float],
    sx: Scale,
    sy: Scale,
    top: float,
    plot_w: float,
    plot_h: float,
    height: float,
) -> list[str]:
    x0, x1, y0, y1 = bounds
    out = [
        f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none"'
        ' stroke="#999" stroke-width="1"/>'
    ]
    for y in nice_ticks(y0, y1):
        py = sy(y)
        out.append(
            f'<line x1="{LEFT}" y1="{py:.1f}" x2="{LEFT + plot_w}" y2="{py:.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 4}" y="{py + 3:.1f}" text-anchor="end" font-size="10"'
            f' fill="#555">{_label(y, chart.log_y)}</text>'
        )
    for x in nice_ticks(x0, x1):
        px = sx(x)
        out.append(
            f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" stroke="#eee"/>'
            f'<text x="{px:.1f}" y="{top + plot_h + 13}" text-anchor="middle" font-size="10"'
            f' fill="#555">{_label(x, chart.log_x)}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" font-size="11"'
        f' fill="#555">{escape(chart.x_label)}{" (log)" if chart.log_x else ""}</text>'
    )
    if chart.y_label:
        mid = top + plot_h / 2
        out.append(
            f'<text x="12" y="{mid:.1f}" transform="rotate(-90 12 {mid:.1f})"'
            f' text-anchor="middle" font-size="11" fill="#555">{escape(chart.y_label)}'
            f"{' (log)' if chart.log_y else ''}</text>"
        )
    return out


def _polylines(
    line: Line, pts: list[tuple[float, float] | None], colour: str, sx: Scale, sy: Scale
) -> list[str]:
    """One <polyline> per unbroken run of points, and a dot per point when asked."""
    segments: list[list[tuple[float, float]]] = [[]]
    for p in pts:
        if p is None:
            segments.append([])
        else:
            segments[-1].append((sx(p[0]), sy(p[1])))
    dash = ' stroke-dasharray="5 3"' if line.dashed else ""
    out = []
    for seg in segments:
        if not seg:
            continue
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}>'
            f"<title>{escape(line.label)}</title></polyline>"
        )
        if line.markers or len(seg) == 1:
            out += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in seg]
    return out

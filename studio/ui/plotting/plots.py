"""Plot building blocks for the Monitor: a task palette, plot panels and their curves."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSizePolicy

from studio.core import colours
from studio.ui.plotting.export import add_menu
from studio.ui.plotting.series import MINUTES, SMOOTH, STEP, VALUE, Series
from studio.ui.style import AXIS, TITLE

RAW_ALPHA = 60  # the faint raw curve drawn under a smoothed one
LEGEND_MAX = 8  # above this many entries the side task list is the legend; a box would hide data
RUN_STYLES = (
    Qt.PenStyle.SolidLine,
    Qt.PenStyle.DashLine,
    Qt.PenStyle.DotLine,
    Qt.PenStyle.DashDotLine,
)


def palette(count: int) -> list[QColor]:
    """`count` distinguishable colours (studio.core.colours: the reports use the same)."""
    return [QColor(c) for c in colours.palette(count)]


@dataclass
class Curve:
    """The two persistent items of one series: the main line and the faint raw one beneath."""

    main: pg.PlotDataItem
    shadow: pg.PlotDataItem
    series: Series
    colour: QColor
    style: Qt.PenStyle
    label: str
    smoothed: bool = False  # whether `main` draws the EMA (then the shadow draws raw values)
    width: float = 1.5


def dress(plot: pg.PlotItem, title: str, colour: str = TITLE) -> None:
    """The studio's look of a plot: a bold title, a faint grid, grey axes."""
    plot.setTitle(title, size="10pt", color=colour, bold=True)
    # Keep the view box menu (View All) but not the plot menu, whose transforms and
    # downsampling switches would fight the views' own controls.
    plot.setMenuEnabled(False, enableViewBoxMenu=True)
    add_menu(plot)  # Save plot as PNG / SVG
    plot.showGrid(x=True, y=True, alpha=0.15)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(AXIS)
        axis.setTextPen(AXIS)


class _YAxis(pg.AxisItem):
    """A y axis whose log mode labels 1, 2 and 5 per decade; labelling 1..9 makes them overlap."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        strings: list[str] = super().tickStrings(values, scale, spacing)
        if not self.logMode:
            return strings
        digits = [round(10 ** (v - math.floor(v))) for v in values]
        kept = [s if d in (1, 2, 5, 10) else "" for s, d in zip(strings, digits, strict=True)]
        # Within a narrow range (say 2.2 to 4) that would leave no label at all.
        return kept if sum(bool(s) for s in kept) >= 2 else strings


class PlotPanel:
    """One titled plot whose curves are created once per key and then only fed new data."""

    def __init__(
        self,
        plot: pg.PlotItem,
        title: str,
        smoothable: bool = False,
        loggable: bool = False,
        symbols: bool = False,
    ) -> None:
        self.plot = plot
        self.smoothable = smoothable
        self.loggable = loggable
        self.symbols = symbols
        self.curves: dict[tuple, Curve] = {}
        self.smoothing = False
        self.log_y = False
        self.x_row = STEP
        self._detail = False  # zoomed in: curves get every point, clipped to the view
        self._flat: float | None = None  # the constant every curve holds, while they do
        plot.setAxisItems({"left": _YAxis("left")})
        dress(plot, title)
        # Without these, addItem would reset each curve to "draw every point".
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            # Two tick levels, and a cached axis: the third level's faint grid lines made each
            # repaint of the seven plots cost ~50 ms; now the curves dominate.
            axis.setStyle(maxTickLevel=1)
            axis.setCacheMode(axis.CacheMode.DeviceCoordinateCache)
        plot.getAxis("left").setWidth(56)
        plot.vb.sigStateChanged.connect(self._on_view_changed)
        # The legend sits in its own row between the title and the data (where the hidden top
        # axis would be), so it never covers a curve.
        self.legend = pg.LegendItem(
            labelTextSize="8pt", labelTextColor=TITLE, frame=False, horSpacing=4, colCount=1
        )
        # Ignored width: a long legend is clipped rather than widening the plot out of view.
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.legend.setParentItem(plot)
        self.legend.hide()
        self._legend_shown = False
        plot.layout.removeItem(plot.getAxis("top"))
        self.marker = pg.PlotDataItem(
            [], [], pen=None, symbol="o", symbolSize=9, symbolBrush="#ffffff", symbolPen="#000000"
        )
        plot.addItem(self.marker, ignoreBounds=True)
        self.marker.setZValue(100)

    def set_x_axis(self, axis: str) -> None:
        """'step' or 'time' (minutes); refeeds every curve."""
        self.x_row = STEP if axis == "step" else MINUTES
        label = "step" if axis == "step" else "minutes"
        self.plot.setLabel("bottom", label, color=AXIS, size="8pt")
        self.mark(None)
        self.refresh_all()

    def ensure(
        self,
        key: tuple,
        series: Series,
        colour: QColor,
        style: Qt.PenStyle,
        label: str,
        width: float = 1.5,
    ) -> Curve:
        """The curve for `key`, created (with its pens and legend entry) on first use only."""
        curve = self.curves.get(key)
        if curve is not None:
            return curve
        shadow, main = pg.PlotDataItem(), pg.PlotDataItem()
        curve = Curve(main, shadow, series, QColor(colour), style, label, width=width)
        self.curves[key] = curve
        for item in (shadow, main):
            self.plot.addItem(item)
            # After addItem, which applies the plot's modes to the item (set in __init__ too).
            # Peak downsampling keeps spikes visible; clipping skips points outside a zoom.
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        self.legend.addItem(main, label)
        # A legend click hides `main` only; keep its faint shadow in step.
        sample = self.legend.items[-1][0]
        sample.sigClicked.connect(lambda item, c=curve: self.set_visible_curve(c, item.isVisible()))
        self._style(curve)
        # One legend row per run: as many columns as one run has curves here.
        per_run = len({k[1:] for k in self.curves})
        if per_run != self.legend.columnCount:
            self.legend.setColumnCount(per_run)
        self._show_legend(2 <= len(self.curves) <= LEGEND_MAX)
        return curve

    def refresh(self, key: tuple) -> None:
        """Hand one curve its series' current data (views or an envelope: no full copies)."""
        curve = self.curves[key]
        smoothed = self.smoothing and self.smoothable and curve.series.alpha > 0
        curve.main.setData(*curve.series.drawable(self.x_row, SMOOTH, self._detail))
        if smoothed:
            curve.shadow.setData(*curve.series.drawable(self.x_row, VALUE, self._detail))
        elif curve.smoothed:
            curve.shadow.setData([], [])  # drop the old arrays rather than keep them alive
        curve.smoothed = smoothed
        self._fit_flat()

    def _fit_flat(self) -> None:
        """A plot whose curves are all one constant (a fixed learning rate, equal shares)
        shows it on an axis around its value: pyqtgraph's ±0.5 would read 2e-5 as 0."""
        values = [c.series.value for c in self.curves.values() if c.series.n]
        finite = [v[np.isfinite(v)] for v in values]
        finite = [v for v in finite if v.size]
        if not finite:
            return
        lo, hi = min(float(v.min()) for v in finite), max(float(v.max()) for v in finite)
        flat = hi - lo <= 1e-9 * max(abs(hi), 1e-30)
        if flat and self._flat != lo:
            pad = abs(lo) * 0.5 or 1.0
            self.plot.setYRange(lo - pad, lo + pad, padding=0)  # turns y auto-range off
        elif not flat and self._flat is not None:
            self.plot.enableAutoRange(axis="y")
        self._flat = lo if flat else None

    def refresh_all(self) -> None:
        for key in self.curves:
            self.refresh(key)

    def _on_view_changed(self) -> None:
        # Following the data (x auto-range) draws envelopes; a zoom or pan draws every point,
        # which pyqtgraph clips to the view, so detail appears where the user looks.
        detail = not self.plot.vb.autoRangeEnabled()[0]
        if detail != self._detail:
            self._detail = detail
            self.refresh_all()

    def _show_legend(self, on: bool) -> None:
        layout = self.plot.layout
        # Only a legend in the layout takes a row; a hidden one would still hold its row open.
        if on:
            # As wide as its entries, centred, instead of stretched over the plot's width.
            self.legend.setMaximumWidth(self.legend.layout.preferredWidth() + 8)
            if not self._legend_shown:
                layout.addItem(self.legend, 1, 1)
                layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignHCenter)
                self.legend.show()
        elif self._legend_shown:
            layout.removeItem(self.legend)
            self.legend.hide()
        self._legend_shown = on

    def hide_legend(self) -> None:
        """Leave the legend out until the next curve: for a view that names its curves
        elsewhere (the Ablation tab's table), where long names would squeeze the data."""
        self._show_legend(False)

    def clear(self) -> None:
        """Remove every curve (a new set of runs is shown)."""
        for curve in self.curves.values():
            self.plot.removeItem(curve.main)
            self.plot.removeItem(curve.shadow)
        self.curves.clear()
        self.legend.clear()
        self._show_legend(False)
        self.mark(None)
        # An empty plot keeps its last view: the next run's would open on this one's ranges.
        self.plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.plot.enableAutoRange()
        self._flat = None

    def _style(self, curve: Curve) -> None:
        smooth = self.smoothing and self.smoothable
        width = curve.width + (0.5 if smooth else 0.0)
        curve.main.setPen(pg.mkPen(curve.colour, width=width, style=curve.style))
        faint = QColor(curve.colour)
        faint.setAlpha(RAW_ALPHA)
        curve.shadow.setPen(pg.mkPen(faint, width=1, style=curve.style))
        curve.shadow.setVisible(smooth and curve.main.isVisible())
        if self.symbols:
            curve.main.setSymbol("o")
            curve.main.setSymbolSize(5)
            curve.main.setSymbolBrush(curve.colour)
            curve.main.setSymbolPen(curve.colour)

    def set_colour(self, key: tuple, colour: QColor) -> None:
        curve = self.curves[key]
        curve.colour = QColor(colour)
        self._style(curve)

    def set_smoothing(self, on: bool) -> None:
        self.smoothing = on
        for curve in self.curves.values():
            self._style(curve)

    def set_log(self, on: bool) -> None:
        if self.loggable:
            self.log_y = on
            self.plot.setLogMode(x=False, y=on)

    def set_visible(self, key: tuple, visible: bool) -> None:
        self.set_visible_curve(self.curves[key], visible)

    def set_visible_curve(self, curve: Curve, visible: bool) -> None:
        curve.main.setVisible(visible)
        curve.shadow.setVisible(visible and self.smoothing and self.smoothable)

    def hover(self, scene_pos: QPointF) -> str | None:
        """Mark the curve point nearest a scene position and describe it; None if there is none."""
        hit = (
            self._nearest(scene_pos)
            if self.plot.vb.sceneBoundingRect().contains(scene_pos)
            else None
        )
        if hit is None:
            self.mark(None)
            return None
        curve, i = hit
        x, y = curve.series.row(self.x_row)[i], curve.series.smooth[i]
        self.mark((x, y))
        where = f"step {x:,.0f}" if self.x_row == STEP else f"time {x:.2f} min"
        raw = f"   (raw {curve.series.value[i]:.5g})" if curve.smoothed else ""
        return f"{curve.label}   {where}   {y:.5g}{raw}"

    def _nearest(self, scene_pos: QPointF) -> tuple[Curve, int] | None:
        """The visible curve point closest (in pixels) to a scene position, or None."""
        here = self.plot.vb.mapSceneToView(scene_pos)
        px, py = self.plot.vb.viewPixelSize()
        best: tuple[float, Curve, int] | None = None
        for curve in self.curves.values():
            x, ys = curve.series.row(self.x_row), curve.series.row(SMOOTH)
            if not curve.main.isVisible() or x.size == 0:
                continue
            i = int(np.searchsorted(x, here.x()))  # x is sorted: only two candidates per curve
            for j in (i - 1, i):
                if not 0 <= j < x.size or not math.isfinite(ys[j]) or (self.log_y and ys[j] <= 0):
                    continue
                y = math.log10(ys[j]) if self.log_y else ys[j]
                d = math.hypot((x[j] - here.x()) / px, (y - here.y()) / py)
                if best is None or d < best[0]:
                    best = (d, curve, j)
        return None if best is None else (best[1], best[2])

    def mark(self, point: tuple[float, float] | None) -> None:
        """Put the hover marker on a data point (raw coordinates), or hide it."""
        if point is None:
            self.marker.setData([], [])
        else:
            self.marker.setData([point[0]], [point[1]])


def panel_grid(
    specs: dict[str, tuple[str, bool, bool, bool, int, int, int, int]],
) -> tuple[pg.GraphicsLayoutWidget, dict[str, PlotPanel]]:
    """A white canvas of panels; a spec is (title, smoothable, loggable, symbols, row, column,
    row span, column span)."""
    graphics = pg.GraphicsLayoutWidget()
    graphics.setBackground("w")
    graphics.ci.setSpacing(6)
    panels = {}
    for key, (title, smooth, logy, symbols, row, col, rs, cs) in specs.items():
        item = graphics.addPlot(row=row, col=col, rowspan=rs, colspan=cs)
        panels[key] = PlotPanel(item, title, smooth, logy, symbols)
    return graphics, panels

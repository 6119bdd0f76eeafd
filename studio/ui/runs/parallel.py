"""A parallel-coordinates plot: the chosen runs' differing numeric settings, one vertical axis
each, and a chosen metric as the last axis; one line per run, coloured by that metric."""

from __future__ import annotations

from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.core.compare import Axis


def _colour(fraction: float | None) -> tuple[int, int, int]:
    """Blue (low) to orange (high); grey for a run without the metric."""
    if fraction is None:
        return (150, 150, 150)
    low, high = (49, 104, 180), (230, 120, 20)
    return tuple(round(a + (b - a) * fraction) for a, b in zip(low, high, strict=True))  # type: ignore[return-value]


class ParallelCoordinates(QWidget):
    """The plot with its metric chooser; `settings`: the differing numeric settings' axes,
    `metrics`: the axes a user may choose to colour and end the plot with."""

    def __init__(
        self,
        names: Sequence[str],
        settings: Sequence[Axis],
        metrics: Sequence[Axis],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.names, self.settings, self.metrics = list(names), list(settings), list(metrics)
        self.metric_combo = QComboBox()
        for axis in self.metrics:
            self.metric_combo.addItem(axis.name)
        self.metric_combo.currentIndexChanged.connect(lambda _: self.draw())
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.hideAxis("left")
        self.plot.setMouseEnabled(False, False)
        self.plot.addLegend(offset=(-10, 10))
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Metric"))
        chooser.addWidget(self.metric_combo, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(chooser)
        layout.addWidget(self.plot, 1)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.draw()

    @property
    def axes(self) -> list[Axis]:
        """What is drawn, left to right: the settings, then the chosen metric."""
        index = self.metric_combo.currentIndex()
        return self.settings + ([self.metrics[index]] if 0 <= index < len(self.metrics) else [])

    def draw(self) -> None:
        self.plot.clear()
        axes = self.axes
        self.note.setText(
            "Each vertical axis runs from the lowest to the highest value among these runs."
            if self.settings
            else "These runs' numeric settings are all the same: only the metric differs."
        )
        if not axes:
            return
        metric = axes[-1].scaled() if self.metrics else (None,) * len(self.names)
        scaled = [axis.scaled() for axis in axes]
        for i, axis in enumerate(axes):  # the axes themselves, with their ranges
            self.plot.plot([i, i], [0, 1], pen=pg.mkPen((180, 180, 180), width=1))
            low, high = axis.span
            for y, value in ((0.0, low), (1.0, high)):
                label = pg.TextItem(
                    f"{value:.4g}", color=(90, 90, 90), anchor=(0.5, 0 if y == 0 else 1)
                )
                label.setPos(i, -0.04 if y == 0 else 1.04)
                self.plot.addItem(label)
        for run, name in enumerate(self.names):
            points = [(i, s[run]) for i, s in enumerate(scaled) if s[run] is not None]
            pen = pg.mkPen(_colour(metric[run]), width=2)
            self.plot.plot([p[0] for p in points], [p[1] for p in points], pen=pen, symbol="o",
                           symbolSize=6, symbolBrush=pen.color(), name=name)  # fmt: skip
        ticks = [(i, axis.name) for i, axis in enumerate(axes)]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.setXRange(-0.3, len(axes) - 0.7, padding=0)
        self.plot.setYRange(-0.12, 1.12, padding=0)

"""Plots to PNG and SVG files: one plot from its context menu, every shown plot of a tab."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.ui.monitor.view import MonitorView
from studio.ui.plotting import export as plot_export
from studio.ui.plotting.export import export_plot, file_stem, has_data, plot_title, save_plots
from studio.ui.plotting.plots import panel_grid
from studio.ui.plotting.series import Series
from studio.ui.transfer.plots import TransferPlots
from tests.ui.helpers import state_for

SVG = "{http://www.w3.org/2000/svg}"
SOLID = Qt.PenStyle.SolidLine
SPECS = {
    "total": ("Total loss", True, True, False, 0, 0, 1, 1),
    "task": ("Per-task loss", True, False, False, 0, 1, 1, 1),
    "empty": ("Nothing yet", False, False, False, 1, 0, 1, 2),
}


@pytest.fixture
def grid(qtbot):
    graphics, panels = panel_grid(SPECS)
    qtbot.addWidget(graphics)
    graphics.resize(900, 600)
    graphics.show()
    for key, task in (("total", None), ("task", "<rte>")):
        series = Series()
        steps = np.arange(1, 51, dtype=float)
        series.extend(steps, 3.0 / steps, steps / 60)
        panels[key].ensure(("r", task, "loss"), series, QColor("#1f77b4"), SOLID, task or "total")
        panels[key].refresh(("r", task, "loss"))
    qtbot.waitExposed(graphics)
    yield panels  # the canvas lives until the test ends
    graphics.close()


def test_png_has_the_asked_width_and_the_plot_aspect(grid, tmp_path: Path) -> None:
    plot = grid["total"].plot
    path = export_plot(plot, tmp_path / "sub" / "total.png", width=800)
    image = QImage(str(path))
    assert not image.isNull()
    rect = plot.sceneBoundingRect()
    assert image.width() == 800
    assert image.height() == pytest.approx(800 * rect.height() / rect.width(), abs=2)
    # A white background with the curve's blue somewhere on it.
    assert QColor(image.pixel(3, 3)).name() == "#ffffff"
    blue = [image.pixelColor(x, y).name() for x in range(0, 800, 4) for y in range(image.height())]
    assert "#1f77b4" in blue


def test_svg_parses_and_holds_the_curve(grid, tmp_path: Path) -> None:
    path = export_plot(grid["task"].plot, tmp_path / "task.svg")
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    # The curve, in its colour: Qt writes it as polylines (one per segment) or a path.
    points = set()
    for group in root.iter(f"{SVG}g"):
        if group.get("stroke") != "#1f77b4":
            continue
        for shape in group:
            if shape.tag in (f"{SVG}path", f"{SVG}polyline"):
                text = shape.get("points") or shape.get("d") or ""
                points |= {p.lstrip("ML") for p in text.split()}
    assert len(points) == 50
    with pytest.raises(ValueError, match="png or svg"):
        export_plot(grid["task"].plot, tmp_path / "task.jpg")


def test_save_plots_writes_every_plot_with_data_named_from_its_title(grid, tmp_path) -> None:
    plots = [p.plot for p in grid.values()]
    assert [has_data(p) for p in plots] == [True, True, False]
    written = save_plots(plots, tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["per-task-loss.png", "per-task-loss.svg", "total-loss.png", "total-loss.svg"]
    # Two plots of one title keep both files.
    again = save_plots([plots[0], plots[0]], tmp_path / "twice")
    assert sorted(p.name for p in again) == [
        "total-loss-2.png", "total-loss-2.svg", "total-loss.png", "total-loss.svg"
    ]  # fmt: skip


def test_names_from_rich_titles() -> None:
    assert file_stem("Validation (primary metric; dashed: mean)") == (
        "validation-primary-metric-dashed-mean"
    )
    assert file_stem("<&>") == "plot"


def test_context_menu_saves_one_plot(grid, tmp_path, monkeypatch) -> None:
    plot = grid["total"].plot
    texts = [a.text() for a in plot.vb.menu.actions()]
    assert "Save plot as PNG…" in texts and "Save plot as SVG…" in texts
    target = tmp_path / "chosen"  # no suffix: the format's is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    svg = next(a for a in plot.vb.menu.actions() if a.text() == "Save plot as SVG…")
    svg.trigger()
    assert ET.parse(tmp_path / "chosen.svg").getroot().tag == f"{SVG}svg"


def test_monitor_and_transfer_tabs_have_a_save_button(qtbot, tmp_path, monkeypatch) -> None:
    monitor = MonitorView(state_for(tmp_path / "studio.db", {}))
    qtbot.addWidget(monitor)
    button = next(
        b for b in monitor.findChildren(plot_export.QPushButton) if "Save plots" in b.text()
    )
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda *a: told.append(a[2]))
    button.click()  # no run shown: nothing to save, and it says so
    assert told == ["No plot shows data yet."]

    plots = TransferPlots()
    qtbot.addWidget(plots)
    plots.show_sweep({4: {"base_mean": 0.5, "pretuned_mean": 0.6, "gain": 0.1}})
    assert (
        plot_title(plots.plots["sweep"]) == "Mean target metric vs. number of pre-finetuning tasks"
    )
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    written = plot_export.save_dialog(plots, list(plots.plots.values()))
    assert [p.name for p in written] == [
        "mean-target-metric-vs-number-of-pre-finetuning-tasks.png",
        "mean-target-metric-vs-number-of-pre-finetuning-tasks.svg",
    ]
    assert told[-1].startswith("2 files")

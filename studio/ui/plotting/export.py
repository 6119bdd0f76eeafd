"""Plots to files: PNG and SVG through pyqtgraph's exporters, from a plot's context menu or every
shown plot of a tab at once ("Save plots…")."""

from __future__ import annotations

import html
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from studio.ui.file_dialogs import choose_folder, save_file

log = logging.getLogger(__name__)

PNG_WIDTH = 1200  # pixels: sharp in a paper draft whatever the plot's size on screen
FORMATS = ("png", "svg")


def plot_title(plot: pg.PlotItem) -> str:
    """The plot's title as plain text (titles are set as escaped rich text)."""
    text = str(plot.titleLabel.text or "")
    return html.unescape(re.sub(r"<[^>]*>", "", text)).strip()


def file_stem(title: str) -> str:
    """A file name from a title: lower case, words joined by dashes; 'plot' when nothing is left."""
    words = re.findall(r"[^\W_]+", title.lower())
    return "-".join(words)[:80] or "plot"


def has_data(plot: pg.PlotItem) -> bool:
    """Whether a shown plot draws at least one point (an empty panel is not worth a file)."""
    if not plot.isVisible():
        return False
    for item in plot.listDataItems():
        x = getattr(item, "xData", None)
        if item.isVisible() and x is not None and len(x) > 0:
            return True
    return False


def export_plot(plot: pg.PlotItem, path: Path, width: int = PNG_WIDTH) -> Path:
    """Write one plot to `path`: PNG `width` pixels wide (height keeps the aspect) or SVG."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in FORMATS:
        raise ValueError(f"{path}: plots export as {' or '.join(FORMATS)}, not {kind or '?'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    import pyqtgraph.exporters as exporters  # here: the window opens without them

    if kind == "png":
        exporter = exporters.ImageExporter(plot)
        exporter.parameters()["width"] = int(width)
        exporter.export(str(path))
    else:
        with _open_paths():
            exporters.SVGExporter(plot).export(str(path))
    return path


def _reopen(d: str) -> str:
    """A path's data with each close ('Z') drawn as a line back to its sub-path's start."""
    tokens, start = [], ""
    for token in d.split():
        if token.upper() == "Z":
            tokens.append(f"L{start}" if start else "")
            continue
        if token.startswith("M"):
            start = token[1:]
        tokens.append(token)
    return " ".join(t for t in tokens if t)


@contextmanager
def _open_paths() -> Iterator[None]:
    """pyqtgraph's SVG exporter reads every path token as "x,y" and fails on the closing "Z"
    that Qt's SVG writer now puts after a rectangle (pyqtgraph issue #3495): while it exports,
    its coordinate pass gets paths without closes (the same shapes)."""
    module: Any = sys.modules["pyqtgraph.exporters.SVGExporter"]  # pyqtgraph's: untyped
    original = module.correctCoordinates

    def correct(node: Any, *args: Any, **kwargs: Any) -> Any:
        for element in node.getElementsByTagName("path"):
            d = element.getAttribute("d")
            if "Z" in d.upper().split():
                element.setAttribute("d", _reopen(d))
        return original(node, *args, **kwargs)

    module.correctCoordinates = correct
    try:
        yield
    finally:
        module.correctCoordinates = original


def save_plots(plots: Iterable[pg.PlotItem], folder: Path, width: int = PNG_WIDTH) -> list[Path]:
    """Every plot that shows data to `folder`, as PNG and SVG, named from its title."""
    written: list[Path] = []
    used: set[str] = set()
    for plot in plots:
        if not has_data(plot):
            continue
        stem = base = file_stem(plot_title(plot))
        n = 1
        while stem in used:  # two plots with one title keep both files
            n += 1
            stem = f"{base}-{n}"
        used.add(stem)
        written += [export_plot(plot, Path(folder) / f"{stem}.{kind}", width) for kind in FORMATS]
    log.info("saved %d plot file(s) to %s", len(written), folder)
    return written


def add_menu(plot: pg.PlotItem) -> None:
    """'Save plot as PNG…' and '…SVG…' in the plot's context menu (its view box menu)."""
    menu = plot.vb.menu
    menu.addSeparator()
    for kind in FORMATS:
        action = menu.addAction(f"Save plot as {kind.upper()}…")
        action.triggered.connect(lambda _=False, k=kind: _ask_and_save(plot, k))


def _ask_and_save(plot: pg.PlotItem, kind: str) -> None:
    views = plot.scene().views() if plot.scene() is not None else []
    parent = views[0] if views else None
    name = f"{file_stem(plot_title(plot))}.{kind}"
    path, _ = save_file(parent, "plot", "Save plot", name, f"{kind.upper()} (*.{kind})")
    if not path:
        return
    if not path.lower().endswith(f".{kind}"):
        path += f".{kind}"
    try:
        export_plot(plot, Path(path))
    except (OSError, ValueError) as exc:
        QMessageBox.warning(parent, "The plot was not saved", f"{path}: {exc}")


def save_button(parent: QWidget, plots: Callable[[], Iterable[pg.PlotItem]]) -> QPushButton:
    """A 'Save plots…' button: every plot of `plots()` that shows data, to a chosen folder."""
    button = QPushButton("Save plots…")
    button.setToolTip("Save every plot shown here as PNG and SVG files in a folder you choose")
    button.clicked.connect(lambda: save_dialog(parent, list(plots())))
    return button


def save_dialog(parent: QWidget, plots: list[pg.PlotItem]) -> list[Path]:
    """Ask for a folder and save the plots there; says what was written or why not."""
    if not any(has_data(p) for p in plots):
        QMessageBox.information(parent, "Save plots", "No plot shows data yet.")
        return []
    folder = choose_folder(parent, "plot", "Save plots to folder")
    if not folder:
        return []
    try:
        written = save_plots(plots, Path(folder))
    except (OSError, ValueError) as exc:
        QMessageBox.warning(parent, "The plots were not saved", f"{folder}: {exc}")
        return []
    QMessageBox.information(
        parent, "Plots saved", f"{len(written)} files (PNG and SVG) in {folder}"
    )
    return written

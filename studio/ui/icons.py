"""The studio's icons: hand-written SVGs in `resources/icons/`, rendered crisply at each size."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

from studio.core import paths

ICONS_DIR = paths.package_dir("resources") / "icons"

# Rendered sizes; QIcon picks the nearest one, so small tree icons stay sharp.
SIZES = (16, 20, 24, 32, 48, 64, 128, 256)


def icon_path(name: str) -> Path:
    """Path of `resources/icons/<name>.svg` (it may not exist)."""
    return ICONS_DIR / f"{name}.svg"


def _render(svg: Path, size: int) -> QImage:
    """Rasterise an SVG to a transparent square image; needs QtSvg."""
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(Qt.GlobalColor.transparent))
    renderer = QSvgRenderer(str(svg))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


@functools.cache
def load_icon(name: str) -> QIcon:
    """The named icon, or an empty QIcon when the file is missing (icons are decoration)."""
    svg = icon_path(name)
    if not svg.is_file():
        png = svg.with_suffix(".png")
        return QIcon(str(png)) if png.is_file() else QIcon()
    try:
        icon = QIcon()
        for size in SIZES:
            icon.addPixmap(QPixmap.fromImage(_render(svg, size)))
        return icon
    except ImportError:  # a Qt build without QtSvg: let the image plugin try
        return QIcon(str(svg))


def family_icon(family: str) -> QIcon:
    """Icon of a task family: classification, commonsense, mrc or summarization."""
    return load_icon(f"family-{family}")


def app_icon() -> QIcon:
    """The application icon (window, taskbar, about box)."""
    return load_icon("app")

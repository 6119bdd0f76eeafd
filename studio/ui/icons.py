"""The studio's icons: hand-written SVGs in `resources/icons/`."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon

from studio.core import paths

ICONS_DIR = paths.package_dir("resources") / "icons"


def icon_path(name: str) -> Path:
    """Path of `resources/icons/<name>.svg` (it may not exist)."""
    return ICONS_DIR / f"{name}.svg"


@functools.cache
def load_icon(name: str) -> QIcon:
    """The named icon, or an empty QIcon when the file is missing (icons are decoration).

    Qt's SVG icon engine draws it at each size when first painted: crisp at any size, and
    nothing is drawn before the window shows."""
    svg = icon_path(name)
    if svg.is_file():
        return QIcon(str(svg))
    png = svg.with_suffix(".png")
    return QIcon(str(png)) if png.is_file() else QIcon()


def family_icon(family: str) -> QIcon:
    """Icon of a task family: classification, commonsense, mrc or summarization."""
    return load_icon(f"family-{family}")


def app_icon() -> QIcon:
    """The application icon (window, taskbar, about box)."""
    return load_icon("app")

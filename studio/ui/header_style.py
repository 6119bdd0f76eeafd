"""A table header whose sort arrow reads the way people read it: ▼ for descending (the newest
run first), ▲ for ascending.

QHeaderView hands the style SortDown for an ascending sort and SortUp for a descending one, and
Fusion (the style on Linux) draws SortUp as ▲: the Runs tab, newest first, looked sorted
ascending. This style swaps the two for the header it is set on.
"""

from __future__ import annotations

from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QProxyStyle, QStyle, QStyleOption, QStyleOptionHeader, QWidget

_SWAPPED = {
    QStyleOptionHeader.SortIndicator.SortUp: QStyleOptionHeader.SortIndicator.SortDown,
    QStyleOptionHeader.SortIndicator.SortDown: QStyleOptionHeader.SortIndicator.SortUp,
}


class SortArrowStyle(QProxyStyle):
    """The application's style, with the header sort arrow pointing the way rows run."""

    def drawPrimitive(  # noqa: N802 - Qt's name
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        if element == QStyle.PrimitiveElement.PE_IndicatorHeaderArrow and isinstance(
            option, QStyleOptionHeader
        ):
            option = QStyleOptionHeader(option)
            option.sortIndicator = _SWAPPED.get(option.sortIndicator, option.sortIndicator)
        super().drawPrimitive(element, option, painter, widget)


def use_sort_arrows(header: QWidget) -> SortArrowStyle:
    """Give `header` the swapped arrows; the style is parented to it (kept alive with it)."""
    style = SortArrowStyle(header.style().name())
    style.setParent(header)
    header.setStyle(style)
    return style

"""Series colours, the same in the window's plots and the reports' charts."""

from __future__ import annotations

import colorsys

# Tableau 10: distinct on white and colour-blind friendlier than evenly spaced hues.
TABLEAU_10 = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def palette(count: int) -> list[str]:
    """`count` distinct colours as '#rrggbb': Tableau 10 when it suffices, else evenly spaced
    hues at one lightness (a repeated colour would make two series one)."""
    if count <= len(TABLEAU_10):
        return list(TABLEAU_10[:count])
    out = []
    for i in range(count):
        r, g, b = colorsys.hsv_to_rgb(i / count, 0.75, 0.82)
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out

"""The views' one palette: what each colour means, so a status or a warning looks the same
in every tab."""

from __future__ import annotations

RED = "#c0392b"  # failures, errors, a negative gain
AMBER = "#b9770e"  # warnings: a stopped run, a leaked target
GREEN = "#1e8449"  # a finished run, a positive gain
BLUE = "#1f4e99"  # a running run, the pre-finetuned model
PURPLE = "#7d3c98"  # an interrupted run
TEAL = "#117a65"
GREY = "#777777"  # hints and placeholders beside the real content
AXIS = "#444444"  # plot axes and their labels
TITLE = "#222222"  # plot titles and legends

STATUS_COLOURS = {
    "running": BLUE,
    "finished": GREEN,
    "failed": RED,
    "stopped": AMBER,
    "interrupted": PURPLE,
}
# Statuses that ask the user to look: the Monitor colours only these, the Runs tab all.
ATTENTION = ("failed", "stopped", "interrupted")
# Run-wide curves of overlaid runs, in run order.
RUN_COLOURS = (BLUE, RED, GREEN, PURPLE, AMBER, TEAL)


def coloured(text: str, colour: str) -> str:
    """Rich text in one colour; `text` must already be HTML-escaped."""
    return f'<span style="color:{colour}">{text}</span>'

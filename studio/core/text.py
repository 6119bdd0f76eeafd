"""How durations are written, in the window and in the run's own progress text."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """'42s', '5m 03s', '2h 07m': short enough for a status line or a table cell."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"

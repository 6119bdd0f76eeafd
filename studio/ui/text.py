"""How the views write times: one duration format and one date format for every tab."""

from __future__ import annotations

import time


def duration(seconds: float) -> str:
    """'42s', '5m 03s', '2h 07m': short enough for a status line or a table cell."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds}s"


def date_time(stamp: float) -> str:
    """A wall-clock time as '2024-05-01 14:03', in local time."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))

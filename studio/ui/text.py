"""How the views write times: one duration format and one date format for every tab."""

from __future__ import annotations

import time

from studio.core.text import duration

__all__ = ["date_time", "duration"]


def date_time(stamp: float) -> str:
    """A wall-clock time as '2024-05-01 14:03', in local time."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))

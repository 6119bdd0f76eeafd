"""How the views write times: one duration format and one date format for every tab."""

from __future__ import annotations

import time

from studio.core.run_record import Run
from studio.core.segments import run_segments, worked_seconds
from studio.core.text import duration

__all__ = ["date_time", "duration", "run_duration"]


def date_time(stamp: float) -> str:
    """A wall-clock time as '2024-05-01 14:03', in local time."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def run_duration(run: Run) -> str:
    """How long a store's run has run (so far, while it runs): the sum of its sessions, so
    a resumed run counts every one (core.segments); '' before it started."""
    if not run_segments(run):
        return ""
    return duration(worked_seconds(run))

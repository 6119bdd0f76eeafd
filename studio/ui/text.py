"""How the views write times: one duration format and one date format for every tab."""

from __future__ import annotations

import time
from typing import Any

from studio.core.text import duration

__all__ = ["date_time", "duration", "run_duration"]


def date_time(stamp: float) -> str:
    """A wall-clock time as '2024-05-01 14:03', in local time."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def run_duration(run: dict[str, Any]) -> str:
    """How long a store's run row has run (so far, while it runs); '' before it started."""
    if not run.get("started"):
        return ""
    end = run.get("finished") or (time.time() if run["status"] == "running" else run["started"])
    return duration(end - run["started"])

"""A run's sessions of work ("segments"): a resumed run trained in several, each from a start
to a finish. Its Started is the first session's start and its duration the sum of them all, not
the last session alone (which would show 40 s for a run that trained two minutes).

The store attaches a run's segments to its row (`RunStore.get_run` / `list_runs`, key
`segments`); a row without them (one built elsewhere) has one: started..finished.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

Segment = tuple[float, float | None]  # (start, end); end None: the session still runs
SEGMENTS = "segments"  # the key of a run row that holds them


def run_segments(run: Mapping[str, Any]) -> list[Segment]:
    """The run's sessions, oldest first; [] for a run that never started."""
    stored: Sequence[Sequence[float | None]] | None = run.get(SEGMENTS)
    if stored is not None:
        return [(float(s), None if f is None else float(f)) for s, f in stored if s is not None]
    started = run.get("started")
    if not started:
        return []
    return [(float(started), current_end(run))]


def current_end(run: Mapping[str, Any]) -> float | None:
    """Where the run's latest session ends: its finish; None while it runs; for one that
    ended without a finish stamp (its process died unseen), its last heartbeat."""
    if run.get("finished"):
        return float(run["finished"])
    if run.get("status") == "running":
        return None
    end = run.get("heartbeat") or run.get("started")
    return None if end is None else float(end)


def first_start(run: Mapping[str, Any]) -> float | None:
    """When the run first started (None: never)."""
    segments = run_segments(run)
    return segments[0][0] if segments else None


def worked_seconds(run: Mapping[str, Any], now: float | None = None) -> float:
    """The sum of the run's sessions, a running one counted up to `now`."""
    now = time.time() if now is None else now
    return sum(max(0.0, (now if end is None else end) - start) for start, end in run_segments(run))

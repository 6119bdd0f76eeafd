"""A run's sessions of work ("segments"): a resumed run trained in several, each from a start
to a finish. Its Started is the first session's start and its duration the sum of them all, not
the last session alone (which would show 40 s for a run that trained two minutes).

The store gives a run its recorded segments (`RunStore.get_run` / `list_runs`, `Run.segments`);
a run without them (one built elsewhere) has one: started..finished.
"""

from __future__ import annotations

import time

from studio.core.run_record import Run, Segment

__all__ = ["Segment", "current_end", "first_start", "run_segments", "worked_seconds"]


def run_segments(run: Run) -> list[Segment]:
    """The run's sessions, oldest first; [] for a run that never started."""
    if run.segments is not None:
        return [(float(s), None if f is None else float(f)) for s, f in run.segments]
    if not run.started:
        return []
    return [(float(run.started), current_end(run))]


def current_end(run: Run) -> float | None:
    """Where the run's latest session ends: its finish; None while it runs; for one that
    ended without a finish stamp (its process died unseen), its last heartbeat."""
    if run.finished:
        return float(run.finished)
    if run.status == "running":
        return None
    end = run.heartbeat or run.started
    return None if end is None else float(end)


def first_start(run: Run) -> float | None:
    """When the run first started (None: never)."""
    segments = run_segments(run)
    return segments[0][0] if segments else None


def worked_seconds(run: Run, now: float | None = None) -> float:
    """The sum of the run's sessions, a running one counted up to `now`."""
    now = time.time() if now is None else now
    return sum(max(0.0, (now if end is None else end) - start) for start, end in run_segments(run))

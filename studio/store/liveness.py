"""Is a process still alive? Used to spot runs whose training process died without saying so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.core.processes import pid_alive


def run_alive(row: Mapping[str, Any], here: str, now: float, timeout: float) -> bool:
    """Whether the process of a 'running' run row (pid, host, heartbeat, ...) still seems alive.

    On this host the pid decides; for another host, or a row without a pid, only a heartbeat
    (else start or creation time) newer than `timeout` seconds does.
    """
    if row["host"] == here and row["pid"] is not None:
        return pid_alive(int(row["pid"]))
    last = row["heartbeat"] or row["started"] or row["created"] or 0.0
    return bool(now - last < timeout)

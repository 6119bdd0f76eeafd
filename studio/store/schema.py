"""The run store's tables, indexes, allowed values and run-row bookkeeping."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# The kinds and statuses a run row may hold: core.run_record's Kind and Status.
from studio.core.run_record import KINDS as KINDS
from studio.core.run_record import STATUSES as STATUSES
from studio.core.run_record import Status

if TYPE_CHECKING:
    import sqlite_utils

SCHEMA_VERSION = 9  # 3: runs.stage, runs.stage_progress; 4: runs.data_dir; 5: runs.queue_position;
# 6: results.baseline; 7: the task_plan table, runs.device_used; 8: the segments table;
# 9: runs.notes, runs.starred, the tags, run_search (+ its FTS5 index) and manifests tables

# A run in one of these can be continued from its latest checkpoint.
RESUMABLE: tuple[Status, ...] = ("stopped", "interrupted", "failed")
# Statuses that end a session of work: reaching one stamps `finished`.
ENDED = frozenset({"stopped", "interrupted", "finished", "failed"})

RUN_COLUMNS: dict[str, type] = {
    "id": str,
    "name": str,
    "kind": str,
    "status": str,
    "config": str,
    "base_model": str,
    "device": str,
    "error": str,
    "source_run": str,
    "created": float,
    "started": float,
    "finished": float,
    "step": int,
    "max_steps": int,
    "pid": int,
    "host": str,
    "heartbeat": float,
    "stage": str,  # what a running run prepares ("tokenizing mnli: 41%"); empty once it trains
    "stage_progress": float,  # how far, 0..1 (null: not known)
    "data_dir": str,  # the local data folder the run trained on (resume uses it again)
    "queue_position": float,  # a queued run's place in the run queue (lowest runs first)
    "device_used": str,  # where it trained, as its plan recorded it ("cpu (fp32 precision)")
    "notes": str,  # the user's words about the run (v9)
    "starred": int,  # 1: the user starred it
}

# One fine-tuning result of a transfer experiment (v2).
RESULT_COLUMNS: dict[str, type] = {
    "transfer_id": str,
    "target": str,
    "k": int,  # training examples used (the whole training set for size "all")
    "size": str,  # the size as asked for: a number or "all"
    "seed": int,
    "model": str,  # base | pretuned
    "metric": str,
    "value": float,
    "run_id": str,  # the fine-tuning run
    "leaked": int,  # 1 when the target was in the pre-finetuning mix
    "baseline": float,  # the metric of the training sample's majority label (null for spans)
}

CHECKPOINT_COLUMNS: dict[str, type] = {
    "run_id": str,
    "step": int,
    "path": str,
    "metrics": str,
    "created": float,
}

# A pre-finetuning run's task plan (v7; core.mix.TaskPlan), one row per task, written once
# set-up has decided it (again on a resume: the latest plan replaces the run's rows).
TASK_PLAN_COLUMNS: dict[str, type] = {
    "run_id": str,
    "position": int,  # the task's place in the config
    "task": str,
    "examples": int,
    "share": float,
    "size": int,  # n of a log-n loss scale (null for other scalings and for regression)
    "scale": float,
}

# A run's earlier sessions of work (v8), one row each, written when a new session starts (a
# resume): the latest session is the run row's started..finished. A run without rows here (one
# from an older store, or never resumed) has one session. See core.segments.
SEGMENT_COLUMNS: dict[str, type] = {
    "run_id": str,
    "started": float,
    "finished": float,  # its finish; or its last heartbeat when it ended unseen
}

# A run's tags (v9), one row each.
TAG_COLUMNS: dict[str, type] = {"run_id": str, "tag": str}

# What the full-text search reads (v9): one row per run, kept in step by the store on every
# write of a name, config, note or tag (run_meta.RunMetadata._index), and indexed by SQLite's
# FTS5 through sqlite-utils (`run_search_fts`, its triggers follow this table).
SEARCH_COLUMNS: dict[str, type] = {
    "run_id": str,
    "name": str,
    "notes": str,
    "tags": str,  # space-separated
    "config": str,  # the config's values as words (core.run_query.config_text)
}
SEARCH_TABLE = "run_search"

# What produced each session of a run (v9; core.manifest.Manifest as JSON): written when it
# starts and on each resume, keyed by that session's start.
MANIFEST_COLUMNS: dict[str, type] = {"run_id": str, "started": float, "manifest": str}

# AUTOINCREMENT (which sqlite-utils cannot declare) guarantees ids are never reused. Without it,
# deleting the newest rows on resume would hand their ids to new rows, and a live reader that
# already polled past those ids would silently miss the new rows.
_METRICS_SQL = """
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    task TEXT,
    name TEXT NOT NULL,
    value REAL,
    wall_time REAL
)
"""

_LOGS_SQL = """
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    time REAL,
    level TEXT,
    message TEXT
)
"""


def create_schema(db: sqlite_utils.Database) -> None:
    """Create every table and index that is missing; safe to call on every open.

    The caller wraps this in a transaction so a second process opening the same file concurrently
    never sees half a schema.
    """
    runs, metrics = db.table("runs"), db.table("metrics")
    runs.create(RUN_COLUMNS, pk="id", not_null={"id", "kind", "status"}, if_not_exists=True)
    missing = set(RUN_COLUMNS) - set(runs.columns_dict)
    for name in sorted(missing):  # a store written by an older studio
        runs.add_column(name, RUN_COLUMNS[name])
    db.table("checkpoints").create(CHECKPOINT_COLUMNS, pk=("run_id", "step"), if_not_exists=True)
    db.execute(_METRICS_SQL)
    db.execute(_LOGS_SQL)
    # (run_id, id): the live plot's "rows after id N for this run" poll.
    metrics.create_index(["run_id", "id"], "idx_metrics_run_id", if_not_exists=True)
    # (run_id, name, task, step): opening a finished run reads one series at a time.
    metrics.create_index(
        ["run_id", "name", "task", "step"], "idx_metrics_series", if_not_exists=True
    )
    db.table("logs").create_index(["run_id", "id"], "idx_logs_run_id", if_not_exists=True)
    runs.create_index(["created"], "idx_runs_created", if_not_exists=True)
    results = db.table("results")
    results.create(RESULT_COLUMNS, if_not_exists=True)
    for name in sorted(set(RESULT_COLUMNS) - set(results.columns_dict)):
        results.add_column(name, RESULT_COLUMNS[name])
    results.create_index(["transfer_id"], "idx_results_transfer", if_not_exists=True)
    db.table("task_plan").create(TASK_PLAN_COLUMNS, pk=("run_id", "task"), if_not_exists=True)
    db.table("segments").create(SEGMENT_COLUMNS, pk=("run_id", "started"), if_not_exists=True)
    db.table("tags").create(TAG_COLUMNS, pk=("run_id", "tag"), if_not_exists=True)
    db.table("tags").create_index(["tag"], "idx_tags_tag", if_not_exists=True)
    db.table(SEARCH_TABLE).create(SEARCH_COLUMNS, pk="run_id", if_not_exists=True)
    db.table("manifests").create(MANIFEST_COLUMNS, pk=("run_id", "started"), if_not_exists=True)
    # user_version is set by the caller once the search index exists (RunStore._prepare).


def new_run_id(created: float) -> str:
    """A readable id that sorts by creation time: the run's `created` time, local, plus 4
    random hex digits (one clock reading for both, so they never name different seconds)."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(created))}-{secrets.token_hex(2)}"


def check_choice(value: str, allowed: Sequence[str], what: str) -> None:
    """ValueError naming the allowed values unless `value` is one of them."""
    if value not in allowed:
        raise ValueError(f"unknown run {what} {value!r}; expected one of {', '.join(allowed)}")


def status_stamps(status: str, now: float) -> dict[str, Any]:
    """The bookkeeping columns that change when a run enters `status`."""
    if status == "running":
        # A (re)started session: whoever runs it now owns the pid/host used by mark_interrupted.
        return {
            "started": now,
            "heartbeat": now,
            "finished": None,
            "error": None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "stage": None,
            "stage_progress": None,
        }
    if status in ENDED:
        return {"finished": now, "stage": None, "stage_progress": None}
    return {}

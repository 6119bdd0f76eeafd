"""What the run store gives back, typed: a run (`Run`, one row of the runs table with its config
parsed and its sessions) and a transfer experiment's result (`TransferResult`, one row of the
results table). Pure Python, so every layer that reads runs can import them; the store
(studio.store.runs) builds them, and its schema (studio.store.schema) takes the allowed kinds
and statuses from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast, get_args

from studio.core.config.run import RunConfig, stored_config
from studio.core.errors import ConfigError

Kind = Literal["pretrain", "finetune", "transfer", "sweep", "ablation", "tune"]
Status = Literal["queued", "running", "stopped", "interrupted", "finished", "failed"]
KINDS: tuple[Kind, ...] = get_args(Kind)
STATUSES: tuple[Status, ...] = get_args(Status)

Segment = tuple[float, float | None]  # a session of work: (start, end); end None: it still runs

_C = TypeVar("_C", bound=str)


def _choice(value: Any, allowed: tuple[_C, ...], what: str, run_id: str) -> _C:
    if value not in allowed:
        raise ValueError(
            f"run {run_id}: unknown {what} {value!r}; expected one of {', '.join(allowed)}"
        )
    return cast(_C, value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Run:
    """One run of the store: every column of the runs table (schema.RUN_COLUMNS), its config
    parsed, and its sessions of work (core.segments).

    `segments` is what the store recorded, oldest first; None for a run built elsewhere (its one
    session is then started..finished: read them through core.segments.run_segments)."""

    id: str
    name: str
    kind: Kind
    status: Status
    config: Mapping[str, Any] = field(default_factory=dict)
    base_model: str = ""
    device: str = ""
    error: str | None = None
    source_run: str | None = None
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    step: int = 0
    max_steps: int | None = None
    pid: int | None = None
    host: str | None = None
    heartbeat: float | None = None
    stage: str | None = None  # what a running run prepares ("tokenizing mnli: 41%")
    stage_progress: float | None = None  # how far, 0..1 (None: not known)
    data_dir: str | None = None  # the local data folder the run trained on
    queue_position: float | None = None  # a queued run's place in the run queue
    device_used: str | None = None  # where it trained, as its plan recorded it
    notes: str = ""  # the user's words about the run (v9)
    starred: bool = False
    segments: tuple[Segment, ...] | None = None
    tags: tuple[str, ...] = ()  # the user's labels, sorted (the store's tags table)

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, Any],
        segments: Sequence[Segment] | None = None,
        tags: Sequence[str] = (),
    ) -> Run:
        """A run from a row of the runs table (its config JSON text, or already a mapping);
        a column an older store lacks is None."""
        run_id = str(row["id"])
        config = row.get("config")
        if isinstance(config, str):
            config = json.loads(config)
        return cls(
            id=run_id,
            kind=_choice(row.get("kind"), KINDS, "kind", run_id),
            status=_choice(row.get("status"), STATUSES, "status", run_id),
            name=row.get("name") or "",
            config=dict(config) if isinstance(config, Mapping) else {},
            base_model=row.get("base_model") or "",
            device=row.get("device") or "",
            error=row.get("error"),
            source_run=row.get("source_run"),
            created=float(row.get("created") or 0.0),
            started=_float(row.get("started")),
            finished=_float(row.get("finished")),
            step=int(row.get("step") or 0),
            max_steps=_int(row.get("max_steps")),
            pid=_int(row.get("pid")),
            host=row.get("host"),
            heartbeat=_float(row.get("heartbeat")),
            stage=row.get("stage"),
            stage_progress=_float(row.get("stage_progress")),
            data_dir=row.get("data_dir"),
            queue_position=_float(row.get("queue_position")),
            device_used=row.get("device_used"),
            notes=row.get("notes") or "",
            starred=bool(row.get("starred")),
            segments=None if segments is None else tuple(segments),
            tags=tuple(sorted(tags)),
        )

    def run_config(self) -> RunConfig:
        """The pre-finetuning run's config as it was saved; ConfigError naming the run for a
        kind that has none (a fine-tuning, transfer, sweep or ablation keeps its `config`
        mapping) or for a config this studio cannot read."""
        if self.kind != "pretrain":
            raise ConfigError(
                f"run {self.id} is a {self.kind} run; only a pre-finetuning run has a run config"
            )
        where = f"queued run {self.id}" if self.status == "queued" else f"run {self.id}"
        return stored_config(dict(self.config), where)


@dataclass(frozen=True)
class TransferResult:
    """One fine-tuning result of a transfer experiment: a row of schema.RESULT_COLUMNS."""

    transfer_id: str
    target: str
    k: int | None  # training examples used (None: a row from before it was recorded)
    size: str  # the size as asked for: a number or "all"
    seed: int
    model: str  # base | pretuned
    metric: str
    value: float
    run_id: str | None  # the fine-tuning run
    leaked: bool  # the target was in the pre-finetuning mix
    baseline: float | None  # the majority label's metric (None for spans, or older rows)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TransferResult:
        """A result from a row of the results table; a column an older store lacks is None."""
        return cls(
            transfer_id=str(row["transfer_id"]),
            target=str(row["target"]),
            k=_int(row.get("k")),
            size=str(row["size"]),
            seed=int(row["seed"]),
            model=str(row["model"]),
            metric=str(row["metric"]),
            value=float(row["value"]),
            run_id=row.get("run_id"),
            leaked=bool(row.get("leaked")),
            baseline=_float(row.get("baseline")),
        )


# The config key naming what a run trains on: pre-finetuning tasks, a transfer's targets,
# a sweep's pool, a fine-tuning run's task.
TASK_KEYS = ("tasks", "targets", "pool", "task")


def run_tasks(config: Any) -> list[str]:
    """The tasks a stored run's config names, whatever kind of run it is."""
    config = config if isinstance(config, dict) else {}
    tasks: Any = next((config[k] for k in TASK_KEYS if config.get(k)), None)  # a name or a list
    if tasks is None:  # an ablation's: its base config's (a task list it varies is a variant's)
        return run_tasks(config["base"]) if isinstance(config.get("base"), dict) else []
    return [tasks] if isinstance(tasks, str) else [str(t) for t in tasks]

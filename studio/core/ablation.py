"""Ablation experiments, pure: the ABLATION.yaml format, its variants and their names, and
the shape of the results table.

An ablation file names a base run config and the settings to vary::

    name: mixing x scaling            # optional
    base: run.yaml                    # a run config file (relative to this file) or a mapping
    vary:
      mixing: [heterogeneous, homogeneous]
      loss_scaling: [log_n, none]
      sampling+temperature: [[proportional, 2.0], [temperature, 5.0]]  # keys that go together
    transfer:                         # optional: transfer from each variant's checkpoint
      enabled: true                   # the switch (true when the section is given)
      targets: [synth_choice]
      sizes: [32, all]
      seeds: [0, 1]

The variants are the product of the value lists, everything else equal to the base (same seed,
data and steps); each is named by its differences from the base (`mixing=homogeneous,
loss_scaling=none`), and the base itself is the variant `base`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from studio.core.config import FIELDS, RunConfig, config_from_dict, load_config
from studio.core.errors import ConfigError
from studio.core.experiments import load_yaml, summarize, transfer_config
from studio.core.text import duration

BASE = "base"  # the name of the variant that changes nothing
JOINT = "+"  # `sampling+temperature`: keys whose values are given together
MAX_VARIANTS = 256  # a typo in a list should not queue a thousand runs
KEYS = ("name", "base", "vary", "transfer")
NOT_VARIED = ("name",)  # renaming a run changes nothing it learns


@dataclass(frozen=True)
class Axis:
    """One line of `vary`: the config keys it sets and, per value, their values in key order."""

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    @property
    def label(self) -> str:
        return JOINT.join(self.keys)


@dataclass(frozen=True)
class Variant:
    """One run of an ablation: its name, what differs from the base, and its whole config."""

    name: str
    changes: tuple[tuple[str, Any], ...]  # (key, value) for every key that differs from base
    config: RunConfig

    def changes_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.changes}


@dataclass(frozen=True)
class AblationConfig:
    """A base run config and the axes to vary; `transfer` is None when the switch is off."""

    base: RunConfig
    axes: tuple[Axis, ...]
    name: str = ""
    transfer: dict[str, Any] | None = None  # transfer settings, without `source`

    def __post_init__(self) -> None:
        if not self.axes:
            raise ConfigError("vary: give at least one setting to vary")
        count = math.prod(len(a.values) for a in self.axes)
        if count > MAX_VARIANTS:
            raise ConfigError(f"vary: {count} variants asked for; at most {MAX_VARIANTS}")
        variants = self.variants()  # every combination's config is validated here
        if self.transfer is not None:
            _check_transfer(self.transfer, variants)

    @property
    def title(self) -> str:
        return self.name or "ablation of " + ", ".join(a.label for a in self.axes)

    def variants(self) -> list[Variant]:
        """The base first, then every other combination of the axes' values in file order."""
        base = self.base.to_dict()
        found = {BASE: Variant(BASE, (), self.base)}
        for combination in itertools.product(*(a.values for a in self.axes)):
            settings = {
                k: v
                for axis, values in zip(self.axes, combination, strict=True)
                for k, v in zip(axis.keys, values, strict=True)
            }
            config = config_from_dict(base | _plain(settings), "vary")
            changes = tuple((k, v) for k, v in settings.items() if getattr(self.base, k) != v)
            variant = Variant(variant_name(changes), changes, config)
            if variant.name in found and found[variant.name].config != config:
                raise ConfigError(f"vary: two variants would both be named {variant.name!r}")
            found[variant.name] = variant
        return list(found.values())

    def to_dict(self) -> dict[str, Any]:
        """As the file would give it, the base inline: what the store keeps and a job sends."""
        vary = {
            a.label: [_plain_value(v[0]) if len(a.keys) == 1 else _plain(v) for v in a.values]
            for a in self.axes
        }
        transfer: Any = False if self.transfer is None else dict(self.transfer)
        return {"name": self.name, "base": self.base.to_dict(), "vary": vary, "transfer": transfer}


def format_value(value: Any) -> str:
    """A setting's value as a variant name shows it: short, and one name per value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    if isinstance(value, (tuple, list)):
        return JOINT.join(format_value(v) for v in value)
    if isinstance(value, Mapping):
        return "{" + ";".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def variant_name(changes: Sequence[tuple[str, Any]]) -> str:
    """`key=value,...` for the settings that differ from the base; `base` when none does."""
    return ",".join(f"{k}={format_value(v)}" for k, v in changes) or BASE


def _plain_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _plain(values: Any) -> Any:
    if isinstance(values, Mapping):
        return {k: _plain_value(v) for k, v in values.items()}
    return [_plain_value(v) for v in values]


# -- reading the file --------------------------------------------------------------------------


def ablation_config(
    data: Any, where: str = "ablation", folder: Path | None = None
) -> AblationConfig:
    """An AblationConfig from the file's mapping; a relative `base:` path is read from `folder`.

    Every error names `where` and the key at fault; every variant's config is validated here,
    before anything is queued.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping with keys {list(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed keys: {list(KEYS)}")
    for key in ("base", "vary"):
        if key not in data:
            raise ConfigError(f"{where}: missing key {key!r}")
    name = data.get("name") or ""
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name: must be a string, got {name!r}")
    base = _base(data["base"], where, folder)
    axes = _axes(data["vary"], base, f"{where}: vary")
    transfer = _transfer(data.get("transfer"), f"{where}: transfer")
    try:
        return AblationConfig(base, axes, name, transfer)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_ablation(path: str | Path) -> AblationConfig:
    """Read an ablation file; `base:` as a path is relative to the file's folder."""
    path = Path(path)
    return ablation_config(load_yaml(path), str(path), path.parent)


def _base(value: Any, where: str, folder: Path | None) -> RunConfig:
    if isinstance(value, dict):
        return config_from_dict(value, f"{where}: base")
    if isinstance(value, str) and value:
        path = Path(value).expanduser()
        if not path.is_absolute() and folder is not None:
            path = folder / path
        if not path.is_file():
            raise ConfigError(f"{where}: base: no run config file at {path}")
        return load_config(path)
    raise ConfigError(f"{where}: base: give a run config as a mapping or the path of its file")


def _axes(vary: Any, base: RunConfig, where: str) -> tuple[Axis, ...]:
    if not isinstance(vary, dict) or not vary:
        raise ConfigError(f"{where}: must map config keys to the lists of values to try")
    seen: set[str] = set()
    axes = []
    for label, values in vary.items():
        keys = tuple(str(label).split(JOINT))
        _check_keys(keys, seen, f"{where}: {label}")
        seen.update(keys)
        axes.append(_axis(keys, values, base, where))
    return tuple(axes)


def _check_keys(keys: tuple[str, ...], seen: set[str], where: str) -> None:
    for key in keys:
        if key not in FIELDS:
            raise ConfigError(
                f"{where}: unknown config key {key!r}; allowed keys: {sorted(FIELDS)}"
            )
        if key in NOT_VARIED:
            raise ConfigError(f"{where}: {key!r} cannot be varied (it only renames a run)")
        if key in seen or keys.count(key) > 1:
            raise ConfigError(f"{where}: {key!r} is varied more than once")


def _axis(keys: tuple[str, ...], values: Any, base: RunConfig, vary: str) -> Axis:
    where = f"{vary}: {JOINT.join(keys)}"
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}: give a list of values to try, e.g. [a, b]")
    checked: list[tuple[Any, ...]] = []
    for value in values:
        given = _given(keys, value, where)
        # The whole config is validated with the value: a range, a choice, or a rule between
        # settings (manual scaling needs weights) fails here, naming the key.
        config = config_from_dict(base.to_dict() | given, vary)
        typed = tuple(getattr(config, k) for k in keys)
        if typed in checked:
            raise ConfigError(f"{where}: {format_value(_plain(typed))} is listed more than once")
        checked.append(typed)
    return Axis(keys, tuple(checked))


def _given(keys: tuple[str, ...], value: Any, where: str) -> dict[str, Any]:
    if len(keys) == 1:
        if keys[0] == "tasks" and not isinstance(value, list):
            raise ConfigError(f"{where}: each value is a list of task names, got {value!r}")
        return {keys[0]: value}
    if not isinstance(value, list) or len(value) != len(keys):
        raise ConfigError(
            f"{where}: each value is a list of {len(keys)} values, one per key, got {value!r}"
        )
    return dict(zip(keys, value, strict=True))


def _transfer(value: Any, where: str) -> dict[str, Any] | None:
    """The transfer settings when the switch is on; None when off or not given."""
    if value is None or value is False:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: give the transfer settings (targets, sizes, seeds, ...)")
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: enabled: must be true or false, got {enabled!r}")
    settings = {k: v for k, v in value.items() if k != "enabled"}
    if "source" in settings:
        raise ConfigError(f"{where}: leave out 'source'; each variant's run is it")
    transfer_config({**settings, "source": "ablation"}, where)
    return settings if enabled else None


def _check_transfer(settings: dict[str, Any], variants: list[Variant]) -> None:
    targets = set(transfer_config({**settings, "source": "ablation"}).targets)
    for variant in variants:
        overlap = sorted(targets & set(variant.config.tasks))
        if overlap:
            raise ConfigError(
                f"transfer: the targets {overlap} must be held out of the pre-finetuning tasks "
                f"(variant {variant.name} trains on them)"
            )


# -- results -----------------------------------------------------------------------------------


class MetricReader(Protocol):
    """What reading results needs of a run store (studio.store.RunStore has it)."""

    def get_run(self, run_id: str) -> dict[str, Any]: ...

    def metric_series(
        self, run_id: str, name: str, task: str | None = None
    ) -> list[tuple[int, float, float]]: ...

    def results(self, transfer_id: str) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class VariantResult:
    """One row of the ablation table."""

    variant: str
    run_id: str
    status: str
    final_mean: float | None  # the validation mean at the last evaluation
    best_mean: float | None
    delta: float | None  # final_mean minus the base variant's
    tasks: dict[str, float]  # task -> its primary metric at the last evaluation
    metrics: dict[str, str]  # task -> the metric's name
    wall_s: float | None
    throughput: float | None  # mean examples per second over the logged windows
    transfer_id: str | None = None
    transfer_mean: float | None = None  # the pre-finetuned encoders' mean target metric
    transfer_gain: float | None = None  # over the base encoder, mean over targets and sizes


def variant_entries(run: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ablation run's variants as stored: name, changes, run_id, transfer_id."""
    config = run.get("config") if isinstance(run.get("config"), dict) else {}
    return [v for v in (config or {}).get("variants") or [] if isinstance(v, dict)]


def read_results(
    store: MetricReader, ablation_id: str, metric_of: Mapping[str, str]
) -> list[VariantResult]:
    """The table of a stored ablation, one row per variant (in the file's order).

    `metric_of` gives each task's primary metric; a task it does not know has no column value.
    """
    rows = []
    for entry in variant_entries(store.get_run(ablation_id)):
        try:
            run = store.get_run(entry["run_id"])
        except KeyError:  # deleted from the store since
            continue
        rows.append(_variant_row(store, entry, run, metric_of))
    base = next((r for r in rows if r.variant == BASE), None)
    if base is None or base.final_mean is None:
        return rows
    return [
        _with_delta(r, None if r.final_mean is None else r.final_mean - base.final_mean)
        for r in rows
    ]


def _with_delta(row: VariantResult, delta: float | None) -> VariantResult:
    return dataclasses.replace(row, delta=delta)


def _variant_row(
    store: MetricReader,
    entry: Mapping[str, Any],
    run: Mapping[str, Any],
    metric_of: Mapping[str, str],
) -> VariantResult:
    run_id = str(entry["run_id"])
    means = [v for _, v, _ in store.metric_series(run_id, "eval_mean") if v is not None]
    tasks: dict[str, float] = {}
    metrics: dict[str, str] = {}
    for task in (run.get("config") or {}).get("tasks") or []:
        metric = metric_of.get(task)
        values = [v for _, v, _ in store.metric_series(run_id, f"eval_{metric}", task)]
        if metric and values and values[-1] is not None:
            tasks[task], metrics[task] = float(values[-1]), metric
    rates = [v for _, v, _ in store.metric_series(run_id, "examples_per_s") if v is not None]
    transfer_id = entry.get("transfer_id")
    mean, gain = transfer_gain(store.results(transfer_id)) if transfer_id else (None, None)
    return VariantResult(
        variant=str(entry["name"]),
        run_id=run_id,
        status=str(run.get("status")),
        final_mean=means[-1] if means else None,
        best_mean=max(means) if means else None,
        delta=None,
        tasks=tasks,
        metrics=metrics,
        wall_s=wall_seconds(run),
        throughput=statistics.fmean(rates) if rates else None,
        transfer_id=transfer_id,
        transfer_mean=mean,
        transfer_gain=gain,
    )


def wall_seconds(run: Mapping[str, Any]) -> float | None:
    """From start to finish (or to the last heartbeat of a run still going)."""
    started, ended = run.get("started"), run.get("finished") or run.get("heartbeat")
    return float(ended - started) if started and ended else None


def transfer_gain(results: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """The pre-finetuned mean target metric and its gain over the base encoder, each the mean
    over the (target, size) cells both models finished."""
    cells = {(c.target, c.size, c.model): c.mean for c in summarize(results)}
    pairs = [
        (cells[(t, s, "pretuned")], cells[(t, s, "base")])
        for t, s, m in cells
        if m == "pretuned" and (t, s, "base") in cells
    ]
    if not pairs:
        return None, None
    tuned = statistics.fmean(p for p, _ in pairs)
    return tuned, tuned - statistics.fmean(b for _, b in pairs)


def task_columns(rows: Sequence[VariantResult]) -> list[tuple[str, str]]:
    """(task, metric) of every task any variant reports, in first-seen order."""
    columns: dict[str, str] = {}
    for row in rows:
        for task, metric in row.metrics.items():
            columns.setdefault(task, metric)
    return list(columns.items())


def table_rows(rows: Sequence[VariantResult]) -> tuple[list[str], list[list[str]]]:
    """The table as text cells: the header and one row per variant (the window and the CLI)."""
    tasks = task_columns(rows)
    transfer = any(r.transfer_id for r in rows)
    header = ["variant", "status", "final mean", "best mean", "Δ vs base"]
    header += [f"{t} ({m})" for t, m in tasks] + ["wall time", "examples/s"]
    header += ["transfer mean", "transfer gain"] if transfer else []
    body = []
    for r in rows:
        cells = [r.variant, r.status, _num(r.final_mean), _num(r.best_mean), _num(r.delta, "+")]
        cells += [_num(r.tasks.get(t)) for t, _ in tasks]
        cells += [_duration(r.wall_s), _num(r.throughput, digits=1)]
        cells += [_num(r.transfer_mean), _num(r.transfer_gain, "+")] if transfer else []
        body.append(cells)
    return header, body


def results_table(rows: Sequence[VariantResult]) -> str:
    """The ablation table as aligned text (`python -m studio results ID`)."""
    header, body = table_rows(rows)
    if not body:
        return "no variants yet"
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for line in [header, *body]:
        # The names left-aligned, the numbers right-aligned.
        pairs = enumerate(zip(line, widths, strict=True))
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _num(value: float | None, sign: str = "", digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:{sign}.{digits}f}"


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else duration(seconds)

"""Ablation experiments, pure: the ABLATION.yaml format, its variants and their names (the
results table: studio.core.experiments.ablation_results).

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

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.config.run import FIELDS, RunConfig, config_from_dict, load_config
from studio.core.errors import ConfigError
from studio.core.experiments.transfer import load_yaml, transfer_config

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
    base = base_config(data["base"], where, folder)
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


def base_config(value: Any, where: str, folder: Path | None) -> RunConfig:
    """An experiment file's `base:` (an ablation's, a study's): a run config as a mapping, or
    the path of its file, relative to `folder` (the experiment file's) when not absolute."""
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

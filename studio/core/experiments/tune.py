"""Tuning studies, pure: the STUDY.yaml format, its search space and each trial's run config
(running one on Optuna: studio.tune; what a study answers: study_summary).

A study file names a base run config, the settings to search, an objective and a budget::

    name: lr-and-slots                 # optional: the file's stem
    base: {tasks: [rte, sst2], max_steps: 200}   # a run config mapping, or a file's path
    space:
      learning_rate: {low: 1.0e-5, high: 1.0e-3, log: true}   # a float range
      warmup_ratio: {low: 0.0, high: 0.2}
      tasks_per_update: [2, 4, 8]      # a list is a categorical choice
      eval_every: {low: 2, high: 8, step: 2}                   # an int setting: an int range
      manual_weights.rte: {low: 0.5, high: 2}                  # one task's loss weight
    trials: 20
    objective: validation_mean         # or best_validation_mean, or a transfer block:
    #   {transfer: {targets: [copa], sizes: [32], seeds: [0]}, value: pretuned_mean | gain}
    sampler: {name: tpe, seed: 0}      # tpe (default) or random; seed: the base's seed
    pruner: {name: median, n_startup_trials: 2}   # median (default), percentile, threshold, none

Searching a task's manual weight makes every trial scale losses by hand: `loss_scaling` is set
to `manual`, and a checked task the space and the base leave without a weight gets 1.0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.config.run import FIELDS, RunConfig, config_from_dict
from studio.core.errors import ConfigError
from studio.core.experiments.ablation import base_config
from studio.core.experiments.transfer import load_yaml, transfer_config

KEYS = ("name", "base", "space", "trials", "objective", "sampler", "pruner")
WEIGHT = "manual_weights."  # `manual_weights.rte`: one task's weight
OBJECTIVES = ("validation_mean", "best_validation_mean")
TRANSFER_VALUES = ("pretuned_mean", "gain")
SAMPLERS = ("tpe", "random")
# Each pruner and the Optuna arguments a study file may give it.
PRUNERS: dict[str, tuple[str, ...]] = {
    "none": (),
    "median": ("n_startup_trials", "n_warmup_steps", "interval_steps"),
    "percentile": ("percentile", "n_startup_trials", "n_warmup_steps", "interval_steps"),
    "threshold": ("lower", "upper", "n_warmup_steps", "interval_steps"),
}
NOT_SEARCHED = ("name", "tasks", "manual_weights")  # renames, or a list Optuna cannot choose
MAX_TRIALS = 10_000


@dataclass(frozen=True)
class Param:
    """One searched setting: a range (`low`..`high`, `log`, `step`) or a list of `choices`."""

    key: str  # a RunConfig key, or manual_weights.<task>
    kind: str  # float | int | categorical
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def to_dict(self) -> Any:
        if self.kind == "categorical":
            return list(self.choices)
        out: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class Objective:
    """What a trial scores: its run's last or best validation mean, or a transfer from it."""

    kind: str  # validation_mean | best_validation_mean | transfer
    transfer: dict[str, Any] | None = None  # transfer settings without `source`
    value: str = "pretuned_mean"  # of a transfer: the pre-finetuned mean, or its gain

    def to_dict(self) -> Any:
        if self.transfer is None:
            return self.kind
        return {"transfer": dict(self.transfer), "value": self.value}

    @property
    def label(self) -> str:
        return f"transfer {self.value}" if self.transfer is not None else self.kind


@dataclass(frozen=True)
class StudyConfig:
    """A base run config, the space searched, the objective (maximized) and the budget."""

    name: str
    base: RunConfig
    space: tuple[Param, ...]
    trials: int
    objective: Objective = Objective("validation_mean")
    sampler: str = "tpe"
    seed: int = 0
    pruner: str = "median"
    pruner_args: dict[str, Any] = field(default_factory=dict)

    def trial_config(self, params: dict[str, Any], number: int) -> RunConfig:
        """The run config of a trial: the base with the trial's values (a ConfigError names
        the setting a value breaks)."""
        settings = self.base.to_dict()
        weights = {k.removeprefix(WEIGHT): float(v) for k, v in params.items() if _weight(k)}
        settings |= {k: v for k, v in params.items() if not _weight(k)}
        if weights:
            given = {**settings.get("manual_weights", {}), **weights}
            settings["loss_scaling"] = "manual"
            settings["manual_weights"] = {t: given.get(t, 1.0) for t in settings["tasks"]}
        settings["name"] = f"{self.name}: trial {number}"
        return config_from_dict(settings, f"study {self.name}, trial {number}")

    def to_dict(self) -> dict[str, Any]:
        """As the file would give it, the base inline: what the store keeps and a job sends."""
        sampler = {"name": self.sampler, "seed": self.seed}
        return {
            "name": self.name,
            "base": self.base.to_dict(),
            "space": {p.key: p.to_dict() for p in self.space},
            "trials": self.trials,
            "objective": self.objective.to_dict(),
            "sampler": sampler,
            "pruner": {"name": self.pruner, **self.pruner_args},
        }


def _weight(key: str) -> bool:
    return key.startswith(WEIGHT)


# -- reading the file --------------------------------------------------------------------------


def study_config(
    data: Any, where: str = "study", folder: Path | None = None, name: str = "study"
) -> StudyConfig:
    """A StudyConfig from the file's mapping; `name`: the study's name when the file has none.

    Every error names `where` and the key at fault; the ends of every range and every choice
    are tried on the base here, before anything runs.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping with keys {list(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed keys: {list(KEYS)}")
    for key in ("base", "space", "trials"):
        if key not in data:
            raise ConfigError(f"{where}: missing key {key!r}")
    study = data.get("name") or name
    if not isinstance(study, str):
        raise ConfigError(f"{where}: name: must be a string, got {study!r}")
    base = base_config(data["base"], where, folder)
    space = _space(data["space"], base, f"{where}: space")
    trials = data["trials"]
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"{where}: trials: a whole number from 1 to {MAX_TRIALS}, got {trials!r}")
    objective = _objective(data.get("objective", "validation_mean"), base, f"{where}: objective")
    sampler, seed = _sampler(data.get("sampler", "tpe"), base.seed, f"{where}: sampler")
    pruner, args = _pruner(data.get("pruner", "median"), f"{where}: pruner")
    return StudyConfig(study, base, space, trials, objective, sampler, seed, pruner, args)


def load_study(path: str | Path) -> StudyConfig:
    """Read a study file; a `base:` path is relative to its folder, its stem names the study."""
    path = Path(path)
    return study_config(load_yaml(path), str(path), path.parent, path.stem)


def _space(space: Any, base: RunConfig, where: str) -> tuple[Param, ...]:
    if not isinstance(space, dict) or not space:
        raise ConfigError(f"{where}: map each setting to search to a range or a list of values")
    params = []
    for key, value in space.items():
        key = str(key)
        here = f"{where}: {key}"
        _check_key(key, base, here)
        param = _param(key, value, here)
        for tried in _ends(param):  # each end of a range, each choice, checked on the base
            StudyConfig("check", base, (param,), 1).trial_config({key: tried}, 0)
        params.append(param)
    return tuple(params)


def _check_key(key: str, base: RunConfig, where: str) -> None:
    if _weight(key):
        task = key.removeprefix(WEIGHT)
        if task not in base.tasks:
            raise ConfigError(
                f"{where}: {task!r} is not one of the base's tasks {list(base.tasks)}"
            )
        return
    if key not in FIELDS:
        raise ConfigError(f"{where}: unknown config key {key!r}; allowed keys: {sorted(FIELDS)}")
    if key in NOT_SEARCHED:
        hint = (
            " (search one task's weight as manual_weights.<task>)" if key == NOT_SEARCHED[2] else ""
        )
        raise ConfigError(f"{where}: {key!r} cannot be searched{hint}")


def _param(key: str, value: Any, where: str) -> Param:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: give at least one value to choose from")
        for choice in value:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise ConfigError(f"{where}: a choice must be a number, a word or true/false")
        if len(set(map(repr, value))) != len(value):
            raise ConfigError(f"{where}: a value is listed more than once")
        return Param(key, "categorical", choices=tuple(value))
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: give {{low, high}} (log, step optional) or a list of values")
    unknown = sorted(set(value) - {"low", "high", "log", "step"})
    if unknown or "low" not in value or "high" not in value:
        raise ConfigError(f"{where}: a range is {{low, high}} with log and step optional")
    low, high, log, step = value["low"], value["high"], value.get("log", False), value.get("step")
    for name, number in (("low", low), ("high", high), ("step", step)):
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, (int, float))
        ):
            raise ConfigError(f"{where}: {name}: must be a number, got {number!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log: must be true or false")
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if log and (low <= 0 or step is not None):
        raise ConfigError(f"{where}: a log range needs low > 0 and no step")
    if step is not None and step <= 0:
        raise ConfigError(f"{where}: step: must be positive")
    integer = not _weight(key) and str(FIELDS[key].type).startswith("int")
    if integer and not all(isinstance(n, int) for n in (low, high, step or 1)):
        raise ConfigError(f"{where}: {key} is a whole number: give whole low, high and step")
    kind = "int" if integer else "float"
    return Param(key, kind, float(low), float(high), log, None if step is None else float(step))


def _ends(param: Param) -> tuple[Any, ...]:
    if param.kind == "categorical":
        return param.choices
    if param.kind == "int":
        return (int(param.low), int(param.high))
    return (param.low, param.high)


def _objective(value: Any, base: RunConfig, where: str) -> Objective:
    if isinstance(value, str):
        if value not in OBJECTIVES:
            raise ConfigError(
                f"{where}: {value!r} is not an objective; use one of {list(OBJECTIVES)} "
                "or a transfer block {transfer: {targets, sizes, seeds}}"
            )
        return Objective(value)
    if not isinstance(value, dict) or "transfer" not in value:
        raise ConfigError(f"{where}: give {list(OBJECTIVES)} or {{transfer: {{...}}}}")
    unknown = sorted(set(value) - {"transfer", "value"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: transfer, value")
    settings = value["transfer"]
    if not isinstance(settings, dict) or "source" in settings:
        raise ConfigError(f"{where}: transfer: the transfer settings, leaving out 'source'")
    targets = transfer_config({**settings, "source": "trial"}, f"{where}: transfer").targets
    overlap = sorted(set(targets) & set(base.tasks))
    if overlap:
        raise ConfigError(f"{where}: transfer: the targets {overlap} must be held out of the tasks")
    kind = value.get("value", "pretuned_mean")
    if kind not in TRANSFER_VALUES:
        raise ConfigError(f"{where}: value: use one of {list(TRANSFER_VALUES)}, got {kind!r}")
    return Objective("transfer", dict(settings), kind)


def _sampler(value: Any, seed: int, where: str) -> tuple[str, int]:
    settings = {"name": value} if isinstance(value, str) else value
    if not isinstance(settings, dict) or settings.get("name", "tpe") not in SAMPLERS:
        raise ConfigError(f"{where}: use one of {list(SAMPLERS)}, or {{name: tpe, seed: 0}}")
    unknown = sorted(set(settings) - {"name", "seed"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: name, seed")
    chosen = settings.get("seed", seed)
    if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 0:
        raise ConfigError(f"{where}: seed: a whole number ≥ 0, got {chosen!r}")
    return str(settings.get("name", "tpe")), chosen


def _pruner(value: Any, where: str) -> tuple[str, dict[str, Any]]:
    settings = {"name": value} if isinstance(value, str) or value is None else value
    if not isinstance(settings, dict):
        raise ConfigError(f"{where}: a pruner's name, or {{name: median, ...}}")
    name = settings.get("name") or "none"
    if name not in PRUNERS:
        raise ConfigError(f"{where}: {name!r} is not a pruner; use one of {list(PRUNERS)}")
    args = {k: v for k, v in settings.items() if k != "name"}
    unknown = sorted(set(args) - set(PRUNERS[name]))
    if unknown:
        raise ConfigError(f"{where}: {name} takes {list(PRUNERS[name])}, not {unknown}")
    for key, number in args.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or math.isnan(number):
            raise ConfigError(f"{where}: {key}: must be a number, got {number!r}")
    if name == "threshold" and not {"lower", "upper"} & set(args):
        raise ConfigError(f"{where}: threshold needs lower or upper")
    return name, args

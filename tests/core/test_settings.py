"""Every setting alone, at its lowest, its highest and a bad value: accepted, or named.

Run configs, fine-tuning settings (shared by finetune, transfer and sweep), transfer and sweep
configs are all validated before any training starts, each error naming its key and range.
"""

from __future__ import annotations

from typing import Any

import pytest

from studio.core.config.run import CHOICES, FIELDS, RANGES, config_from_dict
from studio.core.config.settings import Range
from studio.core.errors import ConfigError
from studio.core.experiments.transfer import (
    SETTINGS_RANGES,
    finetune_config,
    sweep_config,
    transfer_config,
)


def _values(key: str, allowed: Range, integer: bool) -> tuple[list[Any], list[Any]]:
    """Values inside the range (the ends, or just inside an open end) and outside it."""
    step = 1 if integer else (allowed.high - allowed.low) * 1e-6 or 1e-9
    low = allowed.low
    high = allowed.high - step if allowed.below else allowed.high
    outside = [allowed.low - step]
    outside.append(allowed.high + step if not allowed.below else allowed.high)
    if integer:
        low, high, outside = int(low), int(high), [int(v) for v in outside]
    return [low, high], [*outside, "lots"]


def _integer(kind: str) -> bool:
    return kind.startswith("int")


def _check(build: Any, key: str, good: list[Any], bad: list[Any]) -> None:
    for value in good:
        build({key: value})  # no error
    for value in bad:
        with pytest.raises(ConfigError, match=rf"\b{key}\b"):
            build({key: value})


@pytest.mark.parametrize("key", sorted(RANGES))
def test_each_run_setting_alone(key: str) -> None:
    good, bad = _values(key, RANGES[key], _integer(str(FIELDS[key].type)))
    _check(lambda change: config_from_dict({"tasks": ["a"], **change}), key, good, bad)


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_each_run_choice_alone(key: str) -> None:
    base = {"tasks": ["a"], "manual_weights": {"a": 1.0}}  # what `manual` scaling needs
    build = lambda change: config_from_dict({**base, **change})  # noqa: E731
    _check(build, key, list(CHOICES[key]), ["bestest", 3])


FINETUNE = {"task": "a"}
TRANSFER = {"source": "x", "targets": ["a"]}


@pytest.mark.parametrize("key", sorted(SETTINGS_RANGES))
@pytest.mark.parametrize("where", ["finetune", "transfer", "sweep"])
def test_each_fine_tuning_setting_alone_everywhere_it_is_used(key: str, where: str) -> None:
    integer = key in ("batch_size", "min_steps", "max_length", "doc_stride", "eval_max_examples",
                      "num_threads")  # fmt: skip
    good, bad = _values(key, SETTINGS_RANGES[key], integer)
    build = {
        "finetune": lambda change: finetune_config({**FINETUNE, **change}),
        "transfer": lambda change: transfer_config({**TRANSFER, **change}),
        "sweep": lambda change: sweep_config(
            {
                "pool": ["a", "b"],
                "counts": [1, 2],
                "pretrain": {},
                "transfer": {"targets": ["t"], **change},
            }
        ),
    }[where]
    _check(build, key, good, bad)


def test_transfer_and_sweep_fields_are_checked_before_any_training() -> None:
    for change, key in [
        ({"device": "gpu"}, "device"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"checkpoint": "bestest"}, "checkpoint"),
        ({"sizes": [0]}, "sizes"),
        ({"seeds": [-1]}, "seeds"),
        ({"max_length": 8}, "max_length"),
    ]:
        with pytest.raises(ConfigError, match=key):
            transfer_config({**TRANSFER, **change})
    transfer_config({**TRANSFER, "max_length": 64, "checkpoint": "12"})  # a short length is fine
    sweep = {
        "pool": ["a", "b", "c"],
        "counts": [1, 3],
        "pretrain": {},
        "transfer": {"targets": ["t"]},
    }
    with pytest.raises(ConfigError, match="counts"):
        sweep_config({**sweep, "counts": [0, 2]})
    # Valid for the first subset, not for the second: found now, not after a run.
    weights = {"loss_scaling": "manual", "manual_weights": {"a": 1.0}}
    with pytest.raises(ConfigError, match=r"manual_weights: .*\['b', 'c'\]"):
        sweep_config({**sweep, "pretrain": weights})
    with pytest.raises(ConfigError, match="weight_decay"):
        sweep_config({**sweep, "pretrain": {"weight_decay": -0.1}})
    with pytest.raises(ConfigError, match="device"):
        sweep_config({**sweep, "transfer": {"targets": ["t"], "device": "gpu"}})


def test_r3f_cannot_be_switched_off_by_a_zero_eps() -> None:
    with pytest.raises(ConfigError, match=r"r3f_eps: must be in \[1e-12, 1\]"):
        config_from_dict({"tasks": ["a"], "r3f_lambda": 1, "r3f_eps": 0})


def test_every_declared_setting_has_help_and_a_label() -> None:
    from studio.core.config.run import RunConfig
    from studio.core.config.settings import schema
    from studio.core.experiments.transfer import FinetuneSettings

    for cls, section in ((RunConfig, "run"), (FinetuneSettings, "finetune")):
        fields = schema(cls, section)
        assert [f.key for f in fields if not f.help.strip() or not f.setting.label] == []
        numbers = [f for f in fields if f.setting.kind in ("int", "float", "sci")]
        unbounded = [f.key for f in numbers if f.setting.range is None]
        assert unbounded == (["manual_weights"] if cls is RunConfig else [])

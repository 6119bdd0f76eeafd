"""Every value a config accepts survives the window's forms exactly: config -> form -> config
is the identity (the forms are built from the settings' declarations, not typed again)."""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest

from studio.core.config import presets
from studio.core.config.run import MANUAL_WEIGHT, RunConfig
from studio.core.config.settings import Range, declared
from studio.core.experiments.transfer import FinetuneSettings
from studio.ui.configure.form import ConfigForm
from studio.ui.transfer.view import TransferView
from tests.support import tiny_config
from tests.ui.helpers import state_for
from tests.ui.test_config_form import NON_DEFAULT

TASKS = ("rte", "sst2", "arc")
# Seven valid values an earlier form changed (clamped, or rounded to its fixed decimals).
SEVEN = RunConfig(
    tasks=TASKS,
    max_length=16384,
    num_proc=128,
    grad_clip=5000,
    warmup_ratio=0.0625,
    temperature=1.555,
    weight_decay=0.00125,
    label_smoothing=0.0625,
)


def _draw(rng: random.Random, key: str, allowed: Range, kind: str, none: str | None) -> Any:
    """A value inside the range: its ends, a round number or any float, on a log scale for
    wide ranges (that is where fixed decimals and 32-bit spin boxes lose values)."""
    if none is not None and rng.random() < 0.2:
        return None
    low, high = allowed.low, allowed.highest
    if kind == "int":
        low, high = math.ceil(low), math.floor(high)
        pick = rng.choice(("low", "high", "log", "uniform"))
        if pick == "log" and low > 0:
            return min(high, round(math.exp(rng.uniform(math.log(low), math.log(high)))))
        return {"low": low, "high": high}.get(pick, rng.randint(low, high))
    pick = rng.choice(("low", "high", "log", "uniform", "short"))
    if pick in ("low", "high"):
        return low if pick == "low" else high
    if pick == "log" and low > 0:
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    value = rng.uniform(low, high)
    value = round(value, rng.randint(1, 6)) if pick == "short" else value
    return value if allowed.allows(value) else low


def random_settings(cls: type, rng: random.Random) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, setting in declared(cls).items():
        if setting.range is not None:
            values[key] = _draw(rng, key, setting.range, setting.kind, setting.none)
        elif setting.choices:
            values[key] = rng.choice(setting.choices)
        elif setting.kind == "bool":
            values[key] = rng.random() < 0.5
    return values


def random_config(rng: random.Random) -> RunConfig:
    values = random_settings(RunConfig, rng)
    weights = {t: _draw(rng, t, MANUAL_WEIGHT, "float", None) for t in TASKS}
    weights["rte"] = 0.0625
    manual = values["loss_scaling"] == "manual"
    if values["doc_stride"] is not None and values["doc_stride"] >= values["max_length"]:
        values["doc_stride"] = None
    return RunConfig(
        tasks=TASKS,
        name=rng.choice(("", "my run", "  ünïcode ")).strip(),
        model=rng.choice(("minilm", "roberta-base", "/models/mine")),
        manual_weights=weights if manual else {},
        **values,
    )


@pytest.fixture
def form(qtbot) -> ConfigForm:
    widget = ConfigForm()
    qtbot.addWidget(widget)
    return widget


def _round_trip(form: ConfigForm, config: RunConfig) -> RunConfig:
    form.set_tasks(config.tasks)
    form.set_config(config)
    return form.config(config.tasks)


def test_the_seven_values_survive(form: ConfigForm) -> None:
    assert _round_trip(form, SEVEN) == SEVEN


def test_every_preset_and_test_config_survives(form: ConfigForm) -> None:
    for name, settings in {
        **presets.builtin_presets("cpu"),
        **presets.builtin_presets("cuda"),
    }.items():
        config = presets.apply(RunConfig(tasks=TASKS), settings)
        assert _round_trip(form, config) == config, name
    for config in (NON_DEFAULT, tiny_config("minilm", TASKS), tiny_config("/m", ("squad_v1",))):
        assert _round_trip(form, config) == config


def test_random_configs_inside_the_ranges_survive(form: ConfigForm) -> None:
    rng = random.Random(0)
    for _ in range(200):
        config = random_config(rng)
        assert _round_trip(form, config) == config


def test_manual_weights_keep_every_bit(form: ConfigForm) -> None:
    weights = {"rte": 0.0625, "sst2": 1 / 3, "arc": 123456.789012345}
    config = RunConfig(tasks=TASKS, loss_scaling="manual", manual_weights=weights)
    assert _round_trip(form, config).manual_weights == weights


@pytest.fixture
def transfer(qtbot, catalog, db_path) -> TransferView:
    view = TransferView(state_for(db_path, catalog))
    qtbot.addWidget(view)
    return view


def test_the_transfer_form_starts_on_finetune_settings_defaults(transfer: TransferView) -> None:
    assert FinetuneSettings(**transfer.settings.values()) == FinetuneSettings()


def test_random_finetune_settings_survive_the_transfer_form(transfer: TransferView) -> None:
    rng = random.Random(1)
    for _ in range(100):
        values = random_settings(FinetuneSettings, rng)
        if values["doc_stride"] is not None and values["doc_stride"] >= values["max_length"]:
            values["doc_stride"] = None
        settings = FinetuneSettings(**values)
        transfer.settings.set_values(dataclasses.asdict(settings))
        assert FinetuneSettings(**transfer.settings.values()) == settings

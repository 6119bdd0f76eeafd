"""The preflight line: the plan of a config and its duration, and the warning a GPU-sized plan
gets on a CPU."""

from __future__ import annotations

from studio.core.config import presets
from studio.core.config.run import RunConfig, config_from_dict
from studio.core.preflight import Speed, guessed_speed, preflight


def test_the_plan_counts_updates_examples_and_passes() -> None:
    config = RunConfig(tasks=("rte", "sst2"), max_steps=100, tasks_per_update=2, batch_size=8,
                       max_length=128)  # fmt: skip
    plan = preflight(config, {"rte": 1000, "sst2": 600}, "cpu", Speed(160.0, 128, "minilm"))
    assert plan.text.startswith("Plan: 100 updates × 2 tasks × 8 examples = 1,600 examples")
    assert "(1 passes over 1,600)" in plan.text
    assert plan.seconds == 10.0 and "about 10s" in plan.text and "(a guess)" in plan.text
    assert plan.warning is None


def test_a_measured_speed_is_scaled_to_the_length_and_named() -> None:
    config = RunConfig(tasks=("rte",), max_steps=10, tasks_per_update=1, batch_size=10,
                       max_length=256)  # fmt: skip
    plan = preflight(config, {}, "cuda", Speed(100.0, 128, "minilm", "r1"))
    assert plan.seconds == 2.0  # twice the tokens: half the speed
    assert "run r1 measured" in plan.text and "CUDA" in plan.text
    tiny = preflight(RunConfig(tasks=("rte",), max_steps=1), {}, "cuda", Speed(1e4, 128, "m"))
    assert "under a second of training" in tiny.text  # not "about 0s"


def test_the_muppet_gpu_preset_on_a_cpu_says_so() -> None:
    settings = presets.builtin_presets("cpu")[presets.MUPPET]
    config = config_from_dict({**settings, "tasks": ["rte", "sst2"]})
    plan = preflight(config, {}, "cpu", guessed_speed("cpu", config.model))
    assert plan.warning is not None and "sized for a GPU" in plan.warning
    assert f"{config.max_steps:,} updates at {config.max_length} tokens" in plan.warning
    quick = config_from_dict({**presets.builtin_presets("cpu")[presets.QUICK_LOOK],
                              "tasks": ["rte", "sst2"]})  # fmt: skip
    assert preflight(quick, {}, "cpu", guessed_speed("cpu", quick.model)).warning is None

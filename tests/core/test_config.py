"""The run config: defaults, YAML round trip, and errors that name the key and what is allowed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio.core.config.run import (
    CHOICES,
    FIELDS,
    RunConfig,
    config_from_dict,
    load_config,
    stored_config,
)
from studio.core.errors import ConfigError


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    return str(info.value)


def test_defaults_are_valid_and_follow_muppet() -> None:
    cfg = RunConfig(tasks=("rte",))
    for key, allowed in CHOICES.items():
        assert getattr(cfg, key) in allowed, key
    # docs/DESIGN.md §1: Muppet's choices are the defaults.
    assert (cfg.loss_scaling, cfg.mixing, cfg.sampling, cfg.head_sharing) == (
        "log_n",
        "heterogeneous",
        "proportional",
        "shared",
    )
    assert config_from_dict({"tasks": ["rte"]}) == cfg


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = RunConfig(
        tasks=("rte", "sst2", "squad_v1"),
        name="round trip",
        loss_scaling="manual",
        manual_weights={"rte": 0.5, "sst2": 1.0, "squad_v1": 2.0},
        mixing="sequential",
        sampling="temperature",
        temperature=3.0,
        examples_cap=5000,
        head_sharing="per_dataset",
        learning_rate=2e-5,
        max_steps=77,
        num_threads=3,
        device="cpu",
        mixed_precision="no",
        r3f_lambda=1.0,
    )
    path = tmp_path / "run.yaml"
    path.write_text(cfg.to_yaml(), encoding="utf-8")
    loaded = load_config(path)
    assert loaded == cfg
    assert isinstance(loaded.tasks, tuple)
    assert loaded.to_yaml() == cfg.to_yaml()


def test_default_round_trip(tmp_path: Path) -> None:
    cfg = RunConfig(tasks=("a",))
    path = tmp_path / "run.yaml"
    path.write_text(cfg.to_yaml(), encoding="utf-8")
    assert load_config(path) == cfg


def test_unknown_key_names_it_and_lists_allowed_keys() -> None:
    msg = _error({"tasks": ["rte"], "max_stpes": 10})
    assert "max_stpes" in msg
    for key in FIELDS:
        assert key in msg, key


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_bad_enumerated_value_names_key_and_allowed_values(key: str) -> None:
    msg = _error({"tasks": ["rte"], key: "bogus_value"})
    assert key in msg
    assert "bogus_value" in msg
    for value in CHOICES[key]:
        assert value in msg, (key, value)


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_non_string_enumerated_value_names_allowed_values(key: str) -> None:
    msg = _error({"tasks": ["rte"], key: 3})
    assert key in msg
    for value in CHOICES[key]:
        assert value in msg, (key, value)


def test_mixed_precision_no_written_plainly_in_yaml(tmp_path: Path) -> None:
    # YAML 1.1 reads an unquoted `no` as false; "no" is an allowed value users will write so.
    path = tmp_path / "run.yaml"
    path.write_text("tasks: [rte]\nmixed_precision: no\n", encoding="utf-8")
    assert load_config(path).mixed_precision == "no"


def test_learning_rate_in_plain_scientific_notation(tmp_path: Path) -> None:
    # PyYAML reads `2e-5` (no dot) as a string; it is how learning rates are usually written.
    path = tmp_path / "run.yaml"
    path.write_text("tasks: [rte]\nlearning_rate: 2e-5\n", encoding="utf-8")
    assert load_config(path).learning_rate == pytest.approx(2e-5)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_steps", "100"),
        ("max_steps", True),
        ("batch_size", False),
        ("max_steps", 10.5),
        ("learning_rate", "fast"),
        ("learning_rate", True),
        ("name", 5),
        ("examples_cap", "all"),
    ],
)
def test_wrong_type_names_the_key(key: str, value: Any) -> None:
    msg = _error({"tasks": ["rte"], key: value})
    assert key in msg
    assert repr(value) in msg


def test_int_is_accepted_for_a_float_key() -> None:
    cfg = config_from_dict({"tasks": ["rte"], "temperature": 3})
    assert cfg.temperature == 3.0
    assert isinstance(cfg.temperature, float)


def test_null_only_for_optional_keys() -> None:
    assert config_from_dict({"tasks": ["a"], "examples_cap": None}).examples_cap is None
    assert "max_steps" in _error({"tasks": ["a"], "max_steps": None})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("max_steps", 0),
        ("batch_size", -1),
        ("learning_rate", 0.0),
        ("temperature", -2.0),
        ("examples_cap", 0),
        ("tasks_per_update", 0),
        ("eval_every", 0),
        ("max_length", -5),
        ("num_threads", 0),
        ("max_target_length", 0),
        ("num_beams", 0),
    ],
)
def test_non_positive_values_are_refused(key: str, value: Any) -> None:
    msg = _error({"tasks": ["rte"], key: value})
    assert key in msg
    with pytest.raises(ConfigError, match=key):
        RunConfig(tasks=("rte",), **{key: value})


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5])
def test_warmup_ratio_range(ratio: float) -> None:
    assert "warmup_ratio" in _error({"tasks": ["a"], "warmup_ratio": ratio})


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_label_smoothing_range(value: float) -> None:
    assert "label_smoothing" in _error({"tasks": ["a"], "label_smoothing": value})


def test_summarization_defaults_follow_the_paper() -> None:
    cfg = RunConfig(tasks=("xsum",))
    assert cfg.label_smoothing == 0.1  # Muppet's BART recipe
    assert cfg.num_beams >= 1 and cfg.max_target_length > 0


def test_doc_stride_follows_max_length_and_is_checked_only_for_span_tasks() -> None:
    from studio.core.config.run import check_stride

    assert config_from_dict({"tasks": ["a"], "max_length": 64}).stride == 16
    assert config_from_dict({"tasks": ["a"], "max_length": 32, "doc_stride": 64}).stride == 64
    check_stride(32, 64, [])  # no span task: the stride does not matter
    with pytest.raises(ConfigError, match=r"doc_stride: .*span task\(s\) \['squad'\]"):
        check_stride(32, 64, ["squad"])


def test_manual_scaling_without_weights_names_the_tasks() -> None:
    with pytest.raises(ConfigError) as info:
        RunConfig(tasks=("rte", "sst2", "cola"), loss_scaling="manual", manual_weights={"sst2": 1})
    msg = str(info.value)
    assert "manual_weights" in msg
    assert "rte" in msg and "cola" in msg
    assert "sst2" not in msg
    ok = RunConfig(tasks=("rte",), loss_scaling="manual", manual_weights={"rte": 0.5})
    assert ok.manual_weights == {"rte": 0.5}


def test_negative_manual_weight_names_the_task() -> None:
    with pytest.raises(ConfigError, match="rte"):
        RunConfig(tasks=("rte",), loss_scaling="manual", manual_weights={"rte": -1.0})


def test_duplicate_tasks() -> None:
    msg = _error({"tasks": ["rte", "sst2", "rte"]})
    assert "tasks" in msg


def test_tasks_required_and_not_empty() -> None:
    assert "tasks" in _error({"max_steps": 10})
    assert "tasks" in _error({"tasks": []})
    assert "tasks" in _error({"tasks": ["rte", 3]})
    assert config_from_dict({"tasks": "rte"}).tasks == ("rte",)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tasks: [rte]\nmixing: shuffled\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert "mixing" in str(info.value)

    path.write_text("tasks: [rte\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_config_is_frozen_and_replace_validates() -> None:
    cfg = RunConfig(tasks=("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.max_steps = 5  # type: ignore[misc]
    assert cfg.replace(max_steps=5).max_steps == 5
    with pytest.raises(ConfigError, match="mixing"):
        cfg.replace(mixing="random")


def test_to_dict_is_plain_yaml() -> None:
    data = yaml.safe_load(RunConfig(tasks=("a", "b")).to_yaml())
    assert data["tasks"] == ["a", "b"]
    assert set(data) == set(FIELDS)


def test_r3f_as_one_mapping() -> None:
    config = config_from_dict(
        {"tasks": ["rte"], "r3f": {"lambda": 1.0, "eps": "1e-5", "noise": "normal"}}
    )
    assert (config.r3f_lambda, config.r3f_eps, config.r3f_noise) == (1.0, 1e-5, "normal")
    with pytest.raises(ConfigError, match=r"r3f\.lambda and r3f_lambda are both given"):
        config_from_dict({"tasks": ["rte"], "r3f": {"lambda": 1.0}, "r3f_lambda": 2.0})
    with pytest.raises(ConfigError, match="r3f must be a mapping with keys"):
        config_from_dict({"tasks": ["rte"], "r3f": {"lamda": 1.0}})
    with pytest.raises(ConfigError, match="r3f_noise"):
        config_from_dict({"tasks": ["rte"], "r3f": {"noise": "pink"}})


def test_max_target_length_leaves_room_for_a_word() -> None:
    assert "max_target_length: must be in [4, 65536]" in _error(
        {"tasks": ["rte"], "max_target_length": 3}
    )


def test_a_run_stored_before_pooling_existed_goes_on_with_the_first_token() -> None:
    old = RunConfig(tasks=("rte",)).to_dict()
    del old["pooling"]  # what a run created before the setting stored
    assert stored_config(old, "run x").pooling == "first"
    assert stored_config({**old, "pooling": "mean"}, "run x").pooling == "mean"
    assert RunConfig(tasks=("rte",)).pooling == "mean"  # a new run: the current default


def test_a_run_without_a_name_is_named_by_its_recipe() -> None:
    from studio.core.config.naming import run_name

    assert run_name(RunConfig(tasks=("rte",))) == "1 task, heterogeneous, log_n"
    assert run_name(RunConfig(tasks=("rte", "cola"), mixing="homogeneous")).startswith("2 tasks, ")
    assert run_name(RunConfig(tasks=("rte",), name="mine")) == "mine"

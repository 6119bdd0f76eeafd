"""Presets: named sets of run settings (everything but the tasks), built in or saved by a user.

Built in: a quick look sized for the machine at hand (the first curve within about a minute on
a 2-core CPU), and the Muppet paper's recipe for a GPU. A user's presets are YAML files in
STUDIO_HOME/presets/, one per preset, validated like a run config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from studio.core import paths
from studio.core.config.models import pretrain_rate
from studio.core.config.run import RunConfig, config_from_dict
from studio.core.errors import ConfigError
from studio.core.tasks.spec import TaskSpec

QUICK_LOOK = "Quick look on this computer"
DEMO_RUN = "demo (synthetic tasks)"
MUPPET = "Muppet recipe (GPU)"
# Never part of a preset: what a run trains on and what it is called.
NOT_SETTINGS = ("tasks", "name", "manual_weights")


def quick_look(device: str) -> dict[str, Any]:
    """Short inputs, small batches and a log point every few updates; a GPU affords more.
    The learning rate is the model's (`apply`)."""
    cpu = {
        "model": "minilm", "max_length": 128, "batch_size": 8, "tasks_per_update": 2,
        "max_steps": 300, "log_every": 5, "eval_every": 100, "eval_max_examples": 100,
        "checkpoint_every": 100, "mixed_precision": "auto", "device": "auto",
    }  # fmt: skip
    if device == "cpu":
        return cpu
    return cpu | {
        "max_length": 256, "batch_size": 16, "tasks_per_update": 4, "max_steps": 1000,
        "log_every": 10, "eval_every": 200, "eval_max_examples": 500, "checkpoint_every": 500,
    }  # fmt: skip


def muppet_recipe() -> dict[str, Any]:
    """The paper's choices (docs/DESIGN.md §1): log-n loss scaling, heterogeneous batches of many
    tasks, temperature-free proportional sampling, long inputs and mixed precision; the
    learning rate is the base model's, by its size (`apply`)."""
    return {
        "loss_scaling": "log_n", "mixing": "heterogeneous", "sampling": "proportional",
        "tasks_per_update": 8, "batch_size": 32, "max_length": 512, "warmup_ratio": 0.06,
        "weight_decay": 0.01, "max_steps": 20000, "log_every": 50, "eval_every": 1000,
        "eval_max_examples": 1000, "checkpoint_every": 1000,
        "head_sharing": "shared", "mixed_precision": "auto", "device": "auto",
    }  # fmt: skip


def device_kind(description: str) -> str:
    """'cuda', 'mps' or 'cpu' from the window's device probe ("CUDA: ...", "CPU: 2 cores")."""
    text = description.strip().lower()
    return "cuda" if text.startswith("cuda") else "mps" if text.startswith("apple") else "cpu"


def builtin_presets(device: str) -> dict[str, dict[str, Any]]:
    return {QUICK_LOOK: quick_look(device), MUPPET: muppet_recipe()}


def presets_dir() -> Path:
    return paths.studio_home() / "presets"


def user_presets(folder: Path | None = None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The saved presets by name, and a problem line for each file that could not be read."""
    folder = folder or presets_dir()
    found: dict[str, dict[str, Any]] = {}
    problems = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            found[path.stem] = check(data, str(path))
        except (OSError, yaml.YAMLError, ConfigError) as exc:
            problems.append(f"{path}: {exc}")
    return found, problems


def check(settings: Any, where: str) -> dict[str, Any]:
    """A preset's settings, validated as a run config would be; ConfigError names the key."""
    if not isinstance(settings, dict):
        raise ConfigError(f"{where}: a preset is a mapping of run settings")
    kept = {k: v for k, v in settings.items() if k not in NOT_SETTINGS}
    config_from_dict({**kept, "tasks": ["preset"]}, where)
    return kept


def apply(config: RunConfig, settings: dict[str, Any]) -> RunConfig:
    """`config` with a preset's settings; its tasks, name and weights stay. A preset that sets
    no learning rate (the built-in ones) takes the rate of the base model it leaves the config
    with, by its size (core.config.models.PRETRAIN_RATES)."""
    data = {**config.to_dict(), **check(settings, "preset")}
    if "learning_rate" not in settings:
        data["learning_rate"] = pretrain_rate(str(data["model"]))
    return config_from_dict(data, "preset")


def save(name: str, config: RunConfig, folder: Path | None = None) -> Path:
    """Save the settings of `config` (not its tasks) as the preset `name`; return the file."""
    if name in (QUICK_LOOK, MUPPET):
        raise ConfigError(f"preset name {name!r} is a built-in preset; choose another")
    if not re.fullmatch(r"[\w .+()-]{1,64}", name) or name.strip() != name:
        raise ConfigError(
            f"preset name {name!r}: use letters, digits, spaces and . + - ( ) (64 at most)"
        )
    folder = folder or presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in config.to_dict().items() if k not in NOT_SETTINGS}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return path


def demo_config(catalog: Mapping[str, TaskSpec], steps: int = 30) -> RunConfig:
    """A short run on the synthetic demo tasks: curves within a minute on a laptop CPU.
    Summarization needs a decoder, so the demo leaves its synthetic summaries out."""
    tasks = tuple(n for n, s in catalog.items() if s.is_synthetic and s.format != "summarization")
    if not tasks:
        raise ConfigError("the task catalog holds no synthetic demo task (synth_*.yaml)")
    return RunConfig(
        tasks=tasks,
        name=DEMO_RUN,
        max_steps=steps,
        batch_size=8,
        tasks_per_update=3,
        max_length=128,
        eval_every=max(steps // 2, 1),
        log_every=2,
        eval_max_examples=100,
        checkpoint_every=max(steps // 2, 1),
    )

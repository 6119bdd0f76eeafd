"""The run config: a frozen dataclass, read from and written to YAML, validated key by key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from studio.core.errors import ConfigError

CHOICES: dict[str, tuple[str, ...]] = {
    "loss_scaling": ("none", "log_n", "manual"),
    "mixing": ("heterogeneous", "homogeneous", "sequential"),
    "sampling": ("proportional", "temperature", "uniform"),
    "head_sharing": ("shared", "per_dataset"),
    "device": ("auto", "cuda", "mps", "cpu"),
    "mixed_precision": ("auto", "no", "bf16", "fp16"),
    "r3f_noise": ("uniform", "normal"),
}


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a pre-finetuning run; saved with the run."""

    tasks: tuple[str, ...]
    name: str = ""
    model: str = "minilm"
    loss_scaling: str = "log_n"
    manual_weights: dict[str, float] = field(default_factory=dict)
    mixing: str = "heterogeneous"
    tasks_per_update: int = 4
    sampling: str = "proportional"
    temperature: float = 2.0
    examples_cap: int | None = None
    head_sharing: str = "shared"
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    max_steps: int = 1000
    warmup_ratio: float = 0.06
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_max_examples: int | None = 500
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    max_length: int = 256
    doc_stride: int = 64
    max_target_length: int = 64
    num_beams: int = 1
    label_smoothing: float = 0.1
    seed: int = 42
    device: str = "auto"
    mixed_precision: str = "auto"
    num_threads: int | None = None
    num_proc: int | None = None  # processes that tokenize a big task (None: the core count)
    r3f_lambda: float = 0.0
    r3f_eps: float = 1e-5
    r3f_noise: str = "uniform"

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tasks"] = list(self.tasks)
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


MIN_TARGET_LENGTH = 4


def _allowed(key: str, value: Any) -> None:
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{key}: {value!r} is not allowed; use one of {list(CHOICES[key])}")


def _positive(cfg: RunConfig, *keys: str) -> None:
    for key in keys:
        value = getattr(cfg, key)
        if value is not None and value <= 0:
            raise ConfigError(f"{key}: must be greater than 0, got {value!r}")


def _validate(cfg: RunConfig) -> None:
    for key in CHOICES:
        _allowed(key, getattr(cfg, key))
    if not cfg.tasks:
        raise ConfigError("tasks: pick at least one task")
    twice = sorted({t for t in cfg.tasks if cfg.tasks.count(t) > 1})
    if twice:
        raise ConfigError(f"tasks: {twice} listed more than once")
    _positive(
        cfg,
        "tasks_per_update",
        "temperature",
        "examples_cap",
        "batch_size",
        "learning_rate",
        "grad_clip",
        "max_steps",
        "eval_every",
        "eval_max_examples",
        "log_every",
        "checkpoint_every",
        "keep_checkpoints",
        "max_length",
        "doc_stride",
        "max_target_length",
        "num_beams",
        "num_threads",
        "num_proc",
    )
    if not 0 <= cfg.warmup_ratio < 1:
        raise ConfigError(f"warmup_ratio: must be in [0, 1), got {cfg.warmup_ratio!r}")
    if not 0 <= cfg.label_smoothing < 1:
        raise ConfigError(f"label_smoothing: must be in [0, 1), got {cfg.label_smoothing!r}")
    if cfg.max_target_length < MIN_TARGET_LENGTH:
        raise ConfigError(
            f"max_target_length: must be at least {MIN_TARGET_LENGTH} (room for the start and "
            f"end tokens and a word), got {cfg.max_target_length}"
        )
    if cfg.doc_stride >= cfg.max_length:
        raise ConfigError("doc_stride: must be smaller than max_length")
    if cfg.loss_scaling == "manual":
        missing = [t for t in cfg.tasks if t not in cfg.manual_weights]
        if missing:
            raise ConfigError(
                f"manual_weights: loss_scaling is manual but {missing} have no weight"
            )
    for task, weight in cfg.manual_weights.items():
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ConfigError(f"manual_weights: weight of {task!r} must be a number >= 0")


def _coerce(key: str, value: Any) -> Any:
    """Check a raw YAML value against the field's type, naming the key on failure."""
    kind = str(FIELDS[key].type)
    if key == "tasks":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise ConfigError("tasks: must be a list of task names")
        return tuple(value)
    if key == "manual_weights":
        if not isinstance(value, dict):
            raise ConfigError("manual_weights: must map task names to weights")
        return {str(k): v for k, v in value.items()}
    if key in CHOICES:
        if value is False and "no" in CHOICES[key]:
            return "no"  # YAML reads a bare `no` as false
        if not isinstance(value, str):
            raise ConfigError(f"{key}: {value!r} is not allowed; use one of {list(CHOICES[key])}")
        return value
    return coerce_value(key, kind, value)


def coerce_value(key: str, kind: str, value: Any) -> Any:
    """Check a scalar against a field type ("int", "float | None", "str", "bool"); name the key."""
    if value is None:
        if "None" in kind:
            return None
        raise ConfigError(f"{key}: a value is required")
    if kind.startswith("bool"):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: must be true or false, got {value!r}")
    elif kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: must be an integer, got {value!r}")
    elif kind.startswith("float"):
        if isinstance(value, str):
            try:  # YAML 1.1 reads 2e-5 (no dot) as a string
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: must be a number, got {value!r}")
        value = float(value)
    elif kind.startswith("str") and not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string, got {value!r}")
    return value


R3F_KEYS = {"lambda": "r3f_lambda", "eps": "r3f_eps", "noise": "r3f_noise"}


def _flatten_r3f(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Accept R3F as one mapping, `r3f: {lambda, eps, noise}`, as well as flat keys."""
    if "r3f" not in data:
        return data
    nested = data["r3f"]
    if not isinstance(nested, dict) or set(nested) - set(R3F_KEYS):
        raise ConfigError(f"{where}: r3f must be a mapping with keys {sorted(R3F_KEYS)}")
    twice = sorted(f"r3f.{k} and {R3F_KEYS[k]}" for k in nested if R3F_KEYS[k] in data)
    if twice:
        raise ConfigError(f"{where}: {', '.join(twice)} are both given; keep one")
    flat = {k: v for k, v in data.items() if k != "r3f"}
    return flat | {R3F_KEYS[k]: v for k, v in nested.items()}


def config_from_dict(data: Any, where: str = "config") -> RunConfig:
    """Build a RunConfig; unknown keys and bad values name the key and what is allowed."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping of settings")
    data = _flatten_r3f(data, where)
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed keys: {sorted(FIELDS)}")
    if "tasks" not in data:
        raise ConfigError(f"{where}: missing key 'tasks'")
    try:
        return RunConfig(**{k: _coerce(k, v) for k, v in data.items()})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return config_from_dict(data, str(path))

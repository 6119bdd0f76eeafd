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
    "pooling": ("first", "mean"),  # what a pooled head reads: the first token, or the mean
    "device": ("auto", "cuda", "mps", "cpu"),
    "mixed_precision": ("auto", "no", "bf16", "fp16"),
    "r3f_noise": ("uniform", "normal"),
    # accelerate's trackers that also get the run's metrics (the store always does)
    "report_to": ("none", "tensorboard"),
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
    # Mean: what MiniLM (the default model) was trained to pool; after pre-finetuning the
    # first token does as well (README: the factor study).
    pooling: str = "mean"
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
    doc_stride: int | None = None  # None: a quarter of max_length (span tasks only)
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
    report_to: str = "none"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def stride(self) -> int:
        return stride(self.max_length, self.doc_stride)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tasks"] = list(self.tasks)
        return data

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


MIN_TARGET_LENGTH = 4
BIG = 10**9


@dataclass(frozen=True)
class Range:
    """The values a numeric setting allows: low..high, the low end excluded when `above`."""

    low: float
    high: float
    above: bool = False  # low itself is not allowed (learning rates, temperatures, ...)
    below: bool = False  # high itself is not allowed (ratios in [0, 1))

    def allows(self, value: float) -> bool:
        low_ok = value > self.low if self.above else value >= self.low
        high_ok = value < self.high if self.below else value <= self.high
        return low_ok and high_ok

    def __str__(self) -> str:
        opening, closing = "(["[not self.above], ")]"[not self.below]
        return f"{opening}{self.low:g}, {self.high:g}{closing}"


def check_ranges(settings: Any, ranges: dict[str, Range]) -> None:
    """ConfigError naming the first setting outside its range, and the range."""
    for key, allowed in ranges.items():
        value = getattr(settings, key)
        if value is not None and not allowed.allows(value):
            raise ConfigError(f"{key}: must be in {allowed}, got {value!r}")


def stride(max_length: int, doc_stride: int | None) -> int:
    """The overlap of a long context's windows: set, or a quarter of max_length."""
    return doc_stride if doc_stride is not None else max(1, max_length // 4)


# Every numeric setting of a run and what it allows.
RANGES: dict[str, Range] = {
    "tasks_per_update": Range(1, 1024),
    "temperature": Range(0, 1000, above=True),
    "examples_cap": Range(1, BIG),
    "batch_size": Range(1, 65536),
    "learning_rate": Range(0, 1, above=True),
    "weight_decay": Range(0, 1),
    "max_steps": Range(1, BIG),
    "warmup_ratio": Range(0, 1, below=True),
    "grad_clip": Range(0, 1e6, above=True),
    "eval_every": Range(1, BIG),
    "eval_max_examples": Range(1, BIG),
    "log_every": Range(1, BIG),
    "checkpoint_every": Range(1, BIG),
    "keep_checkpoints": Range(1, 1000),
    "max_length": Range(16, 65536),
    "doc_stride": Range(1, 65536),
    "max_target_length": Range(MIN_TARGET_LENGTH, 65536),
    "num_beams": Range(1, 64),
    "label_smoothing": Range(0, 1, below=True),
    "seed": Range(0, 2**32 - 1),
    "num_threads": Range(1, 1024),
    "num_proc": Range(1, 1024),
    "r3f_lambda": Range(0, 100),
    "r3f_eps": Range(0, 1, above=True),
}


def _allowed(key: str, value: Any) -> None:
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{key}: {value!r} is not allowed; use one of {list(CHOICES[key])}")


def _validate(cfg: RunConfig) -> None:
    for key in CHOICES:
        _allowed(key, getattr(cfg, key))
    if not cfg.tasks:
        raise ConfigError("tasks: pick at least one task")
    twice = sorted({t for t in cfg.tasks if cfg.tasks.count(t) > 1})
    if twice:
        raise ConfigError(f"tasks: {twice} listed more than once")
    check_ranges(cfg, RANGES)
    if cfg.loss_scaling == "manual":
        missing = [t for t in cfg.tasks if t not in cfg.manual_weights]
        if missing:
            raise ConfigError(
                f"manual_weights: loss_scaling is manual but {missing} have no weight"
            )
    for task, weight in cfg.manual_weights.items():
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ConfigError(f"manual_weights: weight of {task!r} must be a number >= 0")


def check_stride(max_length: int, doc_stride: int | None, span_tasks: list[str]) -> None:
    """The stride matters only for span tasks: there it must leave room for new tokens."""
    if span_tasks and stride(max_length, doc_stride) >= max_length:
        raise ConfigError(
            f"doc_stride: must be smaller than max_length ({max_length}) for the span "
            f"task(s) {span_tasks}, got {doc_stride}"
        )


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


# Settings a run stored before they existed trained with: its config lacks the key, and the
# default has changed since (a resumed run must go on as it began).
STORED_BEFORE = {"pooling": "first"}


def stored_config(data: Any, where: str) -> RunConfig:
    """The config a run was saved with, read back from the store."""
    if isinstance(data, dict):
        data = STORED_BEFORE | data
    return config_from_dict(data, where)


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


def config_from_yaml(text: str, where: str = "config") -> RunConfig:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from exc
    return config_from_dict(data, where)


def read_config_file(path: str | Path) -> str:
    """A config file's text: one that cannot be read, or is not UTF-8, is a ConfigError naming
    it (and the byte where it stops being UTF-8), not a traceback."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_config(path: str | Path) -> RunConfig:
    return config_from_yaml(read_config_file(path), str(path))

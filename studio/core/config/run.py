"""The run config: a frozen dataclass, read from and written to YAML, validated key by key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from studio.core.config.settings import (
    Range,
    check_choices,
    check_ranges,
    choices_of,
    ranges_of,
    setting,
)
from studio.core.errors import ConfigError

MIN_TARGET_LENGTH = 4
BIG = 10**9
MODEL, RECIPE, OPTIMISATION = "Model & device", "Multi-task recipe", "Optimisation"
EVALUATION, SUMMARY = "Evaluation & checkpoints", "Summarization (encoder-decoder models)"
DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "no", "bf16", "fp16")
MANUAL_WEIGHT = Range(0, 1e6)  # each task's weight when loss_scaling is manual
AUTO_ON_OFF = ("auto", "on", "off")
POOLINGS = ("first", "mean")  # what a pooled head reads: the first token, or the mean
# accelerate's trackers a run can also report to (train/trackers.py: each one's package)
TRACKERS = ("none", "tensorboard", "mlflow", "wandb", "aim", "clearml", "trackio", "comet")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a pre-finetuning run; saved with the run.

    Each setting is declared once, with what it allows and how the Configure form shows it
    (core.settings); its help is in resources/settings_help.yaml.
    """

    tasks: tuple[str, ...]
    name: str = setting("", "Run name", MODEL, "text")
    model: str = setting("minilm", "Base model", MODEL, "text")
    device: str = setting("auto", "Device", MODEL, "choice", choices=DEVICES)
    mixed_precision: str = setting("auto", "Mixed precision", MODEL, "choice", choices=PRECISIONS)
    num_threads: int | None = setting(
        None, "CPU threads", MODEL, "int", range=Range(1, 1024), none="default"
    )
    # Processes that tokenize a big task (None: the core count).
    num_proc: int | None = setting(
        None, "Tokenizing processes", MODEL, "int", range=Range(1, 1024), none="auto"
    )
    # auto: one encoder pass per update where it fits the memory; off: today's per-sub-batch
    # path (the default until a change of dropout draws is wanted: tests/train/golden.json).
    fuse_update: str = setting("off", "Fuse the update", MODEL, "choice", choices=AUTO_ON_OFF)
    # torch.compile of the encoder; auto is off until measured better (not yet, anywhere).
    compile: str = setting("auto", "Compile", MODEL, "choice", choices=AUTO_ON_OFF)
    max_length: int = setting(256, "Max length", MODEL, "int", range=Range(16, 65536))
    # None: a quarter of max_length (span tasks only).
    doc_stride: int | None = setting(
        None, "Doc stride", MODEL, "int", range=Range(1, 65536), none="auto"
    )
    loss_scaling: str = setting(
        "log_n", "Loss scaling", RECIPE, "choice", choices=("none", "log_n", "manual")
    )
    manual_weights: dict[str, float] = setting({}, "Loss weights", RECIPE, "float")
    mixing: str = setting(
        "heterogeneous", "Batch mixing", RECIPE, "choice",
        choices=("heterogeneous", "homogeneous", "sequential"),
    )  # fmt: skip
    tasks_per_update: int = setting(4, "Tasks per update", RECIPE, "int", range=Range(1, 1024))
    sampling: str = setting(
        "proportional", "Task sampling", RECIPE, "choice",
        choices=("proportional", "temperature", "uniform"),
    )  # fmt: skip
    temperature: float = setting(
        2.0, "Temperature T", RECIPE, "float", range=Range(0.01, 1000), step=0.1
    )
    examples_cap: int | None = setting(
        None, "Examples cap", RECIPE, "int", range=Range(1, BIG), none="no cap", suffix=" examples"
    )
    head_sharing: str = setting(
        "shared", "Head sharing", RECIPE, "choice",
        choices=("shared", "per_dataset", "by_label_set"),
    )  # fmt: skip
    # tasknet's recipe: a learned vector per task added to the first token's input embedding.
    task_embedding: bool = setting(False, "Task embedding", RECIPE, "bool")
    task_embedding_dropout: float = setting(
        0.1, "Task embedding dropout", RECIPE, "float", range=Range(0, 1), step=0.05
    )
    # Mean: what MiniLM (the default model) was trained to pool; after pre-finetuning the
    # first token does as well (README: the factor study).
    pooling: str = setting("mean", "Head pooling", RECIPE, "choice", choices=POOLINGS)
    r3f_lambda: float = setting(0.0, "R3F λ", RECIPE, "float", range=Range(0, 100), step=0.1)
    r3f_eps: float = setting(1e-5, "R3F noise ε", RECIPE, "sci", range=Range(1e-12, 1))
    r3f_noise: str = setting(
        "uniform", "R3F noise", RECIPE, "choice", choices=("uniform", "normal")
    )
    batch_size: int = setting(16, "Batch size", OPTIMISATION, "int", range=Range(1, 65536))
    learning_rate: float = setting(
        5e-5, "Learning rate", OPTIMISATION, "sci", range=Range(1e-12, 1)
    )
    weight_decay: float = setting(
        0.01, "Weight decay", OPTIMISATION, "float", range=Range(0, 1), step=0.01
    )
    max_steps: int = setting(1000, "Max steps", OPTIMISATION, "int", range=Range(1, BIG))
    warmup_ratio: float = setting(
        0.06, "Warm-up ratio", OPTIMISATION, "float", range=Range(0, 1, below=True), step=0.01
    )
    # 0 would scale every gradient to zero.
    grad_clip: float = setting(
        1.0, "Gradient clip", OPTIMISATION, "float", range=Range(1e-6, 1e6), step=0.1
    )
    seed: int = setting(42, "Seed", OPTIMISATION, "int", range=Range(0, 2**32 - 1))
    eval_every: int = setting(
        200, "Evaluate every", EVALUATION, "int", range=Range(1, BIG), suffix=" steps"
    )
    eval_max_examples: int | None = setting(
        500, "Eval examples", EVALUATION, "int", range=Range(1, BIG), none="all"
    )
    log_every: int = setting(
        10, "Log every", EVALUATION, "int", range=Range(1, BIG), suffix=" steps"
    )
    checkpoint_every: int = setting(
        500, "Checkpoint every", EVALUATION, "int", range=Range(1, BIG), suffix=" steps"
    )
    keep_checkpoints: int = setting(2, "Keep checkpoints", EVALUATION, "int", range=Range(1, 1000))
    # accelerate's trackers that also get the run's metrics (the store always does)
    report_to: str = setting("none", "Report to", EVALUATION, "choice", choices=TRACKERS)
    max_target_length: int = setting(
        64, "Max target length", SUMMARY, "int", range=Range(MIN_TARGET_LENGTH, 65536)
    )
    num_beams: int = setting(1, "Beams", SUMMARY, "int", range=Range(1, 64))
    label_smoothing: float = setting(
        0.1, "Label smoothing", SUMMARY, "float", range=Range(0, 1, below=True), step=0.05
    )

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
# Every numeric setting of a run and what it allows; every setting with choices and those.
RANGES: dict[str, Range] = ranges_of(RunConfig)
CHOICES: dict[str, tuple[str, ...]] = choices_of(RunConfig)


def stride(max_length: int, doc_stride: int | None) -> int:
    """The overlap of a long context's windows: set, or a quarter of max_length."""
    return doc_stride if doc_stride is not None else max(1, max_length // 4)


def _validate(cfg: RunConfig) -> None:
    check_choices(cfg, CHOICES)
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
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ConfigError(f"manual_weights: weight of {task!r} must be a number")
        if not MANUAL_WEIGHT.allows(weight):
            raise ConfigError(f"manual_weights: weight of {task!r} must be in {MANUAL_WEIGHT}")


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
        if isinstance(value, bool) and "on" in CHOICES[key]:
            return "on" if value else "off"  # and a bare `on` or `off` as true or false
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

"""Fine-tuning and transfer experiment configs, and the shapes of their stored results
(the transfer table, the plotted curves, a sweep's points); pure Python."""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from studio.core.config.models import CATALOGUED, DEFAULT_MODEL, finetune_rate
from studio.core.config.run import (
    BIG,
    RANGES,
    RunConfig,
    coerce_value,
    config_from_dict,
    read_config_file,
    stride,
)
from studio.core.config.settings import (
    Range,
    check_choices,
    check_ranges,
    choices_of,
    declared,
    ranges_of,
    setting,
)
from studio.core.errors import ConfigError
from studio.core.run_record import TransferResult

MODELS = ("base", "pretuned")

CHECKPOINT = re.compile(r"^(best|latest|\d+)$")


FINETUNING = "Fine-tuning"


def _run(key: str, **changes: Any) -> Any:
    """A fine-tuning setting declared like the run setting `key`: same range and choices."""
    declaration = declared(RunConfig)[key]
    return setting(
        changes.pop("default"),
        changes.pop("label", declaration.label),
        FINETUNING,
        declaration.kind,
        range=declaration.range,
        choices=declaration.choices,
        none=changes.pop("none", declaration.none),
        step=declaration.step,
        suffix=declaration.suffix,
    )


@dataclass(frozen=True)
class FinetuneSettings:
    """How every fine-tuning runs: shared by `finetune`, `transfer` and a sweep's transfers.

    Declared once (core.settings), with the run config's ranges where a key is shared; the
    YAML keys are flat beside the others.
    """

    # Fits MiniLM, the default model (README: the factor study); models of BERT-base size and
    # up usually want 1e-5 to 3e-5: a YAML that sets none takes its base model's size's
    # (core.config.models.FINETUNE_RATES; _picked_rate).
    learning_rate: float = _run("learning_rate", default=1e-4)
    batch_size: int = _run("batch_size", default=16)
    epochs: float = setting(3.0, "Epochs", FINETUNING, "float", range=Range(1e-3, 1000), step=1.0)
    # At k = 32, 3 epochs are 6 updates: too few to leave the majority label.
    min_steps: int = setting(50, "Min updates", FINETUNING, "int", range=Range(0, BIG))
    max_length: int = _run("max_length", default=256)
    doc_stride: int | None = _run("doc_stride", default=None)
    warmup_ratio: float = _run("warmup_ratio", default=0.1)
    weight_decay: float = _run("weight_decay", default=0.01)
    eval_max_examples: int | None = _run("eval_max_examples", default=None, none="full split")
    device: str = _run("device", default="auto")
    mixed_precision: str = _run("mixed_precision", default="auto")  # as a run's
    num_threads: int | None = _run("num_threads", default=None)
    pooling: str = _run("pooling", default="mean")
    # The probe: the encoder stays frozen and only the head trains (at its own learning rate),
    # on features the encoder computed once: a cheap, low-variance reading of the encoder.
    probe: bool = setting(False, "Probe", FINETUNING, "bool")
    probe_learning_rate: float = _run("learning_rate", default=1e-3, label="Probe LR")

    def __post_init__(self) -> None:
        check_choices(self, choices_of(FinetuneSettings))
        check_ranges(self, SETTINGS_RANGES)

    @property
    def stride(self) -> int:
        return stride(self.max_length, self.doc_stride)


SETTINGS_RANGES = ranges_of(FinetuneSettings)
SETTINGS = tuple(f.name for f in dataclasses.fields(FinetuneSettings))


@dataclass(frozen=True)
class FinetuneConfig:
    """One fine-tuning run: an encoder on one target task with `k` training examples."""

    task: str
    # A base model, an export folder, or a stored run: "<run id>" or "run:<id>@best|latest|STEP".
    model: str = "minilm"
    k: int | None = None  # None: the whole training set
    seed: int = 0
    reuse_heads: bool = False
    name: str = ""
    settings: FinetuneSettings = FinetuneSettings()

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ConfigError(f"k: must be at least 1 (or null for all), got {self.k}")
        check_ranges(self, {"seed": RANGES["seed"]})

    def to_dict(self) -> dict[str, Any]:
        """Flat, as in YAML: the settings beside the other keys."""
        data = dataclasses.asdict(self)
        settings = data.pop("settings")
        return {**data, **settings}


@dataclass(frozen=True)
class TransferConfig:
    """Fine-tune base and pre-finetuned encoders on held-out targets at several sizes and seeds."""

    source: str  # a pre-finetuning run id, or an export folder
    targets: tuple[str, ...]
    base_model: str = "minilm"
    sizes: tuple[int | str, ...] = (32, 100, 300, 1000, "all")
    seeds: tuple[int, ...] = (0, 1, 2)
    reuse_heads: bool = True
    checkpoint: str = "best"  # which checkpoint of a source run: best | latest | a step
    name: str = ""
    settings: FinetuneSettings = FinetuneSettings()

    def __post_init__(self) -> None:
        if not self.targets:
            raise ConfigError("targets: list at least one target task")
        if not self.seeds:
            raise ConfigError("seeds: list at least one seed")
        for seed in self.seeds:
            if not RANGES["seed"].allows(seed):
                raise ConfigError(f"seeds: {seed!r} must be in {RANGES['seed']}")
        for size in self.sizes:
            if size != "all" and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
                raise ConfigError(f"sizes: {size!r} must be a positive integer or 'all'")
        if not self.sizes:
            raise ConfigError("sizes: list at least one size")
        if not CHECKPOINT.match(str(self.checkpoint)):
            raise ConfigError(
                f"checkpoint: {self.checkpoint!r} is not allowed; use best, latest or a step"
            )

    def finetune(
        self, task: str, model: str, size: int | str, seed: int, reuse_heads: bool
    ) -> FinetuneConfig:
        k = None if size == "all" else int(size)
        return FinetuneConfig(task, model, k, seed, reuse_heads, settings=self.settings)

    def to_dict(self) -> dict[str, Any]:
        """Flat, as in YAML: the settings beside the other keys."""
        data = dataclasses.asdict(self)
        data["targets"], data["sizes"], data["seeds"] = (
            list(self.targets),
            list(self.sizes),
            list(self.seeds),
        )
        settings = data.pop("settings")
        return {**data, **settings}


@dataclass(frozen=True)
class SweepConfig:
    """Pre-finetune on nested task subsets of growing size, then transfer from each."""

    pool: tuple[str, ...]  # tasks in the order they join the mix
    counts: tuple[int, ...]  # subset sizes, e.g. 4, 8, 16, 24, 32
    pretrain: dict[str, Any]  # run-config settings shared by every pre-finetuning run
    transfer: dict[str, Any]  # transfer settings (targets, sizes, seeds, ...) without source
    name: str = ""

    def __post_init__(self) -> None:
        if list(self.counts) != sorted(set(self.counts)) or not self.counts:
            raise ConfigError("counts: give increasing subset sizes, e.g. [4, 8, 16]")
        if self.counts[0] < 1:
            raise ConfigError(f"counts: a subset needs at least 1 task, got {self.counts[0]}")
        if self.counts[-1] > len(self.pool):
            raise ConfigError(
                f"counts: {self.counts[-1]} tasks asked for but the pool has {len(self.pool)}"
            )
        overlap = set(self.pool) & set(self.transfer.get("targets", ()))
        if overlap:
            raise ConfigError(f"pool: the targets {sorted(overlap)} must be held out of the pool")

    def subsets(self) -> list[tuple[str, ...]]:
        """Nested subsets: each one is a superset of the last."""
        return [self.pool[:n] for n in self.counts]


# The configs that _from_dict builds from YAML settings.
_Config = TypeVar("_Config", FinetuneConfig, TransferConfig, SweepConfig)


def _coerce(key: str, kind: str, value: Any) -> Any:
    """Check one YAML value against its field type, naming the key (as the run config does)."""
    if kind.startswith("tuple"):
        items = value if isinstance(value, list) else [value]
        if key == "sizes":
            return tuple(v if v == "all" else coerce_value(key, "int", v) for v in items)
        item_kind = "int" if "int" in kind else "str"
        return tuple(coerce_value(key, item_kind, v) for v in items)
    if kind.startswith("dict"):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: must be a mapping of settings")
        return value
    if key == "k" and value == "all":
        return None
    return coerce_value(key, kind, value)


def _from_dict(cls: type[_Config], data: Any, where: str) -> _Config:
    """A config from flat YAML settings; the fine-tuning settings go to its `settings`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping of settings")
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    nested = fields.pop("settings", None) is not None
    shared = {f.name: str(f.type) for f in dataclasses.fields(FinetuneSettings)} if nested else {}
    fields |= shared
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed keys: {sorted(fields)}")
    try:
        values = {k: _coerce(k, fields[k], v) for k, v in data.items()}
        rate = _picked_rate(cls, values)
        if nested and "learning_rate" not in values and rate is not None:
            values["learning_rate"] = rate
        if nested:
            values["settings"] = FinetuneSettings(
                **{k: values.pop(k) for k in shared if k in values}
            )
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _picked_rate(cls: type, values: dict[str, Any]) -> float | None:
    """The fine-tuning rate a config that sets none takes: its base model's size's
    (core.config.models.FINETUNE_RATES). A FinetuneConfig's model picks only when it is a
    listed model or a folder: a run id says nothing of its base."""
    if cls is TransferConfig:
        return finetune_rate(str(values.get("base_model", DEFAULT_MODEL)))
    if cls is FinetuneConfig:
        model = str(values.get("model", DEFAULT_MODEL))
        if model in CATALOGUED or Path(model).expanduser().is_dir():
            return finetune_rate(model)
    return None


def load_yaml(path: str | Path) -> Any:
    text = read_config_file(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def finetune_config(data: Any, where: str = "config") -> FinetuneConfig:
    return _from_dict(FinetuneConfig, data, where)


def transfer_config(data: Any, where: str = "config") -> TransferConfig:
    return _from_dict(TransferConfig, data, where)


def sweep_config(data: Any, where: str = "config") -> SweepConfig:
    """A sweep config, validated completely before any training: every pre-finetuning
    subset's run config and the whole transfer section (as each transfer will read it)."""
    config = _from_dict(SweepConfig, data, where)
    if "tasks" in config.pretrain:
        raise ConfigError(f"{where}: pretrain: leave out 'tasks'; the sweep sets them from pool")
    for subset in config.subsets():
        config_from_dict({**config.pretrain, "tasks": list(subset)}, f"{where}: pretrain")
    if "source" in config.transfer:
        raise ConfigError(f"{where}: transfer: leave out 'source'; each subset's run is it")
    transfer_config({**config.transfer, "source": "sweep"}, f"{where}: transfer")
    return config


@dataclass(frozen=True)
class Cell:
    """Mean and spread of one (target, size, model) over seeds."""

    target: str
    size: str
    model: str
    metric: str
    mean: float
    std: float
    n: int
    leaked: bool


def summarize(results: Iterable[TransferResult]) -> list[Cell]:
    """Group result rows by (target, size, model): mean ± sample std over seeds."""
    groups: dict[tuple[str, str, str], list[TransferResult]] = {}
    for row in results:
        groups.setdefault((row.target, row.size, row.model), []).append(row)
    cells = []
    for (target, size, model), rows in groups.items():
        values = [r.value for r in rows]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        cells.append(
            Cell(
                target,
                size,
                model,
                rows[0].metric,
                statistics.fmean(values),
                std,
                len(values),
                any(r.leaked for r in rows),
            )
        )
    return cells


def size_key(size: str) -> float:
    return float("inf") if size == "all" else float(size)


def parse_sizes(text: str) -> tuple[int | str, ...]:
    """'100, 32 all' -> (32, 100, 'all'); a readable ConfigError for anything else."""
    tokens = [t for t in re.split(r"[,\s;]+", text.strip()) if t]
    for token in tokens:
        if token.lower() != "all" and not (token.isascii() and token.isdigit() and int(token) > 0):
            what = f"{token!r} is not a positive whole number or 'all'"
            raise ConfigError(f"Sizes: {what} (e.g. 32, 100, all)")
    if not tokens:
        raise ConfigError("Sizes: give at least one training-set size, e.g. 32, 100, all")
    sizes = {"all" if t.lower() == "all" else int(t) for t in tokens}
    return tuple(sorted(sizes, key=lambda s: float("inf") if s == "all" else float(s)))


def parse_seeds(text: str) -> tuple[int, ...]:
    """'0, 1, 2' -> (0, 1, 2); a readable ConfigError for anything else."""
    tokens = [t for t in re.split(r"[,\s;]+", text.strip()) if t]
    bad = [t for t in tokens if not (t.isascii() and t.isdigit())]
    if bad or not tokens:
        what = f"{bad[0]!r} is not a whole number" if bad else "give at least one seed"
        raise ConfigError(f"Seeds: {what} (e.g. 0, 1, 2)")
    return tuple(dict.fromkeys(int(t) for t in tokens))


def export_mix(folder: Path) -> list[str]:
    """The tasks an export folder was pre-finetuned on; a ConfigError names what is missing."""
    if not (folder / "heads.json").is_file():
        raise ConfigError(f"{folder}: not an export folder (it has no heads.json)")
    config = folder / "studio_config.yaml"
    try:
        tasks = yaml.safe_load(config.read_text(encoding="utf-8"))["tasks"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"{config}: cannot read the pre-finetuning tasks: {exc}") from None
    if not isinstance(tasks, list):
        raise ConfigError(f"{config}: 'tasks' must be a list of task names, not {tasks!r}")
    return [str(t) for t in tasks]


SWEEP_NAMES = ("base_mean", "pretuned_mean", "gain")


@dataclass(frozen=True)
class MeanCurve:
    """One line of a results plot: x (examples or task count), mean metric y, and its ± std."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    std: tuple[float, ...]


def examples_by_size(rows: Iterable[TransferResult]) -> dict[tuple[str, str], int]:
    """Examples each (target, size) really used: for size 'all', the full training set."""
    ks: dict[tuple[str, str], int] = {}
    for row in rows:
        if row.k is not None:
            key = (row.target, row.size)
            ks[key] = max(ks.get(key, 0), row.k)
    return ks


def transfer_curves(
    cells: list[Cell], ks: dict[tuple[str, str], int]
) -> dict[tuple[str, str], MeanCurve]:
    """(target, model) -> its curve sorted by k; a size 'all' without a recorded k is left out."""
    points: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for cell in cells:
        # Rows written before `k` was recorded fall back to the size asked for.
        k = float(ks.get((cell.target, cell.size)) or size_key(cell.size))
        if math.isfinite(k):
            points.setdefault((cell.target, cell.model), []).append((k, cell.mean, cell.std))
    return {key: MeanCurve(*zip(*sorted(p), strict=True)) for key, p in points.items()}


def sweep_points(rows: Iterable[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """Number of tasks -> {base_mean, pretuned_mean, gain} from a sweep run's metric rows."""
    points: dict[int, dict[str, float]] = {}
    for row in rows:
        if row["task"] is None and row["name"] in SWEEP_NAMES and row["value"] is not None:
            points.setdefault(int(row["step"]), {})[row["name"]] = float(row["value"])
    return dict(sorted(points.items()))


def sweep_curves(points: dict[int, dict[str, float]]) -> dict[str, MeanCurve]:
    """model -> its mean target metric against the number of tasks (no spread: one value)."""
    curves: dict[str, MeanCurve] = {}
    for model in MODELS:
        steps = [s for s, p in points.items() if f"{model}_mean" in p]
        if steps:
            y = tuple(points[s][f"{model}_mean"] for s in steps)
            curves[model] = MeanCurve(tuple(map(float, steps)), y, (0.0,) * len(y))
    return curves

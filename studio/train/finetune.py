"""Fine-tuning one encoder on one target task with k examples: the transfer experiment's unit.

The encoder comes from a base model (id or folder), an export folder, or a checkpoint folder
of a pre-finetuning run. With `reuse_heads`, a head of the pre-finetuned model that fits the
target (the shared multiple-choice or span head, or the task's own head) starts the fine-tuning,
as the paper recommends for small data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import yaml
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    set_seed,
)

from studio.core.config.run import check_stride
from studio.core.errors import ConfigError, StudioError
from studio.core.experiments.transfer import FinetuneConfig, FinetuneSettings
from studio.core.metric_catalogue import EVAL_MEAN, LOSS, eval_name
from studio.core.mixing.plan import TaskPlan
from studio.core.sink import MetricRow, Sink
from studio.core.tasks.availability import Availability, resolve
from studio.core.tasks.metrics import classification_metrics
from studio.core.tasks.spec import TaskSpec
from studio.train.batching import TaskStream, collate
from studio.train.checkpoint import split_weights
from studio.train.data.loading import TaskData, Tokenization, column, load_task, validate_task
from studio.train.evaluate import evaluate_task
from studio.train.manifest import recipe_manifest
from studio.train.model import MultiTaskModel, label_set_key
from studio.train.positions import capped_length
from studio.train.probe import FeatureCache, encode_features
from studio.train.recipe import Recipe, build_recipe
from studio.train.seq2seq import load_checkpoint_model, model_class
from studio.train.setup import (
    Workspace,
    check_offsets,
    keeps_process_settings,
    load_backbone,
    load_tokenizer,
    quiet_libraries,
)
from studio.train.steps import RunningLoss, clipped_update
from studio.train.task_embedding import KEY as TASK_VECTORS
from studio.train.task_embedding import TaskEmbedding

# What a fine-tuning has no setting for: the run config's defaults.
GRAD_CLIP = 1.0
LOG_EVERY = 10  # updates between two training-loss rows


@dataclass
class FinetuneResult:
    task: str
    metric: str
    value: float
    metrics: dict[str, float]
    examples: int
    steps: int
    head_reused: str | None = None
    status: str = "finished"
    # The metric of always answering the training sample's most frequent label (None for spans).
    baseline: float | None = None
    # Which examples it trained on, in which order: equal for two runs exactly when they were
    # paired (same k-subsample, same seed, same batches).
    order: str = ""


@dataclass
class Source:
    """A backbone (an encoder or an encoder-decoder), its tokenizer, and the pre-finetuned heads
    that came with it (if any)."""

    backbone: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    heads: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    pooling: str = "first"  # what its heads were trained to read
    # Each pre-finetuning task's vector, when the run had a task embedding (tasknet's recipe).
    task_vectors: dict[str, torch.Tensor] = field(default_factory=dict)


def _task_vectors(weights: dict[str, torch.Tensor], tasks: list[str]) -> dict[str, torch.Tensor]:
    """The task embedding's rows by task name, taken out of the head weights (none: {})."""
    table = weights.pop(TASK_VECTORS, None)
    return {} if table is None else dict(zip(tasks, table, strict=True))


def attach_task_vectors(model: MultiTaskModel, vectors: dict[str, torch.Tensor]) -> list[str]:
    """Give `model` a task embedding with the source's vectors of its own tasks (always added:
    no dropout); the tasks that got one. A task the source never trained on gets none."""
    tasks = [t for t in model.specs if t in vectors]
    if not tasks:
        return []
    hidden = int(vectors[tasks[0]].shape[-1])
    model.task_embedding = TaskEmbedding(tasks, hidden, dropout=0.0)
    with torch.no_grad():
        model.task_embedding.weight.copy_(torch.stack([vectors[t] for t in tasks]))
    return tasks


def _group_heads(weights: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Head tensors grouped by head key ("multiple_choice", "classification/rte", ...)."""
    heads: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        head, _, param = key.rpartition(".")
        head, _, module = head.rpartition(".")
        heads.setdefault(head, {})[f"{module}.{param}"] = tensor
    return heads


def load_source(model: str) -> Source:
    """A checkpoint folder, an export folder, or a base model id / folder."""
    # The casts: checkpoints and exports keep the fast tokenizer that load_tokenizer checked.
    folder = Path(model).expanduser()
    if (folder / "trainer_state.json").is_file():  # a checkpoint of a pre-finetuning run
        backbone, heads = split_weights(folder)
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        vectors = _task_vectors(heads, state["config"]["tasks"])
        return Source(
            load_checkpoint_model(folder, backbone),
            cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(folder / "tokenizer")),
            _group_heads(heads),
            state["config"].get("pooling", "first"),  # runs from before pooling was a setting
            vectors,
        )
    if (folder / "heads.json").is_file():  # an export
        config = yaml.safe_load((folder / "studio_config.yaml").read_text(encoding="utf-8"))
        weights = load_file(str(folder / "heads.safetensors"))
        vectors = _task_vectors(weights, config["tasks"])
        return Source(
            model_class(AutoConfig.from_pretrained(folder)).from_pretrained(folder),
            cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(folder)),
            _group_heads(weights),
            config.get("pooling", "first"),
            vectors,
        )
    return Source(load_backbone(model), load_tokenizer(model))


def _subsample(data: TaskData, k: int | None, seed: int) -> tuple[np.ndarray, int]:
    """Feature indices of k examples drawn with `seed` (all when k is None), and their count."""
    n = data.train_examples
    if k is None or k >= n:
        return np.arange(len(data.train)), n
    chosen = np.random.default_rng(seed).choice(n, size=k, replace=False)
    if "example_index" in data.train.column_names:  # span QA: an example, several windows
        index = column(data.train, "example_index")
        return np.flatnonzero(np.isin(index, chosen)), k
    return np.sort(chosen), k


def _reuse_head(
    model: MultiTaskModel, task: str, heads: dict[str, dict[str, torch.Tensor]]
) -> str | None:
    key = model.head_of[task]
    weights = heads.get(key)
    spec = model.specs[task]
    if not weights and spec.labels and label_set_key(spec.labels) in heads:
        # A head the source's tasks with these label names shared (head_sharing by_label_set):
        # it answers in sorted label order, the target's head in the target's own.
        weights = _in_label_order(heads[label_set_key(spec.labels)], spec.labels)
        key_used = label_set_key(spec.labels)
    else:
        key_used = key
    if not weights:
        return None
    target = model.heads[key].state_dict()
    if set(weights) != set(target) or any(weights[k].shape != target[k].shape for k in target):
        return None
    model.heads[key].load_state_dict(weights)
    return key_used


def _in_label_order(
    weights: dict[str, torch.Tensor], labels: tuple[str, ...]
) -> dict[str, torch.Tensor]:
    """A label-set head's weights with its output rows in `labels` order."""
    rows = torch.tensor([sorted(labels).index(label) for label in labels])
    return {k: v[rows] if k.startswith("out.") else v for k, v in weights.items()}


@dataclass
class FinetuneState:
    """What a fine-tuning's loop reads beside its recipe: the task, the k examples it trains
    on, how many updates, their batch stream, and the probe's stored features."""

    spec: TaskSpec
    settings: FinetuneSettings  # the probe's learning rate in place of fine-tuning's
    features: np.ndarray  # feature indices of the k examples
    examples: int
    steps: int
    stream: TaskStream
    cache: FeatureCache | None
    reused: str | None  # the pre-finetuned head it starts from


@keeps_process_settings
def finetune(
    config: FinetuneConfig, sink: Sink, stop: threading.Event, ws: Workspace
) -> FinetuneResult:
    """Fine-tune on `config.task` with k examples, then score the full validation split."""
    recipe, job = prepare_finetuning(config, sink, ws)
    sink.plan(recipe.plan)  # the device it trains on, for its report
    sink.manifest(recipe_manifest(config.to_dict(), config.seed, recipe))
    accelerator, model, name = recipe.accelerator, recipe.model, job.spec.name
    data = recipe.tasks[name]
    order = hashlib.sha1(job.features.tobytes())
    model.train()
    step, running = 0, RunningLoss()
    while step < job.steps and not stop.is_set():
        positions = job.stream.next()
        order.update(positions.tobytes())
        loss = _loss(model, accelerator, name, data, job.features, positions, recipe.pad_id,
                     job.cache)  # fmt: skip
        accelerator.backward(loss)
        clipped_update(recipe.training, GRAD_CLIP)
        step += 1
        running.add(loss)
        sink.progress(step, job.steps)
        if step % LOG_EVERY == 0 or step == job.steps:
            sink.metrics([MetricRow(step, LOSS, running.pop(), name)])
    settings, metric = job.settings, job.spec.metric
    metrics = evaluate_task(
        accelerator.unwrap_model(model), data, settings.batch_size * 2,
        settings.eval_max_examples, accelerator.device, recipe.pad_id, accelerator.autocast,
    )  # fmt: skip
    rows = [MetricRow(step, eval_name(k), v, name) for k, v in metrics.items()]
    # One task: its primary metric is the run's validation mean (the Runs table's column).
    sink.metrics([*rows, MetricRow(step, EVAL_MEAN, metrics[metric])])
    sink.flush()
    status = "stopped" if step < job.steps else "finished"
    baseline = majority_baseline(data, job.features, settings.eval_max_examples)
    return FinetuneResult(
        name, metric, metrics[metric], metrics, job.examples, step, job.reused, status,
        None if baseline is None else baseline[metric], order.hexdigest(),
    )  # fmt: skip


def prepare_finetuning(
    config: FinetuneConfig, sink: Sink, ws: Workspace
) -> tuple[Recipe, FinetuneState]:
    """The set-up, in the order pre-finetuning's takes (train/recipe.py): validate the task,
    load the source model, tokenize, seed and build the model, plan, place it on the device."""
    quiet_libraries()
    spec, where = _check_task(config, ws)
    settings = config.settings
    source = load_source(config.model)
    check_offsets(source.tokenizer, config.model, [spec.name] * (spec.format == "extractive_qa"))
    length, said = capped_length(
        settings.max_length, source.tokenizer, source.backbone.config, config.model
    )
    if said is not None:
        sink.log("warning", said)
        settings = dataclasses.replace(settings, max_length=length)
    how = Tokenization(source.tokenizer, settings.max_length, settings.stride)
    data = load_task(spec, where, how, ws.cache, ws.synthetic_root)
    set_seed(config.seed)
    multitask = MultiTaskModel(source.backbone, [spec], "shared", pooling=settings.pooling)
    reused = _start_head(config, spec.name, multitask, source, sink)
    if attach_task_vectors(multitask, source.task_vectors):
        sink.log("info", f"starting from the pre-finetuned task vector of {spec.name}")
    features, examples = _subsample(data, config.k, config.seed)
    epochs = math.ceil(settings.epochs * len(features) / settings.batch_size)
    steps = max(settings.min_steps, epochs)
    sink.log(
        "info",
        f"{'probing' if settings.probe else 'fine-tuning'} on {spec.name}: {examples} examples, "
        f"{steps} updates" + (f", reusing the pre-finetuned head '{reused}'" if reused else ""),
    )
    if settings.probe:
        multitask.encoder.requires_grad_(False)
        settings = dataclasses.replace(settings, learning_rate=settings.probe_learning_rate)
    # One task: it has every draw, and its loss is not scaled.
    plan = (TaskPlan(spec.name, examples, 1.0, None, 1.0),)
    recipe = build_recipe(
        multitask, source.tokenizer, {spec.name: data}, plan, settings,
        settings.mixed_precision, steps,
    )  # fmt: skip
    lengths = data.train_lengths[features]
    cache = None
    if settings.probe:
        cache = _probe_cache(recipe, spec.name, features, lengths, settings.batch_size * 2)
    stream = TaskStream(lengths, min(settings.batch_size, len(features)), config.seed)
    job = FinetuneState(spec, settings, features, examples, steps, stream, cache, reused)
    return recipe, job


def _check_task(config: FinetuneConfig, ws: Workspace) -> tuple[TaskSpec, Availability]:
    """The target task, its records validated; one the transfer experiment cannot fine-tune
    on is refused before any heavy work."""
    if config.task not in ws.catalog:
        raise ConfigError(f"task: {config.task!r} is not in the catalog")
    spec = ws.catalog[config.task]
    if spec.format == "summarization":
        raise StudioError(
            f"task '{spec.name}' is summarization; the transfer experiment fine-tunes "
            "classification, multiple-choice and span tasks only"
        )
    spans = [spec.name] if spec.format == "extractive_qa" else []
    check_stride(config.settings.max_length, config.settings.doc_stride, spans)
    where = resolve(spec, ws.data_dir, ws.synthetic_root)
    validate_task(spec, where, ws.synthetic_root)
    return spec, where


def _start_head(
    config: FinetuneConfig, task: str, model: MultiTaskModel, source: Source, sink: Sink
) -> str | None:
    """Start from a pre-finetuned head that fits (`reuse_heads`); which one, if any."""
    pooling = config.settings.pooling
    if config.reuse_heads and source.heads and source.pooling != pooling:
        sink.log(
            "warning",
            f"the pre-finetuned heads read {source.pooling} pooling and this fine-tuning "
            f"uses {pooling}: starting from a fresh head",
        )
        return None
    if config.reuse_heads:
        return _reuse_head(model, task, source.heads)
    return None


def _probe_cache(
    recipe: Recipe, task: str, features: np.ndarray, lengths: np.ndarray, batch_size: int
) -> FeatureCache:
    """The probe's features: the frozen encoder reads each training example once."""
    accelerator = recipe.accelerator
    return encode_features(
        accelerator.unwrap_model(recipe.model), task, recipe.tasks[task].train, features,
        lengths, batch_size, recipe.pad_id, accelerator.device, accelerator.autocast,
    )  # fmt: skip


def _loss(
    model: torch.nn.Module,
    accelerator: Any,
    task: str,
    data: TaskData,
    features: np.ndarray,
    positions: np.ndarray,
    pad_id: int,
    cache: FeatureCache | None,
) -> torch.Tensor:
    """The mean loss of the batch at `positions` of `features`: through the whole model, or
    the head alone on the probe's stored features."""
    if cache is not None:
        head = accelerator.unwrap_model(model)
        stored, targets = cache.batch(positions)
        return head.example_losses(task, head.head_logits(task, stored), targets).mean()
    batch, _, _ = collate(data.train, features[positions], pad_id)
    batch = {k: v.to(accelerator.device) for k, v in batch.items()}
    with accelerator.autocast():
        losses, _ = model(task, batch)
    return losses.mean()


def majority_baseline(
    data: TaskData, features: np.ndarray, limit: int | None
) -> dict[str, float] | None:
    """Every metric of answering the most frequent training label on the validation examples
    the fine-tuned model was scored on: the floor a result must beat (None for spans)."""
    if data.spec.format not in ("classification", "pair_classification", "multiple_choice"):
        return None
    train = column(data.train, "labels")[features]
    labels = column(data.validation, "labels")[:limit]
    majority = int(np.bincount(train).argmax())
    return classification_metrics([majority] * len(labels), labels.tolist())

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

from studio.core.availability import resolve
from studio.core.config import check_stride
from studio.core.errors import ConfigError, StudioError
from studio.core.experiments import FinetuneConfig
from studio.core.metrics import classification_metrics
from studio.core.sink import MetricRow, Sink
from studio.train.batching import TaskStream, collate
from studio.train.checkpoint import split_weights
from studio.train.data import TaskData, Tokenization, column, load_task, validate_task
from studio.train.evaluate import evaluate_task
from studio.train.model import MultiTaskModel
from studio.train.probe import FeatureCache, encode_features
from studio.train.seq2seq import load_checkpoint_model, model_class
from studio.train.setup import (
    Workspace,
    keeps_process_settings,
    load_backbone,
    load_tokenizer,
    quiet_libraries,
)
from studio.train.steps import RunningLoss, clipped_update, prepare_training

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
        return Source(
            load_checkpoint_model(folder, backbone),
            cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(folder / "tokenizer")),
            _group_heads(heads),
            state["config"].get("pooling", "first"),  # runs from before pooling was a setting
        )
    if (folder / "heads.json").is_file():  # an export
        config = yaml.safe_load((folder / "studio_config.yaml").read_text(encoding="utf-8"))
        return Source(
            model_class(AutoConfig.from_pretrained(folder)).from_pretrained(folder),
            cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(folder)),
            _group_heads(load_file(str(folder / "heads.safetensors"))),
            config.get("pooling", "first"),
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
    if not weights:
        return None
    target = model.heads[key].state_dict()
    if set(weights) != set(target) or any(weights[k].shape != target[k].shape for k in target):
        return None
    model.heads[key].load_state_dict(weights)
    return key


@keeps_process_settings
def finetune(
    config: FinetuneConfig, sink: Sink, stop: threading.Event, ws: Workspace
) -> FinetuneResult:
    """Fine-tune on `config.task` with k examples, then score the full validation split."""
    quiet_libraries()
    if config.task not in ws.catalog:
        raise ConfigError(f"task: {config.task!r} is not in the catalog")
    spec = ws.catalog[config.task]
    if spec.format == "summarization":
        raise StudioError(
            f"task '{spec.name}' is summarization; the transfer experiment fine-tunes "
            "classification, multiple-choice and span tasks only"
        )
    settings = config.settings
    spans = [spec.name] if spec.format == "extractive_qa" else []
    check_stride(settings.max_length, settings.doc_stride, spans)
    where = resolve(spec, ws.data_dir, ws.synthetic_root)
    validate_task(spec, where, ws.synthetic_root)
    source = load_source(config.model)
    how = Tokenization(source.tokenizer, settings.max_length, settings.stride)
    data = load_task(spec, where, how, ws.cache, ws.synthetic_root)
    set_seed(config.seed)
    multitask = MultiTaskModel(source.backbone, [spec], "shared", pooling=settings.pooling)
    reused = None
    if config.reuse_heads and source.heads and source.pooling != settings.pooling:
        sink.log(
            "warning",
            f"the pre-finetuned heads read {source.pooling} pooling and this fine-tuning "
            f"uses {settings.pooling}: starting from a fresh head",
        )
    elif config.reuse_heads:
        reused = _reuse_head(multitask, spec.name, source.heads)
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
    training = prepare_training(multitask, settings, settings.mixed_precision, steps)
    accelerator, model = training.accelerator, training.model
    pad_id = source.tokenizer.pad_token_id or 0
    lengths = data.train_lengths[features]
    cache = None
    if settings.probe:
        cache = encode_features(
            accelerator.unwrap_model(model), spec.name, data.train, features, lengths,
            settings.batch_size * 2, pad_id, accelerator.device, accelerator.autocast,
        )  # fmt: skip
    stream = TaskStream(lengths, min(settings.batch_size, len(features)), config.seed)
    order = hashlib.sha1(features.tobytes())
    model.train()
    step, running = 0, RunningLoss()
    while step < steps and not stop.is_set():
        positions = stream.next()
        order.update(positions.tobytes())
        loss = _loss(model, accelerator, spec.name, data, features, positions, pad_id, cache)
        accelerator.backward(loss)
        clipped_update(training, GRAD_CLIP)
        step += 1
        running.add(loss)
        sink.progress(step, steps)
        if step % LOG_EVERY == 0 or step == steps:
            sink.metrics([MetricRow(step, "loss", running.pop(), spec.name)])
    metrics = evaluate_task(
        accelerator.unwrap_model(model),
        data,
        settings.batch_size * 2,
        settings.eval_max_examples,
        accelerator.device,
        pad_id,
        accelerator.autocast,
    )
    rows = [MetricRow(step, f"eval_{k}", v, spec.name) for k, v in metrics.items()]
    # One task: its primary metric is the run's validation mean (the Runs table's column).
    sink.metrics([*rows, MetricRow(step, "eval_mean", metrics[spec.metric])])
    sink.flush()
    status = "stopped" if step < steps else "finished"
    baseline = majority_baseline(data, features, settings.eval_max_examples)
    return FinetuneResult(
        spec.name, spec.metric, metrics[spec.metric], metrics, examples, step, reused, status,
        None if baseline is None else baseline[spec.metric], order.hexdigest(),
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

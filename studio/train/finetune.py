"""Fine-tuning one encoder on one target task with k examples: the transfer experiment's unit.

The encoder comes from a base model (id or folder), an export folder, or a checkpoint folder
of a pre-finetuning run. With `reuse_heads`, a head of the pre-finetuned model that fits the
target (the shared multiple-choice or span head, or the task's own head) starts the fine-tuning,
as the paper recommends for small data.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
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
from studio.core.sink import MetricRow, Sink
from studio.train.batching import TaskStream, collate
from studio.train.checkpoint import split_weights
from studio.train.data import TaskData, Tokenization, column, load_task, validate_task
from studio.train.evaluate import evaluate_task
from studio.train.model import MultiTaskModel
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


@dataclass
class Source:
    """A backbone (an encoder or an encoder-decoder), its tokenizer, and the pre-finetuned heads
    that came with it (if any)."""

    backbone: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    heads: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


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
        return Source(
            load_checkpoint_model(folder, backbone),
            cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(folder / "tokenizer")),
            _group_heads(heads),
        )
    if (folder / "heads.json").is_file():  # an export
        return Source(
            model_class(AutoConfig.from_pretrained(folder)).from_pretrained(folder),
            cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(folder)),
            _group_heads(load_file(str(folder / "heads.safetensors"))),
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
    multitask = MultiTaskModel(source.backbone, [spec], "shared")
    reused = _reuse_head(multitask, spec.name, source.heads) if config.reuse_heads else None
    features, examples = _subsample(data, config.k, config.seed)
    epochs = math.ceil(settings.epochs * len(features) / settings.batch_size)
    steps = max(settings.min_steps, epochs)
    sink.log(
        "info",
        f"fine-tuning on {spec.name}: {examples} examples, {steps} updates"
        + (f", reusing the pre-finetuned head '{reused}'" if reused else ""),
    )

    training = prepare_training(multitask, settings, settings.mixed_precision, steps)
    accelerator, model = training.accelerator, training.model
    pad_id = source.tokenizer.pad_token_id or 0
    lengths = data.train_lengths[features]
    stream = TaskStream(lengths, min(settings.batch_size, len(features)), config.seed)
    model.train()
    step, running = 0, RunningLoss()
    while step < steps and not stop.is_set():
        batch, _, _ = collate(data.train, features[stream.next()], pad_id)
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        with accelerator.autocast():
            losses, _ = model(spec.name, batch)
            loss = losses.mean()
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
    return FinetuneResult(
        spec.name, spec.metric, metrics[spec.metric], metrics, examples, step, reused, status
    )

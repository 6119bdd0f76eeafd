"""A task's data before training: its records and distribution, and its first training batch
exactly as the loop would draw, tokenize, truncate and pad it."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerFast

from studio.core.config.run import RunConfig
from studio.core.importing.preview import folder_summary, label_name, split_stats
from studio.core.tasks.availability import Availability
from studio.core.tasks.records import SPLITS
from studio.core.tasks.spec import TaskSpec
from studio.train.batching import TaskStream, collate
from studio.train.data.hub import hub_records
from studio.train.data.loading import column, local_folder, split_records, tokenized, validate_task
from studio.train.setup import (
    Workspace,
    load_tokenizer,
    quiet_libraries,
    tokenization,
    within_model,
)

HUB_SAMPLE = 50_000  # hub splits are summarised from their first rows


def summary(spec: TaskSpec, where: Availability, ws: Workspace, rows: int = 5) -> dict[str, Any]:
    """First records and per-split stats of any available task (local, synthetic or hub)."""
    folder = local_folder(spec, where, ws.synthetic_root)
    if folder is not None:
        return folder_summary(spec, folder, rows)
    splits: dict[str, Any] = {}
    first: list[dict[str, Any]] = []
    for split in SPLITS:
        records, _ = hub_records(spec, split)
        sample = records.select(range(min(len(records), HUB_SAMPLE)))
        splits[split] = split_stats(spec, sample) | {"size": len(records)}
        if len(records) > HUB_SAMPLE:
            splits[split]["sampled"] = HUB_SAMPLE
        if split == "train":
            first = [dict(r) for r in itertools.islice(sample, rows)]
    return {"splits": splits, "records": first}


def _sequence(tok: PreTrainedTokenizerFast, ids: list[int], limit: int) -> dict[str, Any]:
    return {"tokens": tok.convert_ids_to_tokens(ids), "truncated": len(ids) >= limit}


def _example(
    spec: TaskSpec,
    rows: dict[str, list[Any]],
    i: int,
    tok: PreTrainedTokenizerFast,
    config: RunConfig,
) -> dict[str, Any]:
    ids = rows["input_ids"][i]
    if spec.format == "multiple_choice":
        out: dict[str, Any] = {"choices": [_sequence(tok, c, config.max_length) for c in ids]}
    else:
        out = _sequence(tok, ids, config.max_length)
    if spec.format == "summarization":
        target = [t for t in rows["labels"][i] if t >= 0]
        out["target"] = _sequence(tok, target, config.max_target_length)
        out["label"] = tok.decode(target, skip_special_tokens=True)
    elif spec.format == "extractive_qa":
        start, end = rows["start_positions"][i], rows["end_positions"][i]
        answer = out["tokens"][start : end + 1] if end >= start > 0 else []
        out["label"] = " ".join(answer) if answer else "(no answer in this window)"
        out["answer"] = [start, end]
        out["window"] = rows["window"][i]
    elif spec.format == "regression":
        out["label"] = f"{rows['labels'][i]:g}"
    else:
        out["label"] = label_name(spec, rows["labels"][i])
    return out


def _windows(features: Any, chosen: np.ndarray) -> list[list[int]]:
    """[k, n]: feature i is window k of the n its example's context was cut into."""
    example = column(features, "example_index")
    first = np.searchsorted(example, example[chosen], side="left")
    last = np.searchsorted(example, example[chosen], side="right")
    return [[int(i - a + 1), int(b - a)] for i, a, b in zip(chosen, first, last, strict=True)]


def first_batch(
    spec: TaskSpec, where: Availability, config: RunConfig, ws: Workspace
) -> dict[str, Any]:
    """The task's first training batch under `config` (its model, lengths, batch size and
    seed; the task's position in `config.tasks` picks its stream's seed, as in the loop)."""
    quiet_libraries()
    validate_task(spec, where, ws.synthetic_root)
    tok = load_tokenizer(config.model, [spec.name] * (spec.format == "extractive_qa"))
    config, _ = within_model(config, tok)  # as the run will read it
    how = tokenization(config, tok, spec.format == "summarization")
    records = split_records(spec, where, "train", ws.cache, ws.synthetic_root)
    features = tokenized(spec, "train", records, how, ws.cache)
    index = config.tasks.index(spec.name) if spec.name in config.tasks else 0
    stream = TaskStream(column(features, "length"), config.batch_size, config.seed + index)
    chosen = stream.next()
    rows = features.select(chosen).to_dict()
    if spec.format == "extractive_qa":  # long contexts become several windows
        rows["window"] = _windows(features, chosen)
    _, real, computed = collate(rows, np.arange(len(chosen)), tok.pad_token_id or 0)
    return {
        "task": spec.name,
        "model": config.model,
        "max_length": config.max_length,
        "examples": [_example(spec, rows, i, tok, config) for i in range(len(chosen))],
        "real_tokens": real,
        "computed_tokens": computed,
        "padding": 1 - real / computed if computed else 0.0,
        "features": len(features),
    }

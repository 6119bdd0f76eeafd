"""Loading tasks: validate records, load them with `datasets`, tokenize once and cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from transformers import PreTrainedTokenizerFast

from studio.core import synthetic
from studio.core.availability import Availability
from studio.core.errors import StudioError
from studio.core.records import SPLITS, validate_file
from studio.core.tasks import TaskSpec
from studio.train.hub import hub_records
from studio.train.tokenize import FEATURE_VERSION, tokenize_function


@dataclass
class TaskData:
    """One task's tokenized splits, held in memory as plain lists for fast collation."""

    spec: TaskSpec
    train: dict[str, list[Any]]
    validation: dict[str, list[Any]]
    train_examples: int
    validation_records: datasets.Dataset
    # The tokenizer that made the features: summarization decodes generated ids with it.
    tokenizer: PreTrainedTokenizerFast | None = None

    @property
    def train_lengths(self) -> np.ndarray:
        return _lengths(self.train["input_ids"])

    @property
    def validation_lengths(self) -> np.ndarray:
        return _lengths(self.validation["input_ids"])


def _lengths(ids: list[Any]) -> np.ndarray:
    if ids and isinstance(ids[0][0], list):  # multiple choice: [choice][token]
        return np.array([max(len(c) for c in row) for row in ids], dtype=np.int64)
    return np.array([len(row) for row in ids], dtype=np.int64)


def feature_lengths(features: datasets.Dataset) -> np.ndarray:
    """Tokens per feature (the longest choice for multiple choice), read from Arrow."""
    column = features.flatten_indices().data.column("input_ids")
    per_row = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    if not pa.types.is_list(column.type.value_type) and not pa.types.is_large_list(
        column.type.value_type
    ):
        return per_row.astype(np.int64)
    choices = pc.list_value_length(pc.list_flatten(column)).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(per_row)[:-1]]).astype(np.int64)
    return np.maximum.reduceat(choices, starts).astype(np.int64)


def local_folder(spec: TaskSpec, where: Availability, synthetic_root: Path) -> Path | None:
    """The folder holding train/validation files, generating the synthetic suite on first use."""
    if where.source == "synthetic":
        assert spec.synthetic is not None
        return synthetic.ensure(spec.synthetic, synthetic_root)
    return where.folder if where.source == "local" else None


def validate_task(spec: TaskSpec, where: Availability, synthetic_root: Path) -> None:
    """Check every record of the task's local files; raises DataError naming file and line."""
    if not where.available:
        raise StudioError(f"task '{spec.name}' is unavailable: {where.reason}")
    folder = local_folder(spec, where, synthetic_root)
    if folder is not None:
        for split in SPLITS:
            validate_file(folder / f"{split}.jsonl", spec)


def _file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def _tokenizer_key(tok: PreTrainedTokenizerFast) -> str:
    return f"{type(tok).__name__}:{tok.name_or_path}:{len(tok)}:{tok.model_max_length}"


def load_split(
    spec: TaskSpec,
    where: Availability,
    split: str,
    tok: PreTrainedTokenizerFast,
    max_length: int,
    stride: int,
    cache: Path,
    synthetic_root: Path,
    max_target_length: int = 64,
    decoder_start: int | None = None,
) -> tuple[datasets.Dataset, datasets.Dataset]:
    """(raw records, tokenized features) of one split; the tokenized features are cached.

    Summarization also takes the summaries' length cap and the model's decoder start token.
    """
    folder = local_folder(spec, where, synthetic_root)
    if folder is not None:
        path = folder / f"{split}.jsonl"
        raw = datasets.load_dataset(
            "json", data_files={split: str(path)}, split=split, cache_dir=str(cache / "datasets")
        )
        source_key = _file_key(path)
    else:
        raw, source_key = hub_records(spec, split)
    parts = [FEATURE_VERSION, spec.format, source_key, _tokenizer_key(tok), max_length, stride]
    if spec.format == "summarization":
        parts += [max_target_length, decoder_start]
    key = json.dumps([*parts, split])
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    cache_file = cache / "tokenized" / f"{spec.name}-{split}-{digest}.arrow"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    features = raw.map(
        tokenize_function(
            spec.format, tok, max_length, stride, split, max_target_length, decoder_start
        ),
        batched=True,
        with_indices=spec.format == "extractive_qa",
        remove_columns=raw.column_names,
        cache_file_name=str(cache_file),
        load_from_cache_file=True,
        new_fingerprint=digest,
        desc=f"tokenizing {spec.name}/{split}",
    )
    return raw, features


def load_task(
    spec: TaskSpec,
    where: Availability,
    tok: PreTrainedTokenizerFast,
    max_length: int,
    stride: int,
    cache: Path,
    synthetic_root: Path,
    max_target_length: int = 64,
    decoder_start: int | None = None,
) -> TaskData:
    targets = (max_target_length, decoder_start)
    raw_train, train = load_split(
        spec, where, "train", tok, max_length, stride, cache, synthetic_root, *targets
    )
    raw_val, val = load_split(
        spec, where, "validation", tok, max_length, stride, cache, synthetic_root, *targets
    )
    return TaskData(
        spec=spec,
        train=train.to_dict(),
        validation=val.to_dict(),
        train_examples=len(raw_train),
        validation_records=raw_val,
        tokenizer=tok,
    )

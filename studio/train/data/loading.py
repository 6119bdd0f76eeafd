"""Loading tasks: validate records, load them with `datasets`, tokenize once into a memory-mapped
cache; batches are gathered from it by index."""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets
import numpy as np
from transformers import PreTrainedTokenizerFast

from studio.core.errors import StudioError
from studio.core.tasks import synthetic
from studio.core.tasks.availability import Availability
from studio.core.tasks.records import SPLITS, content_digest, validated
from studio.core.tasks.spec import TaskSpec
from studio.train.data.hub import hub_records
from studio.train.data.tokenize import FEATURE_VERSION, span_layout, tokenize_function
from studio.train.data.tokenized import WRITER_BATCH, Report, tokenize

log = logging.getLogger(__name__)


@dataclass
class TaskData:
    """One task's tokenized splits, memory-mapped from the tokenized cache.

    Nothing converts a whole split to Python objects: batches are gathered by index
    (`rows`), and lengths for bucketing come from the `length` column.
    """

    spec: TaskSpec
    train: datasets.Dataset
    validation: datasets.Dataset
    train_lengths: np.ndarray
    validation_lengths: np.ndarray
    train_examples: int
    validation_records: datasets.Dataset
    # The tokenizer that made the features: summarization decodes generated ids with it.
    tokenizer: PreTrainedTokenizerFast | None = None
    # Changes when the training records do: a resume compares it with the checkpoint's.
    fingerprint: str = ""


def rows(features: datasets.Dataset, indices: np.ndarray) -> dict[str, list[Any]]:
    """The features at `indices`, as lists (what `collate` pads); only these leave Arrow."""
    return features[indices.tolist()]


def column(features: datasets.Dataset, name: str) -> np.ndarray:
    """A numeric column of a split, read from Arrow."""
    if features._indices is not None:  # a selection: its rows, not the table's
        features = features.flatten_indices()
    return np.asarray(features.data.column(name).to_numpy(), dtype=np.int64)


_MADV_DONTNEED = 4
_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def release_pages(*splits: datasets.Dataset) -> None:
    """Unmap the pages that reading memory-mapped splits has mapped (Linux; elsewhere a
    no-op). The kernel maps whole blocks around every row a batch reads, so without this a
    long run's resident memory creeps toward the size of its tokenized files. Only the
    mappings of the splits' own cache files are touched; their data stays in the page cache
    and the next read maps it again."""
    if _LIBC is None:
        return
    files = {entry["filename"] for split in splits for entry in split.cache_files}
    with open("/proc/self/maps", encoding="utf-8") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].strip() in files:
                start, end = (int(x, 16) for x in fields[0].split("-"))
                _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), _MADV_DONTNEED)


def local_folder(spec: TaskSpec, where: Availability, synthetic_root: Path) -> Path | None:
    """The folder holding train/validation files, generating the synthetic suite on first use."""
    if where.source == "synthetic":
        assert spec.synthetic is not None
        return synthetic.ensure(spec.synthetic, synthetic_root)
    return where.folder if where.source == "local" else None


def validate_task(
    spec: TaskSpec,
    where: Availability,
    synthetic_root: Path,
    report: Report | None = None,
) -> None:
    """Check every record of the task's local files (unless they were checked as they are
    before); raises DataError naming file and line. `report(bytes, total)` follows it."""
    if not where.available:
        raise StudioError(f"task '{spec.name}' is unavailable: {where.reason}")
    folder = local_folder(spec, where, synthetic_root)
    if folder is None:
        return
    files = [folder / f"{split}.jsonl" for split in SPLITS]
    total = sum(f.stat().st_size for f in files if f.is_file())
    offset = 0
    for path in files:
        step = None if report is None else (lambda done, o=offset: report(o + done, total))
        validated(path, spec, step)
        offset += path.stat().st_size
    if report is not None:
        report(total, total)


def _tokenizer_key(tok: PreTrainedTokenizerFast) -> str:
    return f"{type(tok).__name__}:{tok.name_or_path}:{len(tok)}:{tok.model_max_length}"


def split_records(
    spec: TaskSpec, where: Availability, split: str, cache: Path, synthetic_root: Path
) -> tuple[datasets.Dataset, str]:
    """A split's records (a local file, or hub rows mapped to the record format) and a key
    that changes when they do (a digest of the file's bytes, or the hub rows' fingerprint)."""
    folder = local_folder(spec, where, synthetic_root)
    if folder is None:
        return hub_records(spec, split)
    path = folder / f"{split}.jsonl"
    raw = datasets.load_dataset(
        "json",
        data_files={split: str(path)},
        split=split,
        cache_dir=str(cache / "datasets"),
        writer_batch_size=WRITER_BATCH,
    )
    return raw, f"sha1:{content_digest(path)}"


@dataclass(frozen=True)
class Tokenization:
    """How a run tokenizes: its tokenizer, lengths and workers (docs/DESIGN.md §3)."""

    tokenizer: PreTrainedTokenizerFast
    max_length: int
    stride: int
    max_target_length: int = 64
    decoder_start: int | None = None  # summarization: what the decoder starts from
    workers: int = 1  # processes for a big split


def tokenized(
    spec: TaskSpec,
    split: str,
    records: tuple[datasets.Dataset, str],
    how: Tokenization,
    cache: Path,
    report: Report | None = None,
    stop: threading.Event | None = None,
) -> datasets.Dataset:
    """The features of a split's records, from the tokenized cache (tokenized on first use)."""
    raw, source_key = records
    tok = how.tokenizer
    parts = [FEATURE_VERSION, spec.format, source_key, _tokenizer_key(tok), how.max_length]
    parts.append(how.stride)
    if spec.format == "summarization":
        parts += [how.max_target_length, how.decoder_start]
    if spec.format == "extractive_qa":  # how long a question may be, the stride it leaves
        parts.append(_span_layout(spec, how))
    digest = hashlib.sha1(json.dumps([*parts, split]).encode()).hexdigest()[:16]
    function = tokenize_function(
        spec.format, tok, how.max_length, how.stride, split, how.max_target_length,
        how.decoder_start,
    )  # fmt: skip
    prefix = cache / "tokenized" / f"{spec.name}-{split}-{digest}"
    with_indices = spec.format == "extractive_qa"
    return tokenize(raw, function, with_indices, prefix, how.workers, report, stop)


def _span_layout(spec: TaskSpec, how: Tokenization) -> list[int]:
    """The span QA layout at this length, saying when the stride had to shrink to fit."""
    longest, stride = span_layout(how.tokenizer, how.max_length, how.stride)
    if stride != how.stride:
        log.warning(
            "task %s: a doc_stride of %d leaves a %d-token window no new context after a "
            "question of up to %d tokens; the windows overlap by %d tokens instead",
            spec.name, how.stride, how.max_length, longest, stride,
        )  # fmt: skip
    return [longest, stride]


def load_task(
    spec: TaskSpec,
    where: Availability,
    how: Tokenization,
    cache: Path,
    synthetic_root: Path,
    report: Report | None = None,
    stop: threading.Event | None = None,
) -> TaskData:
    """Both splits of a task, tokenized (or read from the cache) and memory-mapped.

    `report(done, total)` counts the examples of both splits.
    """
    train_records = split_records(spec, where, "train", cache, synthetic_root)
    validation_records = split_records(spec, where, "validation", cache, synthetic_root)
    first, total = len(train_records[0]), len(train_records[0]) + len(validation_records[0])

    def progress(offset: int) -> Report | None:
        return None if report is None else lambda done, _: report(offset + done, total)

    train = tokenized(spec, "train", train_records, how, cache, progress(0), stop)
    val = tokenized(spec, "validation", validation_records, how, cache, progress(first), stop)
    return TaskData(
        spec=spec,
        train=train.remove_columns("length"),
        validation=val.remove_columns("length"),
        train_lengths=column(train, "length"),
        validation_lengths=column(val, "length"),
        train_examples=first,
        validation_records=validation_records[0],
        tokenizer=how.tokenizer,
        fingerprint=train_records[1],
    )

"""What a task's data looks like: its first records, sizes and label distribution (or the
statistic that fits its format), from records in the record format."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from studio.core.tasks.formats import LABELLED_FORMATS
from studio.core.tasks.records import SPLITS, iter_jsonl
from studio.core.tasks.spec import TaskSpec


def label_name(spec: TaskSpec, label: Any) -> str:
    if spec.format in LABELLED_FORMATS and isinstance(label, int) and label < len(spec.labels):
        return spec.labels[label]
    if spec.format == "multiple_choice" and isinstance(label, int):
        return f"choice {label + 1}"
    return str(label)


def split_stats(spec: TaskSpec, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Size and the format's distribution: label counts, a regression range, answerable
    share, or mean lengths in words."""
    size = 0
    labels: Counter[str] = Counter()
    values: list[float] = []
    answered = 0
    words = [0, 0]
    for rec in records:
        size += 1
        if spec.format in (*LABELLED_FORMATS, "multiple_choice"):
            labels[label_name(spec, rec.get("label"))] += 1
        elif spec.format == "regression":
            values.append(float(rec.get("label", 0.0)))
        elif spec.format == "extractive_qa":
            answered += bool(rec.get("answers", {}).get("text"))
        elif spec.format == "summarization":
            words[0] += len(str(rec.get("document", "")).split())
            words[1] += len(str(rec.get("summary", "")).split())
    stats: dict[str, Any] = {"size": size}
    if labels:
        order = list(spec.labels) if spec.format in LABELLED_FORMATS else sorted(labels)
        stats["labels"] = {name: labels.get(name, 0) for name in order}
    if values:
        stats["range"] = [min(values), max(values), sum(values) / len(values)]
    if spec.format == "extractive_qa" and size:
        stats["answerable"] = answered / size
    if spec.format == "summarization" and size:
        stats["mean_words"] = [words[0] / size, words[1] / size]
    return stats


def folder_summary(spec: TaskSpec, folder: Path, rows: int = 5) -> dict[str, Any]:
    """{split: stats} of a folder of `train.jsonl` / `validation.jsonl`, and the first
    training records."""
    first: list[dict[str, Any]] = []

    def records(split: str) -> Iterable[dict[str, Any]]:
        with contextlib.closing(iter_jsonl(folder / f"{split}.jsonl")) as lines:
            for _, rec in lines:
                if split == "train" and len(first) < rows:
                    first.append(rec)
                yield rec

    stats = {split: split_stats(spec, records(split)) for split in SPLITS}
    return {"splits": stats, "records": first}


def describe_stats(stats: dict[str, Any]) -> str:
    """One line for a split's stats (the CLI and the window's preview show it)."""
    parts = [f"{stats['size']:,} examples"]
    if "labels" in stats:
        total = max(stats["size"], 1)
        parts.append(
            ", ".join(f"{k} {v:,} ({100 * v / total:.0f}%)" for k, v in stats["labels"].items())
        )
    if "range" in stats:
        low, high, mean = stats["range"]
        parts.append(f"labels from {low:g} to {high:g}, mean {mean:.3g}")
    if "answerable" in stats:
        parts.append(f"{100 * stats['answerable']:.0f}% answerable")
    if "mean_words" in stats:
        parts.append(
            "documents {:.0f} words, summaries {:.0f} words on average".format(*stats["mean_words"])
        )
    return "; ".join(parts)

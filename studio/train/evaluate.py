"""Validation: each task's loss and metric on its validation split (capped)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from studio.core.config.run import RunConfig
from studio.core.metric_catalogue import EVAL_EXAMPLES_PER_S, EVAL_MEAN, eval_name
from studio.core.mistakes import (
    Mistake,
    Mistakes,
    classification_mistakes,
    regression_mistakes,
    write_mistakes,
)
from studio.core.sink import MetricRow, Sink
from studio.core.tasks.metrics import (
    classification_metrics,
    regression_metrics,
    rouge_metrics,
    squad_metrics,
)
from studio.train.batching import collate, eval_batches
from studio.train.data.loading import TaskData, column, release_pages, rows
from studio.train.model import MultiTaskModel

if TYPE_CHECKING:  # the recipe's module builds models; validation only reads one
    from studio.train.recipe import Recipe

MAX_ANSWER_TOKENS = 30
TOP_K = 20
SHOWN_SUMMARIES = 3  # generated examples written to the run's log at each validation


def _qa_selection(data: TaskData, limit: int | None) -> tuple[list[int], int]:
    """Feature positions of the first `limit` examples (features are in example order)."""
    examples = len(data.validation_records)
    count = examples if limit is None else min(limit, examples)
    index = column(data.validation, "example_index")
    return np.flatnonzero(index < count).tolist(), count


def best_span(
    start: np.ndarray, end: np.ndarray, offsets: list[list[int]]
) -> tuple[float, int, int]:
    """Highest-scoring valid (start, end) character span in one window, or (-inf, 0, 0)."""
    best = (-np.inf, 0, 0)
    starts = np.argsort(start)[::-1][:TOP_K]
    ends = np.argsort(end)[::-1][:TOP_K]
    for s in starts:
        if offsets[s][0] < 0:
            continue
        for e in ends:
            if offsets[e][0] < 0 or e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                continue
            score = float(start[s] + end[e])
            if score > best[0]:
                best = (score, offsets[s][0], offsets[e][1])
    return best


def _qa_metrics(
    data: TaskData, spans: dict[int, tuple[float, int, int]], count: int
) -> dict[str, float]:
    predictions, references = [], []
    for i in range(count):
        record = data.validation_records[i]
        _, a, b = spans.get(i, (0.0, 0, 0))
        predictions.append(record["context"][a:b])
        references.append(record["answers"]["text"])
    return squad_metrics(predictions, references)


def _summary_metrics(
    data: TaskData, generated: list[tuple[int, str]], show: Callable[[str], None] | None
) -> dict[str, float]:
    """ROUGE of generated summaries (by validation row) against the references."""
    generated.sort()
    records = data.validation_records
    references = [records[i]["summary"] for i, _ in generated]
    predictions = [text for _, text in generated]
    if show is not None:
        for (i, text), reference in zip(generated[:SHOWN_SUMMARIES], references, strict=False):
            document = " ".join(records[i]["document"].split())
            head = document[:160] + ("…" if len(document) > 160 else "")
            show(
                f"{data.spec.name} #{i}: document: {head!r} | reference: {reference!r} | "
                f"generated: {text!r}"
            )
    return rouge_metrics(predictions, references)


@torch.inference_mode()  # no autograd records at all: validation is never differentiated
def evaluate_task(
    model: MultiTaskModel,
    data: TaskData,
    batch_size: int,
    limit: int | None,
    device: torch.device,
    pad_id: int,
    autocast: Callable[[], Any] = contextlib.nullcontext,
    max_target_length: int = 64,
    num_beams: int = 1,
    show: Callable[[str], None] | None = None,
    wrong: list[Mistake] | None = None,
) -> dict[str, float]:
    """Mean validation loss (`loss`) and every metric of the task's format.

    `wrong` (classification, multiple choice, regression) receives the examples the model got
    most wrong (core/mistakes.py).

    Summarization generates (`num_beams`, at most `max_target_length` new tokens), scores
    ROUGE against the reference summaries and passes a few examples to `show`.
    """
    fmt = data.spec.format
    model.eval()
    features = data.validation
    lengths = data.validation_lengths
    if fmt == "extractive_qa":
        keep, count = _qa_selection(data, limit)
        lengths = lengths[keep]
        positions = np.array(keep, dtype=np.int64)
        batches = [positions[b] for b in eval_batches(lengths, batch_size, None)]
    else:
        batches = eval_batches(lengths, batch_size, limit)
    losses: list[float] = []
    preds: list[Any] = []
    labels: list[Any] = []
    spans: dict[int, tuple[float, int, int]] = {}
    generated: list[tuple[int, str]] = []
    scored: list[Any] = []  # (example, each outcome's probability or the value, label)
    for indices in batches:
        chosen = rows(features, indices)
        batch, _, _ = collate(chosen, np.arange(len(indices)), pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast():
            logits = model.logits(data.spec.name, batch)
        # Plain token cross-entropy for summaries: comparable across label_smoothing values.
        losses += model.example_losses(data.spec.name, logits, batch, smoothing=0.0).tolist()
        if fmt == "summarization":
            with autocast():
                ids = model.generate(batch, max_target_length, num_beams)
            assert data.tokenizer is not None
            texts = data.tokenizer.batch_decode(ids, skip_special_tokens=True)
            generated += zip(indices.tolist(), (t.strip() for t in texts), strict=True)
            continue
        scores = logits.float().cpu().numpy()
        if wrong is not None and fmt not in ("extractive_qa", "regression"):
            chances = torch.softmax(logits.float(), -1).cpu().numpy()
            scored += zip(indices.tolist(), chances.tolist(), batch["labels"].tolist(), strict=True)
        elif wrong is not None and fmt == "regression":
            scored += zip(indices.tolist(), scores.tolist(), batch["labels"].tolist(), strict=True)
        if fmt == "extractive_qa":
            for j, row in enumerate(scores):
                example = chosen["example_index"][j]
                offsets = chosen["offsets"][j]
                span = best_span(row[: len(offsets), 0], row[: len(offsets), 1], offsets)
                if example not in spans or span[0] > spans[example][0]:
                    spans[example] = span
        elif fmt == "regression":
            preds += scores.tolist()
            labels += batch["labels"].tolist()
        else:
            preds += scores.argmax(-1).tolist()
            labels += batch["labels"].tolist()
    model.train()
    if wrong is not None and scored:
        wrong += _mistakes(data, scored)
    result = {"loss": float(np.mean(losses)) if losses else float("nan")}
    if fmt == "extractive_qa":
        result.update(_qa_metrics(data, spans, count))
    elif fmt == "summarization":
        result.update(_summary_metrics(data, generated, show))
    elif fmt == "regression":
        result.update(regression_metrics(preds, labels))
    else:
        result.update(classification_metrics(preds, labels))
    return result


def _mistakes(data: TaskData, scored: list[Any]) -> list[Mistake]:
    def record(index: int) -> dict[str, Any]:
        return dict(data.validation_records[int(index)])

    if data.spec.format == "regression":
        return regression_mistakes(scored, record)
    return classification_mistakes(scored, data.spec.labels, record)


def validate(
    recipe: Recipe, config: RunConfig, sink: Sink, step: int, run_dir: Path | None = None
) -> dict[str, dict[str, float]]:
    """Validate every task on the main process (the others wait); log each task's
    eval_<metric> rows, the mean of the tasks' own metrics and validation's own speed.

    With `run_dir`, the examples each task got most wrong go to its most_wrong.json."""
    results: dict[str, dict[str, float]] = {}
    accelerator = recipe.accelerator
    if accelerator.is_main_process:
        net = accelerator.unwrap_model(recipe.model)
        now = time.time()
        started, examples = time.perf_counter(), 0
        out: list[MetricRow] = []
        wrong: dict[str, list[Mistake]] = {}
        for i, (name, data) in enumerate(recipe.tasks.items()):
            # The window says "validating" (not "running" with a full bar) while this lasts.
            sink.stage(
                f"validating · {name} ({i + 1} of {len(recipe.tasks)})", i / len(recipe.tasks)
            )
            result = evaluate_task(
                net, data, config.batch_size * 2, config.eval_max_examples, accelerator.device,
                recipe.pad_id, accelerator.autocast, config.max_target_length, config.num_beams,
                show=lambda text: sink.log("info", f"update {step}: {text}"),
                wrong=wrong.setdefault(name, []) if run_dir is not None else None,
            )  # fmt: skip
            results[name] = result
            out += [MetricRow(step, eval_name(k), v, name, now) for k, v in result.items()]
            shown = len(data.validation_lengths)
            limit = config.eval_max_examples
            examples += shown if limit is None else min(limit, shown)
            release_pages(data.validation)
        mean = mean_metric(results, recipe.tasks)
        out.append(MetricRow(step, EVAL_MEAN, mean, None, now))
        # Validation's own speed, beside training's examples_per_s (bench/eval_speed.py).
        rate = examples / max(time.perf_counter() - started, 1e-9)
        out.append(MetricRow(step, EVAL_EXAMPLES_PER_S, rate, None, now))
        sink.metrics(out)
        if run_dir is not None:
            write_mistakes(run_dir, Mistakes(step, {t: w for t, w in wrong.items() if w}))
        sink.stage("", None)
        sink.log("info", f"update {step}: mean validation metric {mean:.4f}")
    accelerator.wait_for_everyone()
    return results


def mean_metric(results: dict[str, dict[str, float]], tasks: dict[str, TaskData]) -> float:
    """Mean over tasks of each task's own metric (the number "best" is judged by)."""
    return float(np.mean([results[n][tasks[n].spec.metric] for n in results]))

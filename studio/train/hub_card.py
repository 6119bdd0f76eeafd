"""A model card the Hugging Face Hub reads: the export's README with metadata made by
`huggingface_hub`'s card tools (tags, base model, the pre-finetuning tasks as datasets, and a
model-index of each task's validation metrics and of the transfer results), so `export
--hub-ready` writes a folder that `upload_folder` publishes as is and the Hub shows as a
model with results.

Only the front matter is new: the card's text stays `export.model_card`'s, whatever it holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from studio.core.errors import StudioError
from studio.core.run_record import Run, TransferResult

TAGS = ["muppet-studio", "pre-finetuning", "multi-task"]
# The Hub's task types for the studio's formats (its widgets and leaderboards use them).
TASK_TYPES = {
    "classification": "text-classification",
    "pair_classification": "text-classification",
    "regression": "text-classification",
    "multiple_choice": "multiple-choice",
    "extractive_qa": "question-answering",
    "summarization": "summarization",
}


@dataclass(frozen=True)
class HubFacts:
    """What the card says beyond the checkpoint: each task's format and Hub dataset (where it
    has one), and the transfer results of runs fine-tuned from this one."""

    formats: dict[str, str] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)
    transfers: tuple[TransferResult, ...] = ()


def hub_base_model(model: str) -> str | None:
    """`model` when it is a Hub model id; None for a local folder (the Hub cannot link it)."""
    if not model or model.startswith((".", "/", "~")) or Path(model).expanduser().exists():
        return None
    parts = model.split("/")
    return model if len(parts) <= 2 and all(parts) else None


def _format(task: str, state: dict[str, Any], facts: HubFacts) -> str:
    if task in facts.formats:
        return facts.formats[task]
    for head in state.get("heads", []):
        if task in head["tasks"]:
            return str(head["format"])
    return "classification"


def validation_results(state: dict[str, Any], facts: HubFacts) -> list[EvalResult]:
    """Each task's validation metrics at the exported checkpoint."""
    results = []
    for task, metrics in (state.get("eval_metrics") or {}).items():
        for metric, value in metrics.items():
            if metric == "loss":
                continue
            results.append(
                EvalResult(
                    task_type=TASK_TYPES[_format(task, state, facts)],
                    dataset_type=facts.datasets.get(task, task),
                    dataset_name=task,
                    dataset_split="validation",
                    metric_type=metric,
                    metric_value=round(float(value), 6),
                    metric_name=f"validation {metric} (during pre-finetuning)",
                )
            )
    return results


def transfer_results(state: dict[str, Any], facts: HubFacts) -> list[EvalResult]:
    """The pre-finetuned model's fine-tuning scores: the mean over seeds for each target and
    training size (the base model's rows describe another model and stay in the text)."""
    groups: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in facts.transfers:
        if row.model == "pretuned":
            groups[(row.target, row.size, row.metric)].append(row.value)
    results = []
    for (target, size, metric), values in sorted(groups.items()):
        examples = "all training examples" if size == "all" else f"{size} training examples"
        results.append(
            EvalResult(
                task_type=TASK_TYPES[_format(target, state, facts)],
                dataset_type=facts.datasets.get(target, target),
                dataset_name=f"{target} (fine-tuned on {examples})",
                dataset_split="validation",
                metric_type=metric,
                metric_value=round(mean(values), 6),
                metric_name=f"{metric} after fine-tuning, mean of {len(values)} seed(s)",
            )
        )
    return results


def card_data(state: dict[str, Any], run: Run | None, facts: HubFacts) -> ModelCardData:
    config = state["config"]
    base = hub_base_model((run.base_model if run else "") or config["model"])
    tasks = list(state.get("train_examples") or config.get("tasks") or [])
    datasets = [facts.datasets.get(t, t) for t in tasks]
    results = validation_results(state, facts) + transfer_results(state, facts)
    return ModelCardData(
        library_name="transformers",
        base_model=base,
        datasets=list(dict.fromkeys(datasets)) or None,
        tags=TAGS + sorted({TASK_TYPES[_format(t, state, facts)] for t in tasks}),
        model_name=(run.name if run else "") or "pre-finetuned-encoder",
        eval_results=results or None,
    )


def _body(text: str) -> str:
    """A README's text without its front matter."""
    if text.startswith("---\n"):
        end = text.find("\n---\n", 4)
        if end >= 0:
            return text[end + 5 :].lstrip("\n")
    return text


def transfer_table(facts: HubFacts) -> str:
    """The transfer results as Markdown: base and pre-finetuned, by target and size."""
    groups: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in facts.transfers:
        groups[(row.target, row.size, row.metric)][row.model].append(row.value)
    if not groups:
        return ""
    lines = [
        "## Transfer",
        "",
        "Fine-tuning the base model and this one on held-out targets (mean over seeds):",
        "",
        "| target | examples | metric | base | pre-finetuned |",
        "|---|---|---|---|---|",
    ]
    for (target, size, metric), models in sorted(groups.items()):
        cells = [f"{mean(models[m]):.4f}" if models.get(m) else "–" for m in ("base", "pretuned")]
        lines.append(f"| {target} | {size} | {metric} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def hub_card(text: str, state: dict[str, Any], run: Run | None, facts: HubFacts) -> str:
    """`text` (the export's card) with the Hub's metadata in front, checked by reading it
    back with the Hub's own parser."""
    data = card_data(state, run, facts)
    body = _body(text).rstrip("\n") + "\n"
    table = transfer_table(facts)
    if table:
        body += "\n" + table
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    try:
        parsed = ModelCardData(**ModelCard(str(card)).data.to_dict())
    except ValueError as exc:  # the parser refused what the card tools wrote
        raise StudioError(f"the model card's metadata does not parse: {exc}") from exc
    if (results := data.eval_results) and len(parsed.eval_results or []) != len(results):
        raise StudioError("the model card's model-index does not read back whole")
    return str(card)

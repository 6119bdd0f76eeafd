"""Try a model: one input through the heads of a checkpoint or an export, as training saw it.

The input becomes a one-record batch of the head's format and goes through the same
tokenization (train/data/tokenize.py), padding (train/batching.py) and model
(train/model.py) as training and validation, so what `predict` says is what validation
would have scored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from transformers import PreTrainedTokenizerFast

from studio.core import paths
from studio.core.config.run import stride
from studio.core.errors import StudioError
from studio.core.jobs import HeadPrediction, PredictRequest
from studio.core.tasks.formats import METRICS
from studio.core.tasks.spec import TaskSpec
from studio.train.batching import collate
from studio.train.checkpoint import read_state
from studio.train.data import tokenize
from studio.train.finetune import attach_task_vectors, load_source
from studio.train.model import MultiTaskModel

TOP_K = 20  # start and end candidates of a span answer
MAX_ANSWER_TOKENS = 30
# Which head formats take which inputs.
SENTENCE = ("classification", "regression")
PAIR = ("pair_classification", "regression")
WANTS = {
    "classification": "one text",
    "pair_classification": "a text and a text pair",
    "regression": "one text, or a text and a text pair",
    "multiple_choice": "a question and --choices",
    "extractive_qa": "a question and --context",
}


@dataclass
class Predictor:
    """A model with its heads, the tokenizer and the settings it was trained with."""

    folder: Path
    model: MultiTaskModel
    tokenizer: PreTrainedTokenizerFast
    heads: list[dict[str, Any]]
    max_length: int
    stride: int


def model_folder(model: str, store_path: Path | None, which: str) -> Path:
    """An export or checkpoint folder as given, else checkpoint `which` of the run `model`."""
    from studio.train.export import select_checkpoint

    folder = Path(model).expanduser()
    if (folder / "heads.json").is_file() or (folder / "trainer_state.json").is_file():
        return folder
    if folder.exists() or store_path is None:
        raise StudioError(f"{model}: neither an export folder, a checkpoint nor a run id")
    root = paths.checkpoints_dir(store_path, model)
    if not root.parent.is_dir():
        raise StudioError(f"{model}: no such run in {store_path}, and no such folder")
    return select_checkpoint(root, which)


def load_predictor(folder: Path) -> Predictor:
    """The model of an export or a checkpoint folder, with every head it saved."""
    if (folder / "heads.json").is_file():
        heads = json.loads((folder / "heads.json").read_text(encoding="utf-8"))["heads"]
        config = yaml.safe_load((folder / "studio_config.yaml").read_text(encoding="utf-8"))
    else:
        state = read_state(folder)
        heads, config = state["heads"], state["config"]
    source = load_source(str(folder))
    specs = [_spec(task, head) for head in heads for task in head["tasks"]]
    model = MultiTaskModel(source.backbone, specs, "per_dataset", pooling=source.pooling)
    # The heads as saved (shared or not), whatever the sharing rule would name them.
    model.head_of = {task: head["head"] for head in heads for task in head["tasks"]}
    model.heads = torch.nn.ModuleDict(
        {head["head"]: model.heads[f"{head['format']}/{head['tasks'][0]}"] for head in heads}
    )
    attach_task_vectors(model, source.task_vectors)
    for key, module in model.heads.items():
        if key not in source.heads:
            raise StudioError(f"{folder}: the weights of head {key} are missing")
        module.load_state_dict(source.heads[key])
    model.eval()
    max_length = int(config["max_length"])
    return Predictor(
        folder, model, source.tokenizer, heads, max_length,
        stride(max_length, config.get("doc_stride")),
    )  # fmt: skip


def _spec(task: str, head: dict[str, Any]) -> TaskSpec:
    fmt = head["format"]
    return TaskSpec(
        name=task, title=task, family="classification", format=fmt, metric=METRICS[fmt][0],
        labels=tuple(head.get("labels") or ()), choices=head.get("choices"),
    )  # fmt: skip


def matching_heads(predictor: Predictor, request: PredictRequest) -> list[dict[str, Any]]:
    """The heads that take the request's inputs (only `task`'s head, when it names one)."""
    formats = _formats(request)
    if request.task is not None:
        heads = [h for h in predictor.heads if request.task in h["tasks"]]
        if not heads:
            known = sorted(t for h in predictor.heads for t in h["tasks"])
            raise StudioError(
                f"{request.task}: this model has no head for it (heads of: {', '.join(known)}; "
                "summarization tasks have none)"
            )
        fmt = heads[0]["format"]
        if fmt not in formats:
            raise StudioError(f"{request.task} is {fmt}: give {WANTS.get(fmt, 'its inputs')}")
        return heads
    heads = [h for h in predictor.heads if h["format"] in formats]
    if not heads:
        have = ", ".join(f"{h['head']} ({h['format']})" for h in predictor.heads)
        raise StudioError(f"no head of this model takes these inputs; its heads: {have}")
    return heads


def _formats(request: PredictRequest) -> tuple[str, ...]:
    if request.choices:
        return ("multiple_choice",)
    if request.context is not None:
        return ("extractive_qa",)
    return PAIR if request.text_pair is not None else SENTENCE


@torch.inference_mode()
def predict(predictor: Predictor, request: PredictRequest) -> list[HeadPrediction]:
    """Each matching head's answer to the request's inputs."""
    return [_head(predictor, head, request) for head in matching_heads(predictor, request)]


def _head(predictor: Predictor, head: dict[str, Any], request: PredictRequest) -> HeadPrediction:
    fmt, task = head["format"], (request.task or head["tasks"][0])
    tok, length = predictor.tokenizer, predictor.max_length
    if fmt == "extractive_qa":
        return _span(predictor, head, request)
    if fmt == "multiple_choice":
        features = tokenize.multiple_choice(
            {
                "context": [request.context or ""],
                "question": [request.text],
                "choices": [list(request.choices)],
                "label": [0],
            },
            tok,
            length,
        )
        names = list(request.choices)
    else:
        record: dict[str, list[Any]] = {"text": [request.text], "label": [0]}
        if request.text_pair is not None:
            record["text_pair"] = [request.text_pair]
        features = tokenize.classification(record, tok, length)
        names = list(head["labels"])
    batch, _, _ = collate(features, np.arange(1), tok.pad_token_id or 0)
    logits = predictor.model.logits(task, batch).float()[0]
    common = {"head": head["head"], "tasks": tuple(head["tasks"]), "format": fmt}
    if fmt == "regression":
        value = float(logits)
        return HeadPrediction(**common, label=f"{value:.4f}", value=value)
    chances = torch.softmax(logits, -1).tolist()
    ranked = sorted(zip(names, chances, strict=True), key=lambda p: -p[1])
    return HeadPrediction(**common, label=ranked[0][0], probabilities=tuple(ranked))


def _span(predictor: Predictor, head: dict[str, Any], request: PredictRequest) -> HeadPrediction:
    """The best answer span over the context's windows, with its probability (its start's
    times its end's, in the window it was found in) and the runners-up."""
    context = request.context or ""
    record: dict[str, list[Any]] = {
        "question": [request.text],
        "context": [context],
        "answers": [{"text": [], "answer_start": []}],
    }
    tok = predictor.tokenizer
    features = tokenize.extractive_qa(
        record, [0], tok, predictor.max_length, predictor.stride, with_offsets=True
    )
    windows = len(features["input_ids"])
    batch, _, _ = collate(features, np.arange(windows), tok.pad_token_id or 0)
    logits = predictor.model.logits(request.task or head["tasks"][0], batch).float()
    candidates: dict[tuple[int, int], float] = {}
    for w in range(windows):
        offsets = features["offsets"][w]
        start = torch.log_softmax(_masked(logits[w, :, 0], offsets), -1)
        end = torch.log_softmax(_masked(logits[w, :, 1], offsets), -1)
        for (a, b), p in _spans(start, end, offsets):
            candidates[(a, b)] = max(p, candidates.get((a, b), 0.0))
    common = {"head": head["head"], "tasks": tuple(head["tasks"]), "format": "extractive_qa"}
    if not candidates:
        return HeadPrediction(**common, label="")
    ranked = sorted(candidates.items(), key=lambda c: -c[1])[:5]
    (a, b), _ = ranked[0]
    shown = tuple((context[x:y], p) for (x, y), p in ranked)
    return HeadPrediction(**common, label=context[a:b], probabilities=shown, span=(a, b))


def _masked(scores: torch.Tensor, offsets: list[list[int]]) -> torch.Tensor:
    """Scores outside the context (question, special tokens, padding) ruled out."""
    inside = torch.zeros_like(scores, dtype=torch.bool)
    inside[: len(offsets)] = torch.tensor([o[0] >= 0 for o in offsets])
    return scores.masked_fill(~inside, float("-inf"))


def _spans(
    start: torch.Tensor, end: torch.Tensor, offsets: list[list[int]]
) -> list[tuple[tuple[int, int], float]]:
    """Valid (start, end) character spans among the top candidates, with probabilities."""
    found = []
    starts = torch.topk(start, min(TOP_K, len(offsets))).indices.tolist()
    ends = torch.topk(end, min(TOP_K, len(offsets))).indices.tolist()
    for s in starts:
        for e in ends:
            if offsets[s][0] < 0 or offsets[e][0] < 0 or e < s or e - s + 1 > MAX_ANSWER_TOKENS:
                continue
            found.append(((offsets[s][0], offsets[e][1]), float((start[s] + end[e]).exp())))
    return found

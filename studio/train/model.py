"""The shared encoder with the paper's heads, and per-example losses for every format.

With an encoder-decoder base model (BART, T5, minilm-seq2seq) the heads sit on its encoder's
outputs and summarization trains through its own decoder and LM head (no new parameters).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GenerationMixin, PreTrainedModel

from studio.core.errors import StudioError
from studio.core.tasks.spec import TaskSpec
from studio.train.seq2seq import is_seq2seq
from studio.train.task_embedding import Rows, TaskEmbedding


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per sequence: the first token's (RoBERTa's head) or the mean of the real
    tokens' (how sentence-transformers models such as MiniLM were trained)."""
    if pooling == "first":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


class PooledHead(nn.Module):
    """Dense + tanh on the pooled vector, then a projection (RoBERTa's classification head)."""

    def __init__(self, hidden: int, outputs: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, outputs)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        x = self.dropout(pooled)
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out(x)


class SpanHead(nn.Module):
    """Start and end logits for every token."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.out = nn.Linear(hidden, 2)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.out(hidden_states)


def head_key(spec: TaskSpec, head_sharing: str) -> str:
    """Which head a task uses: per dataset for classification, shared for MC and span QA;
    by label set (tasknet), classification tasks with the same label names share one."""
    shared = {"multiple_choice": "multiple_choice", "extractive_qa": "extractive_qa"}
    if head_sharing in ("shared", "by_label_set") and spec.format in shared:
        return shared[spec.format]
    if head_sharing == "by_label_set" and spec.labels and spec.format != "regression":
        return label_set_key(spec.labels)
    return f"{spec.format}/{spec.name}"


def label_set_key(labels: tuple[str, ...]) -> str:
    """The head of a label set: its names sorted (the head's output order), as a module name
    ("." is not allowed in one)."""
    return "labels/" + ",".join(sorted(labels)).replace(".", "_")


def build_head(spec: TaskSpec, hidden: int, dropout: float) -> nn.Module:
    if spec.format == "extractive_qa":
        return SpanHead(hidden)
    if spec.format == "multiple_choice" or spec.format == "regression":
        return PooledHead(hidden, 1, dropout)
    return PooledHead(hidden, len(spec.labels), dropout)


class MultiTaskModel(nn.Module):
    """A shared encoder and one head per dataset, or shared across a format (docs/DESIGN.md §1).

    `encoder` is the base model: an encoder, or an encoder-decoder with its LM head (its
    weights keep the `encoder.` prefix either way, so checkpoints read the same).
    """

    def __init__(
        self,
        encoder: PreTrainedModel,
        specs: list[TaskSpec],
        head_sharing: str,
        label_smoothing: float = 0.1,
        pooling: str = "mean",
        task_embedding: bool = False,
        task_embedding_dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.seq2seq = is_seq2seq(encoder.config)
        self.label_smoothing = label_smoothing
        self.specs = {s.name: s for s in specs}
        generating = [s.name for s in specs if s.format == "summarization"]
        if generating and not self.seq2seq:
            raise StudioError(
                f"tasks {generating} are summarization, which needs an encoder-decoder base model"
            )
        # Summarization has no head: it generates with the decoder.
        self.head_of = {
            s.name: head_key(s, head_sharing) for s in specs if s.name not in generating
        }
        stack = encoder.get_encoder() if self.seq2seq else encoder
        # The inputs the stack's forward names: DistilBERT's, ModernBERT's and BART's encoder
        # take no token types (transformers 5's **kwargs would swallow them, or fail later).
        # A forward that names none (a wrapper's *args, **kwargs) is given everything.
        named = set(inspect.signature(stack.forward).parameters)
        self._encoder_inputs = named if "input_ids" in named else None
        dropout, hidden = _head_sizes(stack.config)
        self.heads = nn.ModuleDict()
        for spec in specs:
            if spec.name in generating:
                continue
            key = self.head_of[spec.name]
            if key not in self.heads:
                self.heads[key] = build_head(spec, hidden, dropout)
        # A label-set head answers in sorted label order; each task reads its own order.
        self.label_order = {
            s.name: [sorted(s.labels).index(label) for label in s.labels]
            for s in specs
            if self.head_of.get(s.name, "").startswith("labels/")
            and list(s.labels) != sorted(s.labels)
        }
        self.task_embedding = (
            TaskEmbedding([s.name for s in specs], hidden, task_embedding_dropout)
            if task_embedding
            else None
        )

    def logits(
        self, task: str, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Task outputs: [B, classes], [B] (regression), [B, choices], [B, L, 2] (spans) or
        [B, T, vocab] (summarization: the decoder's next-token logits under teacher forcing)."""
        if self.specs[task].format == "summarization":
            return self._decoder_logits(batch, inputs_embeds)
        return self.head_logits(task, self.encode(task, batch, inputs_embeds))

    def encode(
        self, task: str, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        """What the task's head reads: the pooled vector [B, H] ([B, choices, H] for multiple
        choice), or every token's state [B, L, H] for spans."""
        spec = self.specs[task]
        inputs: dict[str, torch.Tensor] = {
            k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch
        }
        shape = inputs["input_ids"].shape
        if spec.format == "multiple_choice":
            inputs = {k: v.reshape(-1, shape[-1]) for k, v in inputs.items()}
        if inputs_embeds is not None:
            inputs.pop("input_ids")
            inputs["inputs_embeds"] = inputs_embeds
        hidden = self.hidden_states(inputs, [(task, shape)])
        return self.head_features(task, hidden, inputs["attention_mask"], shape)

    def hidden_states(
        self, inputs: dict[str, torch.Tensor], parts: list[Rows] | None = None
    ) -> torch.Tensor:
        """Every token's last state [N, L, H] for flat [N, L] inputs (train/fused.py calls it
        once for several tasks' rows); `parts`: whose rows they are, in order (the task
        embedding's, when the run has one)."""
        stack = self.encoder.get_encoder() if self.seq2seq else self.encoder
        if self.task_embedding is not None and parts:
            inputs = dict(inputs)
            embeds = inputs.pop("inputs_embeds", None)
            if embeds is None:
                embeds = stack.get_input_embeddings()(inputs.pop("input_ids"))
            inputs["inputs_embeds"] = self.task_embedding.add(embeds, parts)
        if self._encoder_inputs is not None:
            inputs = {k: v for k, v in inputs.items() if k in self._encoder_inputs}
        # An encoder-decoder's heads read its encoder's outputs.
        return stack(**inputs).last_hidden_state

    def head_features(
        self, task: str, hidden: torch.Tensor, mask: torch.Tensor, shape: torch.Size
    ) -> torch.Tensor:
        """What the task's head reads from the flat states of inputs of `shape`."""
        if self.specs[task].format == "extractive_qa":
            return hidden
        pooled = pool(hidden, mask, self.pooling)
        return pooled.view(*shape[:-1], -1)  # [B, H], or [B, choices, H]

    def head_logits(self, task: str, features: torch.Tensor) -> torch.Tensor:
        """The task's head on what `encode` returned."""
        out = self.heads[self.head_of[task]](features)
        if task in self.label_order:
            out = out[..., self.label_order[task]]
        if self.specs[task].format in ("multiple_choice", "regression"):
            return out.squeeze(-1)
        return out

    def example_losses(
        self,
        task: str,
        logits: torch.Tensor,
        batch: dict[str, torch.Tensor],
        smoothing: float | None = None,
    ) -> torch.Tensor:
        """Unscaled loss of every example in the batch (`smoothing`: summaries' label
        smoothing, the run's by default; validation reports the plain token loss with 0)."""
        fmt = self.specs[task].format
        logits = logits.float()
        if fmt == "summarization":
            # Label-smoothed cross-entropy, averaged over each example's own target tokens.
            labels = batch["labels"]
            tokens = F.cross_entropy(
                logits.flatten(0, 1),
                labels.flatten(),
                ignore_index=-100,
                label_smoothing=self.label_smoothing if smoothing is None else smoothing,
                reduction="none",
            ).view_as(labels)
            return tokens.sum(-1) / (labels != -100).sum(-1).clamp(min=1)
        if fmt == "regression":
            return F.mse_loss(logits, batch["labels"].float(), reduction="none")
        if fmt == "extractive_qa":
            # Padding must not be a candidate position: the loss would depend on batch width.
            pad = batch["attention_mask"] == 0
            start, end = logits.masked_fill(pad.unsqueeze(-1), float("-inf")).unbind(-1)
            return (
                F.cross_entropy(start, batch["start_positions"], reduction="none")
                + F.cross_entropy(end, batch["end_positions"], reduction="none")
            ) / 2
        return F.cross_entropy(logits, batch["labels"], reduction="none")

    def forward(
        self,
        task: str | Callable[[MultiTaskModel], Any],
        batch: dict[str, torch.Tensor] | None = None,
        r3f_eps: float = 0.0,
        r3f_noise: str = "uniform",
    ) -> Any:
        """(per-example losses, R3F symmetric-KL term or None).

        `task` may be a fused update (train/fused.py) instead, run on this model: through the
        forward, so that several processes' DistributedDataParallel sees one forward pass.
        """
        if callable(task):
            return task(self)
        assert batch is not None
        logits = self.logits(task, batch)
        losses = self.example_losses(task, logits, batch)
        if r3f_eps <= 0 or self.specs[task].format == "regression":
            return losses, None
        return losses, self._r3f(task, batch, logits, r3f_eps, r3f_noise)

    def _r3f(
        self,
        task: str,
        batch: dict[str, torch.Tensor],
        logits: torch.Tensor,
        eps: float,
        noise_kind: str,
    ) -> torch.Tensor:
        """Symmetric KL between outputs on clean and noise-perturbed input embeddings."""
        ids = batch["input_ids"]
        if self.specs[task].format == "multiple_choice":
            ids = ids.reshape(-1, ids.shape[-1])
        stack = self.encoder.get_encoder() if self.seq2seq else self.encoder
        embeds = stack.get_input_embeddings()(ids)
        noise = torch.empty_like(embeds)
        noise = noise.uniform_(-eps, eps) if noise_kind == "uniform" else noise.normal_(0, eps)
        noisy = self.logits(task, batch, inputs_embeds=embeds + noise)
        return self.r3f_divergence(task, logits, noisy, batch)

    def r3f_divergence(
        self, task: str, logits: torch.Tensor, noisy: torch.Tensor, batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """R3F's symmetric KL between the clean and the noisy outputs of one task's batch."""
        if self.specs[task].format == "summarization":
            return _token_symmetric_kl(logits, noisy, batch["labels"] != -100)
        p = F.log_softmax(logits.float(), dim=-2 if logits.dim() == 3 else -1)
        q = F.log_softmax(noisy.float(), dim=-2 if noisy.dim() == 3 else -1)
        kl = F.kl_div(p, q, log_target=True, reduction="batchmean") + F.kl_div(
            q, p, log_target=True, reduction="batchmean"
        )
        return kl

    def _decoder_logits(
        self, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None
    ) -> torch.Tensor:
        inputs: dict[str, Any] = {
            "attention_mask": batch["attention_mask"],
            "decoder_input_ids": self._decoder_inputs(batch["labels"]),
            "use_cache": False,
        }
        if inputs_embeds is None:
            inputs["input_ids"] = batch["input_ids"]
        else:
            inputs["inputs_embeds"] = inputs_embeds
        return self.encoder(**inputs).logits

    def _decoder_inputs(self, labels: torch.Tensor) -> torch.Tensor:
        """Labels shifted right behind the decoder start token (the model's own rule if any)."""
        prepare = getattr(self.encoder, "prepare_decoder_input_ids_from_labels", None)
        if prepare is not None:
            return prepare(labels=labels)
        config = self.encoder.config
        shifted = labels.new_full(labels.shape, config.pad_token_id)
        shifted[:, 0] = config.decoder_start_token_id
        shifted[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, config.pad_token_id)
        return shifted

    @torch.no_grad()
    def generate(
        self, batch: dict[str, torch.Tensor], max_new_tokens: int, num_beams: int
    ) -> torch.Tensor:
        """Generated token ids for a summarization batch (greedy, or beam search).

        The model's other generation defaults (length penalty, no-repeat n-grams) stay; its
        minimum length is capped by the run's bound, which it could not reach.
        """
        min_length = min(self.encoder.generation_config.min_length or 0, max_new_tokens)
        generator = cast(GenerationMixin, self.encoder)  # an encoder-decoder with its LM head
        ids = generator.generate(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            max_new_tokens=max_new_tokens,
            min_length=min_length,
            num_beams=num_beams,
            do_sample=False,
        )
        assert isinstance(ids, torch.Tensor)  # not asked for a dict (return_dict_in_generate)
        return ids

    def describe_heads(self) -> list[dict[str, Any]]:
        """Each head: key, format, the tasks sharing it and their labels (for export)."""
        described = []
        for key in self.heads:
            tasks = [t for t, k in self.head_of.items() if k == key]
            spec = self.specs[tasks[0]]
            described.append(
                {
                    "head": key,
                    "format": spec.format,
                    "tasks": tasks,
                    "labels": sorted(spec.labels)
                    if key.startswith("labels/")
                    else list(spec.labels),
                    "choices": spec.choices,
                }
            )
        return described


def _head_sizes(config: Any) -> tuple[float, int]:
    """(dropout, hidden size) of the heads, from the encoder's config (BERT, BART, T5 names);
    a dropout of 0.0 there means none in the heads either."""
    dropout = 0.1
    for name in ("hidden_dropout_prob", "dropout", "dropout_rate"):
        value = getattr(config, name, None)
        if isinstance(value, (int, float)):
            dropout = float(value)
            break
    return dropout, int(config.hidden_size)


def _token_symmetric_kl(
    clean: torch.Tensor, noisy: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Symmetric KL between two [B, T, V] token distributions, averaged over real targets."""
    p = F.log_softmax(clean.float(), dim=-1)
    q = F.log_softmax(noisy.float(), dim=-1)
    kl = ((p.exp() - q.exp()) * (p - q)).sum(-1)  # KL(p||q) + KL(q||p), per token
    return (kl * mask).sum() / mask.sum().clamp(min=1)

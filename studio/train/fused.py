"""One encoder pass for several tasks' sub-batches: the fused update (fuse_update).

The rows of the sub-batches whose widths are close go through the encoder together, padded to
the widest of them (length groups: padding must not eat what one bigger pass gains), and each
task's head reads back its own rows cut to its own width. Padding is masked, so each task's
losses are those its own pass gives, to float rounding; the loop weighs them exactly as on the
per-sub-batch path, so the objective is the same. Multiple choice goes in as its flat
[batch x choices, length] rows; span heads read their rows' per-token states; summarization
runs through its decoder on its own (a decoder pass cannot be shared with encoder tasks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from studio.train.model import MultiTaskModel

# A group of sub-batches may compute this much more than their own widths would (padding to
# the group's widest). A guess, not tuned: bench/throughput.py's 1.4x was measured with it.
SLACK = 0.25
ENCODER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class Part:
    """One task's sub-batch of an update, on the device."""

    task: str
    format: str
    batch: dict[str, torch.Tensor]

    @property
    def width(self) -> int:
        return int(self.batch["input_ids"].shape[-1])

    @property
    def rows(self) -> int:
        return int(self.batch["input_ids"].numel()) // self.width

    @property
    def alone(self) -> bool:
        """Whether it runs by itself (summarization: through its decoder)."""
        return self.format == "summarization"


def length_groups(parts: list[Part], slack: float = SLACK) -> list[list[int]]:
    """Which parts share one encoder call: by width, narrowest first, as long as padding the
    group to its widest part costs at most `slack` more tokens than each part's own width."""
    groups: list[list[int]] = []
    current: list[int] = []
    rows = own = 0
    for i in sorted(range(len(parts)), key=lambda i: parts[i].width):
        part = parts[i]
        if part.alone:
            groups.append([i])
            continue
        tokens = part.rows * part.width
        if current and (rows + part.rows) * part.width > (1 + slack) * (own + tokens):
            groups.append(current)
            current, rows, own = [], 0, 0
        current.append(i)
        rows, own = rows + part.rows, own + tokens
    if current:
        groups.append(current)
    return groups


def passes(parts: list[Part], budget: int | None) -> list[list[int]]:
    """The parts, in order, cut into forward+backward passes of at most `budget` tokens each
    (padding included); None: one pass. A part bigger than the budget is a pass alone."""
    if budget is None:
        return [list(range(len(parts)))]
    cuts: list[list[int]] = []
    tokens = 0
    for i, part in enumerate(parts):
        size = int(part.rows * part.width * (1 + SLACK))
        if cuts and tokens + size <= budget:
            cuts[-1].append(i)
            tokens += size
        else:
            cuts.append([i])
            tokens = size
    return cuts


@dataclass
class FusedForward:
    """Per-example losses and R3F terms of several parts, from one encoder pass per length
    group. Called as the model's forward (MultiTaskModel.forward runs it), so several
    processes' DistributedDataParallel sees one forward and one backward."""

    parts: list[Part]
    pad_id: int
    r3f_eps: float = 0.0
    r3f_noise: str = "uniform"

    def __call__(self, model: MultiTaskModel) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        results: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        noisy: dict[int, torch.Tensor] = {}
        # In the parts' order, as the per-sub-batch path draws them: the same noise from the
        # same stream of random numbers on both paths.
        for i, part in enumerate(self.parts):
            if part.alone:
                results[i] = model(part.task, part.batch, self.r3f_eps, self.r3f_noise)
            elif self.r3f_eps > 0 and part.format != "regression":
                noisy[i] = self._noisy_embeddings(model, part)
        for group in length_groups(self.parts):
            if self.parts[group[0]].alone:
                continue
            clean = self._logits(model, group, None)
            perturbed = [i for i in group if i in noisy]
            noisy_logits = self._logits(model, perturbed, noisy) if perturbed else {}
            for i in group:
                part = self.parts[i]
                losses = model.example_losses(part.task, clean[i], part.batch)
                r3f = None
                if i in noisy_logits:
                    r3f = model.r3f_divergence(part.task, clean[i], noisy_logits[i], part.batch)
                results[i] = (losses, r3f)
        return [results[i] for i in range(len(self.parts))]

    def _noisy_embeddings(self, model: MultiTaskModel, part: Part) -> torch.Tensor:
        """The part's input embeddings plus R3F's noise, [rows, width, hidden]."""
        ids = part.batch["input_ids"].reshape(-1, part.width)
        stack = model.encoder.get_encoder() if model.seq2seq else model.encoder
        embeds = stack.get_input_embeddings()(ids)
        noise = torch.empty_like(embeds)
        eps = self.r3f_eps
        noise = noise.uniform_(-eps, eps) if self.r3f_noise == "uniform" else noise.normal_(0, eps)
        return embeds + noise

    def _logits(
        self, model: MultiTaskModel, group: list[int], embeds: dict[int, torch.Tensor] | None
    ) -> dict[int, torch.Tensor]:
        """Each part's head outputs from one encoder call over the group's rows."""
        parts = [self.parts[i] for i in group]
        width = max(p.width for p in parts)
        flat = [{k: p.batch[k].reshape(-1, p.width) for k in ENCODER_INPUTS if k in p.batch}
                for p in parts]  # fmt: skip
        pads = {"input_ids": self.pad_id, "attention_mask": 0, "token_type_ids": 0}
        merged = {
            key: torch.cat([_widen(f.get(key, _zeros(f)), width, pads[key]) for f in flat])
            for key in ENCODER_INPUTS
            if any(key in f for f in flat)
        }
        if embeds is not None:
            merged.pop("input_ids")
            merged["inputs_embeds"] = torch.cat([_widen(embeds[i], width, 0) for i in group])
        hidden = model.hidden_states(merged, [(p.task, p.batch["input_ids"].shape) for p in parts])
        out: dict[int, torch.Tensor] = {}
        start = 0
        for i, part, inputs in zip(group, parts, flat, strict=True):
            own = hidden[start : start + part.rows, : part.width]
            start += part.rows
            shape = part.batch["input_ids"].shape
            features = model.head_features(part.task, own, inputs["attention_mask"], shape)
            out[i] = model.head_logits(part.task, features)
        return out


def _zeros(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Token types for a part without them (its tokenizer gave none): all the first type."""
    return torch.zeros_like(inputs["attention_mask"])


def _widen(tensor: torch.Tensor, width: int, value: int) -> torch.Tensor:
    """[rows, length] or [rows, length, hidden] padded at the end of the length to `width`."""
    missing = width - tensor.shape[1]
    if missing == 0:
        return tensor
    padding = (0, 0, 0, missing) if tensor.dim() == 3 else (0, missing)
    return F.pad(tensor, padding, value=value)

"""The head-only probe: the frozen encoder reads each training example once, then only the head
trains, on those stored features (so a probe's updates cost next to nothing)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.errors import ConfigError
from studio.train.batching import collate, eval_batches
from studio.train.data.loading import rows
from studio.train.model import MultiTaskModel

MAX_CACHE_BYTES = 4 << 30  # span tasks keep every token's state: refuse what would not fit
# What a head's loss reads besides the features (the span loss masks padding positions).
TARGETS = ("labels", "start_positions", "end_positions", "attention_mask")


@dataclass
class FeatureCache:
    """What the head reads for every training feature, and its targets, by position."""

    features: torch.Tensor  # [N, H], [N, choices, H] or, for spans, [N, L, H]
    targets: dict[str, torch.Tensor]

    def batch(self, positions: np.ndarray) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        index = torch.as_tensor(positions, device=self.features.device)
        return self.features[index], {k: v[index] for k, v in self.targets.items()}


def _pad_tokens(parts: list[torch.Tensor], width: int) -> list[torch.Tensor]:
    """Pad each part's token dimension (dim 1) with zeros to `width`."""
    padded = []
    for part in parts:
        extra = width - part.shape[1]
        padded.append(F.pad(part, (0, 0, 0, extra) if part.dim() == 3 else (0, extra)))
    return padded


@torch.no_grad()
def encode_features(
    model: MultiTaskModel,
    task: str,
    split: Any,  # a tokenized split (datasets.Dataset)
    features: np.ndarray,
    lengths: np.ndarray,
    batch_size: int,
    pad_id: int,
    device: torch.device,
    autocast: Callable[[], Any],
) -> FeatureCache:
    """The encoder's output for `split[features]` (in eval mode: no dropout), kept in fp32."""
    spans = model.specs[task].format == "extractive_qa"
    if spans:
        hidden = next(model.heads[model.head_of[task]].parameters()).shape[-1]
        needed = len(features) * int(lengths.max()) * hidden * 4
        if needed > MAX_CACHE_BYTES:
            raise ConfigError(
                f"probe: the span task '{task}' would keep {needed / 2**30:.1f} GiB of token "
                "states for its training examples; use a smaller k or full fine-tuning"
            )
    was_training = model.training
    model.eval()
    encoded: list[torch.Tensor] = []
    targets: dict[str, list[torch.Tensor]] = {}
    order: list[np.ndarray] = []
    for positions in eval_batches(lengths, batch_size, None):
        batch, _, _ = collate(rows(split, features[positions]), np.arange(len(positions)), pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast():
            encoded.append(model.encode(task, batch).float())
        for key in TARGETS:
            if key in batch and (spans or key == "labels"):
                targets.setdefault(key, []).append(batch[key])
        order.append(positions)
    model.train(was_training)
    if spans:
        width = max(p.shape[1] for p in encoded)
        encoded = _pad_tokens(encoded, width)
        targets["attention_mask"] = _pad_tokens(targets["attention_mask"], width)
    # Back to the order of `features`: the batches went by length.
    inverse = torch.as_tensor(np.argsort(np.concatenate(order)), device=device)
    return FeatureCache(
        torch.cat(encoded)[inverse], {k: torch.cat(v)[inverse] for k, v in targets.items()}
    )

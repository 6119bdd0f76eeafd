"""tasknet's task embedding: a learned vector per task added to the first token's input embedding.

The vector is added after the word-embedding lookup (the encoder adds its positions and token
types on top, as to any token), so any encoder that takes `inputs_embeds` can read it. Each
vector starts at zero: a fresh run starts from the base model's own function. In training a
whole example's vector is left out at the dropout rate (tasknet: 10 %), never in evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# Where the vectors sit in a checkpoint's model.safetensors and in an export's heads.safetensors.
KEY = "task_embedding.weight"

# One part of an encoder call: its task, and the shape of its input ids ([B, L], or [B, C, L]
# for multiple choice: the C choices of one question are one example).
Rows = tuple[str, torch.Size]


class TaskEmbedding(nn.Module):
    """One vector per task (rows in `tasks` order), with per-example dropout in training."""

    def __init__(self, tasks: Sequence[str], hidden: int, dropout: float) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.index = {t: i for i, t in enumerate(self.tasks)}
        self.dropout = dropout
        self.weight = nn.Parameter(torch.zeros(len(self.tasks), hidden))

    def vectors(self, parts: Sequence[Rows]) -> torch.Tensor:
        """[rows, hidden]: each flat input row's task vector (zero where it is dropped)."""
        chunks = []
        for task, shape in parts:
            examples = shape[0]
            per_example = int(torch.Size(shape[:-1]).numel()) // max(examples, 1)
            vector = self.weight[self.index[task]].expand(examples, -1)
            if self.training and self.dropout > 0:
                keep = torch.rand(examples, device=vector.device) >= self.dropout
                vector = vector * keep.unsqueeze(-1).to(vector.dtype)
            chunks.append(vector.repeat_interleave(per_example, dim=0))
        return torch.cat(chunks)

    def add(self, embeds: torch.Tensor, parts: Sequence[Rows]) -> torch.Tensor:
        """`embeds` [rows, L, H] with each row's task vector added to its first token."""
        first = embeds[:, :1] + self.vectors(parts).to(embeds.dtype).unsqueeze(1)
        return torch.cat([first, embeds[:, 1:]], dim=1)

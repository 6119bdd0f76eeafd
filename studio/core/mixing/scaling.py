"""Loss scaling (docs/DESIGN.md §1): divide each example's loss by log n, n the decision size."""

from __future__ import annotations

import math

from studio.core.tasks.spec import TaskSpec


def decision_size(spec: TaskSpec, max_length: int, vocab_size: int) -> int | None:
    """n: classes, choices, candidate span positions (the sequence length) or vocabulary size.

    None for regression, which has no discrete decision and keeps weight 1.
    """
    if spec.format in ("classification", "pair_classification", "multiple_choice"):
        return spec.num_outcomes
    if spec.format == "extractive_qa":
        return max_length
    if spec.format == "summarization":
        return vocab_size
    return None


def loss_scale(
    spec: TaskSpec,
    mode: str,
    max_length: int,
    vocab_size: int,
    manual_weights: dict[str, float] | None = None,
) -> float:
    """The factor each of the task's example losses is multiplied by."""
    if mode == "none":
        return 1.0
    if mode == "manual":
        return float((manual_weights or {})[spec.name])
    n = decision_size(spec, max_length, vocab_size)
    # A uniform guesser's cross-entropy is log n, so this puts every task on the same scale.
    return 1.0 if n is None else 1.0 / math.log(n)

"""How long an input a base model reads, so that a run's max_length never overflows it.

A max_length beyond the model's positions (BERT and RoBERTa: 512) fails in the embeddings at
the first long batch, with an index error that names neither the setting nor the model. The
tokenizer usually states the bound (`model_max_length`); learned absolute positions bound it
too, less the rows RoBERTa-style models keep before the first position (514 rows for 512).
"""

from __future__ import annotations

from typing import Any

# Learned positions that start after the padding index: position ids begin at pad + 1.
POSITION_OFFSET = {
    "roberta": 2, "xlm-roberta": 2, "xlm-roberta-xl": 2, "camembert": 2, "mpnet": 2,
    "longformer": 2, "data2vec-text": 2, "ibert": 2, "markuplm": 2, "xmod": 2,
}  # fmt: skip
# transformers' VERY_LARGE_INTEGER, what a tokenizer that states no bound says.
UNSTATED = 10**12


def readable_length(tokenizer: Any, model_config: Any) -> int | None:
    """The longest input (in tokens) the model reads: the smaller of the tokenizer's stated
    bound and the model's learned positions; None when neither bounds it (T5's relative
    positions, DeBERTa-v3's relative attention without absolute positions)."""
    bounds = []
    stated = getattr(tokenizer, "model_max_length", None)
    if isinstance(stated, int) and 0 < stated < UNSTATED:
        bounds.append(stated)
    # An EncoderDecoderModel (minilm-seq2seq) keeps its encoder's config inside its own.
    encoder = getattr(model_config, "encoder", None) or model_config
    positions = getattr(encoder, "max_position_embeddings", None)
    absolute = getattr(encoder, "position_biased_input", True) is not False
    if isinstance(positions, int) and positions > 0 and absolute:
        offset = POSITION_OFFSET.get(getattr(encoder, "model_type", ""), 0)
        bounds.append(positions - offset)
    return min(bounds) if bounds else None


def capped_length(
    max_length: int, tokenizer: Any, model_config: Any, model: str
) -> tuple[int, str | None]:
    """`max_length`, or the model's bound when that is shorter, with the line saying so."""
    bound = readable_length(tokenizer, model_config)
    if bound is None or max_length <= bound:
        return max_length, None
    return bound, (
        f"max_length {max_length} is more than {model} reads ({bound} tokens); "
        f"inputs are cut at {bound}"
    )

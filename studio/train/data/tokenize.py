"""Per-format tokenization of record batches into model features (datasets `map` functions)."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedTokenizerFast

Batch = dict[str, list[Any]]

# Bump when the feature layout changes, so stale tokenized caches are not reused.
FEATURE_VERSION = 5  # 5: a `length` column; chunked cache files


def _encode(
    tok: PreTrainedTokenizerFast, first: list[str], second: list[str] | None, max_length: int
) -> Batch:
    enc = tok(first, second, truncation=True, max_length=max_length)
    out: Batch = {"input_ids": enc["input_ids"]}
    if "token_type_ids" in enc:
        out["token_type_ids"] = enc["token_type_ids"]
    return out


def classification(batch: Batch, tok: PreTrainedTokenizerFast, max_length: int) -> Batch:
    pair = batch.get("text_pair")
    if pair is not None and any(p is None for p in pair):
        # Regression files may give a second sentence on some rows only.
        rows = [
            _encode(tok, [t], [p] if p else None, max_length)
            for t, p in zip(batch["text"], pair, strict=True)
        ]
        out = {k: [r[k][0] for r in rows] for k in rows[0]}
    else:
        out = _encode(tok, batch["text"], pair, max_length)
    out["labels"] = batch["label"]
    return out


def multiple_choice(batch: Batch, tok: PreTrainedTokenizerFast, max_length: int) -> Batch:
    """One row per (context + question, choice); kept nested as [example][choice][token]."""
    firsts, seconds, sizes = [], [], []
    for context, question, choices in zip(
        batch["context"], batch["question"], batch["choices"], strict=True
    ):
        prompt = " ".join(part for part in (context, question) if part)
        firsts += [prompt] * len(choices)
        seconds += choices
        sizes.append(len(choices))
    flat = _encode(tok, firsts, seconds, max_length)
    out: Batch = {key: [] for key in flat}
    start = 0
    for size in sizes:
        for key, values in flat.items():
            out[key].append(values[start : start + size])
        start += size
    out["labels"] = batch["label"]
    return out


def summarization(
    batch: Batch,
    tok: PreTrainedTokenizerFast,
    max_length: int,
    max_target_length: int,
    decoder_start: int | None = None,
) -> Batch:
    """Document ids for the encoder; summary ids as `labels` for the decoder (teacher forcing).

    A leading `decoder_start` token is dropped from the labels: the decoder is fed it first
    anyway (a BERT tokenizer starts every text with [CLS], which bert2bert models such as
    minilm-seq2seq also start decoding with; predicting it again teaches [CLS] [CLS] ...).
    """
    enc = tok(batch["document"], truncation=True, max_length=max_length)
    targets = tok(text_target=batch["summary"], truncation=True, max_length=max_target_length)
    labels = [
        ids[1:] if decoder_start is not None and ids[:1] == [decoder_start] else ids
        for ids in targets["input_ids"]
    ]
    return {"input_ids": enc["input_ids"], "labels": labels}


def span_layout(tok: PreTrainedTokenizerFast, max_length: int, stride: int) -> tuple[int, int]:
    """(longest question, stride) in tokens for span QA windows of `max_length`.

    A question takes at most half of the room the special tokens leave, so the context
    always keeps the other half; the windows' overlap must be shorter than that (the fast
    tokenizer panics otherwise), so a larger stride shrinks to fit. At the usual lengths
    (max_length >= 64, a stride of a quarter) nothing changes.
    """
    room = max(2, max_length - tok.num_special_tokens_to_add(pair=True))
    question = room // 2
    return question, max(0, min(stride, room - question - 1))


def _cap_questions(questions: list[str], tok: PreTrainedTokenizerFast, limit: int) -> list[str]:
    """Each question cut after its first `limit` tokens (at a token's end, in its text)."""
    enc = tok(questions, add_special_tokens=False, return_offsets_mapping=True)
    return [
        q if len(offsets) <= limit else q[: offsets[limit - 1][1]]
        for q, offsets in zip(questions, enc["offset_mapping"], strict=True)
    ]


def extractive_qa(
    batch: Batch,
    indices: list[int],
    tok: PreTrainedTokenizerFast,
    max_length: int,
    stride: int,
    with_offsets: bool,
) -> Batch:
    """Question + context windows of `max_length` overlapping by `stride` tokens.

    Only the context is split into windows: a question longer than half the room is cut
    (`span_layout`), so no question, however long, leaves the context too little room. A
    window that does not hold the answer points at the first token (position 0), as in
    the SQuAD recipes. Every feature keeps its example's index (for answer extraction and
    for subsampling by example); validation features also keep offsets (-1 outside the
    context).
    """
    longest, stride = span_layout(tok, max_length, stride)
    questions = _cap_questions([q.lstrip() for q in batch["question"]], tok, longest)
    enc = tok(
        questions,
        batch["context"],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    sample_map = enc.pop("overflow_to_sample_mapping")
    offsets = enc.pop("offset_mapping")
    out: Batch = {
        "input_ids": enc["input_ids"],
        "start_positions": [],
        "end_positions": [],
        "example_index": [],
    }
    if "token_type_ids" in enc:
        out["token_type_ids"] = enc["token_type_ids"]
    if with_offsets:
        out["offsets"] = []
    for i, window in enumerate(offsets):
        seq_ids = enc.sequence_ids(i)
        sample = sample_map[i]
        context_offsets = [o if s == 1 else (-1, -1) for o, s in zip(window, seq_ids, strict=True)]
        answers = batch["answers"][sample]
        start = end = 0
        if answers["text"]:
            char_start = answers["answer_start"][0]
            char_end = char_start + len(answers["text"][0])
            inside = [j for j, (a, b) in enumerate(context_offsets) if a >= 0 and b > a]
            if (
                inside
                and context_offsets[inside[0]][0] <= char_start
                and context_offsets[inside[-1]][1] >= char_end
            ):
                start = next(j for j in inside if context_offsets[j][1] > char_start)
                end = next(j for j in reversed(inside) if context_offsets[j][0] < char_end)
        out["start_positions"].append(start)
        out["end_positions"].append(end)
        out["example_index"].append(indices[sample])  # the dataset row, not the batch row
        if with_offsets:
            out["offsets"].append([list(o) for o in context_offsets])
    return out


def with_length(features: Batch) -> Batch:
    """Add each feature's token count (its longest choice for multiple choice): batches are
    bucketed by it, read from Arrow without touching the token lists."""
    ids = features["input_ids"]
    nested = bool(ids) and bool(ids[0]) and isinstance(ids[0][0], list)
    features["length"] = [max(map(len, row)) if nested else len(row) for row in ids]
    return features


def tokenize_function(
    fmt: str,
    tok: PreTrainedTokenizerFast,
    max_length: int,
    stride: int,
    split: str,
    max_target_length: int = 64,
    decoder_start: int | None = None,
) -> Any:
    """The `datasets.map` function for one format and split (span QA's also takes indices)."""
    if fmt in ("classification", "pair_classification", "regression"):
        return lambda b: with_length(classification(b, tok, max_length))
    if fmt == "multiple_choice":
        return lambda b: with_length(multiple_choice(b, tok, max_length))
    if fmt == "extractive_qa":
        return lambda b, idx: with_length(
            extractive_qa(b, idx, tok, max_length, stride, split == "validation")
        )
    if fmt == "summarization":
        return lambda b: with_length(
            summarization(b, tok, max_length, max_target_length, decoder_start)
        )
    raise ValueError(f"format {fmt!r} cannot be tokenized")

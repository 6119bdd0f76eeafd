"""Every local task tokenizes; per-format features are shaped as the model expects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from studio.core.config.models import minilm_folder
from studio.core.tasks.records import validate_file
from studio.core.tasks.spec import TaskSpec
from studio.train.data.tokenize import extractive_qa, span_layout, summarization, tokenize_function


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return AutoTokenizer.from_pretrained(minilm_folder())


def _first_rows(path: Path, n: int) -> dict[str, list]:
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line, _ in zip(handle, range(n), strict=False)]
    return {key: [r[key] for r in rows] for key in rows[0]}


def test_every_local_spec_loads_and_tokenizes_first_rows(
    catalog: dict[str, TaskSpec], shared_data: Path, tokenizer
) -> None:
    local = [s for s in catalog.values() if s.local and (shared_data / s.local).is_dir()]
    assert len(local) == 43
    for spec in local:
        for split in ("train", "validation"):
            path = shared_data / spec.local / f"{split}.jsonl"
            assert validate_file(path, spec, limit=50) == 50 or spec.name == "cb"
            batch = _first_rows(path, 8)
            function = tokenize_function(spec.format, tokenizer, 128, 32, split, 24)
            if spec.format == "extractive_qa":
                features = function(batch, list(range(len(batch["context"]))))
            else:
                features = function(batch)
            assert len(features["input_ids"]) >= 8, spec.name
            assert all(len(ids) <= 128 for ids in _flat(features["input_ids"])), spec.name
            if spec.format == "multiple_choice":
                assert all(len(ex) == spec.choices for ex in features["input_ids"]), spec.name
            if spec.format == "summarization":  # summary ids are the decoder's labels
                assert len(features["labels"]) == len(features["input_ids"]), spec.name
                assert all(2 < len(ids) <= 24 for ids in features["labels"]), spec.name


def _flat(ids: list) -> list:
    return [r for ex in ids for r in ex] if isinstance(ids[0][0], list) else ids


def test_span_windows_overlap_and_point_at_the_answer(tokenizer) -> None:
    filler = " ".join(f"word{i}" for i in range(300))
    context = f"{filler} The treasure is hidden in Kathmandu today. {filler}"
    start = context.index("Kathmandu")
    batch = {
        "context": [context],
        "question": ["Where is the treasure?"],
        "answers": [{"text": ["Kathmandu"], "answer_start": [start]}],
    }
    out = extractive_qa(batch, [7], tokenizer, max_length=128, stride=32, with_offsets=True)
    assert len(out["input_ids"]) > 3  # a long context becomes several windows
    assert all(len(ids) <= 128 for ids in out["input_ids"])
    hits = [i for i, s in enumerate(out["start_positions"]) if s > 0]
    assert hits, "some window must contain the answer"
    for i in hits:
        s, e = out["start_positions"][i], out["end_positions"][i]
        a, b = out["offsets"][i][s][0], out["offsets"][i][e][1]
        assert context[a:b] == "Kathmandu"
    assert set(out["example_index"]) == {7}  # the dataset row it came from


def test_summary_labels_drop_a_leading_decoder_start(tokenizer) -> None:
    batch = {"document": ["A long story about a cat and a hat."], "summary": ["A cat."]}
    kept = summarization(batch, tokenizer, 32, 8)["labels"][0]
    assert kept[0] == tokenizer.cls_token_id and kept[-1] == tokenizer.sep_token_id
    # minilm-seq2seq starts decoding at [CLS]: predicting it again would teach [CLS] [CLS] ...
    dropped = summarization(batch, tokenizer, 32, 8, tokenizer.cls_token_id)["labels"][0]
    assert dropped == kept[1:]
    # BART-style: decoding starts at </s> and labels at <s>; nothing is dropped.
    assert summarization(batch, tokenizer, 32, 8, tokenizer.sep_token_id)["labels"][0] == kept
    long = {"document": ["x"], "summary": [" ".join(["word"] * 50)]}
    assert len(summarization(long, tokenizer, 32, 8)["labels"][0]) == 8


def _span_batch(question: str) -> dict[str, list]:
    context = "The old map says the treasure is hidden in Kathmandu, under the third stone. " * 4
    start = context.index("Kathmandu")
    return {
        "context": [context],
        "question": [question],
        "answers": [{"text": ["Kathmandu"], "answer_start": [start]}],
    }


@pytest.mark.parametrize("words", [1, 12, 16, 18, 20, 24, 60, 400])
def test_a_long_question_never_crashes_short_span_windows(tokenizer, words: int) -> None:
    """At max_length 32 the derived stride is 8: a question of 18-23 tokens used to leave the
    context 8 or fewer and the tokenizer panicked ('stride must be strictly less than
    max_len'); a longer one failed to truncate. The question is cut to half the room now."""
    question = "Where " + " ".join(["exactly"] * words) + " is the treasure?"
    out = extractive_qa(_span_batch(question), [3], tokenizer, max_length=32, stride=8,
                        with_offsets=True)  # fmt: skip
    assert out["input_ids"] and all(len(ids) <= 32 for ids in out["input_ids"])
    hits = [i for i, s in enumerate(out["start_positions"]) if s > 0]
    assert hits, "some window must hold the answer"
    context = _span_batch(question)["context"][0]
    for i in hits:
        s, e = out["start_positions"][i], out["end_positions"][i]
        assert context[out["offsets"][i][s][0] : out["offsets"][i][e][1]] == "Kathmandu"
    assert set(out["example_index"]) == {3}


def test_a_stride_that_leaves_no_room_shrinks(tokenizer) -> None:
    longest, stride = span_layout(tokenizer, 32, 30)
    assert (longest, stride) == (14, 14)  # 29 tokens of room: half the question's at most
    assert span_layout(tokenizer, 384, 96) == (190, 96)  # the usual lengths: unchanged
    out = extractive_qa(_span_batch("Where?"), [0], tokenizer, 32, 30, with_offsets=False)
    assert all(len(ids) <= 32 for ids in out["input_ids"])


def test_squad_tokenizes_at_max_length_32(shared_data: Path, tokenizer) -> None:
    """The reported crash: squad_v1 with max_length 32 on MiniLM."""
    rows = _first_rows(shared_data / "squad_v1" / "validation.jsonl", 400)
    rows["question"][0] = "What " + "very " * 40 + "long question is this?"
    function = tokenize_function("extractive_qa", tokenizer, 32, 8, "validation")
    out = function(rows, list(range(len(rows["question"]))))
    assert set(out["example_index"]) == set(range(len(rows["question"])))
    assert max(map(len, out["input_ids"])) <= 32

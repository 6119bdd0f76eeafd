"""Loss scaling: 1 / ln(n), n the size of the task's decision (docs/DESIGN.md §1)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from studio.core.mixing.scaling import decision_size, loss_scale
from studio.core.tasks.spec import TaskSpec

SpecFactory = Callable[..., TaskSpec]
MAX_LENGTH = 384
VOCAB = 30522


def test_classification_uses_the_number_of_labels(make_spec: SpecFactory) -> None:
    spec = make_spec("classification", labels=["a", "b", "c", "d", "e"])
    assert decision_size(spec, MAX_LENGTH, VOCAB) == 5
    assert loss_scale(spec, "log_n", MAX_LENGTH, VOCAB) == 1 / math.log(5)


def test_pair_classification(make_spec: SpecFactory) -> None:
    spec = make_spec("pair_classification", labels=["entailment", "neutral", "contradiction"])
    assert loss_scale(spec, "log_n", MAX_LENGTH, VOCAB) == 1 / math.log(3)
    binary = make_spec("pair_classification")
    assert loss_scale(binary, "log_n", MAX_LENGTH, VOCAB) == 1 / math.log(2)


@pytest.mark.parametrize("choices", [2, 4, 5])
def test_multiple_choice_uses_the_number_of_choices(choices: int, make_spec: SpecFactory) -> None:
    spec = make_spec("multiple_choice", choices=choices)
    assert decision_size(spec, MAX_LENGTH, VOCAB) == choices
    assert loss_scale(spec, "log_n", MAX_LENGTH, VOCAB) == 1 / math.log(choices)


@pytest.mark.parametrize("max_length", [128, 384, 512])
def test_extractive_qa_uses_the_sequence_length(max_length: int, make_spec: SpecFactory) -> None:
    spec = make_spec("extractive_qa")
    assert decision_size(spec, max_length, VOCAB) == max_length
    assert loss_scale(spec, "log_n", max_length, VOCAB) == 1 / math.log(max_length)


@pytest.mark.parametrize("vocab", [30522, 50265])
def test_summarization_uses_the_vocabulary_size(vocab: int, make_spec: SpecFactory) -> None:
    spec = make_spec("summarization")
    assert decision_size(spec, MAX_LENGTH, vocab) == vocab
    assert loss_scale(spec, "log_n", MAX_LENGTH, vocab) == 1 / math.log(vocab)


def test_regression_keeps_weight_one(make_spec: SpecFactory) -> None:
    spec = make_spec("regression")
    assert decision_size(spec, MAX_LENGTH, VOCAB) is None
    assert loss_scale(spec, "log_n", MAX_LENGTH, VOCAB) == 1.0


def test_uniform_guesser_scores_one(make_spec: SpecFactory) -> None:
    # A uniform guesser's cross-entropy is ln n; scaled, it is 1 on every task.
    for fmt in (
        "classification",
        "pair_classification",
        "multiple_choice",
        "extractive_qa",
        "summarization",
    ):
        spec = make_spec(fmt)
        n = decision_size(spec, MAX_LENGTH, VOCAB)
        assert n is not None and n >= 2
        assert loss_scale(spec, "log_n", MAX_LENGTH, VOCAB) * math.log(n) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "fmt",
    [
        "classification",
        "pair_classification",
        "regression",
        "multiple_choice",
        "extractive_qa",
        "summarization",
    ],
)
def test_mode_none_and_manual(fmt: str, make_spec: SpecFactory) -> None:
    spec = make_spec(fmt)
    assert loss_scale(spec, "none", MAX_LENGTH, VOCAB) == 1.0
    assert loss_scale(spec, "manual", MAX_LENGTH, VOCAB, {"demo": 0.3, "other": 9.0}) == 0.3
    assert loss_scale(spec, "manual", MAX_LENGTH, VOCAB, {"demo": 2}) == 2.0

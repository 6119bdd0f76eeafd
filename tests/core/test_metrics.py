"""Validation metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from studio.core.tasks.metrics import (
    classification_metrics,
    regression_metrics,
    rouge_metrics,
    squad_metrics,
)


def test_binary_classification_by_hand() -> None:
    # labels 0 1 0 0, preds 0 1 1 0: TP=1 TN=2 FP=1 FN=0 (class 1 positive).
    m = classification_metrics([0, 1, 1, 0], [0, 1, 0, 0])
    assert m["accuracy"] == pytest.approx(0.75)
    # F1 class 0: P=1, R=2/3 -> 0.8; class 1: P=1/2, R=1 -> 2/3.
    assert m["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert m["matthews"] == pytest.approx((1 * 2 - 1 * 0) / math.sqrt(2 * 1 * 3 * 2))


def test_three_class_by_hand() -> None:
    m = classification_metrics([0, 1, 2, 2, 1, 0], [0, 1, 2, 1, 1, 2])
    assert m["accuracy"] == pytest.approx(4 / 6)
    # class 0: P=1/2 R=1 F1=2/3; class 1: P=1 R=2/3 F1=0.8; class 2: P=1/2 R=1/2 F1=1/2.
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0.5) / 3)


def test_perfect_and_inverted() -> None:
    perfect = classification_metrics([0, 1, 1, 0], [0, 1, 1, 0])
    assert perfect == pytest.approx({"accuracy": 1.0, "macro_f1": 1.0, "matthews": 1.0})
    inverted = classification_metrics([1, 0, 0, 1], [0, 1, 1, 0])
    assert inverted == pytest.approx({"accuracy": 0.0, "macro_f1": 0.0, "matthews": -1.0})


def test_constant_predictions() -> None:
    m = classification_metrics([0, 0, 0, 0], [0, 1, 0, 0])
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["matthews"] == 0.0
    assert 0.0 <= m["macro_f1"] <= 1.0


def test_single_class_evaluation_does_not_warn() -> None:
    # A small validation sample can hold one class only, and a young model predicts it everywhere;
    # the metric must still come out (tests run with warnings as errors).
    m = classification_metrics([1, 1, 1], [1, 1, 1])
    assert m["accuracy"] == 1.0


def test_all_values_are_floats() -> None:
    for m in (classification_metrics([0, 1], [1, 1]), regression_metrics([1, 2], [2, 3])):
        assert all(type(v) is float for v in m.values())


def test_regression_by_hand() -> None:
    m = regression_metrics([1, 2, 3, 4], [2, 4, 5, 4])
    # Pearson: sum dx*dy = 3.5, sum dx^2 = 5, sum dy^2 = 4.75.
    assert m["pearson"] == pytest.approx(3.5 / math.sqrt(5 * 4.75))
    # Spearman: ranks of y are 1, 2.5, 4, 2.5 -> 3 / sqrt(5 * 4.5).
    assert m["spearman"] == pytest.approx(3 / math.sqrt(5 * 4.5))


def test_regression_known_values() -> None:
    # scipy.stats.pearsonr / spearmanr on these series.
    preds = [0.5, 1.7, 2.2, 3.9, 4.1, 1.0]
    labels = [1.0, 2.0, 2.0, 4.0, 5.0, 0.0]
    m = regression_metrics(preds, labels)
    assert m["pearson"] == pytest.approx(0.9479703, abs=1e-6)
    assert m["spearman"] == pytest.approx(0.9276337, abs=1e-6)
    assert regression_metrics([1, 2, 3], [3, 2, 1]) == pytest.approx(
        {"pearson": -1.0, "spearman": -1.0}
    )
    assert regression_metrics([1, 2, 3], [1, 4, 9])["spearman"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("preds", "labels"),
    [([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]), ([1.0, 2.0, 3.0], [4.0, 4.0, 4.0]), ([1.0], [1.0])],
)
def test_constant_series_gives_zero(preds: list[float], labels: list[float]) -> None:
    assert regression_metrics(preds, labels) == {"pearson": 0.0, "spearman": 0.0}


def test_squad_normalisation() -> None:
    # Case, punctuation, articles and extra spaces do not count.
    assert squad_metrics(["The  Eiffel Tower!"], [["eiffel tower"]]) == {
        "exact_match": 1.0,
        "f1": 1.0,
    }
    assert squad_metrics(["an apple, a pear"], [["Apple pear."]])["exact_match"] == 1.0
    # 'theory' keeps its 'the'; only whole-word articles go.
    assert squad_metrics(["theory"], [["ory"]]) == {"exact_match": 0.0, "f1": 0.0}


def test_squad_token_f1_by_hand() -> None:
    # pred: paris france (2), ref: paris (1): P=1/2, R=1 -> F1 = 2/3.
    m = squad_metrics(["Paris, France"], [["Paris"]])
    assert m["exact_match"] == 0.0
    assert m["f1"] == pytest.approx(2 / 3)


def test_squad_best_over_references() -> None:
    m = squad_metrics(["The 1990."], [["1989", "1990", "in the year 1990"]])
    assert m == {"exact_match": 1.0, "f1": 1.0}
    # in 1990 vs in year 1990: P=1, R=2/3 -> 0.8 beats 1990 (2/3); no exact match.
    assert squad_metrics(["in 1990"], [["1990", "in the year 1990"]]) == pytest.approx(
        {"exact_match": 0.0, "f1": 0.8}
    )
    m = squad_metrics(["the year 1990"], [["1989", "year 1990 exactly", "1990"]])
    assert m["exact_match"] == 0.0
    # year 1990 vs year 1990 exactly: P=1, R=2/3 -> 0.8; vs 1990: P=1/2, R=1 -> 2/3.
    assert m["f1"] == pytest.approx(0.8)


def test_squad_averages_over_examples() -> None:
    m = squad_metrics(["a", "Oslo", "Lima"], [["b"], ["oslo"], ["Lima, Peru"]])
    assert m["exact_match"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx((0 + 1 + 2 / 3) / 3)


def test_squad_empty_references() -> None:
    # No reference (unanswerable): right only when the prediction is empty.
    assert squad_metrics([""], [[]]) == {"exact_match": 1.0, "f1": 1.0}
    assert squad_metrics(["Oslo"], [[]]) == {"exact_match": 0.0, "f1": 0.0}
    assert squad_metrics([], []) == {"exact_match": 0.0, "f1": 0.0}


def test_squad_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        squad_metrics(["a", "b"], [["a"]])


def test_rouge_by_hand() -> None:
    # "the cat sat" vs "the cat ran": 2 of 3 unigrams, 1 of 2 bigrams, LCS 2 of 3.
    m = rouge_metrics(["the cat sat"], ["the cat ran"])
    assert m["rouge_1"] == pytest.approx(2 / 3)
    assert m["rouge_2"] == pytest.approx(1 / 2)
    assert m["rouge_l"] == pytest.approx(2 / 3)


def test_rouge_is_stemmed_averaged_and_empty_safe() -> None:
    m = rouge_metrics(["Cats running.", ""], ["the cat runs", "anything"])
    assert set(m) == {"rouge_1", "rouge_2", "rouge_l"}
    # "cats running" vs "the cat runs": both stems match -> P 1, R 2/3, F 0.8; the empty one 0.
    assert m["rouge_1"] == pytest.approx(0.8 / 2)
    assert rouge_metrics([], []) == {"rouge_1": 0.0, "rouge_2": 0.0, "rouge_l": 0.0}

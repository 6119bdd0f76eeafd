"""A label column judged where it is chosen (one value refuses it, a value seen once is
warned about), and a carved validation set that keeps every label's share."""

from __future__ import annotations

from collections import Counter

import pytest

from studio.core.importing.guessing import check_label_column
from studio.core.importing.plan import SourceRef, SourceTable, held_out

FILE = SourceRef("files", "/data/my.csv")


def _table(counts: dict[str, int], distinct: int = 0) -> SourceTable:
    return SourceTable(
        FILE, {"train": sum(counts.values())}, {"text": "str", "label": "str"}, [],
        counts={"train": {"label": counts}}, distinct={"train": {"label": distinct}},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"yes": 9}, "has 1 label value(s) ('yes')"),
        ({"yes": 9, "": 3, "-1": 2}, "has 1 label value(s) ('yes')"),  # blanks are no labels
        ({"": 4}, "has 0 label value(s)"),
    ],
)
def test_a_label_column_of_fewer_than_two_values_is_a_problem(
    counts: dict[str, int], expected: str
) -> None:
    check = check_label_column(_table(counts), "label")
    assert check.problem is not None and expected in check.problem
    assert "at least two labels" in check.problem


def test_a_text_column_is_named_as_such() -> None:
    check = check_label_column(_table({}, distinct=5_000), "label")
    assert check.problem is not None and "5,000 distinct values" in check.problem


def test_a_value_seen_once_is_a_warning_not_a_problem() -> None:
    check = check_label_column(_table({"yes": 9, "no": 8, "maybe": 1}), "label")
    assert check.problem is None
    assert check.warning is not None and "'maybe'" in check.warning and "once" in check.warning
    assert check_label_column(_table({"yes": 9, "no": 8}), "label").warning is None


def test_stratified_hold_out_keeps_each_labels_share() -> None:
    labels = ["a"] * 80 + ["b"] * 16 + ["c"] * 4 + ["once"]
    held = held_out(labels, 0.25, seed=13, stratify=True)
    drawn = Counter(labels[i] for i in held)
    assert drawn == {"a": 20, "b": 4, "c": 1}  # 25 = round(101 * 0.25); "once" stays in train
    assert held == held_out(labels, 0.25, seed=13, stratify=True)  # seeded
    assert held != held_out(labels, 0.25, seed=7, stratify=True)


def test_a_label_with_few_examples_keeps_one_in_train() -> None:
    labels = ["a", "a", "b", "b", "c"]
    held = held_out(labels, 0.5, seed=1, stratify=True)
    drawn = Counter(labels[i] for i in held)
    assert drawn == {"a": 1, "b": 1}
    assert not held_out(["a", "b", "c"], 0.5, seed=1, stratify=True)  # nothing to hold out


def test_unstratified_hold_out_is_the_plain_seeded_draw() -> None:
    import random

    held = held_out([None] * 30, 0.2, seed=13, stratify=False)
    assert held == set(random.Random(13).sample(range(30), 6))

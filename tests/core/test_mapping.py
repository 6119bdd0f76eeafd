"""One row of the user's data turned into a record, or the column at fault."""

from __future__ import annotations

import math

import pytest

from studio.core.errors import StudioError
from studio.core.importing.mapping import UNLABELLED, build_record
from studio.core.importing.plan import ImportPlan, SourceRef

FILE = SourceRef("files", "/data/my.csv")


def _plan(fmt: str, columns: dict, **extra: object) -> ImportPlan:
    return ImportPlan(
        name="mine", format=fmt, source=FILE, columns={k: tuple(v) for k, v in columns.items()},
        **extra,
    )  # fmt: skip


def test_pair_rows_become_records_or_name_their_column() -> None:
    plan = _plan(
        "pair_classification",
        {"text": ["s1"], "text_pair": ["s2"], "label": ["gold"]},
        label_values=("entail", "contra"),
        labels=("entailment", "contradiction"),
    )
    spec = plan.spec()
    assert spec.labels == ("entailment", "contradiction") and spec.origin == "user"
    rec, problem = build_record({"s1": "A", "s2": "B", "gold": "contra"}, plan, spec)
    assert rec == {"text": "A", "text_pair": "B", "label": 1} and problem is None
    assert build_record({"s1": "A", "s2": None, "gold": "contra"}, plan, spec)[1] == (
        "s2",
        "is blank",
    )
    assert build_record({"s1": "A", "s2": "B", "gold": math.nan}, plan, spec)[1] == (
        "gold",
        "is blank",
    )
    column, text = build_record({"s1": "A", "s2": "B", "gold": "maybe"}, plan, spec)[1]
    assert column == "gold" and "'maybe' is not one of the labels" in text
    assert build_record({"s1": "  ", "s2": "B", "gold": "contra"}, plan, spec)[1] == (
        "s1",
        "is empty",
    )


def test_regression_labels_are_numbers() -> None:
    plan = _plan("regression", {"text": ["t"], "label": ["y"]})
    spec = plan.spec()
    assert build_record({"t": "x", "y": "2.5"}, plan, spec)[0] == {"text": "x", "label": 2.5}
    assert "not a number" in build_record({"t": "x", "y": "high"}, plan, spec)[1][1]


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [("index", 1, 1), ("number", 2, 1), ("letter", "b", 1), ("text", "green", 1)],
)
def test_multiple_choice_label_kinds(kind: str, value: object, expected: int) -> None:
    plan = _plan(
        "multiple_choice", {"question": ["q"], "choices": ["o1", "o2"], "label": ["a"]},
        choice_label=kind,
    )  # fmt: skip
    spec = plan.spec(choices=2)
    rec, problem = build_record(
        {"q": "Colour?", "o1": "red", "o2": "green", "a": value}, plan, spec
    )
    assert problem is None
    assert rec == {
        "question": "Colour?",
        "context": "",
        "choices": ["red", "green"],
        "label": expected,
    }


def test_multiple_choice_problems() -> None:
    plan = _plan("multiple_choice", {"choices": ["opts"], "label": ["a"]}, choice_label="text")
    spec = plan.spec(choices=3)
    assert build_record({"opts": ["x", "y"], "a": "x"}, plan, spec)[1] == (
        "opts",
        "has 2 choices; the task has 3",
    )
    assert (
        "not one of the choices"
        in build_record({"opts": ["x", "y", "z"], "a": "w"}, plan, spec)[1][1]
    )
    assert "list of choices" in build_record({"opts": "x", "a": "x"}, plan, spec)[1][1]
    index = _plan("multiple_choice", {"choices": ["opts"], "label": ["a"]})
    assert (
        "points at choice 4 of 3"
        in build_record({"opts": ["x", "y", "z"], "a": 3}, index, spec)[1][1]
    )


def test_span_answers_given_or_found_in_the_context() -> None:
    given = _plan(
        "extractive_qa",
        {"context": ["c"], "question": ["q"], "answers": ["a"], "answer_start": ["s"]},
    )
    spec = given.spec()
    row = {"c": "Paris is in France.", "q": "Where?", "a": "France", "s": 12}
    assert build_record(row, given, spec)[0]["answers"] == {
        "text": ["France"],
        "answer_start": [12],
    }
    column, text = build_record(row | {"s": 3}, given, spec)[1]
    assert "not in the context at offset 3" in text
    found = _plan("extractive_qa", {"context": ["c"], "question": ["q"], "answers": ["a"]})
    assert build_record(row, found, spec)[0]["answers"]["answer_start"] == [12]
    assert build_record(row | {"a": "Spain"}, found, spec)[1] == (
        "a",
        "answer 'Spain' is not in the context",
    )
    squad = _plan("extractive_qa", {"context": ["c"], "question": ["q"], "answers": ["a"]})
    struct = row | {"a": {"text": ["France"], "answer_start": [12]}}
    assert build_record(struct, squad, spec)[0]["answers"]["text"] == ["France"]


def test_plan_checks_its_fields() -> None:
    with pytest.raises(StudioError, match="map a column to 'label'"):
        _plan("classification", {"text": ["t"]})
    with pytest.raises(StudioError, match=r"\['choices'\] are not fields of classification"):
        _plan(
            "classification",
            {"text": ["t"], "label": ["l"], "choices": ["c"]},
            label_values=("a", "b"),
        )
    with pytest.raises(StudioError, match="at least two labels; the label column 'l' has 1"):
        _plan("classification", {"text": ["t"], "label": ["l"]}, label_values=("a",))
    with pytest.raises(StudioError, match="letters, digits and underscores"):
        ImportPlan(name="my task", format="summarization", source=FILE, columns={})
    with pytest.raises(StudioError, match="metric 'accuracy' does not fit regression"):
        _plan("regression", {"text": ["t"], "label": ["l"]}, metric="accuracy")


def test_a_minus_one_label_is_no_gold_label_not_a_problem() -> None:
    plan = _plan("classification", {"text": ["t"], "label": ["l"]}, label_values=("0", "1"))
    assert build_record({"t": "x", "l": -1}, plan, plan.spec()) == (None, UNLABELLED)
    choice = _plan("multiple_choice", {"choices": ["c"], "label": ["l"]})
    spec = choice.spec(choices=2)
    assert build_record({"c": ["a", "b"], "l": -1}, choice, spec) == (None, UNLABELLED)

"""Guessed formats and mappings, inferred labels, and one row turned into a record."""

from __future__ import annotations

import math

import pytest

from studio.core.errors import StudioError
from studio.core.importing import ImportPlan, SourceRef, SourceTable
from studio.core.mapping import (
    build_record,
    choice_columns,
    draft_plan,
    guess_choice_label,
    guess_columns,
    guess_format,
    infer_labels,
    label_key,
)

FILE = SourceRef("files", "/data/my.csv")


@pytest.mark.parametrize(
    ("types", "fmt", "expected"),
    [
        ({"review": "str", "stars": "int"}, "classification", {"text": "review", "label": "stars"}),
        (
            {"sentence1": "str", "sentence2": "str", "gold": "str"},
            "pair_classification",
            {"text": "sentence1", "text_pair": "sentence2", "label": "gold"},
        ),
        (
            {"premise": "str", "hypothesis": "str", "label": "class"},
            "pair_classification",
            {"text": "premise", "text_pair": "hypothesis", "label": "label"},
        ),
        (
            {"sentence1": "str", "sentence2": "str", "score": "float"},
            "regression",
            {"text": "sentence1", "text_pair": "sentence2", "label": "score"},
        ),
        (
            {"question": "str", "option_a": "str", "option_b": "str", "answer": "str"},
            "multiple_choice",
            {"question": "question", "label": "answer"},
        ),
        (
            {"ctx": "str", "endings": "list[str]", "label": "str"},
            "multiple_choice",
            {"context": "ctx", "choices": "endings", "label": "label"},
        ),
        (
            {"id": "str", "context": "str", "question": "str", "answers": "struct"},
            "extractive_qa",
            {"context": "context", "question": "question", "answers": "answers"},
        ),
        (
            {"article": "str", "highlights": "str", "id": "str"},
            "summarization",
            {"document": "article", "summary": "highlights"},
        ),
        ({"a": "str", "b": "int"}, "classification", {"text": "a", "label": "b"}),
        (
            {
                "pair_ID": "int",
                "sentence_A": "str",
                "sentence_B": "str",
                "entailment_judgment": "str",
            },
            "pair_classification",
            {"text": "sentence_A", "text_pair": "sentence_B", "label": "entailment_judgment"},
        ),
        (
            {"q1": "str", "q2": "str", "is_duplicate": "int"},
            "pair_classification",
            {"text": "q1", "text_pair": "q2", "label": "is_duplicate"},
        ),
    ],
)
def test_guesses_format_and_columns(types: dict, fmt: str, expected: dict) -> None:
    assert guess_format(types) == fmt
    guessed = guess_columns(fmt, types)
    for field, column in expected.items():
        assert guessed[field] == (column,)
    if "option_a" in types:
        assert guessed["choices"] == ("option_a", "option_b")


def test_choice_columns_in_order() -> None:
    assert choice_columns(["ending2", "ending0", "ending1", "label"]) == [
        "ending0",
        "ending1",
        "ending2",
    ]
    assert choice_columns(["A", "B", "C", "question"]) == ["A", "B", "C"]
    assert choice_columns(["a", "b"]) == []  # lower-case letters are too often something else
    assert choice_columns(["answer1"]) == []  # one column is not a set of choices


def test_label_values_are_inferred_and_blank_is_not_a_label() -> None:
    assert infer_labels({"neg": 3, "pos": 5, "": 1}) == (("neg", "pos"), ("neg", "pos"))
    assert infer_labels({"10": 1, "2": 1, "1": 1}) == (("1", "2", "10"), ("1", "2", "10"))
    assert infer_labels({"0": 1, "1": 1}, ["no", "yes"]) == (("0", "1"), ("no", "yes"))
    assert label_key(1.0) == "1" and label_key(math.nan) is None and label_key(" x ") == "x"
    assert label_key(None) is None and label_key("") is None


def test_choice_label_kinds() -> None:
    assert guess_choice_label({"0": 2, "1": 3}, 2) == "index"
    assert guess_choice_label({"1": 2, "2": 3}, 2) == "number"
    assert guess_choice_label({"A": 2, "D": 1}, 4) == "letter"
    assert guess_choice_label({"the cat": 1}, 4) == "text"


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


def test_draft_plan_uses_the_guesses_unless_told() -> None:
    table = SourceTable(
        source=FILE,
        splits={"train": 4},
        types={"sentence1": "str", "sentence2": "str", "gold": "str"},
        rows=[],
        counts={"train": {"gold": {"entail": 2, "contra": 1, "": 1}}},
    )
    plan = draft_plan(table, "nli")
    assert plan.format == "pair_classification"
    assert plan.label_values == ("contra", "entail") and plan.labels == ()
    plan = draft_plan(table, "nli", labels=[("entail", "yes"), ("contra", "no")])
    assert plan.label_values == ("entail", "contra") and plan.labels == ("yes", "no")
    with pytest.raises(StudioError, match=r"column\(s\) \['nope'\] are not in /data/my.csv"):
        draft_plan(table, "nli", columns={"text": ["nope"]})
    assert ImportPlan.from_dict(plan.to_dict()) == plan

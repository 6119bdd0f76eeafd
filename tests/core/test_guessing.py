"""Guessed formats, mappings, labels and splits: a first plan for the user's data."""

from __future__ import annotations

import math

import pytest

from studio.core.errors import StudioError
from studio.core.importing.guessing import (
    choice_columns,
    draft_plan,
    guess_choice_label,
    guess_columns,
    guess_format,
    infer_labels,
    with_splits,
)
from studio.core.importing.mapping import label_key
from studio.core.importing.plan import ImportPlan, SourceRef, SourceTable

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


def test_splits_are_settled_before_the_guesses() -> None:
    hub = SourceRef("hub", "me/data", validation_split=None)
    table = SourceTable(hub, {"train": 3, "dev": 1, "test": 1}, {"t": "str"}, [])
    assert with_splits(table, None, carve=False).source.validation_split == "dev"
    assert with_splits(table, None, carve=True).source.validation_split is None
    assert with_splits(table, "test", carve=False).source.validation_split == "test"
    missing = SourceRef("hub", "me/data", train_split="training")
    with pytest.raises(StudioError, match=r"no split 'training'; its splits are \['dev'"):
        with_splits(SourceTable(missing, {"dev": 1}, {"t": "str"}, []), None, carve=False)
    with pytest.raises(StudioError, match="not both on 'train'"):
        SourceRef("hub", "me/data", validation_split="train")


def test_unlabelled_rows_are_not_a_label() -> None:
    table = SourceTable(
        SourceRef("hub", "me/nli", validation_split="test"),
        {"train": 3, "test": 2},
        {"premise": "str", "hypothesis": "str", "label": "class"},
        [],
        class_names={"label": ["entailment", "contradiction"]},
        counts={"train": {"label": {"0": 2, "1": 1}}, "test": {"label": {"-1": 2}}},
    )
    plan = draft_plan(table, "nli")
    assert plan.label_values == ("0", "1") and plan.labels == ("entailment", "contradiction")
    assert label_key(-1) == "-1"


def test_a_carving_plan_keeps_carving_when_read_back() -> None:
    ref = SourceRef("hub", "me/data", validation_split=None)
    table = SourceTable(ref, {"train": 3}, {"text": "str", "label": "int"}, [],
                        counts={"train": {"label": {"0": 2, "1": 1}}})  # fmt: skip
    plan = draft_plan(table, "mine")
    assert ImportPlan.from_dict(plan.to_dict()).source.validation_split is None

"""Record validation (errors name the file and line) and hub-row mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from studio.core.errors import DataError
from studio.core.tasks.records import (
    count_records,
    is_unlabelled,
    iter_jsonl,
    map_hub_row,
    record_problem,
    validate_file,
)
from studio.core.tasks.spec import TaskSpec, default_tasks_dir, load_catalog

SpecFactory = Callable[..., TaskSpec]

GOOD: dict[str, dict[str, Any]] = {
    "classification": {"text": "a fine film", "label": 2},
    "pair_classification": {"text": "It rains.", "text_pair": "It is wet.", "label": 0},
    "regression": {"text": "a", "text_pair": "b", "label": 3.5},
    "multiple_choice": {
        "context": "",
        "question": "Which?",
        "choices": ["w", "x", "y", "z"],
        "label": 3,
    },
    "extractive_qa": {
        "context": "Ada lives in Oslo.",
        "question": "Where?",
        "answers": {"text": ["Oslo", "Oslo."], "answer_start": [13, 13]},
    },
    "summarization": {"document": "A long story.", "summary": "Story."},
}


def _write(path: Path, lines: list[Any]) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def _data_error(path: Path, spec: Any) -> DataError:
    with pytest.raises(DataError) as info:
        validate_file(path, spec)
    err = info.value
    assert err.path == str(path)
    assert str(path) in str(err)
    return err


@pytest.mark.parametrize("fmt", sorted(GOOD))
def test_valid_records_pass_and_count(fmt: str, make_spec: SpecFactory, tmp_path: Path) -> None:
    spec = make_spec(fmt)
    assert record_problem(GOOD[fmt], spec) is None
    path = _write(tmp_path / "train.jsonl", [GOOD[fmt]] * 5 + [""] + [GOOD[fmt]] * 2)
    assert validate_file(path, spec) == 7
    assert validate_file(path, spec, limit=3) == 3
    assert count_records(path) == 7


def test_malformed_json_names_line_3(make_spec: SpecFactory, tmp_path: Path) -> None:
    good = GOOD["classification"]
    path = _write(tmp_path / "train.jsonl", [good, good, '{"text": "x", "label": ', good])
    err = _data_error(path, make_spec("classification"))
    assert err.line == 3
    assert "line 3" in str(err)
    assert "malformed JSON" in str(err)


def test_blank_lines_keep_line_numbers(make_spec: SpecFactory, tmp_path: Path) -> None:
    good = GOOD["classification"]
    path = _write(tmp_path / "train.jsonl", [good, "", good, {"text": "x", "label": 9}])
    assert _data_error(path, make_spec("classification")).line == 4


def test_missing_field_names_file_line_and_field(make_spec: SpecFactory, tmp_path: Path) -> None:
    path = _write(tmp_path / "v.jsonl", [GOOD["pair_classification"], {"text": "x", "label": 0}])
    err = _data_error(path, make_spec("pair_classification"))
    assert err.line == 2
    assert "text_pair" in str(err)
    assert "demo" in str(err)  # the task is named too


@pytest.mark.parametrize("label", [3, -1, 7])
def test_label_out_of_range(label: int, make_spec: SpecFactory, tmp_path: Path) -> None:
    bad = {"text": "x", "label": label}
    path = _write(tmp_path / "train.jsonl", [GOOD["classification"], bad])
    err = _data_error(path, make_spec("classification"))
    assert err.line == 2
    assert "out of range" in str(err) and str(label) in str(err)


@pytest.mark.parametrize("label", ["1", 1.0, True, None])
def test_label_must_be_an_integer(label: Any, make_spec: SpecFactory) -> None:
    problem = record_problem({"text": "x", "label": label}, make_spec("classification"))
    assert problem is not None and "label" in problem


def test_multiple_choice_label_out_of_range(make_spec: SpecFactory) -> None:
    rec = dict(GOOD["multiple_choice"], label=4)
    problem = record_problem(rec, make_spec("multiple_choice"))
    assert problem is not None and "out of range" in problem and "choices" in problem


def test_regression_label_must_be_a_number(make_spec: SpecFactory) -> None:
    spec = make_spec("regression")
    assert record_problem({"text": "a", "label": 2}, spec) is None
    assert record_problem({"text": "a", "label": "2.0"}, spec) is not None
    assert record_problem({"text": "a", "label": False}, spec) is not None


@pytest.mark.parametrize("choices", [["a", "b", "c"], ["a", "b", "c", "d", "e"]])
def test_wrong_number_of_choices(
    choices: list[str], make_spec: SpecFactory, tmp_path: Path
) -> None:
    bad = dict(GOOD["multiple_choice"], choices=choices, label=0)
    path = _write(tmp_path / "train.jsonl", [GOOD["multiple_choice"]] * 2 + [bad])
    err = _data_error(path, make_spec("multiple_choice"))
    assert err.line == 3
    assert "number of choices" in str(err)
    assert str(len(choices)) in str(err)


@pytest.mark.parametrize("choices", ["abcd", ["a", "", "c", "d"], ["a", 2, "c", "d"]])
def test_bad_choices(choices: Any, make_spec: SpecFactory) -> None:
    rec = dict(GOOD["multiple_choice"], choices=choices)
    assert record_problem(rec, make_spec("multiple_choice")) is not None


def test_answer_not_in_context(make_spec: SpecFactory, tmp_path: Path) -> None:
    bad = dict(GOOD["extractive_qa"], answers={"text": ["Oslo"], "answer_start": [3]})
    path = _write(tmp_path / "train.jsonl", [GOOD["extractive_qa"], bad])
    err = _data_error(path, make_spec("extractive_qa"))
    assert err.line == 2
    assert "not in the context" in str(err) and "Oslo" in str(err)


def test_negative_answer_start_is_refused(make_spec: SpecFactory) -> None:
    # "Oslo." sits at offset 13; a negative offset must not pass by slicing from the end.
    rec = dict(GOOD["extractive_qa"], answers={"text": ["Oslo"], "answer_start": [-5]})
    assert record_problem(rec, make_spec("extractive_qa")) is not None


@pytest.mark.parametrize(
    "answers",
    [
        ["Oslo"],
        {"text": ["Oslo"]},
        {"text": ["Oslo", "Ada"], "answer_start": [13]},
        {"text": [""], "answer_start": [0]},
        {"text": ["Oslo"], "answer_start": ["13"]},
    ],
)
def test_malformed_answers(answers: Any, make_spec: SpecFactory) -> None:
    rec = dict(GOOD["extractive_qa"], answers=answers)
    assert record_problem(rec, make_spec("extractive_qa")) is not None


def test_unanswerable_question_is_valid(make_spec: SpecFactory) -> None:
    rec = dict(GOOD["extractive_qa"], answers={"text": [], "answer_start": []})
    assert record_problem(rec, make_spec("extractive_qa")) is None


def test_empty_text_fields(make_spec: SpecFactory) -> None:
    assert "empty" in (
        record_problem({"text": "  ", "label": 0}, make_spec("classification")) or ""
    )
    summary = {"document": "doc", "summary": ""}
    assert record_problem(summary, make_spec("summarization")) is not None
    # Multiple choice may have an empty context and question (docs/DESIGN.md §3, data README).
    mc = dict(GOOD["multiple_choice"], context="", question="")
    assert record_problem(mc, make_spec("multiple_choice")) is None
    assert record_problem({"text": 5, "label": 0}, make_spec("classification")) is not None


def test_record_must_be_an_object(make_spec: SpecFactory, tmp_path: Path) -> None:
    path = _write(tmp_path / "train.jsonl", [["text", 0]])
    err = _data_error(path, make_spec("classification"))
    assert err.line == 1 and "JSON object" in str(err)


@pytest.mark.parametrize("content", ["", "\n\n   \n"])
def test_empty_file(content: str, make_spec: SpecFactory, tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(content, encoding="utf-8")
    err = _data_error(path, make_spec("classification"))
    assert "empty" in str(err)


def test_missing_file_names_the_task(make_spec: SpecFactory, tmp_path: Path) -> None:
    err = _data_error(tmp_path / "train.jsonl", make_spec("classification"))
    assert "demo" in str(err)


def test_non_utf8_names_file_and_line(make_spec: SpecFactory, tmp_path: Path) -> None:
    good = json.dumps(GOOD["classification"]).encode()
    path = tmp_path / "train.jsonl"
    path.write_bytes(good + b"\n" + good + b'\n{"text": "caf\xe9", "label": 0}\n' + good + b"\n")
    err = _data_error(path, make_spec("classification"))
    assert err.line == 3
    assert "UTF-8" in str(err)


def test_iter_jsonl_yields_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", [{"a": 1}, "", {"b": 2}])
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (3, {"b": 2})]


@pytest.mark.parametrize("name", ["cb", "copa", "squad_v1", "sick"])
def test_real_validation_files(name: str, shared_data: Path) -> None:
    spec = load_catalog(default_tasks_dir())[name]
    path = shared_data / name / "validation.jsonl"
    lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    assert validate_file(path, spec) == lines == count_records(path)


# --- hub rows -------------------------------------------------------------------------------


def _hub(columns: dict[str, str], label_map: dict[str, int] | None = None) -> dict[str, Any]:
    return {"hub": {"path": "org/data", "columns": columns, "label_map": label_map or {}}}


def test_several_columns_become_choices(make_spec: SpecFactory) -> None:
    source = _hub({"goal": "question", "sol1": "choices", "sol2": "choices", "label": "label"})
    spec = make_spec("multiple_choice", choices=2, source=source)
    row = {"goal": "Open a jar", "sol1": "twist", "sol2": "shake", "label": 0, "extra": 1}
    rec = map_hub_row(row, spec)
    assert rec == {
        "question": "Open a jar",
        "choices": ["twist", "shake"],
        "label": 0,
        "context": "",
    }
    assert record_problem(rec, spec) is None


def test_single_list_column_becomes_choices(make_spec: SpecFactory) -> None:
    source = _hub(
        {"ctx": "context", "endings": "choices", "label": "label"}, {str(i): i for i in range(4)}
    )
    spec = make_spec("multiple_choice", source=source)
    row = {"ctx": "A man", "endings": ("runs", "sits", "eats", "jumps"), "label": "2"}
    rec = map_hub_row(row, spec)
    assert rec["choices"] == ["runs", "sits", "eats", "jumps"]
    assert rec["label"] == 2
    assert rec["question"] == ""  # missing MC question filled with ""
    assert record_problem(rec, spec) is None


def test_label_map_turns_names_into_indices(make_spec: SpecFactory) -> None:
    source = _hub(
        {"premise": "text", "hypothesis": "text_pair", "label": "label"},
        {"entailment": 0, "not_entailment": 1},
    )
    spec = make_spec("pair_classification", source=source)
    rec = map_hub_row({"premise": "p", "hypothesis": "h", "label": "not_entailment"}, spec)
    assert rec == {"text": "p", "text_pair": "h", "label": 1}
    with pytest.raises(KeyError, match="maybe"):
        map_hub_row({"premise": "p", "hypothesis": "h", "label": "maybe"}, spec)


def test_missing_hub_column_is_named(make_spec: SpecFactory) -> None:
    spec = make_spec("classification", source=_hub({"sentence": "text", "label": "label"}))
    with pytest.raises(KeyError, match="sentence"):
        map_hub_row({"text": "x", "label": 0}, spec)


def test_regression_label_becomes_float(make_spec: SpecFactory) -> None:
    spec = make_spec("regression", source=_hub({"s1": "text", "s2": "text_pair", "score": "label"}))
    rec = map_hub_row({"s1": "a", "s2": "b", "score": 4}, spec)
    assert rec["label"] == 4.0 and isinstance(rec["label"], float)


def test_is_unlabelled(make_spec: SpecFactory) -> None:
    spec = make_spec(
        "pair_classification", source=_hub({"a": "text", "b": "text_pair", "gold": "label"})
    )
    assert is_unlabelled({"a": "x", "b": "y", "gold": -1}, spec)
    assert not is_unlabelled({"a": "x", "b": "y", "gold": 0}, spec)
    assert not is_unlabelled({"a": "x", "b": "y", "gold": 1}, spec)

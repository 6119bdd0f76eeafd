"""One row of the user's data turned into a record of the task's format, or the column at
fault and what is wrong with it."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from studio.core.importing.plan import ImportPlan, fields
from studio.core.tasks.formats import LABELLED_FORMATS
from studio.core.tasks.records import record_problem
from studio.core.tasks.spec import TaskSpec


def label_key(value: Any) -> str | None:
    """A label value as the plan stores it; None for a blank one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


Problem = tuple[str, str]  # (column, what is wrong)
# A label of -1 is the hub's "no gold label" (e.g. test splits, SNLI): such a row is left
# out and counted, not reported as a problem.
UNLABELLED: Problem = ("", "no gold label")


def _text(row: Mapping[str, Any], column: str, may_be_empty: bool) -> str | Problem:
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "" if may_be_empty else (column, "is blank")
    if isinstance(value, (list, dict)):
        return (column, f"holds a {type(value).__name__}, not text")
    text = str(value)
    if not text.strip() and not may_be_empty:
        return (column, "is empty")
    return text


def _choice_index(value: Any, kind: str, choices: list[str]) -> int | str:
    """The 0-based index of the right choice, or why the label cannot give one."""
    key = label_key(value)
    if key is None:
        return "is blank"
    if kind == "text":
        return choices.index(key) if key in choices else f"{key!r} is not one of the choices"
    if kind == "letter":
        if len(key) == 1 and key.isalpha():
            return ord(key.upper()) - ord("A")
        return f"{key!r} is not a letter (A for the first choice)"
    if not re.fullmatch(r"-?\d+", key):
        return f"{key!r} is not a number"
    return int(key) - (1 if kind == "number" else 0)


def _labelled(row: Mapping[str, Any], plan: ImportPlan, rec: dict[str, Any]) -> Problem | None:
    column = plan.column("label") or ""
    if plan.format == "regression":
        value = row.get(column)
        try:
            number = math.nan if value is None else float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or math.isnan(number):
            return (
                column,
                "is blank" if label_key(value) is None else f"{value!r} is not a number",
            )
        rec["label"] = number
        return None
    key = label_key(row.get(column))
    if key is None:
        return (column, "is blank")
    if key == "-1" and key not in plan.label_values:
        return UNLABELLED
    if key not in plan.label_values:
        return (column, f"{key!r} is not one of the labels {list(plan.label_values)}")
    rec["label"] = plan.label_values.index(key)
    return None


def _choices(
    row: Mapping[str, Any], plan: ImportPlan, rec: dict[str, Any], count: int | None
) -> Problem | None:
    columns = plan.columns["choices"]
    if len(columns) == 1:
        value = row.get(columns[0])
        if not isinstance(value, list):
            return (columns[0], "must hold a list of choices (or map one column per choice)")
        values = value
    else:
        values = [row.get(c) for c in columns]
    choices = []
    for i, value in enumerate(values):
        column = columns[0] if len(columns) == 1 else columns[i]
        text = _text({"c": value}, "c", False)
        if isinstance(text, tuple):
            return (column, f"choice {i + 1} {text[1]}")
        choices.append(text)
    if count is not None and len(choices) != count:
        return (columns[0], f"has {len(choices)} choices; the task has {count}")
    rec["choices"] = choices
    label_column = plan.column("label") or ""
    if label_key(row.get(label_column)) == "-1":
        return UNLABELLED
    index = _choice_index(row.get(label_column), plan.choice_label, choices)
    if isinstance(index, str):
        return (label_column, index)
    if not 0 <= index < len(choices):
        return (label_column, f"points at choice {index + 1} of {len(choices)}")
    rec["label"] = index
    return None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _answers(row: Mapping[str, Any], plan: ImportPlan, rec: dict[str, Any]) -> Problem | None:
    column = plan.column("answers") or ""
    value = row.get(column)
    if isinstance(value, dict):
        texts, starts = value.get("text"), value.get("answer_start")
        if texts is None or starts is None:
            return (column, "must be {text: [...], answer_start: [...]}")
        texts, starts = _as_list(texts), _as_list(starts)
    else:
        texts = [t for t in _as_list(value) if label_key(t) is not None]
        if not texts:
            return (column, "is blank")
        start_column = plan.column("answer_start")
        if start_column:
            starts = _as_list(row.get(start_column))
            if len(starts) != len(texts):
                return (start_column, f"has {len(starts)} start(s) for {len(texts)} answer(s)")
        else:  # found in the context: the first place the answer occurs
            starts = [rec["context"].find(str(t)) for t in texts]
            missing = [t for t, s in zip(texts, starts, strict=True) if s < 0]
            if missing:
                return (column, f"answer {str(missing[0])!r} is not in the context")
    try:
        starts = [int(s) for s in starts]
    except (TypeError, ValueError):
        return (plan.column("answer_start") or column, f"start {starts!r} is not a number")
    rec["answers"] = {"text": [str(t) for t in texts], "answer_start": starts}
    return None


def build_record(
    row: Mapping[str, Any], plan: ImportPlan, spec: TaskSpec
) -> tuple[dict[str, Any] | None, Problem | None]:
    """One source row as a record of `spec` (the plan's task), or the column at fault."""
    rec: dict[str, Any] = {}
    names = dict(fields(plan.format))
    for field in ("text", "text_pair", "context", "question", "document", "summary"):
        column = plan.column(field)
        if field not in names or column is None:
            continue
        text = _text(row, column, plan.format == "multiple_choice")
        if isinstance(text, tuple):
            if field == "text_pair" and plan.format == "regression":
                continue  # regression's second sentence is optional row by row
            return None, text
        rec[field] = text
    if plan.format == "multiple_choice":
        rec.setdefault("context", "")
        rec.setdefault("question", "")
        problem = _choices(row, plan, rec, spec.choices)
    elif plan.format == "extractive_qa":
        problem = _answers(row, plan, rec)
    elif plan.format in (*LABELLED_FORMATS, "regression"):
        problem = _labelled(row, plan, rec)
    else:
        problem = None
    if problem:
        return None, problem
    wrong = record_problem(rec, spec)
    if wrong:
        named = re.search(r"'(\w+)'", wrong)
        column = plan.column(named.group(1)) if named else None
        return None, (column or "—", wrong)
    return rec, None

"""From the user's columns to records: guessed formats and mappings, inferred labels, and one
row turned into a record (or the column and reason it cannot be)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.errors import StudioError
from studio.core.formats import LABELLED_FORMATS
from studio.core.importing import ImportPlan, SourceTable, fields
from studio.core.records import record_problem
from studio.core.tasks import TaskSpec

# Column names that usually hold a field, best first (compared in lower case); an indented
# line continues the one above.
_NAMES = """
text: text sentence sentence1 premise question1 review content tweet comment body input
    question query title
text_pair: text_pair sentence2 hypothesis question2 passage text_b response answer second
label: label labels gold_label gold class target category sentiment y answer answer_idx
    correct_answer_id correct score rating stars
context: context passage article premise story ctx paragraph document background support sent1
question: question query prompt goal stem question_stem sent2
choices: choices options endings candidates alternatives answers
answers: answers answer answer_text answer_texts answer_span
answer_start: answer_start answer_starts answer_start_char start_char start
document: document article dialogue text content source body passage email_body
summary: summary highlights headline abstract tldr target title subject_line
"""


def _names(text: str) -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    field = ""
    for line in text.strip().splitlines():
        if not line.startswith(" "):
            field, _, line = line.partition(":")
        table[field] = table.get(field, ()) + tuple(line.split())
    return table


NAMES = _names(_NAMES)
CHOICE_COLUMN = re.compile(
    r"^(?i:choice|option|answer|ending|alternative|candidate|opt|sol)[ _-]?([0-9]+|[a-eA-E])$"
    r"|^([A-E])$",  # single letters only in capitals: `a`, `b` are too often something else
)
TEXT_TYPES = ("str",)
LABEL_TYPES = ("int", "class", "str", "bool", "float")


def choice_columns(columns: Sequence[str]) -> list[str]:
    """Columns that each hold one choice (`choice1`, `option_a`, `ending0`, `A` ...), in order."""
    found = []
    for column in columns:
        match = CHOICE_COLUMN.match(column)
        if match:
            key = (match.group(1) or match.group(2)).lower()
            found.append((int(key) if key.isdigit() else ord(key) - 96, column))
    return [c for _, c in sorted(found)] if len(found) >= 2 else []


PAIRED = re.compile(r"^(.+?)[ _-]?([12abAB])$")
LABEL_HINT = re.compile(r"label|judg|class|gold|target|categ|sentiment|verdict|rating", re.I)


def paired_texts(types: Mapping[str, str]) -> tuple[str, str] | None:
    """Two text columns named as a pair: sentence_A / sentence_B, text1 / text2, q1 / q2."""
    stems: dict[str, dict[str, str]] = {}
    for column, tag in types.items():
        match = PAIRED.match(column)
        if tag == "str" and match:
            side = "first" if match.group(2).lower() in "1a" else "second"
            stems.setdefault(match.group(1).lower(), {})[side] = column
    pair = next((p for p in stems.values() if len(p) == 2), None)
    return (pair["first"], pair["second"]) if pair else None


def _pick(field: str, types: Mapping[str, str], used: set[str], kinds: Sequence[str]) -> str | None:
    """The column for `field` by its name: a usual name, a pair of texts, a label-like name."""
    lower = {c.lower(): c for c in types}
    candidates = [lower[name] for name in NAMES.get(field, ()) if name in lower]
    pair = paired_texts(types) if field in ("text", "text_pair") else None
    if pair:
        candidates.append(pair[field == "text_pair"])
    if field == "label":
        candidates += [c for c in reversed(list(types)) if LABEL_HINT.search(c)]
    return next((c for c in candidates if c not in used and types[c] in kinds), None)


def guess_format(types: Mapping[str, str]) -> str:
    """The likely task format of a table, from its column names and types."""
    columns = list(types)
    used: set[str] = set()
    if _pick("summary", types, used, TEXT_TYPES) and _pick("document", types, used, TEXT_TYPES):
        return "summarization"
    list_choices = _pick("choices", types, used, ("list[str]",))
    if (choice_columns(columns) or list_choices) and _pick("label", types, used, LABEL_TYPES):
        return "multiple_choice"
    if any(t == "struct" for t in types.values()) and _pick("context", types, used, TEXT_TYPES):
        return "extractive_qa"
    if _pick("answer_start", types, used, ("int", "list[int]")):
        return "extractive_qa"
    label = _pick("label", types, used, LABEL_TYPES)
    if label is not None and types[label] == "float":
        return "regression"
    if _pick("text_pair", types, {label} if label else set(), TEXT_TYPES):
        return "pair_classification"
    return "classification"


KINDS = {
    "choices": ("list[str]",),
    "answers": ("struct", "str", "list[str]"),
    "answer_start": ("int", "list[int]"),
}


def guess_columns(fmt: str, types: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """A first mapping of columns to the format's fields; the user can change any of it.

    Column names decide first (the label before the texts: `answer` or `question` may be
    either); then a required field still without a column takes the last fitting column
    (a label) or the first unused text column.
    """
    used: set[str] = set()
    mapping: dict[str, tuple[str, ...]] = {}
    order = [f for f, _ in fields(fmt)]
    order = ["label", *[f for f in order if f != "label"]] if "label" in order else order
    separate = choice_columns(list(types)) if fmt == "multiple_choice" else []
    if separate:
        mapping["choices"] = tuple(separate)
        used.update(separate)

    def kinds(field: str) -> tuple[str, ...]:
        if field == "label":
            return ("float", "int") if fmt == "regression" else LABEL_TYPES
        return KINDS.get(field, TEXT_TYPES)

    for field in order:
        column = None if field in mapping else _pick(field, types, used, kinds(field))
        if column is not None:
            mapping[field] = (column,)
            used.add(column)
    required = [f for f, needed in fields(fmt) if needed and f not in mapping]
    for field in required:
        free = [c for c in types if types[c] in kinds(field) and c not in used]
        column = (free[-1] if field == "label" else free[0]) if free else None
        if column is not None:
            mapping[field] = (column,)
            used.add(column)
    return mapping


def label_key(value: Any) -> str | None:
    """A label value as the plan stores it; None for a blank one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def infer_labels(
    counts: Mapping[str, int], class_names: Sequence[str] | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(values in label order, their names) from a label column's value counts.

    A column that is a `datasets` ClassLabel keeps its own names; integers sort numerically
    (0, 1, 2 ...), anything else alphabetically. The user can rename and reorder after.
    """
    if class_names:
        return tuple(str(i) for i in range(len(class_names))), tuple(class_names)
    keys = [k for k in counts if k is not None and k != ""]
    if all(re.fullmatch(r"-?\d+", k) for k in keys):
        keys.sort(key=int)
    else:
        keys.sort(key=str.lower)
    return tuple(keys), tuple(keys)


def guess_choice_label(counts: Mapping[str, int], choices: int) -> str:
    """How a multiple-choice label names the right choice, from its values."""
    keys = {k for k in counts if k}
    if keys and all(re.fullmatch(r"\d+", k) for k in keys):
        numbers = {int(k) for k in keys}
        if 0 not in numbers and max(numbers) <= choices:
            return "number"
        return "index"
    if keys and all(re.fullmatch(r"[A-Za-z]", k) for k in keys):
        return "letter"
    return "text"


# -- one row --------------------------------------------------------------------------------

Problem = tuple[str, str]  # (column, what is wrong)


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
            number = float(value)  # type: ignore[arg-type]
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
    text = record_problem(rec, spec)
    if text:
        field = re.search(r"'(\w+)'", text)
        column = plan.column(field.group(1)) if field else None
        return None, (column or "—", text)
    return rec, None


# -- a first plan -----------------------------------------------------------------------------

VALIDATION_SPLITS = ("validation", "valid", "dev", "val")


def default_validation_split(splits: Sequence[str]) -> str | None:
    """The split that usually holds validation data; None means carve one from train."""
    return next((s for s in VALIDATION_SPLITS if s in splits), None)


def draft_plan(
    table: SourceTable,
    name: str,
    fmt: str | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
    labels: Sequence[tuple[str, str]] | None = None,
    choice_label: str | None = None,
    **details: Any,
) -> ImportPlan:
    """A plan from what the source holds: guessed where the user gave nothing.

    `columns` overrides the guessed mapping; `labels` gives (value, name) pairs in label
    order (default: the label column's values, sorted); `details` are other plan fields.
    """
    fmt = fmt or guess_format(table.types)
    mapping = guess_columns(fmt, table.types)
    for field, given in (columns or {}).items():
        missing = [c for c in given if c not in table.types]
        if missing:
            raise StudioError(
                f"column(s) {missing} are not in {table.source.describe()}; its columns are "
                f"{list(table.types)}"
            )
        mapping[field] = tuple(given)
    ref = table.source
    used = [ref.train_split] + ([ref.validation_split] if ref.validation_split else [])
    if ref.kind == "files":
        used = ["train", "validation"]
    label_column = (mapping.get("label") or ("",))[0]
    counts = table.value_counts(label_column, used)
    values: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    if fmt in LABELLED_FORMATS and labels:
        values = tuple(v for v, _ in labels)
        names = tuple(n for _, n in labels)
    elif fmt in LABELLED_FORMATS:
        values, names = infer_labels(counts, table.class_names.get(label_column))
    if fmt == "multiple_choice" and choice_label is None:
        choices = mapping.get("choices") or ()
        count = len(choices) if len(choices) > 1 else _usual_length(table, choices, used)
        choice_label = guess_choice_label(counts, count)
    return ImportPlan(
        name=name,
        format=fmt,
        source=ref,
        columns=mapping,
        label_values=values,
        labels=names if names != values else (),
        choice_label=choice_label or "index",
        **details,
    )


def _usual_length(table: SourceTable, choices: Sequence[str], splits: list[str]) -> int:
    if not choices:
        return 0
    lengths = table.value_counts(f"#{choices[0]}", splits)
    best = max(lengths.items(), key=lambda kv: kv[1], default=("0", 0))[0]
    return int(best) if best.isdigit() else 0

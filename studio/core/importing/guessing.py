"""A first plan for the user's data: the format and mapping guessed from the column names and
types, the labels from the label column's values, the splits settled. The wizard and
`task add` both draft with these; the user changes what they like."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from studio.core.errors import StudioError
from studio.core.importing.plan import ImportPlan, SourceRef, SourceTable, fields
from studio.core.tasks.formats import LABELLED_FORMATS

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


VALIDATION_SPLITS = ("validation", "valid", "dev", "val")


def default_validation_split(splits: Sequence[str]) -> str | None:
    """The split that usually holds validation data; None means carve one from train."""
    return next((s for s in VALIDATION_SPLITS if s in splits), None)


def used_splits(source: SourceRef) -> list[str]:
    """The splits a source's task is made from (their value counts drive the guesses)."""
    if source.kind == "files":
        return ["train", "validation"]
    return [source.train_split] + ([source.validation_split] if source.validation_split else [])


def with_splits(table: SourceTable, validation: str | None, carve: bool) -> SourceTable:
    """The table with the source's splits settled: the train split must exist; without a
    validation split (and unless `carve`), the usual one is taken if there is one."""
    source = table.source
    if source.kind == "files":
        return table
    if source.train_split not in table.splits:
        raise StudioError(
            f"{source.describe()} has no split '{source.train_split}'; its splits are "
            f"{sorted(table.splits)}"
        )
    if validation is None and not carve:
        validation = default_validation_split(list(table.splits))
    return dataclasses.replace(
        table, source=dataclasses.replace(source, validation_split=validation)
    )


def draft_fields(
    table: SourceTable,
    fmt: str | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
    labels: Sequence[tuple[str, str]] | None = None,
    choice_label: str | None = None,
) -> dict[str, Any]:
    """Format, columns, label values and names, and the choice label of a plan: what the user
    gave, guessed from the source for the rest. The wizard and `task add` both start here.

    `columns` overrides the guessed mapping; `labels` gives (value, name) pairs in label
    order (default: the label column's values in its splits, sorted).
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
    used = used_splits(table.source)
    label_column = (mapping.get("label") or ("",))[0]
    counts = table.value_counts(label_column, used)
    counts.pop("-1", None)  # the hub's "no gold label"
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
    return {
        "format": fmt,
        "columns": mapping,
        "label_values": values,
        "labels": names if names != values else (),
        "choice_label": choice_label or "index",
    }


def draft_plan(
    table: SourceTable,
    name: str,
    fmt: str | None = None,
    columns: Mapping[str, Sequence[str]] | None = None,
    labels: Sequence[tuple[str, str]] | None = None,
    choice_label: str | None = None,
    **details: Any,
) -> ImportPlan:
    """A plan from `draft_fields` and the other plan fields in `details`."""
    drafted = draft_fields(table, fmt, columns, labels, choice_label)
    if drafted["format"] in LABELLED_FORMATS and len(drafted["label_values"]) < 2:
        problem = not_labels(table, (drafted["columns"].get("label") or ("",))[0])
        if problem:
            raise StudioError(f"a {drafted['format']} task needs labels, but {problem}")
    return ImportPlan(name=name, source=table.source, **drafted, **details)


def not_labels(table: SourceTable, column: str) -> str | None:
    """Why a label column gives no labels: so many distinct values that it holds text (its
    values are not counted, so it would otherwise seem to have none)."""
    many = table.distinct_values(column, used_splits(table.source))
    if not many:
        return None
    return (
        f"column '{column}' has {many:,} distinct values: it looks like a text column, not "
        "labels; map another column to 'label'"
    )


@dataclasses.dataclass(frozen=True)
class LabelCheck:
    """What a classification label column gives: `problem` refuses the column (fewer than two
    labels), `warning` only tells (labels seen once: too few to learn or to validate on)."""

    problem: str | None = None
    warning: str | None = None


def check_label_column(table: SourceTable, column: str) -> LabelCheck:
    """The label column's values in the splits the task uses, judged where the column is
    chosen: a column of one value (or none, or free text) cannot make a classification task.
    Blank cells and the hub's "no gold label" (-1) are no labels."""
    counts = table.value_counts(column, used_splits(table.source))
    counts.pop("", None)
    counts.pop("-1", None)
    if len(counts) < 2:
        why = not_labels(table, column)
        if why is None:
            shown = f" ('{next(iter(counts))}')" if counts else ""
            why = f"column '{column}' has {len(counts)} label value(s){shown}"
        return LabelCheck(problem=f"a classification task needs at least two labels; {why}")
    once = sorted(value for value, count in counts.items() if count == 1)
    if not once:
        return LabelCheck()
    listed = ", ".join(f"'{v}'" for v in once[:5]) + (" …" if len(once) > 5 else "")
    return LabelCheck(
        warning=f"{len(once)} label value(s) of column '{column}' appear only once ({listed}):"
        " too few to learn from, and they get no validation example"
    )


def _usual_length(table: SourceTable, choices: Sequence[str], splits: list[str]) -> int:
    if not choices:
        return 0
    lengths = table.value_counts(f"#{choices[0]}", splits)
    best = max(lengths.items(), key=lambda kv: kv[1], default=("0", 0))[0]
    return int(best) if best.isdigit() else 0

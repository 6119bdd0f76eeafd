"""Record validation: every line of a task's data file checked before training starts."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from studio.core import paths
from studio.core.errors import DataError
from studio.core.tasks.formats import MAY_BE_EMPTY, OPTIONAL_FIELDS, REQUIRED_FIELDS
from studio.core.tasks.spec import TaskSpec

SPLITS = ("train", "validation")
RULES_VERSION = 1  # bump when record_problem changes: every file is validated again
PROGRESS_LINES = 20_000


def _text(rec: dict[str, Any], key: str, spec: TaskSpec) -> str | None:
    value = rec[key]
    if not isinstance(value, str):
        return f"field '{key}' must be a string, got {type(value).__name__}"
    if not value.strip() and key not in MAY_BE_EMPTY.get(spec.format, ()):
        return f"field '{key}' is empty"
    return None


def _label(rec: dict[str, Any], spec: TaskSpec) -> str | None:
    label = rec["label"]
    if spec.format == "regression":
        ok = isinstance(label, (int, float)) and not isinstance(label, bool)
        return None if ok else f"label {label!r} must be a number"
    n = spec.num_outcomes or 0
    if isinstance(label, bool) or not isinstance(label, int):
        return f"label {label!r} must be an integer index"
    if not 0 <= label < n:
        what = "choices" if spec.format == "multiple_choice" else "labels"
        return f"label {label} is out of range: the task has {n} {what} (0..{n - 1})"
    return None


def _choices(rec: dict[str, Any], spec: TaskSpec) -> str | None:
    choices = rec["choices"]
    if not isinstance(choices, list):
        return "field 'choices' must be a list"
    if len(choices) != spec.choices:
        return f"wrong number of choices: {len(choices)}, the task has {spec.choices}"
    if not all(isinstance(c, str) and c.strip() for c in choices):
        return "every choice must be a non-empty string"
    return None


def _answers(rec: dict[str, Any]) -> str | None:
    answers = rec["answers"]
    if not isinstance(answers, dict) or {"text", "answer_start"} - set(answers):
        return "field 'answers' must be {text: [...], answer_start: [...]}"
    texts, starts = answers["text"], answers["answer_start"]
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        return "answers.text and answers.answer_start must be lists of the same length"
    context = rec["context"]
    for text, start in zip(texts, starts, strict=True):
        if not isinstance(text, str) or not text or not isinstance(start, int) or start < 0:
            return f"answer {text!r} at {start!r}: text must be non-empty, start an integer"
        if context[start : start + len(text)] != text:
            return f"answer {text!r} is not in the context at offset {start}"
    return None


def record_problem(rec: Any, spec: TaskSpec) -> str | None:
    """What is wrong with one record, or None."""
    if not isinstance(rec, dict):
        return f"a record must be a JSON object, got {type(rec).__name__}"
    missing = [k for k in REQUIRED_FIELDS[spec.format] if k not in rec]
    if missing:
        return f"missing field(s) {missing} for a {spec.format} record"
    text_fields = [
        k for k in REQUIRED_FIELDS[spec.format] if k not in ("label", "choices", "answers")
    ]
    text_fields += [k for k in OPTIONAL_FIELDS.get(spec.format, ()) if k in rec]
    for key in text_fields:
        problem = _text(rec, key, spec)
        if problem:
            return problem
    if "label" in REQUIRED_FIELDS[spec.format]:
        problem = _label(rec, spec)
        if problem:
            return problem
    if spec.format == "multiple_choice":
        return _choices(rec, spec)
    if spec.format == "extractive_qa":
        return _answers(rec)
    return None


def iter_jsonl(
    path: Path, progress: Callable[[int], None] | None = None
) -> Generator[tuple[int, Any], None, None]:
    """(line number, parsed object) for every non-blank line; bad lines name their number.

    `progress(bytes read)` is called every PROGRESS_LINES lines.
    """
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DataError(str(path), None, f"cannot read: {exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            if progress is not None and number % PROGRESS_LINES == 0:
                progress(handle.tell())
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(str(path), number, f"not UTF-8 text: {exc.reason}") from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(str(path), number, f"malformed JSON: {exc.msg}") from None


def validate_file(
    path: Path,
    spec: TaskSpec,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Check every record (or the first `limit`); return how many there are."""
    if not path.is_file():
        raise DataError(str(path), None, f"missing data file for task '{spec.name}'")
    count = 0
    with contextlib.closing(iter_jsonl(path, progress)) as records:
        for number, rec in records:
            problem = record_problem(rec, spec)
            if problem:
                raise DataError(str(path), number, f"task '{spec.name}': {problem}")
            count += 1
            if limit is not None and count >= limit:
                break
    if count == 0:
        raise DataError(str(path), None, f"task '{spec.name}': the file is empty")
    return count


def count_records(path: Path) -> int:
    """Number of non-blank lines, without parsing (for catalog listings); remembered for the
    file as it is (path, size, modification time)."""

    def count() -> int:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    return _remembered("counted", [file_identity(path)], count)


def validated(path: Path, spec: TaskSpec, progress: Callable[[int], None] | None = None) -> int:
    """`validate_file`, remembered: a file validated before — the same path, size and
    modification time, under the same record rules — is not read again."""
    if not path.is_file():
        raise DataError(str(path), None, f"missing data file for task '{spec.name}'")
    key = [RULES_VERSION, file_identity(path), spec.format, spec.num_outcomes]
    return _remembered("validated", key, lambda: validate_file(path, spec, None, progress))


def file_identity(path: Path) -> str:
    """A file as it is now: an edit changes its size or modification time."""
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def content_digest(path: Path) -> str:
    """A digest of a file's bytes, remembered by its identity: read once after each edit."""

    def digest() -> int:
        sha = hashlib.sha1()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
        return int(sha.hexdigest()[:15], 16)

    return f"{_remembered('digest', [file_identity(path)], digest):015x}"


def _remembered(kind: str, key: list[Any], compute: Callable[[], int]) -> int:
    """`compute()`, kept in a small file of the cache named by `key`."""
    digest = hashlib.sha1(json.dumps(key).encode()).hexdigest()[:24]
    memo = paths.cache_dir() / "records" / f"{kind}-{digest}"
    with contextlib.suppress(OSError, ValueError):
        return int(memo.read_text(encoding="utf-8"))
    value = compute()
    with contextlib.suppress(OSError):  # a read-only cache only costs the next read
        memo.parent.mkdir(parents=True, exist_ok=True)
        temporary = memo.with_name(f"{memo.name}.{os.getpid()}.tmp")
        temporary.write_text(str(value), encoding="utf-8")
        os.replace(temporary, memo)
    return value


def is_unlabelled(row: dict[str, Any], spec: TaskSpec) -> bool:
    """Hub rows with label -1 carry no gold label (the hub's convention, e.g. SNLI): skip them."""
    assert spec.hub is not None
    label_columns = [src for src, dst in spec.hub.columns if dst == "label"]
    return any(row.get(col) == -1 for col in label_columns)


def map_hub_row(row: dict[str, Any], spec: TaskSpec) -> dict[str, Any]:
    """Turn one hub row into the record format with the spec's column mapping."""
    assert spec.hub is not None
    rec: dict[str, Any] = {}
    choice_columns = [src for src, dst in spec.hub.columns if dst == "choices"]
    label_map = dict(spec.hub.label_map)
    for src, dst in spec.hub.columns:
        if src not in row:
            raise KeyError(f"hub column '{src}' is missing (columns: {sorted(row)})")
        value = row[src]
        if dst == "choices":
            if len(choice_columns) == 1:
                rec["choices"] = list(value)
            else:
                rec.setdefault("choices", []).append(value)
        elif dst == "label" and label_map:
            if str(value) not in label_map:
                raise KeyError(f"label value {value!r} is not in label_map {sorted(label_map)}")
            rec["label"] = label_map[str(value)]
        else:
            rec[dst] = value
    for key in MAY_BE_EMPTY.get(spec.format, ()):
        rec.setdefault(key, "")
    if spec.format == "regression" and "label" in rec:
        rec["label"] = float(rec["label"])
    return rec

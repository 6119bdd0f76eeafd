"""The validation examples a model got most wrong at its last evaluation, per task.

Validation (train/evaluate.py) ranks each task's wrong answers by the model's confidence in
the wrong label (regression: by how far off it was) and writes the worst to
`runs/<id>/most_wrong.json`, beside the checkpoints; `predict --most-wrong` and the
Playground read it back. A file, not store rows: it is replaced at each evaluation and
only its latest version means anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FILE = "most_wrong.json"
KEPT = 20  # examples per task
# The record fields that are the model's input (the label is kept apart).
INPUTS = ("text", "text_pair", "context", "question", "choices")


@dataclass(frozen=True)
class Mistake:
    """One wrong validation answer: the example's row, its input fields, the true and the
    predicted label, and the model's confidence in its (wrong) answer; for regression the
    confidence is the absolute error."""

    index: int
    inputs: dict[str, Any]
    label: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class Mistakes:
    step: int  # the update whose evaluation found them
    tasks: dict[str, list[Mistake]]


def classification_mistakes(
    rows: Sequence[tuple[int, Sequence[float], int]],
    names: Sequence[str],
    record: Any,
    kept: int = KEPT,
) -> list[Mistake]:
    """The `kept` wrong answers most confidently given: `rows` holds each example's index, its
    outcomes' probabilities and its true outcome; `names` the outcomes' names (for multiple
    choice, None: the record's choices); `record(index)` the example's record."""
    wrong = []
    for index, probabilities, label in rows:
        predicted = max(range(len(probabilities)), key=probabilities.__getitem__)
        if predicted != label:
            wrong.append((float(probabilities[predicted]), index, predicted, label))
    wrong.sort(key=lambda w: (-w[0], w[1]))
    found = []
    for confidence, index, predicted, label in wrong[:kept]:
        row = record(index)
        outcomes = list(names) or list(row.get("choices") or [])
        found.append(
            Mistake(
                index, _inputs(row), _name(outcomes, label), _name(outcomes, predicted), confidence
            )
        )
    return found


def regression_mistakes(
    rows: Sequence[tuple[int, float, float]], record: Any, kept: int = KEPT
) -> list[Mistake]:
    """The `kept` predictions furthest from their label: (index, predicted, label) each."""
    worst = sorted(rows, key=lambda r: (-abs(r[1] - r[2]), r[0]))[:kept]
    return [
        Mistake(i, _inputs(record(i)), f"{label:.4g}", f"{predicted:.4g}", abs(predicted - label))
        for i, predicted, label in worst
    ]


def _name(names: Sequence[str], index: int) -> str:
    return str(names[index]) if 0 <= index < len(names) else str(index)


def _inputs(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in INPUTS if row.get(k) not in (None, "")}


def write_mistakes(run_dir: Path, found: Mistakes) -> Path:
    """Replace the run's file with `found` (atomically: a reader never sees half of it)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / FILE
    data = {
        "step": found.step,
        "tasks": {t: [asdict(m) for m in ms] for t, ms in found.tasks.items()},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{FILE}.", dir=run_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out, indent=1, ensure_ascii=False)
    os.replace(tmp, path)
    return path


def read_mistakes(folder: Path) -> Mistakes | None:
    """The mistakes recorded in `folder` (a run's folder or an export), None when it has none
    (or the file cannot be read: it is only ever a convenience)."""
    try:
        data = json.loads((folder / FILE).read_text(encoding="utf-8"))
        tasks = {t: [Mistake(**m) for m in ms] for t, ms in data["tasks"].items()}
        return Mistakes(int(data["step"]), tasks)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def describe(mistake: Mistake) -> str:
    """One line: the input, the true label and the wrong answer with its confidence."""
    inputs = " | ".join(
        f"{k}: {' / '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in mistake.inputs.items()
    )
    return (
        f"#{mistake.index} {inputs} -> predicted {mistake.predicted!r} "
        f"({mistake.confidence:.3f}), true {mistake.label!r}"
    )

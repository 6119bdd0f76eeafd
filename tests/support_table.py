"""The README's support table, rendered from the matrix the tests run (tests/model_zoo.py
MATRIX, the offered models of core.config.models.CATALOG).

    python -m tests.support_table           # print the table
    python -m tests.support_table --write   # put it in README.md, between its markers

tests/test_support_table.py fails when README.md's table differs from this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.model_zoo import MATRIX, MODES

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- support-table: python -m tests.support_table --write renders it from the tests -->"
END = "<!-- /support-table -->"
COMMAND = ".venv/bin/python -m tests.support_table --write"


def render() -> str:
    """The table in Markdown: one row per architecture, a column per mode."""
    head = ["architecture", "stands for", "tokenizer", *MODES]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in MATRIX:
        models = ", ".join(f"`{name}`" for name in row.stands_for)
        marks = ["✓" if mode in row.modes else "—" for mode in MODES]
        lines.append("| " + " | ".join([row.name, models, row.tokenizer, *marks]) + " |")
    return "\n".join(lines)


def block(text: str) -> str | None:
    """What README text holds between the markers; None when it has no markers."""
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip("\n")


def write(path: Path = README) -> bool:
    """Put the rendered table in `path` between its markers; whether it changed."""
    text = path.read_text(encoding="utf-8")
    old = block(text)
    if old is None:
        raise SystemExit(f"{path}: no {START!r} ... {END!r} markers to write between")
    new = render()
    if old == new:
        return False
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    path.write_text(f"{before}{START}\n{new}\n{END}{after}", encoding="utf-8")
    return True


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        sys.stdout.write("README.md updated\n" if write() else "README.md is up to date\n")
    else:
        sys.stdout.write(render() + "\n")

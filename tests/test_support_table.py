"""The README's support table is the one the matrix tests render (tests/support_table.py)."""

from __future__ import annotations

from pathlib import Path

from tests.model_zoo import ARCHITECTURES, MATRIX
from tests.support_table import COMMAND, README, block, render, write


def test_the_readme_table_is_the_rendered_one() -> None:
    found = block(README.read_text(encoding="utf-8"))
    assert found is not None, f"README.md has no support table markers; run {COMMAND}"
    assert found == render(), f"README.md's support table is stale; run {COMMAND}"


def test_every_architecture_is_a_row_and_stands_for_an_offered_model() -> None:
    assert tuple(row.arch for row in MATRIX) == ARCHITECTURES
    assert all(row.stands_for for row in MATRIX), [r.arch for r in MATRIX if not r.stands_for]


def test_write_replaces_only_the_table(tmp_path: Path) -> None:
    from tests.support_table import END, START

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold\n{END}\nrest\n", encoding="utf-8")
    assert write(readme) and not write(readme)
    assert readme.read_text(encoding="utf-8") == f"intro\n{START}\n{render()}\n{END}\nrest\n"

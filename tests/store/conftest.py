"""Fixtures for the run store tests: a fresh store file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.store import RunStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "studio.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[RunStore]:
    with RunStore(db_path) as s:
        yield s


@pytest.fixture
def run_id(store: RunStore) -> str:
    return store.create_run("demo", "pretrain", {"tasks": ["rte", "sst2"]}, "minilm")

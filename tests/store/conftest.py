"""Fixtures for the run store tests: a run in the fresh store of tests/conftest.py."""

from __future__ import annotations

import pytest

from studio.store import RunStore


@pytest.fixture
def run_id(store: RunStore) -> str:
    return store.create_run("demo", "pretrain", {"tasks": ["rte", "sst2"]}, "minilm")

"""Fixtures for the training tests: a workspace with the synthetic suite, a tiny BART."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.tasks.spec import TaskSpec
from studio.train.setup import Workspace
from tests.support import save_tiny_bart


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tokenized cache for the whole session, so each task is tokenized once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def workspace(catalog: dict[str, TaskSpec], shared_cache: Path, studio_home: Path) -> Workspace:
    return Workspace(catalog, None, shared_cache, studio_home / "synthetic")


@pytest.fixture(scope="session")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save_tiny_bart(tmp_path_factory.mktemp("tiny-bart"))

"""Shared fixtures: an isolated studio home, the built-in catalog, a fresh run store and a
tiny, seeded, randomly initialised model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.core.tasks.spec import TaskSpec, default_tasks_dir, load_catalog
from studio.store import RunStore
from tests.support import save_tiny_bert

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def studio_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own STUDIO_HOME; the tokenized cache is shared to keep tests fast."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("STUDIO_DATA_DIR", raising=False)
    monkeypatch.delenv("STUDIO_TASKS_DIR", raising=False)
    monkeypatch.delenv("STUDIO_HUB_MIRROR", raising=False)
    # Never the machine's own Hugging Face cache: what a test finds there is not the test's.
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "hf-datasets"))
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def catalog() -> dict[str, TaskSpec]:
    """The built-in task catalog, loaded once; specs are frozen, and no test adds to it."""
    return load_catalog(default_tasks_dir())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "studio.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[RunStore]:
    """A fresh run store file per test."""
    with RunStore(db_path) as s:
        yield s


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer, saved as a local model folder."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))

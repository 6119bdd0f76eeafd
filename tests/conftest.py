"""Shared fixtures: an isolated studio home and a tiny, seeded, randomly initialised model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 2-layer, 32-wide BERT with MiniLM's tokenizer, saved as a local model folder."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))

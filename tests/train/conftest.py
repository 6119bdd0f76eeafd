"""Fixtures for the training tests: the catalog and a workspace with the synthetic suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.tasks import TaskSpec, default_tasks_dir, load_catalog
from studio.train.setup import Workspace


@pytest.fixture(scope="session")
def catalog() -> dict[str, TaskSpec]:
    return load_catalog(default_tasks_dir())


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tokenized cache for the whole session, so each task is tokenized once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def workspace(catalog: dict[str, TaskSpec], shared_cache: Path, studio_home: Path) -> Workspace:
    return Workspace(catalog, None, shared_cache, studio_home / "synthetic")


@pytest.fixture(scope="session")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 1+1-layer, 32-wide BART with MiniLM's (BERT) tokenizer, saved as a local model folder.

    BERT's ids: generation starts at [CLS], ends at [SEP] and pads with [PAD].
    """
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration, set_seed

    from studio.core.models import minilm_folder

    folder = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = AutoTokenizer.from_pretrained(minilm_folder())
    set_seed(0)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id,
        forced_eos_token_id=tokenizer.sep_token_id,
    )
    BartForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)

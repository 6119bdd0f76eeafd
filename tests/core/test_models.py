"""Base model names: resolving them, and telling encoder-decoders apart without loading them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.config.models import (
    DEFAULT_MODEL,
    SEQ2SEQ_MODEL,
    encoders,
    is_encoder_decoder,
    minilm_folder,
    resolve_model,
)
from studio.core.errors import ConfigError


def test_named_models_resolve_to_folders(studio_home: Path) -> None:
    assert resolve_model(DEFAULT_MODEL) == str(minilm_folder())
    # Built on first use by studio.train; resolving it never builds or needs it to exist.
    assert resolve_model(SEQ2SEQ_MODEL) == str(studio_home / "models" / SEQ2SEQ_MODEL)
    assert resolve_model("facebook/bart-base") == "facebook/bart-base"


def test_a_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (SEQ2SEQ_MODEL, True),
        (DEFAULT_MODEL, False),
        ("facebook/bart-base", True),
        ("facebook/bart-large-cnn", True),
        ("sshleifer/distilbart-cnn-12-6", True),
        ("facebook/mbart-large-50", True),
        ("t5-small", True),
        ("google/flan-t5-base", True),
        ("google/mt5-small", True),
        ("google/pegasus-xsum", True),
        ("allenai/led-base-16384", True),
        ("Helsinki-NLP/opus-mt-en-de", True),
        ("roberta-base", False),
        ("bert-base-uncased", False),
        ("microsoft/deberta-v3-base", False),
        ("distilbert-base-uncased", False),
        ("", False),
    ],
)
def test_hub_ids_are_judged_by_name(name: str, expected: bool) -> None:
    assert is_encoder_decoder(name) is expected


def _folder(tmp_path: Path, config: object, name: str = "model") -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def test_folders_are_judged_by_their_config(tmp_path: Path) -> None:
    # A folder named like BART is still judged by what its config.json says.
    assert not is_encoder_decoder(_folder(tmp_path, {"model_type": "bert"}, "my-bart"))
    assert is_encoder_decoder(_folder(tmp_path, {"model_type": "t5"}, "a"))
    assert is_encoder_decoder(
        _folder(tmp_path, {"model_type": "x", "is_encoder_decoder": True}, "b")
    )
    assert not is_encoder_decoder(
        _folder(tmp_path, {"model_type": "bart", "is_encoder_decoder": False}, "c")
    )
    assert is_encoder_decoder(_folder(tmp_path, {"model_type": "encoder-decoder"}, "d"))
    assert not is_encoder_decoder(_folder(tmp_path, ["not", "a", "mapping"], "e"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert not is_encoder_decoder(str(broken))
    empty = tmp_path / "empty-bart"
    empty.mkdir()
    assert not is_encoder_decoder(str(empty))  # a folder is never guessed from its name


def test_a_transfer_offers_the_encoders_of_the_offered_models() -> None:
    expected = ["minilm", "roberta-base", "bert-base-uncased", "microsoft/deberta-v3-base"]
    assert encoders() == expected
